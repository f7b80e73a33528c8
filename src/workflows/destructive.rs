//! The workflows that change or delete data: per patient, study, series or instance, in bulk
//! with a safety limit, or on one image set. Each finds every affected image set first (all
//! pages), can run as a dry run that reports exactly what would change, applies changes through
//! `writes` (per-item outcomes, conflict retries, throttling pacing, progress), and the
//! patient/study/series deletions search again afterwards to report what remains.

use std::sync::Arc;

use aws_sdk_medicalimaging::types::SearchFilter;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::cancel;
use super::checks;
use super::common::{dicom_uid, select_for_write, Key};
use super::reads::MAX_LIMIT;
use super::subjects::{InstanceInSeries, InstanceInStudy, PatientRef, SeriesRef, StudyRef};
use super::writes::{
    apply_all, apply_job, deleted_here, plan_remove_instance, plan_remove_series, report, Action,
    ItemOutcome, Job, Outcome, Plan, Progress, Selected, WriteReport,
};
use crate::dicom::metadata::ImageSetMetadata;
use crate::engine::convert::{is_false, Converted};
use crate::engine::error::{EngineError, EngineResult, ErrorReport, ErrorType};
use crate::engine::{image_sets, validate};

/// The image sets matching `filters` as selected for a write (every page, sorted on creation,
/// de-duplicated, up to the safety limit), with the version each was selected at.
async fn matching(ds: &str, filters: Vec<SearchFilter>) -> EngineResult<(Vec<Selected>, bool)> {
    let (sets, truncated) = select_for_write(ds, filters, MAX_LIMIT).await?;
    Ok((
        sets.iter()
            .map(|s| Selected::new(s.image_set_id(), s.version().map(|v| v.to_string())))
            .collect(),
        truncated,
    ))
}

/// What a search after a real run found (absent in a dry run, a cancelled run, and the
/// instance deletions).
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct Remaining {
    /// Image sets still matching after the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_image_sets: Option<usize>,
    /// The first 50 of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_image_set_ids: Option<Vec<String>>,
    /// Why the search after the run failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_error: Option<ErrorReport>,
}

/// Searches again after a run and reports what remains; a failed search is reported beside
/// the items (which are returned regardless).
async fn verify(ds: &str, filters: Vec<SearchFilter>) -> Remaining {
    if cancel::current().token.is_cancelled() {
        return Remaining::default();
    }
    match matching(ds, filters).await {
        Ok((left, _)) => Remaining {
            remaining_image_sets: Some(left.len()),
            remaining_image_set_ids: Some(left.into_iter().take(50).map(|s| s.id).collect()),
            verification_error: None,
        },
        Err(e) => Remaining {
            verification_error: Some((&e).into()),
            ..Remaining::default()
        },
    }
}

/// A run over the image sets of a patient, study, series or instance.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RunReport<K> {
    #[serde(flatten)]
    pub subject: K,
    #[serde(flatten)]
    pub report: WriteReport,
    /// More matched than one run takes (10,000): run again.
    pub truncated: bool,
    /// Cancelled: items not reached are not_attempted.
    #[serde(skip_serializing_if = "is_false")]
    pub cancelled: bool,
    #[serde(flatten)]
    pub remaining: Remaining,
}

/// Runs the plan over the matches, each re-checked against `key` on its fresh read; with
/// `verify`, searches again and counts what remains.
/// Runs the plan over the image sets of `key`, each re-checked against it on its fresh read;
/// with `verify_after`, searches again and counts what remains. `subject` names the key in
/// the result.
#[allow(clippy::too_many_arguments)]
async fn run_for<K>(
    ds: &str,
    key: Key,
    subject: K,
    plan: Option<Plan>,
    dry_run: bool,
    progress: Option<Progress>,
    verify_after: bool,
) -> EngineResult<RunReport<K>> {
    validate::id("datastore_id", ds)?;
    let filters = vec![key.filter()?];
    let (selected, truncated) = matching(ds, filters.clone()).await?;
    let job = Job {
        datastore_id: ds.to_string(),
        plan,
        key: Some(key),
        force: false,
        dry_run,
    };
    let (items, cancelled) = apply_job(job, selected, progress).await;
    let remaining = if !cancelled && verify_after && !dry_run {
        verify(ds, filters).await
    } else {
        Remaining::default()
    };
    Ok(RunReport {
        subject,
        report: report(&items, dry_run),
        truncated,
        cancelled,
        remaining,
    })
}

pub async fn delete_patient_studies(
    ds: String,
    patient_id: String,
    dry_run: bool,
    progress: Option<Progress>,
) -> EngineResult<RunReport<PatientRef>> {
    let key = Key::patient(&patient_id)?;
    let subject = PatientRef {
        patient_id: key.value().into(),
    };
    run_for(&ds, key, subject, None, dry_run, progress, true).await
}

pub async fn delete_study(
    ds: String,
    study_instance_uid: String,
    dry_run: bool,
    progress: Option<Progress>,
) -> EngineResult<RunReport<StudyRef>> {
    let key = Key::study(&study_instance_uid)?;
    let subject = StudyRef {
        study_instance_uid: key.value().into(),
    };
    run_for(&ds, key, subject, None, dry_run, progress, true).await
}

/// Removes the series from every image set holding it (deleting image sets left empty).
pub async fn delete_series_by_uid(
    ds: String,
    series_instance_uid: String,
    dry_run: bool,
    progress: Option<Progress>,
) -> EngineResult<RunReport<SeriesRef>> {
    let key = Key::series(&series_instance_uid)?;
    let series = key.value().to_string();
    let subject = SeriesRef {
        series_instance_uid: series.clone(),
    };
    let plan: Plan = Arc::new(move |m| plan_remove_series(m, &series));
    run_for(&ds, key, subject, Some(plan), dry_run, progress, true).await
}

pub async fn delete_instance_in_study(
    ds: String,
    study_instance_uid: String,
    sop_instance_uid: String,
    dry_run: bool,
    progress: Option<Progress>,
) -> EngineResult<RunReport<InstanceInStudy>> {
    let key = Key::study(&study_instance_uid)?;
    let sop = dicom_uid(&sop_instance_uid, "sop_instance_uid")?;
    let subject = InstanceInStudy {
        study_instance_uid: key.value().into(),
        sop_instance_uid: sop.clone(),
    };
    let plan: Plan = Arc::new(move |m| plan_remove_instance(m, None, &sop));
    run_for(&ds, key, subject, Some(plan), dry_run, progress, false).await
}

pub async fn delete_instance_in_series(
    ds: String,
    series_instance_uid: String,
    sop_instance_uid: String,
    dry_run: bool,
    progress: Option<Progress>,
) -> EngineResult<RunReport<InstanceInSeries>> {
    let key = Key::series(&series_instance_uid)?;
    let sop = dicom_uid(&sop_instance_uid, "sop_instance_uid")?;
    let subject = InstanceInSeries {
        series_instance_uid: key.value().into(),
        sop_instance_uid: sop.clone(),
    };
    let (se, so) = (subject.series_instance_uid.clone(), sop);
    let plan: Plan = Arc::new(move |m| plan_remove_instance(m, Some(&se), &so));
    run_for(&ds, key, subject, Some(plan), dry_run, progress, false).await
}

async fn one_image_set(
    ds: String,
    image_set_id: String,
    plan: Plan,
    dry_run: bool,
) -> EngineResult<WriteReport> {
    validate::id("datastore_id", &ds)?;
    validate::id("image_set_id", &image_set_id)?;
    // An unknown image set is an error here; one this server deleted (a rerun) is done.
    if let Err(e) = image_sets::get_image_set(ds.clone(), image_set_id.clone(), None).await {
        if e.kind == ErrorType::NotFound && deleted_here(&ds, &image_set_id) {
            let item = ItemOutcome {
                image_set_id,
                outcome: Outcome::AlreadyDone,
                version: None,
                detail: Some("the image set was deleted earlier; nothing is left to remove".into()),
                error: None,
            };
            return Ok(report(&[item], dry_run));
        }
        return Err(e);
    }
    let items = apply_all(
        &ds,
        vec![Selected::new(image_set_id, None)],
        Some(plan),
        false,
        dry_run,
        None,
    )
    .await;
    Ok(report(&items, dry_run))
}

pub async fn remove_series_from_image_set(
    ds: String,
    image_set_id: String,
    series_instance_uid: String,
    dry_run: bool,
) -> EngineResult<WriteReport> {
    let series = Key::series(&series_instance_uid)?.value().to_string();
    let plan: Plan = Arc::new(move |m| plan_remove_series(m, &series));
    one_image_set(ds, image_set_id, plan, dry_run).await
}

pub async fn remove_instance_from_image_set(
    ds: String,
    image_set_id: String,
    series_instance_uid: String,
    sop_instance_uid: String,
    dry_run: bool,
) -> EngineResult<WriteReport> {
    let series = Key::series(&series_instance_uid)?.value().to_string();
    let sop = dicom_uid(&sop_instance_uid, "sop_instance_uid")?;
    let plan: Plan = Arc::new(move |m| plan_remove_instance(m, Some(&series), &sop));
    one_image_set(ds, image_set_id, plan, dry_run).await
}

/// The keyword → value map of one level; the attributes themselves are judged by
/// `checks::patient_study_update` (reported per item, the same in a dry run).
fn attributes(v: &Value, param: &str) -> EngineResult<Map<String, Value>> {
    match v {
        Value::Null => Ok(Map::new()),
        Value::Object(m) => Ok(m.clone()),
        _ => Err(EngineError::invalid(
            param,
            "must be an object of DICOM keyword -> value",
        )),
    }
}

/// The update of one image set: nothing when its fresh read already holds every requested
/// value (a safe re-run writes no new version), else the whole document.
fn plan_update(meta: &ImageSetMetadata, document: &Value) -> Action {
    let in_place = |level: &str, stored: &Map<String, Value>| {
        document[level]["DICOM"]
            .as_object()
            .is_none_or(|wanted| wanted.iter().all(|(k, v)| stored.get(k) == Some(v)))
    };
    if in_place("Patient", &meta.patient.dicom) && in_place("Study", &meta.study.attributes.dicom) {
        Action::Nothing("every requested value is already in place".into())
    } else {
        Action::Update(document.clone())
    }
}

/// A Patient/Study attribute update over the image sets of a patient or study.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct UpdateReport<K> {
    #[serde(flatten)]
    pub run: RunReport<K>,
    /// The updatableAttributes document.
    pub update_document: Value,
    /// Attribute → the value it was converted to (ISO dates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normalized: Option<Converted>,
    /// Why HealthImaging would refuse it (nothing was sent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_refused: Option<String>,
}

/// Sets Patient- and Study-level attributes on every image set of `key`. The change is checked
/// once, before any write: when HealthImaging would refuse it, every item is `would_fail` in a
/// dry run and `failed` in a real run, with the same reason, and nothing is sent.
#[allow(clippy::too_many_arguments)]
async fn run_update<K>(
    ds: &str,
    key: Key,
    subject: K,
    patient: Map<String, Value>,
    study: Map<String, Value>,
    param: &str,
    dry_run: bool,
    progress: Option<Progress>,
) -> EngineResult<UpdateReport<K>> {
    if patient.is_empty() && study.is_empty() {
        return Err(EngineError::invalid(param, "has no attributes to update"));
    }
    let check = checks::patient_study_update(&patient, &study, false);
    let plan: Plan = match &check.refusal {
        None => {
            let document = check.document.clone();
            Arc::new(move |meta| plan_update(meta, &document))
        }
        Some(why) => {
            let action = Action::Fail(why.clone());
            Arc::new(move |_| action.clone())
        }
    };
    let run = run_for(ds, key, subject, Some(plan), dry_run, progress, false).await?;
    Ok(UpdateReport {
        run,
        update_document: check.document,
        normalized: (!check.normalized.is_empty()).then_some(check.normalized),
        update_refused: check.refusal,
    })
}

/// Patient- and Study-level updates on every image set of a study.
pub async fn update_patient_study_metadata(
    ds: String,
    study_instance_uid: String,
    patient_updates: Value,
    study_updates: Value,
    dry_run: bool,
    progress: Option<Progress>,
) -> EngineResult<UpdateReport<StudyRef>> {
    let key = Key::study(&study_instance_uid)?;
    let subject = StudyRef {
        study_instance_uid: key.value().into(),
    };
    let (p, s) = (
        attributes(&patient_updates, "patient_updates")?,
        attributes(&study_updates, "study_updates")?,
    );
    run_update(
        &ds,
        key,
        subject,
        p,
        s,
        "patient_updates",
        dry_run,
        progress,
    )
    .await
}

/// Updates on every image set of a patient. `metadata_updates` is `{"Patient": {...},
/// "Study": {...}}`, or a flat map of Patient-level attributes.
pub async fn bulk_update_patient_metadata(
    ds: String,
    patient_id: String,
    metadata_updates: Value,
    dry_run: bool,
    progress: Option<Progress>,
) -> EngineResult<UpdateReport<PatientRef>> {
    let key = Key::patient(&patient_id)?;
    let subject = PatientRef {
        patient_id: key.value().into(),
    };
    let obj = metadata_updates
        .as_object()
        .ok_or_else(|| EngineError::invalid("metadata_updates", "must be an object"))?;
    let leveled = obj.keys().all(|k| k == "Patient" || k == "Study");
    let (p, s) = if leveled {
        let dicom = |k: &str| {
            obj.get(k)
                .map(|v| v.get("DICOM").unwrap_or(v).clone())
                .unwrap_or(Value::Null)
        };
        (
            attributes(&dicom("Patient"), "metadata_updates.Patient")?,
            attributes(&dicom("Study"), "metadata_updates.Study")?,
        )
    } else {
        (
            attributes(&metadata_updates, "metadata_updates")?,
            Map::new(),
        )
    };
    run_update(
        &ds,
        key,
        subject,
        p,
        s,
        "metadata_updates",
        dry_run,
        progress,
    )
    .await
}

/// Search filters from `criteria`: the API's `{"filters": [...]}` shape, or a flat map of
/// EQUAL attributes such as `{"DICOMPatientId": "123"}` (at most 2, as the API allows); with
/// the values converted on the way (ISO study dates). Errors name `criteria` once.
fn criteria_filters(criteria: &Value) -> EngineResult<(Vec<SearchFilter>, Converted)> {
    let obj = criteria
        .as_object()
        .filter(|o| !o.is_empty())
        .ok_or_else(|| {
            EngineError::invalid(
                "criteria",
                "must be a non-empty object, e.g. {\"DICOMPatientId\": \"123\"}",
            )
        })?;
    let api_shape = if obj.contains_key("filters") {
        criteria.clone()
    } else if obj.len() > 2 {
        return Err(EngineError::invalid(
            "criteria",
            "HealthImaging combines at most 2 search attributes",
        ));
    } else {
        let filters = obj
            .iter()
            .map(|(k, v)| json!({"operator": "EQUAL", "values": [{k.as_str(): v}]}))
            .collect::<Vec<_>>();
        json!({ "filters": filters })
    };
    let c = image_sets::criteria("criteria", &api_shape)?;
    Ok((c.search.filters().to_vec(), c.normalized))
}

/// A deletion by search criteria.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct BulkDeletion {
    #[serde(flatten)]
    pub report: WriteReport,
    /// More than max_deletions matched, so nothing was deleted.
    pub refused: bool,
    pub matched: usize,
    /// When refused: whether matched is only a lower bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched_at_least: Option<bool>,
    pub max_deletions: usize,
    /// When refused: what to do instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(flatten)]
    pub remaining: Remaining,
    /// Converted criteria values (ISO study dates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normalized: Option<Converted>,
}

/// Deletes every image set matching `criteria`, but nothing at all when more than
/// `max_deletions` match.
pub async fn bulk_delete_by_criteria(
    ds: String,
    criteria: Value,
    max_deletions: Option<i64>,
    dry_run: bool,
    progress: Option<Progress>,
) -> EngineResult<BulkDeletion> {
    validate::id("datastore_id", &ds)?;
    let limit = match max_deletions {
        None => 25,
        Some(n) if (1..=1000).contains(&n) => n as usize,
        Some(n) => {
            return Err(EngineError::invalid(
                "max_deletions",
                format!("{n} is out of range 1 to 1000"),
            ))
        }
    };
    let (filters, normalized) = criteria_filters(&criteria)?;
    let (ids, truncated) = matching(&ds, filters.clone()).await?;
    // What was converted in the criteria (ISO study dates), so the caller knows.
    let normalized = (!normalized.is_empty()).then_some(normalized);
    if ids.len() > limit {
        return Ok(BulkDeletion {
            report: report(&[], dry_run),
            refused: true,
            matched: ids.len(),
            matched_at_least: Some(truncated),
            max_deletions: limit,
            message: Some(format!("{} image sets match, more than max_deletions={limit}; nothing was deleted. Narrow the criteria or raise max_deletions.", ids.len())),
            remaining: Remaining::default(),
            normalized,
        });
    }
    let items = apply_all(&ds, ids.clone(), None, false, dry_run, progress).await;
    let remaining = if dry_run {
        Remaining::default()
    } else {
        verify(&ds, filters).await
    };
    Ok(BulkDeletion {
        report: report(&items, dry_run),
        refused: false,
        matched: ids.len(),
        matched_at_least: None,
        max_deletions: limit,
        message: None,
        remaining,
        normalized,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::convert::testing::{output_schema, properties, required};

    #[test]
    fn updates_already_in_place_plan_nothing() {
        let meta = ImageSetMetadata::from_json(&json!({
            "Patient": {"DICOM": {"PatientName": "DOE^JANE", "PatientID": "P1"}},
            "Study": {"DICOM": {"StudyDescription": "CT HEAD"}, "Series": {}}
        }))
        .unwrap();
        let doc = |p: Value, s: Value| {
            let m = |v: Value| v.as_object().cloned().unwrap_or_default();
            checks::patient_study_update(&m(p), &m(s), false).document
        };
        let same = doc(
            json!({"PatientName": "DOE^JANE"}),
            json!({"StudyDescription": "CT HEAD"}),
        );
        assert!(matches!(plan_update(&meta, &same), Action::Nothing(_)));
        assert!(matches!(
            plan_update(
                &meta,
                &doc(json!({}), json!({"StudyDescription": "CT HEAD"}))
            ),
            Action::Nothing(_)
        ));
        // One differing value, or one the image set lacks, means the whole document is written.
        for changed in [
            doc(
                json!({"PatientName": "DOE^JOHN"}),
                json!({"StudyDescription": "CT HEAD"}),
            ),
            doc(json!({"PatientName": "DOE^JANE"}), json!({"StudyID": "7"})),
            doc(json!({"PatientName": "DOE^JANE "}), json!({})),
        ] {
            assert_eq!(
                plan_update(&meta, &changed),
                Action::Update(changed.clone())
            );
        }
    }

    #[test]
    fn deletion_reports_keep_their_json() {
        let run = RunReport {
            subject: InstanceInStudy {
                study_instance_uid: "1.2".into(),
                sop_instance_uid: "1.2.3".into(),
            },
            report: report(&[ItemOutcome::deleted("a")], false),
            truncated: false,
            cancelled: false,
            remaining: Remaining::default(),
        };
        let v = serde_json::to_value(&run).unwrap();
        assert_eq!(v["study_instance_uid"], "1.2");
        assert_eq!(v["sop_instance_uid"], "1.2.3");
        assert_eq!(
            v["items"],
            json!([{"image_set_id": "a", "outcome": "image_set_deleted"}])
        );
        assert_eq!(v["truncated"], false);
        // Present only when set.
        for absent in ["cancelled", "remaining_image_sets", "verification_error"] {
            assert!(v.get(absent).is_none(), "{absent} in {v}");
        }
        let verified = RunReport {
            subject: PatientRef {
                patient_id: "P1".into(),
            },
            report: report(&[], false),
            truncated: true,
            cancelled: true,
            remaining: Remaining {
                remaining_image_sets: Some(0),
                remaining_image_set_ids: Some(vec![]),
                verification_error: None,
            },
        };
        assert_eq!(
            serde_json::to_value(&verified).unwrap(),
            json!({"patient_id": "P1", "dry_run": false, "total": 0, "failed": 0,
                   "already_deleted": 0, "already_done": 0, "unchanged": 0, "would_fail": 0,
                   "changed_since_selected": 0, "not_attempted": 0, "unconfirmed": 0,
                   "items": [], "truncated": true, "cancelled": true,
                   "remaining_image_sets": 0, "remaining_image_set_ids": []})
        );
    }

    #[test]
    fn refused_bulk_deletion_reports_zero_counts() {
        let out = BulkDeletion {
            report: report(&[], true),
            refused: true,
            matched: 30,
            matched_at_least: Some(false),
            max_deletions: 25,
            message: Some("narrow it".into()),
            remaining: Remaining::default(),
            normalized: None,
        };
        let v = serde_json::to_value(&out).unwrap();
        assert_eq!(v["refused"], true);
        assert_eq!(v["total"], 0);
        assert_eq!(v["failed"], 0);
        assert_eq!(v["items"], json!([]));
        assert_eq!(v["matched_at_least"], false);
        assert!(v.get("normalized").is_none());
    }

    #[test]
    fn run_report_schemas_carry_the_subject_and_mark_required_fields() {
        let run = required::<RunReport<InstanceInSeries>>(None);
        for name in [
            "series_instance_uid",
            "sop_instance_uid",
            "dry_run",
            "total",
            "items",
            "truncated",
        ] {
            assert!(run.contains(&name.to_string()), "{name} not in {run:?}");
        }
        let props = properties::<RunReport<InstanceInSeries>>(None);
        for optional in ["cancelled", "remaining_image_sets", "verification_error"] {
            assert!(props.contains(&optional.to_string()), "{optional}");
            assert!(!run.contains(&optional.to_string()), "{optional}");
        }
        let update = required::<UpdateReport<StudyRef>>(None);
        assert!(update.contains(&"study_instance_uid".to_string()));
        assert!(update.contains(&"update_document".to_string()));
        assert!(!update.contains(&"update_refused".to_string()));
        let bulk = required::<BulkDeletion>(None);
        for name in ["refused", "matched", "max_deletions", "total", "items"] {
            assert!(bulk.contains(&name.to_string()), "{name}");
        }
        assert!(!bulk.contains(&"message".to_string()));
        // Flattened parts add no nested objects: one flat object per result.
        let schema = output_schema::<RunReport<PatientRef>>();
        assert_eq!(schema["type"], "object");
        assert!(schema["properties"]["patient_id"].is_object());
    }
}
