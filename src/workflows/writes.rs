//! How the destructive workflows change image sets, safely. Each image set is re-read
//! immediately before its write (version, series, instances, and the attribute it was selected
//! on); one that no longer matches the request is skipped as `changed_since_selected`, and a whole
//! image set is deleted only when that read shows nothing but what was selected. The change is
//! planned from that read, written against its `latestVersionId` (re-read on conflict, a bounded
//! number of times), and reported one line per item. Retries of throttled or failed requests are
//! the SDK's alone (paced by the engine's rate limit); each item has a deadline
//! (HEALTHIMAGING_MCP_ITEM_DEADLINE_SECONDS) after which it is `failed` with the last error; a
//! cancelled run starts nothing new and reports the items it never reached as `not_attempted`.
//! Removing the last series or instance of an image set deletes the image set instead of
//! leaving an empty one behind. Writes are confirmed, not assumed: HealthImaging completes them
//! asynchronously, so an item is done only when GetImageSet shows the image set ACTIVE again
//! (UPDATED) or gone (deleted); UPDATE_FAILED is reported as failed with the service's message,
//! and no write goes to an image set that is still LOCKED.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::borrow::Cow;

use aws_sdk_medicalimaging::types::{ImageSetState, ImageSetWorkflowStatus};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde_json::{json, Value};

use super::cancel::{self, CancelToken};
use super::common::{fetch_metadata, map_bounded, write_concurrency, Key};
use super::documents;
use crate::dicom::metadata::ImageSetMetadata;
use crate::engine::attempts::{self, Attempts};
use crate::engine::error::{EngineError, EngineResult, ErrorReport, ErrorType};
use crate::engine::image_sets::ImageSetInfo;
use crate::engine::{image_sets, metadata, rate_limit};

/// Reports (done, total, message) as items finish; the message carries an estimate of the time
/// left, e.g. "12 of 40 image sets; about 1m 52s left".
pub type Progress = Arc<dyn Fn(usize, usize, &str) + Send + Sync>;

/// Receives each item's outcome as it happens (a workflow run as a job records them).
pub type ItemSink = Arc<dyn Fn(&ItemOutcome) + Send + Sync>;

tokio::task_local! {
    static ITEM_SINK: ItemSink;
}

/// Runs `work` with every item outcome of its runs also sent to `sink`.
pub async fn observed<F: std::future::Future>(sink: ItemSink, work: F) -> F::Output {
    ITEM_SINK.scope(sink, work).await
}

/// The sink of the run this task belongs to, if any.
pub fn current_sink() -> Option<ItemSink> {
    ITEM_SINK.try_with(Clone::clone).ok()
}

/// Attempts per image set when another writer keeps changing it.
const CONFLICT_ATTEMPTS: usize = 6;

/// Seconds one item may take, retries included: HEALTHIMAGING_MCP_ITEM_DEADLINE_SECONDS
/// (default 120).
pub fn item_deadline() -> Duration {
    std::env::var("HEALTHIMAGING_MCP_ITEM_DEADLINE_SECONDS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(Duration::from_secs(120), |s| {
            Duration::from_secs_f64(s.min(86_400.0))
        })
}

/// An image set chosen for a workflow, as the selection saw it.
#[derive(Debug, Clone)]
pub struct Selected {
    pub id: String,
    /// The version the selection saw (from the search), when known.
    pub version: Option<String>,
}

impl Selected {
    pub fn new(id: impl Into<String>, version: Option<String>) -> Self {
        Self {
            id: id.into(),
            version,
        }
    }
}

/// Why a fresh read no longer matches the attribute the selection was made on.
fn key_mismatch(key: &Key, meta: &ImageSetMetadata) -> Option<String> {
    match key {
        Key::Patient(p) => (meta.patient.text("PatientID").as_deref() != Some(p.as_str()))
            .then(|| "its Patient ID is no longer the requested one".to_string()),
        Key::Study(s) => (meta.study.attributes.text("StudyInstanceUID").as_deref()
            != Some(s.as_str()))
        .then(|| "its Study Instance UID is no longer the requested one".to_string()),
        Key::Series(s) => {
            (!meta.study.series.contains_key(s)).then(|| format!("series {s} is no longer in it"))
        }
    }
}

/// What to do to one image set.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    DeleteImageSet,
    Remove(Value),
    Update(Value),
    /// Nothing to do, with the reason (e.g. the series is no longer there).
    Nothing(String),
    /// HealthImaging would refuse the change, for this reason: nothing is sent.
    Fail(String),
}

impl Action {
    fn verb(&self, dry_run: bool) -> Outcome {
        match (self, dry_run) {
            (Action::DeleteImageSet, false) => Outcome::ImageSetDeleted,
            (Action::DeleteImageSet, true) => Outcome::WouldDeleteImageSet,
            (Action::Remove(_), false) => Outcome::Removed,
            (Action::Remove(_), true) => Outcome::WouldRemove,
            (Action::Update(_), false) => Outcome::Updated,
            (Action::Update(_), true) => Outcome::WouldUpdate,
            (Action::Nothing(_), _) => Outcome::Unchanged,
            (Action::Fail(_), false) => Outcome::Failed,
            (Action::Fail(_), true) => Outcome::WouldFail,
        }
    }
}

/// Plans removal of a series: the series, or the image set if it is its only series.
pub fn plan_remove_series(meta: &ImageSetMetadata, series_uid: &str) -> Action {
    match meta.study.series.get(series_uid) {
        None => Action::Nothing(format!("series {series_uid} is not in this image set")),
        Some(_) if meta.study.series.len() == 1 => Action::DeleteImageSet,
        Some(_) => Action::Remove(documents::remove_series(series_uid)),
    }
}

/// Plans removal of a SOP instance (found in any series when `series_uid` is `None`).
pub fn plan_remove_instance(
    meta: &ImageSetMetadata,
    series_uid: Option<&str>,
    sop_uid: &str,
) -> Action {
    let Some(series) = series_uid.or_else(|| meta.series_of_instance(sop_uid)) else {
        return Action::Nothing(format!("instance {sop_uid} is not in this image set"));
    };
    match meta.study.series.get(series) {
        Some(s) if s.instances.contains_key(sop_uid) => {
            if meta.instance_count() == 1 {
                Action::DeleteImageSet
            } else if s.instances.len() == 1 {
                Action::Remove(documents::remove_series(series))
            } else {
                Action::Remove(documents::remove_instance(series, sop_uid))
            }
        }
        _ => Action::Nothing(format!(
            "instance {sop_uid} is not in series {series} of this image set"
        )),
    }
}

/// What happened to one image set: done (image_set_deleted, removed, updated); what a dry
/// run would do (would_*); nothing to do (unchanged, already_deleted, already_done); skipped
/// (changed_since_selected, not_attempted); refused or failed (would_fail, failed); or sent
/// but not confirmed (unconfirmed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    ImageSetDeleted,
    WouldDeleteImageSet,
    Removed,
    WouldRemove,
    Updated,
    WouldUpdate,
    Unchanged,
    Failed,
    WouldFail,
    NotAttempted,
    ChangedSinceSelected,
    AlreadyDeleted,
    AlreadyDone,
    Unconfirmed,
}

impl Outcome {
    pub const ALL: [Outcome; 14] = [
        Outcome::ImageSetDeleted,
        Outcome::WouldDeleteImageSet,
        Outcome::Removed,
        Outcome::WouldRemove,
        Outcome::Updated,
        Outcome::WouldUpdate,
        Outcome::Unchanged,
        Outcome::Failed,
        Outcome::WouldFail,
        Outcome::NotAttempted,
        Outcome::ChangedSinceSelected,
        Outcome::AlreadyDeleted,
        Outcome::AlreadyDone,
        Outcome::Unconfirmed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::ImageSetDeleted => "image_set_deleted",
            Outcome::WouldDeleteImageSet => "would_delete_image_set",
            Outcome::Removed => "removed",
            Outcome::WouldRemove => "would_remove",
            Outcome::Updated => "updated",
            Outcome::WouldUpdate => "would_update",
            Outcome::Unchanged => "unchanged",
            Outcome::Failed => "failed",
            Outcome::WouldFail => "would_fail",
            Outcome::NotAttempted => "not_attempted",
            Outcome::ChangedSinceSelected => "changed_since_selected",
            Outcome::AlreadyDeleted => "already_deleted",
            Outcome::AlreadyDone => "already_done",
            Outcome::Unconfirmed => "unconfirmed",
        }
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl JsonSchema for Outcome {
    fn schema_name() -> Cow<'static, str> {
        "Outcome".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let names: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
        json_schema!({"type": "string", "enum": names})
    }
}

/// One image set's outcome.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ItemOutcome {
    pub image_set_id: String,
    pub outcome: Outcome,
    /// The image set's version after the change, or when skipped.
    #[serde(rename = "latest_version_id", skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "error_report"
    )]
    #[schemars(with = "Option<ErrorReport>")]
    pub error: Option<EngineError>,
}

fn error_report<S: serde::Serializer>(e: &Option<EngineError>, s: S) -> Result<S::Ok, S::Error> {
    e.as_ref().map(ErrorReport::from).serialize(s)
}

impl ItemOutcome {
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// An image set reported deleted (tests of reports and job records).
    #[cfg(test)]
    pub fn deleted(id: &str) -> Self {
        Self {
            image_set_id: id.into(),
            outcome: Outcome::ImageSetDeleted,
            version: None,
            detail: None,
            error: None,
        }
    }
}

/// A planning function: the action for an image set, from its current metadata.
pub type Plan = Arc<dyn Fn(&ImageSetMetadata) -> Action + Send + Sync>;

/// What a run does to each image set, and how to check it is still the one selected.
#[derive(Clone)]
pub struct Job {
    pub datastore_id: String,
    /// `None`: delete whole image sets.
    pub plan: Option<Plan>,
    /// The attribute the selection was made on, re-checked on the fresh read.
    pub key: Option<Key>,
    pub force: bool,
    pub dry_run: bool,
}

impl Job {
    fn whole_set(&self) -> bool {
        self.plan.is_none()
    }
    /// The outcome when the image set is gone: a whole-set deletion already happened; a
    /// removal from an image set that no longer exists has nothing left to do.
    fn gone(&self) -> Outcome {
        if self.whole_set() {
            Outcome::AlreadyDeleted
        } else {
            Outcome::AlreadyDone
        }
    }
}

/// Image sets this process deleted, so that a rerun of a removal reports `already_done`
/// instead of `not_found` (HealthImaging forgets deleted image sets).
type Remembered = Mutex<(VecDeque<String>, HashSet<String>)>;
static DELETED: std::sync::LazyLock<Remembered> = std::sync::LazyLock::new(Default::default);
const DELETED_KEPT: usize = 10_000;

fn remember_deleted(ds: &str, id: &str) {
    let mut d = DELETED.lock().unwrap_or_else(|e| e.into_inner());
    let key = format!("{ds}/{id}");
    if d.1.insert(key.clone()) {
        d.0.push_back(key);
        if d.0.len() > DELETED_KEPT {
            if let Some(old) = d.0.pop_front() {
                d.1.remove(&old);
            }
        }
    }
}

/// Whether this process deleted the image set.
pub fn deleted_here(ds: &str, id: &str) -> bool {
    let d = DELETED.lock().unwrap_or_else(|e| e.into_inner());
    d.1.contains(&format!("{ds}/{id}"))
}

/// First and longest pause between polls of an image set that is LOCKED by a write in flight.
const POLL_FIRST: Duration = Duration::from_millis(50);
const POLL_MAX: Duration = Duration::from_secs(2);

/// HealthImaging's writes are asynchronous: the image set stays LOCKED until the write has
/// completed. Polls GetImageSet (backing off from 50 ms to 2 s) until it is not LOCKED and
/// returns its properties, or `None` once it no longer exists. Bounded by the item deadline
/// around the caller; a cancelled run stops waiting (`cancel::cancelled()`).
async fn settled(ds: &str, id: &str, token: &CancelToken) -> EngineResult<Option<ImageSetInfo>> {
    let mut pause = POLL_FIRST;
    loop {
        match image_sets::get_image_set(ds.to_string(), id.to_string(), None).await {
            Ok(p) if p.image_set_state.0 == ImageSetState::Locked => {}
            Ok(p) if p.image_set_state.0 == ImageSetState::Deleted => return Ok(None),
            Ok(p) => return Ok(Some(p)),
            Err(e) if e.kind == ErrorType::NotFound => return Ok(None),
            Err(e) => return Err(e),
        }
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = token.cancelled() => return Err(cancel::cancelled()),
        }
        pause = (pause * 2).min(POLL_MAX);
    }
}

/// The outcome of a write once HealthImaging has completed it: done, or failed with the
/// service's message (`UPDATE_FAILED` / `COPY_FAILED`, or a delete that did not happen).
async fn confirm(
    ds: &str,
    id: &str,
    action: &Action,
    version: Option<String>,
    token: &CancelToken,
) -> ItemOutcome {
    let verb = action.verb(false);
    let unconfirmed = |e: EngineError| {
        let detail = "the write was sent but the run stopped before HealthImaging confirmed it";
        item(
            id,
            Outcome::Unconfirmed,
            version.clone(),
            Some(detail.into()),
            Some(e),
        )
    };
    let props = match settled(ds, id, token).await {
        Ok(p) => p,
        Err(e) => return unconfirmed(e),
    };
    let failed = |message: String| {
        let e = EngineError::new(ErrorType::Service, message);
        item(id, Outcome::Failed, version.clone(), None, Some(e))
    };
    match (action, props) {
        (Action::DeleteImageSet, None) => item(id, verb, None, None, None),
        (Action::DeleteImageSet, Some(p)) => failed(format!(
            "DeleteImageSet did not complete: the image set is {} ({})",
            p.image_set_state.as_str(),
            p.image_set_workflow_status
                .as_ref()
                .map_or("?", |s| s.as_str())
        )),
        (_, None) => failed("the image set was deleted before the update completed".into()),
        (_, Some(p)) => match p.image_set_workflow_status.as_ref().map(|s| &s.0) {
            Some(
                status
                @ (ImageSetWorkflowStatus::UpdateFailed | ImageSetWorkflowStatus::CopyFailed),
            ) => failed(format!(
                "HealthImaging reported {}: {}",
                status.as_str(),
                p.message.as_deref().unwrap_or("no message")
            )),
            _ => item(id, verb, version, None, None),
        },
    }
}

/// The fresh state of an image set, once no write is in flight on it: its latest version and
/// that version's metadata.
async fn current(
    ds: &str,
    id: &str,
    with_metadata: bool,
    token: &CancelToken,
) -> EngineResult<(String, Option<ImageSetMetadata>)> {
    let props = settled(ds, id, token)
        .await?
        .ok_or_else(|| EngineError::new(ErrorType::NotFound, format!("image set {id} is gone")))?;
    let version = props.version_id;
    let meta = if with_metadata {
        Some(fetch_metadata(ds, id, Some(&version)).await?)
    } else {
        None
    };
    Ok((version, meta))
}

async fn write(
    ds: &str,
    id: &str,
    version: &str,
    action: &Action,
    force: bool,
) -> EngineResult<Option<String>> {
    let (key, doc) = match action {
        Action::DeleteImageSet => {
            image_sets::delete_image_set(ds.to_string(), id.to_string(), None).await?;
            remember_deleted(ds, id);
            return Ok(None);
        }
        Action::Nothing(_) | Action::Fail(_) => return Ok(None),
        Action::Remove(doc) => ("removableAttributes", doc),
        Action::Update(doc) => ("updatableAttributes", doc),
    };
    let out = metadata::update_image_set_metadata(metadata::MetadataUpdate {
        datastore_id: ds.to_string(),
        image_set_id: id.to_string(),
        latest_version_id: version.to_string(),
        updates: json!({"DICOMUpdates": {key: doc}}),
        force: force.then_some(true),
        include_study_image_sets: None,
    })
    .await?;
    Ok(Some(out.latest_version_id))
}

fn item(
    id: &str,
    outcome: Outcome,
    version: Option<String>,
    detail: Option<String>,
    error: Option<EngineError>,
) -> ItemOutcome {
    ItemOutcome {
        image_set_id: id.to_string(),
        outcome,
        version,
        detail,
        error,
    }
}

/// Set once HealthImaging has accepted an item's write, with the version the write announced:
/// an item that runs out of time while HealthImaging completes that write is `unconfirmed`,
/// not `failed` (the write may well succeed).
type Accepted = Mutex<Option<Option<String>>>;

/// Decides on a fresh read and applies one image set's change; conflicts re-read and retry.
async fn apply_one(
    job: &Job,
    sel: &Selected,
    token: &CancelToken,
    accepted: &Accepted,
) -> ItemOutcome {
    let (ds, id) = (job.datastore_id.as_str(), sel.id.as_str());
    let not_attempted =
        |why: &str| item(id, Outcome::NotAttempted, None, Some(why.to_string()), None);
    let whole_set = job.whole_set();
    // A whole-set deletion needs the metadata only to check the attribute it was selected on.
    let with_metadata = !whole_set || job.key.is_some();
    let mut last_conflict = None;
    for _ in 0..CONFLICT_ATTEMPTS {
        if token.is_cancelled() {
            return not_attempted("the run was cancelled before this image set was changed");
        }
        let (version, meta) = match current(ds, id, with_metadata, token).await {
            Ok(v) => v,
            Err(e) if e.kind == ErrorType::NotFound => {
                return item(id, job.gone(), None, None, None)
            }
            // Cancelled while waiting for another write on it to complete.
            Err(_) if token.is_cancelled() => {
                return not_attempted("the run was cancelled before this image set was changed")
            }
            Err(e) => return item(id, Outcome::Failed, None, None, Some(e)),
        };
        if let (Some(key), Some(meta)) = (&job.key, &meta) {
            if let Some(why) = key_mismatch(key, meta) {
                return item(
                    id,
                    Outcome::ChangedSinceSelected,
                    Some(version),
                    Some(why),
                    None,
                );
            }
        }
        if whole_set {
            if let Some(selected) = sel.version.as_deref().filter(|v| *v != version) {
                let why = format!(
                    "it changed since it was selected (version {selected}, now {version}): it may hold data that was not selected; run the tool again to decide on its current content"
                );
                return item(
                    id,
                    Outcome::ChangedSinceSelected,
                    Some(version),
                    Some(why),
                    None,
                );
            }
        }
        let action = match (&job.plan, &meta) {
            (Some(plan), Some(meta)) => plan(meta),
            _ => Action::DeleteImageSet,
        };
        match &action {
            Action::Nothing(why) => {
                return item(id, action.verb(job.dry_run), None, Some(why.clone()), None)
            }
            Action::Fail(why) => {
                // The same reason in a dry run and a real run; only a real run has failed.
                let error = (!job.dry_run).then(|| EngineError::new(ErrorType::Validation, why));
                return item(id, action.verb(job.dry_run), None, Some(why.clone()), error);
            }
            _ => {}
        }
        if job.dry_run {
            return item(id, action.verb(true), None, None, None);
        }
        if token.is_cancelled() {
            return not_attempted("the run was cancelled before this image set was changed");
        }
        match write(ds, id, &version, &action, job.force).await {
            Ok(v) => {
                *accepted.lock().unwrap_or_else(|e| e.into_inner()) = Some(v.clone());
                return confirm(ds, id, &action, v, token).await;
            }
            Err(e) if e.kind == ErrorType::NotFound => {
                return item(id, job.gone(), None, None, None)
            }
            Err(e) if e.kind == ErrorType::Conflict => last_conflict = Some(e),
            Err(e) => return item(id, Outcome::Failed, None, None, Some(e)),
        }
    }
    item(
        id,
        Outcome::Failed,
        None,
        Some(format!(
            "still conflicting after {CONFLICT_ATTEMPTS} attempts"
        )),
        last_conflict,
    )
}

/// The outcome of an item that ran out of time after HealthImaging accepted its write.
fn unconfirmed_at_deadline(id: &str, deadline: Duration, version: Option<String>) -> ItemOutcome {
    let message = format!(
        "HealthImaging accepted the write but had not completed it within the item deadline of {}s (HEALTHIMAGING_MCP_ITEM_DEADLINE_SECONDS): check the image set",
        deadline.as_secs_f64()
    );
    let detail = "the write was accepted but not confirmed before the item deadline";
    let error = EngineError::new(ErrorType::Service, message);
    item(
        id,
        Outcome::Unconfirmed,
        version,
        Some(detail.into()),
        Some(error),
    )
}

/// The outcome of an item that ran out of time, with the last error its requests met.
fn timed_out(id: &str, deadline: Duration, seen: &Attempts) -> ItemOutcome {
    let waiting = seen.operation.as_deref().unwrap_or("HealthImaging");
    let mut message = format!(
        "not finished within the item deadline of {}s (HEALTHIMAGING_MCP_ITEM_DEADLINE_SECONDS), waiting for {waiting}",
        deadline.as_secs_f64()
    );
    match &seen.last_error {
        Some(e) => message.push_str(&format!("; last error: {e}")),
        None => message.push_str("; no request failed before then"),
    }
    if matches!(waiting, "DeleteImageSet" | "UpdateImageSetMetadata") {
        message.push_str("; the write may have been applied: check the image set");
    }
    let kind = match &seen.last_error {
        Some(e) if e.contains(" 429 ") => ErrorType::Throttling,
        _ => ErrorType::Service,
    };
    item(
        id,
        Outcome::Failed,
        None,
        None,
        Some(EngineError::new(kind, message)),
    )
}

/// Errors after which every other item would fail the same way.
fn fatal(e: &EngineError) -> bool {
    e.kind == ErrorType::Auth
}

/// "12 of 40 image sets; about 1m 52s left": the time left is the larger of what the rate
/// limit of the run's write operation allows and the pace so far.
fn progress_message(done: usize, total: usize, elapsed: Duration, write_ops: &[&str]) -> String {
    let mut text = format!("{done} of {total} image sets");
    let left = (total - done) as f64;
    if done == total {
        return text;
    }
    let limiter = rate_limit::current();
    let by_rate = write_ops
        .iter()
        .filter_map(|op| limiter.as_ref()?.rate(op))
        .fold(None, |slowest: Option<f64>, r| {
            Some(slowest.map_or(r, |s| s.min(r)))
        })
        .map(|rate| left / rate);
    let by_pace = (done > 0).then(|| elapsed.as_secs_f64() / done as f64 * left);
    let eta = match (by_rate, by_pace) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    if let Some(secs) = eta {
        text.push_str(&format!("; about {} left", human(secs)));
    }
    text
}

fn human(secs: f64) -> String {
    let s = secs.ceil() as u64;
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

/// `apply_job` for a plan (whole-set deletion when `None`) with no attribute re-check beyond
/// the plan's own.
pub async fn apply_all(
    datastore_id: &str,
    selected: Vec<Selected>,
    plan: Option<Plan>,
    force: bool,
    dry_run: bool,
    progress: Option<Progress>,
) -> Vec<ItemOutcome> {
    let job = Job {
        datastore_id: datastore_id.to_string(),
        plan,
        key: None,
        force,
        dry_run,
    };
    apply_job(job, selected, progress).await.0
}

/// Applies `job` to every selected image set with bounded concurrency, each within the item
/// deadline; reports progress; stops starting items when the run is cancelled (or after a
/// fatal error). One outcome per image set, in input order; the run is recorded (`cancel`).
/// Returns the outcomes and whether the run was cancelled.
pub async fn apply_job(
    job: Job,
    selected: Vec<Selected>,
    progress: Option<Progress>,
) -> (Vec<ItemOutcome>, bool) {
    let total = selected.len();
    let run = cancel::current();
    let token = run.token.clone();
    // Stops the rest after a fatal error; fires with the run's own token too.
    let stop = CancelToken::new();
    let deadline = item_deadline();
    let started = Instant::now();
    // A dry run writes nothing: its estimate is the pace alone.
    let write_ops: &'static [&'static str] = match (job.dry_run, job.whole_set()) {
        (true, _) => &[],
        (false, true) => &["DeleteImageSet"],
        (false, false) => &["UpdateImageSetMetadata"],
    };
    // Counting and reporting under one lock keeps notifications in increasing order.
    let done = Arc::new(Mutex::new(0usize));
    if let Some(p) = &progress {
        p(
            0,
            total,
            &progress_message(0, total, Duration::ZERO, write_ops),
        );
    }
    let sink = current_sink();
    // What every item's task shares, cloned once per item.
    let shared = Arc::new((job, token, stop, done, progress, sink));
    let results = map_bounded(selected.clone(), write_concurrency(), {
        let shared = shared.clone();
        move |sel: Selected| {
            let shared = shared.clone();
            async move {
                let (job, token, stop, done, progress, sink) = &*shared;
                let out = if token.is_cancelled() {
                    item(
                        &sel.id,
                        Outcome::NotAttempted,
                        None,
                        Some("the run was cancelled before this image set was reached".into()),
                        None,
                    )
                } else if stop.is_cancelled() {
                    item(
                        &sel.id,
                        Outcome::NotAttempted,
                        None,
                        Some("the run stopped after a fatal error on another image set".into()),
                        None,
                    )
                } else {
                    let trace = attempts::Trace::default();
                    let accepted = Accepted::default();
                    let work =
                        attempts::traced(trace.clone(), apply_one(job, &sel, token, &accepted));
                    let finished = tokio::time::timeout(deadline, work).await;
                    let accepted = accepted.into_inner().unwrap_or_else(|e| e.into_inner());
                    match (finished, accepted) {
                        (Ok(out), _) => out,
                        (Err(_), Some(version)) => {
                            unconfirmed_at_deadline(&sel.id, deadline, version)
                        }
                        (Err(_), None) => {
                            let seen = trace.lock().unwrap_or_else(|e| e.into_inner()).clone();
                            timed_out(&sel.id, deadline, &seen)
                        }
                    }
                };
                if out.error.as_ref().is_some_and(fatal) {
                    stop.cancel();
                }
                let mut n = done.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(sink) = sink {
                    sink(&out);
                }
                *n += 1;
                if let Some(p) = progress {
                    p(
                        *n,
                        total,
                        &progress_message(*n, total, started.elapsed(), write_ops),
                    );
                }
                Ok(out)
            }
        }
    })
    .await;
    let (job, token, ..) = &*shared;
    let items: Vec<ItemOutcome> = results
        .into_iter()
        .zip(&selected)
        .map(|(r, sel)| r.unwrap_or_else(|e| item(&sel.id, Outcome::Failed, None, None, Some(e))))
        .collect();
    let cancelled = token.is_cancelled();
    if !job.dry_run {
        let pairs: Vec<(String, String)> = items
            .iter()
            .map(|i| (i.image_set_id.clone(), i.outcome.as_str().to_string()))
            .collect();
        cancel::record(run.tool, &job.datastore_id, cancelled, &pairs);
    }
    (items, cancelled)
}

/// A run's totals plus one line per image set.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WriteReport {
    pub dry_run: bool,
    pub total: usize,
    /// Items with an error.
    pub failed: usize,
    pub already_deleted: usize,
    pub already_done: usize,
    pub unchanged: usize,
    pub would_fail: usize,
    pub changed_since_selected: usize,
    pub not_attempted: usize,
    pub unconfirmed: usize,
    pub items: Vec<ItemOutcome>,
}

/// Totals plus one line per item.
pub fn report(items: &[ItemOutcome], dry_run: bool) -> WriteReport {
    let count = |o: Outcome| items.iter().filter(|i| i.outcome == o).count();
    WriteReport {
        dry_run,
        total: items.len(),
        failed: items.iter().filter(|i| i.failed()).count(),
        already_deleted: count(Outcome::AlreadyDeleted),
        already_done: count(Outcome::AlreadyDone),
        unchanged: count(Outcome::Unchanged),
        would_fail: count(Outcome::WouldFail),
        changed_since_selected: count(Outcome::ChangedSinceSelected),
        not_attempted: count(Outcome::NotAttempted),
        unconfirmed: count(Outcome::Unconfirmed),
        items: items.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(series: &[(&str, &[&str])]) -> ImageSetMetadata {
        let mut s = serde_json::Map::new();
        for (uid, sops) in series {
            let insts: serde_json::Map<String, Value> = sops
                .iter()
                .map(|k| (k.to_string(), json!({"DICOM": {}})))
                .collect();
            s.insert(uid.to_string(), json!({"DICOM": {}, "Instances": insts}));
        }
        ImageSetMetadata::from_json(
            &json!({"Patient": {"DICOM": {}}, "Study": {"DICOM": {}, "Series": s}}),
        )
        .unwrap()
    }

    #[test]
    fn run_reports_keep_their_json() {
        let items = vec![
            item("a", Outcome::Updated, Some("3".into()), None, None),
            item(
                "b",
                Outcome::Unconfirmed,
                Some("2".into()),
                Some("sent".into()),
                Some(EngineError::new(ErrorType::Server, "cancelled")),
            ),
            item("c", Outcome::NotAttempted, None, Some("later".into()), None),
        ];
        assert_eq!(
            serde_json::to_value(report(&items, false)).unwrap(),
            json!({"dry_run": false, "total": 3, "failed": 1, "already_deleted": 0,
                   "already_done": 0, "unchanged": 0, "would_fail": 0,
                   "changed_since_selected": 0, "not_attempted": 1, "unconfirmed": 1,
                   "items": [
                       {"image_set_id": "a", "outcome": "updated", "latest_version_id": "3"},
                       {"image_set_id": "b", "outcome": "unconfirmed", "latest_version_id": "2",
                        "detail": "sent", "error": {"type": "server_error", "message": "cancelled"}},
                       {"image_set_id": "c", "outcome": "not_attempted", "detail": "later"}]})
        );
    }

    #[test]
    fn run_report_schemas_mark_required_fields() {
        use crate::engine::convert::testing::{output_schema, properties, required};
        // Every count and the items are always there.
        assert_eq!(
            required::<WriteReport>(None),
            properties::<WriteReport>(None)
        );
        assert_eq!(
            required::<WriteReport>(Some("ItemOutcome")),
            ["image_set_id", "outcome"]
        );
        let schema = output_schema::<WriteReport>();
        let outcomes: Vec<&str> = schema["$defs"]["Outcome"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v.as_str())
            .collect();
        assert_eq!(outcomes.len(), Outcome::ALL.len());
        assert!(outcomes.contains(&"changed_since_selected"));
        let error = &schema["$defs"]["ItemOutcome"]["properties"]["error"];
        assert!(error.to_string().contains("ErrorReport"), "{error}");
        assert_eq!(
            schema["$defs"]["ErrorReport"]["required"],
            json!(["type", "message"])
        );
    }

    #[test]
    fn removing_the_last_piece_deletes_the_image_set() {
        let one = meta(&[("1.1", &["1.1.1"])]);
        assert_eq!(plan_remove_series(&one, "1.1"), Action::DeleteImageSet);
        assert_eq!(
            plan_remove_instance(&one, None, "1.1.1"),
            Action::DeleteImageSet
        );
        let two = meta(&[("1.1", &["1.1.1", "1.1.2"]), ("1.2", &["1.2.1"])]);
        assert_eq!(
            plan_remove_series(&two, "1.2"),
            Action::Remove(documents::remove_series("1.2"))
        );
        assert_eq!(
            plan_remove_instance(&two, Some("1.1"), "1.1.2"),
            Action::Remove(documents::remove_instance("1.1", "1.1.2"))
        );
        // The only instance of a series among others: the series goes.
        assert_eq!(
            plan_remove_instance(&two, None, "1.2.1"),
            Action::Remove(documents::remove_series("1.2"))
        );
        assert!(matches!(
            plan_remove_series(&two, "9.9"),
            Action::Nothing(_)
        ));
        assert!(matches!(
            plan_remove_instance(&two, Some("1.2"), "1.1.1"),
            Action::Nothing(_)
        ));
    }
}
