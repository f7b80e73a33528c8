//! The `jobs` toolset: get_job, list_jobs and cancel_job for every job (exports, and
//! workflows that outlived their deadline); and the runtime's start-up: which job kinds resume
//! after a restart (`start_runtime`, called once by the server before tools run).

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::schema::{shaped, within};
use super::{Tool, Toolset, READ, WRITE_IDEMPOTENT};
use crate::engine::{validate, EngineError, EngineResult};
use crate::jobs::{self, runtime, JobItem, JobProgress, JobRecord, JobStatus, ListFilter};
use crate::model::constraints::Shape;

/// Items `get_job` answers when not told otherwise, and at most.
const ITEMS_DEFAULT: i64 = 100;
const ITEMS: std::ops::RangeInclusive<i64> = 0..=2000;
const PAGE: std::ops::RangeInclusive<i64> = 1..=100;

/// Registers the job kinds that resume after a restart (exports) and loads the records of
/// `state_dir` (default [`jobs::default_state_dir`]); must run inside a tokio runtime. Answers
/// the folder in use; `None` when no folder could be found (records then stay in memory).
pub fn start_runtime(state_dir: Option<&Path>) -> EngineResult<Option<std::path::PathBuf>> {
    let rt = runtime();
    if let Some(dir) = rt.state_folder() {
        return Ok(Some(dir.to_path_buf()));
    }
    rt.register(crate::export::KIND, Some(crate::export::run_job()));
    let Some(dir) = state_dir
        .map(Path::to_path_buf)
        .or_else(jobs::default_state_dir)
    else {
        return Ok(None);
    };
    rt.init(&dir)?;
    Ok(rt.state_folder().map(Path::to_path_buf))
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetJob {
    /// The job_id a tool answered (an export, or a workflow still running at its deadline).
    #[schemars(transform = shaped(Shape::JobId))]
    pub job_id: String,
    /// Answer item outcomes (default true); failed ones first.
    pub include_items: Option<bool>,
    /// Most items to answer (default 100); items_not_shown counts the rest.
    #[schemars(transform = within(ITEMS))]
    pub max_items: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListJobs {
    pub status: Option<JobStatus>,
    /// `export`, or the name of a workflow tool (e.g. delete_patient_studies).
    #[schemars(length(min = 1, max = 64))]
    pub kind: Option<String>,
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: Option<String>,
    /// From the previous answer, for the next page.
    #[schemars(transform = shaped(Shape::NextToken))]
    pub next_token: Option<String>,
    /// Jobs per page (default 50, at most 100).
    #[schemars(transform = within(PAGE))]
    pub max_results: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelJob {
    #[schemars(transform = shaped(Shape::JobId))]
    pub job_id: String,
}

/// A job as `get_job` and `cancel_job` answer it.
#[derive(Debug, Serialize, JsonSchema)]
pub struct JobView {
    pub job_id: String,
    /// `export`, or the workflow tool that became a job.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    pub datastore_id: String,
    pub status: JobStatus,
    pub submitted_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// Items with an outcome, of how many (once known), and the latest progress message.
    pub progress: JobProgress,
    /// Seconds left at the pace so far (0 once ended; absent until it can be told).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_seconds: Option<f64>,
    /// Items per outcome.
    pub counts: BTreeMap<String, u64>,
    /// The arguments the job was started with.
    pub request: Value,
    /// What the job reported when it ended (a workflow's report without its items).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<Value>,
    /// Why it failed, was cancelled or was interrupted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Item outcomes, failed ones first (at most max_items).
    pub items: Vec<JobItem>,
    /// Items with an outcome not shown here (raise max_items to see them).
    pub items_not_shown: u64,
}

/// Failed (or unconfirmed) items sort first: they are what a caller acts on.
fn needs_attention(item: &JobItem) -> bool {
    matches!(item.outcome.as_str(), "failed" | "unconfirmed") || item.outcome.contains("fail")
}

pub fn view(rec: JobRecord, max_items: usize) -> JobView {
    let eta_seconds = rec.eta_seconds();
    let total = rec.items.len();
    let (mut items, rest): (Vec<JobItem>, Vec<JobItem>) =
        rec.items.into_iter().partition(needs_attention);
    items.extend(rest);
    items.truncate(max_items);
    JobView {
        items_not_shown: (total - items.len()) as u64,
        items,
        job_id: rec.job_id,
        kind: rec.kind,
        job_name: rec.job_name,
        datastore_id: rec.datastore_id,
        status: rec.status,
        submitted_at: rec.submitted_at,
        updated_at: rec.updated_at,
        ended_at: rec.ended_at,
        progress: rec.progress,
        eta_seconds,
        counts: rec.counts,
        request: rec.request,
        summary: rec.summary,
        message: rec.message,
    }
}

/// One job of `list_jobs`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct JobLine {
    pub job_id: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    pub datastore_id: String,
    pub status: JobStatus,
    pub submitted_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    pub progress: JobProgress,
    pub counts: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct JobList {
    /// Newest first.
    pub jobs: Vec<JobLine>,
    /// More jobs match: call again with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

fn line(rec: JobRecord) -> JobLine {
    JobLine {
        job_id: rec.job_id,
        kind: rec.kind,
        job_name: rec.job_name,
        datastore_id: rec.datastore_id,
        status: rec.status,
        submitted_at: rec.submitted_at,
        ended_at: rec.ended_at,
        progress: rec.progress,
        counts: rec.counts,
        message: rec.message,
    }
}

fn max_items(include: Option<bool>, max: Option<i64>) -> usize {
    if include == Some(false) {
        0
    } else {
        max.unwrap_or(ITEMS_DEFAULT).max(0) as usize
    }
}

fn get_job(i: GetJob) -> EngineResult<JobView> {
    validate::shape("job_id", &i.job_id, Shape::JobId)?;
    let rec = runtime().get(&i.job_id)?;
    Ok(view(rec, max_items(i.include_items, i.max_items)))
}

fn cancel_job(i: CancelJob) -> EngineResult<JobView> {
    validate::shape("job_id", &i.job_id, Shape::JobId)?;
    let rec = runtime().cancel(&i.job_id)?;
    Ok(view(rec, ITEMS_DEFAULT as usize))
}

fn list_jobs(i: ListJobs) -> EngineResult<JobList> {
    validate::opt_shape("datastore_id", i.datastore_id.as_deref(), Shape::ResourceId)?;
    validate::next_token(i.next_token.as_deref())?;
    let page = runtime().list(&ListFilter {
        status: i.status,
        kind: i.kind,
        datastore_id: i.datastore_id,
        next_token: i.next_token,
        max_results: i.max_results.map(|n| n.max(1) as usize),
    })?;
    Ok(JobList {
        jobs: page.jobs.into_iter().map(line).collect(),
        next_token: page.next_token,
    })
}

fn ready<T: Send + 'static>(v: EngineResult<T>) -> std::future::Ready<Result<T, EngineError>> {
    std::future::ready(v)
}

pub fn tools() -> Vec<Tool> {
    vec![
        Tool::new(
            Toolset::Jobs,
            "get_job",
            "A job's status, progress (done of total, ETA), counts per outcome and item outcomes (failed first): exports, and workflows still running when their call answered.",
            READ,
            |i: GetJob, _| ready(get_job(i)),
        ),
        Tool::new(
            Toolset::Jobs,
            "list_jobs",
            "Jobs of this server, newest first, by status, kind and data store; follow next_token.",
            READ,
            |i: ListJobs, _| ready(list_jobs(i)),
        ),
        Tool::new(
            Toolset::Jobs,
            "cancel_job",
            "Stop a job: it starts no new item (items in flight finish); its record tells what was done. A job that already ended is answered as it is.",
            WRITE_IDEMPOTENT,
            |i: CancelJob, _| ready(cancel_job(i)),
        ),
    ]
}
