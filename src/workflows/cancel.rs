//! Cancelling a workflow run, and remembering what runs did. A run is started inside `scoped`
//! with a token the caller fires (the Python bridge fires it when the asyncio future is
//! cancelled: MCP `notifications/cancelled`, a client disconnect or a cancelled task). The
//! runner checks the token before each new item or request, so nothing new starts after it;
//! items never reached are reported `not_attempted`. Each destructive run's summary (counts and
//! image set IDs, never patient data) is logged and kept in a short in-memory list
//! (`recent_runs`), because a cancelled request gets no answer.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::engine::EngineError;

/// Fires once; cheap to clone and check.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<(AtomicBool, Notify)>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0 .0.store(true, Ordering::SeqCst);
        self.0 .1.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.0 .0.load(Ordering::SeqCst)
    }

    /// Resolves once the token fires.
    pub async fn cancelled(&self) {
        loop {
            let notified = self.0 .1.notified();
            if self.is_cancelled() {
                return;
            }
            notified.await;
        }
    }
}

/// The run a workflow belongs to: its tool name and cancellation token.
#[derive(Debug, Clone)]
pub struct RunContext {
    pub tool: &'static str,
    pub token: CancelToken,
}

tokio::task_local! {
    static RUN: RunContext;
}

/// Runs `work` as the run `ctx`.
pub async fn scoped<F: std::future::Future>(ctx: RunContext, work: F) -> F::Output {
    RUN.scope(ctx, work).await
}

/// The current run (a run named "workflow" that is never cancelled outside `scoped`).
pub fn current() -> RunContext {
    RUN.try_with(Clone::clone).unwrap_or_else(|_| RunContext {
        tool: "workflow",
        token: CancelToken::new(),
    })
}

/// The error a cancelled run stops with (nobody receives it: the request was cancelled).
pub fn cancelled() -> EngineError {
    EngineError::server("the request was cancelled")
}

/// How many finished runs are remembered.
const KEPT: usize = 20;
/// Image set IDs kept per outcome of one run.
const IDS_KEPT: usize = 200;

/// What is remembered (and logged) of one finished run: counts and image set IDs per outcome,
/// no patient data.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunSummary {
    pub tool: String,
    pub datastore_id: String,
    pub cancelled: bool,
    /// RFC 3339, UTC.
    pub finished_at: String,
    pub total: usize,
    pub counts: BTreeMap<String, usize>,
    /// At most `IDS_KEPT` per outcome.
    pub image_set_ids: BTreeMap<String, Vec<String>>,
}

static RUNS: Mutex<VecDeque<RunSummary>> = Mutex::new(VecDeque::new());

/// Where run summaries are logged besides `tracing` (the Python module sends them to Python's
/// `logging`, at info level).
type LogSink = Box<dyn Fn(&str) + Send + Sync>;
static LOG_SINK: std::sync::OnceLock<LogSink> = std::sync::OnceLock::new();

pub fn set_log_sink(sink: impl Fn(&str) + Send + Sync + 'static) {
    let _ = LOG_SINK.set(Box::new(sink));
}

/// Records a finished (or cancelled) run: logs its summary at info level and keeps it.
/// `items` are (image set ID, outcome) pairs.
pub fn record(tool: &str, datastore_id: &str, cancelled: bool, items: &[(String, String)]) {
    let mut by_outcome: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, outcome) in items {
        by_outcome.entry(outcome).or_default().push(id);
    }
    let counts = by_outcome
        .iter()
        .map(|(k, v)| (k.to_string(), v.len()))
        .collect();
    let image_set_ids = by_outcome
        .iter()
        .map(|(k, v)| {
            let kept = v.iter().take(IDS_KEPT).map(|id| id.to_string()).collect();
            (k.to_string(), kept)
        })
        .collect();
    let finished_at = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let summary = RunSummary {
        tool: tool.to_string(),
        datastore_id: datastore_id.to_string(),
        cancelled,
        finished_at,
        total: items.len(),
        counts,
        image_set_ids,
    };
    let line = format!(
        "{tool} {}: {}",
        if cancelled { "cancelled" } else { "finished" },
        serde_json::to_string(&summary).unwrap_or_default()
    );
    tracing::info!(target: "healthimaging_mcp::workflows", "{line}");
    if let Some(sink) = LOG_SINK.get() {
        sink(&line);
    }
    let mut runs = RUNS.lock().unwrap_or_else(|e| e.into_inner());
    if runs.len() == KEPT {
        runs.pop_front();
    }
    runs.push_back(summary);
}

/// The remembered runs, newest last.
pub fn recent_runs() -> Vec<RunSummary> {
    RUNS.lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_token_wakes_its_waiters_and_stays_fired() {
        let t = CancelToken::new();
        let waiter = tokio::spawn({
            let t = t.clone();
            async move { t.cancelled().await }
        });
        assert!(!t.is_cancelled());
        t.cancel();
        waiter.await.unwrap();
        assert!(t.is_cancelled());
        t.cancelled().await;
    }

    #[test]
    fn runs_are_kept_with_counts_and_ids() {
        let items = vec![
            ("a".to_string(), "image_set_deleted".to_string()),
            ("b".to_string(), "not_attempted".to_string()),
            ("c".to_string(), "not_attempted".to_string()),
        ];
        record("delete_study", "ds-test-runs", true, &items);
        let run = recent_runs()
            .into_iter()
            .rev()
            .find(|r| r.datastore_id == "ds-test-runs")
            .unwrap();
        assert!(run.cancelled);
        assert_eq!(run.counts["not_attempted"], 2);
        assert_eq!(run.image_set_ids["image_set_deleted"], ["a"]);
    }
}
