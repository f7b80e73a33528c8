//! WADO-RS answers (PS3.18 §10.4): content negotiation on `Accept`, the DICOM JSON of an
//! instance, a Part-10 instance in the stored or an uncompressed syntax, frames and bulk data
//! as `multipart/related`.

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use dicom_core::value::Value as DicomValue;
use dicom_object::InMemDicomObject;
use serde_json::{Map, Value};

use super::lookup::InstanceView;
use crate::dicom::decode;
use crate::dicom::json_model::{to_json_model, BulkData};
use crate::dicom::part10::{self, dataset_from_levels, pixel_info, tag_of_key, Part10Error};
use crate::dicomweb::media::{
    self, MediaType, DICOM, DICOM_JSON, EXPLICIT_VR_LE, MULTIPART_RELATED, OCTET_STREAM,
};
use crate::dicomweb::multipart_write::{self, Part};
use crate::local::error::{ApiError, ApiResult, ErrorKind};

pub fn not_acceptable(what: &str, accept: Option<&str>) -> ApiError {
    ApiError::new(
        ErrorKind::NotAcceptable,
        format!(
            "None of the media types in Accept ({}) can be served for {what}",
            accept.unwrap_or("")
        ),
    )
}

/// `application/dicom+json` is the only representation of metadata and search results.
pub fn require_json(accept: Option<&str>, what: &str) -> ApiResult<()> {
    let ranges = media::parse_accept(accept);
    if ranges
        .iter()
        .any(|r| r.accepts(DICOM_JSON) || r.essence == "application/json")
    {
        Ok(())
    } else {
        Err(not_acceptable(what, accept))
    }
}

pub fn json_response(items: Vec<Value>) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, DICOM_JSON)
        .body(Body::from(Value::Array(items).to_string()))
        .expect("static headers")
}

/// The data set of an instance (all levels; no file meta, no pixel data).
pub fn dataset(inst: &InstanceView) -> InMemDicomObject {
    dataset_from_levels(&inst.levels(), inst.vrs())
}

/// An instance's DICOM JSON, large binaries as bulk data URIs under `bulk_base`.
pub fn instance_json(inst: &InstanceView, bulk_base: &str, query: &str) -> Value {
    let bulk = BulkData {
        base: bulk_base,
        query,
    };
    Value::Object(to_json_model(&dataset(inst), Some(&bulk)))
}

/// How an instance or its frames are to be sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Frames decoded to Explicit VR Little Endian (else as stored).
    pub uncompressed: bool,
    /// Wrapped in `multipart/related` (else a single body).
    pub multipart: bool,
    /// The part (or body) media type.
    pub part_type: String,
}

/// The transfer syntax parameter asks for the stored syntax (`*`, the stored UID, or absent
/// when `default_stored`), for Explicit VR Little Endian, or for something else (`None`).
fn syntax_choice(r: &MediaType, stored: &str, default_stored: bool) -> Option<bool> {
    match r.transfer_syntax() {
        None => Some(!default_stored),
        Some("*") => Some(false),
        Some(ts) if ts == stored => Some(false),
        Some(EXPLICIT_VR_LE) => Some(true),
        Some(_) => None,
    }
}

/// An instance: `application/dicom` (as AWS sends it), or one part of
/// `multipart/related; type="application/dicom"` for clients that ask so (PS3.18's default).
pub fn choose_instance(accept: Option<&str>, stored: &str) -> ApiResult<Choice> {
    for r in media::parse_accept(accept) {
        let multipart = r.essence == MULTIPART_RELATED;
        let fits = if multipart {
            r.param("type").is_none_or(|t| t == DICOM)
        } else {
            r.accepts(DICOM)
        };
        if !fits {
            continue;
        }
        if let Some(uncompressed) = syntax_choice(&r, stored, true) {
            return Ok(Choice {
                uncompressed,
                multipart,
                part_type: DICOM.into(),
            });
        }
    }
    Err(not_acceptable("an instance", accept))
}

/// Frames: `multipart/related` with `type` application/octet-stream (uncompressed unless the
/// transfer syntax says `*` or the stored one) or the stored syntax's image type.
pub fn choose_frames(accept: Option<&str>, stored: &str) -> ApiResult<Choice> {
    let stored_type = crate::local::protocol::frame_content_type(stored);
    for r in media::parse_accept(accept) {
        let part_type = match (r.essence.as_str(), r.param("type")) {
            (MULTIPART_RELATED, None) | ("*/*", _) => OCTET_STREAM.to_string(),
            (MULTIPART_RELATED, Some(t)) => t.to_string(),
            _ => continue,
        };
        let uncompressed = if part_type == OCTET_STREAM {
            syntax_choice(&r, stored, false)
        } else if part_type == stored_type {
            Some(false)
        } else {
            None
        };
        // A native stored syntax is already uncompressed.
        if let Some(uncompressed) = uncompressed {
            return Ok(Choice {
                uncompressed: uncompressed || decode::is_native_transfer_syntax(stored),
                multipart: true,
                part_type,
            });
        }
    }
    Err(not_acceptable("frames", accept))
}

/// An instance's frames (bytes as stored, in frame order) are fetched by the caller.
pub fn part10(inst: &InstanceView, frames: &[Vec<u8>], uncompressed: bool) -> ApiResult<Vec<u8>> {
    let meta = inst.attrs().cloned().unwrap_or_default();
    part10::write_part10(
        dataset(inst),
        &meta,
        inst.stored_transfer_syntax(),
        frames,
        uncompressed,
    )
    .map_err(part10_error)
}

fn part10_error(e: Part10Error) -> ApiError {
    match e {
        Part10Error::NotConvertible(_) => ApiError::new(ErrorKind::NotAcceptable, e.to_string()),
        Part10Error::Decode(..) | Part10Error::Write(_) => ApiError::internal(e.to_string()),
    }
}

/// The transfer syntax an answer is in.
pub fn answer_syntax(choice: &Choice, stored: &str) -> String {
    if choice.uncompressed || decode::is_native_transfer_syntax(stored) {
        EXPLICIT_VR_LE.into()
    } else {
        stored.into()
    }
}

pub fn instance_response(body: Vec<u8>, choice: &Choice, ts: &str) -> Response {
    if choice.multipart {
        let parts = [Part {
            content_type: format!("{DICOM}; transfer-syntax={ts}"),
            body: Bytes::from(body),
        }];
        multipart(&parts, DICOM, Some(ts))
    } else {
        Response::builder()
            .status(StatusCode::OK)
            .header(
                header::CONTENT_TYPE,
                format!("{DICOM}; transfer-syntax={ts}"),
            )
            .body(Body::from(body))
            .expect("static headers")
    }
}

pub fn multipart(parts: &[Part], part_type: &str, ts: Option<&str>) -> Response {
    let boundary = multipart_write::boundary_for(parts);
    Response::builder()
        .status(StatusCode::OK)
        .header(
            header::CONTENT_TYPE,
            multipart_write::content_type(part_type, &boundary, ts),
        )
        .body(Body::from(multipart_write::write(parts, &boundary)))
        .expect("static headers")
}

/// The 1-based frame numbers of a `frameList` (comma-separated, no duplicates).
pub fn frame_numbers(list: &str, count: usize) -> ApiResult<Vec<usize>> {
    let mut out: Vec<usize> = Vec::new();
    for piece in list.split(',') {
        let n: usize = piece
            .trim()
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                ApiError::validation(format!(
                    "frame list '{list}' must be comma-separated frame numbers starting at 1"
                ))
            })?;
        if out.contains(&n) {
            return Err(ApiError::validation(format!(
                "frame {n} is listed twice in '{list}'"
            )));
        }
        if n > count {
            return Err(ApiError::not_found(format!(
                "frame {n} does not exist; the instance has {count} frame(s)"
            )));
        }
        out.push(n);
    }
    Ok(out)
}

/// One frame as sent: as stored, or decoded to native little-endian samples.
pub fn frame_bytes(
    inst: &InstanceView,
    stored: Bytes,
    number: usize,
    uncompressed: bool,
) -> ApiResult<Bytes> {
    let ts = inst.stored_transfer_syntax();
    let native_le = ts == EXPLICIT_VR_LE || ts == "1.2.840.10008.1.2";
    if !uncompressed || native_le {
        return Ok(stored);
    }
    if !decode::is_decodable_transfer_syntax(ts) {
        return Err(part10_error(Part10Error::NotConvertible(ts.to_string())));
    }
    let ds = dataset(inst);
    let info = pixel_info(&ds);
    let planar = ds
        .element(dicom_dictionary_std::tags::PLANAR_CONFIGURATION)
        .ok()
        .and_then(|e| e.to_int::<u16>().ok())
        .unwrap_or(0);
    let d = decode::decode_frame_planar(&stored, ts, &info, planar)
        .map_err(|e| part10_error(Part10Error::Decode(number, e)))?;
    let bytes: Vec<u8> = match info.bits_allocated {
        8 => d.samples.iter().map(|&s| s as u8).collect(),
        32 => d.samples.iter().flat_map(|&s| s.to_le_bytes()).collect(),
        _ => d
            .samples
            .iter()
            .flat_map(|&s| (s as u16).to_le_bytes())
            .collect(),
    };
    Ok(Bytes::from(bytes))
}

/// The value of the bulk data attribute at `path` (`GGGGEEEE[.item.GGGGEEEE…]`).
pub fn bulk_value(inst: &InstanceView, path: &str) -> ApiResult<Vec<u8>> {
    let missing = || ApiError::not_found(format!("No bulk data at {path} in this instance"));
    let ds = dataset(inst);
    let mut obj = &ds;
    let mut pieces = path.split('.').peekable();
    while let Some(key) = pieces.next() {
        let tag = tag_of_key(key)
            .filter(|_| key.len() == 8)
            .ok_or_else(missing)?;
        let elem = obj.element(tag).map_err(|_| missing())?;
        match (elem.value(), pieces.peek()) {
            (DicomValue::Primitive(p), None) => {
                return Ok(crate::dicom::json::primitive_le_bytes(p));
            }
            (DicomValue::Sequence(seq), Some(_)) => {
                let i: usize = pieces
                    .next()
                    .and_then(|i| i.parse().ok())
                    .ok_or_else(missing)?;
                obj = seq.items().get(i).ok_or_else(missing)?;
            }
            _ => return Err(missing()),
        }
    }
    Err(missing())
}

/// QIDO-RS/WADO-RS results built from metadata-form attributes.
pub fn json_of_attrs(attrs: &Map<String, Value>, vrs: Option<&Map<String, Value>>) -> Value {
    Value::Object(to_json_model(&dataset_from_levels(&[attrs], vrs), None))
}

/// Frame count of an instance (for frame list checks).
pub fn frame_count(inst: &InstanceView) -> usize {
    inst.frame_ids().len()
}
