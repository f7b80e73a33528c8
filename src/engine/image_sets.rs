//! Image set reads and deletion: search_image_sets, get_image_set, list_image_set_versions,
//! delete_image_set. Search criteria arrive as the API's JSON shape and are checked here.

use aws_sdk_medicalimaging::primitives::DateTime;
use aws_sdk_medicalimaging::types::{
    DicomStudyDateAndTime, DicomTags, ImageSetProperties, ImageSetState, ImageSetWorkflowStatus,
    ImageSetsMetadataSummary, Operator, Overrides, SearchByAttributeValue, SearchCriteria,
    SearchFilter, Sort, SortField, SortOrder, StorageTier,
};
use aws_smithy_types::date_time::Format;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::convert::{Converted, Named, Timestamp};
use super::error::{from_sdk, EngineError, EngineResult};
use super::validate;
use super::{client, Page};
use crate::dicom::values;
use crate::model::constraints::{self, Shape};

/// The DICOM attributes HealthImaging indexes for an image set.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DicomTagsOut {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dicom_patient_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dicom_patient_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dicom_patient_birth_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dicom_patient_sex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dicom_study_instance_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dicom_study_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dicom_study_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dicom_accession_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dicom_study_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dicom_study_time: Option<String>,
    pub dicom_number_of_study_related_series: i32,
    pub dicom_number_of_study_related_instances: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dicom_series_instance_uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dicom_series_modality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dicom_series_body_part: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dicom_series_number: Option<i32>,
}

fn text(v: Option<&str>) -> Option<String> {
    v.map(str::to_owned)
}

impl From<&DicomTags> for DicomTagsOut {
    fn from(t: &DicomTags) -> Self {
        Self {
            dicom_patient_id: text(t.dicom_patient_id()),
            dicom_patient_name: text(t.dicom_patient_name()),
            dicom_patient_birth_date: text(t.dicom_patient_birth_date()),
            dicom_patient_sex: text(t.dicom_patient_sex()),
            dicom_study_instance_uid: text(t.dicom_study_instance_uid()),
            dicom_study_id: text(t.dicom_study_id()),
            dicom_study_description: text(t.dicom_study_description()),
            dicom_accession_number: text(t.dicom_accession_number()),
            dicom_study_date: text(t.dicom_study_date()),
            dicom_study_time: text(t.dicom_study_time()),
            dicom_number_of_study_related_series: t.dicom_number_of_study_related_series(),
            dicom_number_of_study_related_instances: t.dicom_number_of_study_related_instances(),
            dicom_series_instance_uid: text(t.dicom_series_instance_uid()),
            dicom_series_modality: text(t.dicom_series_modality()),
            dicom_series_body_part: text(t.dicom_series_body_part()),
            dicom_series_number: t.dicom_series_number(),
        }
    }
}

/// One image set found by a search.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ImageSetSummary {
    pub image_set_id: String,
    /// The latest version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_primary: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_tier: Option<Named<StorageTier>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_accessed_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dicom_tags: Option<DicomTagsOut>,
}

impl From<&ImageSetsMetadataSummary> for ImageSetSummary {
    fn from(s: &ImageSetsMetadataSummary) -> Self {
        Self {
            image_set_id: s.image_set_id().into(),
            version: s.version(),
            is_primary: s.is_primary(),
            storage_tier: Named::opt(s.storage_tier()),
            created_at: Timestamp::opt(s.created_at()),
            updated_at: Timestamp::opt(s.updated_at()),
            last_accessed_at: Timestamp::opt(s.last_accessed_at()),
            dicom_tags: s.dicom_tags().map(Into::into),
        }
    }
}

/// Overrides a write was made with.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct OverridesOut {
    /// Whether the write was forced.
    pub forced: Option<bool>,
}

impl From<&Overrides> for OverridesOut {
    fn from(o: &Overrides) -> Self {
        Self { forced: o.forced() }
    }
}

/// One version of an image set.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ImageSetVersion {
    pub image_set_id: String,
    pub version_id: String,
    pub image_set_state: Named<ImageSetState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_set_workflow_status: Option<Named<ImageSetWorkflowStatus>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_primary: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overrides: Option<OverridesOut>,
}

impl From<&ImageSetProperties> for ImageSetVersion {
    fn from(p: &ImageSetProperties) -> Self {
        Self {
            image_set_id: p.image_set_id().into(),
            version_id: p.version_id().into(),
            image_set_state: Named::of(p.image_set_state()),
            image_set_workflow_status: Named::opt(p.image_set_workflow_status()),
            is_primary: p.is_primary(),
            created_at: Timestamp::opt(p.created_at()),
            updated_at: Timestamp::opt(p.updated_at()),
            deleted_at: Timestamp::opt(p.deleted_at()),
            message: text(p.message()),
            overrides: p.overrides().map(Into::into),
        }
    }
}

/// Search criteria checked and converted to the SDK's types, with the values converted on the
/// way (ISO dates to DICOM `YYYYMMDD`), keyed by where they were given.
#[derive(Debug, Clone)]
pub struct Criteria {
    pub search: SearchCriteria,
    pub normalized: Converted,
}

/// Reads one criteria document, naming the tool parameter (`param`) in its errors.
struct Reader<'a> {
    param: &'a str,
    normalized: Converted,
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
                .insert(format!("{at}.DICOMStudyDate"), date.clone());
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
        normalized: Converted::new(),
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

/// The sort of a search's answer.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SortOut {
    pub sort_field: Named<SortField>,
    pub sort_order: Named<SortOrder>,
}

/// SearchImageSets' answer: one page.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ImageSetSearch {
    pub image_sets_metadata_summaries: Vec<ImageSetSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort: Option<SortOut>,
    /// For the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Converted criteria values (ISO study dates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normalized: Option<Converted>,
}

pub async fn search_image_sets(
    datastore_id: String,
    search_criteria: Option<Value>,
    page: Page,
) -> EngineResult<ImageSetSearch> {
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
    Ok(ImageSetSearch {
        image_sets_metadata_summaries: out
            .image_sets_metadata_summaries()
            .iter()
            .map(Into::into)
            .collect(),
        sort: out.sort().map(|s| SortOut {
            sort_field: Named::of(s.sort_field()),
            sort_order: Named::of(s.sort_order()),
        }),
        next_token: text(out.next_token()),
        normalized: normalized.filter(|n| !n.is_empty()),
    })
}

/// GetImageSet's answer: one version of an image set.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ImageSetInfo {
    pub datastore_id: String,
    pub image_set_id: String,
    pub version_id: String,
    pub image_set_state: Named<ImageSetState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_set_workflow_status: Option<Named<ImageSetWorkflowStatus>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_primary: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_tier: Option<Named<StorageTier>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_set_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_accessed_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overrides: Option<OverridesOut>,
}

pub async fn get_image_set(
    datastore_id: String,
    image_set_id: String,
    version_id: Option<String>,
) -> EngineResult<ImageSetInfo> {
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
    Ok(ImageSetInfo {
        datastore_id: out.datastore_id().into(),
        image_set_id: out.image_set_id().into(),
        version_id: out.version_id().into(),
        image_set_state: Named::of(out.image_set_state()),
        image_set_workflow_status: Named::opt(out.image_set_workflow_status()),
        is_primary: out.is_primary(),
        storage_tier: Named::opt(out.storage_tier()),
        image_set_arn: text(out.image_set_arn()),
        created_at: Timestamp::opt(out.created_at()),
        updated_at: Timestamp::opt(out.updated_at()),
        deleted_at: Timestamp::opt(out.deleted_at()),
        last_accessed_at: Timestamp::opt(out.last_accessed_at()),
        message: text(out.message()),
        overrides: out.overrides().map(Into::into),
    })
}

/// ListImageSetVersions' answer: one page.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ImageSetVersionList {
    pub image_set_properties_list: Vec<ImageSetVersion>,
    /// For the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

pub async fn list_image_set_versions(
    datastore_id: String,
    image_set_id: String,
    page: Page,
) -> EngineResult<ImageSetVersionList> {
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
    Ok(ImageSetVersionList {
        image_set_properties_list: out
            .image_set_properties_list()
            .iter()
            .map(Into::into)
            .collect(),
        next_token: text(out.next_token()),
    })
}

/// DeleteImageSet's answer: the image set's state as the deletion starts.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ImageSetDeletion {
    pub datastore_id: String,
    pub image_set_id: String,
    pub image_set_state: Named<ImageSetState>,
    pub image_set_workflow_status: Named<ImageSetWorkflowStatus>,
}

pub async fn delete_image_set(
    datastore_id: String,
    image_set_id: String,
    version_id: Option<String>,
) -> EngineResult<ImageSetDeletion> {
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
    Ok(ImageSetDeletion {
        datastore_id: out.datastore_id().into(),
        image_set_id: out.image_set_id().into(),
        image_set_state: Named::of(out.image_set_state()),
        image_set_workflow_status: Named::of(out.image_set_workflow_status()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::convert::testing::{properties, required};
    use serde_json::json;

    fn summary() -> ImageSetsMetadataSummary {
        ImageSetsMetadataSummary::builder()
            .image_set_id("i".repeat(32))
            .version(2)
            .is_primary(true)
            .updated_at(DateTime::from_secs_f64(1_700_000_047.662))
            .dicom_tags(
                DicomTags::builder()
                    .dicom_patient_id("P1")
                    .dicom_study_instance_uid("1.2")
                    .dicom_number_of_study_related_series(1)
                    .dicom_number_of_study_related_instances(3)
                    .build(),
            )
            .build()
            .unwrap()
    }

    #[test]
    fn converted_study_dates_are_reported_where_given() {
        let c = criteria(
            "search_criteria",
            &json!({"filters": [{"operator": "EQUAL", "values": [
                {"DICOMStudyDateAndTime": {"DICOMStudyDate": "2024-06-01"}}]}]}),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_value(&c.normalized).unwrap(),
            json!({"filters[0].values[0].DICOMStudyDateAndTime.DICOMStudyDate": "20240601"})
        );
    }

    #[test]
    fn image_set_outputs_keep_their_json() {
        let found = ImageSetSearch {
            image_sets_metadata_summaries: vec![(&summary()).into()],
            sort: Some(SortOut {
                sort_field: Named(SortField::CreatedAt),
                sort_order: Named(SortOrder::Asc),
            }),
            next_token: None,
            normalized: None,
        };
        assert_eq!(
            serde_json::to_value(&found).unwrap(),
            json!({
                "image_sets_metadata_summaries": [{
                    "image_set_id": "i".repeat(32), "version": 2, "is_primary": true,
                    "updated_at": "2023-11-14T22:14:07.662Z",
                    "dicom_tags": {"dicom_patient_id": "P1", "dicom_study_instance_uid": "1.2",
                        "dicom_number_of_study_related_series": 1,
                        "dicom_number_of_study_related_instances": 3}}],
                "sort": {"sort_field": "createdAt", "sort_order": "ASC"}})
        );
        let version = ImageSetProperties::builder()
            .image_set_id("i".repeat(32))
            .version_id("3")
            .image_set_state(ImageSetState::Active)
            .image_set_workflow_status(ImageSetWorkflowStatus::Updated)
            .overrides(Overrides::builder().forced(true).build())
            .build()
            .unwrap();
        assert_eq!(
            serde_json::to_value(ImageSetVersion::from(&version)).unwrap(),
            json!({"image_set_id": "i".repeat(32), "version_id": "3", "image_set_state": "ACTIVE",
                   "image_set_workflow_status": "UPDATED", "overrides": {"forced": true}})
        );
    }

    #[test]
    fn image_set_schemas_mark_required_fields() {
        assert_eq!(
            required::<ImageSetInfo>(None),
            [
                "datastore_id",
                "image_set_id",
                "image_set_state",
                "version_id"
            ]
        );
        assert_eq!(properties::<ImageSetInfo>(None).len(), 14);
        assert_eq!(
            required::<ImageSetSearch>(None),
            ["image_sets_metadata_summaries"]
        );
        assert_eq!(
            required::<ImageSetSearch>(Some("ImageSetSummary")),
            ["image_set_id"]
        );
        assert_eq!(
            required::<ImageSetSearch>(Some("DicomTagsOut")),
            [
                "dicom_number_of_study_related_instances",
                "dicom_number_of_study_related_series"
            ]
        );
        assert_eq!(
            required::<ImageSetVersionList>(Some("ImageSetVersion")),
            ["image_set_id", "image_set_state", "version_id"]
        );
        assert_eq!(
            required::<ImageSetDeletion>(None),
            [
                "datastore_id",
                "image_set_id",
                "image_set_state",
                "image_set_workflow_status"
            ]
        );
        // Converted criteria values are text.
        let search = crate::engine::convert::testing::output_schema::<ImageSetSearch>();
        assert_eq!(
            search["properties"]["normalized"]["additionalProperties"],
            json!({"type": "string"})
        );
        // The service's enums are listed in the schema.
        let schema = crate::engine::convert::testing::output_schema::<ImageSetDeletion>();
        assert_eq!(
            schema["$defs"]["ImageSetWorkflowStatus"]["enum"]
                .as_array()
                .unwrap()
                .len(),
            ImageSetWorkflowStatus::values().len()
        );
    }
}
