//! A DICOM data set as the DICOM JSON Model (PS3.18 Annex F), which DICOMweb speaks: keys are
//! `GGGGEEEE` tags, each attribute an object with its `vr` and a `Value` array (PN as
//! `{"Alphabetic": …}`, IS/DS as numbers), `InlineBinary` (base64) or `BulkDataURI`.

use base64::Engine as _;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::VR;
use dicom_object::InMemDicomObject;
use serde_json::{json, Map, Number, Value as Json};

use super::json::{hex_key, primitive_le_bytes};
use super::vr::{form, Form};

/// Binary values larger than this are answered as a `BulkDataURI` (when a base is given).
pub const BULK_DATA_THRESHOLD: usize = 1024;

/// Where bulk data of an object is served: `{base}/{tag path}` with the tag path
/// `GGGGEEEE[.item.GGGGEEEE…]` (items counted from 0) and `query` appended.
#[derive(Debug, Clone)]
pub struct BulkData<'a> {
    pub base: &'a str,
    pub query: &'a str,
}

/// The object as DICOM JSON.
pub fn to_json_model(obj: &InMemDicomObject, bulk: Option<&BulkData>) -> Map<String, Json> {
    object(obj, bulk, "")
}

fn object(obj: &InMemDicomObject, bulk: Option<&BulkData>, path: &str) -> Map<String, Json> {
    let mut out = Map::new();
    for elem in obj.iter() {
        let tag = elem.header().tag;
        let key = hex_key(tag);
        let vr = elem.vr();
        let mut attr = Map::new();
        attr.insert("vr".into(), json!(vr.to_string()));
        let here = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        match elem.value() {
            Value::Sequence(seq) => {
                let items: Vec<Json> = seq
                    .items()
                    .iter()
                    .enumerate()
                    .map(|(i, item)| Json::Object(object(item, bulk, &format!("{here}.{i}"))))
                    .collect();
                if !items.is_empty() {
                    attr.insert("Value".into(), Json::Array(items));
                }
            }
            Value::PixelSequence(_) => {}
            Value::Primitive(p) => {
                if form(vr) == Form::Bytes {
                    let bytes = primitive_le_bytes(p);
                    match bulk {
                        Some(b) if bytes.len() > BULK_DATA_THRESHOLD => {
                            attr.insert(
                                "BulkDataURI".into(),
                                json!(format!("{}/{here}{}", b.base, b.query)),
                            );
                        }
                        _ if bytes.is_empty() => {}
                        _ => {
                            attr.insert(
                                "InlineBinary".into(),
                                json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
                            );
                        }
                    }
                } else if let Some(values) = values(vr, p) {
                    attr.insert("Value".into(), Json::Array(values));
                }
            }
        }
        out.insert(key, Json::Object(attr));
    }
    out
}

fn trim(s: &str) -> &str {
    s.trim_end_matches([' ', '\0'])
}

/// A PN value: `Alphabetic=Ideographic=Phonetic` groups.
fn person_name(s: &str) -> Json {
    let mut m = Map::new();
    for (name, group) in ["Alphabetic", "Ideographic", "Phonetic"]
        .iter()
        .zip(trim(s).split('='))
    {
        if !group.is_empty() {
            m.insert((*name).into(), json!(group));
        }
    }
    if m.is_empty() {
        Json::Null
    } else {
        Json::Object(m)
    }
}

/// A number written as IS/DS text; text that is not a number stays a string.
fn number_text(s: &str) -> Json {
    let t = s.trim();
    if t.is_empty() {
        return Json::Null;
    }
    if let Ok(i) = t.parse::<i64>() {
        return json!(i);
    }
    t.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Json::Number)
        .unwrap_or_else(|| json!(t))
}

/// The `Value` array of a primitive value; `None` when it is empty.
fn values(vr: VR, p: &PrimitiveValue) -> Option<Vec<Json>> {
    let strs: Vec<String> = match p {
        PrimitiveValue::Empty => return None,
        PrimitiveValue::Str(s) => vec![s.clone()],
        PrimitiveValue::Strs(v) => v.iter().cloned().collect(),
        PrimitiveValue::Tags(v) => return Some(v.iter().map(|t| json!(hex_key(*t))).collect()),
        PrimitiveValue::F32(v) => {
            return Some(
                v.iter()
                    .map(|x| {
                        let widened = x.to_string().parse::<f64>().unwrap_or(f64::from(*x));
                        Number::from_f64(widened).map_or(Json::Null, Json::Number)
                    })
                    .collect(),
            )
        }
        PrimitiveValue::F64(v) => {
            return Some(
                v.iter()
                    .map(|x| Number::from_f64(*x).map_or(Json::Null, Json::Number))
                    .collect(),
            )
        }
        PrimitiveValue::U16(v) => return Some(v.iter().map(|x| json!(x)).collect()),
        PrimitiveValue::I16(v) => return Some(v.iter().map(|x| json!(x)).collect()),
        PrimitiveValue::U32(v) => return Some(v.iter().map(|x| json!(x)).collect()),
        PrimitiveValue::I32(v) => return Some(v.iter().map(|x| json!(x)).collect()),
        PrimitiveValue::U64(v) => return Some(v.iter().map(|x| json!(x)).collect()),
        PrimitiveValue::I64(v) => return Some(v.iter().map(|x| json!(x)).collect()),
        other => other.to_multi_str().iter().cloned().collect(),
    };
    if strs.iter().all(|s| trim(s).is_empty()) {
        return None;
    }
    Some(
        strs.iter()
            .map(|s| match vr {
                VR::PN => person_name(s),
                VR::IS | VR::DS => number_text(s),
                _ if trim(s).is_empty() => Json::Null,
                _ => json!(trim(s)),
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dicom::part10::dataset_from_levels;

    #[test]
    fn metadata_becomes_the_json_model() {
        let attrs = json!({
            "PatientName": "DOE^JANE",
            "PatientID": "P1",
            "SeriesNumber": "3 ",
            "Rows": 2,
            "ImageType": ["ORIGINAL", "PRIMARY"],
            "PixelSpacing": ["0.5", "0.5"],
            "00091001": "AAE=",
            "ReferencedImageSequence": [{"ReferencedSOPInstanceUID": "1.2.3"}],
            "StudyDescription": null,
        });
        let vrs = json!({"00091001": "OB"});
        let obj = dataset_from_levels(&[attrs.as_object().unwrap()], vrs.as_object());
        let m = to_json_model(&obj, None);
        assert_eq!(
            m["00100010"],
            json!({"vr": "PN", "Value": [{"Alphabetic": "DOE^JANE"}]})
        );
        assert_eq!(m["00200011"], json!({"vr": "IS", "Value": [3]}));
        assert_eq!(m["00280010"], json!({"vr": "US", "Value": [2]}));
        assert_eq!(
            m["00080008"],
            json!({"vr": "CS", "Value": ["ORIGINAL", "PRIMARY"]})
        );
        assert_eq!(m["00280030"], json!({"vr": "DS", "Value": [0.5, 0.5]}));
        assert_eq!(m["00091001"], json!({"vr": "OB", "InlineBinary": "AAE="}));
        assert_eq!(
            m["00081140"],
            json!({"vr": "SQ", "Value": [{"00081155": {"vr": "UI", "Value": ["1.2.3"]}}]})
        );
        assert_eq!(m["00081030"], json!({"vr": "LO"}));
    }

    #[test]
    fn large_binaries_become_bulk_data_uris() {
        let big = base64::engine::general_purpose::STANDARD.encode(vec![7u8; 2048]);
        let attrs = json!({"00091002": big, "00091003": "AAE="});
        let vrs = json!({"00091002": "OB", "00091003": "OB"});
        let obj = dataset_from_levels(&[attrs.as_object().unwrap()], vrs.as_object());
        let bulk = BulkData {
            base: "http://h/bulkdata",
            query: "?imageSetId=x",
        };
        let m = to_json_model(&obj, Some(&bulk));
        assert_eq!(
            m["00091002"],
            json!({"vr": "OB", "BulkDataURI": "http://h/bulkdata/00091002?imageSetId=x"})
        );
        assert_eq!(m["00091003"]["InlineBinary"], "AAE=");
    }
}
