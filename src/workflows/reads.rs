//! The read workflows: searches by patient / study / series that follow every page, a
//! patient's studies and series, primary image sets of a study or series, and a patient's
//! studies in the DICOMweb (QIDO-RS) JSON model. Results are compact: IDs, UIDs, descriptions,
//! dates and counts.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_medicalimaging::types::{ImageSetsMetadataSummary, SearchByAttributeValue as By};
use serde_json::{json, Map, Value};

use super::common::{
    equal, fetch_metadata, map_bounded, read_concurrency, search_all, Key, DEFAULT_LIMIT,
};
use crate::engine::convert::{iso, Obj};
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
pub fn compact(s: &ImageSetsMetadataSummary) -> Value {
    let t = s.dicom_tags();
    Obj::new()
        .put("image_set_id", s.image_set_id())
        .opt("version", s.version())
        .opt("is_primary", s.is_primary())
        .opt("patient_id", t.and_then(|t| t.dicom_patient_id()))
        .opt(
            "study_instance_uid",
            t.and_then(|t| t.dicom_study_instance_uid()),
        )
        .opt("study_date", t.and_then(|t| t.dicom_study_date()))
        .opt(
            "study_description",
            t.and_then(|t| t.dicom_study_description()),
        )
        .opt(
            "accession_number",
            t.and_then(|t| t.dicom_accession_number()),
        )
        .opt(
            "series_instance_uid",
            t.and_then(|t| t.dicom_series_instance_uid()),
        )
        .opt("modality", t.and_then(|t| t.dicom_series_modality()))
        .opt(
            "series_count",
            t.map(|t| t.dicom_number_of_study_related_series()),
        )
        .opt(
            "instance_count",
            t.map(|t| t.dicom_number_of_study_related_instances()),
        )
        .time("updated_at", s.updated_at())
        .done()
}

fn listing(key: &str, value: &str, sets: &[ImageSetsMetadataSummary], truncated: bool) -> Value {
    json!({
        key: value,
        "total": sets.len(),
        "primary": sets.iter().filter(|s| s.is_primary() == Some(true)).count(),
        "truncated": truncated,
        "image_sets": sets.iter().map(compact).collect::<Vec<_>>(),
    })
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

/// Every image set of a patient, study or series.
async fn search_by_key(
    datastore_id: String,
    key: Key,
    max_results: Option<i64>,
) -> EngineResult<Value> {
    let (sets, truncated) = search_by(&datastore_id, &key, max_results).await?;
    Ok(listing(key.name(), key.value(), &sets, truncated))
}

pub async fn search_by_patient_id(
    ds: String,
    patient_id: String,
    max_results: Option<i64>,
) -> EngineResult<Value> {
    search_by_key(ds, Key::patient(&patient_id)?, max_results).await
}

pub async fn search_by_study_uid(
    ds: String,
    study_uid: String,
    max_results: Option<i64>,
) -> EngineResult<Value> {
    search_by_key(ds, Key::study(&study_uid)?, max_results).await
}

pub async fn search_by_series_uid(
    ds: String,
    series_uid: String,
    max_results: Option<i64>,
) -> EngineResult<Value> {
    search_by_key(ds, Key::series(&series_uid)?, max_results).await
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

/// A patient's studies, from the search summaries of all their image sets. Metadata is read
/// only where the summary cannot answer: image sets holding several series (the summary names
/// no series), and studies with several primary image sets (an instance in two of them is
/// counted once, by SOP Instance UID).
pub async fn get_patient_studies(
    datastore_id: String,
    patient_id: String,
    max_results: Option<i64>,
) -> EngineResult<Value> {
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
    let mut rows: Vec<Value> = studies
        .into_iter()
        .map(|(study_uid, members)| {
            // Study facts from a primary image set when there is one (non-primary ones conflict).
            let first = members
                .iter()
                .find(|s| s.is_primary() == Some(true))
                .unwrap_or(&members[0])
                .dicom_tags();
            let modalities: BTreeSet<&str> =
                members.iter().filter_map(|s| s.dicom_tags()?.dicom_series_modality()).collect();
            // Distinct series over all image sets of the study (a series may sit in several).
            let series: BTreeSet<&str> = members
                .iter()
                .flat_map(|s| match s.dicom_tags().and_then(|t| t.dicom_series_instance_uid()) {
                    Some(uid) => vec![uid],
                    None => contents.get(s.image_set_id()).map_or(vec![], |c| c.series.iter().map(String::as_str).collect()),
                })
                .collect();
            let primaries: Vec<&&ImageSetsMetadataSummary> =
                members.iter().filter(|s| s.is_primary() == Some(true)).collect();
            // One primary image set: its summary's count. Several: distinct SOP Instance UIDs.
            let primary_instances = match primaries.as_slice() {
                [one] => one.dicom_tags().map_or(0, |t| t.dicom_number_of_study_related_instances() as usize),
                many => many
                    .iter()
                    .filter_map(|s| contents.get(s.image_set_id()))
                    .flat_map(|c| c.instances.iter())
                    .collect::<BTreeSet<_>>()
                    .len(),
            };
            Obj::new()
                .put("study_instance_uid", study_uid)
                .opt("study_date", first.and_then(|t| t.dicom_study_date()))
                .opt("study_time", first.and_then(|t| t.dicom_study_time()))
                .opt("study_description", first.and_then(|t| t.dicom_study_description()))
                .opt("accession_number", first.and_then(|t| t.dicom_accession_number()))
                .opt("study_id", first.and_then(|t| t.dicom_study_id()))
                .put("modalities", modalities.into_iter().collect::<Vec<_>>())
                .put("series_count", series.len())
                .put("instance_count_in_primary_image_sets", primary_instances)
                .put(
                    "image_sets",
                    members
                        .iter()
                        .map(|s| json!({"image_set_id": s.image_set_id(), "is_primary": s.is_primary(), "version": s.version()}))
                        .collect::<Vec<_>>(),
                )
                .done()
        })
        .collect();
    rows.sort_by(|a, b| b["study_date"].as_str().cmp(&a["study_date"].as_str()));
    Ok(json!({
        "patient_id": pid,
        "total_studies": rows.len(),
        "total_image_sets": sets.len(),
        "truncated": truncated,
        "studies": rows,
    }))
}

/// A patient's series, read from the metadata of each image set (image sets may hold several).
pub async fn get_patient_series(
    datastore_id: String,
    patient_id: String,
    max_results: Option<i64>,
) -> EngineResult<Value> {
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
            rows.push(
                Obj::new()
                    .put("series_instance_uid", series_uid.as_str())
                    .opt("modality", a.text("Modality"))
                    // An integer (IS) as in every other tool; null when absent or not a number.
                    .put("series_number", a.integer("SeriesNumber"))
                    .opt("series_description", a.text("SeriesDescription"))
                    .opt("body_part_examined", a.text("BodyPartExamined"))
                    .opt("study_instance_uid", study_uid.clone())
                    .put("instance_count", s.instances.len())
                    .put("image_set_id", id.as_str())
                    .opt("is_primary", primary)
                    .done(),
            );
        }
    }
    Ok(
        json!({"patient_id": pid, "total_series": rows.len(), "truncated": truncated, "series": rows}),
    )
}

pub async fn get_study_primary_image_sets(
    datastore_id: String,
    study_instance_uid: String,
) -> EngineResult<Value> {
    validate::id("datastore_id", &datastore_id)?;
    let key = Key::study(&study_instance_uid)?;
    let u = key.value().to_string();
    let filters = vec![key.filter()?, equal(By::IsPrimary(true))?];
    let (sets, truncated) = search_all(&datastore_id, filters, DEFAULT_LIMIT).await?;
    Ok(listing("study_instance_uid", &u, &sets, truncated))
}

pub async fn get_series_primary_image_set(
    datastore_id: String,
    series_instance_uid: String,
) -> EngineResult<Value> {
    validate::id("datastore_id", &datastore_id)?;
    let key = Key::series(&series_instance_uid)?;
    let u = key.value().to_string();
    let filters = vec![key.filter()?, equal(By::IsPrimary(true))?];
    let (sets, _) = search_all(&datastore_id, filters, DEFAULT_LIMIT).await?;
    Ok(json!({
        "series_instance_uid": u,
        "found": !sets.is_empty(),
        "image_set": sets.first().map(compact),
        // A series has one primary image set; more would be an inconsistency worth seeing.
        "other_primary_image_sets": sets.iter().skip(1).map(|s| s.image_set_id()).collect::<Vec<_>>(),
    }))
}

fn attr(vr: &str, value: Option<Value>) -> Value {
    match value {
        Some(v) => json!({"vr": vr, "Value": [v]}),
        None => json!({"vr": vr}),
    }
}

/// A patient's studies as QIDO-RS SearchStudies would answer (PS3.18 Annex F JSON), from the
/// primary image sets (DICOMweb sees primary data only), newest update first.
pub async fn get_patient_dicomweb_studies(
    datastore_id: String,
    patient_id: String,
) -> EngineResult<Value> {
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
    let mut rows: Vec<(Option<String>, Value)> = studies
        .into_iter()
        .map(|(uid, a)| {
            let p = crate::dicom::metadata::Attributes { dicom: a.patient };
            let s = crate::dicom::metadata::Attributes { dicom: a.study };
            let text = |attrs: &crate::dicom::metadata::Attributes, k: &str| attrs.text(k).map(Value::String);
            let obj = json!({
                "00080020": attr("DA", text(&s, "StudyDate")),
                "00080030": attr("TM", text(&s, "StudyTime")),
                "00080050": attr("SH", text(&s, "AccessionNumber")),
                "00080061": {"vr": "CS", "Value": a.modalities.iter().collect::<Vec<_>>()},
                "00080090": attr("PN", text(&s, "ReferringPhysicianName").map(|n| json!({"Alphabetic": n}))),
                "00081030": attr("LO", text(&s, "StudyDescription")),
                "00100010": attr("PN", text(&p, "PatientName").map(|n| json!({"Alphabetic": n}))),
                "00100020": attr("LO", text(&p, "PatientID")),
                "00100030": attr("DA", text(&p, "PatientBirthDate")),
                "00100040": attr("CS", text(&p, "PatientSex")),
                "0020000D": attr("UI", Some(Value::String(uid))),
                "00200010": attr("SH", text(&s, "StudyID")),
                "00201206": {"vr": "IS", "Value": [a.series.len()]},
                "00201208": {"vr": "IS", "Value": [a.instances.len()]},
            });
            (a.updated, obj)
        })
        .collect();
    rows.sort_by(|a, b| b.0.cmp(&a.0));
    Ok(json!({
        "patient_id": pid,
        "total_studies": rows.len(),
        "truncated": truncated,
        "studies": rows.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
    }))
}
