//! Change workflows run as jobs from their start. The call waits up to the job deadline
//! (HEALTHIMAGING_MCP_JOB_DEADLINE_SECONDS, default 45 s): when the work ends first the answer is
//! the workflow's own report; otherwise the call answers the job (`StillRunning`) and the work
//! goes on, followed with get_job. Until the answer, cancelling the call cancels the job and
//! progress notifications reach the caller; after it, only cancel_job stops it. Item outcomes go
//! into the job record as they happen; the report (without its items) becomes the job's summary.
//! A workflow job is not resumed after a restart (its selection would be stale): it is
//! interrupted with the outcomes it recorded.

use std::borrow::Cow;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::Ctx;
use crate::engine::{EngineError, EngineResult};
use crate::jobs::{runtime, JobHandle, JobItem, JobProgress, JobStatus, NewJob, RunJob};
use crate::workflows::cancel::{self, RunContext};
use crate::workflows::writes::{observed, ItemOutcome, ItemSink, Progress};

/// How long a change workflow's call waits before answering its job:
/// HEALTHIMAGING_MCP_JOB_DEADLINE_SECONDS (default 45).
pub fn job_deadline() -> Duration {
    std::env::var("HEALTHIMAGING_MCP_JOB_DEADLINE_SECONDS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(Duration::from_secs(45), |s| {
            Duration::from_secs_f64(s.min(86_400.0))
        })
}

/// What a change workflow's call answers when its work outlives the deadline.
#[derive(Debug, Serialize, JsonSchema)]
pub struct StillRunning {
    /// Follow with get_job; stop with cancel_job.
    pub job_id: String,
    pub status: JobStatus,
    pub progress: JobProgress,
    /// Seconds left at the pace so far (absent until an item is done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_seconds: Option<f64>,
    pub message: String,
}

/// A change workflow's answer: its report, or its job when the report is not ready by the
/// deadline.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum OrJob<R> {
    Done(R),
    Running(StillRunning),
}

/// The report's schema with the job's ID beside its fields; only what both answers always hold
/// is required (MCP clients validate either answer against it).
impl<R: JsonSchema> JsonSchema for OrJob<R> {
    fn schema_name() -> Cow<'static, str> {
        format!("OrJob_{}", R::schema_name()).into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut report = R::json_schema(generator);
        let running = StillRunning::json_schema(generator);
        let required = |s: &Schema| -> Vec<Value> {
            s.get("required")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let both: Vec<Value> = required(&running)
            .into_iter()
            .filter(|r| required(&report).contains(r))
            .collect();
        // Only the job's ID is published beside the report's fields (tools/list stays within
        // the original's size budget); the answer's other fields are allowed as extra ones.
        if let Some(Value::Object(props)) = report.get_mut("properties") {
            props.insert("job_id".into(), json!({"type": "string"}));
        }
        report.insert("required".into(), Value::Array(both));
        report
    }
}

/// An item outcome as a job item: key the image set ID; reason the detail or the error.
fn job_item(out: &ItemOutcome) -> JobItem {
    let mut item = JobItem::new(&out.image_set_id, out.outcome.as_str());
    let reason = out
        .error
        .as_ref()
        .map(|e| format!("{}: {}", e.kind.as_str(), e.message))
        .or_else(|| out.detail.clone());
    if let Some(reason) = reason {
        item = item.reason(reason);
    }
    if let Some(v) = &out.version {
        item = item.detail(json!({"latest_version_id": v}));
    }
    item
}

/// The job's summary: the report without its items (those are the job's items).
fn summary_of<R: Serialize>(report: &R) -> Value {
    let mut v = serde_json::to_value(report).unwrap_or(Value::Null);
    if let Some(obj) = v.as_object_mut() {
        obj.remove("items");
    }
    v
}

/// Forgets the job once its task has recorded the end (it sends the report just before).
fn forget_when_ended(id: &str) {
    let id = id.to_string();
    tokio::spawn(async move {
        for _ in 0..1000 {
            if runtime().get(&id).map_or(true, |r| !r.status.is_active()) {
                break;
            }
            tokio::task::yield_now().await;
        }
        runtime().forget_if_idle(&id);
    });
}

/// Runs `work` (a change workflow given its context) as job `tool` on `datastore_id` with
/// `request` recorded, answering as the module says (waiting up to `deadline`).
pub async fn run_as_job<R, W, Fut>(
    tool: &'static str,
    datastore_id: String,
    request: Value,
    ctx: Ctx,
    deadline: Duration,
    work: W,
) -> EngineResult<OrJob<R>>
where
    R: Serialize + Send + 'static,
    W: FnOnce(Ctx) -> Fut + Send + 'static,
    Fut: Future<Output = EngineResult<R>> + Send + 'static,
{
    let caller = cancel::current().token;
    // Progress reaches the caller only while its call is open.
    let open = Arc::new(AtomicBool::new(true));
    let (tx, mut rx) = oneshot::channel::<EngineResult<R>>();
    let once = Mutex::new(Some((work, tx)));
    let (caller_progress, still_open) = (ctx.progress, open.clone());
    let run: RunJob = Arc::new(move |h: JobHandle| {
        let taken = once.lock().unwrap_or_else(|e| e.into_inner()).take();
        let (caller_progress, open) = (caller_progress.clone(), still_open.clone());
        Box::pin(async move {
            let Some((work, tx)) = taken else {
                return Err(EngineError::server("a workflow job runs once"));
            };
            let progress: Progress = Arc::new({
                let h = h.clone();
                move |done: usize, total: usize, message: &str| {
                    h.set_total(total as u64);
                    h.message(message);
                    if let (true, Some(p)) = (open.load(Ordering::SeqCst), &caller_progress) {
                        p(done, total, message);
                    }
                }
            });
            let sink: ItemSink = Arc::new({
                let h = h.clone();
                move |out: &ItemOutcome| h.item(job_item(out))
            });
            let run = RunContext {
                tool,
                token: h.token().clone(),
            };
            let work = work(Ctx {
                progress: Some(progress),
            });
            let result = cancel::scoped(run, observed(sink, work)).await;
            let summary = match &result {
                Ok(report) => Ok(summary_of(report)),
                Err(e) => Err(e.clone()),
            };
            let _ = tx.send(result);
            summary
        })
    });
    let started = runtime().start(
        NewJob {
            kind: tool.to_string(),
            datastore_id,
            job_name: None,
            client_token: None,
            request,
        },
        run,
    )?;
    let id = started.job_id;
    let ended = |r: Result<EngineResult<R>, oneshot::error::RecvError>| match r {
        Ok(Ok(report)) => Ok(OrJob::Done(report)),
        Ok(Err(e)) => {
            // Refused before any item (bad arguments, nothing found): the caller has the error.
            forget_when_ended(&id);
            Err(e)
        }
        Err(_) => Err(EngineError::server(
            "the workflow job ended without a report",
        )),
    };
    tokio::select! {
        r = &mut rx => return ended(r),
        _ = caller.cancelled() => {
            // Nobody reads this answer; the job stops before its next item, as the call did.
            let _ = runtime().cancel(&id);
            return ended(rx.await);
        }
        _ = tokio::time::sleep(deadline) => {}
    }
    open.store(false, Ordering::SeqCst);
    // Ended just now: the report after all.
    if let Ok(result) = rx.try_recv() {
        return result.map(OrJob::Done);
    }
    let rec = runtime().get(&id)?;
    Ok(OrJob::Running(StillRunning {
        eta_seconds: rec.eta_seconds(),
        job_id: rec.job_id,
        status: rec.status,
        progress: rec.progress,
        message: "still running; follow with get_job".into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::registry;

    /// A stand-in workflow: reports one item through the runner's sink after `after`.
    async fn slow_work(after: Duration) -> EngineResult<Value> {
        let sink = crate::workflows::writes::current_sink();
        tokio::time::sleep(after).await;
        if let Some(sink) = sink {
            sink(&ItemOutcome::deleted("a"));
        }
        Ok(json!({"total": 1, "items": [{"image_set_id": "a"}]}))
    }

    async fn ended(id: &str) -> crate::jobs::JobRecord {
        loop {
            let rec = runtime().get(id).unwrap();
            if !rec.status.is_active() {
                return rec;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn work_past_the_deadline_answers_its_job_and_goes_on() {
        let answer = run_as_job(
            "test_tool",
            "ds".into(),
            json!({"x": 1}),
            Ctx::default(),
            Duration::from_secs(1),
            |_ctx| slow_work(Duration::from_secs(10)),
        )
        .await
        .unwrap();
        let OrJob::Running(running) = answer else {
            panic!("expected the job answer")
        };
        assert_eq!(running.status, JobStatus::InProgress);
        let rec = ended(&running.job_id).await;
        assert_eq!(rec.status, JobStatus::Completed);
        assert_eq!(rec.items, vec![JobItem::new("a", "image_set_deleted")]);
        assert_eq!(rec.summary, Some(json!({"total": 1})));
        assert_eq!(rec.request, json!({"x": 1}));
    }

    #[tokio::test(start_paused = true)]
    async fn work_within_the_deadline_answers_its_report() {
        let answer = run_as_job(
            "test_tool_quick",
            "ds".into(),
            json!({}),
            Ctx::default(),
            Duration::from_secs(5),
            |_ctx| slow_work(Duration::from_secs(1)),
        )
        .await
        .unwrap();
        let OrJob::Done(report) = answer else {
            panic!("expected the report")
        };
        assert_eq!(report["items"][0]["image_set_id"], "a");
    }

    #[test]
    fn change_tools_publish_one_schema_for_both_answers() {
        let tool = registry().get("delete_patient_studies").unwrap();
        let schema = tool.output_schema.as_ref().unwrap();
        assert_eq!(schema["type"], "object");
        for p in ["job_id", "total", "items", "remaining_image_sets"] {
            assert!(schema["properties"].get(p).is_some(), "{p}: {schema}");
        }
        assert_eq!(schema["required"], json!([]));
        // Nothing forbids the job answer's other fields.
        assert!(schema.get("additionalProperties").is_none());
    }
}
