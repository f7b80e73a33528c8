//! Starting, finding, listing and cancelling jobs. Each job runs as a tokio task that gets a
//! `JobHandle`: it reads its request, records item outcomes and progress, and watches its
//! cancellation token. The runtime sets the status around it: `IN_PROGRESS` while the task
//! runs, then `COMPLETED` (or `CANCELLED` if its token fired, `FAILED` if it returned an error).
//!
//! Scaffold: records live in memory only. Persistence, resume after a restart, paging and the
//! deadline that turns a workflow into a job come next (see the jobs issue).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

use super::record::{now, JobItem, JobProgress, JobRecord, JobStatus};
use crate::engine::{EngineError, EngineResult, ErrorType};
use crate::workflows::cancel::CancelToken;

/// What a job's task answers when it ends: its summary.
pub type JobFuture = Pin<Box<dyn Future<Output = EngineResult<Value>> + Send>>;
/// Runs a job (also used to resume one).
pub type RunJob = Arc<dyn Fn(JobHandle) -> JobFuture + Send + Sync>;

/// A job to start.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub datastore_id: String,
    pub job_name: Option<String>,
    /// Makes the start idempotent: the same token with the same request answers the job it
    /// started; with another request, a conflict.
    pub client_token: Option<String>,
    pub request: Value,
}

struct Entry {
    record: Arc<Mutex<JobRecord>>,
    token: CancelToken,
}

#[derive(Default)]
pub struct Runtime {
    jobs: Mutex<HashMap<String, Entry>>,
}

/// The process's job runtime.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(Runtime::default)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn new_job_id() -> String {
    let b: [u8; 16] = rand::random();
    hex::encode(b)
}

fn not_found(job_id: &str) -> EngineError {
    EngineError::new(
        ErrorType::NotFound,
        format!(
            "Job {} does not exist",
            crate::engine::error::excerpt(job_id)
        ),
    )
}

impl Runtime {
    /// Starts `new` as a task running `run` (must be called inside a tokio runtime), or answers
    /// the job an earlier start with the same client token made.
    pub fn start(&self, new: NewJob, run: RunJob) -> EngineResult<JobRecord> {
        let mut jobs = lock(&self.jobs);
        if let Some(token) = &new.client_token {
            for entry in jobs.values() {
                let rec = lock(&entry.record);
                if rec.client_token.as_deref() == Some(token.as_str())
                    && rec.kind == new.kind
                    && rec.datastore_id == new.datastore_id
                {
                    if rec.request == new.request && rec.job_name == new.job_name {
                        return Ok(rec.clone());
                    }
                    return Err(EngineError::new(
                        ErrorType::Conflict,
                        "client_token was already used for a different request",
                    ));
                }
            }
        }
        let at = now();
        let record = JobRecord {
            job_id: new_job_id(),
            kind: new.kind,
            job_name: new.job_name,
            datastore_id: new.datastore_id,
            client_token: new.client_token,
            status: JobStatus::Submitted,
            request: new.request,
            submitted_at: at.clone(),
            updated_at: at,
            ended_at: None,
            progress: JobProgress::default(),
            counts: BTreeMap::new(),
            items: Vec::new(),
            summary: None,
            message: None,
        };
        let answer = record.clone();
        let shared = Arc::new(Mutex::new(record));
        let token = CancelToken::new();
        jobs.insert(
            answer.job_id.clone(),
            Entry {
                record: shared.clone(),
                token: token.clone(),
            },
        );
        drop(jobs);
        let handle = JobHandle { shared, token };
        tokio::spawn(drive(handle, run));
        Ok(answer)
    }

    pub fn get(&self, job_id: &str) -> EngineResult<JobRecord> {
        let jobs = lock(&self.jobs);
        let entry = jobs.get(job_id).ok_or_else(|| not_found(job_id))?;
        let rec = lock(&entry.record).clone();
        Ok(rec)
    }

    /// Every job, newest first.
    pub fn list(&self) -> Vec<JobRecord> {
        let jobs = lock(&self.jobs);
        let mut all: Vec<JobRecord> = jobs.values().map(|e| lock(&e.record).clone()).collect();
        all.sort_by(|a, b| b.submitted_at.cmp(&a.submitted_at));
        all
    }

    /// Stops new work of a running job; what it already did stays recorded.
    pub fn cancel(&self, job_id: &str) -> EngineResult<JobRecord> {
        let jobs = lock(&self.jobs);
        let entry = jobs.get(job_id).ok_or_else(|| not_found(job_id))?;
        entry.token.cancel();
        let rec = lock(&entry.record).clone();
        Ok(rec)
    }
}

async fn drive(handle: JobHandle, run: RunJob) {
    handle.update(|r| r.status = JobStatus::InProgress);
    let result = run(handle.clone()).await;
    let cancelled = handle.token.is_cancelled();
    handle.update(|r| {
        r.ended_at = Some(now());
        match result {
            Ok(summary) => {
                r.summary = Some(summary);
                r.status = if cancelled {
                    JobStatus::Cancelled
                } else {
                    JobStatus::Completed
                };
            }
            Err(e) => {
                r.status = if cancelled {
                    JobStatus::Cancelled
                } else {
                    JobStatus::Failed
                };
                r.message = Some(e.message);
            }
        }
    });
}

/// What a running job sees of itself.
#[derive(Clone)]
pub struct JobHandle {
    shared: Arc<Mutex<JobRecord>>,
    token: CancelToken,
}

impl JobHandle {
    fn update(&self, f: impl FnOnce(&mut JobRecord)) {
        let mut rec = lock(&self.shared);
        f(&mut rec);
        rec.updated_at = now();
    }

    pub fn id(&self) -> String {
        lock(&self.shared).job_id.clone()
    }

    pub fn token(&self) -> &CancelToken {
        &self.token
    }

    /// The request the job was started with.
    pub fn request(&self) -> Value {
        lock(&self.shared).request.clone()
    }

    /// A copy of the record as it is now.
    pub fn snapshot(&self) -> JobRecord {
        lock(&self.shared).clone()
    }

    pub fn set_total(&self, total: u64) {
        self.update(|r| r.progress.total = Some(total));
    }

    pub fn message(&self, message: impl Into<String>) {
        let message = message.into();
        self.update(|r| r.progress.message = Some(message));
    }

    /// Records one item's outcome (replacing an earlier outcome of the same key).
    pub fn item(&self, item: JobItem) {
        self.update(|r| {
            if let Some(old) = r.items.iter_mut().find(|i| i.key == item.key) {
                if let Some(n) = r.counts.get_mut(&old.outcome) {
                    *n = n.saturating_sub(1);
                }
                *old = item.clone();
            } else {
                r.items.push(item.clone());
                r.progress.done += 1;
            }
            *r.counts.entry(item.outcome).or_default() += 1;
        });
    }

    /// Items that already have an outcome (what a resumed job skips).
    pub fn finished_items(&self) -> Vec<JobItem> {
        lock(&self.shared).items.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn new_job(token: Option<&str>, request: Value) -> NewJob {
        NewJob {
            kind: "test".into(),
            datastore_id: "ds".into(),
            job_name: None,
            client_token: token.map(str::to_string),
            request,
        }
    }

    async fn wait_ended(rt: &Runtime, id: &str) -> JobRecord {
        loop {
            let rec = rt.get(id).unwrap();
            if !rec.status.is_active() {
                return rec;
            }
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn a_job_records_items_and_completes() {
        let rt = Runtime::default();
        let run: RunJob = Arc::new(|h: JobHandle| {
            Box::pin(async move {
                h.set_total(2);
                h.item(JobItem::new("a", "done"));
                h.item(JobItem::new("b", "failed").reason("boom"));
                Ok(json!({"ok": true}))
            })
        });
        let started = rt.start(new_job(None, json!({})), run).unwrap();
        let rec = wait_ended(&rt, &started.job_id).await;
        assert_eq!(rec.status, JobStatus::Completed);
        assert_eq!(rec.progress.done, 2);
        assert_eq!(rec.counts["failed"], 1);
        assert_eq!(rec.summary, Some(json!({"ok": true})));
    }

    #[tokio::test]
    async fn a_client_token_makes_start_idempotent() {
        let rt = Runtime::default();
        let run: RunJob = Arc::new(|_h: JobHandle| Box::pin(async { Ok(json!({})) }));
        let a = rt
            .start(new_job(Some("t"), json!({"x": 1})), run.clone())
            .unwrap();
        let b = rt
            .start(new_job(Some("t"), json!({"x": 1})), run.clone())
            .unwrap();
        assert_eq!(a.job_id, b.job_id);
        let c = rt
            .start(new_job(Some("t"), json!({"x": 2})), run)
            .unwrap_err();
        assert_eq!(c.kind, ErrorType::Conflict);
    }

    #[tokio::test]
    async fn cancel_stops_a_job_that_watches_its_token() {
        let rt = Runtime::default();
        let run: RunJob = Arc::new(|h: JobHandle| {
            Box::pin(async move {
                h.token().cancelled().await;
                Ok(json!({}))
            })
        });
        let started = rt.start(new_job(None, json!({})), run).unwrap();
        rt.cancel(&started.job_id).unwrap();
        let rec = wait_ended(&rt, &started.job_id).await;
        assert_eq!(rec.status, JobStatus::Cancelled);
        assert_eq!(rt.get("nope").unwrap_err().kind, ErrorType::NotFound);
    }
}
