//! The client-side rate limit per HealthImaging operation, applied where every request leaves
//! (a wrapper around the SDK's HTTP connector, so SDK retries are limited too). Each operation
//! starts at HealthImaging's published default quota (rate, burst), rises while nothing is
//! throttled (so accounts with raised quotas are not held back) and halves on a throttle. A
//! throttle also sets a ceiling just under the rate that drew it, so the rate climbs back (quickly:
//! the rates below it went through) only that far: in steady state the service sees no more
//! throttles (until the client is rebuilt).
//! `HEALTHIMAGING_MCP_RATE_<OPERATION>=tps[:burst]` (e.g. `HEALTHIMAGING_MCP_RATE_DELETE_IMAGE_SET
//! =2:5`, `off` for none) overrides one operation. Against a custom endpoint (AWS_ENDPOINT_URL*,
//! e.g. the local HealthImaging) only operations set that way are limited.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, Metadata};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use tokio::time::Instant;

use super::{attempts, env};
use crate::model::quotas::DEFAULTS;

/// How far an operation's rate may rise above its starting point, and fall below it.
const MAX_RISE: f64 = 64.0;
const MAX_FALL: f64 = 16.0;
/// Rise per request answered without a throttle.
const RISE: f64 = 1.05;
/// Rise per request answered without a throttle while below the ceiling a throttle set: every
/// rate up to it went through unthrottled on the way up, so the climb back is quick (a halving
/// is undone in 3 answers instead of 13).
const RECOVER: f64 = 1.25;
/// After a throttle the rate may climb back to this share of the rate that drew it.
const CEILING: f64 = 0.9;

/// A rate and burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    pub rate: f64,
    pub burst: f64,
}

/// `HEALTHIMAGING_MCP_RATE_DELETE_IMAGE_SET` for `DeleteImageSet`.
pub fn env_name(operation: &str) -> String {
    let mut out = String::from("HEALTHIMAGING_MCP_RATE_");
    let chars: Vec<char> = operation.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        // A word starts at an upper-case letter after a lower-case one ("ImageSet"), or at the
        // last capital of an acronym ("DICOMImport").
        let starts_word = i > 0
            && c.is_ascii_uppercase()
            && (chars[i - 1].is_ascii_lowercase()
                || chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase()));
        if starts_word {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// `tps[:burst]`, or `off`/`0` for no limit (`Some(None)`); `None` when unparseable.
fn parse(value: &str) -> Option<Option<Limit>> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("off") || v == "0" {
        return Some(None);
    }
    let (rate, burst) = match v.split_once(':') {
        Some((r, b)) => (r.trim().parse::<f64>().ok()?, b.trim().parse::<f64>().ok()?),
        None => {
            let r = v.parse::<f64>().ok()?;
            (r, r.max(1.0))
        }
    };
    (rate.is_finite() && rate > 0.0 && burst.is_finite() && burst >= 1.0)
        .then_some(Some(Limit { rate, burst }))
}

/// HealthImaging's DICOMweb operations (not in the SDK's model) and their published quotas:
/// the four WADO-RS operations at 50 TPS, burst 100. The QIDO-RS searches and STOW-RS stores
/// have no published quota, so they are limited only when the environment says so.
pub const DICOMWEB: &[(&str, Option<Limit>)] = &[
    ("GetDICOMInstance", Some(WADO)),
    ("GetDICOMInstanceMetadata", Some(WADO)),
    ("GetDICOMInstanceFrames", Some(WADO)),
    ("GetDICOMSeriesMetadata", Some(WADO)),
    ("SearchDICOMStudies", None),
    ("SearchDICOMSeries", None),
    ("SearchDICOMInstances", None),
    ("StoreDICOM", None),
    ("StoreDICOMStudy", None),
];

const WADO: Limit = Limit {
    rate: 50.0,
    burst: 100.0,
};

/// The starting limit of every limited operation: the defaults (not against a custom endpoint),
/// then the environment's overrides.
pub fn table(
    custom_endpoint: bool,
    env: impl Fn(&str) -> Option<String>,
) -> HashMap<String, Limit> {
    let mut out = HashMap::new();
    let published = DEFAULTS
        .iter()
        .map(|q| {
            let limit = Limit {
                rate: q.rate,
                burst: q.burst,
            };
            (q.operation, Some(limit))
        })
        .chain(DICOMWEB.iter().copied());
    for (operation, limit) in published {
        let default = limit.filter(|_| !custom_endpoint);
        let chosen = match env(&env_name(operation)).as_deref().and_then(parse) {
            Some(set) => set,
            None => default,
        };
        if let Some(limit) = chosen {
            out.insert(operation.to_string(), limit);
        }
    }
    out
}

/// One operation's token bucket with an adaptive rate.
#[derive(Debug)]
struct Bucket {
    start: Limit,
    rate: f64,
    /// The highest rate the bucket may rise to: lowered by every throttle.
    ceiling: f64,
    /// Whether a throttle has set the ceiling (else it is the unprobed MAX_RISE bound).
    probed: bool,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(start: Limit, now: Instant) -> Self {
        Self {
            start,
            rate: start.rate,
            ceiling: start.rate * MAX_RISE,
            probed: false,
            tokens: start.burst,
            at: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.start.burst);
        self.at = now;
    }

    /// Takes a token; the wait before the request may go (callers queue by going negative).
    fn reserve(&mut self, now: Instant) -> Duration {
        self.refill(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }

    fn succeeded(&mut self, now: Instant) {
        self.refill(now);
        let rise = if self.probed { RECOVER } else { RISE };
        self.rate = (self.rate * rise).min(self.ceiling);
    }

    fn throttled(&mut self, now: Instant) {
        self.refill(now);
        let floor = self.start.rate / MAX_FALL;
        self.ceiling = (self.rate * CEILING).min(self.ceiling).max(floor);
        self.probed = true;
        self.rate = (self.rate / 2.0).max(floor);
    }
}

/// Every limited operation's bucket.
#[derive(Debug, Default)]
pub struct Limiter {
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    pub fn new(limits: HashMap<String, Limit>) -> Self {
        let now = Instant::now();
        Self {
            buckets: Mutex::new(
                limits
                    .into_iter()
                    .map(|(op, l)| (op, Bucket::new(l, now)))
                    .collect(),
            ),
        }
    }

    fn with<T>(&self, op: &str, f: impl FnOnce(&mut Bucket, Instant) -> T) -> Option<T> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        buckets.get_mut(op).map(|b| f(b, Instant::now()))
    }

    /// How long a request of `op` must wait now (zero for an unlimited operation).
    pub fn reserve(&self, op: &str) -> Duration {
        self.with(op, Bucket::reserve).unwrap_or_default()
    }

    /// Waits for `op`'s turn.
    pub async fn acquire(&self, op: &str) {
        let wait = self.reserve(op);
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    pub fn succeeded(&self, op: &str) {
        self.with(op, Bucket::succeeded);
    }

    pub fn throttled(&self, op: &str) {
        self.with(op, Bucket::throttled);
    }

    /// The current rate of `op`, if limited.
    pub fn rate(&self, op: &str) -> Option<f64> {
        self.with(op, |b, _| b.rate)
    }

    /// Every limited operation's current (rate, burst).
    pub fn snapshot(&self) -> HashMap<String, Limit> {
        let buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        buckets
            .iter()
            .map(|(op, b)| {
                (
                    op.clone(),
                    Limit {
                        rate: b.rate,
                        burst: b.start.burst,
                    },
                )
            })
            .collect()
    }
}

/// The limiter of the current client (replaced when the client is rebuilt).
static CURRENT: RwLock<Option<Arc<Limiter>>> = RwLock::new(None);

pub fn current() -> Option<Arc<Limiter>> {
    CURRENT.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// A limiter from the environment, installed as the current one.
pub fn install(custom_endpoint: bool) -> Arc<Limiter> {
    let limiter = Arc::new(Limiter::new(table(custom_endpoint, env::var)));
    *CURRENT.write().unwrap_or_else(|e| e.into_inner()) = Some(limiter.clone());
    limiter
}

/// The operation a request belongs to, carried from the interceptor to the connector.
#[derive(Debug, Clone)]
struct Operation(Arc<str>);

/// Tags each request (every attempt) with its operation name.
#[derive(Debug)]
pub struct TagOperation;

impl Intercept for TagOperation {
    fn name(&self) -> &'static str {
        "TagOperation"
    }
    fn modify_before_transmit(
        &self,
        ctx: &mut BeforeTransmitInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(m) = cfg.load::<Metadata>() {
            let op = Operation(Arc::from(m.name()));
            ctx.request_mut().add_extension(op);
        }
        Ok(())
    }
}

/// The SDK's HTTP client, with every request waiting for its operation's turn.
#[derive(Debug, Clone)]
pub struct Limited {
    pub inner: SharedHttpClient,
    pub limiter: Arc<Limiter>,
}

impl HttpClient for Limited {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(LimitedConnector {
            inner: self.inner.http_connector(settings, components),
            limiter: self.limiter.clone(),
        })
    }
}

#[derive(Debug)]
struct LimitedConnector {
    inner: SharedHttpConnector,
    limiter: Arc<Limiter>,
}

impl HttpConnector for LimitedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let op = request.extension::<Operation>().map(|o| o.0.clone());
        let (inner, limiter) = (self.inner.clone(), self.limiter.clone());
        HttpConnectorFuture::new(async move {
            let op = op.as_deref().unwrap_or("unknown");
            paced(&limiter, op, inner.call(request)).await
        })
    }
}

/// Sends one request of `op` when its turn comes, and adapts the rate to the answer.
pub async fn paced(
    limiter: &Limiter,
    op: &str,
    send: impl std::future::Future<Output = Result<HttpResponse, ConnectorError>>,
) -> Result<HttpResponse, ConnectorError> {
    limiter.acquire(op).await;
    attempts::sending(op);
    let out = send.await;
    match &out {
        Ok(resp) if resp.status().as_u16() == 429 => {
            limiter.throttled(op);
            attempts::note_response(op, resp);
        }
        Ok(resp) if resp.status().is_success() => limiter.succeeded(op),
        Ok(resp) => attempts::note_response(op, resp),
        Err(e) => attempts::note_failure(op, e),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(op: &str, rate: f64, burst: f64) -> Limiter {
        Limiter::new(HashMap::from([(op.to_string(), Limit { rate, burst })]))
    }

    #[test]
    fn env_names_split_words_and_acronyms() {
        assert_eq!(
            env_name("DeleteImageSet"),
            "HEALTHIMAGING_MCP_RATE_DELETE_IMAGE_SET"
        );
        assert_eq!(
            env_name("StartDICOMImportJob"),
            "HEALTHIMAGING_MCP_RATE_START_DICOM_IMPORT_JOB"
        );
        assert_eq!(
            env_name("UpdateImageSetMetadata"),
            "HEALTHIMAGING_MCP_RATE_UPDATE_IMAGE_SET_METADATA"
        );
    }

    #[test]
    fn defaults_apply_to_aws_and_not_to_a_custom_endpoint_unless_set() {
        let none = |_: &str| None;
        let aws = table(false, none);
        assert_eq!(
            aws["DeleteImageSet"],
            Limit {
                rate: 0.25,
                burst: 1.0
            }
        );
        assert_eq!(aws["GetImageSetMetadata"].rate, 50.0);
        assert_eq!(aws["SearchImageSets"].rate, 25.0);
        assert_eq!(aws["GetImageFrame"].rate, 1000.0);
        assert!(table(true, none).is_empty());
        for op in [
            "GetDICOMInstance",
            "GetDICOMInstanceMetadata",
            "GetDICOMInstanceFrames",
            "GetDICOMSeriesMetadata",
        ] {
            assert_eq!(
                aws[op],
                Limit {
                    rate: 50.0,
                    burst: 100.0
                }
            );
        }
        assert!(!aws.contains_key("StoreDICOM") && !aws.contains_key("SearchDICOMStudies"));
        let stow = |k: &str| (k == "HEALTHIMAGING_MCP_RATE_STORE_DICOM").then(|| "2:4".to_string());
        assert_eq!(table(true, stow)["StoreDICOM"].burst, 4.0);

        let env = |k: &str| match k {
            "HEALTHIMAGING_MCP_RATE_DELETE_IMAGE_SET" => Some("2:5".to_string()),
            "HEALTHIMAGING_MCP_RATE_SEARCH_IMAGE_SETS" => Some("off".to_string()),
            "HEALTHIMAGING_MCP_RATE_GET_IMAGE_SET" => Some("nonsense".to_string()),
            _ => None,
        };
        let local = table(true, env);
        assert_eq!(
            local,
            HashMap::from([(
                "DeleteImageSet".to_string(),
                Limit {
                    rate: 2.0,
                    burst: 5.0
                }
            )])
        );
        let aws = table(false, env);
        assert!(!aws.contains_key("SearchImageSets"));
        // An unparseable value keeps the default.
        assert_eq!(aws["GetImageSet"].rate, 25.0);
        assert_eq!(aws["DeleteImageSet"].burst, 5.0);
    }

    #[tokio::test(start_paused = true)]
    async fn burst_then_one_request_per_interval() {
        let l = limiter("DeleteImageSet", 0.25, 1.0);
        assert_eq!(l.reserve("DeleteImageSet"), Duration::ZERO);
        // The next ones queue 4 s apart.
        assert_eq!(l.reserve("DeleteImageSet"), Duration::from_secs(4));
        assert_eq!(l.reserve("DeleteImageSet"), Duration::from_secs(8));
        // Unlimited operations never wait.
        assert_eq!(l.reserve("GetImageSet"), Duration::ZERO);

        let l = limiter("SearchImageSets", 25.0, 50.0);
        let start = Instant::now();
        for _ in 0..50 {
            l.acquire("SearchImageSets").await;
        }
        assert_eq!(Instant::now(), start, "the burst goes at once");
        for _ in 0..25 {
            l.acquire("SearchImageSets").await;
        }
        let waited = Instant::now() - start;
        assert!(
            (waited.as_secs_f64() - 1.0).abs() < 1e-6,
            "25 more at 25/s take 1 s: {waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn rises_without_throttles_and_halves_on_one() {
        let l = limiter("UpdateImageSetMetadata", 0.25, 1.0);
        l.throttled("UpdateImageSetMetadata");
        assert_eq!(l.rate("UpdateImageSetMetadata"), Some(0.125));
        l.throttled("UpdateImageSetMetadata");
        assert_eq!(l.rate("UpdateImageSetMetadata"), Some(0.0625));
        for _ in 0..10 {
            l.throttled("UpdateImageSetMetadata");
        }
        assert_eq!(
            l.rate("UpdateImageSetMetadata"),
            Some(0.25 / MAX_FALL),
            "never below a sixteenth"
        );
        let l = limiter("UpdateImageSetMetadata", 0.25, 1.0);
        l.succeeded("UpdateImageSetMetadata");
        assert!((l.rate("UpdateImageSetMetadata").unwrap() - 0.2625).abs() < 1e-12);
        for _ in 0..1000 {
            l.succeeded("UpdateImageSetMetadata");
        }
        assert_eq!(l.rate("UpdateImageSetMetadata"), Some(0.25 * MAX_RISE));
        // At the raised rate the wait shrinks accordingly: 16 TPS, burst 1.
        assert_eq!(l.reserve("UpdateImageSetMetadata"), Duration::ZERO);
        assert_eq!(
            l.reserve("UpdateImageSetMetadata"),
            Duration::from_secs_f64(1.0 / 16.0)
        );
        // Time passing refills the bucket up to its burst only.
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(l.reserve("UpdateImageSetMetadata"), Duration::ZERO);
        assert_eq!(
            l.reserve("UpdateImageSetMetadata"),
            Duration::from_secs_f64(1.0 / 16.0)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttle_caps_the_climb_just_under_the_rate_that_drew_it() {
        let op = "DeleteImageSet";
        let l = limiter(op, 0.25, 1.0);
        for _ in 0..10 {
            l.succeeded(op);
        }
        let drew = l.rate(op).unwrap();
        assert!(drew > 0.4, "{drew}");
        l.throttled(op);
        assert!((l.rate(op).unwrap() - drew / 2.0).abs() < 1e-12);
        for _ in 0..1000 {
            l.succeeded(op);
        }
        // The climb back to the ceiling is quick: a halving is undone within 3 answers.
        let mut back = Vec::new();
        for _ in 0..3 {
            l.succeeded(op);
            back.push(l.rate(op).unwrap());
        }
        assert!(
            back.windows(2)
                .all(|w| w[0] < w[1] || w[1] == drew * CEILING),
            "{back:?}"
        );
        assert!((back[2] - drew * CEILING).abs() < 1e-12, "{back:?}");
        for _ in 0..1000 {
            l.succeeded(op);
        }
        let cap = l.rate(op).unwrap();
        assert!((cap - drew * CEILING).abs() < 1e-12, "{cap} vs {drew}");
        // A second throttle lowers the ceiling again; the floor still holds.
        l.throttled(op);
        for _ in 0..1000 {
            l.succeeded(op);
        }
        assert!((l.rate(op).unwrap() - cap * CEILING).abs() < 1e-12);
        for _ in 0..200 {
            l.throttled(op);
        }
        for _ in 0..1000 {
            l.succeeded(op);
        }
        assert_eq!(l.rate(op), Some(0.25 / MAX_FALL));
    }
}
