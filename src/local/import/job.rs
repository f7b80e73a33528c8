//! The import job: read every object under `inputS3Uri` (a folder under the S3 stand-in root),
//! parse DICOM Part-10 files, place each SOP instance in an image set the way the service
//! documents it, and write `job-output-manifest.json`, `SUCCESS/success.ndjson` and
//! `FAILURE/failure.ndjson` under `outputS3Uri`.
//!
//! Placement (Developer Guide, "Understanding import jobs" / primary image sets): instances are
//! keyed by Study (Patient ID, Study Date, Accession Number, Study ID, Study Instance UID) and
//! Series (Series Instance UID, Series Number) elements. An instance joins the primary image set
//! of its series when those elements agree, or starts a new primary image set when its series has
//! none and no primary image set of the same study disagrees; anything conflicting goes to a
//! non-primary image set. Each job adds at most one version to each image set it touches, and a
//! re-imported SOP instance replaces the stored one.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::parse::{parse_part10, ParseError, ParsedInstance};
use crate::local::app::App;
use crate::local::document::{self, Object};
use crate::local::error::{ApiError, ApiResult};
use crate::local::s3::{S3Folder, S3Uri};
use crate::local::state::{new_id, Datastore, ImportJob, JobOutcome, TextField, WorkflowStatus};

/// The grouping elements, in a fixed order: 5 study-level, then 2 series-level.
type GroupKey = [Option<String>; 7];
const STUDY_KEYS: [&str; 5] = [
    "PatientID",
    "StudyDate",
    "AccessionNumber",
    "StudyID",
    "StudyInstanceUID",
];

fn text(m: &Object, k: &str) -> Option<String> {
    document::text(Some(m), k).map(|s| s.trim().to_string())
}

fn number_text(m: &Object, k: &str) -> Option<String> {
    match m.get(k)? {
        Value::Number(n) => Some(n.to_string()),
        _ => text(m, k),
    }
}

fn key_of_instance(i: &ParsedInstance) -> GroupKey {
    [
        text(&i.patient, "PatientID"),
        text(&i.study, "StudyDate"),
        text(&i.study, "AccessionNumber"),
        text(&i.study, "StudyID"),
        Some(i.study_uid.clone()),
        Some(i.series_uid.clone()),
        number_text(&i.series, "SeriesNumber"),
    ]
}

fn key_of_doc(doc: &Value, series_uid: &str) -> GroupKey {
    let empty = Map::new();
    let p = document::patient(doc).unwrap_or(&empty);
    let s = document::study(doc).unwrap_or(&empty);
    let series = document::series_map(doc)
        .and_then(|m| m.get(series_uid))
        .and_then(|v| v.get("DICOM"))
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    [
        text(p, "PatientID"),
        text(s, "StudyDate"),
        text(s, "AccessionNumber"),
        text(s, "StudyID"),
        text(s, "StudyInstanceUID"),
        Some(series_uid.to_string()),
        number_text(series, "SeriesNumber"),
    ]
}

/// Where an instance goes within this job.
#[derive(Clone, PartialEq, Eq, Hash)]
enum Target {
    Existing(String),
    NewPrimary(String, String),
    NewNonPrimary(GroupKey),
}

struct Pending {
    doc: Value,
    is_primary: bool,
}

/// Why a file was not imported, as `failure.ndjson` reports it.
struct FileError {
    exception_type: &'static str,
    message: String,
}

impl From<ParseError> for FileError {
    fn from(e: ParseError) -> Self {
        let exception_type = match &e {
            ParseError::NotDicom(_) => "NotDicomFile",
            ParseError::Corrupt(_) => "CorruptFile",
            ParseError::MissingAttribute(_) => "MissingRequiredAttribute",
            ParseError::Pixel(_) => "InvalidPixelData",
        };
        Self {
            exception_type,
            message: e.to_string(),
        }
    }
}

/// Why a whole job failed; its text is the job's failure message.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The job's URIs were refused, or the store could not take the result.
    #[error("{}", .0.message)]
    Refused(#[from] ApiError),
    #[error("the S3 stand-in folder is not accessible: {0}")]
    S3Root(std::io::Error),
    #[error("The input bucket of {0} does not exist or is not accessible")]
    NoInputBucket(String),
    #[error("cannot list {uri}: {source}")]
    List { uri: String, source: std::io::Error },
    #[error("No objects found under {0}")]
    NoObjects(String),
    #[error("cannot write job output to {uri}: {source}")]
    Output { uri: String, source: std::io::Error },
}

/// A failed job as an API error (for `seed`, which runs a job in the foreground).
impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        ApiError::internal(e.to_string())
    }
}

/// One imported file's outcome: the image set it landed in and whether that one is primary.
struct FileResult {
    uri: String,
    outcome: Result<(String, bool), FileError>,
}

/// The instance entry of the metadata document, with new frame IDs. Returns the frames to store.
fn instance_entry(i: &ParsedInstance) -> (Value, Vec<(String, Vec<u8>)>) {
    let mut frames_out = Vec::new();
    let frames: Vec<Value> = i
        .frames
        .iter()
        .map(|f| {
            let id = new_id();
            let mut entry = json!({
                "ID": id,
                "FrameSizeInBytes": f.bytes.len(),
            });
            if let Some(c) = f.checksum {
                entry["PixelDataChecksumFromBaseToFullResolution"] =
                    json!([{"Width": f.width, "Height": f.height, "Checksum": c}]);
            }
            if let (Some(min), Some(max)) = (f.min, f.max) {
                entry["MinPixelValue"] = json!(min);
                entry["MaxPixelValue"] = json!(max);
            }
            frames_out.push((id, f.bytes.clone()));
            entry
        })
        .collect();
    let entry = json!({
        "DICOM": i.instance,
        "DICOMVRs": i.dicom_vrs,
        "StoredTransferSyntaxUID": i.transfer_syntax_uid,
        "ImageFrames": frames,
    });
    (entry, frames_out)
}

fn add_instance(doc: &mut Value, i: &ParsedInstance, entry: Value) {
    if document::patient(doc).is_none_or(|p| p.is_empty()) {
        *document::patient_mut(doc) = i.patient.clone();
    }
    if document::study(doc).is_none_or(|s| s.is_empty()) {
        *document::study_mut(doc) = i.study.clone();
    }
    let series = document::series_map_mut(doc)
        .entry(i.series_uid.clone())
        .or_insert_with(|| json!({"DICOM": i.series, "Instances": {}}));
    if let Some(insts) = series
        .as_object_mut()
        .map(|s| s.entry("Instances").or_insert_with(|| json!({})))
        .and_then(Value::as_object_mut)
    {
        insts.insert(i.sop_uid.clone(), entry);
    }
}

/// Decides where one instance goes, given the data store and this job's pending image sets.
fn place(ds: &Datastore, pending: &HashMap<Target, Pending>, i: &ParsedInstance) -> Target {
    let key = key_of_instance(i);
    let current_doc = |id: &str| -> Option<&Value> {
        pending
            .get(&Target::Existing(id.to_string()))
            .map(|p| &p.doc)
            .or_else(|| ds.image_sets().get(id).map(|s| &s.latest().document))
    };
    // The primary image set of this series, if any (looked up in the index, not scanned).
    let primary_of_series = ds
        .image_sets_maybe_with(TextField::SeriesInstanceUid, &i.series_uid)
        .into_iter()
        .find(|s| {
            s.is_primary
                && document::text(document::study(&s.latest().document), "StudyInstanceUID")
                    == Some(i.study_uid.as_str())
                && document::series_map(&s.latest().document)
                    .is_some_and(|m| m.contains_key(&i.series_uid))
        });
    if let Some(p) = primary_of_series {
        let doc = current_doc(&p.id).unwrap_or(&p.latest().document);
        return if key_of_doc(doc, &i.series_uid) == key {
            Target::Existing(p.id.clone())
        } else {
            Target::NewNonPrimary(key)
        };
    }
    let new_primary = Target::NewPrimary(i.study_uid.clone(), i.series_uid.clone());
    if let Some(p) = pending.get(&new_primary) {
        return if key_of_doc(&p.doc, &i.series_uid) == key {
            new_primary
        } else {
            Target::NewNonPrimary(key)
        };
    }
    // No primary holds this series yet: the study-level elements must agree with every primary
    // image set of the same study (stored or created by this job).
    let study_key = |doc: &Value| -> Vec<Option<String>> {
        let empty = Map::new();
        let p = document::patient(doc).unwrap_or(&empty);
        let s = document::study(doc).unwrap_or(&empty);
        STUDY_KEYS
            .iter()
            .map(|k| {
                if *k == "PatientID" {
                    text(p, k)
                } else {
                    text(s, k)
                }
            })
            .collect()
    };
    let mine: Vec<Option<String>> = key[..5].to_vec();
    let stored = ds
        .image_sets()
        .values()
        .filter(|s| s.is_primary)
        .map(|s| current_doc(&s.id).unwrap_or(&s.latest().document));
    let fresh = pending
        .iter()
        .filter(|(t, _)| matches!(t, Target::NewPrimary(..)))
        .map(|(_, p)| &p.doc);
    let conflict = stored.chain(fresh).any(|doc| {
        document::text(document::study(doc), "StudyInstanceUID") == Some(i.study_uid.as_str())
            && study_key(doc) != mine
    });
    if conflict {
        Target::NewNonPrimary(key)
    } else {
        new_primary
    }
}

/// Where a data store's job folders start under `outputS3Uri`: `{prefix}/{datastoreId}-DicomImport-`.
fn output_stem(output: &S3Uri, datastore_id: &str) -> String {
    let prefix = &output.key;
    let sep = if prefix.is_empty() || prefix.ends_with('/') {
        ""
    } else {
        "/"
    };
    format!("{prefix}{sep}{datastore_id}-DicomImport-")
}

fn write_outputs(
    s3: &S3Folder,
    output: &S3Uri,
    job: &ImportJob,
    results: &[FileResult],
) -> std::io::Result<()> {
    let folder_key = format!("{}{}/", output_stem(output, &job.datastore_id), job.id);
    let out_uri = format!("s3://{}/{folder_key}", output.bucket);
    let mut success = String::new();
    let mut failure = String::new();
    for r in results {
        match &r.outcome {
            Ok((id, primary)) => {
                success.push_str(
                    &json!({"inputFile": r.uri, "importResponse": {"imageSetId": id, "isPrimary": primary}}).to_string(),
                );
                success.push('\n');
            }
            Err(e) => {
                failure.push_str(
                    &json!({"inputFile": r.uri, "exception": {"exceptionType": e.exception_type, "message": e.message}}).to_string(),
                );
                failure.push('\n');
            }
        }
    }
    let put =
        |name: &str, bytes: &[u8]| s3.write(&output.bucket, &format!("{folder_key}{name}"), bytes);
    put("SUCCESS/success.ndjson", success.as_bytes())?;
    let failed = results.iter().filter(|r| r.outcome.is_err()).count();
    if failed > 0 {
        put("FAILURE/failure.ndjson", failure.as_bytes())?;
    }
    let mut matched: HashMap<&(String, bool), usize> = HashMap::new();
    for r in results {
        if let Ok(landed) = &r.outcome {
            *matched.entry(landed).or_default() += 1;
        }
    }
    let generated = matched.len();
    let mut summaries: Vec<Value> = matched
        .into_iter()
        .map(|((id, primary), n)| {
            json!({"imageSetId": id, "numberOfMatchedSOPInstances": n, "isPrimary": primary})
        })
        .collect();
    summaries.sort_by(|a, b| a["imageSetId"].as_str().cmp(&b["imageSetId"].as_str()));
    let manifest = json!({"jobSummary": {
        "jobId": job.id,
        "datastoreId": job.datastore_id,
        "inputS3Uri": job.input_s3_uri,
        "outputS3Uri": out_uri,
        "successOutputS3Uri": format!("{out_uri}SUCCESS/"),
        "failureOutputS3Uri": format!("{out_uri}FAILURE/"),
        "numberOfScannedFiles": results.len(),
        "numberOfImportedFiles": results.len() - failed,
        "numberOfFilesWithCustomerError": failed,
        "numberOfFilesWithServerError": 0,
        "numberOfGeneratedImageSets": generated,
        "imageSetsSummary": summaries,
    }});
    put(
        "job-output-manifest.json",
        &serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?,
    )
}

/// Runs a submitted job to completion (blocking: file reads and parsing). Returns the number
/// of files imported, or why the job failed (as recorded on the job).
pub fn run_job(app: &App, datastore_id: &str, job_id: &str) -> ApiResult<usize> {
    let job = app.write(|s| {
        s.mark_job_running(datastore_id, job_id);
        s.job(datastore_id, job_id).cloned()
    })?;
    let outcome = import(app, &job);
    let end = match &outcome {
        Ok(_) => JobOutcome::Completed,
        Err(e) => JobOutcome::Failed(e.to_string()),
    };
    app.write(|s| {
        s.finish_job(datastore_id, job_id, end);
        Ok(())
    })?;
    Ok(outcome?)
}

/// The import itself.
fn import(app: &App, job: &ImportJob) -> Result<usize, ImportError> {
    // Checked when the job was submitted; checked again for jobs saved by older versions.
    let input = S3Uri::parse("inputS3Uri", &job.input_s3_uri)?;
    let output = S3Uri::parse("outputS3Uri", &job.output_s3_uri)?;
    let s3 = S3Folder::open(&app.s3_root).map_err(ImportError::S3Root)?;
    if !s3.bucket_exists(&input.bucket) {
        return Err(ImportError::NoInputBucket(job.input_s3_uri.clone()));
    }
    // Never re-read job output of this data store if the output prefix lies under the input prefix.
    let skip = (output.bucket == input.bucket).then(|| output_stem(&output, &job.datastore_id));
    let keys = s3
        .list(&input, skip.as_deref())
        .map_err(|source| ImportError::List {
            uri: job.input_s3_uri.clone(),
            source,
        })?;
    if keys.is_empty() {
        return Err(ImportError::NoObjects(job.input_s3_uri.clone()));
    }
    let parsed: Vec<(String, Result<ParsedInstance, FileError>)> = keys
        .iter()
        .map(|key| {
            let uri = format!("s3://{}/{key}", input.bucket);
            let r = s3
                .read(&input.bucket, key)
                .map_err(|e| FileError {
                    exception_type: "ReadError",
                    message: e.to_string(),
                })
                .and_then(|bytes| Ok(parse_part10(&bytes)?));
            (uri, r)
        })
        .collect();

    let mut results = Vec::with_capacity(parsed.len());
    let mut instances = Vec::new();
    let mut uris = Vec::new();
    for (uri, r) in parsed {
        match r {
            Ok(inst) => {
                uris.push(uri);
                instances.push(inst);
            }
            Err(e) => results.push(FileResult {
                uri,
                outcome: Err(e),
            }),
        }
    }
    let landed = store_instances(app, &job.datastore_id, instances)?;
    results.extend(uris.into_iter().zip(landed).map(|(uri, l)| FileResult {
        uri,
        outcome: Ok(l),
    }));
    write_outputs(&s3, &output, job, &results).map_err(|source| ImportError::Output {
        uri: job.output_s3_uri.clone(),
        source,
    })?;
    Ok(results.iter().filter(|r| r.outcome.is_ok()).count())
}

/// Places parsed instances in image sets the way an import job does (see the module comment)
/// and commits them: frames reach the disk first, then one durable write adds at most one
/// version to each image set touched. Returns, per instance in order, the image set it landed
/// in and whether that image set is primary. Import jobs and STOW-RS both store through here.
pub fn store_instances(
    app: &App,
    datastore_id: &str,
    instances: Vec<ParsedInstance>,
) -> ApiResult<Vec<(String, bool)>> {
    let mut frames: Vec<(String, Vec<u8>)> = Vec::new();
    let mut entries = Vec::with_capacity(instances.len());
    for inst in instances {
        let (entry, inst_frames) = instance_entry(&inst);
        frames.extend(inst_frames);
        entries.push((inst, entry));
    }
    // Frames reach the disk before the image sets that reference them.
    app.store_frames(&frames)?;
    app.write(|store| {
        let ds = store.live_datastore_mut(datastore_id)?;
        let mut pending: HashMap<Target, Pending> = HashMap::new();
        let mut targets = Vec::with_capacity(entries.len());
        for (inst, entry) in entries {
            let target = place(ds, &pending, &inst);
            let p = pending
                .entry(target.clone())
                .or_insert_with(|| match &target {
                    Target::Existing(id) => Pending {
                        doc: ds.image_sets()[id].latest().document.clone(),
                        is_primary: true,
                    },
                    Target::NewPrimary(..) => Pending {
                        doc: document::empty(ds.id(), ""),
                        is_primary: true,
                    },
                    Target::NewNonPrimary(_) => Pending {
                        doc: document::empty(ds.id(), ""),
                        is_primary: false,
                    },
                });
            add_instance(&mut p.doc, &inst, entry);
            targets.push(target);
        }
        let mut ids: HashMap<Target, (String, bool)> = HashMap::new();
        for (target, p) in pending {
            let id = match &target {
                Target::Existing(id) => {
                    ds.push_version(id, p.doc, WorkflowStatus::Imported, false)?;
                    id.clone()
                }
                _ => ds.create_image_set(p.doc, p.is_primary, WorkflowStatus::Imported),
            };
            ids.insert(target, (id, p.is_primary));
        }
        for (id, bytes) in frames {
            store.insert_frame(id, bytes.into());
        }
        Ok(targets.iter().map(|t| ids[t].clone()).collect())
    })
}

/// Starts a submitted job in the background.
pub fn spawn_job(app: Arc<App>, datastore_id: String, job_id: String) {
    tokio::task::spawn_blocking(move || {
        let _ = run_job(&app, &datastore_id, &job_id);
    });
}
