//! Output shaping: SDK output → plain JSON with snake_case keys (the original server's field
//! names) and ISO-8601 timestamps.

use aws_sdk_medicalimaging::primitives::DateTime;
use aws_smithy_types::date_time::Format;
use serde_json::{Map, Value};

pub fn iso(t: &DateTime) -> String {
    t.fmt(Format::DateTime)
        .unwrap_or_else(|_| t.secs().to_string())
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
