//! STOW-RS (PS3.18 §10.5) as HealthImaging serves it (StoreDICOM, StoreDICOMStudy): one Part-10
//! file as `application/dicom`, or several as `multipart/related; type="application/dicom"`;
//! each instance is parsed and placed exactly as an import job places it (the same code), in
//! one durable write; the answer lists stored and failed SOP instances.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use crate::dicomweb::media::{self, DICOM, DICOM_JSON, MULTIPART_RELATED};
use crate::dicomweb::multipart_read::{self, MultipartReader};
use crate::local::app::App;
use crate::local::error::{ApiError, ApiResult, ErrorKind};
use crate::local::import::job::store_instances;
use crate::local::import::parse::{parse_part10, ParsedInstance};

/// PS3.18 Table 10.5.3-2 / PS3.4 failure reasons used here.
const PROCESSING_FAILURE: u16 = 0x0110;
const NOT_UNDERSTOOD: u16 = 0xC000;
const STUDY_MISMATCH: u16 = 0xA900;

/// One part of the request, as received.
struct Upload {
    content_type: Option<String>,
    bytes: bytes::Bytes,
}

/// A stored instance and where it landed (image set ID, whether primary).
type Stored = (ParsedInstance, (String, bool));

/// A part that was not stored, and why.
struct Failure {
    sop_class: Option<String>,
    sop_instance: Option<String>,
    reason: u16,
}

fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::BadRequest, message)
}

/// The parts of the body (already bounded by the front door's STOW-RS limit).
async fn uploads(headers: &HeaderMap, body: Body) -> ApiResult<Vec<Upload>> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = media::parse(content_type);
    let unsupported = || {
        ApiError::new(
            ErrorKind::UnsupportedMediaType,
            format!(
                "Content-Type '{content_type}' is not accepted; send application/dicom or multipart/related; type=\"application/dicom\""
            ),
        )
    };
    let media = media.ok_or_else(unsupported)?;
    if media.essence == DICOM {
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .map_err(|_| bad_request("The request body could not be read."))?;
        return Ok(vec![Upload {
            content_type: Some(DICOM.into()),
            bytes,
        }]);
    }
    if media.essence != MULTIPART_RELATED || media.param("type").is_some_and(|t| t != DICOM) {
        return Err(unsupported());
    }
    let boundary = multipart_read::boundary(content_type)
        .ok_or_else(|| bad_request("The multipart/related Content-Type has no valid boundary."))?;
    let mut reader = MultipartReader::new(body, &boundary);
    let mut out = Vec::new();
    let malformed =
        |e: multipart_read::MultipartError| bad_request(format!("Malformed multipart body: {e}"));
    while let Some(part) = reader.next_part().await.map_err(malformed)? {
        let bytes = reader.part_bytes(usize::MAX).await.map_err(malformed)?;
        out.push(Upload {
            content_type: part.content_type().map(str::to_owned),
            bytes,
        });
    }
    if out.is_empty() {
        return Err(bad_request("The multipart body holds no parts."));
    }
    Ok(out)
}

fn uid_item(class: Option<&str>, instance: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(c) = class {
        m.insert("00081150".into(), json!({"vr": "UI", "Value": [c]}));
    }
    if let Some(i) = instance {
        m.insert("00081155".into(), json!({"vr": "UI", "Value": [i]}));
    }
    m
}

fn sop_class(i: &ParsedInstance) -> Option<String> {
    i.instance
        .get("SOPClassUID")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// StoreDICOM: `POST /datastore/{datastoreId}/studies`.
pub async fn store(
    State(app): State<Arc<App>>,
    Path(ds): Path<String>,
    req: Request,
) -> ApiResult<Response> {
    run(app, ds, None, req).await
}

/// StoreDICOMStudy: `POST /datastore/{datastoreId}/studies/{StudyInstanceUID}`; instances of
/// another study fail.
pub async fn store_study(
    State(app): State<Arc<App>>,
    Path((ds, study)): Path<(String, String)>,
    req: Request,
) -> ApiResult<Response> {
    run(app, ds, Some(study), req).await
}

async fn run(
    app: Arc<App>,
    ds: String,
    study: Option<String>,
    req: Request,
) -> ApiResult<Response> {
    let (parts, body) = req.into_parts();
    let accept = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    super::wado::require_json(accept, "a STOW-RS response")?;
    // The data store must exist before anything is parsed.
    app.read().live_datastore(&ds)?;
    let uploads = uploads(&parts.headers, body).await?;
    let base_url = super::base_url(&app, &parts.headers);
    let app2 = app.clone();
    let ds2 = ds.clone();
    // Parsing and storing are blocking work (as in import jobs).
    let (stored, failed) =
        tokio::task::spawn_blocking(move || store_uploads(&app2, &ds2, study.as_deref(), uploads))
            .await
            .map_err(|e| ApiError::internal(format!("storing failed: {e}")))??;
    let base = format!("{base_url}/datastore/{ds}/studies");
    let mut out = Map::new();
    let mut studies: Vec<&str> = stored.iter().map(|(i, _)| i.study_uid.as_str()).collect();
    studies.sort_unstable();
    studies.dedup();
    if let [only] = studies.as_slice() {
        out.insert(
            "00081190".into(),
            json!({"vr": "UR", "Value": [format!("{base}/{only}")]}),
        );
    }
    if !failed.is_empty() {
        let items: Vec<Value> = failed
            .iter()
            .map(|f| {
                let mut m = uid_item(f.sop_class.as_deref(), f.sop_instance.as_deref());
                m.insert("00081197".into(), json!({"vr": "US", "Value": [f.reason]}));
                Value::Object(m)
            })
            .collect();
        out.insert("00081198".into(), json!({"vr": "SQ", "Value": items}));
    }
    if !stored.is_empty() {
        let items: Vec<Value> = stored
            .iter()
            .map(|(i, _)| {
                let mut m = uid_item(sop_class(i).as_deref(), Some(&i.sop_uid));
                m.insert(
                    "00081190".into(),
                    json!({"vr": "UR", "Value": [format!(
                        "{base}/{}/series/{}/instances/{}",
                        i.study_uid, i.series_uid, i.sop_uid
                    )]}),
                );
                Value::Object(m)
            })
            .collect();
        out.insert("00081199".into(), json!({"vr": "SQ", "Value": items}));
    }
    let status = match (stored.is_empty(), failed.is_empty()) {
        (false, true) => StatusCode::OK,
        (false, false) => StatusCode::ACCEPTED,
        (true, _) => StatusCode::CONFLICT,
    };
    Ok(Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, DICOM_JSON)
        .body(Body::from(Value::Object(out).to_string()))
        .expect("static headers"))
}

/// Parses each part and stores the instances that parse, in one write.
fn store_uploads(
    app: &App,
    ds: &str,
    study: Option<&str>,
    uploads: Vec<Upload>,
) -> ApiResult<(Vec<Stored>, Vec<Failure>)> {
    let mut failed = Vec::new();
    let mut good = Vec::new();
    for u in uploads {
        let is_dicom = u
            .content_type
            .as_deref()
            .and_then(media::parse)
            .is_none_or(|m| m.essence == DICOM);
        if !is_dicom {
            failed.push(Failure {
                sop_class: None,
                sop_instance: None,
                reason: NOT_UNDERSTOOD,
            });
            continue;
        }
        match parse_part10(&u.bytes) {
            Ok(i) if study.is_some_and(|s| s != i.study_uid) => failed.push(Failure {
                sop_class: sop_class(&i),
                sop_instance: Some(i.sop_uid.clone()),
                reason: STUDY_MISMATCH,
            }),
            Ok(i) => good.push(i),
            Err(_) => failed.push(Failure {
                sop_class: None,
                sop_instance: None,
                reason: NOT_UNDERSTOOD,
            }),
        }
    }
    if good.is_empty() {
        return Ok((Vec::new(), failed));
    }
    match store_instances(app, ds, good.clone()) {
        Ok(landed) => Ok((good.into_iter().zip(landed).collect(), failed)),
        Err(e) if e.kind == ErrorKind::ResourceNotFound => Err(e),
        Err(e) => {
            tracing::error!(
                "STOW-RS could not store {} instance(s): {}",
                good.len(),
                e.message
            );
            failed.extend(good.iter().map(|i| Failure {
                sop_class: sop_class(i),
                sop_instance: Some(i.sop_uid.clone()),
                reason: PROCESSING_FAILURE,
            }));
            Ok((Vec::new(), failed))
        }
    }
}
