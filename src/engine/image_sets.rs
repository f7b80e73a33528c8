//! Image set reads and deletion: search_image_sets, get_image_set, list_image_set_versions,
//! delete_image_set. Search criteria arrive as the API's JSON shape and are checked here.

use aws_sdk_medicalimaging::primitives::DateTime;
use aws_sdk_medicalimaging::types::{
    DicomStudyDateAndTime, DicomTags, ImageSetProperties, ImageSetsMetadataSummary, Operator,
    SearchByAttributeValue, SearchCriteria, SearchFilter, Sort, SortField, SortOrder,
};
use aws_smithy_types::date_time::Format;
use serde_json::{json, Map, Value};

use super::convert::{name, Obj};
use super::error::{from_sdk, EngineError, EngineResult};
use super::validate;
use super::{client, Page};
use crate::dicom::values;
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

/// Search criteria checked and converted to the SDK's types, with the values converted on the
/// way (ISO dates to DICOM `YYYYMMDD`), keyed by where they were given.
#[derive(Debug, Clone)]
pub struct Criteria {
    pub search: SearchCriteria,
    pub normalized: Map<String, Value>,
}

/// Reads one criteria document, naming the tool parameter (`param`) in its errors.
struct Reader<'a> {
    param: &'a str,
    normalized: Map<String, Value>,
}

impl Reader<'_> {
    fn bad(&self, rule: impl std::fmt::Display) -> EngineError {
        EngineError::invalid(self.param, rule)
    }

    /// A timestamp given as epoch seconds or an ISO-8601 string.
    fn timestamp(&self, v: &Value, key: &str) -> EngineResult<DateTime> {
        match v {
            Value::Number(n) => n
                .as_f64()
                .map(DateTime::from_secs_f64)
                .ok_or_else(|| self.bad(format!("{key} must be a number of epoch seconds"))),
            Value::String(s) => DateTime::from_str(s, Format::DateTime).map_err(|_| {
                self.bad(format!(
                    "{key} {} is not an ISO-8601 date-time such as 2024-01-31T00:00:00Z",
                    values::shown(s)
                ))
            }),
            _ => Err(self.bad(format!("{key} must be epoch seconds or an ISO-8601 string"))),
        }
    }

    fn text(&self, v: &Value, key: &str) -> EngineResult<String> {
        v.as_str()
            .map(str::to_owned)
            .ok_or_else(|| self.bad(format!("{key} must be a string")))
    }

    /// A string value checked against its model shape.
    fn shaped(&self, v: &Value, key: &str, shape: Shape) -> EngineResult<String> {
        let t = self.text(v, key)?;
        validate::shape(&format!("{}.{key}", self.param), &t, shape)?;
        Ok(t)
    }

    fn uid(&self, v: &Value, key: &str) -> EngineResult<String> {
        self.shaped(v, key, Shape::DicomUid)
    }

    /// `{"DICOMStudyDate": "YYYYMMDD" | "YYYY-MM-DD", "DICOMStudyTime"?: "HHMMSS[.ffffff]"}`;
    /// `at` is where it was given, for the conversion note.
    fn study_date_and_time(&mut self, v: &Value, at: &str) -> EngineResult<DicomStudyDateAndTime> {
        let date = v
            .get("DICOMStudyDate")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                self.bad("DICOMStudyDateAndTime needs DICOMStudyDate (YYYYMMDD or YYYY-MM-DD)")
            })?;
        let (date, converted) =
            values::date(date).map_err(|why| self.bad(format!("DICOMStudyDate {why}")))?;
        if converted {
            self.normalized
                .insert(format!("{at}.DICOMStudyDate"), json!(date));
        }
        let time = match v.get("DICOMStudyTime") {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => {
                values::time(t).map_err(|why| self.bad(format!("DICOMStudyTime {why}")))?;
                Some(t.clone())
            }
            Some(_) => return Err(self.bad("DICOMStudyTime must be a string HHMMSS[.ffffff]")),
        };
        DicomStudyDateAndTime::builder()
            .dicom_study_date(date)
            .set_dicom_study_time(time)
            .build()
            .map_err(|e| self.bad(e.to_string()))
    }

    fn attribute(&mut self, v: &Value, at: &str) -> EngineResult<SearchByAttributeValue> {
        let obj = v
            .as_object()
            .filter(|o| o.len() == 1)
            .ok_or_else(|| self.bad("each value must be an object with exactly one attribute, e.g. {\"DICOMPatientId\": \"123\"}"))?;
        let (k, v) = obj.iter().next().expect("one entry");
        Ok(match k.as_str() {
            "DICOMPatientId" => SearchByAttributeValue::DicomPatientId(validate::patient_id(
                &format!("{}.DICOMPatientId", self.param),
                &self.text(v, k)?,
            )?),
            "DICOMAccessionNumber" => SearchByAttributeValue::DicomAccessionNumber(
                self.shaped(v, k, Shape::DicomAccessionNumber)?,
            ),
            "DICOMStudyId" => {
                SearchByAttributeValue::DicomStudyId(self.shaped(v, k, Shape::DicomStudyId)?)
            }
            "DICOMStudyInstanceUID" => SearchByAttributeValue::DicomStudyInstanceUid(self.uid(v, k)?),
            "DICOMSeriesInstanceUID" => SearchByAttributeValue::DicomSeriesInstanceUid(self.uid(v, k)?),
            "createdAt" => SearchByAttributeValue::CreatedAt(self.timestamp(v, k)?),
            "updatedAt" => SearchByAttributeValue::UpdatedAt(self.timestamp(v, k)?),
            "isPrimary" => SearchByAttributeValue::IsPrimary(
                v.as_bool().ok_or_else(|| self.bad("isPrimary must be true or false"))?,
            ),
            "DICOMStudyDateAndTime" => SearchByAttributeValue::DicomStudyDateAndTime(
                self.study_date_and_time(v, &format!("{at}.DICOMStudyDateAndTime"))?,
            ),
            other => {
                return Err(self.bad(format!(
                    "unknown attribute {}; searchable: DICOMPatientId, DICOMAccessionNumber, DICOMStudyId, DICOMStudyInstanceUID, DICOMSeriesInstanceUID, createdAt, updatedAt, DICOMStudyDateAndTime, isPrimary",
                    values::shown(other)
                )))
            }
        })
    }
}

/// SearchCriteria from its JSON form: `{"filters": [{"operator": "EQUAL"|"BETWEEN",
/// "values": [...]}], "sort": {"sortField": ..., "sortOrder": ...}}`. Study dates may be given
/// as `YYYYMMDD` or ISO `YYYY-MM-DD` (converted, and noted in `normalized`); anything else,
/// and times not `HHMMSS[.ffffff]`, are refused. Errors name `param`.
pub fn criteria(param: &str, v: &Value) -> EngineResult<Criteria> {
    let mut r = Reader {
        param,
        normalized: Map::new(),
    };
    let obj = v
        .as_object()
        .ok_or_else(|| r.bad("must be an object with 'filters' and/or 'sort'"))?;
    if let Some(k) = obj.keys().find(|k| *k != "filters" && *k != "sort") {
        return Err(r.bad(format!(
            "unexpected key {}; allowed: filters, sort",
            values::shown(k)
        )));
    }
    let mut b = SearchCriteria::builder();
    if let Some(filters) = obj.get("filters") {
        let filters = filters
            .as_array()
            .filter(|f| constraints::SEARCH_FILTERS.contains(&f.len()))
            .ok_or_else(|| r.bad("filters must be a list of 1 or 2 filters"))?;
        for (i, f) in filters.iter().enumerate() {
            let op = f.get("operator").and_then(Value::as_str).unwrap_or("EQUAL");
            let values = f
                .get("values")
                .and_then(Value::as_array)
                .ok_or_else(|| r.bad("each filter needs 'values'"))?;
            let expected = match op {
                "EQUAL" => 1,
                "BETWEEN" => 2,
                other => {
                    return Err(r.bad(format!(
                        "operator {} is not EQUAL or BETWEEN",
                        values::shown(other)
                    )))
                }
            };
            if values.len() != expected {
                return Err(r.bad(format!(
                    "{op} takes {expected} value(s), got {}",
                    values.len()
                )));
            }
            let mut fb = SearchFilter::builder().operator(Operator::from(op));
            for (j, v) in values.iter().enumerate() {
                fb = fb.values(r.attribute(v, &format!("filters[{i}].values[{j}]"))?);
            }
            b = b.filters(fb.build().map_err(|e| r.bad(e.to_string()))?);
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
            &format!("{param}.sort.sortField"),
            Some(field),
            &["updatedAt", "createdAt", "DICOMStudyDateAndTime"],
        )?;
        validate::one_of(
            &format!("{param}.sort.sortOrder"),
            Some(order),
            &["ASC", "DESC"],
        )?;
        b = b.sort(
            Sort::builder()
                .sort_field(SortField::from(field))
                .sort_order(SortOrder::from(order))
                .build()
                .map_err(|e| r.bad(e.to_string()))?,
        );
    }
    Ok(Criteria {
        search: b.build(),
        normalized: r.normalized,
    })
}

pub async fn search_image_sets(
    datastore_id: String,
    search_criteria: Option<Value>,
    page: Page,
) -> EngineResult<Value> {
    validate::id("datastore_id", &datastore_id)?;
    let max = page.check()?;
    let criteria = search_criteria
        .as_ref()
        .map(|c| criteria("search_criteria", c))
        .transpose()?;
    let normalized = criteria.as_ref().map(|c| c.normalized.clone());
    let out = client()
        .await
        .search_image_sets()
        .datastore_id(&datastore_id)
        .set_search_criteria(criteria.map(|c| c.search))
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
        // What was converted before searching (ISO study dates), so the caller knows.
        .opt("normalized", normalized.filter(|n| !n.is_empty()).map(Value::Object))
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
