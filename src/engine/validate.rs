//! Checks before the network: the model's constraints, reported with the tool's parameter name
//! (snake_case) and the rule, so a malformed call fails without sending a request.

use super::error::{excerpt, EngineError, EngineResult};
use crate::model::constraints::{self, Shape};

pub fn shape(param: &str, value: &str, s: Shape) -> EngineResult<()> {
    constraints::check(s, value).map_err(|rule| {
        let rule = rule.replace("Member must", "must");
        EngineError::invalid(param, format!("{} {rule}", excerpt(value)))
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
            format!("{} is not one of {}", excerpt(v), allowed.join(", ")),
        )),
        _ => Ok(()),
    }
}

pub fn required<T>(param: &str, value: Option<T>, why: &str) -> EngineResult<T> {
    value.ok_or_else(|| EngineError::invalid(param, format!("is required {why}")))
}

pub fn next_token(value: Option<&str>) -> EngineResult<()> {
    match value {
        Some(t) if constraints::check(Shape::NextToken, t).is_err() => Err(EngineError::invalid(
            "next_token",
            "must be 1 to 8192 ASCII characters, as returned by the previous page",
        )),
        _ => Ok(()),
    }
}

/// A patient ID (DICOM VR LO): leading and trailing spaces are padding and are removed, as
/// PS3.5 says they are not significant; nothing else is. Other whitespace (NBSP, tabs,
/// newlines) is never padding: NBSP is kept as part of the ID, and control characters, which an
/// LO value cannot contain, are refused rather than silently dropped. The same rule for every
/// tool that takes a patient ID, so a search and a delete select the same patient.
pub fn patient_id(param: &str, value: &str) -> EngineResult<String> {
    let v = value.trim_matches(' ');
    if v.is_empty() {
        return Err(EngineError::invalid(
            param,
            "must not be empty (leading and trailing spaces are DICOM padding)",
        ));
    }
    if let Some(c) = v.chars().find(|c| c.is_control() && *c != '\u{1b}') {
        return Err(EngineError::invalid(
            param,
            format!(
                "{} contains the control character U+{:04X}; a DICOM patient ID (LO) cannot hold one",
                excerpt(v),
                c as u32
            ),
        ));
    }
    shape(param, v, Shape::DicomPatientId)?;
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patient_ids_lose_only_dicom_padding() {
        assert_eq!(patient_id("p", "PAT-1").unwrap(), "PAT-1");
        assert_eq!(patient_id("p", "  PAT 1   ").unwrap(), "PAT 1");
        // NBSP is a character of the ID, not padding.
        assert_eq!(
            patient_id("p", "\u{a0}PAT\u{a0}").unwrap(),
            "\u{a0}PAT\u{a0}"
        );
        for bad in ["PAT\n", "\tPAT", "PA\rT", "   ", ""] {
            let e = patient_id("patient_id", bad).unwrap_err();
            assert_eq!(e.kind, crate::engine::ErrorType::Validation, "{bad:?}");
            assert!(e.message.contains("'patient_id'"), "{}", e.message);
        }
        assert!(patient_id("p", &"x".repeat(512)).is_ok());
        let long = patient_id("p", &"x".repeat(100_000)).unwrap_err().message;
        assert!(long.len() < 200, "{long}");
    }

    #[test]
    fn values_are_echoed_as_a_short_prefix() {
        let huge = "A".repeat(1_000_000);
        let e = id("datastore_id", &huge).unwrap_err().message;
        assert!(e.len() < 200, "{} bytes", e.len());
        assert!(e.contains("(1000000 characters)"), "{e}");
        let e = one_of("job_status", Some(&huge), &["A"])
            .unwrap_err()
            .message;
        assert!(e.len() < 200);
    }
}
