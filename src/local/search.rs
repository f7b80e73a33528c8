//! SearchImageSets: the search criteria (filters, operators, sort) as the model allows them,
//! matching against each image set's latest metadata, and ordering. Candidates come from the
//! data store's search index (the most selective filter); each is then checked in full.

use std::collections::HashSet;

use serde_json::Value;

use super::document;
use super::error::{ApiError, ApiResult};
use super::state::{study_date_key, study_date_time, Datastore, ImageSet, SearchIndex, TextField};
use super::validate;

#[derive(Debug, Clone, PartialEq)]
enum Attr {
    PatientId(String),
    AccessionNumber(String),
    StudyId(String),
    StudyInstanceUid(String),
    SeriesInstanceUid(String),
    CreatedAt(f64),
    UpdatedAt(f64),
    /// `YYYYMMDD` + `HHMMSS[.ffffff]`, compared as one sortable string.
    StudyDateAndTime(String),
    IsPrimary(bool),
}

#[derive(Debug)]
enum Filter {
    Equal(Attr),
    Between(Attr, Attr),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SortField {
    UpdatedAt,
    CreatedAt,
    StudyDateAndTime,
}

#[derive(Debug)]
pub struct Query {
    filters: Vec<Filter>,
    pub sort_field: SortField,
    pub ascending: bool,
    pub sort_given: bool,
}

fn parse_value(v: &Value) -> ApiResult<Attr> {
    let obj = v
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(|| ApiError::validation("Each search value must set exactly one attribute"))?;
    let (k, v) = obj.iter().next().expect("one entry");
    let text = |member: &str| -> ApiResult<String> {
        let s = v
            .as_str()
            .ok_or_else(|| ApiError::validation(format!("{member} must be a string")))?;
        if s.chars().count() > 512 {
            return Err(ApiError::constraint(
                member,
                s,
                "Member must have length less than or equal to 512",
            ));
        }
        Ok(s.to_string())
    };
    let time = |member: &str| -> ApiResult<f64> {
        v.as_f64().ok_or_else(|| {
            ApiError::validation(format!("{member} must be a timestamp (epoch seconds)"))
        })
    };
    Ok(match k.as_str() {
        "DICOMPatientId" => Attr::PatientId(text(k)?),
        "DICOMAccessionNumber" => Attr::AccessionNumber(text(k)?),
        "DICOMStudyId" => Attr::StudyId(text(k)?),
        "DICOMStudyInstanceUID" => {
            let s = text(k)?;
            validate::dicom_uid(k, &s)?;
            Attr::StudyInstanceUid(s)
        }
        "DICOMSeriesInstanceUID" => {
            let s = text(k)?;
            validate::dicom_uid(k, &s)?;
            Attr::SeriesInstanceUid(s)
        }
        "createdAt" => Attr::CreatedAt(time(k)?),
        "updatedAt" => Attr::UpdatedAt(time(k)?),
        "isPrimary" => Attr::IsPrimary(
            v.as_bool()
                .ok_or_else(|| ApiError::validation("isPrimary must be a boolean"))?,
        ),
        "DICOMStudyDateAndTime" => {
            let date = v
                .get("DICOMStudyDate")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::validation("DICOMStudyDateAndTime.DICOMStudyDate is required"))?;
            let t = v.get("DICOMStudyTime").and_then(Value::as_str).unwrap_or("");
            if date.len() > 36 || t.len() > 56 {
                return Err(ApiError::validation("DICOMStudyDate/DICOMStudyTime too long"));
            }
            Attr::StudyDateAndTime(study_date_time(date, t))
        }
        other => {
            return Err(ApiError::validation(format!(
                "Unknown search attribute '{other}'; allowed: DICOMPatientId, DICOMAccessionNumber, DICOMStudyId, DICOMStudyInstanceUID, DICOMSeriesInstanceUID, createdAt, updatedAt, DICOMStudyDateAndTime, isPrimary"
            )))
        }
    })
}

fn is_range_attr(a: &Attr) -> bool {
    matches!(
        a,
        Attr::CreatedAt(_) | Attr::UpdatedAt(_) | Attr::StudyDateAndTime(_)
    )
}

/// Parses the SearchCriteria payload (`{}` or empty = no filters, default sort).
pub fn parse(criteria: &Value) -> ApiResult<Query> {
    let mut q = Query {
        filters: Vec::new(),
        sort_field: SortField::UpdatedAt,
        ascending: false,
        sort_given: false,
    };
    if criteria.is_null() {
        return Ok(q);
    }
    let obj = criteria
        .as_object()
        .ok_or_else(|| ApiError::validation("searchCriteria must be an object"))?;
    if let Some(k) = obj.keys().find(|k| *k != "filters" && *k != "sort") {
        return Err(ApiError::validation(format!(
            "Unexpected key '{k}' in searchCriteria"
        )));
    }
    if let Some(filters) = obj.get("filters") {
        let filters = filters
            .as_array()
            .ok_or_else(|| ApiError::validation("filters must be a list"))?;
        if filters.is_empty() || filters.len() > 2 {
            return Err(ApiError::constraint(
                "searchCriteria.filters",
                &filters.len().to_string(),
                "Member must have length between 1 and 2, inclusive",
            ));
        }
        for f in filters {
            let op = f
                .get("operator")
                .and_then(Value::as_str)
                .ok_or_else(|| ApiError::validation("Each filter needs an operator"))?;
            validate::enum_value(
                "searchCriteria.filters.member.operator",
                op,
                &["EQUAL", "BETWEEN"],
            )?;
            let values = f
                .get("values")
                .and_then(Value::as_array)
                .ok_or_else(|| ApiError::validation("Each filter needs values"))?;
            let values = values
                .iter()
                .map(parse_value)
                .collect::<ApiResult<Vec<_>>>()?;
            q.filters.push(match (op, values.as_slice()) {
                ("EQUAL", [a]) => Filter::Equal(a.clone()),
                ("BETWEEN", [a, b])
                    if is_range_attr(a) && std::mem::discriminant(a) == std::mem::discriminant(b) =>
                {
                    Filter::Between(a.clone(), b.clone())
                }
                ("BETWEEN", _) => {
                    return Err(ApiError::validation(
                        "BETWEEN takes two values of the same attribute (createdAt, updatedAt or DICOMStudyDateAndTime): lower bound, then upper bound",
                    ))
                }
                _ => return Err(ApiError::validation("EQUAL takes exactly one value")),
            });
        }
    }
    if let Some(sort) = obj.get("sort") {
        let order = sort
            .get("sortOrder")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::validation("sort.sortOrder is required"))?;
        validate::enum_value("searchCriteria.sort.sortOrder", order, &["ASC", "DESC"])?;
        let field = sort
            .get("sortField")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::validation("sort.sortField is required"))?;
        validate::enum_value(
            "searchCriteria.sort.sortField",
            field,
            &["updatedAt", "createdAt", "DICOMStudyDateAndTime"],
        )?;
        q.sort_field = match field {
            "createdAt" => SortField::CreatedAt,
            "DICOMStudyDateAndTime" => SortField::StudyDateAndTime,
            _ => SortField::UpdatedAt,
        };
        q.ascending = order == "ASC";
        q.sort_given = true;
    }
    Ok(q)
}

fn attr_of(set: &ImageSet, like: &Attr) -> Option<Attr> {
    let doc = &set.latest().document;
    let study = document::study(doc);
    let text = |a: Option<&serde_json::Map<String, Value>>, k: &str| {
        document::text(a, k).map(str::to_owned)
    };
    Some(match like {
        Attr::PatientId(_) => Attr::PatientId(text(document::patient(doc), "PatientID")?),
        Attr::AccessionNumber(_) => Attr::AccessionNumber(text(study, "AccessionNumber")?),
        Attr::StudyId(_) => Attr::StudyId(text(study, "StudyID")?),
        Attr::StudyInstanceUid(_) => Attr::StudyInstanceUid(text(study, "StudyInstanceUID")?),
        Attr::SeriesInstanceUid(want) => {
            // An image set matches a series UID if it holds that series.
            let has = document::series_map(doc).is_some_and(|m| m.contains_key(want));
            return has.then(|| like.clone());
        }
        Attr::CreatedAt(_) => Attr::CreatedAt(set.created_at),
        Attr::UpdatedAt(_) => Attr::UpdatedAt(set.latest().updated_at),
        Attr::StudyDateAndTime(_) => Attr::StudyDateAndTime(study_date_key(set)?),
        Attr::IsPrimary(_) => Attr::IsPrimary(set.is_primary),
    })
}

fn cmp_attr(a: &Attr, b: &Attr) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Attr::CreatedAt(x), Attr::CreatedAt(y)) | (Attr::UpdatedAt(x), Attr::UpdatedAt(y)) => {
            x.partial_cmp(y)
        }
        (Attr::StudyDateAndTime(x), Attr::StudyDateAndTime(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn matches(set: &ImageSet, f: &Filter) -> bool {
    match f {
        Filter::Equal(want) => match (attr_of(set, want), want) {
            // An EQUAL on a study date matches the date alone when no time was given.
            (Some(Attr::StudyDateAndTime(have)), Attr::StudyDateAndTime(w)) => {
                have == *w || (w.ends_with("000000") && have.starts_with(&w[..w.len() - 6]))
            }
            (Some(have), _) => have == *want,
            (None, _) => false,
        },
        Filter::Between(lo, hi) => attr_of(set, lo).is_some_and(|v| {
            cmp_attr(&v, lo).is_some_and(|o| o.is_ge())
                && cmp_attr(&v, hi).is_some_and(|o| o.is_le())
        }),
    }
}

/// Image sets of the index that may match `f` (a superset of those that do).
fn candidates<'a>(index: &'a SearchIndex, f: &Filter) -> HashSet<&'a str> {
    let text = |field, v: &str| index.text_equal(field, v);
    match f {
        Filter::Equal(a) => match a {
            Attr::PatientId(v) => text(TextField::PatientId, v),
            Attr::AccessionNumber(v) => text(TextField::AccessionNumber, v),
            Attr::StudyId(v) => text(TextField::StudyId, v),
            Attr::StudyInstanceUid(v) => text(TextField::StudyInstanceUid, v),
            Attr::SeriesInstanceUid(v) => text(TextField::SeriesInstanceUid, v),
            Attr::CreatedAt(t) => index.created_between(*t, *t),
            Attr::UpdatedAt(t) => index.updated_between(*t, *t),
            // A date alone ("...000000") matches any time that day (see `matches`).
            Attr::StudyDateAndTime(w) => {
                index.study_date_time_prefix(w.strip_suffix("000000").unwrap_or(w))
            }
            Attr::IsPrimary(p) => index.primary(*p),
        },
        Filter::Between(Attr::CreatedAt(lo), Attr::CreatedAt(hi)) => {
            index.created_between(*lo, *hi)
        }
        Filter::Between(Attr::UpdatedAt(lo), Attr::UpdatedAt(hi)) => {
            index.updated_between(*lo, *hi)
        }
        Filter::Between(Attr::StudyDateAndTime(lo), Attr::StudyDateAndTime(hi)) => {
            index.study_date_time_between(lo, hi)
        }
        // `parse` admits no other BETWEEN.
        Filter::Between(..) => index.all(),
    }
}

/// Orders hits as the query asks; ties by image set ID.
fn order<'a>(q: &Query, hits: Vec<&'a ImageSet>) -> Vec<&'a ImageSet> {
    let by_study = q.sort_field == SortField::StudyDateAndTime;
    let mut keyed: Vec<(Option<String>, &ImageSet)> = hits
        .into_iter()
        .map(|s| (by_study.then(|| study_date_key(s)).flatten(), s))
        .collect();
    keyed.sort_by(|(ka, a), (kb, b)| {
        let o = match q.sort_field {
            SortField::UpdatedAt => a.latest().updated_at.total_cmp(&b.latest().updated_at),
            SortField::CreatedAt => a.created_at.total_cmp(&b.created_at),
            SortField::StudyDateAndTime => ka.cmp(kb),
        };
        let o = if q.ascending { o } else { o.reverse() };
        o.then_with(|| a.id.cmp(&b.id))
    });
    keyed.into_iter().map(|(_, s)| s).collect()
}

/// Matching image sets of `ds`, ordered as the query asks.
pub fn run<'a>(ds: &'a Datastore, q: &Query) -> Vec<&'a ImageSet> {
    let hits: Vec<&ImageSet> = match q
        .filters
        .iter()
        .map(|f| candidates(ds.search_index(), f))
        .min_by_key(HashSet::len)
    {
        None => ds.image_sets().values().collect(),
        Some(mut ids) => {
            // Written since the last commit: not in the index yet, so checked directly.
            ids.extend(ds.uncommitted_image_sets());
            ids.into_iter()
                .filter_map(|id| ds.image_sets().get(id))
                .filter(|s| q.filters.iter().all(|f| matches(s, f)))
                .collect()
        }
    };
    order(q, hits)
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    use serde_json::json;

    use super::*;
    use crate::local::state::{
        AccessTime, Change, CopyRequest, DatastoreInfo, DatastoreStatus, ImageSetState,
        ImageSetVersion, MetadataUpdate, StorageTier, Store, WorkflowStatus,
    };

    const DS: &str = "0123456789abcdef0123456789abcdef";
    const TIMES: [&str; 5] = ["", "10", "101500", "101500.5", "23:59:59"];

    /// The reference: every image set checked against every filter.
    fn scan<'a>(ds: &'a Datastore, q: &Query) -> Vec<&'a ImageSet> {
        let hits = ds
            .image_sets()
            .values()
            .filter(|s| q.filters.iter().all(|f| matches(s, f)))
            .collect();
        order(q, hits)
    }

    fn pick<'a>(rng: &mut StdRng, from: &[&'a str]) -> &'a str {
        from[rng.random_range(0..from.len())]
    }

    fn date(rng: &mut StdRng) -> String {
        format!("2024010{}", rng.random_range(1..5))
    }

    fn document(rng: &mut StdRng) -> Value {
        let mut doc = document::empty(DS, "");
        if rng.random_bool(0.9) {
            let p = format!("P{}", rng.random_range(0..6));
            document::patient_mut(&mut doc).insert("PatientID".into(), json!(p));
        }
        let study = document::study_mut(&mut doc);
        let k = rng.random_range(0..4);
        study.insert("StudyInstanceUID".into(), json!(format!("1.2.{k}")));
        study.insert(
            "AccessionNumber".into(),
            json!(format!("A{}", rng.random_range(0..4))),
        );
        study.insert(
            "StudyID".into(),
            json!(format!("S{}", rng.random_range(0..4))),
        );
        if rng.random_bool(0.8) {
            study.insert("StudyDate".into(), json!(date(rng)));
            study.insert("StudyTime".into(), json!(pick(rng, &TIMES)));
        }
        let series = document::series_map_mut(&mut doc);
        for j in 0..rng.random_range(1..3) {
            let uid = format!("1.2.{k}.{}", j + rng.random_range(0..2));
            series.insert(
                uid.clone(),
                json!({"DICOM": {"SeriesInstanceUID": uid}, "Instances": {}}),
            );
        }
        doc
    }

    fn time(rng: &mut StdRng) -> f64 {
        1000.0 + f64::from(rng.random_range(0..20u32)) * 0.5
    }

    fn image_set(rng: &mut StdRng, n: usize) -> ImageSet {
        let created = time(rng);
        let mut doc = document(rng);
        let id = format!("{n:032x}");
        document::set_ids(&mut doc, DS, &id);
        ImageSet {
            id,
            created_at: created,
            last_accessed_at: AccessTime::default(),
            state: ImageSetState::Active,
            is_primary: rng.random_bool(0.7),
            storage_tier: StorageTier::FrequentAccess,
            versions: vec![ImageSetVersion {
                version_id: 1,
                created_at: created,
                updated_at: created + f64::from(rng.random_range(0..4u32)),
                workflow_status: WorkflowStatus::Imported,
                message: None,
                forced: false,
                document: doc,
            }],
            pending: None,
        }
    }

    fn store(rng: &mut StdRng, n: usize) -> Store {
        let mut store = Store::default();
        store.apply(Change::Datastore(DatastoreInfo {
            id: DS.into(),
            name: "index".into(),
            status: DatastoreStatus::Active,
            kms_key_arn: None,
            lambda_authorizer_arn: None,
            lossless_storage_format: "JPEG_2000_LOSSLESS".into(),
            created_at: 0.0,
            updated_at: 0.0,
            client_token: "t".into(),
            settles_at: 0.0,
        }));
        for i in 0..n {
            let set = image_set(rng, i);
            store.apply(Change::ImageSet {
                datastore: DS.into(),
                set,
            });
        }
        store
    }

    /// A random filter, mostly with values the store holds.
    fn filter(rng: &mut StdRng, ds: &Datastore) -> Filter {
        let ids: Vec<&String> = ds.image_sets().keys().collect();
        let some = ids
            .get(rng.random_range(0..ids.len().max(1)))
            .and_then(|id| ds.image_sets().get(*id));
        let t = |rng: &mut StdRng| match some {
            Some(s) if rng.random_bool(0.5) => s.latest().updated_at,
            _ => time(rng),
        };
        let sdt = |rng: &mut StdRng| {
            let d = date(rng);
            study_date_time(&d, pick(rng, &TIMES))
        };
        match rng.random_range(0..12) {
            0 => Filter::Equal(Attr::PatientId(format!("P{}", rng.random_range(0..7)))),
            1 => Filter::Equal(Attr::AccessionNumber(format!(
                "A{}",
                rng.random_range(0..5)
            ))),
            2 => Filter::Equal(Attr::StudyId(format!("S{}", rng.random_range(0..5)))),
            3 => Filter::Equal(Attr::StudyInstanceUid(format!(
                "1.2.{}",
                rng.random_range(0..5)
            ))),
            4 => Filter::Equal(Attr::SeriesInstanceUid(format!(
                "1.2.{}.{}",
                rng.random_range(0..4),
                rng.random_range(0..3)
            ))),
            5 => Filter::Equal(Attr::IsPrimary(rng.random_bool(0.5))),
            6 => Filter::Equal(Attr::CreatedAt(time(rng))),
            7 => Filter::Equal(Attr::UpdatedAt(t(rng))),
            8 => Filter::Equal(Attr::StudyDateAndTime(sdt(rng))),
            9 => Filter::Between(Attr::CreatedAt(time(rng)), Attr::CreatedAt(time(rng))),
            10 => Filter::Between(Attr::UpdatedAt(t(rng)), Attr::UpdatedAt(t(rng) + 2.0)),
            _ => Filter::Between(
                Attr::StudyDateAndTime(sdt(rng)),
                Attr::StudyDateAndTime(sdt(rng)),
            ),
        }
    }

    fn query(rng: &mut StdRng, ds: &Datastore) -> Query {
        let filters = (0..rng.random_range(0..3))
            .map(|_| filter(rng, ds))
            .collect();
        let sort_field = match rng.random_range(0..3) {
            0 => SortField::UpdatedAt,
            1 => SortField::CreatedAt,
            _ => SortField::StudyDateAndTime,
        };
        Query {
            filters,
            sort_field,
            ascending: rng.random_bool(0.5),
            sort_given: true,
        }
    }

    fn ids(hits: Vec<&ImageSet>) -> Vec<String> {
        hits.into_iter().map(|s| s.id.clone()).collect()
    }

    /// The lookups writes use (study siblings, primary of a series) agree with a scan.
    fn lookups_agree(ds: &Datastore) {
        for k in 0..4 {
            for (field, value) in [
                (TextField::StudyInstanceUid, format!("1.2.{k}")),
                (TextField::SeriesInstanceUid, format!("1.2.{k}.1")),
            ] {
                let holds = |s: &ImageSet| {
                    let doc = &s.latest().document;
                    match field {
                        TextField::SeriesInstanceUid => {
                            document::series_map(doc).is_some_and(|m| m.contains_key(&value))
                        }
                        _ => {
                            document::text(document::study(doc), "StudyInstanceUID")
                                == Some(value.as_str())
                        }
                    }
                };
                let got: Vec<&ImageSet> = ds
                    .image_sets_maybe_with(field, &value)
                    .into_iter()
                    .filter(|s| holds(s))
                    .collect();
                let want: Vec<&ImageSet> = ds.image_sets().values().filter(|s| holds(s)).collect();
                assert_eq!(ids(got), ids(want), "{field:?} {value}");
            }
        }
    }

    /// Runs `n` random queries through the index and the scan; returns how many had hits.
    fn agree(rng: &mut StdRng, store: &Store, n: usize) -> usize {
        let ds = store.live_datastore(DS).unwrap();
        lookups_agree(ds);
        let mut nonempty = 0;
        for _ in 0..n {
            let q = query(rng, ds);
            let expected = ids(scan(ds, &q));
            assert_eq!(ids(run(ds, &q)), expected, "query {q:?}");
            nonempty += usize::from(!expected.is_empty());
        }
        nonempty
    }

    /// One random write through the store's own operations; true if it was applied.
    fn write(rng: &mut StdRng, store: &mut Store) -> bool {
        let ds = store.live_datastore(DS).unwrap();
        let all: Vec<(String, String)> = ds
            .image_sets()
            .values()
            .map(|s| (s.id.clone(), s.latest_version_id().to_string()))
            .collect();
        if all.is_empty() {
            return false;
        }
        let (id, latest) = all[rng.random_range(0..all.len())].clone();
        let (other, other_latest) = all[rng.random_range(0..all.len())].clone();
        let outcome = match rng.random_range(0..5) {
            0 => {
                let u = json!({"SchemaVersion": "1.1",
                    "Patient": {"DICOM": {"PatientID": format!("P{}", rng.random_range(0..6))}},
                    "Study": {"DICOM": {"StudyDate": date(rng), "AccessionNumber": "A9"}}});
                let update = MetadataUpdate::Dicom {
                    removable: None,
                    updatable: Some(u),
                };
                store
                    .update_image_set(DS, &id, &latest, true, false, update)
                    .map(|_| ())
            }
            1 => store
                .update_image_set(
                    DS,
                    &id,
                    &latest,
                    false,
                    false,
                    MetadataUpdate::Revert("1".into()),
                )
                .map(|_| ()),
            2 | 3 => store
                .copy_image_set(
                    DS,
                    &id,
                    CopyRequest {
                        source_latest_version: latest,
                        copiable: None,
                        destination: rng.random_bool(0.5).then_some((other, other_latest)),
                        force: true,
                        promote_to_primary: rng.random_bool(0.5),
                    },
                )
                .map(|_| ()),
            _ => store.delete_image_set(DS, &id),
        };
        outcome.is_ok()
    }

    #[test]
    fn indexed_search_matches_a_full_scan_through_writes_and_replay() {
        let mut rng = StdRng::seed_from_u64(8);
        let mut store = store(&mut rng, 300);
        let mut nonempty = agree(&mut rng, &store, 400);
        let mut applied = 0;
        for round in 0..60 {
            for _ in 0..rng.random_range(1..4) {
                applied += usize::from(write(&mut rng, &mut store));
            }
            // Every other round searches before the writes commit (not yet indexed).
            if round % 2 == 0 {
                let _ = store.take_changes();
            }
            nonempty += agree(&mut rng, &store, 30);
        }
        let _ = store.take_changes();
        assert!(applied > 60, "only {applied} writes applied");
        assert!(nonempty > 500, "only {nonempty} queries had hits");

        // The index rebuilt from a snapshot gives the same answers.
        let mut replayed = Store::default();
        for record in store.snapshot_records() {
            let changes: Vec<Change> = serde_json::from_slice(&record).unwrap();
            changes.into_iter().for_each(|c| replayed.apply(c));
        }
        let (a, b) = (
            store.live_datastore(DS).unwrap(),
            replayed.live_datastore(DS).unwrap(),
        );
        assert_eq!(a.search_index().indexed(), a.image_sets().len());
        assert_eq!(b.search_index().indexed(), a.image_sets().len());
        for _ in 0..300 {
            let q = query(&mut rng, a);
            assert_eq!(ids(run(b, &q)), ids(scan(a, &q)), "query {q:?}");
        }
    }
}
