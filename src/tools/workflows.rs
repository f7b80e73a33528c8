//! The `workflows` toolset: patient, study and series work over every image set involved
//! (all pages read, each write confirmed), with the original server's tool and parameter names.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::deadline::{job_deadline, run_as_job, OrJob};
use super::schema::{shaped, within};
use super::{Ctx, Hints, Tool, Toolset, DESTRUCTIVE, DESTRUCTIVE_IDEMPOTENT, READ};
use crate::model::constraints::Shape;
use crate::workflows::reads::MAX_LIMIT;
use crate::workflows::{destructive, reads};

/// `max_results` of the workflow reads: image sets read over all pages.
const LIMIT: std::ops::RangeInclusive<i64> = 1..=MAX_LIMIT as i64;
/// `max_deletions` of bulk_delete_by_criteria.
const DELETIONS: std::ops::RangeInclusive<i64> = 1..=1000;

/// What every write workflow reports, after its own description (the server instructions say
/// the rest: confirmation, retries, progress, cancellation).
const ITEMS: &str =
    " Reports totals and each image set's outcome; dry_run reports exactly what would change.";
/// What removing the last series or instance of an image set does.
const EMPTYING: &str = " An image set left empty is deleted.";

fn workflow<I, O, F, Fut>(
    name: &'static str,
    description: impl Into<Cow<'static, str>>,
    hints: Hints,
    f: F,
) -> Tool
where
    I: serde::de::DeserializeOwned + JsonSchema,
    O: serde::Serialize + JsonSchema,
    F: Fn(I, Ctx) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = crate::engine::EngineResult<O>> + Send + 'static,
{
    Tool::new(Toolset::Workflows, name, description, hints, f)
}

/// A change workflow: run as a job past the deadline unless a dry run (see `deadline`).
fn change<I, O, F, Fut>(
    name: &'static str,
    description: impl Into<Cow<'static, str>>,
    hints: Hints,
    f: F,
) -> Tool
where
    I: serde::de::DeserializeOwned + Serialize + JsonSchema + Send + 'static,
    O: Serialize + JsonSchema + Send + 'static,
    F: Fn(I, Ctx) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = crate::engine::EngineResult<O>> + Send + 'static,
{
    let f = std::sync::Arc::new(f);
    workflow(name, description, hints, move |i: I, ctx: Ctx| {
        let f = f.clone();
        async move {
            let request = serde_json::to_value(&i).unwrap_or(Value::Null);
            if request["dry_run"] == Value::Bool(true) {
                return f(i, ctx).await.map(OrJob::Done);
            }
            let ds = request["datastore_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let deadline = job_deadline();
            run_as_job(name, ds, request, ctx, deadline, move |ctx| f(i, ctx)).await
        }
    })
}

/// A description that ends with the write workflows' common text.
fn write_description(text: &str, emptying: bool) -> String {
    let mut s = text.to_string();
    if emptying {
        s.push_str(EMPTYING);
    }
    s.push_str(ITEMS);
    s
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ByPatient {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    /// DICOM Patient ID, exact (leading/trailing spaces are padding).
    #[schemars(transform = shaped(Shape::DicomPatientId))]
    pub patient_id: String,
    /// Most image sets to read, over all pages (default 1000); 'truncated' says if more matched.
    #[schemars(transform = within(LIMIT))]
    pub max_results: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ByStudy {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub study_instance_uid: String,
    /// Most image sets to read, over all pages (default 1000).
    #[schemars(transform = within(LIMIT))]
    pub max_results: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BySeries {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub series_instance_uid: String,
    /// Most image sets to read, over all pages (default 1000).
    #[schemars(transform = within(LIMIT))]
    pub max_results: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Patient {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::DicomPatientId))]
    pub patient_id: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Study {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub study_instance_uid: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Series {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub series_instance_uid: String,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeletePatient {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::DicomPatientId))]
    pub patient_id: String,
    /// Report what would change; change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteStudy {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub study_instance_uid: String,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteSeries {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub series_instance_uid: String,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteInstanceInStudy {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub study_instance_uid: String,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub sop_instance_uid: String,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteInstanceInSeries {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub series_instance_uid: String,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub sop_instance_uid: String,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePatientStudy {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub study_instance_uid: String,
    /// Patient-level attributes, DICOM keyword → value, e.g. {"PatientName": "DOE^JOHN"}.
    pub patient_updates: Map<String, Value>,
    /// Study-level attributes, e.g. {"StudyDescription": "CT CHEST"}.
    pub study_updates: Map<String, Value>,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkUpdatePatient {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::DicomPatientId))]
    pub patient_id: String,
    /// {"Patient": {...}, "Study": {...}} (DICOM keyword → value), or a flat map of
    /// Patient-level attributes.
    pub metadata_updates: Map<String, Value>,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkDelete {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    /// Searchable attributes, e.g. {"DICOMPatientId": "123", "DICOMStudyInstanceUID": "1.2.3"}
    /// (at most 2), or search_image_sets' {"filters": [...]}.
    pub criteria: Map<String, Value>,
    /// Safety limit (default 25): nothing is deleted when more match.
    #[schemars(transform = within(DELETIONS))]
    pub max_deletions: Option<i64>,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveSeries {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub image_set_id: String,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub series_instance_uid: String,
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveInstance {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub image_set_id: String,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub series_instance_uid: String,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub sop_instance_uid: String,
    #[serde(default)]
    pub dry_run: bool,
}

pub fn tools() -> Vec<Tool> {
    vec![
        workflow(
            "search_by_patient_id",
            "Every image set of a patient (all pages; primary and not), compactly: IDs, study/series UIDs, dates, descriptions, counts.",
            READ,
            |i: ByPatient, _| reads::search_by_patient_id(i.datastore_id, i.patient_id, i.max_results),
        ),
        workflow(
            "search_by_study_uid",
            "Every image set of a study (all pages; primary and not), compactly.",
            READ,
            |i: ByStudy, _| reads::search_by_study_uid(i.datastore_id, i.study_instance_uid, i.max_results),
        ),
        workflow(
            "search_by_series_uid",
            "Every image set holding a series (all pages; primary and not), compactly.",
            READ,
            |i: BySeries, _| reads::search_by_series_uid(i.datastore_id, i.series_instance_uid, i.max_results),
        ),
        workflow(
            "get_patient_studies",
            "A patient's studies, newest first: date, description, accession number, modalities, series count, and the image sets holding each.",
            READ,
            |i: ByPatient, _| reads::get_patient_studies(i.datastore_id, i.patient_id, i.max_results),
        ),
        workflow(
            "get_patient_series",
            "A patient's series from each image set's metadata: modality, number, description, body part, instance count, image set, is_primary.",
            READ,
            |i: ByPatient, _| reads::get_patient_series(i.datastore_id, i.patient_id, i.max_results),
        ),
        workflow(
            "get_study_primary_image_sets",
            "The primary image sets of a study, compactly.",
            READ,
            |i: Study, _| reads::get_study_primary_image_sets(i.datastore_id, i.study_instance_uid),
        ),
        workflow(
            "get_series_primary_image_set",
            "The primary image set of a series (found = false if none).",
            READ,
            |i: Series, _| reads::get_series_primary_image_set(i.datastore_id, i.series_instance_uid),
        ),
        workflow(
            "get_patient_dicomweb_studies",
            "A patient's studies as QIDO-RS SearchStudies answers them (DICOM JSON: tag keys with vr and Value), from primary image sets.",
            READ,
            |i: Patient, _| reads::get_patient_dicomweb_studies(i.datastore_id, i.patient_id),
        ),
        change(
            "delete_patient_studies",
            write_description(
                "Delete every image set of a patient, then search again and report how many remain (0 proves the erasure).",
                false,
            ),
            DESTRUCTIVE_IDEMPOTENT,
            |i: DeletePatient, ctx| {
                destructive::delete_patient_studies(i.datastore_id, i.patient_id, i.dry_run, ctx.progress)
            },
        )
        .with_progress(),
        change(
            "delete_study",
            write_description(
                "Delete every image set of a study, then search again and report how many remain.",
                false,
            ),
            DESTRUCTIVE_IDEMPOTENT,
            |i: DeleteStudy, ctx| {
                destructive::delete_study(i.datastore_id, i.study_instance_uid, i.dry_run, ctx.progress)
            },
        )
        .with_progress(),
        change(
            "delete_series_by_uid",
            write_description(
                "Remove a series from every image set holding it; other series stay.",
                true,
            ),
            DESTRUCTIVE_IDEMPOTENT,
            |i: DeleteSeries, ctx| {
                destructive::delete_series_by_uid(i.datastore_id, i.series_instance_uid, i.dry_run, ctx.progress)
            },
        )
        .with_progress(),
        change(
            "delete_instance_in_study",
            write_description(
                "Remove a SOP instance from every image set of a study holding it.",
                true,
            ),
            DESTRUCTIVE_IDEMPOTENT,
            |i: DeleteInstanceInStudy, ctx| {
                destructive::delete_instance_in_study(
                    i.datastore_id,
                    i.study_instance_uid,
                    i.sop_instance_uid,
                    i.dry_run,
                    ctx.progress,
                )
            },
        )
        .with_progress(),
        change(
            "delete_instance_in_series",
            write_description(
                "Remove a SOP instance from every image set holding the series.",
                true,
            ),
            DESTRUCTIVE_IDEMPOTENT,
            |i: DeleteInstanceInSeries, ctx| {
                destructive::delete_instance_in_series(
                    i.datastore_id,
                    i.series_instance_uid,
                    i.sop_instance_uid,
                    i.dry_run,
                    ctx.progress,
                )
            },
        )
        .with_progress(),
        change(
            "update_patient_study_metadata",
            write_description(
                "Set Patient- and Study-level attributes on every image set of a study, each as a new version.",
                false,
            ),
            DESTRUCTIVE,
            |i: UpdatePatientStudy, ctx| {
                destructive::update_patient_study_metadata(
                    i.datastore_id,
                    i.study_instance_uid,
                    Value::Object(i.patient_updates),
                    Value::Object(i.study_updates),
                    i.dry_run,
                    ctx.progress,
                )
            },
        )
        .with_progress(),
        change(
            "bulk_update_patient_metadata",
            write_description(
                "Set attributes on every image set of a patient, e.g. to fix a name everywhere.",
                false,
            ),
            DESTRUCTIVE,
            |i: BulkUpdatePatient, ctx| {
                destructive::bulk_update_patient_metadata(
                    i.datastore_id,
                    i.patient_id,
                    Value::Object(i.metadata_updates),
                    i.dry_run,
                    ctx.progress,
                )
            },
        )
        .with_progress(),
        change(
            "bulk_delete_by_criteria",
            write_description(
                "Delete every image set matching criteria; counts first and deletes nothing when more than max_deletions match.",
                false,
            ),
            DESTRUCTIVE_IDEMPOTENT,
            |i: BulkDelete, ctx| {
                destructive::bulk_delete_by_criteria(
                    i.datastore_id,
                    Value::Object(i.criteria),
                    i.max_deletions,
                    i.dry_run,
                    ctx.progress,
                )
            },
        )
        .with_progress(),
        change(
            "remove_series_from_image_set",
            write_description("Remove one series from one image set (a new version).", true),
            DESTRUCTIVE_IDEMPOTENT,
            |i: RemoveSeries, _| {
                destructive::remove_series_from_image_set(
                    i.datastore_id,
                    i.image_set_id,
                    i.series_instance_uid,
                    i.dry_run,
                )
            },
        ),
        change(
            "remove_instance_from_image_set",
            write_description("Remove one SOP instance from one image set (a new version).", true),
            DESTRUCTIVE_IDEMPOTENT,
            |i: RemoveInstance, _| {
                destructive::remove_instance_from_image_set(
                    i.datastore_id,
                    i.image_set_id,
                    i.series_instance_uid,
                    i.sop_instance_uid,
                    i.dry_run,
                )
            },
        ),
    ]
}
