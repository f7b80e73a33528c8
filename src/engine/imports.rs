//! Import jobs: start_dicom_import_job, get_dicom_import_job, list_dicom_import_jobs.

use aws_sdk_medicalimaging::types::{DicomImportJobProperties, DicomImportJobSummary, JobStatus};
use schemars::JsonSchema;
use serde::Serialize;

use super::convert::{Named, Timestamp};
use super::error::{from_sdk, EngineError, EngineResult};
use super::validate;
use super::{client, Page};
use crate::model::constraints::{self, Shape};

/// An import job's properties.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ImportJobDetails {
    pub job_id: String,
    pub job_name: String,
    pub job_status: Named<JobStatus>,
    pub datastore_id: String,
    pub data_access_role_arn: String,
    pub input_s3_uri: String,
    pub output_s3_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl From<&DicomImportJobProperties> for ImportJobDetails {
    fn from(p: &DicomImportJobProperties) -> Self {
        Self {
            job_id: p.job_id().into(),
            job_name: p.job_name().into(),
            job_status: Named::of(p.job_status()),
            datastore_id: p.datastore_id().into(),
            data_access_role_arn: p.data_access_role_arn().into(),
            input_s3_uri: p.input_s3_uri().into(),
            output_s3_uri: p.output_s3_uri().into(),
            submitted_at: Timestamp::opt(p.submitted_at()),
            ended_at: Timestamp::opt(p.ended_at()),
            message: p.message().map(Into::into),
        }
    }
}

/// One import job of a listing.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ImportJobItem {
    pub job_id: String,
    pub job_name: String,
    pub job_status: Named<JobStatus>,
    pub datastore_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_access_role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl From<&DicomImportJobSummary> for ImportJobItem {
    fn from(s: &DicomImportJobSummary) -> Self {
        Self {
            job_id: s.job_id().into(),
            job_name: s.job_name().into(),
            job_status: Named::of(s.job_status()),
            datastore_id: s.datastore_id().into(),
            data_access_role_arn: s.data_access_role_arn().map(Into::into),
            submitted_at: Timestamp::opt(s.submitted_at()),
            ended_at: Timestamp::opt(s.ended_at()),
            message: s.message().map(Into::into),
        }
    }
}

/// StartDICOMImportJob's answer.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ImportJobStarted {
    pub datastore_id: String,
    pub job_id: String,
    pub job_status: Named<JobStatus>,
    pub submitted_at: Timestamp,
}

/// GetDICOMImportJob's answer.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ImportJobInfo {
    pub job_properties: ImportJobDetails,
}

/// ListDICOMImportJobs' answer: one page.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ImportJobList {
    pub job_summaries: Vec<ImportJobItem>,
    /// For the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
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

pub async fn start_dicom_import_job(req: NewImportJob) -> EngineResult<ImportJobStarted> {
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
    Ok(ImportJobStarted {
        datastore_id: out.datastore_id().into(),
        job_id: out.job_id().into(),
        job_status: Named::of(out.job_status()),
        submitted_at: Timestamp::of(out.submitted_at()),
    })
}

pub async fn get_dicom_import_job(
    datastore_id: String,
    job_id: String,
) -> EngineResult<ImportJobInfo> {
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
    // A required member of the service's answer.
    let props = out
        .job_properties()
        .ok_or_else(|| EngineError::server("GetDICOMImportJob answered without job properties"))?;
    Ok(ImportJobInfo {
        job_properties: props.into(),
    })
}

pub async fn list_dicom_import_jobs(
    datastore_id: String,
    status: Option<String>,
    page: Page,
) -> EngineResult<ImportJobList> {
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
    Ok(ImportJobList {
        job_summaries: out.job_summaries().iter().map(Into::into).collect(),
        next_token: out.next_token().map(Into::into),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::convert::testing::required;
    use aws_sdk_medicalimaging::primitives::DateTime;
    use serde_json::json;

    #[test]
    fn import_outputs_keep_their_json() {
        let s = DicomImportJobSummary::builder()
            .job_id("j1")
            .job_name("n")
            .job_status(JobStatus::Completed)
            .datastore_id("d")
            .ended_at(DateTime::from_secs(1_700_000_000))
            .build()
            .unwrap();
        let list = ImportJobList {
            job_summaries: vec![(&s).into()],
            next_token: Some("t".into()),
        };
        assert_eq!(
            serde_json::to_value(&list).unwrap(),
            json!({"job_summaries": [{"job_id": "j1", "job_name": "n", "job_status": "COMPLETED",
                    "datastore_id": "d", "ended_at": "2023-11-14T22:13:20.000Z"}],
                   "next_token": "t"})
        );
    }

    #[test]
    fn import_schemas_mark_required_fields() {
        assert_eq!(
            required::<ImportJobStarted>(None),
            ["datastore_id", "job_id", "job_status", "submitted_at"]
        );
        assert_eq!(
            required::<ImportJobInfo>(Some("ImportJobDetails")),
            [
                "data_access_role_arn",
                "datastore_id",
                "input_s3_uri",
                "job_id",
                "job_name",
                "job_status",
                "output_s3_uri"
            ]
        );
        assert_eq!(
            required::<ImportJobList>(Some("ImportJobItem")),
            ["datastore_id", "job_id", "job_name", "job_status"]
        );
    }
}
