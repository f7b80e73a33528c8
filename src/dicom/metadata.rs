//! The image set metadata document as a typed model, parsed once from the decoded JSON.
//! Attribute maps stay JSON (keyword → value); the hierarchy is typed.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Attributes {
    #[serde(rename = "DICOM", default)]
    pub dicom: Map<String, Value>,
}

impl Attributes {
    /// A text attribute (first value of a multi-valued one), trimmed; `None` when absent/empty.
    pub fn text(&self, keyword: &str) -> Option<String> {
        let v = match self.dicom.get(keyword)? {
            Value::Array(a) => a.first()?.clone(),
            v => v.clone(),
        };
        let s = match v {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            Value::Object(o) => o
                .get("Alphabetic")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            _ => return None,
        };
        (!s.is_empty()).then_some(s)
    }

    /// An integer-string (IS) attribute as a number: `None` when absent or not a valid IS
    /// (optional sign, digits, padded with spaces; PS3.5 limits IS to 32-bit signed values).
    pub fn integer(&self, keyword: &str) -> Option<i64> {
        self.text(keyword)?.parse::<i32>().ok().map(i64::from)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Frame {
    #[serde(rename = "ID")]
    pub id: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Instance {
    #[serde(flatten)]
    pub attributes: Attributes,
    #[serde(rename = "ImageFrames", default)]
    pub frames: Vec<Frame>,
    #[serde(rename = "StoredTransferSyntaxUID", default)]
    pub stored_transfer_syntax_uid: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Series {
    #[serde(flatten)]
    pub attributes: Attributes,
    #[serde(rename = "Instances", default)]
    pub instances: BTreeMap<String, Instance>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Study {
    #[serde(flatten)]
    pub attributes: Attributes,
    #[serde(rename = "Series", default)]
    pub series: BTreeMap<String, Series>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImageSetMetadata {
    #[serde(rename = "ImageSetID", default)]
    pub image_set_id: String,
    #[serde(rename = "Patient", default)]
    pub patient: Attributes,
    #[serde(rename = "Study", default)]
    pub study: Study,
}

impl ImageSetMetadata {
    pub fn from_json(doc: &Value) -> Result<Self, serde_json::Error> {
        Self::deserialize(doc)
    }

    pub fn instance_count(&self) -> usize {
        self.study.series.values().map(|s| s.instances.len()).sum()
    }

    /// The series holding `sop_instance_uid`, if any.
    pub fn series_of_instance(&self, sop_instance_uid: &str) -> Option<&str> {
        self.study
            .series
            .iter()
            .find(|(_, s)| s.instances.contains_key(sop_instance_uid))
            .map(|(uid, _)| uid.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_hierarchy() {
        let doc = json!({
            "SchemaVersion": "1.1", "ImageSetID": "abc",
            "Patient": {"DICOM": {"PatientID": "P1", "PatientName": "DOE^JANE"}},
            "Study": {"DICOM": {"StudyInstanceUID": "1.2", "StudyDate": "20240101"},
              "Series": {"1.2.3": {"DICOM": {"Modality": "CT", "SeriesNumber": "1 "},
                "Instances": {"1.2.3.1": {"DICOM": {"InstanceNumber": "1"}, "ImageFrames": [{"ID": "f1"}],
                                          "StoredTransferSyntaxUID": "1.2.840.10008.1.2.1"}}}}}
        });
        let m = ImageSetMetadata::from_json(&doc).unwrap();
        assert_eq!(m.image_set_id, "abc");
        assert_eq!(m.patient.text("PatientID").as_deref(), Some("P1"));
        assert_eq!(
            m.study.attributes.text("StudyDate").as_deref(),
            Some("20240101")
        );
        let s = &m.study.series["1.2.3"];
        assert_eq!(s.attributes.text("SeriesNumber").as_deref(), Some("1"));
        assert_eq!(s.instances["1.2.3.1"].frames[0].id, "f1");
        assert_eq!(m.instance_count(), 1);
        assert_eq!(m.series_of_instance("1.2.3.1"), Some("1.2.3"));
        assert_eq!(m.series_of_instance("9"), None);
        assert!(m.patient.text("PatientSex").is_none());
    }

    #[test]
    fn integer_strings() {
        let a: Attributes = serde_json::from_value(json!({"DICOM": {
            "A": " 12 ", "B": "+7", "C": "-3", "D": "1.5", "E": "", "F": 4, "G": "99999999999", "H": ["5", "6"], "I": "+-3"
        }}))
        .unwrap();
        assert_eq!(a.integer("A"), Some(12));
        assert_eq!(a.integer("B"), Some(7));
        assert_eq!(a.integer("C"), Some(-3));
        assert_eq!(a.integer("D"), None);
        assert_eq!(a.integer("E"), None);
        assert_eq!(a.integer("F"), Some(4));
        assert_eq!(a.integer("G"), None);
        assert_eq!(a.integer("H"), Some(5));
        assert_eq!(a.integer("I"), None);
        assert_eq!(a.integer("Missing"), None);
    }
}
