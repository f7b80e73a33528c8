//! Checks before the network: the model's constraints, reported with the tool's parameter name
//! (snake_case) and the rule, so a malformed call fails without sending a request.

use super::error::{EngineError, EngineResult};
use crate::model::constraints::{self, Shape};

pub fn shape(param: &str, value: &str, s: Shape) -> EngineResult<()> {
    constraints::check(s, value).map_err(|rule| {
        let rule = rule.replace("Member must", "must");
        EngineError::invalid(param, format!("'{value}' {rule}"))
    })
}

pub fn opt_shape(param: &str, value: Option<&str>, s: Shape) -> EngineResult<()> {
    value.map_or(Ok(()), |v| shape(param, v, s))
}

pub fn id(param: &str, value: &str) -> EngineResult<()> {
    shape(param, value, Shape::ResourceId)
}

/// A data store ID, an image set ID and an optional version ID: the address of one image set.
pub fn image_set_ref(
    datastore_id: &str,
    image_set_id: &str,
    version_id: Option<&str>,
) -> EngineResult<()> {
    id("datastore_id", datastore_id)?;
    id("image_set_id", image_set_id)?;
    opt_shape("version_id", version_id, Shape::VersionId)
}

pub fn max_results(value: Option<i64>) -> EngineResult<Option<i32>> {
    match value {
        None => Ok(None),
        Some(n) if constraints::MAX_RESULTS.contains(&n) => Ok(Some(n as i32)),
        Some(n) => Err(EngineError::invalid(
            "max_results",
            format!("{n} is out of range; HealthImaging accepts 1 to 50 per page"),
        )),
    }
}

pub fn one_of(param: &str, value: Option<&str>, allowed: &[&str]) -> EngineResult<()> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(EngineError::invalid(
            param,
            format!("'{v}' is not one of {}", allowed.join(", ")),
        )),
        _ => Ok(()),
    }
}

pub fn required<T>(param: &str, value: Option<T>, why: &str) -> EngineResult<T> {
    value.ok_or_else(|| EngineError::invalid(param, format!("is required {why}")))
}

pub fn next_token(value: Option<&str>) -> EngineResult<()> {
    match value {
        Some(t) if t.is_empty() || t.len() > 8192 || !t.is_ascii() => Err(EngineError::invalid(
            "next_token",
            "must be 1 to 8192 ASCII characters, as returned by the previous page",
        )),
        _ => Ok(()),
    }
}
