//! Server-side validation: the model's constraints (`crate::model::constraints`) turned into
//! ValidationException with AWS's message format, naming the member and the rule.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::model::constraints::{self, Shape};

use super::error::{ApiError, ApiResult};

fn shape(member: &str, value: &str, s: Shape) -> ApiResult<()> {
    constraints::check(s, value).map_err(|rule| ApiError::constraint(member, value, &rule))
}

pub fn resource_id(member: &str, value: &str) -> ApiResult<()> {
    shape(member, value, Shape::ResourceId)
}
pub fn job_id(value: &str) -> ApiResult<()> {
    shape("jobId", value, Shape::JobId)
}
pub fn version_id(member: &str, value: &str) -> ApiResult<()> {
    shape(member, value, Shape::VersionId)
}
pub fn datastore_name(value: &str) -> ApiResult<()> {
    shape("datastoreName", value, Shape::DatastoreName)
}
pub fn job_name(value: &str) -> ApiResult<()> {
    shape("jobName", value, Shape::JobName)
}
pub fn client_token(value: &str) -> ApiResult<()> {
    shape("clientToken", value, Shape::ClientToken)
}
/// The model's S3Uri pattern, and a key the S3 stand-in folder can map to a file.
pub fn s3_uri(member: &str, value: &str) -> ApiResult<()> {
    shape(member, value, Shape::S3Uri)?;
    super::s3::S3Uri::parse(member, value).map(|_| ())
}
pub fn role_arn(value: &str) -> ApiResult<()> {
    shape("dataAccessRoleArn", value, Shape::RoleArn)
}
pub fn kms_key_arn(value: &str) -> ApiResult<()> {
    shape("kmsKeyArn", value, Shape::KmsKeyArn)
}
pub fn lambda_arn(value: &str) -> ApiResult<()> {
    shape("lambdaAuthorizerArn", value, Shape::LambdaArn)
}
pub fn resource_arn(value: &str) -> ApiResult<()> {
    shape("resourceArn", value, Shape::ResourceArn)
}
pub fn account_id(value: &str) -> ApiResult<()> {
    shape("inputOwnerAccountId", value, Shape::AwsAccountId)
}
pub fn tag_key(member: &str, value: &str) -> ApiResult<()> {
    shape(member, value, Shape::TagKey)
}
pub fn tag_value(member: &str, value: &str) -> ApiResult<()> {
    shape(member, value, Shape::TagValue)
}
pub fn dicom_uid(member: &str, value: &str) -> ApiResult<()> {
    shape(member, value, Shape::DicomUid)
}

/// `maxResults` on every list/search: integer 1..=50.
pub fn max_results(raw: Option<&str>) -> ApiResult<Option<usize>> {
    let Some(raw) = raw else { return Ok(None) };
    let n: i64 = raw
        .parse()
        .map_err(|_| ApiError::constraint("maxResults", raw, "Member must be an integer"))?;
    if !constraints::MAX_RESULTS.contains(&n) {
        return Err(ApiError::constraint(
            "maxResults",
            raw,
            "Member must have value between 1 and 50, inclusive",
        ));
    }
    Ok(Some(n as usize))
}

pub fn enum_value(member: &str, value: &str, allowed: &[&str]) -> ApiResult<()> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(ApiError::constraint(
            member,
            value,
            &format!(
                "Member must satisfy enum value set: [{}]",
                allowed.join(", ")
            ),
        ))
    }
}

/// A required member: absent (or null) is AWS's not-null ValidationException.
pub fn required<T>(member: &str, value: Option<T>) -> ApiResult<T> {
    value.ok_or_else(|| {
        ApiError::validation(format!(
            "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// A tag map: every key and value within the model's shapes.
pub fn tags(member: &str, tags: &BTreeMap<String, String>) -> ApiResult<()> {
    tags.iter().try_for_each(|(k, v)| {
        tag_key(member, k)?;
        tag_value(member, v)
    })
}

/// UntagResource's `tagKeys`: given (even empty), at most 200, each a tag key.
pub fn tag_keys(keys: &[String], given: bool) -> ApiResult<()> {
    if keys.len() > 200 {
        return Err(ApiError::validation("tagKeys must have at most 200 items"));
    }
    if !given {
        required::<()>("tagKeys", None)?;
    }
    keys.iter().try_for_each(|k| tag_key("tagKeys", k))
}

/// A decoded DICOMUpdates document (`key` names it): 1 to 30000 bytes.
pub fn update_document_size(key: &str, len: usize) -> ApiResult<()> {
    if len == 0 || len > constraints::MAX_UPDATE_BLOB {
        return Err(ApiError::constraint(
            &format!("updateImageSetMetadataUpdates.DICOMUpdates.{key}"),
            &format!("{len} bytes"),
            "Member must have length between 1 and 30000, inclusive",
        ));
    }
    Ok(())
}

/// CopyImageSet's `copiableAttributes`: 1 to 260000 characters.
pub fn copiable_attributes(raw: &str) -> ApiResult<()> {
    if raw.is_empty() || raw.chars().count() > constraints::MAX_COPIABLE {
        return Err(ApiError::validation(
            "copiableAttributes must have length between 1 and 260000",
        ));
    }
    Ok(())
}

/// StartDICOMImportJob's `importConfiguration`: 1 to 1000 DICOM JSON metadata mappings, each
/// naming its study and metadata file. Kept as the document the client sent (it is echoed back).
pub fn import_configuration(cfg: &Value) -> ApiResult<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_results_range() {
        assert_eq!(max_results(Some("50")).unwrap(), Some(50));
        assert!(max_results(Some("51")).is_err());
        assert!(max_results(Some("0")).is_err());
        assert!(max_results(Some("x")).is_err());
    }

    #[test]
    fn message_names_member_and_rule() {
        let e = resource_id("imageSetId", "BAD").unwrap_err();
        assert!(e.message.contains("'imageSetId'"), "{}", e.message);
        // The model gives DatastoreId/ImageSetId a pattern only (no length rule).
        assert!(e.message.contains("[0-9a-z]{32}"), "{}", e.message);
        let e = resource_id("imageSetId", &"X".repeat(32)).unwrap_err();
        assert!(e.message.contains("[0-9a-z]{32}"), "{}", e.message);
    }
}
