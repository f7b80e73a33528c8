//! Tagging: list_tags_for_resource, tag_resource, untag_resource (data store or image set ARNs).
//! The write tools read the current tags first, so that their reports say what changed: keys
//! added or overwritten, keys removed or never present.

use std::collections::{BTreeMap, HashMap};

use schemars::JsonSchema;
use serde::Serialize;

use super::client;
use super::error::{from_sdk, EngineError, EngineResult};
use super::validate;
use crate::model::constraints::{self, Shape};

async fn current_tags(resource_arn: &str) -> EngineResult<HashMap<String, String>> {
    let out = client()
        .await
        .list_tags_for_resource()
        .resource_arn(resource_arn)
        .send()
        .await
        .map_err(|e| from_sdk("ListTagsForResource", e))?;
    Ok(out.tags().clone())
}

/// ListTagsForResource's answer.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ResourceTags {
    pub resource_arn: String,
    /// Tag key → value.
    pub tags: BTreeMap<String, String>,
}

pub async fn list_tags_for_resource(resource_arn: String) -> EngineResult<ResourceTags> {
    validate::shape("resource_arn", &resource_arn, Shape::ResourceArn)?;
    let tags = current_tags(&resource_arn).await?;
    Ok(ResourceTags {
        resource_arn,
        tags: tags.into_iter().collect(),
    })
}

/// A tag map checked against the model, and against the quota of tags one resource may carry.
pub fn check_tags(param: &str, tags: &HashMap<String, String>) -> EngineResult<()> {
    if tags.len() > constraints::MAX_TAGS_PER_RESOURCE {
        return Err(too_many(param, tags.len()));
    }
    for (k, v) in tags {
        validate::shape(param, k, Shape::TagKey)?;
        validate::shape(param, v, Shape::TagValue)?;
    }
    Ok(())
}

fn too_many(param: &str, n: usize) -> EngineError {
    EngineError::invalid(
        param,
        format!(
            "a resource can carry at most {} tags; this would make {n}",
            constraints::MAX_TAGS_PER_RESOURCE
        ),
    )
}

/// How a tag request relates to the tags already there.
#[derive(Debug, Default, PartialEq, Eq)]
struct TagChanges {
    added: Vec<String>,
    overwritten: Vec<String>,
    unchanged: Vec<String>,
}

fn tag_changes(before: &HashMap<String, String>, tags: &HashMap<String, String>) -> TagChanges {
    let mut c = TagChanges::default();
    for (k, v) in tags {
        match before.get(k) {
            None => c.added.push(k.clone()),
            Some(old) if old != v => c.overwritten.push(k.clone()),
            Some(_) => c.unchanged.push(k.clone()),
        }
    }
    c.added.sort();
    c.overwritten.sort();
    c.unchanged.sort();
    c
}

/// TagResource's answer: what the request changed.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TagsApplied {
    pub resource_arn: String,
    pub tags_added: usize,
    pub tags_overwritten: usize,
    /// Given with the value the tag already had.
    pub tags_unchanged: usize,
    pub added_keys: Vec<String>,
    pub overwritten_keys: Vec<String>,
    pub unchanged_keys: Vec<String>,
}

pub async fn tag_resource(
    resource_arn: String,
    tags: HashMap<String, String>,
) -> EngineResult<TagsApplied> {
    validate::shape("resource_arn", &resource_arn, Shape::ResourceArn)?;
    if tags.is_empty() {
        return Err(EngineError::invalid("tags", "give at least one tag"));
    }
    check_tags("tags", &tags)?;
    let before = current_tags(&resource_arn).await?;
    let changes = tag_changes(&before, &tags);
    let total = before.len() + changes.added.len();
    if total > constraints::MAX_TAGS_PER_RESOURCE {
        return Err(too_many("tags", total));
    }
    client()
        .await
        .tag_resource()
        .resource_arn(&resource_arn)
        .set_tags(Some(tags))
        .send()
        .await
        .map_err(|e| from_sdk("TagResource", e))?;
    Ok(TagsApplied {
        resource_arn,
        tags_added: changes.added.len(),
        tags_overwritten: changes.overwritten.len(),
        tags_unchanged: changes.unchanged.len(),
        added_keys: changes.added,
        overwritten_keys: changes.overwritten,
        unchanged_keys: changes.unchanged,
    })
}

/// UntagResource's answer.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TagsRemoved {
    pub resource_arn: String,
    pub tags_removed: Vec<String>,
    /// Keys given that the resource did not carry.
    pub tags_absent: Vec<String>,
}

pub async fn untag_resource(
    resource_arn: String,
    tag_keys: Vec<String>,
) -> EngineResult<TagsRemoved> {
    validate::shape("resource_arn", &resource_arn, Shape::ResourceArn)?;
    if tag_keys.is_empty() || tag_keys.len() > *constraints::TAG_KEYS.end() {
        return Err(EngineError::invalid(
            "tag_keys",
            format!("give 1 to {} tag keys", constraints::TAG_KEYS.end()),
        ));
    }
    for k in &tag_keys {
        validate::shape("tag_keys", k, Shape::TagKey)?;
    }
    let before = current_tags(&resource_arn).await?;
    let (mut removed, mut absent): (Vec<String>, Vec<String>) = tag_keys
        .iter()
        .cloned()
        .partition(|k| before.contains_key(k));
    removed.sort();
    removed.dedup();
    absent.sort();
    absent.dedup();
    client()
        .await
        .untag_resource()
        .resource_arn(&resource_arn)
        .set_tag_keys(Some(tag_keys))
        .send()
        .await
        .map_err(|e| from_sdk("UntagResource", e))?;
    Ok(TagsRemoved {
        resource_arn,
        tags_removed: removed,
        tags_absent: absent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn tag_outputs_keep_their_json() {
        let listed = ResourceTags {
            resource_arn: "arn:a".into(),
            tags: map(&[("b", "2"), ("a", "1")]).into_iter().collect(),
        };
        // Sorted by key.
        assert_eq!(
            serde_json::to_string(&listed).unwrap(),
            r#"{"resource_arn":"arn:a","tags":{"a":"1","b":"2"}}"#
        );
        let removed = TagsRemoved {
            resource_arn: "arn:a".into(),
            tags_removed: vec!["a".into()],
            tags_absent: vec![],
        };
        assert_eq!(
            serde_json::to_value(&removed).unwrap(),
            serde_json::json!({"resource_arn": "arn:a", "tags_removed": ["a"], "tags_absent": []})
        );
        use crate::engine::convert::testing::{properties, required};
        assert_eq!(required::<ResourceTags>(None), ["resource_arn", "tags"]);
        assert_eq!(
            required::<TagsApplied>(None),
            properties::<TagsApplied>(None)
        );
        assert_eq!(
            required::<TagsRemoved>(None),
            ["resource_arn", "tags_absent", "tags_removed"]
        );
    }

    #[test]
    fn changes_split_added_overwritten_unchanged() {
        let before = map(&[("env", "dev"), ("team", "a")]);
        let c = tag_changes(
            &before,
            &map(&[("env", "prod"), ("team", "a"), ("env1", "x")]),
        );
        assert_eq!(c.added, ["env1"]);
        assert_eq!(c.overwritten, ["env"]);
        assert_eq!(c.unchanged, ["team"]);
    }

    #[test]
    fn more_than_fifty_tags_is_a_validation_error() {
        let tags: HashMap<String, String> =
            (0..51).map(|i| (format!("k{i}"), "v".into())).collect();
        let e = check_tags("tags", &tags).unwrap_err();
        assert_eq!(e.kind, crate::engine::ErrorType::Validation);
        assert!(e.message.contains("at most 50"), "{}", e.message);
        let fifty: HashMap<String, String> = (0..50)
            .map(|i| (format!("cost-center-{i:02}"), "v".into()))
            .collect();
        assert!(check_tags("tags", &fifty).is_ok());
    }
}
