//! The `export` toolset: the original's start_dicom_export_job, get_dicom_export_job and
//! list_dicom_export_jobs, as jobs of this server (`crate::export`): a start is checked,
//! answered at once, and the export runs in the job runtime.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::dicomweb::TransferSyntax;
use super::schema::{one_of, shaped, within};
use super::{Ctx, Hints, Tool, Toolset, READ, WRITE};
use crate::engine::{validate, EngineError, EngineResult, ErrorType};
use crate::export::request::{self, Asked, Destination, ExportRequest, Syntax};
use crate::export::run::MANIFEST;
use crate::export::{run_job, KIND};
use crate::jobs::runtime::ListFilter;
use crate::jobs::{runtime, JobItem, JobProgress, JobRecord, JobStatus, NewJob};
use crate::model::constraints::Shape;

fn tool<I, O, F, Fut>(name: &'static str, description: &'static str, hints: Hints, f: F) -> Tool
where
    I: serde::de::DeserializeOwned + JsonSchema,
    O: serde::Serialize + JsonSchema,
    F: Fn(I, Ctx) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = EngineResult<O>> + Send + 'static,
{
    Tool::new(Toolset::Export, name, description, hints, f)
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartExport {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    /// IAM role assumed (through STS) to write to an s3:// destination; not used for file://
    /// destinations, which this server writes with its own permissions.
    #[schemars(transform = shaped(Shape::RoleArn))]
    pub data_access_role_arn: String,
    /// s3://bucket/prefix/ or file:///path/to/folder (inside the allowed file roots). Files land
    /// at <prefix>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm, with
    /// manifest.jsonl and summary.json at <prefix>/.
    #[schemars(length(min = 6, max = 1024))]
    pub output_s3_uri: String,
    #[schemars(transform = shaped(Shape::JobName))]
    pub job_name: Option<String>,
    /// Makes the start idempotent: the same token and request answer the same job.
    #[schemars(transform = shaped(Shape::ClientToken))]
    pub client_token: Option<String>,
    /// Export this study.
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub study_instance_uid: Option<String>,
    /// Export this series.
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub series_instance_uid: Option<String>,
    /// Export this one instance (found through the image sets' metadata; faster with its
    /// study_instance_uid or series_instance_uid).
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub sop_instance_uid: Option<String>,
    /// Only image sets created at or before this ISO-8601 date-time.
    pub submitted_before: Option<String>,
    /// Only image sets created at or after this ISO-8601 date-time.
    pub submitted_after: Option<String>,
    /// `stored` (default: as HealthImaging keeps it) or `explicit_vr_little_endian`
    /// (uncompressed, for tools that cannot read HTJ2K).
    pub transfer_syntax: Option<TransferSyntax>,
    /// Also export non-primary image sets (default false: primary image sets only).
    pub include_non_primary: Option<bool>,
    /// De-identify with the DICOM PS3.15 Basic Application Level Confidentiality Profile ({}
    /// for the profile alone, or its options); UIDs are remapped consistently across the job
    /// (and the file layout uses the new UIDs); instances with burned-in annotation are
    /// flagged, not exported. Pixel data and geometry are kept.
    pub deidentify: Option<crate::deid::Options>,
    /// Only with deidentify: where to write the identity map (original -> new UIDs), e.g.
    /// s3://keys-bucket/job-1/identity.json or file:///secure/identity.json; never inside
    /// output_s3_uri.
    #[schemars(length(min = 6, max = 1024))]
    pub identity_map_uri: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportJobRef {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::JobId))]
    pub job_id: String,
}

const STATUSES: &[&str] = &[
    "SUBMITTED",
    "IN_PROGRESS",
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "INTERRUPTED",
];

/// Most jobs per page.
const MAX_PAGE: i64 = 50;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListExportJobs {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = one_of(STATUSES))]
    pub job_status: Option<String>,
    /// From the previous page's answer.
    #[schemars(transform = shaped(Shape::NextToken))]
    pub next_token: Option<String>,
    /// Jobs per page (default and most 50).
    #[schemars(transform = within(1..=MAX_PAGE))]
    pub max_results: Option<i64>,
}

/// An export job: where it is, what it did, where its files and manifest are.
#[derive(Serialize, JsonSchema)]
pub struct ExportJob {
    pub job_id: String,
    pub job_status: JobStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    pub datastore_id: String,
    /// Where the files are written.
    pub output_uri: String,
    /// One JSON line per instance (source image set and version, destination, size, SHA-256,
    /// outcome, reason), written when the job ends.
    pub manifest_uri: String,
    pub submitted_at: String,
    pub updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// Instances with an outcome, of the total selected (once known).
    pub progress: JobProgress,
    /// Instances per outcome: done, failed, not_attempted.
    pub counts: BTreeMap<String, u64>,
    /// Why the job failed or was cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Failed instances with the reason (the first 100; all are in the manifest).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_items: Vec<JobItem>,
}

const MAX_FAILED_SHOWN: usize = 100;

fn destination_of(r: &JobRecord) -> Option<Destination> {
    serde_json::from_value::<ExportRequest>(r.request.clone())
        .ok()
        .map(|q| q.destination)
}

fn shown(r: JobRecord, with_failures: bool) -> ExportJob {
    let dest = destination_of(&r);
    let uri = |rel: &str| dest.as_ref().map(|d| d.uri_of(rel)).unwrap_or_default();
    let failed_items = if with_failures {
        r.items
            .iter()
            .filter(|i| i.outcome == crate::export::run::FAILED)
            .take(MAX_FAILED_SHOWN)
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    ExportJob {
        output_uri: uri(""),
        manifest_uri: uri(MANIFEST),
        job_id: r.job_id,
        job_status: r.status,
        job_name: r.job_name,
        datastore_id: r.datastore_id,
        submitted_at: r.submitted_at,
        updated_at: r.updated_at,
        ended_at: r.ended_at,
        progress: r.progress,
        counts: r.counts,
        message: r.message,
        failed_items,
    }
}

#[derive(Serialize, JsonSchema)]
pub struct ExportJobList {
    pub jobs: Vec<ExportJob>,
    /// For the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

async fn start(i: StartExport, _: Ctx) -> EngineResult<ExportJob> {
    let syntax = match i.transfer_syntax.unwrap_or_default() {
        TransferSyntax::Stored => Syntax::Stored,
        TransferSyntax::ExplicitVrLittleEndian => Syntax::ExplicitVrLittleEndian,
    };
    let req = request::check(Asked {
        datastore_id: i.datastore_id,
        data_access_role_arn: i.data_access_role_arn,
        output_s3_uri: i.output_s3_uri,
        study_instance_uid: i.study_instance_uid,
        series_instance_uid: i.series_instance_uid,
        sop_instance_uid: i.sop_instance_uid,
        submitted_before: i.submitted_before,
        submitted_after: i.submitted_after,
        syntax,
        include_non_primary: i.include_non_primary.unwrap_or(false),
        deidentify: i.deidentify,
        identity_map_uri: i.identity_map_uri,
    })?;
    // Refused now rather than as a failed job: folders must be inside the roots.
    let map_folder = req.identity_map.as_ref().map(|(folder, _)| folder);
    for dest in std::iter::once(&req.destination).chain(map_folder) {
        if let Destination::File { path } = dest {
            crate::files::Roots::from_env()?.folder_for_writing(path)?;
        }
    }
    let new = NewJob {
        kind: KIND.into(),
        datastore_id: req.datastore_id.clone(),
        job_name: i.job_name,
        client_token: i.client_token,
        request: serde_json::to_value(&req).expect("the request serializes"),
    };
    let record = runtime().start(new, run_job())?;
    Ok(shown(record, false))
}

fn not_found(job_id: &str) -> EngineError {
    EngineError::new(
        ErrorType::NotFound,
        format!(
            "Export job {} does not exist in this data store",
            crate::engine::error::excerpt(job_id)
        ),
    )
}

async fn get(i: ExportJobRef, _: Ctx) -> EngineResult<ExportJob> {
    validate::shape("datastore_id", &i.datastore_id, Shape::ResourceId)?;
    validate::shape("job_id", &i.job_id, Shape::JobId)?;
    let r = runtime().get(&i.job_id).map_err(|_| not_found(&i.job_id))?;
    if r.kind != KIND || r.datastore_id != i.datastore_id {
        return Err(not_found(&i.job_id));
    }
    Ok(shown(r, true))
}

async fn list(i: ListExportJobs, _: Ctx) -> EngineResult<ExportJobList> {
    validate::shape("datastore_id", &i.datastore_id, Shape::ResourceId)?;
    let page = runtime().list(&ListFilter {
        status: i.job_status.as_deref().and_then(JobStatus::parse),
        kind: Some(KIND.into()),
        datastore_id: Some(i.datastore_id),
        next_token: i.next_token,
        max_results: Some(i.max_results.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE) as usize),
    })?;
    Ok(ExportJobList {
        jobs: page.jobs.into_iter().map(|r| shown(r, false)).collect(),
        next_token: page.next_token,
    })
}

pub fn tools() -> Vec<Tool> {
    vec![
        tool(
            "start_dicom_export_job",
            "Export a study, a series, one instance or the image sets created in a window as DICOM Part-10 files to s3://bucket/prefix/ or file:///folder (<prefix>/<study>/<series>/<sop>.dcm, with manifest.jsonl and summary.json). Answers at once with the job; follow it with get_dicom_export_job.",
            WRITE,
            start,
        ),
        tool(
            "get_dicom_export_job",
            "An export job: status, progress, counts per outcome, failed instances with reasons, output and manifest URIs.",
            READ,
            get,
        ),
        tool(
            "list_dicom_export_jobs",
            "A data store's export jobs, newest first, filtered by job_status, one page at a time.",
            READ,
            list,
        ),
    ]
}
