//! The HTTP front: method + path → operation (reference §2.3), with the checks every request
//! passes first (SigV4, optional throttling fault injection, in-flight accounting). Each handler
//! receives its typed input (`requests`), calls the state and shapes the answer (`protocol`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use super::app::App;
use super::error::{ApiError, ApiResult, ErrorKind};
use super::faults;
use super::front_door::FrontDoor;
use super::protocol::{self, CopiedImageSet, CopyOutput, DatastoreState, UpdateOutput, WriteState};
use super::requests::{
    CopyImageSet, DatastoreRef, GetImageFrame, ImageSetRef, ImageSetVersion, Input, JobRef,
    ListDatastores, ListJobs, ListVersions, ResourceArn, SearchImageSets, StartImportJob,
    TagResource, UntagResource, UpdateImageSet,
};
use super::search;
use super::state::{DatastoreStatus, ImageSetState, JobStatus, NewDatastore, WorkflowStatus};

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
        .merge(super::dicomweb::routes())
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
    if template.contains("/studies") {
        return dicomweb_operation(method, template);
    }
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

/// The DICOMweb operation a matched route serves (`super::dicomweb::routes`), so quotas set
/// by name and injected faults reach DICOMweb too. Bulk data has no operation name of its own.
fn dicomweb_operation(method: &Method, template: &str) -> Option<&'static str> {
    let last = template.rsplit('/').next().unwrap_or_default();
    let instance = template.contains("/instances/");
    Some(match (last, method.as_str()) {
        ("studies", "GET") => "SearchDICOMStudies",
        ("studies", "POST") => "StoreDICOM",
        ("{study}", "POST") => "StoreDICOMStudy",
        ("series", "GET") => "SearchDICOMSeries",
        ("instances", "GET") => "SearchDICOMInstances",
        ("metadata", "GET") if instance => "GetDICOMInstanceMetadata",
        ("metadata", "GET") => "GetDICOMSeriesMetadata",
        ("{sop}", "GET") => "GetDICOMInstance",
        ("{frames}", "GET") => "GetDICOMInstanceFrames",
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

// ---- data stores ----------------------------------------------------------------------------

async fn create_datastore(State(app): AppState, Input(req): Input<NewDatastore>) -> Handler {
    let out = app.write(|s| {
        let ds = s.create_datastore(req, |id| app.account.datastore_arn(id));
        Ok(DatastoreState::of(ds))
    })?;
    Ok(protocol::ok(&out))
}

async fn get_datastore(
    State(app): AppState,
    Input(DatastoreRef(id)): Input<DatastoreRef>,
) -> Handler {
    let store = app.read();
    let ds = store.datastore(&id)?;
    Ok(protocol::ok(
        &json!({"datastoreProperties": protocol::datastore_properties(ds, &app.account)}),
    ))
}

async fn list_datastores(State(app): AppState, Input(r): Input<ListDatastores>) -> Handler {
    let store = app.read();
    let all = store.list_datastores(r.status);
    let status = r.status.map(DatastoreStatus::as_str);
    let (page, next) = r.page.of(&all, &format!("ds:{status:?}"))?;
    let summaries = page
        .iter()
        .map(|d| protocol::datastore_summary(d, &app.account));
    Ok(protocol::ok_page(
        "datastoreSummaries",
        summaries.collect(),
        next,
    ))
}

async fn delete_datastore(
    State(app): AppState,
    Input(DatastoreRef(id)): Input<DatastoreRef>,
) -> Handler {
    let out = app.write(|s| s.delete_datastore(&id).map(DatastoreState::of))?;
    Ok(protocol::ok(&out))
}

// ---- import jobs ----------------------------------------------------------------------------

async fn start_import_job(State(app): AppState, Input(r): Input<StartImportJob>) -> Handler {
    let ds = r.datastore_id;
    let (job, is_new) = app.write(|s| s.submit_job(&ds, r.job))?;
    if is_new {
        super::import::spawn_job(app.clone(), ds.clone(), job.id.clone());
    }
    Ok(protocol::ok(&json!({
        "datastoreId": ds,
        "jobId": job.id,
        "jobStatus": job.status,
        "submittedAt": job.submitted_at,
    })))
}

async fn get_import_job(State(app): AppState, Input(r): Input<JobRef>) -> Handler {
    let store = app.read();
    let job = store.job(&r.datastore_id, &r.job_id)?;
    Ok(protocol::ok(
        &json!({"jobProperties": protocol::job_properties(job)}),
    ))
}

async fn list_import_jobs(State(app): AppState, Input(r): Input<ListJobs>) -> Handler {
    let ds = &r.datastore_id;
    let store = app.read();
    let jobs = store.list_jobs(ds, r.status)?;
    let status = r.status.map(JobStatus::as_str);
    let (page, next) = r.page.of(&jobs, &format!("jobs:{ds}:{status:?}"))?;
    let summaries = page.iter().map(|j| protocol::job_summary(j));
    Ok(protocol::ok_page("jobSummaries", summaries.collect(), next))
}

// ---- tags -----------------------------------------------------------------------------------

async fn tag_resource(State(app): AppState, Input(r): Input<TagResource>) -> Handler {
    app.write(|s| s.tag_resource(&r.arn, r.tags))?;
    Ok(protocol::ok(&json!({})))
}

async fn untag_resource(State(app): AppState, Input(r): Input<UntagResource>) -> Handler {
    app.write(|s| s.untag_resource(&r.arn, &r.keys))?;
    Ok(protocol::ok(&json!({})))
}

async fn list_tags(State(app): AppState, Input(ResourceArn(arn)): Input<ResourceArn>) -> Handler {
    let tags = app.read().list_tags(&arn)?;
    Ok(protocol::ok(&json!({"tags": tags})))
}

// ---- image sets -----------------------------------------------------------------------------

async fn search_image_sets(State(app): AppState, Input(r): Input<SearchImageSets>) -> Handler {
    let (ds, criteria) = (&r.datastore_id, &r.criteria);
    let query = search::parse(criteria)?;
    let store = app.read();
    let datastore = store.live_datastore(ds)?;
    let hits = search::run(datastore, &query);
    // Only the page returned is shaped into JSON.
    let (page, next) = r.page.of(&hits, &format!("search:{ds}:{criteria}"))?;
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
    Ok(protocol::ok(&out))
}

async fn get_image_set(State(app): AppState, Input(r): Input<ImageSetVersion>) -> Handler {
    let (ds, is) = r.ids.pair();
    let store = app.read();
    let set = store.image_set(ds, is)?;
    let version = r.version.as_deref();
    let v = set.version(version).ok_or_else(|| {
        ApiError::not_found(format!(
            "Version {} of image set {is} does not exist",
            version.unwrap_or("")
        ))
    })?;
    Ok(protocol::ok(&protocol::image_set_properties(
        ds,
        set,
        v,
        &app.account,
    )))
}

async fn get_image_set_metadata(State(app): AppState, Input(r): Input<ImageSetVersion>) -> Handler {
    let store = app.read();
    let (ds, is) = r.ids.pair();
    let doc = store.image_set_metadata(ds, is, r.version.as_deref())?;
    protocol::gzip_json(doc)
}

async fn get_image_frame(State(app): AppState, Input(r): Input<GetImageFrame>) -> Handler {
    let (ds, is) = r.ids.pair();
    let (blob, ts) = app.read().image_frame(ds, is, &r.image_frame_id)?;
    // The response shares the stored bytes (no copy).
    Ok(protocol::frame(Body::from(blob.bytes), &ts))
}

async fn list_image_set_versions(State(app): AppState, Input(r): Input<ListVersions>) -> Handler {
    let (ds, is) = r.ids.pair();
    let store = app.read();
    let set = store.image_set(ds, is)?;
    // Newest version first.
    let all: Vec<Value> = set
        .versions
        .iter()
        .rev()
        .map(|v| protocol::version_properties(set, v))
        .collect();
    let (page, next) = r.page.of(&all, &format!("versions:{ds}:{is}"))?;
    Ok(protocol::ok_page("imageSetPropertiesList", page, next))
}

async fn update_image_set_metadata(
    State(app): AppState,
    Input(r): Input<UpdateImageSet>,
) -> Handler {
    let UpdateImageSet {
        ids,
        latest_version,
        force,
        include_study,
        update,
    } = r;
    let (ds, is) = (ids.datastore_id, ids.image_set_id);
    let written =
        app.write(|s| s.update_image_set(&ds, &is, &latest_version, force, include_study, update))?;
    Ok(protocol::ok(&UpdateOutput {
        datastore_id: ds,
        image_set: WriteState::in_flight(&written, WorkflowStatus::Updating),
    }))
}

async fn copy_image_set(State(app): AppState, Input(r): Input<CopyImageSet>) -> Handler {
    let (ds, is) = (r.ids.datastore_id, r.ids.image_set_id);
    let written = app.write(|s| s.copy_image_set(&ds, &is, r.copy))?;
    let side = |id: &str, result, workflow| CopiedImageSet {
        image_set: WriteState::in_flight(result, workflow),
        image_set_arn: app.account.image_set_arn(&ds, id),
    };
    Ok(protocol::ok(&CopyOutput {
        source_image_set_properties: side(
            &is,
            &written.source,
            WorkflowStatus::CopyingWithReadOnlyAccess,
        ),
        destination_image_set_properties: side(
            &written.destination.image_set_id,
            &written.destination,
            WorkflowStatus::Copying,
        ),
        datastore_id: ds.clone(),
    }))
}

async fn delete_image_set(State(app): AppState, Input(r): Input<ImageSetRef>) -> Handler {
    let (ds, is) = r.pair();
    app.write(|s| s.delete_image_set(ds, is))?;
    Ok(protocol::ok(&json!({
        "datastoreId": r.datastore_id,
        "imageSetId": r.image_set_id,
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

    /// Every DICOMweb route but bulk data names the operation the engine's rate limits use.
    #[test]
    fn every_dicomweb_route_names_its_operation() {
        let study = "/datastore/{datastoreId}/studies/{study}";
        let series = format!("{study}/series/{{series}}");
        let instance = format!("{series}/instances/{{sop}}");
        let routes = [
            ("GET", "/datastore/{datastoreId}/studies".to_string()),
            ("POST", "/datastore/{datastoreId}/studies".into()),
            ("POST", study.into()),
            ("GET", format!("{study}/series")),
            ("GET", format!("{series}/instances")),
            ("GET", format!("{series}/metadata")),
            ("GET", instance.clone()),
            ("GET", format!("{instance}/metadata")),
            ("GET", format!("{instance}/frames/{{frames}}")),
        ];
        let mut named: Vec<&str> = routes
            .iter()
            .map(|(m, t)| operation(&m.parse().unwrap(), t).unwrap_or_else(|| panic!("{m} {t}")))
            .collect();
        named.sort_unstable();
        // HealthImaging's DICOMweb operation names (the same the engine's rate limits use).
        let mut all = vec![
            "GetDICOMInstance",
            "GetDICOMInstanceFrames",
            "GetDICOMInstanceMetadata",
            "GetDICOMSeriesMetadata",
            "SearchDICOMInstances",
            "SearchDICOMSeries",
            "SearchDICOMStudies",
            "StoreDICOM",
            "StoreDICOMStudy",
        ];
        all.sort_unstable();
        assert_eq!(named, all);
        let bulk = format!("{instance}/bulkdata/{{path}}");
        assert_eq!(operation(&Method::GET, &bulk), None);
    }
}
