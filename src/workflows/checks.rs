//! The one check of a Patient/Study attribute update, made before any write and identically
//! for a dry run and a real run: HealthImaging's constraints (`dicom::update_rules`), what this
//! server refuses to send (a `null` would store an empty value), ISO dates converted to DICOM
//! `YYYYMMDD`, and the size limit of the update document.

use dicom_core::VR;
use serde_json::{Map, Value};

use super::documents;
use crate::dicom::dictionary::attribute;
use crate::dicom::levels::Level;
use crate::dicom::{update_rules, values};
use crate::engine::convert::Converted;
use crate::model::constraints::MAX_UPDATE_BLOB;

/// A checked update.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateCheck {
    /// The `updatableAttributes` document, as it would be sent.
    pub document: Value,
    /// Attribute → the value it was converted to (ISO dates).
    pub normalized: Converted,
    /// Why HealthImaging would refuse the document (every problem found); `None` when it
    /// can be sent.
    pub refusal: Option<String>,
}

/// One attribute: its value as it would be sent, or why it can't be.
fn attribute_value(
    level: Level,
    key: &str,
    value: &Value,
    force: bool,
    normalized: &mut Converted,
) -> Result<Value, String> {
    if value.is_null() {
        return Err(format!(
            "{key} is null: an update sets values (removing an attribute is not an update)"
        ));
    }
    let mut value = value.clone();
    // Dates and times as this server takes them (stricter than DICOM for times: HHMMSS).
    match (attribute(key).and_then(|a| a.vr), &value) {
        (Some(VR::DA), Value::String(s)) => {
            let (dicom, converted) = values::date(s).map_err(|why| format!("{key}: {why}"))?;
            if converted {
                normalized.insert(key.to_string(), dicom.clone());
                value = Value::String(dicom);
            }
        }
        (Some(VR::TM), Value::String(s)) => {
            values::time(s).map_err(|why| format!("{key}: {why}"))?;
        }
        _ => {}
    }
    match update_rules::refusal(level, key, &value, force) {
        Some(why) => Err(why),
        None => Ok(value),
    }
}

/// Checks Patient- and Study-level attributes to set (`force` as the write would send it).
pub fn patient_study_update(
    patient: &Map<String, Value>,
    study: &Map<String, Value>,
    force: bool,
) -> UpdateCheck {
    let mut normalized = Converted::new();
    let mut problems = Vec::new();
    let mut level = |level: Level, attrs: &Map<String, Value>| -> Map<String, Value> {
        let mut out = Map::new();
        for (k, v) in attrs {
            match attribute_value(level, k, v, force, &mut normalized) {
                Ok(v) => {
                    out.insert(k.clone(), v);
                }
                Err(why) => {
                    problems.push(why);
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        out
    };
    let (p, s) = (level(Level::Patient, patient), level(Level::Study, study));
    let document = documents::patient_study_update(Some(&p), Some(&s));
    let size = serde_json::to_vec(&document)
        .expect("JSON serializes")
        .len();
    if size > MAX_UPDATE_BLOB {
        problems.push(format!(
            "the update document is {size} bytes; HealthImaging accepts at most {MAX_UPDATE_BLOB}"
        ));
    }
    UpdateCheck {
        document,
        normalized,
        refusal: (!problems.is_empty()).then(|| problems.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(patient: Value, study: Value) -> UpdateCheck {
        let m = |v: Value| v.as_object().cloned().unwrap_or_default();
        patient_study_update(&m(patient), &m(study), false)
    }

    #[test]
    fn valid_updates_pass_and_iso_dates_are_converted() {
        let c = check(
            json!({"PatientName": "DOE^JOHN", "PatientBirthDate": "1970-01-31"}),
            json!({"StudyDate": "20240601", "StudyTime": "101500.5", "StudyDescription": "CT"}),
        );
        assert_eq!(c.refusal, None);
        assert_eq!(
            c.normalized,
            Converted::from([("PatientBirthDate".into(), "19700131".into())])
        );
        assert_eq!(
            c.document,
            json!({"SchemaVersion": "1.1",
                   "Patient": {"DICOM": {"PatientName": "DOE^JOHN", "PatientBirthDate": "19700131"}},
                   "Study": {"DICOM": {"StudyDate": "20240601", "StudyTime": "101500.5", "StudyDescription": "CT"}}})
        );
    }

    #[test]
    fn every_refused_change_has_its_reason() {
        let cases = [
            (json!({"StudyDescription": "X"}), json!({}), "Study-level"),
            (
                json!({"PatientName": ["A^B", "C^D"]}),
                json!({}),
                "one value",
            ),
            (json!({}), json!({"StudyInstanceUID": "1.2.3"}), "force"),
            (
                json!({}),
                json!({"ReasonForVisit": "x".repeat(40_000)}),
                "30000",
            ),
            (
                json!({}),
                json!({"StudyDescription": "x".repeat(40_000)}),
                "at most 64",
            ),
            (json!({"00100010": "DOE^JANE"}), json!({}), "keyword"),
            (
                json!({"PatientNickname": "X"}),
                json!({}),
                "not a DICOM keyword",
            ),
            (json!({"PatientSex": null}), json!({}), "null"),
            (
                json!({}),
                json!({"StudyDate": "2024/06/01"}),
                "YYYYMMDD or YYYY-MM-DD",
            ),
            (json!({}), json!({"StudyTime": "10:15"}), "HHMMSS"),
            (json!({}), json!({"StudyTime": "1015"}), "HHMMSS"),
        ];
        for (p, s, why) in cases {
            let c = check(p.clone(), s.clone());
            let refusal = c.refusal.unwrap_or_else(|| panic!("{p} {s} passed"));
            assert!(refusal.contains(why), "{refusal} lacks {why}");
            assert!(refusal.len() < 300, "{refusal}");
        }
        // Every problem is named, not just the first.
        let c = check(json!({"PatientSex": null, "Foo": "x"}), json!({}));
        let r = c.refusal.unwrap();
        assert!(r.contains("PatientSex") && r.contains("Foo"), "{r}");
    }
}
