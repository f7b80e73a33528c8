//! `--seed`: a data store named `healthimaging-local-samples` holding the bundled sample DICOM,
//! imported through a regular import job from `s3://healthimaging-local-samples/dicom/`.
//! Seeding is idempotent: a data store of that name that already exists is reused as is.
//!
//! `synthetic`: a data folder holding many generated image sets at once, for benchmarks at a
//! scale no import of DICOM files reaches in reasonable time.

use std::path::Path;

use serde_json::json;

use super::app::App;
use super::document;
use super::error::{ApiError, ApiResult};
use super::import::run_job;
use super::persist::{OpenError, Persistence};
use super::state::{
    new_id, now, AccessTime, Change, ImageSet, ImageSetState, ImageSetVersion, NewDatastore,
    NewJob, StorageTier, WorkflowStatus,
};

pub const SEED_DATASTORE: &str = "healthimaging-local-samples";
const SEED_BUCKET: &str = "healthimaging-local-samples";

#[derive(Debug, Clone)]
pub struct SeedReport {
    pub datastore_id: String,
    /// `None` when the data store already existed and nothing was imported.
    pub job_id: Option<String>,
    pub image_sets: usize,
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in walkdir::WalkDir::new(from)
        .into_iter()
        .filter_map(Result::ok)
    {
        let rel = entry
            .path()
            .strip_prefix(from)
            .map_err(std::io::Error::other)?;
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest)?;
        } else if entry.file_type().is_file() {
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}

pub fn seed(app: &App, samples: &Path) -> ApiResult<SeedReport> {
    let existing = app
        .read()
        .list_datastores(None)
        .into_iter()
        .find(|d| d.info.name == SEED_DATASTORE && d.is_live())
        .map(|d| (d.id().to_string(), d.image_sets().len()));
    if let Some((datastore_id, image_sets)) = existing {
        return Ok(SeedReport {
            image_sets,
            datastore_id,
            job_id: None,
        });
    }
    let bucket = app.s3_root.join(SEED_BUCKET).join("dicom");
    copy_tree(samples, &bucket)
        .map_err(|e| ApiError::internal(format!("cannot stage samples: {e}")))?;
    let (ds_id, job_id) = app.write(|store| {
        let id = store
            .create_datastore(
                NewDatastore {
                    name: Some(SEED_DATASTORE.into()),
                    client_token: "healthimaging-local-seed".into(),
                    kms_key_arn: None,
                    lambda_authorizer_arn: None,
                    lossless_storage_format: None,
                    tags: None,
                },
                |id| app.account.datastore_arn(id),
            )
            .id()
            .to_string();
        // The seed store is usable at once, whatever the configured transition delay.
        store.activate_now(&id)?;
        let (job, _) = store.submit_job(
            &id,
            NewJob {
                job_name: Some("seed-samples".into()),
                data_access_role_arn: format!(
                    "arn:aws:iam::{}:role/HealthImagingLocalImport",
                    app.account.account_id
                ),
                client_token: "healthimaging-local-seed".into(),
                input_s3_uri: format!("s3://{SEED_BUCKET}/dicom/"),
                output_s3_uri: format!("s3://{SEED_BUCKET}/output/"),
                input_owner_account_id: None,
                import_configuration: None,
            },
        )?;
        Ok((id, job.id))
    })?;
    run_job(app, &ds_id, &job_id)?;
    let image_sets = app
        .read()
        .datastore(&ds_id)
        .map_or(0, |d| d.image_sets().len());
    Ok(SeedReport {
        datastore_id: ds_id,
        job_id: Some(job_id),
        image_sets,
    })
}

/// What `synthetic` generates.
#[derive(Debug, Clone)]
pub struct SyntheticSpec {
    pub image_sets: usize,
    /// Image sets per patient (and per accession number).
    pub sets_per_patient: usize,
    /// Size of the one frame of each image set.
    pub frame_bytes: usize,
}

#[derive(Debug, Clone)]
pub struct SyntheticReport {
    pub datastore_id: String,
    /// `createdAt` of image set `n` is `first_created_at + n` (seconds).
    pub first_created_at: f64,
}

/// The metadata document of synthetic image set `n`, with one frame.
fn synthetic_document(
    ds: &str,
    id: &str,
    n: usize,
    per_patient: usize,
    frame: &str,
    size: usize,
) -> serde_json::Value {
    let mut doc = document::empty(ds, id);
    let patient = n / per_patient.max(1);
    let p = document::patient_mut(&mut doc);
    p.insert("PatientID".into(), json!(format!("PAT{patient:07}")));
    p.insert("PatientName".into(), json!(format!("SYNTHETIC^{patient}")));
    let study = document::study_mut(&mut doc);
    study.insert(
        "StudyInstanceUID".into(),
        json!(format!("1.2.826.0.1.3680043.10.1.{n}")),
    );
    study.insert("StudyID".into(), json!(format!("S{n}")));
    study.insert("AccessionNumber".into(), json!(format!("ACC{patient:07}")));
    study.insert(
        "StudyDate".into(),
        json!(format!("2024{:02}{:02}", 1 + n % 12, 1 + n % 28)),
    );
    study.insert("StudyTime".into(), json!(format!("{:02}0000", n % 24)));
    let series = format!("1.2.826.0.1.3680043.10.2.{n}");
    let sop = format!("1.2.826.0.1.3680043.10.3.{n}");
    document::series_map_mut(&mut doc).insert(
        series.clone(),
        json!({
            "DICOM": {"SeriesInstanceUID": series, "Modality": "CT", "SeriesNumber": "1"},
            "Instances": {sop.clone(): {
                "DICOM": {"SOPInstanceUID": sop, "SOPClassUID": "1.2.840.10008.5.1.4.1.1.2",
                          "Rows": 64, "Columns": 64, "InstanceNumber": "1"},
                "StoredTransferSyntaxUID": "1.2.840.10008.1.2.1",
                "ImageFrames": [{"ID": frame, "FrameSizeInBytes": size}],
            }},
        }),
    );
    doc
}

/// Writes a data folder (`dir`, which must not be in use) holding one ACTIVE data store of
/// synthetic image sets, each with one frame file, and saves it as one snapshot. Frame files are
/// not fsynced one by one (a fixture, not a write path); the snapshot is.
pub fn synthetic(dir: &Path, spec: &SyntheticSpec) -> Result<SyntheticReport, OpenError> {
    let io_err = |e| OpenError::Io(dir.to_path_buf(), e);
    let (p, mut store) = Persistence::open(dir)?;
    let ds = store
        .create_datastore(
            NewDatastore {
                name: Some("synthetic".into()),
                client_token: new_id(),
                ..NewDatastore::default()
            },
            |id| id.to_string(),
        )
        .id()
        .to_string();
    store
        .activate_now(&ds)
        .map_err(|e| io_err(std::io::Error::other(e.message)))?;
    let _ = store.take_changes();
    let first = (now() - spec.image_sets as f64).floor();
    let pixels = vec![0x5au8; spec.frame_bytes];
    for n in 0..spec.image_sets {
        let (id, frame) = (new_id(), new_id());
        std::fs::write(p.frame_path(&frame), &pixels).map_err(io_err)?;
        let at = first + n as f64;
        store.apply(Change::ImageSet {
            datastore: ds.clone(),
            set: ImageSet {
                id: id.clone(),
                created_at: at,
                last_accessed_at: AccessTime::default(),
                state: ImageSetState::Active,
                is_primary: true,
                storage_tier: StorageTier::FrequentAccess,
                versions: vec![ImageSetVersion {
                    version_id: 1,
                    created_at: at,
                    updated_at: at,
                    workflow_status: WorkflowStatus::Imported,
                    message: None,
                    forced: false,
                    document: synthetic_document(
                        &ds,
                        &id,
                        n,
                        spec.sets_per_patient,
                        &frame,
                        spec.frame_bytes,
                    ),
                }],
                pending: None,
            },
        });
    }
    p.snapshot(&store).map_err(io_err)?;
    Ok(SyntheticReport {
        datastore_id: ds,
        first_created_at: first,
    })
}
