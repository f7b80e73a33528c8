//! Which instances an export writes: the image sets the request selects (by study or series
//! UID through SearchImageSets, or by their creation time), primary ones unless asked
//! otherwise, expanded through their metadata into instances (narrowed to the series or SOP
//! Instance UID asked for). An instance that several selected image sets hold is exported once,
//! from the first (primary image sets come first).

use std::collections::HashSet;

use aws_sdk_medicalimaging::types::{
    ImageSetsMetadataSummary, Operator, SearchByAttributeValue, SearchFilter,
};
use aws_smithy_types::DateTime;

use super::request::ExportRequest;
use crate::engine::{EngineError, EngineResult, ErrorType};
use crate::workflows::common::{fetch_metadata, search_all, Key};

/// The most image sets one export selects.
pub const MAX_IMAGE_SETS: usize = 10_000;

/// One instance to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    pub image_set_id: String,
    pub version: Option<i32>,
    pub study: String,
    pub series: String,
    pub sop: String,
}

impl Selected {
    /// The file's place below the destination (also the item's key in the job record).
    pub fn relative(&self) -> String {
        format!("{}/{}/{}.dcm", self.study, self.series, self.sop)
    }
}

fn between(after: Option<f64>, before: Option<f64>) -> EngineResult<SearchFilter> {
    let lo = DateTime::from_secs_f64(after.unwrap_or(0.0));
    // "Now" as the open end, with a day of slack for clock skew.
    let hi = DateTime::from_secs_f64(before.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
            + 86_400.0
    }));
    SearchFilter::builder()
        .operator(Operator::Between)
        .values(SearchByAttributeValue::CreatedAt(lo))
        .values(SearchByAttributeValue::CreatedAt(hi))
        .build()
        .map_err(|e| EngineError::server(e.to_string()))
}

fn in_window(s: &ImageSetsMetadataSummary, r: &ExportRequest) -> bool {
    let Some(at) = s.created_at().map(|d| d.as_secs_f64()) else {
        return r.submitted_after.is_none() && r.submitted_before.is_none();
    };
    r.submitted_after.is_none_or(|a| at >= a) && r.submitted_before.is_none_or(|b| at <= b)
}

/// The image sets the request selects, primary first.
async fn image_sets(r: &ExportRequest) -> EngineResult<Vec<ImageSetsMetadataSummary>> {
    let filters = if let Some(series) = &r.series_instance_uid {
        vec![Key::series(series)?.filter()?]
    } else if let Some(study) = &r.study_instance_uid {
        vec![Key::study(study)?.filter()?]
    } else if r.submitted_after.is_some() || r.submitted_before.is_some() {
        vec![between(r.submitted_after, r.submitted_before)?]
    } else {
        // A SOP Instance UID alone: every image set is a candidate; its metadata decides.
        Vec::new()
    };
    let (mut sets, truncated) = search_all(&r.datastore_id, filters, MAX_IMAGE_SETS).await?;
    if truncated {
        return Err(EngineError::invalid(
            "study_instance_uid",
            format!("the selection holds more than {MAX_IMAGE_SETS} image sets; narrow it (a study, a series or a shorter submitted window)"),
        ));
    }
    sets.retain(|s| in_window(s, r) && (r.include_non_primary || s.is_primary() != Some(false)));
    sets.sort_by_key(|s| s.is_primary() == Some(false));
    Ok(sets)
}

/// Every instance the request selects.
pub async fn select(r: &ExportRequest) -> EngineResult<Vec<Selected>> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for set in image_sets(r).await? {
        let id = set.image_set_id().to_string();
        let meta = fetch_metadata(&r.datastore_id, &id, None).await?;
        let Some(study) = meta.study.attributes.text("StudyInstanceUID") else {
            continue;
        };
        if r.study_instance_uid.as_ref().is_some_and(|s| *s != study) {
            continue;
        }
        for (series, s) in &meta.study.series {
            if r.series_instance_uid.as_ref().is_some_and(|u| u != series) {
                continue;
            }
            for sop in s.instances.keys() {
                if r.sop_instance_uid.as_ref().is_some_and(|u| u != sop) {
                    continue;
                }
                let item = Selected {
                    image_set_id: id.clone(),
                    version: set.version(),
                    study: study.clone(),
                    series: series.clone(),
                    sop: sop.clone(),
                };
                if seen.insert(item.relative()) {
                    out.push(item);
                }
            }
        }
    }
    if out.is_empty() {
        return Err(EngineError::new(
            ErrorType::NotFound,
            "the selection matches no instance in the data store",
        ));
    }
    Ok(out)
}
