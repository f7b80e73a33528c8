//! The operations' inputs as typed requests. Each is read from its path parameters, query string
//! and JSON body (member names as in the service model; unknown members are ignored, as AWS's
//! rest-json services ignore them) and checked against the model's constraints (`validate`), so
//! a handler receives only well-formed values. A member of the wrong JSON type is a
//! SerializationException naming it; a missing or invalid one is a ValidationException.

use std::collections::BTreeMap;
use std::fmt;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::de::{DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::{ApiError, ApiResult, ErrorKind};
use super::pagination;
use super::protocol::{json_body, Params};
use super::state::{CopyRequest, DatastoreStatus, JobStatus, MetadataUpdate, NewDatastore, NewJob};
use super::validate;
use crate::model::constraints;

/// What a request carries before it is read as an operation's input.
pub struct Raw {
    path: Vec<(String, String)>,
    query: Params,
    body: Bytes,
}

impl Raw {
    fn path(&self, name: &str) -> &str {
        self.path
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// The JSON body (`{}` when empty) as the operation's body shape.
    fn body<T: DeserializeOwned>(&self) -> ApiResult<T> {
        let object = Value::Object(json_body(&self.body)?);
        serde_path_to_error::deserialize(object).map_err(|e| wrong_type(&e))
    }
}

/// A member of the wrong JSON type: SerializationException naming the member and what it needs.
fn wrong_type(e: &serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = e.inner().to_string();
    // serde words a type mismatch "invalid type: <found>, expected <wanted>".
    let message = match inner.rsplit_once(", expected ") {
        Some((_, wanted)) => format!("{} must be {wanted}", e.path()),
        None => format!("{}: {inner}", e.path()),
    };
    ApiError::new(ErrorKind::Serialization, message)
}

/// An operation's input, read from a request.
pub trait Operation: Sized {
    fn read(raw: &Raw) -> ApiResult<Self>;
}

/// Extracts a valid `T`; a request that is not one is answered with the error.
pub struct Input<T>(pub T);

impl<S: Send + Sync, T: Operation> FromRequest<S> for Input<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let path = RawPathParams::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?
            .iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let query = Params::parse(parts.uri.query());
        // The front door has already read the body (within its limit).
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        T::read(&Raw { path, query, body })
            .map(Input)
            .map_err(IntoResponse::into_response)
    }
}

/// Checks an optional string member when it is given.
fn each(value: &Option<String>, check: impl Fn(&str) -> ApiResult<()>) -> ApiResult<()> {
    value.as_deref().map_or(Ok(()), check)
}

/// An enum query parameter, checked against the model's values.
fn status_param<S: std::str::FromStr>(
    query: &Params,
    member: &str,
    allowed: &[&str],
) -> ApiResult<Option<S>> {
    let Some(raw) = query.get(member) else {
        return Ok(None);
    };
    validate::enum_value(member, raw, allowed)?;
    Ok(raw.parse().ok())
}

/// A version ID query parameter (`key` on the wire, `member` in the model's messages).
fn version_param(query: &Params, key: &str, member: &str) -> ApiResult<Option<String>> {
    let version = query.get(key).map(str::to_owned);
    each(&version, |v| validate::version_id(member, v))?;
    Ok(version)
}

// ---- path parameters and paging --------------------------------------------------------------

/// A data store named by the path.
pub struct DatastoreRef(pub String);

impl Operation for DatastoreRef {
    fn read(raw: &Raw) -> ApiResult<Self> {
        let id = raw.path("datastoreId");
        validate::resource_id("datastoreId", id)?;
        Ok(Self(id.to_owned()))
    }
}

/// An image set named by the path.
pub struct ImageSetRef {
    pub datastore_id: String,
    pub image_set_id: String,
}

impl ImageSetRef {
    /// (data store ID, image set ID).
    pub fn pair(&self) -> (&str, &str) {
        (&self.datastore_id, &self.image_set_id)
    }
}

impl Operation for ImageSetRef {
    fn read(raw: &Raw) -> ApiResult<Self> {
        let DatastoreRef(datastore_id) = DatastoreRef::read(raw)?;
        let image_set_id = raw.path("imageSetId");
        validate::resource_id("imageSetId", image_set_id)?;
        Ok(Self {
            datastore_id,
            image_set_id: image_set_id.to_owned(),
        })
    }
}

/// A resource ARN named by the path (the tagging operations).
pub struct ResourceArn(pub String);

impl Operation for ResourceArn {
    fn read(raw: &Raw) -> ApiResult<Self> {
        let arn = raw.path("resourceArn");
        validate::resource_arn(arn)?;
        Ok(Self(arn.to_owned()))
    }
}

/// `maxResults` and `nextToken` of a list or search.
pub struct Page {
    max_results: Option<usize>,
    next_token: Option<String>,
}

impl Page {
    fn read(query: &Params) -> ApiResult<Self> {
        Ok(Self {
            max_results: validate::max_results(query.get("maxResults"))?,
            next_token: query.get("nextToken").map(str::to_owned),
        })
    }

    /// This page of `items` and the next token; `query` names the request the token is bound to.
    pub fn of<T: Clone>(&self, items: &[T], query: &str) -> ApiResult<(Vec<T>, Option<String>)> {
        pagination::page(items, self.max_results, self.next_token.as_deref(), query)
    }
}

// ---- data stores --------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateDatastoreBody {
    datastore_name: Option<String>,
    client_token: Option<String>,
    kms_key_arn: Option<String>,
    lambda_authorizer_arn: Option<String>,
    lossless_storage_format: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

/// CreateDatastore.
impl Operation for NewDatastore {
    fn read(raw: &Raw) -> ApiResult<Self> {
        let b: CreateDatastoreBody = raw.body()?;
        each(&b.datastore_name, validate::datastore_name)?;
        let client_token = validate::required("clientToken", b.client_token)?;
        validate::client_token(&client_token)?;
        each(&b.kms_key_arn, validate::kms_key_arn)?;
        each(&b.lambda_authorizer_arn, validate::lambda_arn)?;
        each(&b.lossless_storage_format, |f| {
            validate::enum_value(
                "losslessStorageFormat",
                f,
                constraints::LOSSLESS_STORAGE_FORMAT,
            )
        })?;
        if let Some(tags) = &b.tags {
            validate::tags("tags", tags)?;
        }
        Ok(Self {
            name: b.datastore_name,
            client_token,
            kms_key_arn: b.kms_key_arn,
            lambda_authorizer_arn: b.lambda_authorizer_arn,
            lossless_storage_format: b.lossless_storage_format,
            tags: b.tags,
        })
    }
}

/// ListDatastores.
pub struct ListDatastores {
    pub status: Option<DatastoreStatus>,
    pub page: Page,
}

impl Operation for ListDatastores {
    fn read(raw: &Raw) -> ApiResult<Self> {
        Ok(Self {
            status: status_param(&raw.query, "datastoreStatus", constraints::DATASTORE_STATUS)?,
            page: Page::read(&raw.query)?,
        })
    }
}

// ---- import jobs --------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartImportJobBody {
    job_name: Option<String>,
    data_access_role_arn: Option<String>,
    client_token: Option<String>,
    input_s3_uri: Option<String>,
    output_s3_uri: Option<String>,
    input_owner_account_id: Option<String>,
    import_configuration: Option<Value>,
}

/// StartDICOMImportJob.
pub struct StartImportJob {
    pub datastore_id: String,
    pub job: NewJob,
}

impl Operation for StartImportJob {
    fn read(raw: &Raw) -> ApiResult<Self> {
        let DatastoreRef(datastore_id) = DatastoreRef::read(raw)?;
        let b: StartImportJobBody = raw.body()?;
        each(&b.job_name, validate::job_name)?;
        let role = validate::required("dataAccessRoleArn", b.data_access_role_arn)?;
        validate::role_arn(&role)?;
        let client_token = validate::required("clientToken", b.client_token)?;
        validate::client_token(&client_token)?;
        let input = validate::required("inputS3Uri", b.input_s3_uri)?;
        validate::s3_uri("inputS3Uri", &input)?;
        let output = validate::required("outputS3Uri", b.output_s3_uri)?;
        validate::s3_uri("outputS3Uri", &output)?;
        each(&b.input_owner_account_id, validate::account_id)?;
        if let Some(cfg) = &b.import_configuration {
            validate::import_configuration(cfg)?;
        }
        Ok(Self {
            datastore_id,
            job: NewJob {
                job_name: b.job_name,
                data_access_role_arn: role,
                client_token,
                input_s3_uri: input,
                output_s3_uri: output,
                input_owner_account_id: b.input_owner_account_id,
                import_configuration: b.import_configuration,
            },
        })
    }
}

/// GetDICOMImportJob.
pub struct JobRef {
    pub datastore_id: String,
    pub job_id: String,
}

impl Operation for JobRef {
    fn read(raw: &Raw) -> ApiResult<Self> {
        let DatastoreRef(datastore_id) = DatastoreRef::read(raw)?;
        let job_id = raw.path("jobId");
        validate::job_id(job_id)?;
        Ok(Self {
            datastore_id,
            job_id: job_id.to_owned(),
        })
    }
}

/// ListDICOMImportJobs.
pub struct ListJobs {
    pub datastore_id: String,
    pub status: Option<JobStatus>,
    pub page: Page,
}

impl Operation for ListJobs {
    fn read(raw: &Raw) -> ApiResult<Self> {
        Ok(Self {
            datastore_id: DatastoreRef::read(raw)?.0,
            status: status_param(&raw.query, "jobStatus", constraints::JOB_STATUS)?,
            page: Page::read(&raw.query)?,
        })
    }
}

// ---- tags ---------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct TagBody {
    tags: Option<BTreeMap<String, String>>,
}

/// TagResource.
pub struct TagResource {
    pub arn: String,
    pub tags: BTreeMap<String, String>,
}

impl Operation for TagResource {
    fn read(raw: &Raw) -> ApiResult<Self> {
        let ResourceArn(arn) = ResourceArn::read(raw)?;
        let b: TagBody = raw.body()?;
        let tags = validate::required("tags", b.tags)?;
        validate::tags("tags", &tags)?;
        Ok(Self { arn, tags })
    }
}

/// UntagResource.
pub struct UntagResource {
    pub arn: String,
    pub keys: Vec<String>,
}

impl Operation for UntagResource {
    fn read(raw: &Raw) -> ApiResult<Self> {
        let ResourceArn(arn) = ResourceArn::read(raw)?;
        let keys = raw.query.all("tagKeys");
        validate::tag_keys(&keys, raw.query.has("tagKeys"))?;
        Ok(Self { arn, keys })
    }
}

// ---- image sets ---------------------------------------------------------------------------------

/// SearchImageSets: the criteria stay a document for `search::parse`.
pub struct SearchImageSets {
    pub datastore_id: String,
    pub page: Page,
    pub criteria: Value,
}

impl Operation for SearchImageSets {
    fn read(raw: &Raw) -> ApiResult<Self> {
        Ok(Self {
            datastore_id: DatastoreRef::read(raw)?.0,
            page: Page::read(&raw.query)?,
            criteria: Value::Object(raw.body::<Map<String, Value>>()?),
        })
    }
}

/// GetImageSet and GetImageSetMetadata: an image set and optionally one of its versions.
pub struct ImageSetVersion {
    pub ids: ImageSetRef,
    pub version: Option<String>,
}

impl Operation for ImageSetVersion {
    fn read(raw: &Raw) -> ApiResult<Self> {
        Ok(Self {
            ids: ImageSetRef::read(raw)?,
            version: version_param(&raw.query, "version", "versionId")?,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageFrameBody {
    image_frame_id: Option<String>,
}

/// GetImageFrame.
pub struct GetImageFrame {
    pub ids: ImageSetRef,
    pub image_frame_id: String,
}

impl Operation for GetImageFrame {
    fn read(raw: &Raw) -> ApiResult<Self> {
        let ids = ImageSetRef::read(raw)?;
        let b: ImageFrameBody = raw.body()?;
        let image_frame_id = validate::required("imageFrameId", b.image_frame_id)?;
        validate::resource_id("imageFrameInformation.imageFrameId", &image_frame_id)?;
        Ok(Self {
            ids,
            image_frame_id,
        })
    }
}

/// ListImageSetVersions.
pub struct ListVersions {
    pub ids: ImageSetRef,
    pub page: Page,
}

impl Operation for ListVersions {
    fn read(raw: &Raw) -> ApiResult<Self> {
        Ok(Self {
            ids: ImageSetRef::read(raw)?,
            page: Page::read(&raw.query)?,
        })
    }
}

/// A base64 blob member: a JSON string, decoded when the request is read.
struct Blob(String);

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Base64String;
        impl Visitor<'_> for Base64String {
            type Value = Blob;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a base64 string")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Blob, E> {
                Ok(Blob(s.to_owned()))
            }
        }
        d.deserialize_str(Base64String)
    }
}

#[derive(Deserialize)]
struct UpdateBody {
    #[serde(rename = "DICOMUpdates")]
    dicom_updates: Option<DicomUpdates>,
    #[serde(rename = "revertToVersionId")]
    revert_to_version_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "an object")]
struct DicomUpdates {
    removable_attributes: Option<Blob>,
    updatable_attributes: Option<Blob>,
}

/// One DICOMUpdates blob as its JSON document (1..=30000 bytes once decoded).
fn update_document(blob: Option<Blob>, key: &str) -> ApiResult<Option<Value>> {
    let Some(Blob(b64)) = blob else {
        return Ok(None);
    };
    let raw = STANDARD.decode(b64).map_err(|_| {
        ApiError::new(
            ErrorKind::Serialization,
            format!("DICOMUpdates.{key} is not valid base64"),
        )
    })?;
    validate::update_document_size(key, raw.len())?;
    serde_json::from_slice(&raw).map(Some).map_err(|e| {
        ApiError::validation(format!("DICOMUpdates.{key} is not a JSON document: {e}"))
    })
}

/// UpdateImageSetMetadata.
pub struct UpdateImageSet {
    pub ids: ImageSetRef,
    pub latest_version: String,
    pub force: bool,
    pub include_study: bool,
    pub update: MetadataUpdate,
}

impl Operation for UpdateImageSet {
    fn read(raw: &Raw) -> ApiResult<Self> {
        let ids = ImageSetRef::read(raw)?;
        let latest = version_param(&raw.query, "latestVersion", "latestVersionId")?;
        let latest_version = validate::required("latestVersionId", latest)?;
        let force = raw.query.bool("force")?;
        let include_study = raw.query.bool("includeStudyImageSets")?;
        let b: UpdateBody = raw.body()?;
        let update = match (b.dicom_updates, b.revert_to_version_id) {
            (Some(_), Some(_)) => {
                return Err(ApiError::validation(
                    "Provide either DICOMUpdates or revertToVersionId, not both",
                ))
            }
            (None, None) => {
                return Err(ApiError::validation(
                    "updateImageSetMetadataUpdates must set DICOMUpdates or revertToVersionId",
                ))
            }
            (None, Some(to)) => {
                validate::version_id("revertToVersionId", &to)?;
                MetadataUpdate::Revert(to)
            }
            (Some(u), None) => {
                let removable = update_document(u.removable_attributes, "removableAttributes")?;
                let updatable = update_document(u.updatable_attributes, "updatableAttributes")?;
                if removable.is_none() && updatable.is_none() {
                    return Err(ApiError::validation(
                        "DICOMUpdates must carry removableAttributes or updatableAttributes",
                    ));
                }
                MetadataUpdate::Dicom {
                    removable,
                    updatable,
                }
            }
        };
        Ok(Self {
            ids,
            latest_version,
            force,
            include_study,
            update,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CopyBody {
    source_image_set: Option<CopySource>,
    destination_image_set: Option<CopyDestination>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "an object")]
struct CopySource {
    latest_version_id: Option<String>,
    #[serde(rename = "DICOMCopies")]
    dicom_copies: Option<DicomCopies>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "an object")]
struct DicomCopies {
    copiable_attributes: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "an object")]
struct CopyDestination {
    image_set_id: Option<String>,
    latest_version_id: Option<String>,
}

/// The copiable attributes document (1..=260000 characters of JSON).
fn copiable_document(copies: DicomCopies) -> ApiResult<Value> {
    let raw = copies
        .copiable_attributes
        .ok_or_else(|| ApiError::validation("DICOMCopies.copiableAttributes is required"))?;
    validate::copiable_attributes(&raw)?;
    serde_json::from_str(&raw).map_err(|e| {
        ApiError::validation(format!("copiableAttributes is not a JSON document: {e}"))
    })
}

/// CopyImageSet.
pub struct CopyImageSet {
    pub ids: ImageSetRef,
    pub copy: CopyRequest,
}

impl Operation for CopyImageSet {
    fn read(raw: &Raw) -> ApiResult<Self> {
        let ids = ImageSetRef::read(raw)?;
        let force = raw.query.bool("force")?;
        let promote_to_primary = raw.query.bool("promoteToPrimary")?;
        let b: CopyBody = raw.body()?;
        let source =
            validate::required("copyImageSetInformation.sourceImageSet", b.source_image_set)?;
        let source_latest_version =
            validate::required("latestVersionId", source.latest_version_id)?;
        validate::version_id("sourceImageSet.latestVersionId", &source_latest_version)?;
        let copiable = source.dicom_copies.map(copiable_document).transpose()?;
        let destination = match b.destination_image_set {
            None => None,
            Some(d) => {
                let id = validate::required("imageSetId", d.image_set_id)?;
                validate::resource_id("destinationImageSet.imageSetId", &id)?;
                let latest = validate::required("latestVersionId", d.latest_version_id)?;
                validate::version_id("destinationImageSet.latestVersionId", &latest)?;
                Some((id, latest))
            }
        };
        Ok(Self {
            ids,
            copy: CopyRequest {
                source_latest_version,
                copiable,
                destination,
                force,
                promote_to_primary,
            },
        })
    }
}
