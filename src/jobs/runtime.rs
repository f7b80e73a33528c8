//! Starting, finding, listing and cancelling jobs. Each job runs as a tokio task that gets a
//! `JobHandle`: it reads its request, records item outcomes and progress, and watches its
//! cancellation token. The runtime sets the status around it: `IN_PROGRESS` while the task
//! runs, then `COMPLETED` (or `CANCELLED` if its token fired, `FAILED` if it returned an error).
//!
//! With a state folder (`init`), every record is persisted (`store`) as it changes and loaded
//! at the next start: a job that was running then is resumed when its kind registered a resume
//! function (`register`), else marked `INTERRUPTED` with what it did. Client tokens are in the
//! records, so idempotent starts hold across restarts. Ended jobs are kept up to
//! `KEEP_ENDED` records and `KEEP_DAYS` days.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine as _;
use serde_json::Value;

use super::record::{now, parse, JobItem, JobProgress, JobRecord, JobStatus};
use super::store::Store;
use crate::engine::{EngineError, EngineResult, ErrorType};
use crate::workflows::cancel::CancelToken;

/// What a job's task answers when it ends: its summary.
pub type JobFuture = Pin<Box<dyn Future<Output = EngineResult<Value>> + Send>>;
/// Runs a job (also used to resume one).
pub type RunJob = Arc<dyn Fn(JobHandle) -> JobFuture + Send + Sync>;

/// Ended jobs kept (newest first), and for how long.
pub const KEEP_ENDED: usize = 500;
pub const KEEP_DAYS: i64 = 30;
/// `max_results` of `list` when not given, and its ceiling.
pub const LIST_DEFAULT: usize = 50;
pub const LIST_MAX: usize = 1000;

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

/// Which jobs `list` answers, and which page.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<JobStatus>,
    pub kind: Option<String>,
    pub datastore_id: Option<String>,
    /// From the previous page's answer.
    pub next_token: Option<String>,
    /// Default `LIST_DEFAULT`, at most `LIST_MAX`.
    pub max_results: Option<usize>,
}

/// One page of `list`, newest first; records without their items (`get` answers those).
#[derive(Debug, Clone)]
pub struct JobPage {
    pub jobs: Vec<JobRecord>,
    pub next_token: Option<String>,
}

struct Entry {
    record: Arc<Mutex<JobRecord>>,
    token: CancelToken,
}

#[derive(Default)]
pub struct Runtime {
    jobs: Mutex<HashMap<String, Entry>>,
    store: OnceLock<Arc<Store>>,
    /// Kind -> how to resume one of its jobs after a restart (`None`: it is interrupted).
    kinds: Mutex<HashMap<String, Option<RunJob>>>,
}

/// The process's job runtime.
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(Runtime::default)
}

/// Loads the process runtime's records from `state_dir` (see [`Runtime::init`]).
pub fn init(state_dir: &Path) -> EngineResult<bool> {
    runtime().init(state_dir)
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

fn warn_io(what: &str, id: &str, e: &std::io::Error) {
    tracing::warn!(target: "healthimaging_mcp::jobs", "could not {what} job {id}: {e}");
}

/// Newest first: submission time, then ID (a total order for paging).
fn order_key(r: &JobRecord) -> (Option<time::OffsetDateTime>, String) {
    (parse(&r.submitted_at), r.job_id.clone())
}

fn page_token(r: &JobRecord) -> String {
    let raw = format!("{}\n{}", r.submitted_at, r.job_id);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

fn read_page_token(token: &str) -> EngineResult<(Option<time::OffsetDateTime>, String)> {
    let invalid = || EngineError::invalid("next_token", "is not a token this server issued");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    let raw = String::from_utf8(raw).map_err(|_| invalid())?;
    let (at, id) = raw.split_once('\n').ok_or_else(invalid)?;
    let at = parse(at).ok_or_else(invalid)?;
    Ok((Some(at), id.to_string()))
}

impl Runtime {
    /// How jobs of `kind` resume after a restart; `None` (or never registered): they are
    /// marked `INTERRUPTED`. Register before `init`.
    pub fn register(&self, kind: &str, resume: Option<RunJob>) {
        lock(&self.kinds).insert(kind.to_string(), resume);
    }

    /// Persists records in `state_dir/jobs` from now on and loads the records found there:
    /// running ones resume or are interrupted (see the module). Called once, inside a tokio
    /// runtime, before tools run; later calls change nothing and answer `false`.
    pub fn init(&self, state_dir: &Path) -> EngineResult<bool> {
        if self.store.get().is_some() {
            return Ok(false);
        }
        let store = Store::open(state_dir).map_err(|e| {
            EngineError::server(format!(
                "the job state folder {} cannot be used: {e}",
                state_dir.display()
            ))
        })?;
        let store = Arc::new(store);
        if self.store.set(store.clone()).is_err() {
            return Ok(false);
        }
        let kinds = lock(&self.kinds).clone();
        let mut resumed = Vec::new();
        {
            let mut jobs = lock(&self.jobs);
            for mut rec in store.load_all() {
                if jobs.contains_key(&rec.job_id) {
                    continue;
                }
                let resume = kinds.get(&rec.kind).cloned().flatten();
                if rec.status.is_active() && resume.is_none() {
                    interrupt(&mut rec);
                    if let Err(e) = store.compact(&rec) {
                        warn_io("save", &rec.job_id, &e);
                    }
                }
                let token = CancelToken::new();
                let shared = Arc::new(Mutex::new(rec));
                let rec = lock(&shared);
                if let (true, Some(run)) = (rec.status.is_active(), resume) {
                    resumed.push((
                        JobHandle {
                            shared: shared.clone(),
                            token: token.clone(),
                            store: Some(store.clone()),
                        },
                        run,
                    ));
                }
                let id = rec.job_id.clone();
                drop(rec);
                jobs.insert(
                    id,
                    Entry {
                        record: shared,
                        token,
                    },
                );
            }
        }
        self.prune();
        for (handle, run) in resumed {
            tokio::spawn(drive(handle, run));
        }
        Ok(true)
    }

    /// Where records are persisted, once `init` ran.
    pub fn state_folder(&self) -> Option<&Path> {
        self.store.get().map(|s| s.dir())
    }

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
        let store = self.store.get().cloned();
        if let Some(store) = &store {
            store
                .save(&record)
                .map_err(|e| EngineError::server(format!("the job record cannot be saved: {e}")))?;
        }
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
        self.prune();
        let handle = JobHandle {
            shared,
            token,
            store,
        };
        tokio::spawn(drive(handle, run));
        Ok(answer)
    }

    pub fn get(&self, job_id: &str) -> EngineResult<JobRecord> {
        let jobs = lock(&self.jobs);
        let entry = jobs.get(job_id).ok_or_else(|| not_found(job_id))?;
        let rec = lock(&entry.record).clone();
        Ok(rec)
    }

    /// The jobs `filter` selects, newest first, one page at a time.
    pub fn list(&self, filter: &ListFilter) -> EngineResult<JobPage> {
        let after = filter
            .next_token
            .as_deref()
            .map(read_page_token)
            .transpose()?;
        let max = filter
            .max_results
            .unwrap_or(LIST_DEFAULT)
            .clamp(1, LIST_MAX);
        let jobs = lock(&self.jobs);
        let mut all: Vec<JobRecord> = jobs
            .values()
            .filter_map(|e| {
                let rec = lock(&e.record);
                let keep = filter.status.is_none_or(|s| rec.status == s)
                    && filter.kind.as_deref().is_none_or(|k| rec.kind == k)
                    && filter
                        .datastore_id
                        .as_deref()
                        .is_none_or(|d| rec.datastore_id == d);
                keep.then(|| without_items(&rec))
            })
            .collect();
        drop(jobs);
        all.sort_by_key(|r| std::cmp::Reverse(order_key(r)));
        if let Some(after) = &after {
            all.retain(|r| order_key(r) < *after);
        }
        let next_token = (all.len() > max).then(|| page_token(&all[max - 1]));
        all.truncate(max);
        Ok(JobPage {
            jobs: all,
            next_token,
        })
    }

    /// Stops new work of a running job; what it already did stays recorded.
    pub fn cancel(&self, job_id: &str) -> EngineResult<JobRecord> {
        let jobs = lock(&self.jobs);
        let entry = jobs.get(job_id).ok_or_else(|| not_found(job_id))?;
        entry.token.cancel();
        let rec = lock(&entry.record).clone();
        Ok(rec)
    }

    /// Forgets an ended job that did no work, whose caller got its answer directly (a workflow
    /// refused before its first item); a running job or one with items stays.
    pub fn forget_if_idle(&self, job_id: &str) {
        let mut jobs = lock(&self.jobs);
        let idle = jobs.get(job_id).is_some_and(|e| {
            let rec = lock(&e.record);
            !rec.status.is_active() && rec.items.is_empty()
        });
        if idle {
            jobs.remove(job_id);
            if let Some(store) = self.store.get() {
                store.remove(job_id);
            }
        }
    }

    /// Forgets ended jobs beyond the newest `KEEP_ENDED` and those ended over `KEEP_DAYS` ago.
    fn prune(&self) {
        let mut jobs = lock(&self.jobs);
        let mut ended: Vec<(Option<time::OffsetDateTime>, String)> = jobs
            .values()
            .filter_map(|e| {
                let rec = lock(&e.record);
                (!rec.status.is_active()).then(|| {
                    let at = rec.ended_at.as_deref().and_then(parse);
                    (at.or_else(|| parse(&rec.submitted_at)), rec.job_id.clone())
                })
            })
            .collect();
        ended.sort_by(|a, b| b.cmp(a));
        let oldest = time::OffsetDateTime::now_utc() - time::Duration::days(KEEP_DAYS);
        for (i, (at, id)) in ended.into_iter().enumerate() {
            if i >= KEEP_ENDED || at.is_some_and(|at| at < oldest) {
                jobs.remove(&id);
                if let Some(store) = self.store.get() {
                    store.remove(&id);
                }
            }
        }
    }
}

/// A copy of a record without its items (listing many jobs).
fn without_items(rec: &JobRecord) -> JobRecord {
    JobRecord {
        items: Vec::new(),
        job_id: rec.job_id.clone(),
        kind: rec.kind.clone(),
        job_name: rec.job_name.clone(),
        datastore_id: rec.datastore_id.clone(),
        client_token: rec.client_token.clone(),
        status: rec.status,
        request: rec.request.clone(),
        submitted_at: rec.submitted_at.clone(),
        updated_at: rec.updated_at.clone(),
        ended_at: rec.ended_at.clone(),
        progress: rec.progress.clone(),
        counts: rec.counts.clone(),
        summary: rec.summary.clone(),
        message: rec.message.clone(),
    }
}

/// Marks a record found running at startup whose kind does not resume.
fn interrupt(rec: &mut JobRecord) {
    let at = now();
    let total = rec
        .progress
        .total
        .map_or(String::new(), |t| format!(" of {t}"));
    rec.message = Some(format!(
        "the server stopped while this job ran and it was not resumed; {}{total} items had an outcome (see items); start it again to act on the current state",
        rec.items.len()
    ));
    rec.status = JobStatus::Interrupted;
    rec.ended_at = Some(at.clone());
    rec.updated_at = at;
}

async fn drive(handle: JobHandle, run: RunJob) {
    handle.update(Save::Snapshot, |r| r.status = JobStatus::InProgress);
    let result = run(handle.clone()).await;
    let cancelled = handle.token.is_cancelled();
    handle.update(Save::Final, |r| {
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

/// What a change of a record writes to the state folder.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Save {
    /// Kept in memory only (progress messages: frequent, and stale after a restart anyway).
    Nothing,
    /// The record without its items (those are in the journal).
    Snapshot,
    /// The ended record with its items; the journal goes.
    Final,
}

/// What a running job sees of itself.
#[derive(Clone)]
pub struct JobHandle {
    shared: Arc<Mutex<JobRecord>>,
    token: CancelToken,
    store: Option<Arc<Store>>,
}

impl JobHandle {
    fn update(&self, save: Save, f: impl FnOnce(&mut JobRecord)) {
        let mut rec = lock(&self.shared);
        f(&mut rec);
        rec.updated_at = now();
        let Some(store) = &self.store else { return };
        let written = match save {
            Save::Nothing => Ok(()),
            Save::Final => store.compact(&rec),
            Save::Snapshot => {
                let items = std::mem::take(&mut rec.items);
                let written = store.save(&rec);
                rec.items = items;
                written
            }
        };
        if let Err(e) = written {
            warn_io("save", &rec.job_id, &e);
        }
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
        if lock(&self.shared).progress.total != Some(total) {
            self.update(Save::Snapshot, |r| r.progress.total = Some(total));
        }
    }

    pub fn message(&self, message: impl Into<String>) {
        let message = message.into();
        self.update(Save::Nothing, |r| r.progress.message = Some(message));
    }

    /// Records one item's outcome (replacing an earlier outcome of the same key); persisted
    /// as one journal line.
    pub fn item(&self, item: JobItem) {
        let mut rec = lock(&self.shared);
        if let Some(store) = &self.store {
            if let Err(e) = store.append_item(&rec.job_id, &item) {
                warn_io("journal an item of", &rec.job_id, &e);
            }
        }
        if let Some(old) = rec.items.iter_mut().find(|i| i.key == item.key) {
            let was = std::mem::replace(old, item.clone()).outcome;
            if let Some(n) = rec.counts.get_mut(&was) {
                *n = n.saturating_sub(1);
            }
        } else {
            rec.items.push(item.clone());
            rec.progress.done += 1;
        }
        *rec.counts.entry(item.outcome).or_default() += 1;
        rec.updated_at = now();
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

    fn done_job() -> RunJob {
        Arc::new(|_h: JobHandle| Box::pin(async { Ok(json!({})) }))
    }

    /// A job that records item `a` then waits to be cancelled (standing in for a server
    /// that stops mid-job).
    fn stuck_job() -> RunJob {
        Arc::new(|h: JobHandle| {
            Box::pin(async move {
                h.set_total(3);
                h.item(JobItem::new("a", "done"));
                h.token().cancelled().await;
                Ok(json!({}))
            })
        })
    }

    async fn wait_items(rt: &Runtime, id: &str, n: usize) {
        while rt.get(id).unwrap().items.len() < n {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn records_persist_and_load_back_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let first = Runtime::default();
        first.init(dir.path()).unwrap();
        let run: RunJob = Arc::new(|h: JobHandle| {
            Box::pin(async move {
                h.set_total(2);
                h.item(JobItem::new("a", "done"));
                h.item(JobItem::new("b", "failed").reason("boom"));
                Ok(json!({"ok": true}))
            })
        });
        let started = first.start(new_job(None, json!({"x": 1})), run).unwrap();
        let ended = wait_ended(&first, &started.job_id).await;
        // A new process: the same record, items and all.
        let second = Runtime::default();
        second.init(dir.path()).unwrap();
        let loaded = second.get(&started.job_id).unwrap();
        assert_eq!(loaded, ended);
        assert_eq!(loaded.counts["failed"], 1);
    }

    #[tokio::test]
    async fn a_running_job_is_interrupted_unless_its_kind_resumes() {
        let dir = tempfile::tempdir().unwrap();
        let first = Runtime::default();
        first.init(dir.path()).unwrap();
        let plain = first.start(new_job(None, json!({})), stuck_job()).unwrap();
        let mut again = new_job(None, json!({"k": 2}));
        again.kind = "resumable".into();
        let resumable = first.start(again, stuck_job()).unwrap();
        wait_items(&first, &plain.job_id, 1).await;
        wait_items(&first, &resumable.job_id, 1).await;
        // The process "dies" here: its tasks never end; the next one loads the folder.
        let second = Runtime::default();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let resume: RunJob = Arc::new({
            let seen = seen.clone();
            move |h: JobHandle| {
                let seen = seen.clone();
                Box::pin(async move {
                    *seen.lock().unwrap() = h.finished_items();
                    h.item(JobItem::new("b", "done"));
                    Ok(json!({"resumed": true}))
                })
            }
        });
        second.register("resumable", Some(resume));
        second.init(dir.path()).unwrap();
        let interrupted = second.get(&plain.job_id).unwrap();
        assert_eq!(interrupted.status, JobStatus::Interrupted);
        assert_eq!(interrupted.items, vec![JobItem::new("a", "done")]);
        assert_eq!(interrupted.progress.total, Some(3));
        assert!(interrupted.message.unwrap().contains("1 of 3 items"));
        let resumed = wait_ended(&second, &resumable.job_id).await;
        assert_eq!(resumed.status, JobStatus::Completed);
        assert_eq!(*seen.lock().unwrap(), vec![JobItem::new("a", "done")]);
        assert_eq!(resumed.progress.done, 2);
        // Both outcomes are on disk too.
        let third = Runtime::default();
        third.init(dir.path()).unwrap();
        assert_eq!(third.get(&resumable.job_id).unwrap().items.len(), 2);
        assert_eq!(
            third.get(&plain.job_id).unwrap().status,
            JobStatus::Interrupted
        );
    }

    #[tokio::test]
    async fn a_client_token_still_answers_its_job_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let first = Runtime::default();
        first.init(dir.path()).unwrap();
        let a = first
            .start(new_job(Some("t"), json!({"x": 1})), done_job())
            .unwrap();
        wait_ended(&first, &a.job_id).await;
        let second = Runtime::default();
        second.init(dir.path()).unwrap();
        let b = second
            .start(new_job(Some("t"), json!({"x": 1})), done_job())
            .unwrap();
        assert_eq!(a.job_id, b.job_id);
        let c = second
            .start(new_job(Some("t"), json!({"x": 2})), done_job())
            .unwrap_err();
        assert_eq!(c.kind, ErrorType::Conflict);
    }

    #[tokio::test]
    async fn ended_records_older_than_the_retention_are_dropped_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let first = Runtime::default();
        first.init(dir.path()).unwrap();
        let old = first.start(new_job(None, json!({})), done_job()).unwrap();
        let recent = first
            .start(new_job(None, json!({"n": 2})), done_job())
            .unwrap();
        let mut rec = wait_ended(&first, &old.job_id).await;
        wait_ended(&first, &recent.job_id).await;
        let long_ago = time::OffsetDateTime::now_utc() - time::Duration::days(KEEP_DAYS + 1);
        let at = long_ago
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        rec.submitted_at = at.clone();
        rec.ended_at = Some(at);
        Store::open(dir.path()).unwrap().save(&rec).unwrap();
        let second = Runtime::default();
        second.init(dir.path()).unwrap();
        assert_eq!(
            second.get(&old.job_id).unwrap_err().kind,
            ErrorType::NotFound
        );
        assert!(second.get(&recent.job_id).is_ok());
        assert!(!dir
            .path()
            .join("jobs")
            .join(format!("{}.json", old.job_id))
            .exists());
    }

    #[tokio::test]
    async fn list_filters_and_pages_newest_first() {
        let rt = Runtime::default();
        let mut ids = Vec::new();
        for i in 0..5 {
            let mut new = new_job(None, json!({"i": i}));
            if i % 2 == 1 {
                new.kind = "other".into();
            }
            ids.push(rt.start(new, done_job()).unwrap().job_id);
            // Distinct submission times.
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        for id in &ids {
            wait_ended(&rt, id).await;
        }
        let mut seen = Vec::new();
        let mut filter = ListFilter {
            max_results: Some(2),
            ..ListFilter::default()
        };
        loop {
            let page = rt.list(&filter).unwrap();
            assert!(page.jobs.len() <= 2);
            assert!(page.jobs.iter().all(|j| j.items.is_empty()));
            seen.extend(page.jobs.into_iter().map(|j| j.job_id));
            match page.next_token {
                Some(t) => filter.next_token = Some(t),
                None => break,
            }
        }
        let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
        assert_eq!(seen, newest_first);
        let others = rt
            .list(&ListFilter {
                kind: Some("other".into()),
                status: Some(JobStatus::Completed),
                ..ListFilter::default()
            })
            .unwrap();
        assert_eq!(others.jobs.len(), 2);
        assert!(others.next_token.is_none());
        let none = rt
            .list(&ListFilter {
                datastore_id: Some("elsewhere".into()),
                ..ListFilter::default()
            })
            .unwrap();
        assert!(none.jobs.is_empty());
        let bad = rt
            .list(&ListFilter {
                next_token: Some("not-a-token".into()),
                ..ListFilter::default()
            })
            .unwrap_err();
        assert_eq!(bad.kind, ErrorType::Validation);
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
