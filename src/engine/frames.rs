//! get_image_frame: one frame's stored bytes (base64) and content type, as the original
//! returned them.

use base64::Engine;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::client;
use super::error::{from_sdk, EngineError, EngineResult, ErrorType};
use super::validate;

/// The frame ID from `{"imageFrameId": "..."}` (the API's ImageFrameInformation).
pub fn frame_id(info: &Value) -> EngineResult<String> {
    let id = info
        .get("imageFrameId")
        .or_else(|| info.get("image_frame_id"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            EngineError::invalid(
                "image_frame_information",
                "must be {\"imageFrameId\": \"<32 chars [0-9a-z]>\"}",
            )
        })?;
    validate::id("image_frame_information.imageFrameId", id)?;
    Ok(id.to_string())
}

/// Raw frame bytes and content type.
pub async fn fetch_frame(
    datastore_id: &str,
    image_set_id: &str,
    frame_id: &str,
) -> EngineResult<(Vec<u8>, String)> {
    let out = client()
        .await
        .get_image_frame()
        .datastore_id(datastore_id)
        .image_set_id(image_set_id)
        .image_frame_information(
            aws_sdk_medicalimaging::types::ImageFrameInformation::builder()
                .image_frame_id(frame_id)
                .build()
                .map_err(|e| EngineError::server(e.to_string()))?,
        )
        .send()
        .await
        .map_err(|e| from_sdk("GetImageFrame", e))?;
    let content_type = out
        .content_type()
        .unwrap_or("application/octet-stream")
        .to_string();
    let bytes = out
        .image_frame_blob
        .collect()
        .await
        .map_err(|e| {
            EngineError::new(ErrorType::Service, format!("reading the frame failed: {e}"))
        })?
        .into_bytes();
    Ok((bytes.to_vec(), content_type))
}

/// GetImageFrame's answer: the frame as stored (HTJ2K or JPEG 2000), base64-encoded.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ImageFrame {
    pub image_frame_id: String,
    pub content_type: String,
    pub size_bytes: usize,
    /// The frame's bytes, base64.
    pub image_frame_blob: String,
}

pub async fn get_image_frame(
    datastore_id: String,
    image_set_id: String,
    image_frame_information: Value,
) -> EngineResult<ImageFrame> {
    validate::id("datastore_id", &datastore_id)?;
    validate::id("image_set_id", &image_set_id)?;
    let id = frame_id(&image_frame_information)?;
    let (bytes, content_type) = fetch_frame(&datastore_id, &image_set_id, &id).await?;
    Ok(ImageFrame {
        image_frame_id: id,
        content_type,
        size_bytes: bytes.len(),
        image_frame_blob: base64::engine::general_purpose::STANDARD.encode(&bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::convert::testing::required;

    #[test]
    fn frame_output_has_every_field_required() {
        assert_eq!(
            required::<ImageFrame>(None),
            [
                "content_type",
                "image_frame_blob",
                "image_frame_id",
                "size_bytes"
            ]
        );
        let f = ImageFrame {
            image_frame_id: "f".into(),
            content_type: "image/jph".into(),
            size_bytes: 2,
            image_frame_blob: "AAE=".into(),
        };
        assert_eq!(
            serde_json::to_value(&f).unwrap(),
            serde_json::json!({"image_frame_id": "f", "content_type": "image/jph",
                               "size_bytes": 2, "image_frame_blob": "AAE="})
        );
    }
}
