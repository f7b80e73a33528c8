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
use super::select::{select, Selected};
use super::sink::Sink;
use crate::engine::dicomweb::wado::Where;
use crate::engine::{EngineError, EngineResult};
use crate::jobs::{JobHandle, JobItem};
use crate::workflows::common::read_concurrency;

/// The manifest (one JSON line per instance) and the summary, at the destination's root.
pub const MANIFEST: &str = "manifest.jsonl";
pub const SUMMARY: &str = "summary.json";

pub const DONE: &str = "done";
pub const FAILED: &str = "failed";
pub const NOT_ATTEMPTED: &str = "not_attempted";

fn detail(s: &Selected, destination: String, size: Option<u64>, sha256: Option<&str>) -> Value {
    json!({
        "source_image_set_id": s.image_set_id,
        "source_version": s.version,
        "destination": destination,
        "size": size,
        "sha256": sha256,
    })
}

/// An earlier run's item that is still in place (`holds` checked by the caller).
fn recorded_sha(item: &JobItem) -> Option<String> {
    if item.outcome != DONE {
        return None;
    }
    item.detail
        .as_ref()?
        .get("sha256")?
        .as_str()
        .map(str::to_string)
}

async fn export_one(
    sink: &Sink,
    req: &ExportRequest,
    s: &Selected,
    earlier: Option<&JobItem>,
) -> JobItem {
    let relative = s.relative();
    let destination = req.destination.uri_of(&relative);
    if let Some(previous) = earlier {
        if let Some(sha) = recorded_sha(previous) {
            if sink.holds(&relative, &sha).await {
                return previous.clone();
            }
        }
    }
    let w = Where {
        datastore_id: req.datastore_id.clone(),
        study_instance_uid: s.study.clone(),
        series_instance_uid: s.series.clone(),
        image_set_id: Some(s.image_set_id.clone()),
    };
    match sink
        .put_instance(&relative, &w, &s.sop, req.syntax.uid())
        .await
    {
        Ok(written) => JobItem::new(relative, DONE).detail(detail(
            s,
            destination,
            Some(written.size),
            Some(&written.sha256),
        )),
        Err(e) => JobItem::new(relative, FAILED)
            .reason(e.message)
            .detail(detail(s, destination, None, None)),
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
    let req = Arc::new(req);
    let gate = Arc::new(Semaphore::new(read_concurrency()));
    let mut tasks = Vec::with_capacity(total);
    for s in selected.clone() {
        let (h, sink, req, gate, earlier) = (
            h.clone(),
            sink.clone(),
            req.clone(),
            gate.clone(),
            earlier.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.expect("semaphore open");
            if h.token().is_cancelled() {
                return;
            }
            let item = export_one(&sink, &req, &s, earlier.get(&s.relative())).await;
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
            h.item(
                JobItem::new(s.relative(), NOT_ATTEMPTED)
                    .reason("the job was cancelled first")
                    .detail(detail(s, req.destination.uri_of(&s.relative()), None, None)),
            );
        }
    }
    write_manifest(&h, &sink, &req, &selected).await
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
