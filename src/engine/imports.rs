//! Import jobs: start_dicom_import_job, get_dicom_import_job, list_dicom_import_jobs.

use aws_sdk_medicalimaging::types::{DicomImportJobProperties, DicomImportJobSummary, JobStatus};
use serde_json::{json, Value};

use super::convert::Obj;
use super::error::{from_sdk, EngineResult};
use super::validate;
use super::{client, Page};
use crate::model::constraints::{self, Shape};

fn properties(p: &DicomImportJobProperties) -> Value {
    Obj::new()
        .put("job_id", p.job_id())
        .put("job_name", p.job_name())
        .put("job_status", p.job_status().as_str())
        .put("datastore_id", p.datastore_id())
        .put("data_access_role_arn", p.data_access_role_arn())
        .put("input_s3_uri", p.input_s3_uri())
        .put("output_s3_uri", p.output_s3_uri())
        .time("submitted_at", p.submitted_at())
        .time("ended_at", p.ended_at())
        .opt("message", p.message())
        .done()
}

fn summary(s: &DicomImportJobSummary) -> Value {
    Obj::new()
        .put("job_id", s.job_id())
        .put("job_name", s.job_name())
        .put("job_status", s.job_status().as_str())
        .put("datastore_id", s.datastore_id())
        .opt("data_access_role_arn", s.data_access_role_arn())
        .time("submitted_at", s.submitted_at())
        .time("ended_at", s.ended_at())
        .opt("message", s.message())
        .done()
}

pub struct NewImportJob {
    pub datastore_id: String,
    pub data_access_role_arn: String,
    pub input_s3_uri: String,
    pub output_s3_uri: Option<String>,
    pub job_name: Option<String>,
    pub client_token: Option<String>,
    pub input_owner_account_id: Option<String>,
}

pub async fn start_dicom_import_job(req: NewImportJob) -> EngineResult<Value> {
    validate::id("datastore_id", &req.datastore_id)?;
    validate::shape(
        "data_access_role_arn",
        &req.data_access_role_arn,
        Shape::RoleArn,
    )?;
    validate::shape("input_s3_uri", &req.input_s3_uri, Shape::S3Uri)?;
    let output = validate::required(
        "output_s3_uri",
        req.output_s3_uri,
        "by StartDICOMImportJob: the S3 prefix where HealthImaging writes the job's manifest and SUCCESS/FAILURE reports",
    )?;
    validate::shape("output_s3_uri", &output, Shape::S3Uri)?;
    validate::opt_shape("job_name", req.job_name.as_deref(), Shape::JobName)?;
    validate::opt_shape(
        "client_token",
        req.client_token.as_deref(),
        Shape::ClientToken,
    )?;
    validate::opt_shape(
        "input_owner_account_id",
        req.input_owner_account_id.as_deref(),
        Shape::AwsAccountId,
    )?;
    let out = client()
        .await
        .start_dicom_import_job()
        .datastore_id(&req.datastore_id)
        .data_access_role_arn(&req.data_access_role_arn)
        .input_s3_uri(&req.input_s3_uri)
        .output_s3_uri(output)
        .set_job_name(req.job_name)
        .set_client_token(req.client_token)
        .set_input_owner_account_id(req.input_owner_account_id)
        .send()
        .await
        .map_err(|e| from_sdk("StartDICOMImportJob", e))?;
    Ok(Obj::new()
        .put("datastore_id", out.datastore_id())
        .put("job_id", out.job_id())
        .put("job_status", out.job_status().as_str())
        .time("submitted_at", Some(out.submitted_at()))
        .done())
}

pub async fn get_dicom_import_job(datastore_id: String, job_id: String) -> EngineResult<Value> {
    validate::id("datastore_id", &datastore_id)?;
    validate::shape("job_id", &job_id, Shape::JobId)?;
    let out = client()
        .await
        .get_dicom_import_job()
        .datastore_id(&datastore_id)
        .job_id(&job_id)
        .send()
        .await
        .map_err(|e| from_sdk("GetDICOMImportJob", e))?;
    Ok(json!({"job_properties": out.job_properties().map(properties)}))
}

pub async fn list_dicom_import_jobs(
    datastore_id: String,
    status: Option<String>,
    page: Page,
) -> EngineResult<Value> {
    validate::id("datastore_id", &datastore_id)?;
    validate::one_of("job_status", status.as_deref(), constraints::JOB_STATUS)?;
    let max = page.check()?;
    let out = client()
        .await
        .list_dicom_import_jobs()
        .datastore_id(&datastore_id)
        .set_job_status(status.as_deref().map(JobStatus::from))
        .set_max_results(max)
        .set_next_token(page.next_token)
        .send()
        .await
        .map_err(|e| from_sdk("ListDICOMImportJobs", e))?;
    Ok(Obj::new()
        .put(
            "job_summaries",
            out.job_summaries().iter().map(summary).collect::<Vec<_>>(),
        )
        .opt("next_token", out.next_token())
        .done())
}
