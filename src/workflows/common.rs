//! What every workflow needs: searches that follow every page, metadata fetched and parsed
//! once, and concurrent calls under one bound.

use std::future::Future;
use std::sync::Arc;

use aws_sdk_medicalimaging::types::{
    ImageSetsMetadataSummary, Operator, SearchByAttributeValue, SearchCriteria, SearchFilter, Sort,
    SortField, SortOrder,
};
use tokio::sync::Semaphore;

use super::cancel;
use crate::dicom::metadata::ImageSetMetadata;
use crate::engine::error::{from_sdk, EngineError, EngineResult, ErrorType};
use crate::engine::{client, metadata, validate};
use crate::model::constraints::Shape;

/// Concurrent reads per workflow: HEALTHIMAGING_MCP_READ_CONCURRENCY (1-32, default 8;
/// HealthImaging's read operations allow 25-50 per second).
pub fn read_concurrency() -> usize {
    env_limit("HEALTHIMAGING_MCP_READ_CONCURRENCY", 8, 32)
}

/// Concurrent writes per workflow: HEALTHIMAGING_MCP_WRITE_CONCURRENCY (1-10, default 2;
/// HealthImaging's write operations are limited to a few per second).
pub fn write_concurrency() -> usize {
    env_limit("HEALTHIMAGING_MCP_WRITE_CONCURRENCY", 2, 10)
}

fn env_limit(name: &str, default: usize, max: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(default, |n| n.clamp(1, max))
}
/// The most image sets one workflow reads without the caller asking for more.
pub const DEFAULT_LIMIT: usize = 1000;

fn checked(value: &str, param: &str) -> EngineResult<String> {
    let v = value.trim();
    if v.is_empty() || v.chars().count() > 512 {
        return Err(EngineError::invalid(param, "must be 1 to 512 characters"));
    }
    Ok(v.to_string())
}

/// A DICOM UID parameter (digits and dots, at most 512 characters).
pub fn dicom_uid(value: &str, param: &str) -> EngineResult<String> {
    let v = checked(value, param)?;
    validate::shape(param, &v, Shape::DicomUid)?;
    Ok(v)
}

/// What a workflow is about: a patient, a study or a series, checked and named once.
#[derive(Debug, Clone)]
pub enum Key {
    Patient(String),
    Study(String),
    Series(String),
}

impl Key {
    /// Patient IDs follow the engine's one rule (only DICOM padding removed).
    pub fn patient(patient_id: &str) -> EngineResult<Self> {
        validate::patient_id("patient_id", patient_id).map(Key::Patient)
    }

    pub fn study(study_instance_uid: &str) -> EngineResult<Self> {
        dicom_uid(study_instance_uid, "study_instance_uid").map(Key::Study)
    }

    pub fn series(series_instance_uid: &str) -> EngineResult<Self> {
        dicom_uid(series_instance_uid, "series_instance_uid").map(Key::Series)
    }

    /// The parameter name, used as the key in results.
    pub fn name(&self) -> &'static str {
        match self {
            Key::Patient(_) => "patient_id",
            Key::Study(_) => "study_instance_uid",
            Key::Series(_) => "series_instance_uid",
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Key::Patient(v) | Key::Study(v) | Key::Series(v) => v,
        }
    }

    /// The EQUAL search filter selecting this key's image sets.
    pub fn filter(&self) -> EngineResult<SearchFilter> {
        let v = self.value().to_string();
        equal(match self {
            Key::Patient(_) => SearchByAttributeValue::DicomPatientId(v),
            Key::Study(_) => SearchByAttributeValue::DicomStudyInstanceUid(v),
            Key::Series(_) => SearchByAttributeValue::DicomSeriesInstanceUid(v),
        })
    }
}

pub fn equal(value: SearchByAttributeValue) -> EngineResult<SearchFilter> {
    SearchFilter::builder()
        .operator(Operator::Equal)
        .values(value)
        .build()
        .map_err(|e| EngineError::server(e.to_string()))
}

/// Every image set matching `filters` (all pages), up to `limit`. Returns the summaries and
/// whether more matched than `limit`.
pub async fn search_all(
    datastore_id: &str,
    filters: Vec<SearchFilter>,
    limit: usize,
) -> EngineResult<(Vec<ImageSetsMetadataSummary>, bool)> {
    search_pages(datastore_id, filters, None, limit).await
}

/// The image sets a write will change: every page, sorted on a field the writes themselves do
/// not move (`createdAt`; or the filter's own date field, which HealthImaging requires with a
/// range on it), de-duplicated by image set ID. Stops when the run is cancelled.
pub async fn select_for_write(
    datastore_id: &str,
    filters: Vec<SearchFilter>,
    limit: usize,
) -> EngineResult<(Vec<ImageSetsMetadataSummary>, bool)> {
    let field = filters
        .iter()
        .filter(|f| f.operator() == &Operator::Between)
        .find_map(|f| match f.values().first() {
            Some(SearchByAttributeValue::UpdatedAt(_)) => Some(SortField::UpdatedAt),
            Some(SearchByAttributeValue::DicomStudyDateAndTime(_)) => {
                Some(SortField::DicomStudyDateAndTime)
            }
            _ => None,
        })
        .unwrap_or(SortField::CreatedAt);
    let sort = Sort::builder()
        .sort_field(field)
        .sort_order(SortOrder::Asc)
        .build()
        .map_err(|e| EngineError::server(e.to_string()))?;
    let (found, truncated) = search_pages(datastore_id, filters, Some(sort), limit).await?;
    let mut seen = std::collections::HashSet::new();
    let unique = found
        .into_iter()
        .filter(|s| seen.insert(s.image_set_id().to_string()))
        .collect();
    Ok((unique, truncated))
}

async fn search_pages(
    datastore_id: &str,
    filters: Vec<SearchFilter>,
    sort: Option<Sort>,
    limit: usize,
) -> EngineResult<(Vec<ImageSetsMetadataSummary>, bool)> {
    let criteria = SearchCriteria::builder()
        .set_filters(Some(filters))
        .set_sort(sort)
        .build();
    let client = client().await;
    let token = cancel::current().token;
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    // Throttled pages are retried by the SDK (its retry policy); a cancelled run stops here.
    loop {
        if token.is_cancelled() {
            return Err(cancel::cancelled());
        }
        let page = client
            .search_image_sets()
            .datastore_id(datastore_id)
            .search_criteria(criteria.clone())
            .max_results(50)
            .set_next_token(next.clone())
            .send()
            .await
            .map_err(|e| from_sdk("SearchImageSets", e))?;
        for summary in page.image_sets_metadata_summaries() {
            if out.len() == limit {
                return Ok((out, true));
            }
            out.push(summary.clone());
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => return Ok((out, false)),
        }
    }
}

/// The typed metadata of an image set (latest version when `version` is `None`): fetched,
/// gunzipped and parsed here, and nowhere else.
pub async fn fetch_metadata(
    datastore_id: &str,
    image_set_id: &str,
    version: Option<&str>,
) -> EngineResult<ImageSetMetadata> {
    let out = metadata::get_image_set_metadata(
        datastore_id.to_string(),
        image_set_id.to_string(),
        version.map(str::to_owned),
    )
    .await?;
    ImageSetMetadata::from_json(&out.image_set_metadata).map_err(|e| {
        EngineError::new(
            ErrorType::Service,
            format!("metadata of {image_set_id} is malformed: {e}"),
        )
    })
}

/// Runs `f` over `items` with at most `limit` at once; results keep the input order.
pub async fn map_bounded<T, R, F, Fut>(items: Vec<T>, limit: usize, f: F) -> Vec<EngineResult<R>>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> Fut,
    Fut: Future<Output = EngineResult<R>> + Send + 'static,
{
    let gate = Arc::new(Semaphore::new(limit.max(1)));
    let handles: Vec<_> = items
        .into_iter()
        .map(|item| {
            let gate = gate.clone();
            let fut = f(item);
            tokio::spawn(async move {
                let _permit = gate.acquire_owned().await.expect("semaphore open");
                fut.await
            })
        })
        .collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(
            h.await.unwrap_or_else(|e| {
                Err(EngineError::server(format!("a workflow task failed: {e}")))
            }),
        );
    }
    out
}
