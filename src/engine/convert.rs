//! Output shaping: what the typed outputs are made of besides plain strings and numbers:
//! ISO-8601 timestamps and the service's enums (both with their schemas).

use std::borrow::Cow;

use aws_sdk_medicalimaging::primitives::DateTime;
use aws_sdk_medicalimaging::types::{
    DatastoreStatus, ImageSetState, ImageSetWorkflowStatus, JobStatus, LosslessStorageFormat,
    SortField, SortOrder, StorageTier,
};
use aws_smithy_types::date_time::Format;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Serialize, Serializer};

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

/// A timestamp in an output: ISO-8601 UTC with milliseconds (see `iso`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Timestamp(pub String);

impl Timestamp {
    pub fn of(t: &DateTime) -> Self {
        Self(iso(t))
    }

    /// `Some` for a timestamp the service gave.
    pub fn opt(t: Option<&DateTime>) -> Option<Self> {
        t.map(Self::of)
    }
}

impl JsonSchema for Timestamp {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> Cow<'static, str> {
        "Timestamp".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": "date-time"})
    }
}

/// An SDK enum whose values the service model lists.
pub trait ServiceEnum: AsRef<str> {
    const NAME: &'static str;
    fn known() -> &'static [&'static str];
}

macro_rules! service_enums {
    ($($t:ident),* $(,)?) => {
        $(impl ServiceEnum for $t {
            const NAME: &'static str = stringify!($t);
            fn known() -> &'static [&'static str] {
                $t::values()
            }
        })*
    };
}

service_enums!(
    DatastoreStatus,
    ImageSetState,
    ImageSetWorkflowStatus,
    JobStatus,
    LosslessStorageFormat,
    SortField,
    SortOrder,
    StorageTier,
);

/// An SDK enum in an output: the service's value as text, typed inside (workflows compare
/// variants, not strings); its schema lists the values the service model defines. A value
/// newer than this build passes through as the service sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named<T>(pub T);

impl<T: ServiceEnum> Named<T> {
    pub fn of(v: &T) -> Self
    where
        T: Clone,
    {
        Self(v.clone())
    }

    pub fn opt(v: Option<&T>) -> Option<Self>
    where
        T: Clone,
    {
        v.map(Self::of)
    }

    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }
}

impl<T: ServiceEnum> Serialize for Named<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.as_ref())
    }
}

impl<T: ServiceEnum> JsonSchema for Named<T> {
    fn schema_name() -> Cow<'static, str> {
        T::NAME.into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "enum": T::known()})
    }
}

/// Values this server converted before sending them (ISO dates to DICOM `YYYYMMDD`): where
/// the value was given → what it became.
pub type Converted = std::collections::BTreeMap<String, String>;

/// Leaves `false` out of an output (a flag present only when set).
pub fn is_false(b: &bool) -> bool {
    !*b
}

/// Test helpers: an output type's schema under the serialization contract (as the tool
/// registry publishes it: a field is optional exactly when it is left out, and an `Option`
/// that is always there is nullable), and its `required` and property names.
#[cfg(test)]
pub mod testing {
    use schemars::generate::SchemaSettings;
    use schemars::JsonSchema;
    use serde_json::Value;

    pub fn output_schema<T: JsonSchema>() -> Value {
        SchemaSettings::draft2020_12()
            .for_serialize()
            .into_generator()
            .into_root_schema_for::<T>()
            .to_value()
    }

    fn at<'a>(schema: &'a Value, def: Option<&str>) -> &'a Value {
        match def {
            Some(name) => &schema["$defs"][name],
            None => schema,
        }
    }

    /// The `required` list of `T`'s schema (of its `$defs` entry `def` when given), sorted.
    pub fn required<T: JsonSchema>(def: Option<&str>) -> Vec<String> {
        let schema = output_schema::<T>();
        let mut names: Vec<String> = at(&schema, def)["required"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Every property name of the schema (of its `$defs` entry `def` when given), sorted.
    pub fn properties<T: JsonSchema>(def: Option<&str>) -> Vec<String> {
        let schema = output_schema::<T>();
        let mut names: Vec<String> = at(&schema, def)["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        names.sort();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_enums_list_the_model_values() {
        let schema = testing::output_schema::<Named<ImageSetState>>();
        assert_eq!(
            schema["enum"],
            serde_json::json!(["ACTIVE", "DELETED", "LOCKED"])
        );
        assert_eq!(
            serde_json::to_value(Named(ImageSetState::Locked)).unwrap(),
            "LOCKED"
        );
        // A value newer than this build passes through unchanged.
        assert_eq!(
            serde_json::to_value(Named(ImageSetState::from("ARCHIVED"))).unwrap(),
            "ARCHIVED"
        );
        let t = testing::output_schema::<Timestamp>();
        assert_eq!(t["format"], "date-time");
    }

    #[derive(Serialize, JsonSchema)]
    struct Sample {
        count: usize,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        when: Option<Timestamp>,
        /// Always there.
        maybe: Option<i32>,
    }

    #[test]
    fn optional_means_left_out_and_nullable_means_always_there() {
        let s = testing::output_schema::<Sample>();
        assert_eq!(s["required"], serde_json::json!(["count", "maybe"]));
        assert_eq!(
            s["properties"]["maybe"]["type"],
            serde_json::json!(["integer", "null"])
        );
        assert_eq!(
            serde_json::to_value(Sample {
                count: 1,
                note: None,
                when: None,
                maybe: None
            })
            .unwrap(),
            serde_json::json!({"count": 1, "maybe": null})
        );
        assert_eq!(testing::required::<Sample>(None), ["count", "maybe"]);
        assert_eq!(
            testing::properties::<Sample>(None),
            ["count", "maybe", "note", "when"]
        );
    }

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
