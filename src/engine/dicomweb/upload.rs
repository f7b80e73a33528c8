//! Storing local files with STOW-RS: files and folders (recursive) under the allowed roots; a
//! file without the Part-10 `DICM` marker is skipped; the rest go in batches no larger than the
//! request limit (HealthImaging's 1 GB; HEALTHIMAGING_MCP_STOW_BATCH_BYTES sets a smaller one),
//! one request per batch. Each file's outcome comes from the STOW-RS answer, matched on its SOP
//! Instance UID (read from the file meta information); the image sets the stored series are in
//! come from a follow-up SearchImageSets per series (the answer's RetrieveURLs name studies,
//! not image sets).

use std::collections::BTreeSet;
use std::io::Read;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Serialize;

use super::stow::{self, reason_text};
use crate::engine::image_sets::ImageSetSummary;
use crate::engine::{EngineError, EngineResult};
use crate::files::Roots;
use crate::workflows::cancel;
use crate::workflows::common::{search_all, Key};
use crate::workflows::writes::Progress;

/// HealthImaging's limit on one STOW-RS request.
pub const MAX_REQUEST_BYTES: u64 = 1 << 30;
/// Files read from the folders given, at most.
const MAX_FILES: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StoreOutcome {
    Stored,
    Failed,
    /// Not a DICOM Part-10 file (no `DICM` marker).
    SkippedNotDicom,
    NotAttempted,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StoredFile {
    pub path: String,
    pub outcome: StoreOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sop_instance_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SeriesImageSets {
    pub series_instance_uid: String,
    pub image_sets: Vec<ImageSetSummary>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Stored {
    pub total: usize,
    pub stored: usize,
    pub failed: usize,
    pub skipped_not_dicom: usize,
    pub not_attempted: usize,
    pub requests: usize,
    pub files: Vec<StoredFile>,
    /// The image sets holding each stored series (SearchImageSets after the upload).
    pub image_sets: Vec<SeriesImageSets>,
}

/// The request size limit in force.
pub fn batch_limit() -> u64 {
    crate::engine::env::var("HEALTHIMAGING_MCP_STOW_BATCH_BYTES")
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|n| *n > 0)
        .map_or(MAX_REQUEST_BYTES, |n| n.min(MAX_REQUEST_BYTES))
}

/// The SOP Instance UID and Series Instance UID are not both in the file meta; the meta has
/// MediaStorageSOPInstanceUID (0002,0003). `None` when the file is not Part-10.
fn part10_sop_uid(roots: &Roots, path: &std::path::Path) -> EngineResult<Option<String>> {
    let mut f = roots.open_read(path)?;
    let mut head = Vec::with_capacity(4096);
    f.by_ref()
        .take(64 * 1024)
        .read_to_end(&mut head)
        .map_err(|e| EngineError::server(format!("{}: {e}", path.display())))?;
    if head.len() < 132 || &head[128..132] != b"DICM" {
        return Ok(None);
    }
    // File meta: explicit VR little endian elements of group 0002.
    let mut at = 132;
    let mut sop = String::new();
    while at + 8 <= head.len() {
        let group = u16::from_le_bytes([head[at], head[at + 1]]);
        let element = u16::from_le_bytes([head[at + 2], head[at + 3]]);
        if group != 2 {
            break;
        }
        let vr = &head[at + 4..at + 6];
        let (len, start) = if matches!(vr, b"OB" | b"OW" | b"UN" | b"SQ" | b"UT" | b"UC" | b"UR") {
            if at + 12 > head.len() {
                break;
            }
            let l = u32::from_le_bytes([head[at + 8], head[at + 9], head[at + 10], head[at + 11]]);
            (l as usize, at + 12)
        } else {
            (
                u16::from_le_bytes([head[at + 6], head[at + 7]]) as usize,
                at + 8,
            )
        };
        if start + len > head.len() {
            break;
        }
        if element == 3 {
            sop = String::from_utf8_lossy(&head[start..start + len])
                .trim_end_matches(['\0', ' '])
                .to_string();
        }
        at = start + len;
    }
    Ok(Some(sop))
}

/// The files named by `paths` (folders walked recursively, symlinks not followed), canonical
/// and inside the roots, sorted, without duplicates.
fn collect(roots: &Roots, paths: &[String], recursive: bool) -> EngineResult<Vec<PathBuf>> {
    let mut out = BTreeSet::new();
    for p in paths {
        let real = roots.existing(p)?;
        if real.is_dir() {
            let walk = walkdir::WalkDir::new(&real)
                .follow_links(false)
                .max_depth(if recursive { usize::MAX } else { 1 });
            for entry in walk.into_iter().filter_map(Result::ok) {
                if entry.file_type().is_file() {
                    out.insert(entry.into_path());
                }
                if out.len() > MAX_FILES {
                    return Err(EngineError::invalid(
                        "paths",
                        format!("name more than {MAX_FILES} files; store them in parts"),
                    ));
                }
            }
        } else {
            out.insert(real);
        }
    }
    Ok(out.into_iter().collect())
}

/// Stores the files; `progress` gets (done, total, message) after each request.
pub async fn store_files(
    datastore_id: &str,
    paths: &[String],
    recursive: bool,
    progress: Option<Progress>,
) -> EngineResult<Stored> {
    crate::engine::validate::shape(
        "datastore_id",
        datastore_id,
        crate::model::constraints::Shape::ResourceId,
    )?;
    if paths.is_empty() {
        return Err(EngineError::invalid(
            "paths",
            "name at least one file or folder",
        ));
    }
    let roots = Roots::from_env()?;
    let found = {
        let (roots, paths) = (roots.clone(), paths.to_vec());
        tokio::task::spawn_blocking(move || {
            let files = collect(&roots, &paths, recursive)?;
            let mut out = Vec::with_capacity(files.len());
            for f in files {
                let size = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
                let uid = part10_sop_uid(&roots, &f);
                out.push((f, size, uid));
            }
            Ok::<_, EngineError>(out)
        })
        .await
        .map_err(|e| EngineError::server(format!("reading the files: {e}")))??
    };
    let limit = batch_limit();
    let mut files: Vec<StoredFile> = Vec::with_capacity(found.len());
    // Batches of indexes into `files`.
    let mut batches: Vec<(Vec<usize>, u64)> = Vec::new();
    for (path, size, uid) in found {
        let mut f = StoredFile {
            path: path.display().to_string(),
            outcome: StoreOutcome::NotAttempted,
            sop_instance_uid: None,
            reason: None,
        };
        match uid {
            Err(e) => {
                f.outcome = StoreOutcome::Failed;
                f.reason = Some(e.message);
            }
            Ok(None) => f.outcome = StoreOutcome::SkippedNotDicom,
            Ok(Some(_)) if size > limit => {
                f.outcome = StoreOutcome::Failed;
                f.reason = Some(format!(
                    "{size} bytes is over the request limit of {limit} bytes"
                ));
            }
            Ok(Some(sop)) => {
                f.sop_instance_uid = (!sop.is_empty()).then_some(sop);
                // Room for the part headers.
                let cost = size + 128;
                match batches.last_mut() {
                    Some((b, total)) if *total + cost <= limit => {
                        b.push(files.len());
                        *total += cost;
                    }
                    _ => batches.push((vec![files.len()], cost)),
                }
            }
        }
        files.push(f);
    }
    let token = cancel::current().token;
    let to_send: usize = batches.iter().map(|(b, _)| b.len()).sum();
    let mut sent = 0;
    let mut requests = 0;
    let mut series: BTreeSet<String> = BTreeSet::new();
    for (batch, _) in &batches {
        if token.is_cancelled() {
            break;
        }
        let paths: Vec<PathBuf> = batch
            .iter()
            .map(|i| PathBuf::from(&files[*i].path))
            .collect();
        requests += 1;
        match stow::store(datastore_id, &roots, paths).await {
            Ok(answer) => {
                let (ok, failed) = stow::results(&answer);
                for i in batch {
                    let f = &mut files[*i];
                    let uid = f.sop_instance_uid.as_deref();
                    let matches = |r: &&stow::SopResult| {
                        uid.is_some() && r.sop_instance_uid.as_deref() == uid
                    };
                    if let Some(r) = ok.iter().find(matches) {
                        f.outcome = StoreOutcome::Stored;
                        if let Some(s) = r.retrieve_url.as_deref().and_then(series_of) {
                            series.insert(s);
                        }
                    } else if let Some(r) = failed.iter().find(matches) {
                        f.outcome = StoreOutcome::Failed;
                        f.reason = Some(
                            r.failure_reason
                                .map_or_else(|| "the service refused it".to_string(), reason_text),
                        );
                    } else {
                        f.outcome = StoreOutcome::Failed;
                        f.reason = Some("not in the service's answer".into());
                    }
                }
            }
            Err(e) => {
                for i in batch {
                    files[*i].outcome = StoreOutcome::Failed;
                    files[*i].reason = Some(e.message.clone());
                }
            }
        }
        sent += batch.len();
        if let Some(p) = &progress {
            p(sent, to_send, &format!("{sent} of {to_send} files sent"));
        }
    }
    let mut image_sets = Vec::new();
    for s in series {
        let key = Key::series(&s)?;
        let (found, _) = search_all(datastore_id, vec![key.filter()?], 50).await?;
        image_sets.push(SeriesImageSets {
            series_instance_uid: s,
            image_sets: found.iter().map(Into::into).collect(),
        });
    }
    let count = |o: StoreOutcome| files.iter().filter(|f| f.outcome == o).count();
    Ok(Stored {
        total: files.len(),
        stored: count(StoreOutcome::Stored),
        failed: count(StoreOutcome::Failed),
        skipped_not_dicom: count(StoreOutcome::SkippedNotDicom),
        not_attempted: count(StoreOutcome::NotAttempted),
        requests,
        files,
        image_sets,
    })
}

/// The series UID in a RetrieveURL `.../studies/<s>/series/<uid>/instances/...`.
fn series_of(url: &str) -> Option<String> {
    let mut segs = url.split(['/', '?']);
    while let Some(s) = segs.next() {
        if s == "series" {
            return segs.next().filter(|v| !v.is_empty()).map(str::to_string);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_from_retrieve_urls() {
        assert_eq!(
            series_of("http://h/datastore/d/studies/1.2/series/1.3/instances/1.4").as_deref(),
            Some("1.3")
        );
        assert_eq!(series_of("http://h/datastore/d/studies/1.2"), None);
    }

    #[test]
    fn part10_marker_and_meta_uid() {
        let dir = tempfile::tempdir().unwrap();
        let roots = Roots::new([dir.path().to_path_buf()]).unwrap();
        let mut p10 = vec![0u8; 128];
        p10.extend_from_slice(b"DICM");
        // (0002,0003) UI "1.2.3\0"
        p10.extend_from_slice(&[2, 0, 3, 0, b'U', b'I', 6, 0]);
        p10.extend_from_slice(b"1.2.3\0");
        p10.extend_from_slice(&[8, 0, 0x18, 0, b'U', b'I', 2, 0, b'1', 0]);
        std::fs::write(dir.path().join("a.dcm"), &p10).unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
        let a = roots.existing("a.dcm").unwrap();
        let t = roots.existing("notes.txt").unwrap();
        assert_eq!(
            part10_sop_uid(&roots, &a).unwrap().as_deref(),
            Some("1.2.3")
        );
        assert_eq!(part10_sop_uid(&roots, &t).unwrap(), None);
    }
}
