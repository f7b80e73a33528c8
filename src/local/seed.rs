//! `--seed`: a data store named `healthimaging-local-samples` holding the bundled sample DICOM,
//! imported through a regular import job from `s3://healthimaging-local-samples/dicom/`.
//! Seeding is idempotent: a data store of that name that already exists is reused as is.

use std::path::Path;

use super::app::App;
use super::error::{ApiError, ApiResult};
use super::import::run_job;
use super::state::{NewDatastore, NewJob};

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
