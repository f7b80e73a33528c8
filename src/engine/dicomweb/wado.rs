//! WADO-RS retrieval: series and instance metadata (DICOM JSON), and whole instances as Part-10
//! files, streamed to a writer as they arrive (a single `application/dicom` body, or the first
//! part of a `multipart/related` one).

use std::pin::Pin;

use http_body::Body as _;
use serde_json::Value;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::{body_bytes, client, uid, Request};
use crate::dicomweb::multipart_read::{self, MultipartReader};
use crate::engine::{EngineError, EngineResult, ErrorType};

/// Largest metadata answer read (a series of a few thousand instances).
const MAX_METADATA: usize = 256 * 1024 * 1024;

/// Explicit VR Little Endian, the uncompressed syntax HealthImaging converts to on request.
pub const EXPLICIT_VR_LITTLE_ENDIAN: &str = "1.2.840.10008.1.2.1";

/// Which instance(s): data store, study, series, and an image set for non-primary data.
#[derive(Debug, Clone)]
pub struct Where {
    pub datastore_id: String,
    pub study_instance_uid: String,
    pub series_instance_uid: String,
    pub image_set_id: Option<String>,
}

impl Where {
    fn path(&self) -> EngineResult<String> {
        crate::engine::validate::shape(
            "datastore_id",
            &self.datastore_id,
            crate::model::constraints::Shape::ResourceId,
        )?;
        Ok(format!(
            "/studies/{}/series/{}",
            uid("study_instance_uid", &self.study_instance_uid)?,
            uid("series_instance_uid", &self.series_instance_uid)?
        ))
    }

    fn finish(&self, mut req: Request) -> EngineResult<Request> {
        if let Some(id) = &self.image_set_id {
            crate::engine::validate::shape(
                "image_set_id",
                id,
                crate::model::constraints::Shape::ResourceId,
            )?;
            req.query.push(("imageSetId".into(), id.clone()));
        }
        Ok(req)
    }
}

async fn json_array(w: &Where, req: Request) -> EngineResult<Vec<Value>> {
    let req = w.finish(req)?;
    let c = client().await?;
    let resp = c.send(&w.datastore_id, &req).await?;
    let body = body_bytes(resp, MAX_METADATA).await?;
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(items)) => Ok(items),
        _ => Err(EngineError::new(
            ErrorType::Service,
            format!("{}: the answer is not a DICOM JSON array", req.operation),
        )),
    }
}

/// GetDICOMSeriesMetadata: one DICOM JSON object per instance.
pub async fn series_metadata(w: &Where) -> EngineResult<Vec<Value>> {
    let path = format!("{}/metadata", w.path()?);
    json_array(
        w,
        Request::get("GetDICOMSeriesMetadata", path, "application/dicom+json"),
    )
    .await
}

/// GetDICOMInstanceMetadata: the instance's DICOM JSON object.
pub async fn instance_metadata(w: &Where, sop_instance_uid: &str) -> EngineResult<Value> {
    let path = format!(
        "{}/instances/{}/metadata",
        w.path()?,
        uid("sop_instance_uid", sop_instance_uid)?
    );
    let mut items = json_array(
        w,
        Request::get("GetDICOMInstanceMetadata", path, "application/dicom+json"),
    )
    .await?;
    if items.is_empty() {
        return Err(EngineError::new(
            ErrorType::Service,
            "GetDICOMInstanceMetadata: the answer is empty",
        ));
    }
    Ok(items.swap_remove(0))
}

/// GetDICOMInstance: streams the Part-10 file into `out`; the number of bytes written.
/// `transfer_syntax` is a UID, or `None` for the stored syntax.
pub async fn instance<W: AsyncWrite + Unpin>(
    w: &Where,
    sop_instance_uid: &str,
    transfer_syntax: Option<&str>,
    out: &mut W,
) -> EngineResult<u64> {
    let path = format!(
        "{}/instances/{}",
        w.path()?,
        uid("sop_instance_uid", sop_instance_uid)?
    );
    let accept = format!(
        "application/dicom; transfer-syntax={}",
        transfer_syntax.unwrap_or("*")
    );
    let req = w.finish(Request::get("GetDICOMInstance", path, &accept))?;
    let c = client().await?;
    let resp = c.send(&w.datastore_id, &req).await?;
    let content_type = resp
        .headers()
        .get("content-type")
        .unwrap_or_default()
        .to_string();
    let failed = |e: String| {
        EngineError::new(
            ErrorType::Service,
            format!("GetDICOMInstance: reading the answer failed: {e}"),
        )
    };
    let written_err = |e: std::io::Error| EngineError::server(format!("writing the file: {e}"));
    let mut written = 0u64;
    let body = resp.into_body();
    match multipart_read::boundary(&content_type) {
        Some(boundary) => {
            let mut parts = MultipartReader::new(body, &boundary);
            if parts
                .next_part()
                .await
                .map_err(|e| failed(e.to_string()))?
                .is_none()
            {
                return Err(failed("no part in the multipart answer".into()));
            }
            while let Some(piece) = parts.chunk().await.map_err(|e| failed(e.to_string()))? {
                out.write_all(&piece).await.map_err(written_err)?;
                written += piece.len() as u64;
            }
        }
        None => {
            let mut body = body;
            while let Some(frame) =
                std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
            {
                let frame = frame.map_err(|e| failed(e.to_string()))?;
                if let Ok(data) = frame.into_data() {
                    out.write_all(&data).await.map_err(written_err)?;
                    written += data.len() as u64;
                }
            }
        }
    }
    out.flush().await.map_err(written_err)?;
    Ok(written)
}
