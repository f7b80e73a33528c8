//! Disturbances for resilience tests, applied to every request of a known operation after the
//! front door: the service's throttle table (`quotas`), then injected latency (fixed, uniform,
//! spikes), server errors (500 InternalServerException, 503 ServiceUnavailableException),
//! dropped connections (closed without an answer) and slow answer bodies. Rules are set per
//! operation or for all (`"*"`), at start or while the server runs; all are off by default.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ErrorKind};
use super::quotas::Quotas;
use crate::model::quotas;

/// What happens to one operation's requests. Shares are 0..=1 (their sum at most 1), times in
/// milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultRule {
    /// Share answered 500 InternalServerException.
    pub internal_error: f64,
    /// Share answered 503 ServiceUnavailableException.
    pub unavailable: f64,
    /// Share whose connection is closed without an answer.
    pub drop: f64,
    /// Delay before every request; with `latency_max_ms`, the least of a uniform range.
    pub latency_ms: f64,
    /// The most of a uniform delay `latency_ms..=latency_max_ms`.
    pub latency_max_ms: Option<f64>,
    /// Share of requests that get `spike_ms` more.
    pub spike_share: f64,
    pub spike_ms: f64,
    /// The answer's body is sent in pieces spread over this long.
    pub slow_body_ms: f64,
}

/// Fault rules that cannot be applied: not the JSON of a plan, an unknown operation, or a value
/// out of range (each message names the rule and field).
#[derive(Debug, thiserror::Error)]
pub enum BadFaults {
    #[error("invalid fault rules: {0}")]
    Json(#[from] serde_json::Error),
    #[error("unknown operation {op:?} in fault rules; expected \"*\" or one of {known}")]
    Operation { op: String, known: String },
    #[error("{0}")]
    Value(String),
}

impl FaultRule {
    fn check(&self, name: &str) -> Result<(), BadFaults> {
        let bad = |message: String| Err(BadFaults::Value(message));
        let shares = [
            ("internal_error", self.internal_error),
            ("unavailable", self.unavailable),
            ("drop", self.drop),
            ("spike_share", self.spike_share),
        ];
        for (field, v) in shares {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("{name}.{field} must be a share between 0 and 1"));
            }
        }
        if self.internal_error + self.unavailable + self.drop > 1.0 + 1e-9 {
            return bad(format!(
                "{name}: internal_error + unavailable + drop must be at most 1"
            ));
        }
        let times = [
            ("latency_ms", self.latency_ms),
            ("latency_max_ms", self.latency_max_ms.unwrap_or(0.0)),
            ("spike_ms", self.spike_ms),
            ("slow_body_ms", self.slow_body_ms),
        ];
        for (field, v) in times {
            if !(v.is_finite() && (0.0..=3_600_000.0).contains(&v)) {
                return bad(format!("{name}.{field} must be milliseconds (0 to 1 hour)"));
            }
        }
        if self.latency_max_ms.is_some_and(|max| max < self.latency_ms) {
            return bad(format!("{name}.latency_max_ms is below latency_ms"));
        }
        Ok(())
    }

    /// The delay for one request: (total, whether it was a spike).
    fn delay(&self, roll: impl Fn() -> f64) -> (Duration, bool) {
        let base = match self.latency_max_ms {
            Some(max) => self.latency_ms + roll() * (max - self.latency_ms),
            None => self.latency_ms,
        };
        let spike = self.spike_share > 0.0 && roll() < self.spike_share;
        let ms = base + if spike { self.spike_ms } else { 0.0 };
        (Duration::from_secs_f64(ms / 1000.0), spike)
    }
}

/// The rules in force: one for every operation (`"*"`), and per-operation ones that replace it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultPlan {
    #[serde(rename = "*", default, skip_serializing_if = "Option::is_none")]
    pub all: Option<FaultRule>,
    #[serde(flatten)]
    pub operations: HashMap<String, FaultRule>,
}

impl FaultPlan {
    /// Reads `{"*": rule, "DeleteImageSet": rule, ...}`; operation names are the service's.
    pub fn from_json(text: &str) -> Result<Self, BadFaults> {
        let plan: Self = serde_json::from_str(text)?;
        if let Some(all) = &plan.all {
            all.check("*")?;
        }
        for (op, rule) in &plan.operations {
            if quotas::default_for(op).is_none() {
                let known: Vec<&str> = quotas::DEFAULTS.iter().map(|q| q.operation).collect();
                return Err(BadFaults::Operation {
                    op: op.clone(),
                    known: known.join(", "),
                });
            }
            rule.check(op)?;
        }
        Ok(plan)
    }

    fn rule(&self, operation: &str) -> Option<FaultRule> {
        self.operations.get(operation).copied().or(self.all)
    }
}

/// The plan in force, replaceable while the server runs.
#[derive(Debug, Default)]
pub struct Faults(RwLock<FaultPlan>);

impl Faults {
    pub fn set(&self, plan: FaultPlan) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = plan;
    }

    pub fn plan(&self) -> FaultPlan {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn rule(&self, operation: &str) -> Option<FaultRule> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .rule(operation)
    }
}

/// How an operation's request was disposed of by the quotas and fault rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Passed on to the operation (whatever it answered).
    Ok,
    /// Refused by the operation's quota (ThrottlingException).
    Throttled,
    /// Answered with an injected 500 or 503.
    Faulted,
    /// Connection closed without an answer.
    Dropped,
    /// Given a latency spike (besides one of the outcomes above).
    Spiked,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OperationCounts {
    pub ok: u64,
    pub throttled: u64,
    pub faulted: u64,
    pub dropped: u64,
    pub spiked: u64,
}

/// Outcome counts per operation.
#[derive(Debug, Default)]
pub struct OperationCounters(Mutex<BTreeMap<&'static str, OperationCounts>>);

impl OperationCounters {
    pub fn count(&self, operation: &'static str, outcome: Outcome) {
        let mut ops = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let c = ops.entry(operation).or_default();
        match outcome {
            Outcome::Ok => c.ok += 1,
            Outcome::Throttled => c.throttled += 1,
            Outcome::Faulted => c.faulted += 1,
            Outcome::Dropped => c.dropped += 1,
            Outcome::Spiked => c.spiked += 1,
        }
    }

    pub fn snapshot(&self) -> BTreeMap<&'static str, OperationCounts> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Runs `operation`'s request through the quotas and fault rules, then (if it survives) the
/// operation itself, counting the outcome.
pub async fn apply(
    quotas: &Quotas,
    faults: &Faults,
    counters: &OperationCounters,
    operation: &'static str,
    req: Request,
    next: Next,
) -> Response {
    let count = |outcome| counters.count(operation, outcome);
    if !quotas.admit(operation) {
        count(Outcome::Throttled);
        return ApiError::new(ErrorKind::Throttling, "Rate exceeded").into_response();
    }
    let Some(rule) = faults.rule(operation) else {
        count(Outcome::Ok);
        return next.run(req).await;
    };
    let (delay, spike) = rule.delay(rand::random::<f64>);
    if spike {
        count(Outcome::Spiked);
    }
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let roll = rand::random::<f64>();
    if roll < rule.drop {
        count(Outcome::Dropped);
        return Response::new(Body::new(Broken));
    }
    if roll < rule.drop + rule.internal_error {
        count(Outcome::Faulted);
        return ApiError::internal("Injected fault: internal server error").into_response();
    }
    if roll < rule.drop + rule.internal_error + rule.unavailable {
        count(Outcome::Faulted);
        return ApiError::new(
            ErrorKind::ServiceUnavailable,
            "Injected fault: service unavailable",
        )
        .into_response();
    }
    count(Outcome::Ok);
    let response = next.run(req).await;
    if rule.slow_body_ms <= 0.0 {
        return response;
    }
    let (parts, body) = response.into_parts();
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => Response::from_parts(
            parts,
            Body::new(Dribble::new(
                bytes,
                Duration::from_secs_f64(rule.slow_body_ms / 1000.0),
            )),
        ),
        Err(_) => Response::new(Body::new(Broken)),
    }
}

/// A body that fails before its first byte: hyper then closes the connection without having
/// sent the answer's head.
struct Broken;

impl http_body::Body for Broken {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::other(
            "injected fault: connection dropped",
        ))))
    }
}

/// Pieces a slow body is sent in.
const SLOW_PIECES: usize = 4;

/// A body sent in `SLOW_PIECES` pieces with a pause before each.
struct Dribble {
    rest: Bytes,
    piece: usize,
    pause: Duration,
    total: u64,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Dribble {
    fn new(body: Bytes, over: Duration) -> Self {
        Self {
            piece: body.len().div_ceil(SLOW_PIECES).max(1),
            total: body.len() as u64,
            rest: body,
            pause: over / SLOW_PIECES as u32,
            sleep: None,
        }
    }
}

impl http_body::Body for Dribble {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        if self.rest.is_empty() {
            return Poll::Ready(None);
        }
        let pause = self.pause;
        let sleep = self
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(pause)));
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.sleep = None;
        let n = self.piece.min(self.rest.len());
        let piece = self.rest.split_to(n);
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_operation_rules_replace_the_rule_for_all() {
        let plan = FaultPlan::from_json(
            r#"{"*": {"latency_ms": 5}, "DeleteImageSet": {"internal_error": 1.0}}"#,
        )
        .unwrap();
        assert_eq!(plan.rule("GetImageSet").unwrap().latency_ms, 5.0);
        let delete = plan.rule("DeleteImageSet").unwrap();
        assert_eq!(delete.internal_error, 1.0);
        assert_eq!(delete.latency_ms, 0.0);
        assert_eq!(FaultPlan::default().rule("GetImageSet"), None);
        let back = serde_json::to_string(&plan).unwrap();
        assert_eq!(FaultPlan::from_json(&back).unwrap(), plan);
    }

    #[test]
    fn bad_rules_are_refused_with_the_reason() {
        for (text, needle) in [
            (r#"{"GetImageSets": {}}"#, "unknown operation"),
            (r#"{"*": {"drop": 1.5}}"#, "between 0 and 1"),
            (
                r#"{"*": {"drop": 0.6, "internal_error": 0.6}}"#,
                "at most 1",
            ),
            (r#"{"*": {"latency_ms": -1}}"#, "milliseconds"),
            (r#"{"*": {"latency_ms": 9, "latency_max_ms": 3}}"#, "below"),
            (r#"{"*": {"dropp": 0.1}}"#, "unknown field"),
        ] {
            let err = FaultPlan::from_json(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn delays_follow_the_distribution() {
        let fixed = FaultRule {
            latency_ms: 7.0,
            ..Default::default()
        };
        assert_eq!(fixed.delay(|| 0.5), (Duration::from_millis(7), false));
        let uniform = FaultRule {
            latency_ms: 10.0,
            latency_max_ms: Some(30.0),
            ..Default::default()
        };
        assert_eq!(uniform.delay(|| 0.0).0, Duration::from_millis(10));
        assert_eq!(uniform.delay(|| 0.5).0, Duration::from_millis(20));
        let spiky = FaultRule {
            spike_share: 0.1,
            spike_ms: 100.0,
            ..Default::default()
        };
        assert_eq!(spiky.delay(|| 0.05), (Duration::from_millis(100), true));
        assert_eq!(spiky.delay(|| 0.5), (Duration::ZERO, false));
    }

    #[tokio::test]
    async fn a_slow_body_arrives_whole() {
        let data = Bytes::from(vec![7u8; 1001]);
        let body = Body::new(Dribble::new(data.clone(), Duration::from_millis(4)));
        assert_eq!(axum::body::to_bytes(body, usize::MAX).await.unwrap(), data);
    }
}
