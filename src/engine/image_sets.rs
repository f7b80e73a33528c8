//! Image set reads and deletion: search_image_sets, get_image_set, list_image_set_versions,
//! delete_image_set. Search criteria arrive as the API's JSON shape and are checked here.

use aws_sdk_medicalimaging::primitives::DateTime;
use aws_sdk_medicalimaging::types::{
    DicomStudyDateAndTime, DicomTags, ImageSetProperties, ImageSetsMetadataSummary, Operator,
    SearchByAttributeValue, SearchCriteria, SearchFilter, Sort, SortField, SortOrder,
};
use aws_smithy_types::date_time::Format;
use serde_json::{json, Value};

use super::convert::{name, Obj};
use super::error::{excerpt, from_sdk, EngineError, EngineResult};
use super::validate;
use super::{client, Page};
use crate::model::constraints::{self, Shape};

pub fn dicom_tags(t: &DicomTags) -> Value {
    Obj::new()
        .opt("dicom_patient_id", t.dicom_patient_id())
        .opt("dicom_patient_name", t.dicom_patient_name())
        .opt("dicom_patient_birth_date", t.dicom_patient_birth_date())
        .opt("dicom_patient_sex", t.dicom_patient_sex())
        .opt("dicom_study_instance_uid", t.dicom_study_instance_uid())
        .opt("dicom_study_id", t.dicom_study_id())
        .opt("dicom_study_description", t.dicom_study_description())
        .opt("dicom_accession_number", t.dicom_accession_number())
        .opt("dicom_study_date", t.dicom_study_date())
        .opt("dicom_study_time", t.dicom_study_time())
        .put(
            "dicom_number_of_study_related_series",
            t.dicom_number_of_study_related_series(),
        )
        .put(
            "dicom_number_of_study_related_instances",
            t.dicom_number_of_study_related_instances(),
        )
        .opt("dicom_series_instance_uid", t.dicom_series_instance_uid())
        .opt("dicom_series_modality", t.dicom_series_modality())
        .opt("dicom_series_body_part", t.dicom_series_body_part())
        .opt("dicom_series_number", t.dicom_series_number())
        .done()
}

pub fn summary(s: &ImageSetsMetadataSummary) -> Value {
    Obj::new()
        .put("image_set_id", s.image_set_id())
        .opt("version", s.version())
        .opt("is_primary", s.is_primary())
        .opt("storage_tier", name(s.storage_tier()))
        .time("created_at", s.created_at())
        .time("updated_at", s.updated_at())
        .time("last_accessed_at", s.last_accessed_at())
        .opt("dicom_tags", s.dicom_tags().map(dicom_tags))
        .done()
}

fn version_properties(p: &ImageSetProperties) -> Value {
    Obj::new()
        .put("image_set_id", p.image_set_id())
        .put("version_id", p.version_id())
        .put("image_set_state", p.image_set_state().as_str())
        .opt(
            "image_set_workflow_status",
            name(p.image_set_workflow_status()),
        )
        .opt("is_primary", p.is_primary())
        .time("created_at", p.created_at())
        .time("updated_at", p.updated_at())
        .time("deleted_at", p.deleted_at())
        .opt("message", p.message())
        .opt(
            "overrides",
            p.overrides().map(|o| json!({"forced": o.forced()})),
        )
        .done()
}

fn bad_criteria(rule: impl std::fmt::Display) -> EngineError {
    EngineError::invalid("search_criteria", rule)
}

/// A timestamp given as epoch seconds or an ISO-8601 string.
fn timestamp(v: &Value, key: &str) -> EngineResult<DateTime> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .map(DateTime::from_secs_f64)
            .ok_or_else(|| bad_criteria(format!("{key} must be a number of epoch seconds"))),
        Value::String(s) => DateTime::from_str(s, Format::DateTime).map_err(|_| {
            bad_criteria(format!(
                "{key} {} is not an ISO-8601 date-time such as 2024-01-31T00:00:00Z",
                excerpt(s)
            ))
        }),
        _ => Err(bad_criteria(format!(
            "{key} must be epoch seconds or an ISO-8601 string"
        ))),
    }
}

fn text(v: &Value, key: &str) -> EngineResult<String> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| bad_criteria(format!("{key} must be a string")))
}

/// A string value checked against its model shape.
fn shaped(v: &Value, key: &str, s: Shape) -> EngineResult<String> {
    let t = text(v, key)?;
    validate::shape(&format!("search_criteria.{key}"), &t, s)?;
    Ok(t)
}

fn attribute(v: &Value) -> EngineResult<SearchByAttributeValue> {
    let obj = v
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or_else(|| bad_criteria("each value must be an object with exactly one attribute, e.g. {\"DICOMPatientId\": \"123\"}"))?;
    let (k, v) = obj.iter().next().expect("one entry");
    Ok(match k.as_str() {
        "DICOMPatientId" => SearchByAttributeValue::DicomPatientId(validate::patient_id(
            "search_criteria.DICOMPatientId",
            &text(v, k)?,
        )?),
        "DICOMAccessionNumber" => {
            SearchByAttributeValue::DicomAccessionNumber(shaped(v, k, Shape::DicomAccessionNumber)?)
        }
        "DICOMStudyId" => SearchByAttributeValue::DicomStudyId(shaped(v, k, Shape::DicomStudyId)?),
        "DICOMStudyInstanceUID" => {
            let uid = text(v, k)?;
            validate::shape("search_criteria.DICOMStudyInstanceUID", &uid, Shape::DicomUid)?;
            SearchByAttributeValue::DicomStudyInstanceUid(uid)
        }
        "DICOMSeriesInstanceUID" => {
            let uid = text(v, k)?;
            validate::shape("search_criteria.DICOMSeriesInstanceUID", &uid, Shape::DicomUid)?;
            SearchByAttributeValue::DicomSeriesInstanceUid(uid)
        }
        "createdAt" => SearchByAttributeValue::CreatedAt(timestamp(v, k)?),
        "updatedAt" => SearchByAttributeValue::UpdatedAt(timestamp(v, k)?),
        "isPrimary" => SearchByAttributeValue::IsPrimary(
            v.as_bool().ok_or_else(|| bad_criteria("isPrimary must be true or false"))?,
        ),
        "DICOMStudyDateAndTime" => {
            let date = v
                .get("DICOMStudyDate")
                .and_then(Value::as_str)
                .ok_or_else(|| bad_criteria("DICOMStudyDateAndTime needs DICOMStudyDate (YYYYMMDD)"))?;
            validate::shape("search_criteria.DICOMStudyDate", date, Shape::DicomStudyDate)?;
            if let Some(time) = v.get("DICOMStudyTime").and_then(Value::as_str) {
                validate::shape("search_criteria.DICOMStudyTime", time, Shape::DicomStudyTime)?;
            }
            SearchByAttributeValue::DicomStudyDateAndTime(
                DicomStudyDateAndTime::builder()
                    .dicom_study_date(date)
                    .set_dicom_study_time(v.get("DICOMStudyTime").and_then(Value::as_str).map(str::to_owned))
                    .build()
                    .map_err(|e| bad_criteria(e.to_string()))?,
            )
        }
        other => {
            return Err(bad_criteria(format!(
                "unknown attribute {}; searchable: DICOMPatientId, DICOMAccessionNumber, DICOMStudyId, DICOMStudyInstanceUID, DICOMSeriesInstanceUID, createdAt, updatedAt, DICOMStudyDateAndTime, isPrimary",
                excerpt(other)
            )))
        }
    })
}

/// SearchCriteria from its JSON form: `{"filters": [{"operator": "EQUAL"|"BETWEEN",
/// "values": [...]}], "sort": {"sortField": ..., "sortOrder": ...}}`.
pub fn criteria(v: &Value) -> EngineResult<SearchCriteria> {
    let obj = v
        .as_object()
        .ok_or_else(|| bad_criteria("must be an object with 'filters' and/or 'sort'"))?;
    if let Some(k) = obj.keys().find(|k| *k != "filters" && *k != "sort") {
        return Err(bad_criteria(format!(
            "unexpected key {}; allowed: filters, sort",
            excerpt(k)
        )));
    }
    let mut b = SearchCriteria::builder();
    if let Some(filters) = obj.get("filters") {
        let filters = filters
            .as_array()
            .filter(|f| constraints::SEARCH_FILTERS.contains(&f.len()))
            .ok_or_else(|| bad_criteria("filters must be a list of 1 or 2 filters"))?;
        for f in filters {
            let op = f.get("operator").and_then(Value::as_str).unwrap_or("EQUAL");
            let values = f
                .get("values")
                .and_then(Value::as_array)
                .ok_or_else(|| bad_criteria("each filter needs 'values'"))?;
            let expected = match op {
                "EQUAL" => 1,
                "BETWEEN" => 2,
                other => {
                    return Err(bad_criteria(format!(
                        "operator {} is not EQUAL or BETWEEN",
                        excerpt(other)
                    )))
                }
            };
            if values.len() != expected {
                return Err(bad_criteria(format!(
                    "{op} takes {expected} value(s), got {}",
                    values.len()
                )));
            }
            let mut fb = SearchFilter::builder().operator(Operator::from(op));
            for v in values {
                fb = fb.values(attribute(v)?);
            }
            b = b.filters(fb.build().map_err(|e| bad_criteria(e.to_string()))?);
        }
    }
    if let Some(sort) = obj.get("sort") {
        let field = sort
            .get("sortField")
            .and_then(Value::as_str)
            .unwrap_or("updatedAt");
        let order = sort
            .get("sortOrder")
            .and_then(Value::as_str)
            .unwrap_or("DESC");
        validate::one_of(
            "search_criteria.sort.sortField",
            Some(field),
            &["updatedAt", "createdAt", "DICOMStudyDateAndTime"],
        )?;
        validate::one_of(
            "search_criteria.sort.sortOrder",
            Some(order),
            &["ASC", "DESC"],
        )?;
        b = b.sort(
            Sort::builder()
                .sort_field(SortField::from(field))
                .sort_order(SortOrder::from(order))
                .build()
                .map_err(|e| bad_criteria(e.to_string()))?,
        );
    }
    Ok(b.build())
}

pub async fn search_image_sets(
    datastore_id: String,
    search_criteria: Option<Value>,
    page: Page,
) -> EngineResult<Value> {
    validate::id("datastore_id", &datastore_id)?;
    let max = page.check()?;
    let criteria = search_criteria.as_ref().map(criteria).transpose()?;
    let out = client()
        .await
        .search_image_sets()
        .datastore_id(&datastore_id)
        .set_search_criteria(criteria)
        .set_max_results(max)
        .set_next_token(page.next_token)
        .send()
        .await
        .map_err(|e| from_sdk("SearchImageSets", e))?;
    Ok(Obj::new()
        .put(
            "image_sets_metadata_summaries",
            out.image_sets_metadata_summaries().iter().map(summary).collect::<Vec<_>>(),
        )
        .opt(
            "sort",
            out.sort().map(|s| json!({"sort_field": s.sort_field().as_str(), "sort_order": s.sort_order().as_str()})),
        )
        .opt("next_token", out.next_token())
        .done())
}

pub async fn get_image_set(
    datastore_id: String,
    image_set_id: String,
    version_id: Option<String>,
) -> EngineResult<Value> {
    validate::image_set_ref(&datastore_id, &image_set_id, version_id.as_deref())?;
    let out = client()
        .await
        .get_image_set()
        .datastore_id(&datastore_id)
        .image_set_id(&image_set_id)
        .set_version_id(version_id)
        .send()
        .await
        .map_err(|e| from_sdk("GetImageSet", e))?;
    Ok(Obj::new()
        .put("datastore_id", out.datastore_id())
        .put("image_set_id", out.image_set_id())
        .put("version_id", out.version_id())
        .put("image_set_state", out.image_set_state().as_str())
        .opt(
            "image_set_workflow_status",
            name(out.image_set_workflow_status()),
        )
        .opt("is_primary", out.is_primary())
        .opt("storage_tier", name(out.storage_tier()))
        .opt("image_set_arn", out.image_set_arn())
        .time("created_at", out.created_at())
        .time("updated_at", out.updated_at())
        .time("deleted_at", out.deleted_at())
        .time("last_accessed_at", out.last_accessed_at())
        .opt("message", out.message())
        .opt(
            "overrides",
            out.overrides().map(|o| json!({"forced": o.forced()})),
        )
        .done())
}

pub async fn list_image_set_versions(
    datastore_id: String,
    image_set_id: String,
    page: Page,
) -> EngineResult<Value> {
    validate::id("datastore_id", &datastore_id)?;
    validate::id("image_set_id", &image_set_id)?;
    let max = page.check()?;
    let out = client()
        .await
        .list_image_set_versions()
        .datastore_id(&datastore_id)
        .image_set_id(&image_set_id)
        .set_max_results(max)
        .set_next_token(page.next_token)
        .send()
        .await
        .map_err(|e| from_sdk("ListImageSetVersions", e))?;
    Ok(Obj::new()
        .put(
            "image_set_properties_list",
            out.image_set_properties_list()
                .iter()
                .map(version_properties)
                .collect::<Vec<_>>(),
        )
        .opt("next_token", out.next_token())
        .done())
}

pub async fn delete_image_set(
    datastore_id: String,
    image_set_id: String,
    version_id: Option<String>,
) -> EngineResult<Value> {
    validate::id("datastore_id", &datastore_id)?;
    validate::id("image_set_id", &image_set_id)?;
    if version_id.is_some() {
        // The original accepted a version; DeleteImageSet has none: it deletes every version.
        return Err(EngineError::invalid(
            "version_id",
            "DeleteImageSet deletes the whole image set with all its versions and takes no version; omit version_id",
        ));
    }
    let out = client()
        .await
        .delete_image_set()
        .datastore_id(&datastore_id)
        .image_set_id(&image_set_id)
        .send()
        .await
        .map_err(|e| from_sdk("DeleteImageSet", e))?;
    Ok(Obj::new()
        .put("datastore_id", out.datastore_id())
        .put("image_set_id", out.image_set_id())
        .put("image_set_state", out.image_set_state().as_str())
        .put(
            "image_set_workflow_status",
            out.image_set_workflow_status().as_str(),
        )
        .done())
}
