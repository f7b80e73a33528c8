//! Import job records: SUBMITTED → IN_PROGRESS → COMPLETED | FAILED. The work itself is done by
//! `local::import`; this file only keeps the records and their rules.

use serde_json::Value;

use super::{new_id, now, DatastoreStatus, ImportJob, JobStatus, Store};
use crate::local::error::{ApiError, ApiResult};

pub struct NewJob {
    pub job_name: Option<String>,
    pub data_access_role_arn: String,
    pub client_token: String,
    pub input_s3_uri: String,
    pub output_s3_uri: String,
    pub input_owner_account_id: Option<String>,
    pub import_configuration: Option<Value>,
}

/// How a job ended.
pub enum JobOutcome {
    Completed,
    Failed(String),
}

impl Store {
    /// Records a new job. Returns the job and whether it is new (an idempotent retry with the
    /// same client token returns the existing job, which must not be started twice).
    pub fn submit_job(&mut self, datastore_id: &str, req: NewJob) -> ApiResult<(ImportJob, bool)> {
        let ds = self.live_datastore_mut(datastore_id)?;
        if let Some(job) = ds
            .jobs
            .values()
            .find(|j| j.client_token == req.client_token)
        {
            return Ok((job.clone(), false));
        }
        if ds.info.status != DatastoreStatus::Active {
            return Err(ApiError::conflict(format!(
                "Datastore {datastore_id} is {}; imports need an ACTIVE datastore",
                ds.info.status
            )));
        }
        let id = new_id();
        let job = ImportJob {
            name: req
                .job_name
                .unwrap_or_else(|| format!("import-{}", &id[..8])),
            id: id.clone(),
            status: JobStatus::Submitted,
            datastore_id: datastore_id.to_string(),
            data_access_role_arn: req.data_access_role_arn,
            input_s3_uri: req.input_s3_uri,
            output_s3_uri: req.output_s3_uri,
            input_owner_account_id: req.input_owner_account_id,
            import_configuration: req.import_configuration,
            client_token: req.client_token,
            submitted_at: now(),
            ended_at: None,
            message: None,
        };
        ds.touched_jobs.insert(id.clone());
        ds.jobs.insert(id, job.clone());
        Ok((job, true))
    }

    pub fn job(&self, datastore_id: &str, job_id: &str) -> ApiResult<&ImportJob> {
        self.datastore(datastore_id)?
            .jobs
            .get(job_id)
            .ok_or_else(|| ApiError::not_found(format!("Import job {job_id} does not exist")))
    }

    /// Jobs of a data store, newest first, optionally filtered by status.
    pub fn list_jobs(
        &self,
        datastore_id: &str,
        status: Option<JobStatus>,
    ) -> ApiResult<Vec<&ImportJob>> {
        let ds = self.datastore(datastore_id)?;
        let mut jobs: Vec<&ImportJob> = ds
            .jobs
            .values()
            .filter(|j| status.is_none_or(|s| j.status == s))
            .collect();
        jobs.sort_by(|a, b| {
            b.submitted_at
                .total_cmp(&a.submitted_at)
                .then(a.id.cmp(&b.id))
        });
        Ok(jobs)
    }

    fn job_mut(&mut self, datastore_id: &str, job_id: &str) -> Option<&mut ImportJob> {
        let ds = self.datastores.get_mut(datastore_id)?;
        let job = ds.jobs.get_mut(job_id)?;
        ds.touched_jobs.insert(job_id.to_string());
        Some(job)
    }

    pub fn mark_job_running(&mut self, datastore_id: &str, job_id: &str) {
        if let Some(job) = self.job_mut(datastore_id, job_id) {
            job.status = JobStatus::InProgress;
        }
    }

    pub fn finish_job(&mut self, datastore_id: &str, job_id: &str, outcome: JobOutcome) {
        if let Some(job) = self.job_mut(datastore_id, job_id) {
            job.ended_at = Some(now());
            match outcome {
                JobOutcome::Completed => job.status = JobStatus::Completed,
                JobOutcome::Failed(message) => {
                    job.status = JobStatus::Failed;
                    job.message = Some(message);
                }
            }
        }
    }
}
