//! Accessors for the image set metadata document (reference §4): Patient / Study / Series /
//! Instances / ImageFrames. Kept in one place so import, search, updates and frames agree on it.

use serde_json::{json, Map, Value};

pub type Object = Map<String, Value>;

pub const SCHEMA_VERSION: &str = "1.1";

pub fn empty(datastore_id: &str, image_set_id: &str) -> Value {
    json!({
        "SchemaVersion": SCHEMA_VERSION,
        "DatastoreID": datastore_id,
        "ImageSetID": image_set_id,
        "Patient": {"DICOM": {}},
        "Study": {"DICOM": {}, "Series": {}},
    })
}

fn object_at<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a Object> {
    let mut v = doc;
    for p in path {
        v = v.get(p)?;
    }
    v.as_object()
}

fn object_at_mut<'a>(doc: &'a mut Value, path: &[&str]) -> &'a mut Object {
    let mut v = doc;
    for p in path {
        if !v.is_object() {
            *v = Value::Object(Map::new());
        }
        v = v
            .as_object_mut()
            .expect("just made an object")
            .entry(p.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    v.as_object_mut().expect("just made an object")
}

pub fn patient(doc: &Value) -> Option<&Object> {
    object_at(doc, &["Patient", "DICOM"])
}
pub fn study(doc: &Value) -> Option<&Object> {
    object_at(doc, &["Study", "DICOM"])
}
pub fn series_map(doc: &Value) -> Option<&Object> {
    object_at(doc, &["Study", "Series"])
}
pub fn patient_mut(doc: &mut Value) -> &mut Object {
    object_at_mut(doc, &["Patient", "DICOM"])
}
pub fn study_mut(doc: &mut Value) -> &mut Object {
    object_at_mut(doc, &["Study", "DICOM"])
}
pub fn series_map_mut(doc: &mut Value) -> &mut Object {
    object_at_mut(doc, &["Study", "Series"])
}

/// All (series UID, SOP UID, instance object) triples.
pub fn instances(doc: &Value) -> impl Iterator<Item = (&str, &str, &Object)> {
    series_map(doc).into_iter().flat_map(|series| {
        series.iter().flat_map(|(series_uid, s)| {
            s.get("Instances")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(move |insts| {
                    insts.iter().filter_map(move |(sop, inst)| {
                        Some((series_uid.as_str(), sop.as_str(), inst.as_object()?))
                    })
                })
        })
    })
}

pub fn instance_count(doc: &Value) -> usize {
    instances(doc).count()
}

pub fn series_count(doc: &Value) -> usize {
    series_map(doc).map_or(0, |m| m.len())
}

/// A string attribute (JSON string, or first element of an array).
pub fn text<'a>(attrs: Option<&'a Object>, key: &str) -> Option<&'a str> {
    match attrs?.get(key)? {
        Value::String(s) => Some(s.as_str()),
        Value::Array(a) => a.first()?.as_str(),
        _ => None,
    }
}

/// The frame's stored transfer syntax, if `frame_id` belongs to this document.
pub fn find_frame<'a>(doc: &'a Value, frame_id: &str) -> Option<&'a str> {
    instances(doc).find_map(|(_, _, inst)| {
        let frames = inst.get("ImageFrames")?.as_array()?;
        frames
            .iter()
            .any(|f| f.get("ID").and_then(Value::as_str) == Some(frame_id))
            .then(|| {
                inst.get("StoredTransferSyntaxUID")
                    .and_then(Value::as_str)
                    .unwrap_or("1.2.840.10008.1.2.4.202")
            })
    })
}

/// Points the document at another image set (copies).
pub fn set_ids(doc: &mut Value, datastore_id: &str, image_set_id: &str) {
    if let Some(o) = doc.as_object_mut() {
        o.insert("DatastoreID".into(), json!(datastore_id));
        o.insert("ImageSetID".into(), json!(image_set_id));
    }
}
