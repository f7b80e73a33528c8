//! The `api` toolset: one tool per HealthImaging API operation, with the parameter names of
//! the original server (snake_case) and the model's constraints in each input schema.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::schema::{one_of, shaped, shaped_list, tag_map, within};
use super::{Ctx, Hints, Tool, Toolset};
use super::{DESTRUCTIVE, DESTRUCTIVE_IDEMPOTENT, READ, WRITE, WRITE_IDEMPOTENT};
use crate::engine::{copy, datastores, frames, image_sets, imports, metadata, tags, Page};
use crate::model::constraints::{self, Shape};

fn api<I, O, F, Fut>(name: &'static str, description: &'static str, hints: Hints, f: F) -> Tool
where
    I: serde::de::DeserializeOwned + JsonSchema,
    O: serde::Serialize + JsonSchema,
    F: Fn(I, Ctx) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = crate::engine::EngineResult<O>> + Send + 'static,
{
    Tool::new(Toolset::Api, name, description, hints, f)
}

/// A tool answering a document too large and too free-form to type: no output schema, so MCP
/// clients get its JSON as the text block only (the MCP spec's unstructured result). A
/// structured copy would double what is serialised and sent, and clients would validate it.
fn untyped(mut tool: Tool) -> Tool {
    tool.output_schema = None;
    tool
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDatastore {
    #[schemars(transform = shaped(Shape::DatastoreName))]
    pub datastore_name: String,
    /// Customer-managed KMS key (default: an AWS-owned key).
    #[schemars(transform = shaped(Shape::KmsKeyArn))]
    pub kms_key_arn: Option<String>,
    #[schemars(transform = tag_map)]
    pub tags: Option<HashMap<String, String>>,
    /// Default HTJ2K.
    #[schemars(transform = one_of(constraints::LOSSLESS_STORAGE_FORMAT))]
    pub lossless_storage_format: Option<String>,
    /// Lambda authorizing DICOMweb OIDC requests.
    #[schemars(transform = shaped(Shape::LambdaArn))]
    pub lambda_authorizer_arn: Option<String>,
    /// Idempotency token: a retry with the same token is safe.
    #[schemars(transform = shaped(Shape::ClientToken))]
    pub client_token: Option<String>,
}

/// A data store, by ID.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DatastoreRef {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListDatastores {
    #[schemars(transform = one_of(constraints::DATASTORE_STATUS))]
    pub datastore_status: Option<String>,
    #[schemars(transform = within(constraints::MAX_RESULTS))]
    pub max_results: Option<i64>,
    /// From the previous page.
    #[schemars(transform = shaped(Shape::NextToken))]
    pub next_token: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartImportJob {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    /// IAM role HealthImaging assumes to read the input and write the output.
    #[schemars(transform = shaped(Shape::RoleArn))]
    pub data_access_role_arn: String,
    /// s3://bucket/prefix/ holding the DICOM Part-10 files.
    #[schemars(transform = shaped(Shape::S3Uri))]
    pub input_s3_uri: String,
    #[schemars(transform = shaped(Shape::JobName))]
    pub job_name: Option<String>,
    #[schemars(transform = shaped(Shape::ClientToken))]
    pub client_token: Option<String>,
    /// Required by the API: where the job writes its manifest and SUCCESS/FAILURE reports.
    #[schemars(transform = shaped(Shape::S3Uri))]
    pub output_s3_uri: Option<String>,
    /// Account owning the input bucket.
    #[schemars(transform = shaped(Shape::AwsAccountId))]
    pub input_owner_account_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportJobRef {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::JobId))]
    pub job_id: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListImportJobs {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = one_of(constraints::JOB_STATUS))]
    pub job_status: Option<String>,
    #[schemars(transform = shaped(Shape::NextToken))]
    pub next_token: Option<String>,
    #[schemars(transform = within(constraints::MAX_RESULTS))]
    pub max_results: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchImageSets {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    /// The API's SearchCriteria: {"filters": [{"operator": "EQUAL"|"BETWEEN", "values":
    /// [{"DICOMPatientId": "..."}]}] (1 or 2 filters, ANDed), "sort": {"sortField":
    /// "updatedAt"|"createdAt"|"DICOMStudyDateAndTime", "sortOrder": "ASC"|"DESC"}}.
    /// EQUAL: DICOMPatientId, DICOMAccessionNumber, DICOMStudyId, DICOMStudyInstanceUID,
    /// DICOMSeriesInstanceUID, isPrimary. BETWEEN [low, high]: createdAt, updatedAt (epoch
    /// seconds or ISO-8601), DICOMStudyDateAndTime ({"DICOMStudyDate": "YYYYMMDD" or
    /// "YYYY-MM-DD"}).
    pub search_criteria: Option<Map<String, Value>>,
    #[schemars(transform = shaped(Shape::NextToken))]
    pub next_token: Option<String>,
    #[schemars(transform = within(constraints::MAX_RESULTS))]
    pub max_results: Option<i64>,
}

/// One image set, optionally one version of it.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageSetRef {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub image_set_id: String,
    /// Default: the latest version.
    #[schemars(transform = shaped(Shape::VersionId))]
    pub version_id: Option<String>,
}

/// An image set's metadata, whole or in part.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetMetadata {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub image_set_id: String,
    /// Default: the latest version.
    #[schemars(transform = shaped(Shape::VersionId))]
    pub version_id: Option<String>,
    /// Only this series.
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub series_instance_uid: Option<String>,
    /// Only this instance (and its series).
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub sop_instance_uid: Option<String>,
    /// false: each series' Instances map is replaced by InstanceCount and FrameCount.
    /// Default true.
    pub include_instances: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListVersions {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub image_set_id: String,
    #[schemars(transform = shaped(Shape::NextToken))]
    pub next_token: Option<String>,
    #[schemars(transform = within(constraints::MAX_RESULTS))]
    pub max_results: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMetadata {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub image_set_id: String,
    /// The image set's current version (else conflict_error: read it again).
    #[schemars(transform = shaped(Shape::VersionId))]
    pub latest_version_id: String,
    /// {"DICOMUpdates": {"updatableAttributes": DOC, "removableAttributes": DOC}}, DOC shaped
    /// like the metadata, e.g. {"SchemaVersion": "1.1", "Patient": {"DICOM": {"PatientName":
    /// "DOE^JOHN"}}}; an empty object for a series or instance under removableAttributes
    /// removes it. Or {"revertToVersionId": "1"}.
    pub update_image_set_metadata_updates: Map<String, Value>,
    /// Allow updates DICOM rules otherwise refuse (UIDs, ...).
    pub force: Option<bool>,
    /// Apply the same update to the study's other primary image sets.
    pub include_study_image_sets: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteImageSet {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub image_set_id: String,
    /// Refused: DeleteImageSet deletes every version.
    pub version_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyImageSet {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub source_image_set_id: String,
    /// {"sourceImageSet": {"latestVersionId": "1", "DICOMCopies"?: {"copiableAttributes":
    /// {"SchemaVersion": "1.1", "Study": {"Series": {SERIES_UID: {"Instances": {SOP_UID:
    /// {}}}}}}}}, "destinationImageSet"?: {"imageSetId": "...", "latestVersionId": "1"}}.
    pub copy_image_set_information: Map<String, Value>,
    /// Must equal datastore_id: copies never cross data stores.
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub source_datastore_id: Option<String>,
    /// Copy even if Patient/Study/Series metadata disagree.
    pub force: Option<bool>,
    /// Make the copy part of the primary hierarchy.
    pub promote_to_primary: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetImageFrame {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub image_set_id: String,
    /// {"imageFrameId": ID}, the ID from the metadata's ImageFrames.
    pub image_frame_information: HashMap<String, String>,
}

/// A data store or image set, by ARN.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceRef {
    #[schemars(transform = shaped(Shape::ResourceArn))]
    pub resource_arn: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagResource {
    #[schemars(transform = shaped(Shape::ResourceArn))]
    pub resource_arn: String,
    #[schemars(transform = tag_map)]
    pub tags: HashMap<String, String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UntagResource {
    #[schemars(transform = shaped(Shape::ResourceArn))]
    pub resource_arn: String,
    #[schemars(transform = shaped_list(Shape::TagKey, constraints::TAG_KEYS))]
    pub tag_keys: Vec<String>,
}

fn page(max_results: Option<i64>, next_token: Option<String>) -> Page {
    Page {
        max_results,
        next_token,
    }
}

pub fn tools() -> Vec<Tool> {
    vec![
        api(
            "create_datastore",
            "Create a data store (CreateDatastore); returns its ID and status CREATING: poll get_datastore until ACTIVE.",
            WRITE,
            |i: CreateDatastore, _| {
                datastores::create_datastore(datastores::NewDatastore {
                    datastore_name: i.datastore_name,
                    kms_key_arn: i.kms_key_arn,
                    tags: i.tags,
                    lossless_storage_format: i.lossless_storage_format,
                    lambda_authorizer_arn: i.lambda_authorizer_arn,
                    client_token: i.client_token,
                })
            },
        ),
        api(
            "delete_datastore",
            "Delete a data store (DeleteDatastore); refused while it holds image sets. Returns status DELETING.",
            DESTRUCTIVE_IDEMPOTENT,
            |i: DatastoreRef, _| datastores::delete_datastore(i.datastore_id),
        ),
        api(
            "get_datastore",
            "A data store's properties: name, status, ARN, KMS key, storage format, dates.",
            READ,
            |i: DatastoreRef, _| datastores::get_datastore(i.datastore_id),
        ),
        api(
            "list_datastores",
            "List data stores, one page at a time (follow next_token).",
            READ,
            |i: ListDatastores, _| {
                datastores::list_datastores(i.datastore_status, page(i.max_results, i.next_token))
            },
        ),
        api(
            "start_dicom_import_job",
            "Import DICOM Part-10 files from S3 into a data store (StartDICOMImportJob); output_s3_uri is required. Poll get_dicom_import_job until COMPLETED or FAILED.",
            WRITE,
            |i: StartImportJob, _| {
                imports::start_dicom_import_job(imports::NewImportJob {
                    datastore_id: i.datastore_id,
                    data_access_role_arn: i.data_access_role_arn,
                    input_s3_uri: i.input_s3_uri,
                    output_s3_uri: i.output_s3_uri,
                    job_name: i.job_name,
                    client_token: i.client_token,
                    input_owner_account_id: i.input_owner_account_id,
                })
            },
        ),
        api(
            "get_dicom_import_job",
            "An import job: status, URIs, dates, failure message. Per-file outcomes are in the reports under its output_s3_uri.",
            READ,
            |i: ImportJobRef, _| imports::get_dicom_import_job(i.datastore_id, i.job_id),
        ),
        api(
            "list_dicom_import_jobs",
            "A data store's import jobs, one page at a time.",
            READ,
            |i: ListImportJobs, _| {
                imports::list_dicom_import_jobs(
                    i.datastore_id,
                    i.job_status,
                    page(i.max_results, i.next_token),
                )
            },
        ),
        api(
            "search_image_sets",
            "Search image sets (SearchImageSets), one page at a time; each result carries DICOM tags, version and is_primary. For a patient, study or series prefer the workflow tools (all pages, compact).",
            READ,
            |i: SearchImageSets, _| {
                image_sets::search_image_sets(
                    i.datastore_id,
                    i.search_criteria.map(Value::Object),
                    page(i.max_results, i.next_token),
                )
            },
        ),
        api(
            "get_image_set",
            "An image set's properties (latest version or version_id): state, workflow status, is_primary, ARN, dates.",
            READ,
            |i: ImageSetRef, _| image_sets::get_image_set(i.datastore_id, i.image_set_id, i.version_id),
        ),
        untyped(api(
            "get_image_set_metadata",
            "An image set's metadata as JSON: Patient, Study, Series, Instances (DICOM attributes by keyword) and each instance's ImageFrames IDs. Large studies: narrow it with series_instance_uid or sop_instance_uid, or include_instances=false for counts only.",
            READ,
            |i: GetMetadata, _| {
                metadata::get_image_set_metadata_part(
                    i.datastore_id,
                    i.image_set_id,
                    i.version_id,
                    metadata::MetadataPart {
                        series_instance_uid: i.series_instance_uid,
                        sop_instance_uid: i.sop_instance_uid,
                        include_instances: i.include_instances,
                    },
                )
            },
        )),
        api(
            "list_image_set_versions",
            "An image set's versions, newest first, one page at a time.",
            READ,
            |i: ListVersions, _| {
                image_sets::list_image_set_versions(
                    i.datastore_id,
                    i.image_set_id,
                    page(i.max_results, i.next_token),
                )
            },
        ),
        api(
            "update_image_set_metadata",
            "Update an image set's metadata (UpdateImageSetMetadata), creating a new version.",
            DESTRUCTIVE,
            |i: UpdateMetadata, _| {
                metadata::update_image_set_metadata(metadata::MetadataUpdate {
                    datastore_id: i.datastore_id,
                    image_set_id: i.image_set_id,
                    latest_version_id: i.latest_version_id,
                    updates: Value::Object(i.update_image_set_metadata_updates),
                    force: i.force,
                    include_study_image_sets: i.include_study_image_sets,
                })
            },
        ),
        api(
            "delete_image_set",
            "Delete an image set with all its versions (DeleteImageSet).",
            DESTRUCTIVE_IDEMPOTENT,
            |i: DeleteImageSet, _| {
                image_sets::delete_image_set(i.datastore_id, i.image_set_id, i.version_id)
            },
        ),
        api(
            "copy_image_set",
            "Copy an image set, or chosen series/instances, into a new or an existing image set of the same data store (CopyImageSet).",
            WRITE,
            |i: CopyImageSet, _| {
                copy::copy_image_set(copy::CopyRequest {
                    datastore_id: i.datastore_id,
                    source_image_set_id: i.source_image_set_id,
                    copy_image_set_information: Value::Object(i.copy_image_set_information),
                    source_datastore_id: i.source_datastore_id,
                    force: i.force,
                    promote_to_primary: i.promote_to_primary,
                })
            },
        ),
        api(
            "get_image_frame",
            "One image frame's stored pixel data (base64 image_frame_blob) and content type (image/jph for HTJ2K, ...).",
            READ,
            |i: GetImageFrame, _| {
                let info = Value::Object(
                    i.image_frame_information
                        .into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect(),
                );
                frames::get_image_frame(i.datastore_id, i.image_set_id, info)
            },
        ),
        api(
            "list_tags_for_resource",
            "The tags of a data store or image set.",
            READ,
            |i: ResourceRef, _| tags::list_tags_for_resource(i.resource_arn),
        ),
        api(
            "tag_resource",
            "Add or overwrite tags on a data store or image set.",
            WRITE_IDEMPOTENT,
            |i: TagResource, _| tags::tag_resource(i.resource_arn, i.tags),
        ),
        api(
            "untag_resource",
            "Remove tags, by key, from a data store or image set.",
            DESTRUCTIVE_IDEMPOTENT,
            |i: UntagResource, _| tags::untag_resource(i.resource_arn, i.tag_keys),
        ),
    ]
}
