//! copy_image_set: copy a whole image set or selected series / SOP instances, into a new image
//! set or an existing one, within one data store.

use aws_sdk_medicalimaging::types::{
    CopyDestinationImageSet, CopyDestinationImageSetProperties, CopyImageSetInformation,
    CopySourceImageSetInformation, CopySourceImageSetProperties, MetadataCopies,
};
use serde_json::Value;

use super::client;
use super::convert::{name, Obj};
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

/// Both halves of CopyImageSet's answer have the same fields (two SDK types, no shared trait).
macro_rules! write_props {
    ($p:expr) => {{
        let p = $p;
        Obj::new()
            .put("image_set_id", p.image_set_id())
            .put("latest_version_id", p.latest_version_id())
            .opt("image_set_state", name(p.image_set_state()))
            .opt(
                "image_set_workflow_status",
                name(p.image_set_workflow_status()),
            )
            .opt("image_set_arn", p.image_set_arn())
            .time("created_at", p.created_at())
            .time("updated_at", p.updated_at())
            .done()
    }};
}

fn source_props(p: &CopySourceImageSetProperties) -> Value {
    write_props!(p)
}

fn destination_props(p: &CopyDestinationImageSetProperties) -> Value {
    write_props!(p)
}

pub struct CopyRequest {
    pub datastore_id: String,
    pub source_image_set_id: String,
    pub copy_image_set_information: Value,
    pub source_datastore_id: Option<String>,
    pub force: Option<bool>,
    pub promote_to_primary: Option<bool>,
}

pub async fn copy_image_set(req: CopyRequest) -> EngineResult<Value> {
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
    Ok(Obj::new()
        .put("datastore_id", out.datastore_id())
        .opt(
            "source_image_set_properties",
            out.source_image_set_properties().map(source_props),
        )
        .opt(
            "destination_image_set_properties",
            out.destination_image_set_properties()
                .map(destination_props),
        )
        .done())
}
