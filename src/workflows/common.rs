//! What every workflow needs: searches that follow every page, metadata fetched and parsed
//! once, and concurrent calls under one bound.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_medicalimaging::types::{
    ImageSetsMetadataSummary, Operator, SearchByAttributeValue, SearchCriteria, SearchFilter,
};
use tokio::sync::Semaphore;

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
    let criteria = SearchCriteria::builder().set_filters(Some(filters)).build();
    let client = client().await;
    let pace = Pace::default();
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    // A hand loop rather than the SDK paginator: a throttled page must be retried and the
    // search resumed from its token, and a paginator stream ends at the first error.
    loop {
        let page = pace
            .run(|| {
                let request = client
                    .search_image_sets()
                    .datastore_id(datastore_id)
                    .search_criteria(criteria.clone())
                    .max_results(50)
                    .set_next_token(token.clone());
                async move {
                    request
                        .send()
                        .await
                        .map_err(|e| from_sdk("SearchImageSets", e))
                }
            })
            .await?;
        for summary in page.image_sets_metadata_summaries() {
            if out.len() == limit {
                return Ok((out, true));
            }
            out.push(summary.clone());
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
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
    let out = Pace::default()
        .run(|| {
            metadata::get_image_set_metadata(
                datastore_id.to_string(),
                image_set_id.to_string(),
                version.map(str::to_owned),
            )
        })
        .await?;
    ImageSetMetadata::from_json(&out["image_set_metadata"]).map_err(|e| {
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

/// Throttled retries per call before the throttling error is reported.
const THROTTLE_RETRIES: u32 = 10;

/// When throttled, every call of the operation waits until `until`.
#[derive(Default)]
pub struct Pace {
    until: Mutex<Option<Instant>>,
}

impl Pace {
    async fn wait(&self) {
        let until = *self.until.lock().expect("pace lock");
        if let Some(t) = until {
            tokio::time::sleep_until(t.into()).await;
        }
    }

    fn slow_down(&self, attempt: u32) {
        let delay = Duration::from_millis(50u64 << attempt.min(8)).min(Duration::from_secs(20));
        let mut until = self.until.lock().expect("pace lock");
        let t = Instant::now() + delay;
        if until.is_none_or(|u| u < t) {
            *until = Some(t);
        }
    }

    /// Runs `call`, retrying throttled attempts after the shared pause.
    pub async fn run<T, F, Fut>(&self, call: F) -> EngineResult<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = EngineResult<T>>,
    {
        let mut attempt = 0;
        loop {
            self.wait().await;
            match call().await {
                Err(e) if e.kind == ErrorType::Throttling && attempt < THROTTLE_RETRIES => {
                    self.slow_down(attempt);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}
