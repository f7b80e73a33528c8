//! restJson1 shaping: query parameters and JSON bodies in, JSON bodies / blobs and error
//! responses out, with the member names of the service model. No business rules here.

use std::io::Write;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::document;
use super::error::{ApiError, ApiResult, ErrorKind};
use super::state::{
    Account, Datastore, DatastoreStatus, ImageSet, ImageSetState, ImageSetVersion, ImportJob,
    UpdateResult, WorkflowStatus,
};

/// Query string parameters in arrival order (list members repeat their key).
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>) -> Self {
        Self(form_pairs(query.unwrap_or("")).into_iter().collect())
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }
    /// Whether the key is given at all (a list member may be given empty).
    pub fn has(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }
    pub fn bool(&self, key: &str) -> ApiResult<bool> {
        match self.get(key) {
            None => Ok(false),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(ApiError::constraint(key, other, "Member must be a boolean")),
        }
    }
}

fn form_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// The JSON body as an object (`{}` when empty).
pub fn json_body(body: &[u8]) -> ApiResult<Map<String, Value>> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ApiError::new(
            ErrorKind::Serialization,
            "Request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::new(
            ErrorKind::Serialization,
            format!("Malformed JSON body: {e}"),
        )),
    }
}

fn request_id() -> String {
    let b: [u8; 16] = rand::random();
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn with_request_id(mut r: Response) -> Response {
    if let Ok(v) = HeaderValue::from_str(&request_id()) {
        r.headers_mut().insert("x-amzn-requestid", v);
    }
    r
}

/// A 200 answer with a JSON body.
pub fn ok<T: Serialize>(output: &T) -> Response {
    match serde_json::to_string(output) {
        Ok(body) => with_request_id(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response(),
        ),
        Err(e) => ApiError::internal(format!("cannot shape the response: {e}")).into_response(),
    }
}

/// One page of a list operation: the items under the operation's member name, and the token
/// of the next page when there is one.
pub fn ok_page(member: &str, items: Vec<Value>, next_token: Option<String>) -> Response {
    let mut out = Map::new();
    out.insert(member.into(), Value::Array(items));
    insert_opt(&mut out, "nextToken", next_token);
    ok(&out)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"__type": self.kind.code(), "message": self.message}).to_string();
        let mut r = (
            self.kind.status(),
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        r.headers_mut().insert(
            "x-amzn-errortype",
            HeaderValue::from_static(self.kind.code()),
        );
        with_request_id(r)
    }
}

/// GetImageSetMetadata: the document gzip-compressed, as the service sends it.
pub fn gzip_json(doc: &Value) -> ApiResult<Response> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(doc.to_string().as_bytes())
        .and_then(|_| enc.finish())
        .map(|gz| {
            with_request_id(
                Response::builder()
                    .status(StatusCode::OK)
                    .header(header::CONTENT_TYPE, "application/json")
                    .header(header::CONTENT_ENCODING, "gzip")
                    .body(Body::from(gz))
                    .expect("static headers"),
            )
        })
        .map_err(|e| ApiError::internal(format!("gzip failed: {e}")))
}

/// Content-Type of GetImageFrame by stored transfer syntax (the model's table).
pub fn frame_content_type(ts: &str) -> &'static str {
    match ts {
        "1.2.840.10008.1.2.4.202" | "" => "image/jph",
        "1.2.840.10008.1.2.4.201" | "1.2.840.10008.1.2.4.203" => "image/jphc",
        "1.2.840.10008.1.2.4.50" => "image/jpeg",
        "1.2.840.10008.1.2.4.90" | "1.2.840.10008.1.2.4.91" => "image/j2c",
        "1.2.840.10008.1.2.4.112" => "image/jxl",
        t if t.starts_with("1.2.840.10008.1.2.4.100")
            || t.starts_with("1.2.840.10008.1.2.4.101") =>
        {
            "video/mpeg"
        }
        t if ["102", "103", "104", "105", "106"]
            .iter()
            .any(|s| t.starts_with(&format!("1.2.840.10008.1.2.4.{s}"))) =>
        {
            "video/mp4"
        }
        "1.2.840.10008.1.2.4.107" | "1.2.840.10008.1.2.4.108" => "video/H256",
        _ => "application/octet-stream",
    }
}

pub fn frame(bytes: Body, ts: &str) -> Response {
    with_request_id(
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, frame_content_type(ts))
            .body(bytes)
            .expect("static headers"),
    )
}

fn insert_opt<T: Into<Value>>(m: &mut Map<String, Value>, k: &str, v: Option<T>) {
    if let Some(v) = v {
        m.insert(k.into(), v.into());
    }
}

pub fn datastore_properties(ds: &Datastore, acct: &Account) -> Value {
    let mut m = datastore_summary(ds, acct);
    let o = m.as_object_mut().expect("object");
    let info = &ds.info;
    insert_opt(o, "kmsKeyArn", info.kms_key_arn.clone());
    insert_opt(o, "lambdaAuthorizerArn", info.lambda_authorizer_arn.clone());
    o.insert(
        "losslessStorageFormat".into(),
        json!(info.lossless_storage_format),
    );
    m
}

pub fn datastore_summary(ds: &Datastore, acct: &Account) -> Value {
    json!({
        "datastoreId": ds.id(),
        "datastoreName": ds.info.name,
        "datastoreStatus": ds.status(),
        "datastoreArn": acct.datastore_arn(ds.id()),
        "createdAt": ds.info.created_at,
        "updatedAt": ds.updated_at(),
    })
}

pub fn job_summary(job: &ImportJob) -> Value {
    let mut m = json!({
        "jobId": job.id,
        "jobName": job.name,
        "jobStatus": job.status,
        "datastoreId": job.datastore_id,
        "dataAccessRoleArn": job.data_access_role_arn,
        "submittedAt": job.submitted_at,
    });
    let o = m.as_object_mut().expect("object");
    insert_opt(o, "endedAt", job.ended_at);
    insert_opt(o, "message", job.message.clone());
    m
}

pub fn job_properties(job: &ImportJob) -> Value {
    let mut m = job_summary(job);
    let o = m.as_object_mut().expect("object");
    o.insert("inputS3Uri".into(), json!(job.input_s3_uri));
    o.insert("outputS3Uri".into(), json!(job.output_s3_uri));
    insert_opt(o, "importConfiguration", job.import_configuration.clone());
    m
}

/// GetImageSet's output for one version.
pub fn image_set_properties(
    ds_id: &str,
    set: &ImageSet,
    v: &ImageSetVersion,
    acct: &Account,
) -> Value {
    let mut m = json!({
        "datastoreId": ds_id,
        "imageSetId": set.id,
        "versionId": v.version_id.to_string(),
        "imageSetState": set.current_state(),
        "imageSetWorkflowStatus": set.workflow_of(v.version_id),
        "createdAt": set.created_at,
        "updatedAt": v.updated_at,
        "imageSetArn": acct.image_set_arn(ds_id, &set.id),
        "isPrimary": set.is_primary,
        "storageTier": set.storage_tier,
    });
    let o = m.as_object_mut().expect("object");
    insert_opt(o, "message", v.message.clone());
    insert_opt(o, "lastAccessedAt", set.last_accessed_at.get());
    if v.forced {
        o.insert("overrides".into(), json!({"forced": true}));
    }
    m
}

/// ListImageSetVersions item (note the capital-I `ImageSetWorkflowStatus` of this shape).
pub fn version_properties(set: &ImageSet, v: &ImageSetVersion) -> Value {
    let mut m = json!({
        "imageSetId": set.id,
        "versionId": v.version_id.to_string(),
        "imageSetState": set.current_state(),
        "ImageSetWorkflowStatus": set.workflow_of(v.version_id),
        "createdAt": v.created_at,
        "updatedAt": v.updated_at,
        "isPrimary": set.is_primary,
    });
    let o = m.as_object_mut().expect("object");
    insert_opt(o, "message", v.message.clone());
    if v.forced {
        o.insert("overrides".into(), json!({"forced": true}));
    }
    m
}

/// One SearchImageSets result with the DICOMTags summary of its latest version.
pub fn search_summary(set: &ImageSet) -> Value {
    let v = set.latest();
    let doc = &v.document;
    let mut tags = Map::new();
    let (patient, study) = (document::patient(doc), document::study(doc));
    for (key, attrs, name) in [
        ("DICOMPatientId", patient, "PatientID"),
        ("DICOMPatientName", patient, "PatientName"),
        ("DICOMPatientBirthDate", patient, "PatientBirthDate"),
        ("DICOMPatientSex", patient, "PatientSex"),
        ("DICOMStudyInstanceUID", study, "StudyInstanceUID"),
        ("DICOMStudyId", study, "StudyID"),
        ("DICOMStudyDescription", study, "StudyDescription"),
        ("DICOMAccessionNumber", study, "AccessionNumber"),
        ("DICOMStudyDate", study, "StudyDate"),
        ("DICOMStudyTime", study, "StudyTime"),
    ] {
        insert_opt(
            &mut tags,
            key,
            document::text(attrs, name).map(str::to_owned),
        );
    }
    tags.insert(
        "DICOMNumberOfStudyRelatedSeries".into(),
        json!(document::series_count(doc)),
    );
    tags.insert(
        "DICOMNumberOfStudyRelatedInstances".into(),
        json!(document::instance_count(doc)),
    );
    // Series-level tags describe the image set when it holds exactly one series.
    if let Some(series) = document::series_map(doc).filter(|m| m.len() == 1) {
        let (uid, s) = series.iter().next().expect("one series");
        let attrs = s.get("DICOM").and_then(Value::as_object);
        tags.insert("DICOMSeriesInstanceUID".into(), json!(uid));
        insert_opt(
            &mut tags,
            "DICOMSeriesModality",
            document::text(attrs, "Modality").map(str::to_owned),
        );
        insert_opt(
            &mut tags,
            "DICOMSeriesBodyPart",
            document::text(attrs, "BodyPartExamined").map(str::to_owned),
        );
        if let Some(n) =
            document::text(attrs, "SeriesNumber").and_then(|s| s.trim().parse::<i64>().ok())
        {
            tags.insert("DICOMSeriesNumber".into(), json!(n));
        } else if let Some(n) = attrs
            .and_then(|a| a.get("SeriesNumber"))
            .and_then(Value::as_i64)
        {
            tags.insert("DICOMSeriesNumber".into(), json!(n));
        }
    }
    let mut m = json!({
        "imageSetId": set.id,
        "version": v.version_id,
        "createdAt": set.created_at,
        "updatedAt": v.updated_at,
        "isPrimary": set.is_primary,
        "storageTier": set.storage_tier,
        "DICOMTags": tags,
    });
    insert_opt(
        m.as_object_mut().expect("object"),
        "lastAccessedAt",
        set.last_accessed_at.get(),
    );
    m
}

/// CreateDatastore and DeleteDatastore: the data store and the status it is in now.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DatastoreState {
    datastore_id: String,
    datastore_status: DatastoreStatus,
}

impl DatastoreState {
    pub fn of(ds: &Datastore) -> Self {
        Self {
            datastore_id: ds.id().to_owned(),
            datastore_status: ds.info.status,
        }
    }
}

/// An image set with a write in flight (LOCKED with the in-flight workflow status, as the
/// service answers): UpdateImageSetMetadata and the two halves of CopyImageSet.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteState {
    image_set_id: String,
    latest_version_id: String,
    image_set_state: ImageSetState,
    image_set_workflow_status: WorkflowStatus,
    created_at: f64,
    updated_at: f64,
}

impl WriteState {
    pub fn in_flight(r: &UpdateResult, workflow: WorkflowStatus) -> Self {
        Self {
            image_set_id: r.image_set_id.clone(),
            latest_version_id: r.latest_version_id.to_string(),
            image_set_state: ImageSetState::Locked,
            image_set_workflow_status: workflow,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// UpdateImageSetMetadata's output.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateOutput {
    pub datastore_id: String,
    #[serde(flatten)]
    pub image_set: WriteState,
}

/// One side of CopyImageSet's output.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CopiedImageSet {
    #[serde(flatten)]
    pub image_set: WriteState,
    pub image_set_arn: String,
}

/// CopyImageSet's output.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyOutput {
    pub datastore_id: String,
    pub source_image_set_properties: CopiedImageSet,
    pub destination_image_set_properties: CopiedImageSet,
}
