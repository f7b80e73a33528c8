//! copy_image_set: copy a whole image set or selected series / SOP instances, into a new image
//! set or an existing one, within one data store.

use aws_sdk_medicalimaging::types::{
    CopyDestinationImageSet, CopyDestinationImageSetProperties, CopyImageSetInformation,
    CopySourceImageSetInformation, CopySourceImageSetProperties, ImageSetState,
    ImageSetWorkflowStatus, MetadataCopies,
};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::client;
use super::convert::{Named, Timestamp};
use super::error::{excerpt, from_sdk, EngineError, EngineResult};
use super::validate;
use crate::model::constraints::{self, Shape};

fn bad(rule: impl std::fmt::Display) -> EngineError {
    EngineError::invalid("copy_image_set_information", rule)
}

fn version(v: Option<&Value>, what: &str) -> EngineResult<String> {
    let v = match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(bad(format!(
                "{what}.latestVersionId is required (the image set's current version id)"
            )))
        }
    };
    validate::shape(
        &format!("copy_image_set_information.{what}.latestVersionId"),
        &v,
        Shape::VersionId,
    )?;
    Ok(v)
}

/// CopyImageSetInformation from `{"sourceImageSet": {"latestVersionId": "1", "DICOMCopies":
/// {"copiableAttributes": {...} | "<json>"}}, "destinationImageSet": {"imageSetId", "latestVersionId"}}`.
pub fn copy_information(v: &Value) -> EngineResult<CopyImageSetInformation> {
    let obj = v
        .as_object()
        .ok_or_else(|| bad("must be an object with sourceImageSet"))?;
    if let Some(k) = obj
        .keys()
        .find(|k| *k != "sourceImageSet" && *k != "destinationImageSet")
    {
        return Err(bad(format!(
            "unexpected key {}; allowed: sourceImageSet, destinationImageSet",
            excerpt(k)
        )));
    }
    let src = obj
        .get("sourceImageSet")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("sourceImageSet is required"))?;
    let copies = match src
        .get("DICOMCopies")
        .and_then(|c| c.get("copiableAttributes"))
    {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(o @ Value::Object(_)) => Some(o.to_string()),
        Some(_) => {
            return Err(bad(
                "DICOMCopies.copiableAttributes must be a JSON object or JSON text",
            ))
        }
    };
    if let Some(c) = &copies {
        if c.is_empty() || c.chars().count() > constraints::MAX_COPIABLE {
            return Err(bad(format!(
                "copiableAttributes must have 1 to {} characters",
                constraints::MAX_COPIABLE
            )));
        }
    }
    let source = CopySourceImageSetInformation::builder()
        .latest_version_id(version(src.get("latestVersionId"), "sourceImageSet")?)
        .set_dicom_copies(
            copies
                .map(|c| MetadataCopies::builder().copiable_attributes(c).build())
                .transpose()
                .map_err(|e| bad(e.to_string()))?,
        )
        .build()
        .map_err(|e| bad(e.to_string()))?;
    let destination = match obj.get("destinationImageSet") {
        None | Some(Value::Null) => None,
        Some(d) => {
            let id = d
                .get("imageSetId")
                .and_then(Value::as_str)
                .ok_or_else(|| bad("destinationImageSet.imageSetId is required"))?;
            validate::id(
                "copy_image_set_information.destinationImageSet.imageSetId",
                id,
            )?;
            Some(
                CopyDestinationImageSet::builder()
                    .image_set_id(id)
                    .latest_version_id(version(d.get("latestVersionId"), "destinationImageSet")?)
                    .build()
                    .map_err(|e| bad(e.to_string()))?,
            )
        }
    };
    Ok(CopyImageSetInformation::builder()
        .source_image_set(source)
        .set_destination_image_set(destination)
        .build())
}

/// The source or the destination image set of a copy.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CopiedImageSet {
    pub image_set_id: String,
    pub latest_version_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_set_state: Option<Named<ImageSetState>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_set_workflow_status: Option<Named<ImageSetWorkflowStatus>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_set_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
}

/// Both halves of CopyImageSet's answer have the same fields (two SDK types, no shared trait).
macro_rules! copied_from {
    ($t:ty) => {
        impl From<&$t> for CopiedImageSet {
            fn from(p: &$t) -> Self {
                Self {
                    image_set_id: p.image_set_id().into(),
                    latest_version_id: p.latest_version_id().into(),
                    image_set_state: Named::opt(p.image_set_state()),
                    image_set_workflow_status: Named::opt(p.image_set_workflow_status()),
                    image_set_arn: p.image_set_arn().map(Into::into),
                    created_at: Timestamp::opt(p.created_at()),
                    updated_at: Timestamp::opt(p.updated_at()),
                }
            }
        }
    };
}

copied_from!(CopySourceImageSetProperties);
copied_from!(CopyDestinationImageSetProperties);

/// CopyImageSet's answer (HealthImaging copies asynchronously: both image sets are LOCKED
/// until it is done).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CopyResult {
    pub datastore_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_image_set_properties: Option<CopiedImageSet>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_image_set_properties: Option<CopiedImageSet>,
}

pub struct CopyRequest {
    pub datastore_id: String,
    pub source_image_set_id: String,
    pub copy_image_set_information: Value,
    pub source_datastore_id: Option<String>,
    pub force: Option<bool>,
    pub promote_to_primary: Option<bool>,
}

pub async fn copy_image_set(req: CopyRequest) -> EngineResult<CopyResult> {
    validate::id("datastore_id", &req.datastore_id)?;
    validate::id("source_image_set_id", &req.source_image_set_id)?;
    if let Some(src) = &req.source_datastore_id {
        if *src != req.datastore_id {
            return Err(EngineError::invalid(
                "source_datastore_id",
                "CopyImageSet copies within one data store; source and destination must both be datastore_id",
            ));
        }
    }
    let info = copy_information(&req.copy_image_set_information)?;
    let out = client()
        .await
        .copy_image_set()
        .datastore_id(&req.datastore_id)
        .source_image_set_id(&req.source_image_set_id)
        .copy_image_set_information(info)
        .set_force(req.force)
        .set_promote_to_primary(req.promote_to_primary)
        .send()
        .await
        .map_err(|e| from_sdk("CopyImageSet", e))?;
    Ok(CopyResult {
        datastore_id: out.datastore_id().into(),
        source_image_set_properties: out.source_image_set_properties().map(Into::into),
        destination_image_set_properties: out.destination_image_set_properties().map(Into::into),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::convert::testing::required;
    use serde_json::json;

    #[test]
    fn copy_output_keeps_its_json() {
        let src = CopySourceImageSetProperties::builder()
            .image_set_id("s".repeat(32))
            .latest_version_id("2")
            .image_set_state(ImageSetState::Locked)
            .image_set_workflow_status(ImageSetWorkflowStatus::Copying)
            .build()
            .unwrap();
        let out = CopyResult {
            datastore_id: "d".into(),
            source_image_set_properties: Some((&src).into()),
            destination_image_set_properties: None,
        };
        assert_eq!(
            serde_json::to_value(&out).unwrap(),
            json!({"datastore_id": "d", "source_image_set_properties": {
                "image_set_id": "s".repeat(32), "latest_version_id": "2",
                "image_set_state": "LOCKED", "image_set_workflow_status": "COPYING"}})
        );
        assert_eq!(required::<CopyResult>(None), ["datastore_id"]);
        assert_eq!(
            required::<CopyResult>(Some("CopiedImageSet")),
            ["image_set_id", "latest_version_id"]
        );
    }
}
