//! Tagging: list_tags_for_resource, tag_resource, untag_resource (data store or image set ARNs).

use std::collections::HashMap;

use serde_json::{json, Value};

use super::client;
use super::error::{from_sdk, EngineError, EngineResult};
use super::validate;
use crate::model::constraints::Shape;

pub async fn list_tags_for_resource(resource_arn: String) -> EngineResult<Value> {
    validate::shape("resource_arn", &resource_arn, Shape::ResourceArn)?;
    let out = client()
        .await
        .list_tags_for_resource()
        .resource_arn(&resource_arn)
        .send()
        .await
        .map_err(|e| from_sdk("ListTagsForResource", e))?;
    Ok(json!({"resource_arn": resource_arn, "tags": out.tags()}))
}

pub async fn tag_resource(
    resource_arn: String,
    tags: HashMap<String, String>,
) -> EngineResult<Value> {
    validate::shape("resource_arn", &resource_arn, Shape::ResourceArn)?;
    if tags.is_empty() {
        return Err(EngineError::invalid("tags", "give at least one tag"));
    }
    for (k, v) in &tags {
        validate::shape("tags", k, Shape::TagKey)?;
        validate::shape("tags", v, Shape::TagValue)?;
    }
    let n = tags.len();
    client()
        .await
        .tag_resource()
        .resource_arn(&resource_arn)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| from_sdk("TagResource", e))?;
    Ok(json!({"resource_arn": resource_arn, "tags_added": n}))
}

pub async fn untag_resource(resource_arn: String, tag_keys: Vec<String>) -> EngineResult<Value> {
    validate::shape("resource_arn", &resource_arn, Shape::ResourceArn)?;
    if tag_keys.is_empty() || tag_keys.len() > 200 {
        return Err(EngineError::invalid("tag_keys", "give 1 to 200 tag keys"));
    }
    for k in &tag_keys {
        validate::shape("tag_keys", k, Shape::TagKey)?;
    }
    client()
        .await
        .untag_resource()
        .resource_arn(&resource_arn)
        .set_tag_keys(Some(tag_keys.clone()))
        .send()
        .await
        .map_err(|e| from_sdk("UntagResource", e))?;
    Ok(json!({"resource_arn": resource_arn, "tags_removed": tag_keys}))
}
