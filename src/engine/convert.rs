//! Output shaping: SDK output → plain JSON with snake_case keys (the original server's field
//! names) and ISO-8601 timestamps.

use aws_sdk_medicalimaging::primitives::DateTime;
use aws_smithy_types::date_time::Format;
use serde_json::{Map, Value};

/// ISO-8601 UTC with exactly three fractional digits. HealthImaging's timestamps are epoch
/// seconds with millisecond precision; the SDK reads them through an `f64`, so `47.662`
/// arrives as `47.661999893`. Rounding back to the millisecond gives the service's value, which
/// then works as a search bound that includes the item itself.
pub fn iso(t: &DateTime) -> String {
    let millis = i128::from(t.secs()) * 1000 + (i128::from(t.subsec_nanos()) + 500_000) / 1_000_000;
    let rounded = i64::try_from(millis)
        .ok()
        .map(DateTime::from_millis)
        .and_then(|d| d.fmt(Format::DateTime).ok());
    match rounded {
        // Smithy drops trailing zeros of the fraction; keep three digits for every value.
        Some(text) => {
            let body = text.trim_end_matches('Z');
            let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
            format!("{whole}.{:0<3}Z", &frac[..frac.len().min(3)])
        }
        None => t.secs().to_string(),
    }
}

/// A JSON object under construction; `None` values are left out.
#[derive(Default)]
pub struct Obj(Map<String, Value>);

impl Obj {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn put(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.0.insert(key.to_string(), value.into());
        self
    }
    pub fn opt<T: Into<Value>>(mut self, key: &str, value: Option<T>) -> Self {
        if let Some(v) = value {
            self.0.insert(key.to_string(), v.into());
        }
        self
    }
    pub fn time(self, key: &str, value: Option<&DateTime>) -> Self {
        self.opt(key, value.map(iso))
    }
    pub fn done(self) -> Value {
        Value::Object(self.0)
    }
}

/// `Some(enum.as_str())` for SDK enums.
pub fn name<T: AsRef<str>>(v: Option<&T>) -> Option<String> {
    v.map(|e| e.as_ref().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_keep_the_services_milliseconds() {
        // What the SDK makes of the wire value 1700000047.662 (epoch seconds).
        let wire = DateTime::from_secs_f64(1_700_000_047.662);
        assert_ne!(wire.subsec_nanos(), 662_000_000);
        assert_eq!(iso(&wire), "2023-11-14T22:14:07.662Z");
        assert_eq!(
            iso(&DateTime::from_secs_f64(1_700_000_047.0)),
            "2023-11-14T22:14:07.000Z"
        );
        assert_eq!(
            iso(&DateTime::from_secs_f64(1_700_000_047.5)),
            "2023-11-14T22:14:07.500Z"
        );
        // 999.9996 ms rounds into the next second.
        assert_eq!(
            iso(&DateTime::from_fractional_secs(1_700_000_047, 0.9999996)),
            "2023-11-14T22:14:08.000Z"
        );
        // The text parses back to exactly the service's value (a search bound that includes it).
        let back = DateTime::from_str(&iso(&wire), Format::DateTime).unwrap();
        assert_eq!(back.fmt(Format::EpochSeconds).unwrap(), "1700000047.662");
        for ms in [1_u64, 10, 99, 100, 661, 662, 999] {
            let wire = DateTime::from_secs_f64(1_700_000_047.0 + ms as f64 / 1000.0);
            let back = DateTime::from_str(&iso(&wire), Format::DateTime).unwrap();
            assert_eq!(back.subsec_nanos(), ms as u32 * 1_000_000, "{ms} ms");
        }
    }
}
