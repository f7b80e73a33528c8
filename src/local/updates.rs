//! UpdateImageSetMetadata and CopyImageSet semantics on metadata documents: removable and
//! updatable attribute documents applied level by level with the service's constraints
//! (AWS HealthImaging Developer Guide, "DICOM metadata constraints"), and copy selection / merge.

use serde_json::{Map, Value};

use super::document::{self, Object};
use super::error::{ApiError, ApiResult};
use crate::dicom::levels::Level;
use crate::dicom::update_rules;

/// The constraints on one attribute placed at `level` (shared with the workflows' checks).
fn check_attribute(level: Level, key: &str, value: &Value, force: bool) -> ApiResult<()> {
    match update_rules::refusal(level, key, value, force) {
        Some(why) => Err(invalid(why)),
        None => Ok(()),
    }
}

fn invalid(msg: String) -> ApiError {
    ApiError::validation(msg)
}

fn as_object<'a>(v: &'a Value, what: &str) -> ApiResult<&'a Object> {
    v.as_object()
        .ok_or_else(|| invalid(format!("{what} must be a JSON object")))
}

fn allowed_keys(obj: &Object, allowed: &[&str], what: &str) -> ApiResult<()> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(invalid(format!("Unexpected key '{k}' in {what}"))),
        None => Ok(()),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Update,
    Remove,
}

/// How one update document changes attributes.
#[derive(Clone, Copy)]
struct Edit {
    mode: Mode,
    force: bool,
}

impl Edit {
    /// Sets, or removes, the attributes of `attrs` in `target`, each within the constraints of
    /// `level`. A removal may give the value to remove; it has to be the current one.
    fn attrs(self, target: &mut Object, attrs: &Value, level: Level, what: &str) -> ApiResult<()> {
        for (k, v) in as_object(attrs, what)? {
            if self.mode == Mode::Update {
                check_attribute(level, k, v, self.force)?;
                target.insert(k.clone(), v.clone());
                continue;
            }
            check_attribute(level, k, &Value::Null, self.force)?;
            match target.get(k) {
                None => {
                    return Err(invalid(format!(
                        "Cannot remove {k} from {what}: attribute is not present"
                    )))
                }
                Some(current) if !v.is_null() && current != v => {
                    return Err(invalid(format!(
                        "Cannot remove {k} from {what}: the given value does not match the current value"
                    )))
                }
                _ => {
                    target.remove(k);
                }
            }
        }
        Ok(())
    }

    /// Applies one series or instance entry of the document to the stored entry `key` of
    /// `parent`: an empty entry in a removal removes the stored one, otherwise its DICOM
    /// attributes change. Returns the stored entry when it stays.
    fn entry<'a>(
        self,
        parent: &'a mut Object,
        key: &str,
        change: &Object,
        level: Level,
        what: &str,
        missing: String,
    ) -> ApiResult<Option<&'a mut Value>> {
        if self.mode == Mode::Remove && change.is_empty() {
            return parent
                .remove(key)
                .map(|_| None)
                .ok_or_else(|| invalid(missing));
        }
        let entry = parent.get_mut(key).ok_or_else(|| invalid(missing))?;
        if let Some(d) = change.get("DICOM") {
            self.attrs(dicom_of(entry, what)?, d, level, what)?;
        }
        Ok(Some(entry))
    }
}

/// The `DICOM` attributes of a stored series or instance entry (created empty when absent).
fn dicom_of<'a>(entry: &'a mut Value, what: &str) -> ApiResult<&'a mut Object> {
    entry
        .as_object_mut()
        .map(|t| {
            t.entry("DICOM")
                .or_insert_with(|| Value::Object(Map::new()))
        })
        .and_then(Value::as_object_mut)
        .ok_or_else(|| ApiError::internal(format!("malformed {what}")))
}

/// Applies one updatable/removable document (already JSON) to `doc`.
fn apply(doc: &mut Value, change: &Value, edit: Edit) -> ApiResult<()> {
    let change = as_object(change, "the update document")?;
    allowed_keys(
        change,
        &["SchemaVersion", "Patient", "Study"],
        "the update document",
    )?;
    if let Some(p) = change.get("Patient") {
        let p = as_object(p, "Patient")?;
        allowed_keys(p, &["DICOM"], "Patient")?;
        if let Some(d) = p.get("DICOM") {
            edit.attrs(document::patient_mut(doc), d, Level::Patient, "Patient")?;
        }
    }
    let Some(study) = change.get("Study") else {
        return Ok(());
    };
    let study = as_object(study, "Study")?;
    allowed_keys(study, &["DICOM", "Series"], "Study")?;
    if let Some(d) = study.get("DICOM") {
        edit.attrs(document::study_mut(doc), d, Level::Study, "Study")?;
    }
    let Some(series) = study.get("Series") else {
        return Ok(());
    };
    for (series_uid, s) in as_object(series, "Study.Series")? {
        let what = format!("series {series_uid}");
        let s = as_object(s, &what)?;
        allowed_keys(s, &["DICOM", "Instances"], &what)?;
        let missing = format!("Series {series_uid} does not exist in this image set");
        let all_series = document::series_map_mut(doc);
        let Some(target) = edit.entry(all_series, series_uid, s, Level::Series, &what, missing)?
        else {
            continue;
        };
        let Some(instances) = s.get("Instances") else {
            continue;
        };
        for (sop, inst) in as_object(instances, "Instances")? {
            let what = format!("instance {sop}");
            let inst = as_object(inst, &what)?;
            allowed_keys(inst, &["DICOM"], &what)?;
            let missing = format!("Instance {sop} does not exist in series {series_uid}");
            let insts = target
                .get_mut("Instances")
                .and_then(Value::as_object_mut)
                .ok_or_else(|| invalid(missing.clone()))?;
            edit.entry(insts, sop, inst, Level::Instance, &what, missing)?;
        }
    }
    Ok(())
}

/// Series and instance keys follow their UIDs; a forced UID update re-keys them.
fn rekey(doc: &mut Value) {
    let series = document::series_map_mut(doc);
    let old = std::mem::take(series);
    for (uid, mut s) in old {
        let new_uid = s
            .pointer("/DICOM/SeriesInstanceUID")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or(uid);
        if let Some(insts) = s.get_mut("Instances").and_then(Value::as_object_mut) {
            let old_insts = std::mem::take(insts);
            for (sop, inst) in old_insts {
                let new_sop = inst
                    .pointer("/DICOM/SOPInstanceUID")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or(sop);
                insts.insert(new_sop, inst);
            }
        }
        series.insert(new_uid, s);
    }
}

/// Applies a DICOMUpdates pair: removals first, then updates. All-or-nothing: `doc` is only
/// changed when every part is valid.
pub fn apply_dicom_updates(
    doc: &Value,
    removable: Option<&Value>,
    updatable: Option<&Value>,
    force: bool,
) -> ApiResult<Value> {
    let mut next = doc.clone();
    if let Some(r) = removable {
        apply(
            &mut next,
            r,
            Edit {
                mode: Mode::Remove,
                force,
            },
        )?;
    }
    if let Some(u) = updatable {
        apply(
            &mut next,
            u,
            Edit {
                mode: Mode::Update,
                force,
            },
        )?;
    }
    if force {
        rekey(&mut next);
    }
    Ok(next)
}

/// The part of `source` that `copiable` selects (`None` = everything):
/// `{"SchemaVersion":"1.1","Study":{"Series":{"<uid>":{"Instances":{"<sop>":{}}}}}}`;
/// a series without `Instances` (or with an empty map) selects the whole series.
pub fn select_for_copy(source: &Value, copiable: Option<&Value>) -> ApiResult<Value> {
    let Some(sel) = copiable else {
        return Ok(source.clone());
    };
    let sel = as_object(sel, "copiableAttributes")?;
    allowed_keys(sel, &["SchemaVersion", "Study"], "copiableAttributes")?;
    let wanted = sel
        .get("Study")
        .and_then(|s| s.get("Series"))
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("copiableAttributes must list Study.Series".into()))?;
    let mut out = source.clone();
    let src_series = document::series_map(source).cloned().unwrap_or_default();
    let out_series = document::series_map_mut(&mut out);
    out_series.clear();
    for (uid, want) in wanted {
        let Some(series) = src_series.get(uid) else {
            return Err(invalid(format!(
                "Series {uid} does not exist in the source image set"
            )));
        };
        let mut series = series.clone();
        let want_insts = want.get("Instances").and_then(Value::as_object);
        if let Some(want_insts) = want_insts.filter(|m| !m.is_empty()) {
            let insts = series
                .get_mut("Instances")
                .and_then(Value::as_object_mut)
                .ok_or_else(|| invalid(format!("Series {uid} has no instances")))?;
            for sop in want_insts.keys() {
                if !insts.contains_key(sop) {
                    return Err(invalid(format!(
                        "Instance {sop} does not exist in series {uid} of the source image set"
                    )));
                }
            }
            insts.retain(|sop, _| want_insts.contains_key(sop));
        }
        out_series.insert(uid.clone(), series);
    }
    Ok(out)
}

/// Merges selected series/instances into `dest`. Without `force`, the Patient and Study
/// identity of both must agree.
pub fn merge_into(dest: &Value, selected: &Value, force: bool) -> ApiResult<Value> {
    if !force {
        for (what, a, b) in [
            (
                "PatientID",
                document::patient(dest),
                document::patient(selected),
            ),
            (
                "StudyInstanceUID",
                document::study(dest),
                document::study(selected),
            ),
        ] {
            let (x, y) = (document::text(a, what), document::text(b, what));
            if x != y {
                return Err(ApiError::conflict(format!(
                    "Source and destination differ in {what}; use force=true to copy anyway"
                )));
            }
        }
    }
    let mut out = dest.clone();
    let incoming = document::series_map(selected).cloned().unwrap_or_default();
    let series = document::series_map_mut(&mut out);
    for (uid, s) in incoming {
        match series.get_mut(&uid).and_then(Value::as_object_mut) {
            None => {
                series.insert(uid, s);
            }
            Some(existing) => {
                let insts = existing
                    .entry("Instances")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let (Some(dst), Some(src)) = (
                    insts.as_object_mut(),
                    s.get("Instances").and_then(Value::as_object),
                ) {
                    for (sop, inst) in src {
                        dst.insert(sop.clone(), inst.clone());
                    }
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "SchemaVersion": "1.1", "DatastoreID": "d", "ImageSetID": "i",
            "Patient": {"DICOM": {"PatientID": "P1", "PatientName": "DOE^JANE"}},
            "Study": {"DICOM": {"StudyInstanceUID": "1.2", "StudyDescription": "CT"},
              "Series": {
                "1.2.3": {"DICOM": {"SeriesInstanceUID": "1.2.3", "Modality": "CT"},
                  "Instances": {"1.2.3.1": {"DICOM": {"SOPInstanceUID": "1.2.3.1", "InstanceNumber": "1"}},
                                "1.2.3.2": {"DICOM": {"SOPInstanceUID": "1.2.3.2", "InstanceNumber": "2"}}}},
                "1.2.4": {"DICOM": {"SeriesInstanceUID": "1.2.4"}, "Instances": {}}}}
        })
    }

    #[test]
    fn updates_patient_and_study_levels() {
        let u = json!({"SchemaVersion": "1.1", "Patient": {"DICOM": {"PatientName": "DOE^JOHN"}},
                       "Study": {"DICOM": {"StudyDescription": "CT CHEST"}}});
        let out = apply_dicom_updates(&doc(), None, Some(&u), false).unwrap();
        assert_eq!(out["Patient"]["DICOM"]["PatientName"], "DOE^JOHN");
        assert_eq!(out["Study"]["DICOM"]["StudyDescription"], "CT CHEST");
    }

    #[test]
    fn removes_series_and_instances() {
        let r =
            json!({"Study": {"Series": {"1.2.4": {}, "1.2.3": {"Instances": {"1.2.3.1": {}}}}}});
        let out = apply_dicom_updates(&doc(), Some(&r), None, false).unwrap();
        assert!(out["Study"]["Series"].get("1.2.4").is_none());
        let insts = out["Study"]["Series"]["1.2.3"]["Instances"]
            .as_object()
            .unwrap();
        assert_eq!(insts.keys().collect::<Vec<_>>(), vec!["1.2.3.2"]);
    }

    #[test]
    fn constraints() {
        let d = doc();
        let uid = json!({"Study": {"DICOM": {"StudyInstanceUID": "9.9"}}});
        assert!(apply_dicom_updates(&d, None, Some(&uid), false).is_err());
        assert_eq!(
            apply_dicom_updates(&d, None, Some(&uid), true).unwrap()["Study"]["DICOM"]
                ["StudyInstanceUID"],
            "9.9"
        );
        let cross = json!({"Study": {"DICOM": {"PatientName": "X"}}});
        assert!(apply_dicom_updates(&d, None, Some(&cross), true).is_err());
        let missing = json!({"Study": {"Series": {"7.7": {"DICOM": {"SeriesDescription": "x"}}}}});
        assert!(apply_dicom_updates(&d, None, Some(&missing), false).is_err());
        let multi = json!({"Study": {"Series": {"1.2.3": {"Instances": {"1.2.3.1": {"DICOM": {"ImageType": ["A", "B"]}}}}}}});
        assert!(apply_dicom_updates(&d, None, Some(&multi), false).is_err());
        let wrong_value = json!({"Patient": {"DICOM": {"PatientName": "SOMEONE^ELSE"}}});
        assert!(apply_dicom_updates(&d, Some(&wrong_value), None, false).is_err());
        let bad_key = json!({"Foo": {}});
        assert!(apply_dicom_updates(&d, None, Some(&bad_key), false).is_err());
    }

    #[test]
    fn forced_series_uid_update_rekeys() {
        let u = json!({"Study": {"Series": {"1.2.3": {"DICOM": {"SeriesInstanceUID": "1.2.9"}}}}});
        let out = apply_dicom_updates(&doc(), None, Some(&u), true).unwrap();
        assert!(out["Study"]["Series"].get("1.2.9").is_some());
        assert!(out["Study"]["Series"].get("1.2.3").is_none());
    }

    #[test]
    fn copy_selects_and_merges() {
        let sel = json!({"SchemaVersion": "1.1", "Study": {"Series": {"1.2.3": {"Instances": {"1.2.3.2": {}}}}}});
        let part = select_for_copy(&doc(), Some(&sel)).unwrap();
        assert_eq!(document::instance_count(&part), 1);
        let bad = json!({"Study": {"Series": {"5.5": {}}}});
        assert!(select_for_copy(&doc(), Some(&bad)).is_err());
        let mut dest = doc();
        document::series_map_mut(&mut dest).remove("1.2.3");
        let merged = merge_into(&dest, &part, false).unwrap();
        assert_eq!(document::instance_count(&merged), 1);
        let mut other = doc();
        document::patient_mut(&mut other).insert("PatientID".into(), json!("P2"));
        assert!(merge_into(&other, &part, false).is_err());
        assert!(merge_into(&other, &part, true).is_ok());
    }
}
