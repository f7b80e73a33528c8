//! A job as data: the request, the items and their outcomes, progress and timestamps. The
//! record is what `get_job` answers, what is persisted, and what a resume starts from.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a job is. `COMPLETED` means every item has an outcome (some may have failed: see
/// `counts`); `INTERRUPTED` means the server stopped while it ran and it was not resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Submitted,
    InProgress,
    Completed,
    Failed,
    Cancelled,
    Interrupted,
}

impl JobStatus {
    pub const ALL: [JobStatus; 6] = [
        Self::Submitted,
        Self::InProgress,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
        Self::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submitted => "SUBMITTED",
            Self::InProgress => "IN_PROGRESS",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
            Self::Interrupted => "INTERRUPTED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// Still running (or about to).
    pub fn is_active(self) -> bool {
        matches!(self, Self::Submitted | Self::InProgress)
    }
}

/// One item of a job (an instance exported, an image set deleted) and what happened to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobItem {
    /// What the item is, unique within the job (image set ID, SOP Instance UID, ...).
    pub key: String,
    /// `done`, `failed`, `skipped`, `not_attempted`, or a kind's own (`deleted`, `unchanged`).
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Kind-specific facts (destination key, size, SHA-256, image set version, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<Value>,
}

impl JobItem {
    pub fn new(key: impl Into<String>, outcome: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            outcome: outcome.into(),
            reason: None,
            detail: None,
        }
    }

    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = Some(detail);
        self
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobProgress {
    /// Items with an outcome.
    pub done: u64,
    /// Items selected, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct JobRecord {
    pub job_id: String,
    /// What the job does: `export`, or the tool name of a workflow that became a job.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    pub datastore_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    pub status: JobStatus,
    /// The request as the job's kind reads it (arguments, never credentials).
    pub request: Value,
    /// RFC 3339, UTC.
    pub submitted_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    pub progress: JobProgress,
    /// Items per outcome.
    pub counts: BTreeMap<String, u64>,
    pub items: Vec<JobItem>,
    /// What the kind reports when it ends (destination, manifest key, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<Value>,
    /// Why it failed, was cancelled or was interrupted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl JobRecord {
    /// Recomputes `counts` and `progress.done` from the items.
    pub fn recount(&mut self) {
        self.counts.clear();
        for item in &self.items {
            *self.counts.entry(item.outcome.clone()).or_default() += 1;
        }
        self.progress.done = self.items.len() as u64;
    }

    /// Seconds left at the pace observed since submission (`None` until an item is done or
    /// while the total is unknown; 0 once ended).
    pub fn eta_seconds(&self) -> Option<f64> {
        if !self.status.is_active() {
            return Some(0.0);
        }
        let total = self.progress.total?;
        let done = self.progress.done;
        if done == 0 {
            return None;
        }
        let elapsed = parse(&self.submitted_at)
            .map(|at| (time::OffsetDateTime::now_utc() - at).as_seconds_f64())?;
        let left = total.saturating_sub(done) as f64;
        Some((elapsed.max(0.0) / done as f64 * left).ceil())
    }
}

/// An RFC 3339 time as this module writes it.
pub fn parse(at: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok()
}

/// The current time as RFC 3339 (UTC).
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
