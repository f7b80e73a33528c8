//! The service's throttle table, played back: one token bucket per operation for the whole
//! server (the service's quotas are per account, and a local server is one account). A request
//! that finds its operation's bucket empty is answered with ThrottlingException. Off by default.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use crate::model::quotas::{self, Quota};

/// Which table is enforced, and how much faster than the service.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum QuotaMode {
    #[default]
    Off,
    /// HealthImaging's published defaults, every rate multiplied by `scale` (bursts unchanged).
    Aws { scale: f64 },
}

/// A `--quotas` / `--quota-scale` pair that names no table or no positive multiplier.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum BadQuotas {
    #[error("quota scale must be a positive number, got {0}")]
    Scale(f64),
    #[error("unknown quotas {0:?}: expected \"aws\" or \"off\"")]
    Name(String),
}

impl QuotaMode {
    /// `off`/`none` or `aws`, with a rate multiplier (> 0).
    pub fn parse(name: &str, scale: f64) -> Result<Self, BadQuotas> {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(BadQuotas::Scale(scale));
        }
        match name.trim().to_ascii_lowercase().as_str() {
            "" | "off" | "none" => Ok(Self::Off),
            "aws" => Ok(Self::Aws { scale }),
            other => Err(BadQuotas::Name(other.to_string())),
        }
    }
}

#[derive(Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(q: Quota, scale: f64, now: Instant) -> Self {
        Self {
            rate: q.rate * scale,
            burst: q.burst,
            tokens: q.burst,
            at: now,
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The buckets of the mode in force; changing the mode refills them all.
#[derive(Debug, Default)]
pub struct Quotas {
    inner: Mutex<(QuotaMode, HashMap<&'static str, Bucket>)>,
}

impl Quotas {
    pub fn set(&self, mode: QuotaMode) {
        let now = Instant::now();
        let buckets = match mode {
            QuotaMode::Off => HashMap::new(),
            QuotaMode::Aws { scale } => quotas::DEFAULTS
                .iter()
                .map(|q| (q.operation, Bucket::new(*q, scale, now)))
                .collect(),
        };
        *self.inner.lock().unwrap_or_else(PoisonError::into_inner) = (mode, buckets);
    }

    pub fn mode(&self) -> QuotaMode {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).0
    }

    /// Takes a token for `operation`; `false` means throttle it.
    pub fn admit(&self, operation: &str) -> bool {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match inner.1.get_mut(operation) {
            Some(bucket) => bucket.take(Instant::now()),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bucket_allows_its_burst_then_refills_at_its_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(quotas::default_for("DeleteImageSet").unwrap(), 20.0, t0);
        assert!(b.take(t0));
        assert!(!b.take(t0));
        // 0.25 TPS x 20 = 5 per second: a token every 200 ms.
        assert!(!b.take(t0 + Duration::from_millis(150)));
        assert!(b.take(t0 + Duration::from_millis(260)));
        // Never more than the burst, however long it waited.
        let later = t0 + Duration::from_secs(60);
        assert!(b.take(later));
        assert!(!b.take(later));
    }

    #[test]
    fn off_admits_everything_and_aws_throttles_per_operation() {
        let q = Quotas::default();
        assert!((0..100).all(|_| q.admit("DeleteImageSet")));
        q.set(QuotaMode::parse("aws", 1.0).unwrap());
        assert!(q.admit("DeleteImageSet"));
        assert!(!q.admit("DeleteImageSet"));
        // Another operation has its own bucket (GetImageSet: burst 50).
        assert!((0..50).all(|_| q.admit("GetImageSet")));
        assert!(q.admit("NotAnOperation"));
        q.set(QuotaMode::Off);
        assert!(q.admit("DeleteImageSet"));
    }

    #[test]
    fn parse_rejects_unknown_tables_and_bad_scales() {
        assert_eq!(QuotaMode::parse("off", 1.0), Ok(QuotaMode::Off));
        assert_eq!(
            QuotaMode::parse("AWS", 20.0),
            Ok(QuotaMode::Aws { scale: 20.0 })
        );
        assert!(QuotaMode::parse("gcp", 1.0).is_err());
        assert!(QuotaMode::parse("aws", 0.0).is_err());
        assert!(QuotaMode::parse("aws", f64::NAN).is_err());
    }
}
