//! Running (or resuming) an export job: open the destination, select the instances, export
//! each under bounded concurrency (each item's outcome recorded as it ends), then write the
//! manifest and the summary beside the files. A resumed job skips instances its record has as
//! done whose destination object still has the recorded SHA-256; everything else is written
//! again to the same key, so a resume leaves neither duplicates nor gaps. A cancelled job
//! starts nothing new, records the rest `not_attempted`, and still writes its manifest.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::Semaphore;

use super::request::ExportRequest;
use super::secret::job_secret;
use super::select::{select, Selected};
use super::sink::Sink;
use crate::deid::{self, BurnedIn, UidMap};
use crate::engine::dicomweb::wado::{self, Where};
use crate::engine::{EngineError, EngineResult};
use crate::jobs::{JobHandle, JobItem};
use crate::workflows::common::read_concurrency;

/// The manifest (one JSON line per instance) and the summary, at the destination's root.
pub const MANIFEST: &str = "manifest.jsonl";
pub const SUMMARY: &str = "summary.json";

pub const DONE: &str = "done";
pub const FAILED: &str = "failed";
pub const NOT_ATTEMPTED: &str = "not_attempted";
/// De-identifying: the instance says its pixels show burned-in annotation; not exported.
pub const FLAGGED: &str = "flagged";

/// A de-identifying job's profile options and its UID map.
pub struct Deid {
    pub options: deid::Options,
    pub uids: UidMap,
}

impl Deid {
    /// Where a de-identified instance lands: under its remapped UIDs.
    fn relative(&self, s: &Selected) -> String {
        format!(
            "{}/{}/{}.dcm",
            self.uids.map(&s.study),
            self.uids.map(&s.series),
            self.uids.map(&s.sop)
        )
    }
}

fn detail(
    s: &Selected,
    req: &ExportRequest,
    relative: &str,
    size: Option<u64>,
    sha256: Option<&str>,
) -> Value {
    json!({
        "source_image_set_id": s.image_set_id,
        "source_version": s.version,
        "relative": relative,
        "destination": req.destination.uri_of(relative),
        "size": size,
        "sha256": sha256,
    })
}

/// Where an earlier run put an item and its SHA-256, when it was done.
fn recorded(item: &JobItem) -> Option<(String, String)> {
    if item.outcome != DONE {
        return None;
    }
    let d = item.detail.as_ref()?;
    Some((
        d.get("relative")?.as_str()?.to_string(),
        d.get("sha256")?.as_str()?.to_string(),
    ))
}

/// Fetches one instance into memory and de-identifies it; `Err(reason)` inside when it is
/// flagged instead.
async fn deidentified(
    d: &Deid,
    w: &Where,
    s: &Selected,
    ts: Option<&str>,
) -> EngineResult<Result<Vec<u8>, String>> {
    let mut body = Vec::new();
    wado::instance(w, &s.sop, ts, &mut body).await?;
    let (bytes, report) = deid::deidentify_part10(&body, &d.options, &d.uids)?;
    if report.burned_in == BurnedIn::Yes {
        return Ok(Err("Burned In Annotation is YES: the pixels may show identifying text, which the profile does not remove; not exported".into()));
    }
    Ok(Ok(bytes))
}

async fn export_one(
    sink: &Sink,
    req: &ExportRequest,
    d: Option<&Deid>,
    s: &Selected,
    earlier: Option<&JobItem>,
) -> JobItem {
    let key = s.relative();
    if let Some(previous) = earlier {
        if let Some((relative, sha)) = recorded(previous) {
            if sink.holds(&relative, &sha).await {
                return previous.clone();
            }
        }
    }
    let relative = d.map_or_else(|| key.clone(), |d| d.relative(s));
    let w = Where {
        datastore_id: req.datastore_id.clone(),
        study_instance_uid: s.study.clone(),
        series_instance_uid: s.series.clone(),
        image_set_id: Some(s.image_set_id.clone()),
    };
    let ts = req.syntax.uid();
    let written = match d {
        None => sink.put_instance(&relative, &w, &s.sop, ts).await,
        Some(d) => match deidentified(d, &w, s, ts).await {
            Ok(Ok(bytes)) => sink.put_bytes(&relative, bytes).await,
            Ok(Err(flag)) => {
                return JobItem::new(key, FLAGGED)
                    .reason(flag)
                    .detail(detail(s, req, &relative, None, None))
            }
            Err(e) => Err(e),
        },
    };
    match written {
        Ok(written) => JobItem::new(key, DONE).detail(detail(
            s,
            req,
            &relative,
            Some(written.size),
            Some(&written.sha256),
        )),
        Err(e) => JobItem::new(key, FAILED)
            .reason(e.message)
            .detail(detail(s, req, &relative, None, None)),
    }
}

/// One manifest line.
fn manifest_line(item: &JobItem) -> Value {
    let d = item.detail.clone().unwrap_or_else(|| json!({}));
    json!({
        "source_image_set_id": d.get("source_image_set_id"),
        "source_version": d.get("source_version"),
        "destination": d.get("destination"),
        "size": d.get("size"),
        "sha256": d.get("sha256"),
        "outcome": item.outcome,
        "reason": item.reason,
    })
}

/// Runs the export job of `h` (its record's request is an `ExportRequest`).
pub async fn run(h: JobHandle) -> EngineResult<Value> {
    let req: ExportRequest = serde_json::from_value(h.request())
        .map_err(|e| EngineError::server(format!("the export request is unreadable: {e}")))?;
    h.message("opening the destination");
    let sink = Arc::new(Sink::open(&req.destination, &req.data_access_role_arn).await?);
    h.message("selecting instances");
    let selected = select(&req).await?;
    let total = selected.len();
    h.set_total(total as u64);
    let earlier: Arc<HashMap<String, JobItem>> = Arc::new(
        h.finished_items()
            .into_iter()
            .map(|i| (i.key.clone(), i))
            .collect(),
    );
    let deid = match req.deidentify {
        Some(options) => Some(Arc::new(Deid {
            options,
            uids: UidMap::new(job_secret(&h.id())?),
        })),
        None => None,
    };
    let req = Arc::new(req);
    let gate = Arc::new(Semaphore::new(read_concurrency()));
    let mut tasks = Vec::with_capacity(total);
    for s in selected.clone() {
        let (h, sink, req, gate, earlier, deid) = (
            h.clone(),
            sink.clone(),
            req.clone(),
            gate.clone(),
            earlier.clone(),
            deid.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("semaphore open");
            if h.token().is_cancelled() {
                return;
            }
            let item =
                export_one(&sink, &req, deid.as_deref(), &s, earlier.get(&s.relative())).await;
            h.item(item);
            let done = h.snapshot().progress.done;
            h.message(format!("{done} of {total} instances"));
        }));
    }
    for t in tasks {
        t.await
            .map_err(|e| EngineError::server(format!("an export task failed: {e}")))?;
    }
    // What a cancelled run never reached.
    let now: HashMap<String, JobItem> = h
        .finished_items()
        .into_iter()
        .map(|i| (i.key.clone(), i))
        .collect();
    for s in &selected {
        if !now.contains_key(&s.relative()) {
            let relative = deid
                .as_deref()
                .map_or_else(|| s.relative(), |d| d.relative(s));
            h.item(
                JobItem::new(s.relative(), NOT_ATTEMPTED)
                    .reason("the job was cancelled first")
                    .detail(detail(s, &req, &relative, None, None)),
            );
        }
    }
    let summary = write_manifest(&h, &sink, &req, &selected).await?;
    if let (Some(d), Some((folder, name))) = (deid.as_deref(), &req.identity_map) {
        write_identity_map(d, &selected, folder, name, &req).await?;
    }
    Ok(summary)
}

/// The identity map: every UID the job replaced (the instances of a resumed run's earlier
/// part included: the same secret maps them the same), original -> new. Written only where the
/// caller asked.
async fn write_identity_map(
    d: &Deid,
    selected: &[Selected],
    folder: &super::request::Destination,
    name: &str,
    req: &ExportRequest,
) -> EngineResult<()> {
    for s in selected {
        d.relative(s);
    }
    let pairs: serde_json::Map<String, Value> = d
        .uids
        .pairs()
        .into_iter()
        .map(|(a, b)| (a, Value::String(b)))
        .collect();
    let body = serde_json::to_vec_pretty(&json!({ "uids": pairs })).expect("JSON serializes");
    let sink = Sink::open(folder, &req.data_access_role_arn).await?;
    sink.put_document(name, body, "application/json").await
}

/// Writes the manifest (in selection order) and the summary; answers the summary.
async fn write_manifest(
    h: &JobHandle,
    sink: &Sink,
    req: &ExportRequest,
    selected: &[Selected],
) -> EngineResult<Value> {
    let record = h.snapshot();
    let by_key: HashMap<&str, &JobItem> =
        record.items.iter().map(|i| (i.key.as_str(), i)).collect();
    let mut lines = String::new();
    let mut bytes = 0u64;
    for s in selected {
        if let Some(item) = by_key.get(s.relative().as_str()) {
            let line = manifest_line(item);
            bytes += line["size"].as_u64().unwrap_or(0);
            lines.push_str(&line.to_string());
            lines.push('\n');
        }
    }
    let summary = json!({
        "job_id": record.job_id,
        "datastore_id": record.datastore_id,
        "output_uri": req.destination.uri_of(""),
        "manifest_uri": req.destination.uri_of(MANIFEST),
        "transfer_syntax": req.syntax.uid().unwrap_or("stored"),
        "cancelled": h.token().is_cancelled(),
        "deidentified": req.deidentify.is_some(),
        "total": selected.len(),
        "counts": record.counts,
        "bytes": bytes,
        "submitted_at": record.submitted_at,
        "written_at": crate::jobs::record::now(),
    });
    sink.put_document(MANIFEST, lines.into_bytes(), "application/x-ndjson")
        .await?;
    let text = serde_json::to_vec_pretty(&summary).expect("JSON serializes");
    sink.put_document(SUMMARY, text, "application/json").await?;
    Ok(summary)
}
