//! Image set metadata: get_image_set_metadata (returned as the decoded JSON document, not
//! gzip bytes) and update_image_set_metadata (update documents sent in the API's shape).

use std::collections::BTreeMap;
use std::io::Read;

use aws_sdk_medicalimaging::primitives::Blob;
use aws_sdk_medicalimaging::types::{
    DicomUpdates, ImageSetState, ImageSetWorkflowStatus, MetadataUpdates, Operator,
    SearchByAttributeValue, SearchCriteria, SearchFilter,
};
use base64::Engine;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::client;
use super::convert::{Named, Timestamp};
use super::error::{excerpt, from_sdk, EngineError, EngineResult, ErrorType};
use super::validate;
use crate::dicom::metadata::ImageSetMetadata;
use crate::model::constraints::{self, Shape};

/// Gunzips (when compressed) and parses a metadata blob.
pub fn decode_metadata(bytes: &[u8], encoding: Option<&str>) -> EngineResult<Value> {
    let gzipped = encoding.is_some_and(|e| e.eq_ignore_ascii_case("gzip"))
        || bytes.starts_with(&[0x1f, 0x8b]);
    let json = if gzipped {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| {
                EngineError::new(
                    ErrorType::Service,
                    format!("metadata is not valid gzip: {e}"),
                )
            })?;
        out
    } else {
        bytes.to_vec()
    };
    serde_json::from_slice(&json).map_err(|e| {
        EngineError::new(
            ErrorType::Service,
            format!("metadata is not valid JSON: {e}"),
        )
    })
}

/// GetImageSetMetadata's answer, with the metadata document decoded.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ImageSetMetadataDoc {
    pub datastore_id: String,
    pub image_set_id: String,
    /// The version asked for; absent for the latest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The metadata document (Patient, Study, Series, Instances).
    pub image_set_metadata: Value,
}

/// Which part of a metadata document to answer with. The default is the whole document, as
/// HealthImaging gives it.
#[derive(Debug, Clone, Default)]
pub struct MetadataPart {
    /// Only this series.
    pub series_instance_uid: Option<String>,
    /// Only this instance (and its series).
    pub sop_instance_uid: Option<String>,
    /// `Some(false)`: each series' Instances map becomes InstanceCount and FrameCount.
    pub include_instances: Option<bool>,
}

impl MetadataPart {
    fn is_whole(&self) -> bool {
        self.series_instance_uid.is_none()
            && self.sop_instance_uid.is_none()
            && self.include_instances != Some(false)
    }

    fn validate(&self) -> EngineResult<()> {
        validate::opt_shape(
            "series_instance_uid",
            self.series_instance_uid.as_deref(),
            Shape::DicomUid,
        )?;
        validate::opt_shape(
            "sop_instance_uid",
            self.sop_instance_uid.as_deref(),
            Shape::DicomUid,
        )
    }

    /// Cuts `doc` (a metadata document) down to this part, in place; a UID the image set
    /// does not hold is not_found, naming it.
    pub fn apply(&self, doc: &mut Value, image_set_id: &str) -> EngineResult<()> {
        if self.is_whole() {
            return Ok(());
        }
        let missing = |what: &str, uid: &str| {
            EngineError::new(
                ErrorType::NotFound,
                format!("{what} {uid} is not in image set {image_set_id}"),
            )
        };
        let series = doc
            .pointer_mut("/Study/Series")
            .and_then(Value::as_object_mut)
            .ok_or_else(|| EngineError::new(ErrorType::Service, "metadata has no Study.Series"))?;
        if let Some(sop) = &self.sop_instance_uid {
            let holder = series
                .iter()
                .find(|(_, s)| s.get("Instances").and_then(|i| i.get(sop)).is_some())
                .map(|(uid, _)| uid.clone());
            let holder = match (holder, &self.series_instance_uid) {
                (Some(h), Some(want)) if &h != want => {
                    return Err(missing(&format!("Instance {sop} of series"), want))
                }
                (Some(h), _) => h,
                (None, Some(want)) if !series.contains_key(want) => {
                    return Err(missing("Series", want))
                }
                (None, _) => return Err(missing("Instance", sop)),
            };
            series.retain(|uid, _| *uid == holder);
            if let Some(Value::Object(instances)) =
                series.get_mut(&holder).and_then(|s| s.get_mut("Instances"))
            {
                instances.retain(|uid, _| uid == sop);
            }
        } else if let Some(want) = &self.series_instance_uid {
            if !series.contains_key(want) {
                return Err(missing("Series", want));
            }
            series.retain(|uid, _| uid == want);
        }
        if self.include_instances == Some(false) {
            for s in series.values_mut().filter_map(Value::as_object_mut) {
                let instances = s.remove("Instances");
                let instances = instances.as_ref().and_then(Value::as_object);
                let frames: usize = instances
                    .into_iter()
                    .flat_map(|m| m.values())
                    .filter_map(|i| i.get("ImageFrames").and_then(Value::as_array))
                    .map(Vec::len)
                    .sum();
                s.insert(
                    "InstanceCount".into(),
                    instances.map_or(0, |m| m.len()).into(),
                );
                s.insert("FrameCount".into(), frames.into());
            }
        }
        Ok(())
    }
}

/// GetImageSetMetadata, answering with `part` of the document.
pub async fn get_image_set_metadata_part(
    datastore_id: String,
    image_set_id: String,
    version_id: Option<String>,
    part: MetadataPart,
) -> EngineResult<ImageSetMetadataDoc> {
    part.validate()?;
    let mut doc = get_image_set_metadata(datastore_id, image_set_id, version_id).await?;
    part.apply(&mut doc.image_set_metadata, &doc.image_set_id)?;
    Ok(doc)
}

pub async fn get_image_set_metadata(
    datastore_id: String,
    image_set_id: String,
    version_id: Option<String>,
) -> EngineResult<ImageSetMetadataDoc> {
    validate::image_set_ref(&datastore_id, &image_set_id, version_id.as_deref())?;
    let out = client()
        .await
        .get_image_set_metadata()
        .datastore_id(&datastore_id)
        .image_set_id(&image_set_id)
        .set_version_id(version_id.clone())
        .send()
        .await
        .map_err(|e| from_sdk("GetImageSetMetadata", e))?;
    let encoding = out.content_encoding().map(str::to_owned);
    let bytes = out
        .image_set_metadata_blob
        .collect()
        .await
        .map_err(|e| EngineError::new(ErrorType::Service, format!("reading metadata failed: {e}")))?
        .into_bytes();
    let image_set_metadata = decode_metadata(&bytes, encoding.as_deref())?;
    Ok(ImageSetMetadataDoc {
        datastore_id,
        image_set_id,
        version_id,
        image_set_metadata,
    })
}

fn bad_updates(rule: impl std::fmt::Display) -> EngineError {
    EngineError::invalid("update_image_set_metadata_updates", rule)
}

/// One DICOMUpdates document: a JSON object, a string of JSON, or base64 of JSON. Returns
/// the JSON bytes the API expects (the SDK base64-encodes them on the wire).
fn update_document(v: &Value, key: &str) -> EngineResult<Vec<u8>> {
    let bytes = match v {
        Value::Object(_) => serde_json::to_vec(v).expect("JSON serializes"),
        Value::String(s) if serde_json::from_str::<Value>(s).is_ok_and(|d| d.is_object()) => {
            s.as_bytes().to_vec()
        }
        Value::String(s) => {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(s.trim())
                .map_err(|_| bad_updates(format!("{key} must be a JSON object (or JSON text)")))?;
            if !serde_json::from_slice::<Value>(&raw).is_ok_and(|d| d.is_object()) {
                return Err(bad_updates(format!(
                    "{key} does not decode to a JSON object"
                )));
            }
            raw
        }
        _ => return Err(bad_updates(format!("{key} must be a JSON object"))),
    };
    if bytes.len() > constraints::MAX_UPDATE_BLOB {
        return Err(bad_updates(format!(
            "{key} is {} bytes; HealthImaging accepts at most {} per document",
            bytes.len(),
            constraints::MAX_UPDATE_BLOB
        )));
    }
    Ok(bytes)
}

/// The MetadataUpdates union from `{"DICOMUpdates": {"updatableAttributes": {...},
/// "removableAttributes": {...}}}` or `{"revertToVersionId": "N"}`.
pub fn metadata_updates(v: &Value) -> EngineResult<MetadataUpdates> {
    let obj = v.as_object().ok_or_else(|| {
        bad_updates(
            "must be an object: {\"DICOMUpdates\": {...}} or {\"revertToVersionId\": \"N\"}",
        )
    })?;
    match (obj.get("DICOMUpdates"), obj.get("revertToVersionId")) {
        (Some(_), Some(_)) => Err(bad_updates(
            "give DICOMUpdates or revertToVersionId, not both",
        )),
        (None, Some(r)) => {
            let r = match r {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => {
                    return Err(bad_updates(
                        "revertToVersionId must be a version id such as \"1\"",
                    ))
                }
            };
            validate::shape("revertToVersionId", &r, Shape::VersionId)?;
            Ok(MetadataUpdates::RevertToVersionId(r))
        }
        (Some(d), None) => {
            let d = d
                .as_object()
                .ok_or_else(|| bad_updates("DICOMUpdates must be an object"))?;
            if let Some(k) = d
                .keys()
                .find(|k| *k != "updatableAttributes" && *k != "removableAttributes")
            {
                return Err(bad_updates(format!(
                    "unexpected key {} in DICOMUpdates; allowed: updatableAttributes, removableAttributes",
                    excerpt(k)
                )));
            }
            let doc = |k: &str| {
                d.get(k)
                    .map(|v| update_document(v, k).map(Blob::new))
                    .transpose()
            };
            let (updatable, removable) = (doc("updatableAttributes")?, doc("removableAttributes")?);
            if updatable.is_none() && removable.is_none() {
                return Err(bad_updates(
                    "DICOMUpdates needs updatableAttributes or removableAttributes",
                ));
            }
            Ok(MetadataUpdates::DicomUpdates(
                DicomUpdates::builder()
                    .set_updatable_attributes(updatable)
                    .set_removable_attributes(removable)
                    .build(),
            ))
        }
        (None, None) => Err(bad_updates(
            "must contain DICOMUpdates or revertToVersionId",
        )),
    }
}

pub struct MetadataUpdate {
    pub datastore_id: String,
    pub image_set_id: String,
    pub latest_version_id: String,
    pub updates: Value,
    pub force: Option<bool>,
    pub include_study_image_sets: Option<bool>,
}

/// The primary image sets of a study with their latest versions (all pages).
async fn primary_versions(
    datastore_id: &str,
    study_uid: &str,
) -> EngineResult<BTreeMap<String, i32>> {
    let filter = |v| {
        SearchFilter::builder()
            .operator(Operator::Equal)
            .values(v)
            .build()
            .map_err(|e| EngineError::server(e.to_string()))
    };
    let criteria = SearchCriteria::builder()
        .filters(filter(SearchByAttributeValue::DicomStudyInstanceUid(
            study_uid.to_string(),
        ))?)
        .filters(filter(SearchByAttributeValue::IsPrimary(true))?)
        .build();
    let client = client().await;
    let mut out = BTreeMap::new();
    let mut token = None;
    loop {
        let page = client
            .search_image_sets()
            .datastore_id(datastore_id)
            .search_criteria(criteria.clone())
            .max_results(50)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| from_sdk("SearchImageSets", e))?;
        for s in page.image_sets_metadata_summaries() {
            out.insert(
                s.image_set_id().to_string(),
                s.version().unwrap_or_default(),
            );
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_string()),
            _ => return Ok(out),
        }
    }
}

/// With `includeStudyImageSets`, HealthImaging applies the update to the other primary image
/// sets of the same study as well, and its answer names only the one requested. These are the
/// others as they were before the call: (study UID, image set ID → version).
async fn study_siblings(
    req: &MetadataUpdate,
) -> EngineResult<Option<(String, BTreeMap<String, i32>)>> {
    let doc =
        get_image_set_metadata(req.datastore_id.clone(), req.image_set_id.clone(), None).await?;
    let Some(study_uid) = ImageSetMetadata::from_json(&doc.image_set_metadata)
        .ok()
        .and_then(|m| m.study.attributes.text("StudyInstanceUID"))
    else {
        return Ok(None);
    };
    let mut before = primary_versions(&req.datastore_id, &study_uid).await?;
    before.remove(&req.image_set_id);
    Ok(Some((study_uid, before)))
}

/// One other image set of the study, before and after an update with includeStudyImageSets.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SiblingVersion {
    pub image_set_id: String,
    pub version_before: i32,
    /// Null when it could not be read afterwards.
    pub version_after: Option<i32>,
    /// Whether a new version was seen (HealthImaging may still be applying the change).
    pub updated: bool,
}

/// The other primary image sets of the study that the update applied to as well.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StudyImageSets {
    pub study_instance_uid: String,
    pub count: usize,
    /// How many show a new version.
    pub updated: usize,
    pub image_sets: Vec<SiblingVersion>,
    /// Why the versions after the call could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_error: Option<String>,
}

/// The report of the sibling image sets: each with its version before and after the call.
async fn sibling_report(
    datastore_id: &str,
    study_uid: &str,
    before: &BTreeMap<String, i32>,
) -> StudyImageSets {
    let after = primary_versions(datastore_id, study_uid).await;
    let image_sets: Vec<SiblingVersion> = before
        .iter()
        .map(|(id, v)| {
            let now = after.as_ref().ok().and_then(|a| a.get(id)).copied();
            SiblingVersion {
                image_set_id: id.clone(),
                version_before: *v,
                version_after: now,
                updated: now.is_some_and(|n| n > *v),
            }
        })
        .collect();
    StudyImageSets {
        study_instance_uid: study_uid.to_string(),
        count: image_sets.len(),
        updated: image_sets.iter().filter(|r| r.updated).count(),
        image_sets,
        verification_error: after.err().map(|e| e.message),
    }
}

/// UpdateImageSetMetadata's answer: the new latest version (HealthImaging applies it
/// asynchronously: the image set is LOCKED until then).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct MetadataUpdateResult {
    pub datastore_id: String,
    pub image_set_id: String,
    pub latest_version_id: String,
    pub image_set_state: Named<ImageSetState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_set_workflow_status: Option<Named<ImageSetWorkflowStatus>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// With include_study_image_sets: the study's other primary image sets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub study_image_sets: Option<StudyImageSets>,
}

pub async fn update_image_set_metadata(req: MetadataUpdate) -> EngineResult<MetadataUpdateResult> {
    validate::id("datastore_id", &req.datastore_id)?;
    validate::id("image_set_id", &req.image_set_id)?;
    validate::shape(
        "latest_version_id",
        &req.latest_version_id,
        Shape::VersionId,
    )?;
    let updates = metadata_updates(&req.updates)?;
    let siblings = match (&updates, req.include_study_image_sets) {
        (MetadataUpdates::DicomUpdates(_), Some(true)) => study_siblings(&req).await?,
        _ => None,
    };
    let out = client()
        .await
        .update_image_set_metadata()
        .datastore_id(&req.datastore_id)
        .image_set_id(&req.image_set_id)
        .latest_version_id(&req.latest_version_id)
        .update_image_set_metadata_updates(updates)
        .set_force(req.force)
        .set_include_study_image_sets(req.include_study_image_sets)
        .send()
        .await
        .map_err(|e| from_sdk("UpdateImageSetMetadata", e))?;
    let study_image_sets = match &siblings {
        Some((uid, before)) => Some(sibling_report(&req.datastore_id, uid, before).await),
        None => None,
    };
    Ok(MetadataUpdateResult {
        datastore_id: out.datastore_id().into(),
        image_set_id: out.image_set_id().into(),
        latest_version_id: out.latest_version_id().into(),
        image_set_state: Named::of(out.image_set_state()),
        image_set_workflow_status: Named::opt(out.image_set_workflow_status()),
        created_at: Timestamp::opt(out.created_at()),
        updated_at: Timestamp::opt(out.updated_at()),
        message: out.message().map(str::to_owned),
        study_image_sets,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn update_documents_in_every_accepted_form() {
        let doc = json!({"SchemaVersion": "1.1", "Patient": {"DICOM": {"PatientName": "A^B"}}});
        let as_text = doc.to_string();
        let as_b64 = base64::engine::general_purpose::STANDARD.encode(&as_text);
        for form in [doc.clone(), json!(as_text), json!(as_b64)] {
            let u =
                metadata_updates(&json!({"DICOMUpdates": {"updatableAttributes": form}})).unwrap();
            let MetadataUpdates::DicomUpdates(d) = u else {
                panic!("DICOMUpdates expected")
            };
            let sent: Value =
                serde_json::from_slice(d.updatable_attributes().unwrap().as_ref()).unwrap();
            assert_eq!(sent, doc);
        }
        assert!(matches!(
            metadata_updates(&json!({"revertToVersionId": 2})).unwrap(),
            MetadataUpdates::RevertToVersionId(v) if v == "2"
        ));
        assert!(metadata_updates(&json!({"DICOMUpdates": {}})).is_err());
        assert!(metadata_updates(&json!({"DICOMUpdates": {"updatableAttributes": 5}})).is_err());
        assert!(metadata_updates(&json!({"revertToVersionId": "1", "DICOMUpdates": {}})).is_err());
        let big = json!({"Study": {"DICOM": {"StudyDescription": "x".repeat(30_001)}}});
        assert!(metadata_updates(&json!({"DICOMUpdates": {"updatableAttributes": big}})).is_err());
    }

    #[test]
    fn update_output_keeps_its_json() {
        use crate::engine::convert::testing::required;
        let out = MetadataUpdateResult {
            datastore_id: "d".into(),
            image_set_id: "i".into(),
            latest_version_id: "2".into(),
            image_set_state: Named(ImageSetState::Locked),
            image_set_workflow_status: Some(Named(ImageSetWorkflowStatus::Updating)),
            created_at: None,
            updated_at: None,
            message: None,
            study_image_sets: Some(StudyImageSets {
                study_instance_uid: "1.2".into(),
                count: 1,
                updated: 0,
                image_sets: vec![SiblingVersion {
                    image_set_id: "j".into(),
                    version_before: 1,
                    version_after: None,
                    updated: false,
                }],
                verification_error: None,
            }),
        };
        assert_eq!(
            serde_json::to_value(&out).unwrap(),
            json!({"datastore_id": "d", "image_set_id": "i", "latest_version_id": "2",
                   "image_set_state": "LOCKED", "image_set_workflow_status": "UPDATING",
                   "study_image_sets": {"study_instance_uid": "1.2", "count": 1, "updated": 0,
                       "image_sets": [{"image_set_id": "j", "version_before": 1,
                                       "version_after": null, "updated": false}]}})
        );
        assert_eq!(
            required::<MetadataUpdateResult>(None),
            [
                "datastore_id",
                "image_set_id",
                "image_set_state",
                "latest_version_id"
            ]
        );
        // version_after is always there, null when it could not be read.
        assert_eq!(
            required::<MetadataUpdateResult>(Some("SiblingVersion")),
            ["image_set_id", "updated", "version_after", "version_before"]
        );
        assert_eq!(
            required::<ImageSetMetadataDoc>(None),
            ["datastore_id", "image_set_id", "image_set_metadata"]
        );
    }

    fn two_series() -> Value {
        json!({"SchemaVersion": "1.1", "ImageSetID": "is1",
            "Study": {"DICOM": {"StudyInstanceUID": "1.2"}, "Series": {
                "1.2.1": {"DICOM": {"Modality": "CT"}, "Instances": {
                    "1.2.1.1": {"DICOM": {}, "ImageFrames": [{"ID": "a"}]},
                    "1.2.1.2": {"DICOM": {}, "ImageFrames": [{"ID": "b"}, {"ID": "c"}]}}},
                "1.2.2": {"DICOM": {"Modality": "MR"}, "Instances": {
                    "1.2.2.1": {"DICOM": {}, "ImageFrames": [{"ID": "d"}]}}}}}})
    }

    fn part(series: Option<&str>, sop: Option<&str>, instances: Option<bool>) -> MetadataPart {
        MetadataPart {
            series_instance_uid: series.map(Into::into),
            sop_instance_uid: sop.map(Into::into),
            include_instances: instances,
        }
    }

    fn cut(p: MetadataPart) -> EngineResult<Value> {
        let mut doc = two_series();
        p.apply(&mut doc, "is1").map(|()| doc)
    }

    #[test]
    fn metadata_parts() {
        // Nothing asked (or include_instances=true): the document as it came.
        assert_eq!(cut(part(None, None, None)).unwrap(), two_series());
        assert_eq!(cut(part(None, None, Some(true))).unwrap(), two_series());
        let one = cut(part(Some("1.2.2"), None, None)).unwrap();
        assert_eq!(
            one["Study"]["Series"],
            json!({"1.2.2": two_series()["Study"]["Series"]["1.2.2"]})
        );
        assert_eq!(one["Study"]["DICOM"], two_series()["Study"]["DICOM"]);
        let sop = cut(part(None, Some("1.2.1.2"), None)).unwrap();
        let series = sop["Study"]["Series"].as_object().unwrap();
        assert_eq!(series.keys().collect::<Vec<_>>(), ["1.2.1"]);
        assert_eq!(
            series["1.2.1"]["Instances"],
            json!({"1.2.1.2": {"DICOM": {}, "ImageFrames": [{"ID": "b"}, {"ID": "c"}]}})
        );
        assert_eq!(series["1.2.1"]["DICOM"]["Modality"], "CT");
        // Both, consistent.
        assert_eq!(
            cut(part(Some("1.2.1"), Some("1.2.1.2"), None)).unwrap(),
            sop
        );
        let counts = cut(part(None, None, Some(false))).unwrap();
        assert_eq!(
            counts["Study"]["Series"],
            json!({"1.2.1": {"DICOM": {"Modality": "CT"}, "InstanceCount": 2, "FrameCount": 3},
                   "1.2.2": {"DICOM": {"Modality": "MR"}, "InstanceCount": 1, "FrameCount": 1}})
        );
    }

    #[test]
    fn metadata_parts_name_what_is_missing() {
        let e = cut(part(Some("9.9"), None, None)).unwrap_err();
        assert_eq!(e.kind, ErrorType::NotFound);
        assert_eq!(e.message, "Series 9.9 is not in image set is1");
        let e = cut(part(None, Some("9.9.1"), None)).unwrap_err();
        assert_eq!(e.message, "Instance 9.9.1 is not in image set is1");
        let e = cut(part(Some("9.9"), Some("9.9.1"), None)).unwrap_err();
        assert_eq!(e.message, "Series 9.9 is not in image set is1");
        // The instance exists, in another series.
        let e = cut(part(Some("1.2.2"), Some("1.2.1.1"), None)).unwrap_err();
        assert_eq!(e.kind, ErrorType::NotFound);
        assert!(e.message.contains("1.2.1.1") && e.message.contains("1.2.2"));
        assert!(part(Some("x.1"), None, None).validate().is_err());
    }

    #[test]
    fn metadata_is_gunzipped() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(br#"{"SchemaVersion":"1.1"}"#).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(
            decode_metadata(&gz, Some("gzip")).unwrap()["SchemaVersion"],
            "1.1"
        );
        assert_eq!(decode_metadata(br#"{"a":1}"#, None).unwrap()["a"], 1);
        assert!(decode_metadata(b"\x1f\x8bjunk", Some("gzip")).is_err());
    }
}
