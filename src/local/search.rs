//! SearchImageSets: the search criteria (filters, operators, sort) as the model allows them,
//! matching against each image set's latest metadata, and ordering.

use serde_json::Value;

use super::document;
use super::error::{ApiError, ApiResult};
use super::state::{Datastore, ImageSet};
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

fn study_date_time(date: &str, time: &str) -> String {
    // Pad the time so "10" and "101500.5" order correctly against each other.
    let mut t = time.replace(':', "");
    while t.len() < 6 {
        t.push('0');
    }
    format!("{date}{t}")
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

fn study_date_key(set: &ImageSet) -> Option<String> {
    let study = document::study(&set.latest().document);
    let date = document::text(study, "StudyDate")?;
    Some(study_date_time(
        date,
        document::text(study, "StudyTime").unwrap_or(""),
    ))
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

/// Matching image sets of `ds`, ordered as the query asks.
pub fn run<'a>(ds: &'a Datastore, q: &Query) -> Vec<&'a ImageSet> {
    let mut hits: Vec<&ImageSet> = ds
        .image_sets()
        .values()
        .filter(|s| q.filters.iter().all(|f| matches(s, f)))
        .collect();
    hits.sort_by(|a, b| {
        let o = match q.sort_field {
            SortField::UpdatedAt => a.latest().updated_at.total_cmp(&b.latest().updated_at),
            SortField::CreatedAt => a.created_at.total_cmp(&b.created_at),
            SortField::StudyDateAndTime => study_date_key(a).cmp(&study_date_key(b)),
        };
        let o = if q.ascending { o } else { o.reverse() };
        o.then_with(|| a.id.cmp(&b.id))
    });
    hits
}
