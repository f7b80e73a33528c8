//! The read workflows: searches by patient / study / series that follow every page, a
//! patient's studies and series, primary image sets of a study or series, and a patient's
//! studies in the DICOMweb (QIDO-RS) JSON model. Results are compact: IDs, UIDs, descriptions,
//! dates and counts.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_medicalimaging::types::{
    DicomTags, ImageSetsMetadataSummary, SearchByAttributeValue as By,
};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::common::{
    equal, fetch_metadata, map_bounded, read_concurrency, search_all, Key, DEFAULT_LIMIT,
};
use super::subjects::{PatientRef, SeriesRef, StudyRef};
use crate::engine::convert::{iso, Timestamp};
use crate::engine::error::{EngineError, EngineResult};
use crate::engine::validate;

/// The most image sets a caller may ask one workflow to read.
pub const MAX_LIMIT: usize = 10_000;

fn limit(max_results: Option<i64>) -> EngineResult<usize> {
    match max_results {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => Ok(n as usize),
        Some(n) => Err(EngineError::invalid(
            "max_results",
            format!("{n} is out of range; give 1 to {MAX_LIMIT} (all pages are read up to this many image sets)"),
        )),
    }
}

/// One image set, compactly.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CompactImageSet {
    pub image_set_id: String,
    /// The latest version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_primary: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub study_instance_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub study_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub study_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accession_number: Option<String>,
    /// Absent when the image set holds several series.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series_instance_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modality: Option<String>,
    /// Series in the study.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series_count: Option<i32>,
    /// Instances in the study.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_count: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
}

pub fn compact(s: &ImageSetsMetadataSummary) -> CompactImageSet {
    let t = s.dicom_tags();
    let text = |f: fn(&DicomTags) -> Option<&str>| t.and_then(f).map(str::to_owned);
    CompactImageSet {
        image_set_id: s.image_set_id().into(),
        version: s.version(),
        is_primary: s.is_primary(),
        patient_id: text(DicomTags::dicom_patient_id),
        study_instance_uid: text(DicomTags::dicom_study_instance_uid),
        study_date: text(DicomTags::dicom_study_date),
        study_description: text(DicomTags::dicom_study_description),
        accession_number: text(DicomTags::dicom_accession_number),
        series_instance_uid: text(DicomTags::dicom_series_instance_uid),
        modality: text(DicomTags::dicom_series_modality),
        series_count: t.map(|t| t.dicom_number_of_study_related_series()),
        instance_count: t.map(|t| t.dicom_number_of_study_related_instances()),
        updated_at: Timestamp::opt(s.updated_at()),
    }
}

/// Every image set of a patient, study or series (all pages).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ImageSetListing<K> {
    #[serde(flatten)]
    pub subject: K,
    pub total: usize,
    /// How many are primary.
    pub primary: usize,
    /// More matched than max_results.
    pub truncated: bool,
    pub image_sets: Vec<CompactImageSet>,
}

fn listing<K>(
    subject: K,
    sets: &[ImageSetsMetadataSummary],
    truncated: bool,
) -> ImageSetListing<K> {
    ImageSetListing {
        subject,
        total: sets.len(),
        primary: sets.iter().filter(|s| s.is_primary() == Some(true)).count(),
        truncated,
        image_sets: sets.iter().map(compact).collect(),
    }
}

async fn search_by(
    datastore_id: &str,
    key: &Key,
    max_results: Option<i64>,
) -> EngineResult<(Vec<ImageSetsMetadataSummary>, bool)> {
    validate::id("datastore_id", datastore_id)?;
    let limit = limit(max_results)?;
    search_all(datastore_id, vec![key.filter()?], limit).await
}

/// Every image set of a patient, study or series; `subject` names the key in the result.
async fn search_by_key<K>(
    datastore_id: String,
    key: Key,
    subject: K,
    max_results: Option<i64>,
) -> EngineResult<ImageSetListing<K>> {
    let (sets, truncated) = search_by(&datastore_id, &key, max_results).await?;
    Ok(listing(subject, &sets, truncated))
}

pub async fn search_by_patient_id(
    ds: String,
    patient_id: String,
    max_results: Option<i64>,
) -> EngineResult<ImageSetListing<PatientRef>> {
    let key = Key::patient(&patient_id)?;
    let subject = PatientRef {
        patient_id: key.value().into(),
    };
    search_by_key(ds, key, subject, max_results).await
}

pub async fn search_by_study_uid(
    ds: String,
    study_uid: String,
    max_results: Option<i64>,
) -> EngineResult<ImageSetListing<StudyRef>> {
    let key = Key::study(&study_uid)?;
    let subject = StudyRef {
        study_instance_uid: key.value().into(),
    };
    search_by_key(ds, key, subject, max_results).await
}

pub async fn search_by_series_uid(
    ds: String,
    series_uid: String,
    max_results: Option<i64>,
) -> EngineResult<ImageSetListing<SeriesRef>> {
    let key = Key::series(&series_uid)?;
    let subject = SeriesRef {
        series_instance_uid: key.value().into(),
    };
    search_by_key(ds, key, subject, max_results).await
}

/// What the metadata of one image set adds to a study row: its series and its instances.
struct Contents {
    series: Vec<String>,
    instances: Vec<String>,
}

/// Series and SOP Instance UIDs of the given image sets, read from their metadata.
async fn contents_of(
    datastore_id: &str,
    ids: Vec<String>,
) -> EngineResult<BTreeMap<String, Contents>> {
    let ds = datastore_id.to_string();
    let mut out = BTreeMap::new();
    for m in map_bounded(ids, read_concurrency(), move |id| {
        let ds = ds.clone();
        async move {
            fetch_metadata(&ds, &id, None).await.map(|m| {
                let instances = m
                    .study
                    .series
                    .values()
                    .flat_map(|s| s.instances.keys().cloned())
                    .collect();
                let series = m.study.series.into_keys().collect();
                (id, Contents { series, instances })
            })
        }
    })
    .await
    {
        let (id, c) = m?;
        out.insert(id, c);
    }
    Ok(out)
}

fn study_uid_of(s: &ImageSetsMetadataSummary) -> &str {
    s.dicom_tags()
        .and_then(|t| t.dicom_study_instance_uid())
        .unwrap_or("")
}

/// An image set of a study row.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct StudyImageSet {
    pub image_set_id: String,
    pub is_primary: Option<bool>,
    pub version: Option<i32>,
}

/// One study of a patient.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PatientStudy {
    pub study_instance_uid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub study_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub study_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub study_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accession_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub study_id: Option<String>,
    pub modalities: Vec<String>,
    /// Distinct series over all image sets of the study.
    pub series_count: usize,
    /// Distinct instances in the primary image sets.
    pub instance_count_in_primary_image_sets: usize,
    pub image_sets: Vec<StudyImageSet>,
}

/// A patient's studies, newest study date first.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PatientStudies {
    pub patient_id: String,
    pub total_studies: usize,
    pub total_image_sets: usize,
    /// More image sets matched than max_results.
    pub truncated: bool,
    pub studies: Vec<PatientStudy>,
}

/// A patient's studies, from the search summaries of all their image sets. Metadata is read
/// only where the summary cannot answer: image sets holding several series (the summary names
/// no series), and studies with several primary image sets (an instance in two of them is
/// counted once, by SOP Instance UID).
pub async fn get_patient_studies(
    datastore_id: String,
    patient_id: String,
    max_results: Option<i64>,
) -> EngineResult<PatientStudies> {
    let key = Key::patient(&patient_id)?;
    let pid = key.value().to_string();
    let (sets, truncated) = search_by(&datastore_id, &key, max_results).await?;
    let mut primaries_per_study: BTreeMap<&str, usize> = BTreeMap::new();
    for s in sets.iter().filter(|s| s.is_primary() == Some(true)) {
        *primaries_per_study.entry(study_uid_of(s)).or_default() += 1;
    }
    let needed: Vec<String> = sets
        .iter()
        .filter(|s| {
            let multi_series = s
                .dicom_tags()
                .and_then(|t| t.dicom_series_instance_uid())
                .is_none();
            let shared_study = s.is_primary() == Some(true)
                && primaries_per_study
                    .get(study_uid_of(s))
                    .copied()
                    .unwrap_or(0)
                    > 1;
            multi_series || shared_study
        })
        .map(|s| s.image_set_id().to_string())
        .collect();
    let contents = contents_of(&datastore_id, needed).await?;
    let mut studies: BTreeMap<String, Vec<&ImageSetsMetadataSummary>> = BTreeMap::new();
    for s in &sets {
        let key = s
            .dicom_tags()
            .and_then(|t| t.dicom_study_instance_uid())
            .unwrap_or("")
            .to_string();
        studies.entry(key).or_default().push(s);
    }
    let mut rows: Vec<PatientStudy> = studies
        .into_iter()
        .map(|(study_uid, members)| {
            // Study facts from a primary image set when there is one (non-primary ones conflict).
            let first = members
                .iter()
                .find(|s| s.is_primary() == Some(true))
                .unwrap_or(&members[0])
                .dicom_tags();
            let modalities: BTreeSet<&str> = members
                .iter()
                .filter_map(|s| s.dicom_tags()?.dicom_series_modality())
                .collect();
            // Distinct series over all image sets of the study (a series may sit in several).
            let series: BTreeSet<&str> = members
                .iter()
                .flat_map(
                    |s| match s.dicom_tags().and_then(|t| t.dicom_series_instance_uid()) {
                        Some(uid) => vec![uid],
                        None => contents
                            .get(s.image_set_id())
                            .map_or(vec![], |c| c.series.iter().map(String::as_str).collect()),
                    },
                )
                .collect();
            let primaries: Vec<&&ImageSetsMetadataSummary> = members
                .iter()
                .filter(|s| s.is_primary() == Some(true))
                .collect();
            // One primary image set: its summary's count. Several: distinct SOP Instance UIDs.
            let primary_instances = match primaries.as_slice() {
                [one] => one
                    .dicom_tags()
                    .map_or(0, |t| t.dicom_number_of_study_related_instances() as usize),
                many => many
                    .iter()
                    .filter_map(|s| contents.get(s.image_set_id()))
                    .flat_map(|c| c.instances.iter())
                    .collect::<BTreeSet<_>>()
                    .len(),
            };
            let text = |f: fn(&DicomTags) -> Option<&str>| first.and_then(f).map(str::to_owned);
            PatientStudy {
                study_instance_uid: study_uid,
                study_date: text(DicomTags::dicom_study_date),
                study_time: text(DicomTags::dicom_study_time),
                study_description: text(DicomTags::dicom_study_description),
                accession_number: text(DicomTags::dicom_accession_number),
                study_id: text(DicomTags::dicom_study_id),
                modalities: modalities.into_iter().map(str::to_owned).collect(),
                series_count: series.len(),
                instance_count_in_primary_image_sets: primary_instances,
                image_sets: members
                    .iter()
                    .map(|s| StudyImageSet {
                        image_set_id: s.image_set_id().into(),
                        is_primary: s.is_primary(),
                        version: s.version(),
                    })
                    .collect(),
            }
        })
        .collect();
    rows.sort_by(|a, b| b.study_date.cmp(&a.study_date));
    Ok(PatientStudies {
        patient_id: pid,
        total_studies: rows.len(),
        total_image_sets: sets.len(),
        truncated,
        studies: rows,
    })
}

/// One series of a patient, from the metadata of the image set holding it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PatientSeriesRow {
    pub series_instance_uid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modality: Option<String>,
    /// Null when absent or not an integer.
    pub series_number: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_part_examined: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub study_instance_uid: Option<String>,
    pub instance_count: usize,
    pub image_set_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_primary: Option<bool>,
}

/// A patient's series.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PatientSeries {
    pub patient_id: String,
    pub total_series: usize,
    /// More image sets matched than max_results.
    pub truncated: bool,
    pub series: Vec<PatientSeriesRow>,
}

/// A patient's series, read from the metadata of each image set (image sets may hold several).
pub async fn get_patient_series(
    datastore_id: String,
    patient_id: String,
    max_results: Option<i64>,
) -> EngineResult<PatientSeries> {
    let key = Key::patient(&patient_id)?;
    let pid = key.value().to_string();
    let (sets, truncated) = search_by(&datastore_id, &key, max_results).await?;
    let jobs: Vec<(String, Option<bool>)> = sets
        .iter()
        .map(|s| (s.image_set_id().to_string(), s.is_primary()))
        .collect();
    let ds = datastore_id.clone();
    let metas = map_bounded(jobs, read_concurrency(), move |(id, primary)| {
        let ds = ds.clone();
        async move {
            fetch_metadata(&ds, &id, None)
                .await
                .map(|m| (id, primary, m))
        }
    })
    .await;
    let mut rows = Vec::new();
    for m in metas {
        let (id, primary, meta) = m?;
        let study_uid = meta.study.attributes.text("StudyInstanceUID");
        for (series_uid, s) in &meta.study.series {
            let a = &s.attributes;
            rows.push(PatientSeriesRow {
                series_instance_uid: series_uid.clone(),
                modality: a.text("Modality"),
                // An integer (IS) as in every other tool; null when absent or not a number.
                series_number: a.integer("SeriesNumber"),
                series_description: a.text("SeriesDescription"),
                body_part_examined: a.text("BodyPartExamined"),
                study_instance_uid: study_uid.clone(),
                instance_count: s.instances.len(),
                image_set_id: id.clone(),
                is_primary: primary,
            });
        }
    }
    Ok(PatientSeries {
        patient_id: pid,
        total_series: rows.len(),
        truncated,
        series: rows,
    })
}

pub async fn get_study_primary_image_sets(
    datastore_id: String,
    study_instance_uid: String,
) -> EngineResult<ImageSetListing<StudyRef>> {
    validate::id("datastore_id", &datastore_id)?;
    let key = Key::study(&study_instance_uid)?;
    let subject = StudyRef {
        study_instance_uid: key.value().into(),
    };
    let filters = vec![key.filter()?, equal(By::IsPrimary(true))?];
    let (sets, truncated) = search_all(&datastore_id, filters, DEFAULT_LIMIT).await?;
    Ok(listing(subject, &sets, truncated))
}

/// The primary image set of a series.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SeriesPrimaryImageSet {
    pub series_instance_uid: String,
    pub found: bool,
    /// Null when not found.
    pub image_set: Option<CompactImageSet>,
    /// Further primary image sets of the series (expected empty).
    pub other_primary_image_sets: Vec<String>,
}

pub async fn get_series_primary_image_set(
    datastore_id: String,
    series_instance_uid: String,
) -> EngineResult<SeriesPrimaryImageSet> {
    validate::id("datastore_id", &datastore_id)?;
    let key = Key::series(&series_instance_uid)?;
    let u = key.value().to_string();
    let filters = vec![key.filter()?, equal(By::IsPrimary(true))?];
    let (sets, _) = search_all(&datastore_id, filters, DEFAULT_LIMIT).await?;
    Ok(SeriesPrimaryImageSet {
        series_instance_uid: u,
        found: !sets.is_empty(),
        image_set: sets.first().map(compact),
        // A series has one primary image set; more would be an inconsistency worth seeing.
        other_primary_image_sets: sets
            .iter()
            .skip(1)
            .map(|s| s.image_set_id().into())
            .collect(),
    })
}

/// One attribute in the DICOM JSON model (PS3.18 F.2).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DicomJsonAttribute {
    pub vr: &'static str,
    #[serde(rename = "Value", skip_serializing_if = "Option::is_none")]
    pub value: Option<Vec<Value>>,
}

fn attr(vr: &'static str, value: Option<Value>) -> DicomJsonAttribute {
    DicomJsonAttribute {
        vr,
        value: value.map(|v| vec![v]),
    }
}

/// A study in the DICOM JSON model: tag (8 hex digits) → attribute.
pub type DicomJsonStudy = BTreeMap<&'static str, DicomJsonAttribute>;

/// A patient's studies as QIDO-RS SearchStudies answers, newest update first.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DicomwebStudies {
    pub patient_id: String,
    pub total_studies: usize,
    /// More primary image sets matched than one read takes (1,000).
    pub truncated: bool,
    pub studies: Vec<DicomJsonStudy>,
}

/// A patient's studies as QIDO-RS SearchStudies would answer (PS3.18 Annex F JSON), from the
/// primary image sets (DICOMweb sees primary data only), newest update first.
pub async fn get_patient_dicomweb_studies(
    datastore_id: String,
    patient_id: String,
) -> EngineResult<DicomwebStudies> {
    let key = Key::patient(&patient_id)?;
    let pid = key.value().to_string();
    validate::id("datastore_id", &datastore_id)?;
    let filters = vec![key.filter()?, equal(By::IsPrimary(true))?];
    let (sets, truncated) = search_all(&datastore_id, filters, DEFAULT_LIMIT).await?;
    let jobs: Vec<(String, Option<String>)> = sets
        .iter()
        .map(|s| (s.image_set_id().to_string(), s.updated_at().map(iso)))
        .collect();
    let ds = datastore_id.clone();
    let metas = map_bounded(jobs, read_concurrency(), move |(id, updated)| {
        let ds = ds.clone();
        async move { fetch_metadata(&ds, &id, None).await.map(|m| (updated, m)) }
    })
    .await;
    struct StudyAgg {
        updated: Option<String>,
        patient: Map<String, Value>,
        study: Map<String, Value>,
        series: BTreeSet<String>,
        /// SOP Instance UIDs: an instance in two primary image sets is one instance.
        instances: BTreeSet<String>,
        modalities: BTreeSet<String>,
    }
    let mut studies: BTreeMap<String, StudyAgg> = BTreeMap::new();
    for m in metas {
        let (updated, meta) = m?;
        let uid = meta
            .study
            .attributes
            .text("StudyInstanceUID")
            .unwrap_or_default();
        let agg = studies.entry(uid).or_insert_with(|| StudyAgg {
            updated: None,
            patient: meta.patient.dicom.clone(),
            study: meta.study.attributes.dicom.clone(),
            series: BTreeSet::new(),
            instances: BTreeSet::new(),
            modalities: BTreeSet::new(),
        });
        agg.updated = agg.updated.clone().max(updated);
        for (series_uid, s) in &meta.study.series {
            agg.series.insert(series_uid.clone());
            agg.instances.extend(s.instances.keys().cloned());
            agg.modalities.extend(s.attributes.text("Modality"));
        }
    }
    let mut rows: Vec<(Option<String>, DicomJsonStudy)> = studies
        .into_iter()
        .map(|(uid, a)| {
            let p = crate::dicom::metadata::Attributes { dicom: a.patient };
            let s = crate::dicom::metadata::Attributes { dicom: a.study };
            let text = |attrs: &crate::dicom::metadata::Attributes, k: &str| {
                attrs.text(k).map(Value::String)
            };
            let name = |n: Value| json!({"Alphabetic": n});
            let many = |vr, values: Vec<Value>| DicomJsonAttribute {
                vr,
                value: Some(values),
            };
            let study = BTreeMap::from([
                ("00080020", attr("DA", text(&s, "StudyDate"))),
                ("00080030", attr("TM", text(&s, "StudyTime"))),
                ("00080050", attr("SH", text(&s, "AccessionNumber"))),
                (
                    "00080061",
                    many("CS", a.modalities.into_iter().map(Value::String).collect()),
                ),
                (
                    "00080090",
                    attr("PN", text(&s, "ReferringPhysicianName").map(name)),
                ),
                ("00081030", attr("LO", text(&s, "StudyDescription"))),
                ("00100010", attr("PN", text(&p, "PatientName").map(name))),
                ("00100020", attr("LO", text(&p, "PatientID"))),
                ("00100030", attr("DA", text(&p, "PatientBirthDate"))),
                ("00100040", attr("CS", text(&p, "PatientSex"))),
                ("0020000D", attr("UI", Some(Value::String(uid)))),
                ("00200010", attr("SH", text(&s, "StudyID"))),
                ("00201206", many("IS", vec![json!(a.series.len())])),
                ("00201208", many("IS", vec![json!(a.instances.len())])),
            ]);
            (a.updated, study)
        })
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0));
    Ok(DicomwebStudies {
        patient_id: pid,
        total_studies: rows.len(),
        truncated,
        studies: rows.into_iter().map(|(_, v)| v).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::convert::testing::{output_schema, required};
    use aws_sdk_medicalimaging::primitives::DateTime;

    fn summary(id: &str, primary: bool) -> ImageSetsMetadataSummary {
        ImageSetsMetadataSummary::builder()
            .image_set_id(id)
            .version(1)
            .is_primary(primary)
            .updated_at(DateTime::from_secs(1_700_000_000))
            .dicom_tags(
                DicomTags::builder()
                    .dicom_patient_id("P1")
                    .dicom_study_instance_uid("1.2")
                    .dicom_series_modality("CT")
                    .dicom_number_of_study_related_series(2)
                    .dicom_number_of_study_related_instances(5)
                    .build(),
            )
            .build()
            .unwrap()
    }

    #[test]
    fn listings_keep_their_json() {
        let subject = StudyRef {
            study_instance_uid: "1.2".into(),
        };
        let out = listing(subject, &[summary("a", true), summary("b", false)], false);
        let v = serde_json::to_value(&out).unwrap();
        assert_eq!(
            v,
            json!({"study_instance_uid": "1.2", "total": 2, "primary": 1, "truncated": false,
                   "image_sets": [
                       {"image_set_id": "a", "version": 1, "is_primary": true, "patient_id": "P1",
                        "study_instance_uid": "1.2", "modality": "CT", "series_count": 2,
                        "instance_count": 5, "updated_at": "2023-11-14T22:13:20.000Z"},
                       {"image_set_id": "b", "version": 1, "is_primary": false, "patient_id": "P1",
                        "study_instance_uid": "1.2", "modality": "CT", "series_count": 2,
                        "instance_count": 5, "updated_at": "2023-11-14T22:13:20.000Z"}]})
        );
        let none = SeriesPrimaryImageSet {
            series_instance_uid: "1.2.3".into(),
            found: false,
            image_set: None,
            other_primary_image_sets: vec![],
        };
        assert_eq!(
            serde_json::to_value(&none).unwrap(),
            json!({"series_instance_uid": "1.2.3", "found": false, "image_set": null,
                   "other_primary_image_sets": []})
        );
        let study: DicomJsonStudy = BTreeMap::from([
            ("00080020", attr("DA", None)),
            ("0020000D", attr("UI", Some(json!("1.2")))),
        ]);
        assert_eq!(
            serde_json::to_value(&study).unwrap(),
            json!({"00080020": {"vr": "DA"}, "0020000D": {"vr": "UI", "Value": ["1.2"]}})
        );
    }

    #[test]
    fn read_schemas_mark_required_fields() {
        assert_eq!(
            required::<ImageSetListing<PatientRef>>(None),
            ["image_sets", "patient_id", "primary", "total", "truncated"]
        );
        assert_eq!(
            required::<ImageSetListing<PatientRef>>(Some("CompactImageSet")),
            ["image_set_id"]
        );
        assert_eq!(
            required::<PatientStudies>(Some("PatientStudy")),
            [
                "image_sets",
                "instance_count_in_primary_image_sets",
                "modalities",
                "series_count",
                "study_instance_uid"
            ]
        );
        // Always present, null when unknown.
        assert_eq!(
            required::<PatientStudies>(Some("StudyImageSet")),
            ["image_set_id", "is_primary", "version"]
        );
        assert_eq!(
            required::<PatientSeries>(Some("PatientSeriesRow")),
            [
                "image_set_id",
                "instance_count",
                "series_instance_uid",
                "series_number"
            ]
        );
        assert_eq!(
            required::<SeriesPrimaryImageSet>(None),
            [
                "found",
                "image_set",
                "other_primary_image_sets",
                "series_instance_uid"
            ]
        );
        assert_eq!(
            required::<DicomwebStudies>(None),
            ["patient_id", "studies", "total_studies", "truncated"]
        );
        let schema = output_schema::<DicomwebStudies>();
        assert_eq!(
            schema["$defs"]["DicomJsonAttribute"]["required"],
            json!(["vr"])
        );
    }
}
