//! The workflows that change or delete data: per patient, study, series or instance, in bulk
//! with a safety limit, or on one image set. Each finds every affected image set first (all
//! pages), can run as a dry run that reports exactly what would change, applies changes through
//! `writes` (per-item outcomes, conflict retries, throttling pacing, progress), and the
//! patient/study/series deletions search again afterwards to report what remains.

use std::sync::Arc;

use aws_sdk_medicalimaging::types::SearchFilter;
use serde_json::{json, Map, Value};

use super::cancel;
use super::checks;
use super::common::{dicom_uid, select_for_write, Key};
use super::reads::MAX_LIMIT;
use super::writes::{
    apply_all, apply_job, deleted_here, plan_remove_instance, plan_remove_series, report, Action,
    ItemOutcome, Job, Plan, Progress, Selected,
};
use crate::engine::error::{EngineError, EngineResult, ErrorType};
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

/// Searches again after a run and reports what remains; a failed search is reported beside
/// the items (which are returned regardless).
async fn verify(ds: &str, filters: Vec<SearchFilter>, out: &mut Value) {
    if cancel::current().token.is_cancelled() {
        return;
    }
    match matching(ds, filters).await {
        Ok((left, _)) => {
            out["remaining_image_sets"] = json!(left.len());
            out["remaining_image_set_ids"] =
                json!(left.iter().take(50).map(|s| &s.id).collect::<Vec<_>>());
        }
        Err(e) => {
            out["verification_error"] = json!({"type": e.kind.as_str(), "message": e.message});
        }
    }
}

/// Runs the plan over the matches, each re-checked against `key` on its fresh read; with
/// `verify`, searches again and counts what remains.
#[allow(clippy::too_many_arguments)]
async fn run(
    ds: &str,
    filters: Vec<SearchFilter>,
    key: Option<Key>,
    plan: Option<Plan>,
    force: bool,
    dry_run: bool,
    progress: Option<Progress>,
    verify_after: bool,
) -> EngineResult<Value> {
    validate::id("datastore_id", ds)?;
    let (selected, truncated) = matching(ds, filters.clone()).await?;
    let job = Job {
        datastore_id: ds.to_string(),
        plan,
        key,
        force,
        dry_run,
    };
    let (items, cancelled) = apply_job(job, selected, progress).await;
    let mut out = report(&items, dry_run);
    out["truncated"] = json!(truncated);
    if cancelled {
        out["cancelled"] = json!(true);
    } else if verify_after && !dry_run {
        verify(ds, filters, &mut out).await;
    }
    Ok(out)
}

/// `run` over the image sets of `key`, naming the key (and any `extra` labels) in the result.
#[allow(clippy::too_many_arguments)]
async fn run_for(
    ds: &str,
    key: Key,
    extra: &[(&str, &str)],
    plan: Option<Plan>,
    dry_run: bool,
    progress: Option<Progress>,
    verify: bool,
) -> EngineResult<Value> {
    let mut out = run(
        ds,
        vec![key.filter()?],
        Some(key.clone()),
        plan,
        false,
        dry_run,
        progress,
        verify,
    )
    .await?;
    out[key.name()] = json!(key.value());
    for (k, v) in extra {
        out[*k] = json!(v);
    }
    Ok(out)
}

pub async fn delete_patient_studies(
    ds: String,
    patient_id: String,
    dry_run: bool,
    progress: Option<Progress>,
) -> EngineResult<Value> {
    run_for(
        &ds,
        Key::patient(&patient_id)?,
        &[],
        None,
        dry_run,
        progress,
        true,
    )
    .await
}

pub async fn delete_study(
    ds: String,
    study_instance_uid: String,
    dry_run: bool,
    progress: Option<Progress>,
) -> EngineResult<Value> {
    run_for(
        &ds,
        Key::study(&study_instance_uid)?,
        &[],
        None,
        dry_run,
        progress,
        true,
    )
    .await
}

/// Removes the series from every image set holding it (deleting image sets left empty).
pub async fn delete_series_by_uid(
    ds: String,
    series_instance_uid: String,
    dry_run: bool,
    progress: Option<Progress>,
) -> EngineResult<Value> {
    let key = Key::series(&series_instance_uid)?;
    let series = key.value().to_string();
    let plan: Plan = Arc::new(move |m| plan_remove_series(m, &series));
    run_for(&ds, key, &[], Some(plan), dry_run, progress, true).await
}

pub async fn delete_instance_in_study(
    ds: String,
    study_instance_uid: String,
    sop_instance_uid: String,
    dry_run: bool,
    progress: Option<Progress>,
) -> EngineResult<Value> {
    let key = Key::study(&study_instance_uid)?;
    let sop = dicom_uid(&sop_instance_uid, "sop_instance_uid")?;
    let s = sop.clone();
    let plan: Plan = Arc::new(move |m| plan_remove_instance(m, None, &s));
    run_for(
        &ds,
        key,
        &[("sop_instance_uid", &sop)],
        Some(plan),
        dry_run,
        progress,
        false,
    )
    .await
}

pub async fn delete_instance_in_series(
    ds: String,
    series_instance_uid: String,
    sop_instance_uid: String,
    dry_run: bool,
    progress: Option<Progress>,
) -> EngineResult<Value> {
    let key = Key::series(&series_instance_uid)?;
    let sop = dicom_uid(&sop_instance_uid, "sop_instance_uid")?;
    let (se, so) = (key.value().to_string(), sop.clone());
    let plan: Plan = Arc::new(move |m| plan_remove_instance(m, Some(&se), &so));
    run_for(
        &ds,
        key,
        &[("sop_instance_uid", &sop)],
        Some(plan),
        dry_run,
        progress,
        false,
    )
    .await
}

async fn one_image_set(
    ds: String,
    image_set_id: String,
    plan: Plan,
    dry_run: bool,
) -> EngineResult<Value> {
    validate::id("datastore_id", &ds)?;
    validate::id("image_set_id", &image_set_id)?;
    // An unknown image set is an error here; one this server deleted (a rerun) is done.
    if let Err(e) = image_sets::get_image_set(ds.clone(), image_set_id.clone(), None).await {
        if e.kind == ErrorType::NotFound && deleted_here(&ds, &image_set_id) {
            let item = ItemOutcome {
                image_set_id,
                outcome: "already_done".into(),
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
) -> EngineResult<Value> {
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
) -> EngineResult<Value> {
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

/// Sets Patient- and Study-level attributes on every image set of `key`. The change is checked
/// once, before any write: when HealthImaging would refuse it, every item is `would_fail` in a
/// dry run and `failed` in a real run, with the same reason, and nothing is sent.
async fn run_update(
    ds: &str,
    key: Key,
    patient: Map<String, Value>,
    study: Map<String, Value>,
    param: &str,
    dry_run: bool,
    progress: Option<Progress>,
) -> EngineResult<Value> {
    if patient.is_empty() && study.is_empty() {
        return Err(EngineError::invalid(param, "has no attributes to update"));
    }
    let check = checks::patient_study_update(&patient, &study, false);
    let action = match &check.refusal {
        None => Action::Update(check.document.clone()),
        Some(why) => Action::Fail(why.clone()),
    };
    let plan: Plan = Arc::new(move |_| action.clone());
    let mut out = run_for(ds, key, &[], Some(plan), dry_run, progress, false).await?;
    out["update_document"] = check.document;
    if !check.normalized.is_empty() {
        out["normalized"] = Value::Object(check.normalized);
    }
    if let Some(why) = check.refusal {
        out["update_refused"] = json!(why);
    }
    Ok(out)
}

/// Patient- and Study-level updates on every image set of a study.
pub async fn update_patient_study_metadata(
    ds: String,
    study_instance_uid: String,
    patient_updates: Value,
    study_updates: Value,
    dry_run: bool,
    progress: Option<Progress>,
) -> EngineResult<Value> {
    let key = Key::study(&study_instance_uid)?;
    let (p, s) = (
        attributes(&patient_updates, "patient_updates")?,
        attributes(&study_updates, "study_updates")?,
    );
    run_update(&ds, key, p, s, "patient_updates", dry_run, progress).await
}

/// Updates on every image set of a patient. `metadata_updates` is `{"Patient": {...},
/// "Study": {...}}`, or a flat map of Patient-level attributes.
pub async fn bulk_update_patient_metadata(
    ds: String,
    patient_id: String,
    metadata_updates: Value,
    dry_run: bool,
    progress: Option<Progress>,
) -> EngineResult<Value> {
    let key = Key::patient(&patient_id)?;
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
    run_update(&ds, key, p, s, "metadata_updates", dry_run, progress).await
}

/// Search filters from `criteria`: the API's `{"filters": [...]}` shape, or a flat map of
/// EQUAL attributes such as `{"DICOMPatientId": "123"}` (at most 2, as the API allows); with
/// the values converted on the way (ISO study dates). Errors name `criteria` once.
fn criteria_filters(criteria: &Value) -> EngineResult<(Vec<SearchFilter>, Map<String, Value>)> {
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

/// Deletes every image set matching `criteria`, but nothing at all when more than
/// `max_deletions` match.
pub async fn bulk_delete_by_criteria(
    ds: String,
    criteria: Value,
    max_deletions: Option<i64>,
    dry_run: bool,
    progress: Option<Progress>,
) -> EngineResult<Value> {
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
    let note = |mut out: Value| {
        if !normalized.is_empty() {
            out["normalized"] = Value::Object(normalized.clone());
        }
        out
    };
    if ids.len() > limit {
        return Ok(note(json!({
            "dry_run": dry_run,
            "refused": true,
            "matched": ids.len(),
            "matched_at_least": truncated,
            "max_deletions": limit,
            "message": format!("{} image sets match, more than max_deletions={limit}; nothing was deleted. Narrow the criteria or raise max_deletions.", ids.len()),
            "total": 0,
            "items": [],
        })));
    }
    let items = apply_all(&ds, ids.clone(), None, false, dry_run, progress).await;
    let mut out = report(&items, dry_run);
    out["refused"] = json!(false);
    out["matched"] = json!(ids.len());
    out["max_deletions"] = json!(limit);
    if !dry_run {
        verify(&ds, filters, &mut out).await;
    }
    Ok(note(out))
}
