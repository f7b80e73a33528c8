//! The update documents the workflows send, one builder per kind, in the shape of the
//! HealthImaging metadata (reference §5): Patient/Study attribute updates, removal of a series,
//! removal of a SOP instance.

use serde_json::{json, Map, Value};

const SCHEMA_VERSION: &str = "1.1";

/// Patient- and/or Study-level attribute updates (`updatableAttributes`).
pub fn patient_study_update(
    patient: Option<&Map<String, Value>>,
    study: Option<&Map<String, Value>>,
) -> Value {
    let mut doc = json!({"SchemaVersion": SCHEMA_VERSION});
    if let Some(p) = patient.filter(|p| !p.is_empty()) {
        doc["Patient"] = json!({"DICOM": p});
    }
    if let Some(s) = study.filter(|s| !s.is_empty()) {
        doc["Study"] = json!({"DICOM": s});
    }
    doc
}

/// Removal of a whole series (`removableAttributes`).
pub fn remove_series(series_uid: &str) -> Value {
    json!({"SchemaVersion": SCHEMA_VERSION, "Study": {"Series": {series_uid: {}}}})
}

/// Removal of one SOP instance of a series (`removableAttributes`).
pub fn remove_instance(series_uid: &str, sop_uid: &str) -> Value {
    json!({"SchemaVersion": SCHEMA_VERSION, "Study": {"Series": {series_uid: {"Instances": {sop_uid: {}}}}}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_have_the_service_shape() {
        let p: Map<String, Value> =
            serde_json::from_value(json!({"PatientName": "DOE^JOHN"})).unwrap();
        let s: Map<String, Value> =
            serde_json::from_value(json!({"StudyDescription": "CT"})).unwrap();
        assert_eq!(
            patient_study_update(Some(&p), Some(&s)),
            json!({"SchemaVersion": "1.1", "Patient": {"DICOM": {"PatientName": "DOE^JOHN"}},
                   "Study": {"DICOM": {"StudyDescription": "CT"}}})
        );
        assert_eq!(
            patient_study_update(Some(&p), None),
            json!({"SchemaVersion": "1.1", "Patient": {"DICOM": {"PatientName": "DOE^JOHN"}}})
        );
        assert_eq!(
            remove_series("1.2.3"),
            json!({"SchemaVersion": "1.1", "Study": {"Series": {"1.2.3": {}}}})
        );
        assert_eq!(
            remove_instance("1.2.3", "1.2.3.4"),
            json!({"SchemaVersion": "1.1", "Study": {"Series": {"1.2.3": {"Instances": {"1.2.3.4": {}}}}}})
        );
    }
}
