//! QIDO-RS searches (SearchDICOMStudies, SearchDICOMSeries, SearchDICOMInstances): hierarchical
//! (series within a study, instances within a series), primary image sets only, at most 10,000
//! records reachable (`offset + limit`), answers in the DICOM JSON model.

use serde_json::Value;

use super::{body_bytes, client, uid, Request};
use crate::engine::{EngineError, EngineResult};

/// The most records QIDO-RS reaches (`offset + limit`).
pub const MAX_REACHABLE: u32 = 10_000;
/// The most records one search returns.
pub const MAX_LIMIT: u32 = 1_000;
/// Largest QIDO-RS answer read (1,000 records of DICOM JSON fit easily).
const MAX_ANSWER: usize = 64 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Studies,
    Series,
    Instances,
}

/// One search: where, which keys (DICOM keywords and their values), which page.
#[derive(Debug, Clone)]
pub struct Search {
    pub datastore_id: String,
    pub level: Level,
    pub study_instance_uid: Option<String>,
    pub series_instance_uid: Option<String>,
    pub keys: Vec<(&'static str, String)>,
    pub include_fields: Vec<String>,
    pub fuzzy_matching: bool,
    pub limit: Option<u32>,
    pub offset: Option<u32>,
}

impl Search {
    pub fn new(datastore_id: &str, level: Level) -> Self {
        Self {
            datastore_id: datastore_id.to_string(),
            level,
            study_instance_uid: None,
            series_instance_uid: None,
            keys: Vec::new(),
            include_fields: Vec::new(),
            fuzzy_matching: false,
            limit: None,
            offset: None,
        }
    }

    /// The request, after checking what the service would refuse.
    pub fn request(&self) -> EngineResult<Request> {
        let limit = self.limit.unwrap_or(MAX_LIMIT.min(100));
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(EngineError::invalid(
                "limit",
                format!("must be 1 to {MAX_LIMIT}"),
            ));
        }
        let offset = self.offset.unwrap_or(0);
        if offset as u64 + limit as u64 > MAX_REACHABLE as u64 {
            return Err(EngineError::invalid(
                "offset",
                format!(
                    "offset + limit must be at most {MAX_REACHABLE}: QIDO-RS reaches only the first {MAX_REACHABLE} records; narrow the search"
                ),
            ));
        }
        let study = || {
            self.study_instance_uid
                .as_deref()
                .ok_or_else(|| EngineError::invalid("study_instance_uid", "is required"))
                .and_then(|s| uid("study_instance_uid", s))
        };
        let series = || {
            self.series_instance_uid
                .as_deref()
                .ok_or_else(|| EngineError::invalid("series_instance_uid", "is required"))
                .and_then(|s| uid("series_instance_uid", s))
        };
        let (operation, path) = match self.level {
            Level::Studies => ("SearchDICOMStudies", "/studies".to_string()),
            Level::Series => ("SearchDICOMSeries", format!("/studies/{}/series", study()?)),
            Level::Instances => (
                "SearchDICOMInstances",
                format!("/studies/{}/series/{}/instances", study()?, series()?),
            ),
        };
        let mut req = Request::get(operation, path, "application/dicom+json");
        for (k, v) in &self.keys {
            req.query.push((k.to_string(), v.clone()));
        }
        for f in &self.include_fields {
            req.query.push(("includefield".into(), f.clone()));
        }
        if self.fuzzy_matching {
            req.query.push(("fuzzymatching".into(), "true".into()));
        }
        req.query.push(("limit".into(), limit.to_string()));
        if offset > 0 {
            req.query.push(("offset".into(), offset.to_string()));
        }
        Ok(req)
    }
}

/// Runs a search; the records in the DICOM JSON model, in the service's order.
pub async fn search(s: &Search) -> EngineResult<Vec<Value>> {
    let req = s.request()?;
    crate::engine::validate::shape(
        "datastore_id",
        &s.datastore_id,
        crate::model::constraints::Shape::ResourceId,
    )?;
    let c = client().await?;
    let resp = c.send(&s.datastore_id, &req).await?;
    // No match may come back as 204 with no body.
    let body = body_bytes(resp, MAX_ANSWER).await?;
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Vec::new());
    }
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(items)) => Ok(items),
        _ => Err(EngineError::new(
            crate::engine::ErrorType::Service,
            format!("{}: the answer is not a DICOM JSON array", req.operation),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_and_hierarchy_are_checked() {
        let mut s = Search::new("12345678901234567890123456789012", Level::Studies);
        s.offset = Some(9_950);
        s.limit = Some(100);
        assert!(s.request().unwrap_err().message.contains("10000"));
        s.limit = Some(50);
        let r = s.request().unwrap();
        assert_eq!(r.path, "/studies");
        assert!(r.query.contains(&("offset".into(), "9950".into())));
        s.limit = Some(1001);
        assert!(s.request().is_err());
        let mut s = Search::new("x", Level::Instances);
        s.study_instance_uid = Some("1.2".into());
        assert!(s
            .request()
            .unwrap_err()
            .message
            .contains("series_instance_uid"));
        s.series_instance_uid = Some("1.3".into());
        s.keys.push(("SOPInstanceUID", "1.4".into()));
        let r = s.request().unwrap();
        assert_eq!(r.path, "/studies/1.2/series/1.3/instances");
        assert_eq!(r.operation, "SearchDICOMInstances");
        assert_eq!(r.query[0], ("SOPInstanceUID".into(), "1.4".into()));
    }
}
