//! The HTTP front: method + path → operation (reference §2.3), with the checks every request
//! passes first (SigV4, optional throttling fault injection, in-flight accounting). Each handler
//! reads its inputs, validates them, calls the state and shapes the answer via `protocol`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Path, RawQuery, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::app::App;
use super::error::{ApiError, ApiResult, ErrorKind};
use super::faults;
use super::front_door::FrontDoor;
use super::pagination;
use super::protocol::{self, json_body, ok_json, opt_str, req_str, Params};
use super::search;
use super::state::{
    CopyRequest, DatastoreStatus, ImageSetState, JobStatus, MetadataUpdate, NewDatastore, NewJob,
    WorkflowStatus,
};
use super::validate;
use crate::model::constraints;

type Handler = ApiResult<Response>;
type AppState = State<Arc<App>>;

pub fn router(app: Arc<App>, door: FrontDoor) -> Router {
    let image_set = "/datastore/{datastoreId}/imageSet/{imageSetId}";
    let routes = Router::new()
        .route("/datastore", post(create_datastore).get(list_datastores))
        .route(
            "/datastore/{datastoreId}",
            get(get_datastore).delete(delete_datastore),
        )
        .route(
            "/startDICOMImportJob/datastore/{datastoreId}",
            post(start_import_job),
        )
        .route(
            "/getDICOMImportJob/datastore/{datastoreId}/job/{jobId}",
            get(get_import_job),
        )
        .route(
            "/listDICOMImportJobs/datastore/{datastoreId}",
            get(list_import_jobs),
        )
        .route(
            "/tags/{resourceArn}",
            post(tag_resource).get(list_tags).delete(untag_resource),
        )
        .route(
            "/datastore/{datastoreId}/searchImageSets",
            post(search_image_sets),
        )
        .route(&format!("{image_set}/getImageSet"), post(get_image_set))
        .route(
            &format!("{image_set}/getImageSetMetadata"),
            post(get_image_set_metadata),
        )
        .route(&format!("{image_set}/getImageFrame"), post(get_image_frame))
        .route(
            &format!("{image_set}/listImageSetVersions"),
            post(list_image_set_versions),
        )
        .route(
            &format!("{image_set}/updateImageSetMetadata"),
            post(update_image_set_metadata),
        )
        .route(&format!("{image_set}/copyImageSet"), post(copy_image_set))
        .route(
            &format!("{image_set}/deleteImageSet"),
            post(delete_image_set),
        )
        .fallback(unknown_operation)
        .method_not_allowed_fallback(unknown_operation);
    // Quotas and injected faults act on admitted requests of a known operation.
    let routes = routes.layer(middleware::from_fn_with_state(app.clone(), disturb));
    door.layer(routes)
        .layer(middleware::from_fn_with_state(app.clone(), front_door))
        .with_state(app)
}

/// The operation a matched route serves (the route templates above, by method).
fn operation(method: &Method, template: &str) -> Option<&'static str> {
    let last = template.rsplit('/').next().unwrap_or_default();
    let first = template.split('/').nth(1).unwrap_or_default();
    Some(match (first, last, method.as_str()) {
        ("datastore", "datastore", "POST") => "CreateDatastore",
        ("datastore", "datastore", "GET") => "ListDatastores",
        ("datastore", "{datastoreId}", "GET") => "GetDatastore",
        ("datastore", "{datastoreId}", "DELETE") => "DeleteDatastore",
        ("startDICOMImportJob", _, _) => "StartDICOMImportJob",
        ("getDICOMImportJob", _, _) => "GetDICOMImportJob",
        ("listDICOMImportJobs", _, _) => "ListDICOMImportJobs",
        ("tags", _, "POST") => "TagResource",
        ("tags", _, "GET") => "ListTagsForResource",
        ("tags", _, "DELETE") => "UntagResource",
        (_, "searchImageSets", _) => "SearchImageSets",
        (_, "getImageSet", _) => "GetImageSet",
        (_, "getImageSetMetadata", _) => "GetImageSetMetadata",
        (_, "getImageFrame", _) => "GetImageFrame",
        (_, "listImageSetVersions", _) => "ListImageSetVersions",
        (_, "updateImageSetMetadata", _) => "UpdateImageSetMetadata",
        (_, "copyImageSet", _) => "CopyImageSet",
        (_, "deleteImageSet", _) => "DeleteImageSet",
        _ => return None,
    })
}

/// Quotas and injected faults for requests that matched an operation's route.
async fn disturb(State(app): AppState, req: Request, next: Next) -> Response {
    let op = req
        .extensions()
        .get::<MatchedPath>()
        .and_then(|p| operation(req.method(), p.as_str()));
    match op {
        Some(op) => {
            faults::apply(
                &app.quotas,
                &app.faults,
                &app.stats.operations,
                op,
                req,
                next,
            )
            .await
        }
        None => next.run(req).await,
    }
}

async fn unknown_operation(req: Request) -> Response {
    ApiError::new(
        ErrorKind::UnknownOperation,
        format!("No operation matches {} {}", req.method(), req.uri().path()),
    )
    .into_response()
}

/// Every admitted request: count it in flight, maybe throttle it.
async fn front_door(State(app): AppState, req: Request, next: Next) -> Response {
    let _guard = app.stats.enter();
    if !app.latency.is_zero() {
        tokio::time::sleep(app.latency).await;
    }
    if app.should_throttle() {
        return ApiError::new(ErrorKind::Throttling, "Rate exceeded").into_response();
    }
    let (parts, body) = req.into_parts();
    if let Some(ua) = parts
        .headers
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
    {
        *app.stats.last_user_agent.lock().expect("stats lock") = ua.to_string();
    }
    // Host, signature and body size are checked next, by `FrontDoor`.
    let response = next.run(Request::from_parts(parts, body)).await;
    if response.status() == axum::http::StatusCode::CONFLICT {
        app.stats
            .conflicts
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    response
}

fn params(q: &Option<String>) -> Params {
    Params::parse(q.as_deref())
}

fn tag_map(v: &Value, member: &str) -> ApiResult<BTreeMap<String, String>> {
    let obj = v
        .as_object()
        .ok_or_else(|| ApiError::validation(format!("{member} must be a map of strings")))?;
    obj.iter()
        .map(|(k, v)| {
            validate::tag_key(member, k)?;
            let v = v
                .as_str()
                .ok_or_else(|| ApiError::validation(format!("{member}.{k} must be a string")))?;
            validate::tag_value(member, v)?;
            Ok((k.clone(), v.to_string()))
        })
        .collect()
}

// ---- data stores ----------------------------------------------------------------------------

async fn create_datastore(State(app): AppState, body: Bytes) -> Handler {
    let b = json_body(&body)?;
    let name = opt_str(&b, "datastoreName")?;
    if let Some(n) = &name {
        validate::datastore_name(n)?;
    }
    let client_token = req_str(&b, "clientToken")?;
    validate::client_token(&client_token)?;
    let kms = opt_str(&b, "kmsKeyArn")?;
    if let Some(k) = &kms {
        validate::kms_key_arn(k)?;
    }
    let lambda = opt_str(&b, "lambdaAuthorizerArn")?;
    if let Some(l) = &lambda {
        validate::lambda_arn(l)?;
    }
    let format = opt_str(&b, "losslessStorageFormat")?;
    if let Some(f) = &format {
        validate::enum_value(
            "losslessStorageFormat",
            f,
            constraints::LOSSLESS_STORAGE_FORMAT,
        )?;
    }
    let tags = b.get("tags").map(|t| tag_map(t, "tags")).transpose()?;
    let req = NewDatastore {
        name,
        client_token,
        kms_key_arn: kms,
        lambda_authorizer_arn: lambda,
        lossless_storage_format: format,
        tags,
    };
    let out = app.write(|s| {
        let ds = s.create_datastore(req, |id| app.account.datastore_arn(id));
        Ok(json!({"datastoreId": ds.id(), "datastoreStatus": ds.info.status}))
    })?;
    Ok(ok_json(out))
}

async fn get_datastore(State(app): AppState, Path(id): Path<String>) -> Handler {
    validate::resource_id("datastoreId", &id)?;
    let store = app.read();
    let ds = store.datastore(&id)?;
    Ok(ok_json(
        json!({"datastoreProperties": protocol::datastore_properties(ds, &app.account)}),
    ))
}

async fn list_datastores(State(app): AppState, RawQuery(q): RawQuery) -> Handler {
    let p = params(&q);
    let status = p.get("datastoreStatus");
    if let Some(s) = status {
        validate::enum_value("datastoreStatus", s, constraints::DATASTORE_STATUS)?;
    }
    let max = validate::max_results(p.get("maxResults"))?;
    let store = app.read();
    let all = store.list_datastores(status.and_then(|s| s.parse::<DatastoreStatus>().ok()));
    let (page, next) = pagination::page(&all, max, p.get("nextToken"), &format!("ds:{status:?}"))?;
    let mut out = json!({
        "datastoreSummaries": page.iter().map(|d| protocol::datastore_summary(d, &app.account)).collect::<Vec<_>>()
    });
    if let Some(t) = next {
        out["nextToken"] = json!(t);
    }
    Ok(ok_json(out))
}

async fn delete_datastore(State(app): AppState, Path(id): Path<String>) -> Handler {
    validate::resource_id("datastoreId", &id)?;
    let out = app.write(|s| {
        let ds = s.delete_datastore(&id)?;
        Ok(json!({"datastoreId": ds.id(), "datastoreStatus": ds.info.status}))
    })?;
    Ok(ok_json(out))
}

// ---- import jobs ----------------------------------------------------------------------------

async fn start_import_job(State(app): AppState, Path(ds): Path<String>, body: Bytes) -> Handler {
    validate::resource_id("datastoreId", &ds)?;
    let b = json_body(&body)?;
    let job_name = opt_str(&b, "jobName")?;
    if let Some(n) = &job_name {
        validate::job_name(n)?;
    }
    let role = req_str(&b, "dataAccessRoleArn")?;
    validate::role_arn(&role)?;
    let client_token = req_str(&b, "clientToken")?;
    validate::client_token(&client_token)?;
    let input = req_str(&b, "inputS3Uri")?;
    validate::s3_uri("inputS3Uri", &input)?;
    let output = req_str(&b, "outputS3Uri")?;
    validate::s3_uri("outputS3Uri", &output)?;
    let owner = opt_str(&b, "inputOwnerAccountId")?;
    if let Some(o) = &owner {
        validate::account_id(o)?;
    }
    let import_configuration = b.get("importConfiguration").cloned();
    if let Some(cfg) = &import_configuration {
        validate_import_configuration(cfg)?;
    }
    let req = NewJob {
        job_name,
        data_access_role_arn: role,
        client_token,
        input_s3_uri: input,
        output_s3_uri: output,
        input_owner_account_id: owner,
        import_configuration,
    };
    let (job, is_new) = app.write(|s| s.submit_job(&ds, req))?;
    if is_new {
        super::import::spawn_job(app.clone(), ds.clone(), job.id.clone());
    }
    Ok(ok_json(json!({
        "datastoreId": ds,
        "jobId": job.id,
        "jobStatus": job.status,
        "submittedAt": job.submitted_at,
    })))
}

fn validate_import_configuration(cfg: &Value) -> ApiResult<()> {
    let maps = cfg
        .get("dicomJsonMetadataImportConfiguration")
        .and_then(|c| c.get("dicomMetadataMappings"))
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ApiError::validation("importConfiguration must be {\"dicomJsonMetadataImportConfiguration\": {\"dicomMetadataMappings\": [...]}}")
        })?;
    if maps.is_empty() || maps.len() > 1000 {
        return Err(ApiError::validation(
            "dicomMetadataMappings must have 1 to 1000 items",
        ));
    }
    for m in maps {
        for key in ["studyInstanceUID", "metadataFilePath"] {
            if m.get(key).and_then(Value::as_str).is_none() {
                return Err(ApiError::validation(format!(
                    "dicomMetadataMappings items need {key}"
                )));
            }
        }
    }
    Ok(())
}

async fn get_import_job(State(app): AppState, Path((ds, job)): Path<(String, String)>) -> Handler {
    validate::resource_id("datastoreId", &ds)?;
    validate::job_id(&job)?;
    let store = app.read();
    let job = store.job(&ds, &job)?;
    Ok(ok_json(
        json!({"jobProperties": protocol::job_properties(job)}),
    ))
}

async fn list_import_jobs(
    State(app): AppState,
    Path(ds): Path<String>,
    RawQuery(q): RawQuery,
) -> Handler {
    validate::resource_id("datastoreId", &ds)?;
    let p = params(&q);
    let status = p.get("jobStatus");
    if let Some(s) = status {
        validate::enum_value("jobStatus", s, constraints::JOB_STATUS)?;
    }
    let max = validate::max_results(p.get("maxResults"))?;
    let store = app.read();
    let jobs = store.list_jobs(&ds, status.and_then(|s| s.parse::<JobStatus>().ok()))?;
    let (page, next) = pagination::page(
        &jobs,
        max,
        p.get("nextToken"),
        &format!("jobs:{ds}:{status:?}"),
    )?;
    let mut out =
        json!({"jobSummaries": page.iter().map(|j| protocol::job_summary(j)).collect::<Vec<_>>()});
    if let Some(t) = next {
        out["nextToken"] = json!(t);
    }
    Ok(ok_json(out))
}

// ---- tags -----------------------------------------------------------------------------------

async fn tag_resource(State(app): AppState, Path(arn): Path<String>, body: Bytes) -> Handler {
    validate::resource_arn(&arn)?;
    let b = json_body(&body)?;
    let tags = tag_map(validate::required("tags", b.get("tags"))?, "tags")?;
    app.write(|s| s.tag_resource(&arn, tags))?;
    Ok(ok_json(json!({})))
}

async fn untag_resource(
    State(app): AppState,
    Path(arn): Path<String>,
    RawQuery(q): RawQuery,
) -> Handler {
    validate::resource_arn(&arn)?;
    let keys = params(&q).all("tagKeys");
    if keys.len() > 200 {
        return Err(ApiError::validation("tagKeys must have at most 200 items"));
    }
    if q.as_deref().is_none_or(|q| !q.contains("tagKeys")) {
        validate::required::<Value>("tagKeys", None)?;
    }
    for k in &keys {
        validate::tag_key("tagKeys", k)?;
    }
    app.write(|s| s.untag_resource(&arn, &keys))?;
    Ok(ok_json(json!({})))
}

async fn list_tags(State(app): AppState, Path(arn): Path<String>) -> Handler {
    validate::resource_arn(&arn)?;
    let tags = app.read().list_tags(&arn)?;
    Ok(ok_json(json!({"tags": tags})))
}

// ---- image sets -----------------------------------------------------------------------------

fn ids(ds: &str, is: &str) -> ApiResult<()> {
    validate::resource_id("datastoreId", ds)?;
    validate::resource_id("imageSetId", is)
}

fn version_param(p: &Params, key: &str, member: &str) -> ApiResult<Option<String>> {
    let v = p.get(key).map(str::to_owned);
    if let Some(v) = &v {
        validate::version_id(member, v)?;
    }
    Ok(v)
}

async fn search_image_sets(
    State(app): AppState,
    Path(ds): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Handler {
    validate::resource_id("datastoreId", &ds)?;
    let p = params(&q);
    let max = validate::max_results(p.get("maxResults"))?;
    let criteria = Value::Object(json_body(&body)?);
    let query = search::parse(&criteria)?;
    let store = app.read();
    let datastore = store.live_datastore(&ds)?;
    let hits = search::run(datastore, &query);
    // Only the page returned is shaped into JSON.
    let (page, next) = pagination::page(
        &hits,
        max,
        p.get("nextToken"),
        &format!("search:{ds}:{criteria}"),
    )?;
    let page: Vec<Value> = page.into_iter().map(protocol::search_summary).collect();
    let mut out = json!({
        "imageSetsMetadataSummaries": page,
        "sort": {
            "sortField": match query.sort_field {
                search::SortField::UpdatedAt => "updatedAt",
                search::SortField::CreatedAt => "createdAt",
                search::SortField::StudyDateAndTime => "DICOMStudyDateAndTime",
            },
            "sortOrder": if query.ascending { "ASC" } else { "DESC" },
        },
    });
    if let Some(t) = next {
        out["nextToken"] = json!(t);
    }
    Ok(ok_json(out))
}

async fn get_image_set(
    State(app): AppState,
    Path((ds, is)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Handler {
    ids(&ds, &is)?;
    let version = version_param(&params(&q), "version", "versionId")?;
    let store = app.read();
    let set = store.image_set(&ds, &is)?;
    let v = set.version(version.as_deref()).ok_or_else(|| {
        ApiError::not_found(format!(
            "Version {} of image set {is} does not exist",
            version.as_deref().unwrap_or("")
        ))
    })?;
    Ok(ok_json(protocol::image_set_properties(
        &ds,
        set,
        v,
        &app.account,
    )))
}

async fn get_image_set_metadata(
    State(app): AppState,
    Path((ds, is)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Handler {
    ids(&ds, &is)?;
    let version = version_param(&params(&q), "version", "versionId")?;
    let store = app.read();
    protocol::gzip_json(store.image_set_metadata(&ds, &is, version.as_deref())?)
}

async fn get_image_frame(
    State(app): AppState,
    Path((ds, is)): Path<(String, String)>,
    body: Bytes,
) -> Handler {
    ids(&ds, &is)?;
    let b = json_body(&body)?;
    let frame_id = req_str(&b, "imageFrameId")?;
    validate::resource_id("imageFrameInformation.imageFrameId", &frame_id)?;
    let (blob, ts) = app.read().image_frame(&ds, &is, &frame_id)?;
    // The response shares the stored bytes (no copy).
    Ok(protocol::frame(Body::from(blob.bytes), &ts))
}

async fn list_image_set_versions(
    State(app): AppState,
    Path((ds, is)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Handler {
    ids(&ds, &is)?;
    let p = params(&q);
    let max = validate::max_results(p.get("maxResults"))?;
    let store = app.read();
    let set = store.image_set(&ds, &is)?;
    // Newest version first.
    let all: Vec<Value> = set
        .versions
        .iter()
        .rev()
        .map(|v| protocol::version_properties(set, v))
        .collect();
    let (page, next) = pagination::page(
        &all,
        max,
        p.get("nextToken"),
        &format!("versions:{ds}:{is}"),
    )?;
    let mut out = json!({"imageSetPropertiesList": page});
    if let Some(t) = next {
        out["nextToken"] = json!(t);
    }
    Ok(ok_json(out))
}

/// Decodes one base64 DICOMUpdates blob into its JSON document (1..=30000 bytes).
fn update_blob(updates: &Map<String, Value>, key: &str) -> ApiResult<Option<Value>> {
    let Some(v) = updates.get(key) else {
        return Ok(None);
    };
    let b64 = v.as_str().ok_or_else(|| {
        ApiError::new(
            ErrorKind::Serialization,
            format!("DICOMUpdates.{key} must be a base64 string"),
        )
    })?;
    let raw = STANDARD.decode(b64).map_err(|_| {
        ApiError::new(
            ErrorKind::Serialization,
            format!("DICOMUpdates.{key} is not valid base64"),
        )
    })?;
    if raw.is_empty() || raw.len() > constraints::MAX_UPDATE_BLOB {
        return Err(ApiError::constraint(
            &format!("updateImageSetMetadataUpdates.DICOMUpdates.{key}"),
            &format!("{} bytes", raw.len()),
            "Member must have length between 1 and 30000, inclusive",
        ));
    }
    serde_json::from_slice(&raw).map(Some).map_err(|e| {
        ApiError::validation(format!("DICOMUpdates.{key} is not a JSON document: {e}"))
    })
}

async fn update_image_set_metadata(
    State(app): AppState,
    Path((ds, is)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Handler {
    ids(&ds, &is)?;
    let p = params(&q);
    let latest = version_param(&p, "latestVersion", "latestVersionId")?
        .ok_or_else(|| validate::required::<str>("latestVersionId", None).unwrap_err())?;
    let force = p.bool("force")?;
    let include_study = p.bool("includeStudyImageSets")?;
    let b = json_body(&body)?;
    let update = match (b.get("DICOMUpdates"), opt_str(&b, "revertToVersionId")?) {
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
            let u = u.as_object().ok_or_else(|| {
                ApiError::new(ErrorKind::Serialization, "DICOMUpdates must be an object")
            })?;
            let removable = update_blob(u, "removableAttributes")?;
            let updatable = update_blob(u, "updatableAttributes")?;
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
    let r = app.write(|s| s.update_image_set(&ds, &is, &latest, force, include_study, update))?;
    let mut out = protocol::write_result(&r, WorkflowStatus::Updating);
    out.insert("datastoreId".into(), json!(ds));
    Ok(ok_json(Value::Object(out)))
}

async fn copy_image_set(
    State(app): AppState,
    Path((ds, is)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Handler {
    ids(&ds, &is)?;
    let p = params(&q);
    let force = p.bool("force")?;
    let promote = p.bool("promoteToPrimary")?;
    let b = json_body(&body)?;
    let source = validate::required(
        "copyImageSetInformation.sourceImageSet",
        b.get("sourceImageSet"),
    )?
    .as_object()
    .ok_or_else(|| ApiError::new(ErrorKind::Serialization, "sourceImageSet must be an object"))?;
    let source_latest = req_str(source, "latestVersionId")?;
    validate::version_id("sourceImageSet.latestVersionId", &source_latest)?;
    let copiable = match source.get("DICOMCopies") {
        None => None,
        Some(c) => {
            let raw = c
                .get("copiableAttributes")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ApiError::validation("DICOMCopies.copiableAttributes is required")
                })?;
            if raw.is_empty() || raw.chars().count() > constraints::MAX_COPIABLE {
                return Err(ApiError::validation(
                    "copiableAttributes must have length between 1 and 260000",
                ));
            }
            Some(serde_json::from_str::<Value>(raw).map_err(|e| {
                ApiError::validation(format!("copiableAttributes is not a JSON document: {e}"))
            })?)
        }
    };
    let destination = match b.get("destinationImageSet") {
        None => None,
        Some(d) => {
            let d = d.as_object().ok_or_else(|| {
                ApiError::new(
                    ErrorKind::Serialization,
                    "destinationImageSet must be an object",
                )
            })?;
            let id = req_str(d, "imageSetId")?;
            validate::resource_id("destinationImageSet.imageSetId", &id)?;
            let latest = req_str(d, "latestVersionId")?;
            validate::version_id("destinationImageSet.latestVersionId", &latest)?;
            Some((id, latest))
        }
    };
    let req = CopyRequest {
        source_latest_version: source_latest,
        copiable,
        destination,
        force,
        promote_to_primary: promote,
    };
    let r = app.write(|s| s.copy_image_set(&ds, &is, req))?;
    let mut src = protocol::write_result(&r.source, WorkflowStatus::CopyingWithReadOnlyAccess);
    let mut dst = protocol::write_result(&r.destination, WorkflowStatus::Copying);
    src.insert(
        "imageSetArn".into(),
        json!(app.account.image_set_arn(&ds, &is)),
    );
    dst.insert(
        "imageSetArn".into(),
        json!(app.account.image_set_arn(&ds, &r.destination.image_set_id)),
    );
    Ok(ok_json(json!({
        "datastoreId": ds,
        "sourceImageSetProperties": src,
        "destinationImageSetProperties": dst,
    })))
}

async fn delete_image_set(State(app): AppState, Path((ds, is)): Path<(String, String)>) -> Handler {
    ids(&ds, &is)?;
    app.write(|s| s.delete_image_set(&ds, &is))?;
    Ok(ok_json(json!({
        "datastoreId": ds,
        "imageSetId": is,
        "imageSetState": ImageSetState::Locked,
        "imageSetWorkflowStatus": WorkflowStatus::Deleting,
    })))
}

#[cfg(test)]
mod operation_names {
    use super::*;

    /// Every operation of the quota table is named by exactly one declared route and method.
    #[test]
    fn every_route_names_its_operation() {
        let is = "/datastore/{datastoreId}/imageSet/{imageSetId}";
        let routes = [
            ("POST", "/datastore".to_string()),
            ("GET", "/datastore".into()),
            ("GET", "/datastore/{datastoreId}".into()),
            ("DELETE", "/datastore/{datastoreId}".into()),
            (
                "POST",
                "/startDICOMImportJob/datastore/{datastoreId}".into(),
            ),
            (
                "GET",
                "/getDICOMImportJob/datastore/{datastoreId}/job/{jobId}".into(),
            ),
            ("GET", "/listDICOMImportJobs/datastore/{datastoreId}".into()),
            ("POST", "/tags/{resourceArn}".into()),
            ("GET", "/tags/{resourceArn}".into()),
            ("DELETE", "/tags/{resourceArn}".into()),
            ("POST", "/datastore/{datastoreId}/searchImageSets".into()),
            ("POST", format!("{is}/getImageSet")),
            ("POST", format!("{is}/getImageSetMetadata")),
            ("POST", format!("{is}/getImageFrame")),
            ("POST", format!("{is}/listImageSetVersions")),
            ("POST", format!("{is}/updateImageSetMetadata")),
            ("POST", format!("{is}/copyImageSet")),
            ("POST", format!("{is}/deleteImageSet")),
        ];
        let mut named: Vec<&str> = routes
            .iter()
            .map(|(m, t)| operation(&m.parse().unwrap(), t).unwrap_or_else(|| panic!("{m} {t}")))
            .collect();
        named.sort_unstable();
        let mut all: Vec<&str> = crate::model::quotas::DEFAULTS
            .iter()
            .map(|q| q.operation)
            .collect();
        all.sort_unstable();
        assert_eq!(named, all);
        assert_eq!(operation(&Method::PUT, "/datastore"), None);
    }
}
