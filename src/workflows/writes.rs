//! How the destructive workflows change image sets, safely: each image set's change is planned
//! from its current metadata, written against its current `latestVersionId` (re-read and retried
//! on conflict), paced when HealthImaging throttles (every call of the operation waits, so the
//! whole operation slows down instead of items failing), and reported one line per item.
//! Removing the last series or instance of an image set deletes the image set instead of
//! leaving an empty one behind.

use std::sync::Arc;

use serde_json::{json, Value};

use super::common::{fetch_metadata, map_bounded, write_concurrency, Pace};
use super::documents;
use crate::dicom::metadata::ImageSetMetadata;
use crate::engine::error::{EngineError, EngineResult, ErrorType};
use crate::engine::{image_sets, metadata};

/// Reports (done, total) as items finish.
pub type Progress = Arc<dyn Fn(usize, usize) + Send + Sync>;

/// Attempts per image set when another writer keeps changing it.
const CONFLICT_ATTEMPTS: usize = 6;

/// What to do to one image set.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    DeleteImageSet,
    Remove(Value),
    Update(Value),
    /// Nothing to do, with the reason (e.g. the series is no longer there).
    Nothing(String),
    /// HealthImaging would refuse the change, for this reason: nothing is sent.
    Fail(String),
}

impl Action {
    fn verb(&self, dry_run: bool) -> &'static str {
        match (self, dry_run) {
            (Action::DeleteImageSet, false) => "image_set_deleted",
            (Action::DeleteImageSet, true) => "would_delete_image_set",
            (Action::Remove(_), false) => "removed",
            (Action::Remove(_), true) => "would_remove",
            (Action::Update(_), false) => "updated",
            (Action::Update(_), true) => "would_update",
            (Action::Nothing(_), _) => "unchanged",
            (Action::Fail(_), false) => "failed",
            (Action::Fail(_), true) => "would_fail",
        }
    }
}

/// Plans removal of a series: the series, or the image set if it is its only series.
pub fn plan_remove_series(meta: &ImageSetMetadata, series_uid: &str) -> Action {
    match meta.study.series.get(series_uid) {
        None => Action::Nothing(format!("series {series_uid} is not in this image set")),
        Some(_) if meta.study.series.len() == 1 => Action::DeleteImageSet,
        Some(_) => Action::Remove(documents::remove_series(series_uid)),
    }
}

/// Plans removal of a SOP instance (found in any series when `series_uid` is `None`).
pub fn plan_remove_instance(
    meta: &ImageSetMetadata,
    series_uid: Option<&str>,
    sop_uid: &str,
) -> Action {
    let Some(series) = series_uid.or_else(|| meta.series_of_instance(sop_uid)) else {
        return Action::Nothing(format!("instance {sop_uid} is not in this image set"));
    };
    match meta.study.series.get(series) {
        Some(s) if s.instances.contains_key(sop_uid) => {
            if meta.instance_count() == 1 {
                Action::DeleteImageSet
            } else if s.instances.len() == 1 {
                Action::Remove(documents::remove_series(series))
            } else {
                Action::Remove(documents::remove_instance(series, sop_uid))
            }
        }
        _ => Action::Nothing(format!(
            "instance {sop_uid} is not in series {series} of this image set"
        )),
    }
}

/// One image set's outcome.
#[derive(Debug, Clone)]
pub struct ItemOutcome {
    pub image_set_id: String,
    pub outcome: String,
    pub version: Option<String>,
    pub detail: Option<String>,
    pub error: Option<EngineError>,
}

impl ItemOutcome {
    pub fn to_json(&self) -> Value {
        let mut v = json!({"image_set_id": self.image_set_id, "outcome": self.outcome});
        if let Some(ver) = &self.version {
            v["latest_version_id"] = json!(ver);
        }
        if let Some(d) = &self.detail {
            v["detail"] = json!(d);
        }
        if let Some(e) = &self.error {
            v["error"] = json!({"type": e.kind.as_str(), "message": e.message});
        }
        v
    }
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }
}

/// A planning function: the action for an image set, from its current metadata.
pub type Plan = Arc<dyn Fn(&ImageSetMetadata) -> Action + Send + Sync>;

async fn current(ds: &str, id: &str, pace: &Pace) -> EngineResult<(String, ImageSetMetadata)> {
    let props = pace
        .run(|| image_sets::get_image_set(ds.to_string(), id.to_string(), None))
        .await?;
    let version = props["version_id"].as_str().unwrap_or("1").to_string();
    let meta = pace.run(|| fetch_metadata(ds, id, Some(&version))).await?;
    Ok((version, meta))
}

async fn write(
    ds: &str,
    id: &str,
    version: &str,
    action: &Action,
    force: bool,
    pace: &Pace,
) -> EngineResult<Option<String>> {
    let (key, doc) = match action {
        Action::DeleteImageSet => {
            pace.run(|| image_sets::delete_image_set(ds.to_string(), id.to_string(), None))
                .await?;
            return Ok(None);
        }
        Action::Nothing(_) | Action::Fail(_) => return Ok(None),
        Action::Remove(doc) => ("removableAttributes", doc),
        Action::Update(doc) => ("updatableAttributes", doc),
    };
    let out = pace
        .run(|| {
            metadata::update_image_set_metadata(metadata::MetadataUpdate {
                datastore_id: ds.to_string(),
                image_set_id: id.to_string(),
                latest_version_id: version.to_string(),
                updates: json!({"DICOMUpdates": {key: doc}}),
                force: force.then_some(true),
                include_study_image_sets: None,
            })
        })
        .await?;
    Ok(out["latest_version_id"].as_str().map(str::to_owned))
}

/// Plans and applies one image set's change; conflicts re-read and retry, a vanished image set
/// counts as already done.
async fn apply_one(
    ds: &str,
    id: &str,
    plan: &Plan,
    force: bool,
    dry_run: bool,
    whole_set: bool,
    pace: &Pace,
) -> ItemOutcome {
    let outcome = |outcome: &str,
                   version: Option<String>,
                   detail: Option<String>,
                   error: Option<EngineError>| ItemOutcome {
        image_set_id: id.to_string(),
        outcome: outcome.to_string(),
        version,
        detail,
        error,
    };
    let mut last_conflict = None;
    for _ in 0..CONFLICT_ATTEMPTS {
        // Deleting whole image sets needs no metadata.
        let (version, action) = if whole_set {
            (String::new(), Action::DeleteImageSet)
        } else {
            match current(ds, id, pace).await {
                Ok((v, meta)) => (v, plan(&meta)),
                Err(e) if e.kind == ErrorType::NotFound => {
                    return outcome("already_deleted", None, None, None)
                }
                Err(e) => return outcome("failed", None, None, Some(e)),
            }
        };
        let detail = match &action {
            Action::Nothing(why) => Some(why.clone()),
            Action::Fail(why) => {
                // The same reason in a dry run and a real run; only a real run has failed.
                let error = (!dry_run).then(|| EngineError::new(ErrorType::Validation, why));
                return outcome(action.verb(dry_run), None, Some(why.clone()), error);
            }
            _ => None,
        };
        if dry_run || matches!(action, Action::Nothing(_)) {
            return outcome(action.verb(dry_run), None, detail, None);
        }
        match write(ds, id, &version, &action, force, pace).await {
            Ok(v) => return outcome(action.verb(false), v, None, None),
            Err(e) if e.kind == ErrorType::NotFound => {
                return outcome("already_deleted", None, None, None)
            }
            Err(e) if e.kind == ErrorType::Conflict => last_conflict = Some(e),
            Err(e) => return outcome("failed", None, None, Some(e)),
        }
    }
    outcome(
        "failed",
        None,
        Some(format!(
            "still conflicting after {CONFLICT_ATTEMPTS} attempts"
        )),
        last_conflict,
    )
}

/// Applies `plan` to every image set in `ids` (whole-set deletion when `plan` is `None`), with
/// bounded concurrency; reports progress; one outcome per image set, in input order.
pub async fn apply_all(
    datastore_id: &str,
    ids: Vec<String>,
    plan: Option<Plan>,
    force: bool,
    dry_run: bool,
    progress: Option<Progress>,
) -> Vec<ItemOutcome> {
    let total = ids.len();
    let pace = Arc::new(Pace::default());
    // Counting and reporting under one lock keeps notifications in increasing order.
    let done = Arc::new(std::sync::Mutex::new(0usize));
    if let Some(p) = &progress {
        p(0, total);
    }
    let whole_set = plan.is_none();
    let plan: Plan = plan.unwrap_or_else(|| Arc::new(|_| Action::DeleteImageSet));
    let ds = datastore_id.to_string();
    let results = map_bounded(ids.clone(), write_concurrency(), move |id| {
        let (ds, plan, pace, done, progress) = (
            ds.clone(),
            plan.clone(),
            pace.clone(),
            done.clone(),
            progress.clone(),
        );
        async move {
            let out = apply_one(&ds, &id, &plan, force, dry_run, whole_set, &pace).await;
            let mut n = done.lock().expect("progress lock");
            *n += 1;
            if let Some(p) = &progress {
                p(*n, total);
            }
            Ok(out)
        }
    })
    .await;
    results
        .into_iter()
        .zip(ids)
        .map(|(r, id)| {
            r.unwrap_or_else(|e| ItemOutcome {
                image_set_id: id,
                outcome: "failed".into(),
                version: None,
                detail: None,
                error: Some(e),
            })
        })
        .collect()
}

/// Totals plus one line per item.
pub fn report(items: &[ItemOutcome], dry_run: bool) -> Value {
    let count = |o: &str| items.iter().filter(|i| i.outcome == o).count();
    json!({
        "dry_run": dry_run,
        "total": items.len(),
        "failed": items.iter().filter(|i| i.failed()).count(),
        "already_deleted": count("already_deleted"),
        "unchanged": count("unchanged"),
        "would_fail": count("would_fail"),
        "items": items.iter().map(ItemOutcome::to_json).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(series: &[(&str, &[&str])]) -> ImageSetMetadata {
        let mut s = serde_json::Map::new();
        for (uid, sops) in series {
            let insts: serde_json::Map<String, Value> = sops
                .iter()
                .map(|k| (k.to_string(), json!({"DICOM": {}})))
                .collect();
            s.insert(uid.to_string(), json!({"DICOM": {}, "Instances": insts}));
        }
        ImageSetMetadata::from_json(
            &json!({"Patient": {"DICOM": {}}, "Study": {"DICOM": {}, "Series": s}}),
        )
        .unwrap()
    }

    #[test]
    fn removing_the_last_piece_deletes_the_image_set() {
        let one = meta(&[("1.1", &["1.1.1"])]);
        assert_eq!(plan_remove_series(&one, "1.1"), Action::DeleteImageSet);
        assert_eq!(
            plan_remove_instance(&one, None, "1.1.1"),
            Action::DeleteImageSet
        );
        let two = meta(&[("1.1", &["1.1.1", "1.1.2"]), ("1.2", &["1.2.1"])]);
        assert_eq!(
            plan_remove_series(&two, "1.2"),
            Action::Remove(documents::remove_series("1.2"))
        );
        assert_eq!(
            plan_remove_instance(&two, Some("1.1"), "1.1.2"),
            Action::Remove(documents::remove_instance("1.1", "1.1.2"))
        );
        // The only instance of a series among others: the series goes.
        assert_eq!(
            plan_remove_instance(&two, None, "1.2.1"),
            Action::Remove(documents::remove_series("1.2"))
        );
        assert!(matches!(
            plan_remove_series(&two, "9.9"),
            Action::Nothing(_)
        ));
        assert!(matches!(
            plan_remove_instance(&two, Some("1.2"), "1.1.1"),
            Action::Nothing(_)
        ));
    }
}
