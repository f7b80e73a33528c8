//! The local HealthImaging's DICOMweb APIs (reference §7), on the same port and behind the same
//! front door (SigV4 with service `medical-imaging`, error shape) as the native API, under
//! `/datastore/{datastoreId}/studies…` exactly as AWS serves them: QIDO-RS search (`qido`),
//! WADO-RS retrieval (`wado`), STOW-RS upload (`stow`), reading the store through `lookup`.

pub mod lookup;
pub mod qido;
pub mod stow;
pub mod wado;

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};

use self::lookup::{InstanceView, SeriesView, StudyView};
use self::qido::{Level, Query};
use crate::dicom::part10::tag_of_key;
use crate::dicomweb::media::OCTET_STREAM;
use crate::dicomweb::multipart_write::Part;
use crate::local::app::App;
use crate::local::error::ApiResult;
use crate::local::protocol::Params;
use crate::local::state::{Datastore, Store, TextField};

type AppState = State<Arc<App>>;
type Handler = ApiResult<Response>;

/// The DICOMweb routes, to be merged into the native router (before its fallback).
pub fn routes() -> Router<Arc<App>> {
    let study = "/datastore/{datastoreId}/studies/{study}";
    let series = format!("{study}/series/{{series}}");
    let instance = format!("{series}/instances/{{sop}}");
    Router::new()
        .route(
            "/datastore/{datastoreId}/studies",
            get(search_studies).post(stow::store),
        )
        .route(study, axum::routing::post(stow::store_study))
        .route(&format!("{study}/series"), get(search_series))
        .route(&format!("{series}/instances"), get(search_instances))
        .route(&format!("{series}/metadata"), get(series_metadata))
        .route(&instance, get(get_instance))
        .route(&format!("{instance}/metadata"), get(instance_metadata))
        .route(&format!("{instance}/frames/{{frames}}"), get(get_frames))
        .route(&format!("{instance}/bulkdata/{{path}}"), get(get_bulk_data))
}

/// Whether a request is a STOW-RS upload (which has its own body size limit).
pub fn is_store_request(method: &axum::http::Method, path: &str) -> bool {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    method == axum::http::Method::POST
        && matches!(
            segments.as_slice(),
            ["datastore", _, "studies"] | ["datastore", _, "studies", _]
        )
}

fn accept(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())
}

/// `http://host[:port]` as the client addressed us (for RetrieveURL and BulkDataURI). Some
/// SigV4 signers send a loopback Host without its port; the bound port is added then.
pub fn base_url(app: &App, headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let has_port = host
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.is_empty() && !p.contains(']'));
    let loopback =
        ["localhost", "127.0.0.1", "[::1]"].contains(&host.to_ascii_lowercase().as_str());
    match app.bound_port.get() {
        Some(port) if !has_port && loopback => format!("http://{host}:{port}"),
        _ => format!("http://{host}"),
    }
}

fn params(uri: &Uri) -> Params {
    Params::parse(uri.query())
}

fn image_set_param(uri: &Uri) -> Option<String> {
    params(uri).get("imageSetId").map(str::to_owned)
}

fn datastore<'a>(store: &'a Store, id: &str) -> ApiResult<&'a Datastore> {
    store.live_datastore(id)
}

/// Sorting key of an IS attribute (missing or unreadable last).
fn number_key(attrs: Option<&Map<String, Value>>, keyword: &str) -> (bool, i64) {
    let n = qido::values_of(attrs, keyword)
        .first()
        .and_then(|v| v.trim().parse::<i64>().ok());
    (n.is_none(), n.unwrap_or(0))
}

/// Keeps the wanted attributes of `attrs` (metadata form) for a result of `level`.
fn select(query: &Query, level: Level, attrs: &Map<String, Value>, out: &mut Map<String, Value>) {
    for (k, v) in attrs {
        let hex = tag_of_key(k)
            .map(crate::dicom::json::hex_key)
            .unwrap_or_default();
        if qido::wanted(query, level, k, &hex) {
            out.insert(k.clone(), v.clone());
        }
    }
}

// ---- QIDO-RS --------------------------------------------------------------------------------

fn study_computed(s: &StudyView) -> Map<String, Value> {
    let series = s.series();
    let mut modalities: Vec<String> = series
        .values()
        .flat_map(|e| qido::values_of(e.get("DICOM").and_then(Value::as_object), "Modality"))
        .collect();
    modalities.sort();
    modalities.dedup();
    let instances: usize = series
        .values()
        .map(|e| {
            e.get("Instances")
                .and_then(Value::as_object)
                .map_or(0, |m| m.len())
        })
        .sum();
    let mut m = Map::new();
    m.insert("ModalitiesInStudy".into(), json!(modalities));
    m.insert(
        "NumberOfStudyRelatedSeries".into(),
        json!(series.len().to_string()),
    );
    m.insert(
        "NumberOfStudyRelatedInstances".into(),
        json!(instances.to_string()),
    );
    m
}

async fn search_studies(
    State(app): AppState,
    Path(ds_id): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Handler {
    wado::require_json(accept(&headers), "search results")?;
    let query = Query::parse(&params(&uri), Level::Study)?;
    let store = app.read();
    let ds = datastore(&store, &ds_id)?;
    // A UID, patient or accession key narrows the candidates through the index.
    let exact = |k: &str| {
        query
            .filters
            .iter()
            .find(|f| f.keyword == k)
            .map(|f| f.value_text())
            .filter(|v| !v.is_empty() && !v.contains(['*', '?', '\\']))
    };
    let sets = if let Some(uid) = exact("StudyInstanceUID") {
        lookup::primary_with(ds, TextField::StudyInstanceUid, &uid)
    } else if let Some(pid) = exact("PatientID") {
        lookup::primary_with(ds, TextField::PatientId, &pid)
    } else if let Some(acc) = exact("AccessionNumber") {
        lookup::primary_with(ds, TextField::AccessionNumber, &acc)
    } else {
        lookup::all_primary(ds)
    };
    let mut studies: Vec<(StudyView, Map<String, Value>)> = lookup::studies(sets)
        .into_iter()
        .map(|s| {
            let mut attrs = s.patient().cloned().unwrap_or_default();
            attrs.extend(s.study().cloned().unwrap_or_default());
            attrs.extend(study_computed(&s));
            (s, attrs)
        })
        .filter(|(_, attrs)| query.admits(attrs))
        .collect();
    // Last update, newest first.
    studies.sort_by(|a, b| {
        b.0.updated_at()
            .total_cmp(&a.0.updated_at())
            .then_with(|| a.0.uid.cmp(&b.0.uid))
    });
    let base = format!("{}/datastore/{ds_id}/studies", base_url(&app, &headers));
    let out = query
        .window(studies)
        .into_iter()
        .map(|(s, attrs)| {
            let mut m = Map::new();
            select(&query, Level::Study, &attrs, &mut m);
            m.insert("RetrieveURL".into(), json!(format!("{base}/{}", s.uid)));
            wado::json_of_attrs(&m, s.vrs())
        })
        .collect();
    Ok(wado::json_response(out))
}

async fn search_series(
    State(app): AppState,
    Path((ds_id, study_uid)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Handler {
    wado::require_json(accept(&headers), "search results")?;
    let query = Query::parse(&params(&uri), Level::Series)?;
    let store = app.read();
    let ds = datastore(&store, &ds_id)?;
    let Ok(study) = lookup::study(ds, &study_uid) else {
        return Ok(wado::json_response(Vec::new()));
    };
    let mut rows: Vec<(String, Map<String, Value>)> = study
        .series()
        .into_iter()
        .map(|(uid, entry)| {
            let mut attrs = entry
                .get("DICOM")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            attrs.insert("SeriesInstanceUID".into(), json!(uid));
            attrs.insert("StudyInstanceUID".into(), json!(study.uid));
            let n = entry
                .get("Instances")
                .and_then(Value::as_object)
                .map_or(0, |m| m.len());
            attrs.insert(
                "NumberOfSeriesRelatedInstances".into(),
                json!(n.to_string()),
            );
            (uid.to_string(), attrs)
        })
        .filter(|(_, attrs)| query.admits(attrs))
        .collect();
    rows.sort_by(|a, b| {
        number_key(Some(&a.1), "SeriesNumber")
            .cmp(&number_key(Some(&b.1), "SeriesNumber"))
            .then_with(|| a.0.cmp(&b.0))
    });
    let base = format!(
        "{}/datastore/{ds_id}/studies/{study_uid}/series",
        base_url(&app, &headers)
    );
    let out = query
        .window(rows)
        .into_iter()
        .map(|(uid, attrs)| {
            let mut m = Map::new();
            select(&query, Level::Series, &attrs, &mut m);
            m.insert("RetrieveURL".into(), json!(format!("{base}/{uid}")));
            wado::json_of_attrs(&m, study.vrs())
        })
        .collect();
    Ok(wado::json_response(out))
}

fn instance_rows(series: &SeriesView, study_uid: &str) -> Vec<(String, Map<String, Value>)> {
    let mut rows: Vec<(String, Map<String, Value>)> = series
        .instances()
        .map(|(sop, entry)| {
            let mut attrs = entry
                .get("DICOM")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            attrs.retain(|k, _| {
                !k.starts_with("Media")
                    && !k.starts_with("FileMeta")
                    && !k.starts_with("Transfer")
                    && !k.starts_with("Implementation")
            });
            attrs.insert("SOPInstanceUID".into(), json!(sop));
            attrs.insert("SeriesInstanceUID".into(), json!(series.uid));
            attrs.insert("StudyInstanceUID".into(), json!(study_uid));
            (sop.to_string(), attrs)
        })
        .collect();
    rows.sort_by(|a, b| {
        number_key(Some(&a.1), "InstanceNumber")
            .cmp(&number_key(Some(&b.1), "InstanceNumber"))
            .then_with(|| a.0.cmp(&b.0))
    });
    rows
}

async fn search_instances(
    State(app): AppState,
    Path((ds_id, study_uid, series_uid)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Handler {
    wado::require_json(accept(&headers), "search results")?;
    let query = Query::parse(&params(&uri), Level::Instance)?;
    let store = app.read();
    let ds = datastore(&store, &ds_id)?;
    let Ok(series) = lookup::series(ds, &study_uid, &series_uid, None) else {
        return Ok(wado::json_response(Vec::new()));
    };
    let rows: Vec<_> = instance_rows(&series, &study_uid)
        .into_iter()
        .filter(|(_, attrs)| query.admits(attrs))
        .collect();
    let base = format!(
        "{}/datastore/{ds_id}/studies/{study_uid}/series/{series_uid}/instances",
        base_url(&app, &headers)
    );
    let vrs = series
        .instances()
        .next()
        .and_then(|(_, e)| e.get("DICOMVRs"))
        .and_then(Value::as_object);
    let out = query
        .window(rows)
        .into_iter()
        .map(|(sop, attrs)| {
            let mut m = Map::new();
            select(&query, Level::Instance, &attrs, &mut m);
            m.insert("RetrieveURL".into(), json!(format!("{base}/{sop}")));
            wado::json_of_attrs(&m, vrs)
        })
        .collect();
    Ok(wado::json_response(out))
}

// ---- WADO-RS --------------------------------------------------------------------------------

/// Where an instance's bulk data is served, and the query that keeps its image set.
fn bulk_base(
    app: &App,
    headers: &HeaderMap,
    ds: &str,
    study: &str,
    series: &str,
    sop: &str,
    uri: &Uri,
) -> (String, String) {
    let base = format!(
        "{}/datastore/{ds}/studies/{study}/series/{series}/instances/{sop}/bulkdata",
        base_url(app, headers)
    );
    let query = image_set_param(uri)
        .map(|id| format!("?imageSetId={id}"))
        .unwrap_or_default();
    (base, query)
}

async fn series_metadata(
    State(app): AppState,
    Path((ds_id, study_uid, series_uid)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Handler {
    wado::require_json(accept(&headers), "metadata")?;
    let store = app.read();
    let ds = datastore(&store, &ds_id)?;
    let image_set = image_set_param(&uri);
    let series = lookup::series(ds, &study_uid, &series_uid, image_set.as_deref())?;
    series.set.last_accessed_at.touch();
    let rows = instance_rows(&series, &study_uid);
    let mut out = Vec::with_capacity(rows.len());
    for (sop, _) in rows {
        let inst = lookup::instance(ds, &study_uid, &series_uid, &sop, image_set.as_deref())?;
        let (base, query) = bulk_base(&app, &headers, &ds_id, &study_uid, &series_uid, &sop, &uri);
        out.push(wado::instance_json(&inst, &base, &query));
    }
    Ok(wado::json_response(out))
}

type InstancePath = Path<(String, String, String, String)>;

/// Runs `f` on the instance a WADO-RS path names (`[datastore, study, series, sop]`), in the
/// image set `?imageSetId=` names or else the primary one, under one read of the store.
fn with_instance<T>(
    app: &App,
    uri: &Uri,
    [ds_id, study_uid, series_uid, sop]: [&str; 4],
    f: impl FnOnce(&Store, &InstanceView<'_>) -> ApiResult<T>,
) -> ApiResult<T> {
    let image_set = image_set_param(uri);
    let store = app.read();
    let ds = datastore(&store, ds_id)?;
    let inst = lookup::instance(ds, study_uid, series_uid, sop, image_set.as_deref())?;
    f(&store, &inst)
}

async fn instance_metadata(
    State(app): AppState,
    Path((ds_id, study_uid, series_uid, sop)): InstancePath,
    headers: HeaderMap,
    uri: Uri,
) -> Handler {
    wado::require_json(accept(&headers), "metadata")?;
    let at = [ds_id.as_str(), &study_uid, &series_uid, &sop];
    let json = with_instance(&app, &uri, at, |_, inst| {
        inst.series.set.last_accessed_at.touch();
        let (base, query) = bulk_base(&app, &headers, &ds_id, &study_uid, &series_uid, &sop, &uri);
        Ok(wado::instance_json(inst, &base, &query))
    })?;
    Ok(wado::json_response(vec![json]))
}

/// The stored bytes of the given frames (1-based) of an instance.
fn stored_frames(
    store: &Store,
    ds_id: &str,
    inst: &InstanceView,
    numbers: &[usize],
) -> ApiResult<Vec<bytes::Bytes>> {
    let ids = inst.frame_ids();
    numbers
        .iter()
        .map(|n| {
            let (blob, _) = store.image_frame(ds_id, &inst.series.set.id, ids[n - 1])?;
            Ok(blob.bytes)
        })
        .collect()
}

async fn get_instance(
    State(app): AppState,
    Path((ds_id, study_uid, series_uid, sop)): InstancePath,
    headers: HeaderMap,
    uri: Uri,
) -> Handler {
    let at = [ds_id.as_str(), &study_uid, &series_uid, &sop];
    let (body, choice, ts) = with_instance(&app, &uri, at, |store, inst| {
        let stored = inst.stored_transfer_syntax().to_string();
        let choice = wado::choose_instance(accept(&headers), &stored)?;
        let all: Vec<usize> = (1..=wado::frame_count(inst)).collect();
        let frames: Vec<Vec<u8>> = stored_frames(store, &ds_id, inst, &all)?
            .into_iter()
            .map(|b| b.to_vec())
            .collect();
        let body = wado::part10(inst, &frames, choice.uncompressed)?;
        let ts = wado::answer_syntax(&choice, &stored);
        Ok((body, choice, ts))
    })?;
    Ok(wado::instance_response(body, &choice, &ts))
}

async fn get_frames(
    State(app): AppState,
    Path((ds_id, study_uid, series_uid, sop, list)): Path<(String, String, String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Handler {
    let at = [ds_id.as_str(), &study_uid, &series_uid, &sop];
    with_instance(&app, &uri, at, |store, inst| {
        let stored = inst.stored_transfer_syntax().to_string();
        let choice = wado::choose_frames(accept(&headers), &stored)?;
        let numbers = wado::frame_numbers(&list, wado::frame_count(inst))?;
        let raw = stored_frames(store, &ds_id, inst, &numbers)?;
        let ts = wado::answer_syntax(&choice, &stored);
        let parts = raw
            .into_iter()
            .zip(&numbers)
            .map(|(b, n)| {
                Ok(Part {
                    content_type: format!("{}; transfer-syntax={ts}", choice.part_type),
                    body: wado::frame_bytes(inst, b, *n, choice.uncompressed)?,
                })
            })
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(wado::multipart(&parts, &choice.part_type, Some(&ts)))
    })
}

async fn get_bulk_data(
    State(app): AppState,
    Path((ds_id, study_uid, series_uid, sop, path)): Path<(String, String, String, String, String)>,
    uri: Uri,
    req: Request,
) -> Handler {
    let headers = req.headers();
    let ranges = crate::dicomweb::media::parse_accept(accept(headers));
    if !ranges
        .iter()
        .any(|r| r.accepts(OCTET_STREAM) || r.essence == "multipart/related")
    {
        return Err(wado::not_acceptable("bulk data", accept(headers)));
    }
    let at = [ds_id.as_str(), &study_uid, &series_uid, &sop];
    let value = with_instance(&app, &uri, at, |_, inst| wado::bulk_value(inst, &path))?;
    let parts = [Part {
        content_type: OCTET_STREAM.into(),
        body: value.into(),
    }];
    Ok(wado::multipart(&parts, OCTET_STREAM, None))
}
