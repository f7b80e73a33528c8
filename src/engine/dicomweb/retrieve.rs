//! Retrieving instances as Part-10 files into a folder under the allowed roots, laid out
//! `<folder>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm`. A study is expanded
//! through QIDO-RS (its series, then each series' instances); files are fetched concurrently
//! (HEALTHIMAGING_MCP_READ_CONCURRENCY, paced by the rate limit), each streamed to disk. A file
//! that already exists is skipped unless `overwrite` is set (its size cannot be compared
//! without fetching it); a file that fails half-way is removed; a cancelled run starts nothing
//! new and reports the rest `not_attempted`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::qido::{self, Level, Search, MAX_LIMIT, MAX_REACHABLE};
use super::wado::{self, Where};
use crate::engine::{EngineError, EngineResult};
use crate::files::Roots;
use crate::workflows::cancel;
use crate::workflows::common::read_concurrency;
use crate::workflows::writes::Progress;

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Written,
    Failed,
    /// The file was already there (`overwrite` not set).
    Skipped,
    /// The run was cancelled first.
    NotAttempted,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FileResult {
    pub study_instance_uid: String,
    pub series_instance_uid: String,
    pub sop_instance_uid: String,
    pub path: String,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Retrieved {
    /// The folder the files were written under (canonical).
    pub folder: String,
    /// `stored` or the transfer syntax UID asked for.
    pub transfer_syntax: String,
    pub total: usize,
    pub written: usize,
    pub failed: usize,
    pub skipped: usize,
    pub not_attempted: usize,
    pub bytes_written: u64,
    pub files: Vec<FileResult>,
}

/// What to retrieve.
#[derive(Debug, Clone)]
pub struct Retrieve {
    pub datastore_id: String,
    pub study_instance_uid: String,
    pub series_instance_uid: Option<String>,
    pub sop_instance_uid: Option<String>,
    pub image_set_id: Option<String>,
    pub folder: String,
    /// `None`: the stored syntax.
    pub transfer_syntax: Option<String>,
    pub overwrite: bool,
}

const SERIES_UID: &str = "0020000E";
const SOP_UID: &str = "00080018";

fn first_string(item: &Value, tag: &str) -> Option<String> {
    item.get(tag)?
        .get("Value")?
        .get(0)?
        .as_str()
        .map(str::to_string)
}

/// Every record of a search (pages of 1,000 up to the 10,000 QIDO-RS reaches).
async fn all_records(mut s: Search) -> EngineResult<Vec<Value>> {
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < MAX_REACHABLE {
        s.limit = Some(MAX_LIMIT);
        s.offset = Some(offset);
        let page = qido::search(&s).await?;
        let n = page.len() as u32;
        out.extend(page);
        if n < MAX_LIMIT {
            break;
        }
        offset += MAX_LIMIT;
    }
    Ok(out)
}

/// (series, SOP) pairs the request names.
async fn expand(r: &Retrieve) -> EngineResult<Vec<(String, String)>> {
    if let Some(sop) = &r.sop_instance_uid {
        let series = r.series_instance_uid.clone().ok_or_else(|| {
            EngineError::invalid("series_instance_uid", "is required with sop_instance_uid")
        })?;
        return Ok(vec![(series, sop.clone())]);
    }
    let series_list = match &r.series_instance_uid {
        Some(s) => vec![s.clone()],
        None => {
            let mut s = Search::new(&r.datastore_id, Level::Series);
            s.study_instance_uid = Some(r.study_instance_uid.clone());
            all_records(s)
                .await?
                .iter()
                .filter_map(|v| first_string(v, SERIES_UID))
                .collect()
        }
    };
    let mut out = Vec::new();
    for series in series_list {
        let mut s = Search::new(&r.datastore_id, Level::Instances);
        s.study_instance_uid = Some(r.study_instance_uid.clone());
        s.series_instance_uid = Some(series.clone());
        for v in all_records(s).await? {
            if let Some(sop) = first_string(&v, SOP_UID) {
                out.push((series.clone(), sop));
            }
        }
    }
    Ok(out)
}

async fn fetch_one(
    roots: &Roots,
    folder: &std::path::Path,
    w: &Where,
    sop: &str,
    ts: Option<&str>,
    overwrite: bool,
    result: &mut FileResult,
) -> EngineResult<()> {
    let name = format!("{sop}.dcm");
    let target = layout(folder, &w.study_instance_uid, &w.series_instance_uid, sop);
    result.path = target.display().to_string();
    if !overwrite && std::fs::symlink_metadata(&target).is_ok() {
        result.outcome = Outcome::Skipped;
        result.reason = Some("the file exists (set overwrite to replace it)".into());
        return Ok(());
    }
    let (path, file) = roots.create(
        folder,
        &[&w.study_instance_uid, &w.series_instance_uid, &name],
    )?;
    let mut file = tokio::fs::File::from_std(file);
    match wado::instance(w, sop, ts, &mut file).await {
        Ok(n) => {
            result.outcome = Outcome::Written;
            result.bytes = Some(n);
            Ok(())
        }
        Err(e) => {
            drop(file);
            let _ = std::fs::remove_file(&path);
            Err(e)
        }
    }
}

/// Runs a retrieval; `progress` gets (done, total, message) as files finish.
pub async fn retrieve(r: Retrieve, progress: Option<Progress>) -> EngineResult<Retrieved> {
    let roots = Roots::from_env()?;
    super::uid("study_instance_uid", &r.study_instance_uid)?;
    if let Some(s) = &r.series_instance_uid {
        super::uid("series_instance_uid", s)?;
    }
    if let Some(s) = &r.sop_instance_uid {
        super::uid("sop_instance_uid", s)?;
    }
    let folder = roots.folder_for_writing(&r.folder)?;
    let pairs = expand(&r).await?;
    let total = pairs.len();
    let token = cancel::current().token;
    let gate = Arc::new(Semaphore::new(read_concurrency()));
    let done = Arc::new(AtomicUsize::new(0));
    let roots = Arc::new(roots);
    let folder = Arc::new(folder);
    let mut handles = Vec::with_capacity(total);
    for (series, sop) in pairs {
        let w = Where {
            datastore_id: r.datastore_id.clone(),
            study_instance_uid: r.study_instance_uid.clone(),
            series_instance_uid: series.clone(),
            image_set_id: r.image_set_id.clone(),
        };
        let (gate, done, token, progress) =
            (gate.clone(), done.clone(), token.clone(), progress.clone());
        let (roots, folder, ts, overwrite) = (
            roots.clone(),
            folder.clone(),
            r.transfer_syntax.clone(),
            r.overwrite,
        );
        handles.push(tokio::spawn(async move {
            let mut result = FileResult {
                study_instance_uid: w.study_instance_uid.clone(),
                series_instance_uid: series,
                sop_instance_uid: sop.clone(),
                path: String::new(),
                outcome: Outcome::NotAttempted,
                bytes: None,
                reason: None,
            };
            let _permit = gate.acquire_owned().await.expect("semaphore open");
            if token.is_cancelled() {
                return result;
            }
            if let Err(e) = fetch_one(
                &roots,
                &folder,
                &w,
                &sop,
                ts.as_deref(),
                overwrite,
                &mut result,
            )
            .await
            {
                result.outcome = Outcome::Failed;
                result.reason = Some(e.message);
            }
            let n = done.fetch_add(1, Ordering::SeqCst) + 1;
            if let Some(p) = &progress {
                p(n, total, &format!("{n} of {total} instances"));
            }
            result
        }));
    }
    let mut files = Vec::with_capacity(total);
    for h in handles {
        files.push(
            h.await
                .map_err(|e| EngineError::server(format!("a retrieval task failed: {e}")))?,
        );
    }
    let count = |o: Outcome| files.iter().filter(|f| f.outcome == o).count();
    Ok(Retrieved {
        folder: folder.display().to_string(),
        transfer_syntax: r.transfer_syntax.clone().unwrap_or_else(|| "stored".into()),
        total,
        written: count(Outcome::Written),
        failed: count(Outcome::Failed),
        skipped: count(Outcome::Skipped),
        not_attempted: count(Outcome::NotAttempted),
        bytes_written: files.iter().filter_map(|f| f.bytes).sum(),
        files,
    })
}

/// Where an instance's file lands.
pub fn layout(folder: &std::path::Path, study: &str, series: &str, sop: &str) -> PathBuf {
    folder.join(study).join(series).join(format!("{sop}.dcm"))
}
