//! The `dicomweb` toolset: HealthImaging's DICOMweb APIs (QIDO-RS search, WADO-RS retrieval,
//! STOW-RS upload). Searches answer a compact table by default (one row per record, the
//! level's usual attributes under snake_case names); `include_dicom_json` adds the records in
//! the DICOM JSON model as the service sent them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::schema::{shaped, within};
use super::{Ctx, Hints, Tool, Toolset, READ, WRITE};
use crate::engine::dicomweb::qido::{self, Level, Search};
use crate::engine::dicomweb::retrieve::{self, Retrieve, Retrieved};
use crate::engine::dicomweb::upload::{self, Stored};
use crate::engine::dicomweb::wado::{self, Where, EXPLICIT_VR_LITTLE_ENDIAN};
use crate::engine::EngineResult;
use crate::model::constraints::Shape;

fn tool<I, O, F, Fut>(name: &'static str, description: &'static str, hints: Hints, f: F) -> Tool
where
    I: serde::de::DeserializeOwned + JsonSchema,
    O: serde::Serialize + JsonSchema,
    F: Fn(I, Ctx) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = EngineResult<O>> + Send + 'static,
{
    Tool::new(Toolset::Dicomweb, name, description, hints, f)
}

/// Longest person name matched (five component groups of 64 characters).
const PERSON_NAME: usize = 324;

/// A string field of at most `n` characters.
fn at_most(n: usize) -> impl FnMut(&mut schemars::Schema) {
    move |schema| {
        schema.insert("maxLength".into(), n.into());
    }
}

const LIMIT: std::ops::RangeInclusive<i64> = 1..=qido::MAX_LIMIT as i64;
const OFFSET: std::ops::RangeInclusive<i64> = 0..=(qido::MAX_REACHABLE as i64 - 1);

/// Paging and answer form, common to the three searches.
#[derive(Deserialize, JsonSchema)]
pub struct Paging {
    /// Records per answer (default 100, at most 1000).
    #[schemars(transform = within(LIMIT))]
    pub limit: Option<i64>,
    /// Records to skip; offset + limit may not pass 10,000 (QIDO-RS's reach).
    #[schemars(transform = within(OFFSET))]
    pub offset: Option<i64>,
    /// Also return the records in the DICOM JSON model (default false: the table only).
    pub include_dicom_json: Option<bool>,
}

/// The study a request is about: the first fields of every tool here but the study search.
#[derive(Deserialize, JsonSchema)]
pub struct StudyAt {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub study_instance_uid: String,
}

/// A series of a study. Not built on [`StudyAt`]: serde cannot flatten a flattened struct that
/// flattens again under `deny_unknown_fields` (the inner fields would count as unknown).
#[derive(Deserialize, JsonSchema)]
pub struct SeriesAt {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub study_instance_uid: String,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub series_instance_uid: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchStudies {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub study_instance_uid: Option<String>,
    #[schemars(transform = shaped(Shape::DicomPatientId))]
    pub patient_id: Option<String>,
    /// DICOM person name; `*` wildcards allowed.
    #[schemars(transform = at_most(PERSON_NAME))]
    pub patient_name: Option<String>,
    pub accession_number: Option<String>,
    /// YYYYMMDD, or a range YYYYMMDD-YYYYMMDD.
    pub study_date: Option<String>,
    pub study_time: Option<String>,
    #[schemars(transform = shaped(Shape::DicomStudyId))]
    pub study_id: Option<String>,
    pub modalities_in_study: Option<String>,
    pub study_description: Option<String>,
    #[schemars(transform = at_most(PERSON_NAME))]
    pub referring_physician_name: Option<String>,
    /// Match person names fuzzily.
    pub fuzzy_matching: Option<bool>,
    #[serde(flatten)]
    pub paging: Paging,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchSeries {
    #[serde(flatten)]
    pub study: StudyAt,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub series_instance_uid: Option<String>,
    pub modality: Option<String>,
    pub series_number: Option<String>,
    #[serde(flatten)]
    pub paging: Paging,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchInstances {
    #[serde(flatten)]
    pub series: SeriesAt,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub sop_instance_uid: Option<String>,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub sop_class_uid: Option<String>,
    pub instance_number: Option<String>,
    #[serde(flatten)]
    pub paging: Paging,
}

/// A search's answer.
#[derive(Serialize, JsonSchema)]
pub struct SearchOut {
    /// Records in this answer.
    pub count: usize,
    pub offset: u32,
    /// True when the answer is full (count == limit): ask again with offset + limit.
    pub more_may_exist: bool,
    /// One row per record: the level's usual attributes, snake_case.
    pub rows: Vec<Map<String, Value>>,
    /// The records in the DICOM JSON model (only with include_dicom_json).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dicom_json: Option<Vec<Value>>,
}

/// The table's columns per level: (name, tag).
const STUDY_COLUMNS: &[(&str, &str)] = &[
    ("study_instance_uid", "0020000D"),
    ("patient_id", "00100020"),
    ("patient_name", "00100010"),
    ("study_date", "00080020"),
    ("study_time", "00080030"),
    ("accession_number", "00080050"),
    ("study_id", "00200010"),
    ("study_description", "00081030"),
    ("modalities_in_study", "00080061"),
    ("number_of_series", "00201206"),
    ("number_of_instances", "00201208"),
];
const SERIES_COLUMNS: &[(&str, &str)] = &[
    ("series_instance_uid", "0020000E"),
    ("modality", "00080060"),
    ("series_number", "00200011"),
    ("series_description", "0008103E"),
    ("number_of_instances", "00201209"),
];
const INSTANCE_COLUMNS: &[(&str, &str)] = &[
    ("sop_instance_uid", "00080018"),
    ("sop_class_uid", "00080016"),
    ("instance_number", "00200013"),
    ("rows", "00280010"),
    ("columns", "00280011"),
    ("number_of_frames", "00280008"),
];

/// A DICOM JSON attribute's value as a cell: one value plain, several as a list; person names
/// by their alphabetic form.
fn cell(attribute: &Value) -> Option<Value> {
    let values = attribute.get("Value")?.as_array()?;
    let plain: Vec<Value> = values
        .iter()
        .map(|v| match v {
            Value::Object(o) => o.get("Alphabetic").cloned().unwrap_or(Value::Null),
            v => v.clone(),
        })
        .collect();
    match plain.len() {
        0 => None,
        1 => plain.into_iter().next(),
        _ => Some(Value::Array(plain)),
    }
}

fn row(record: &Value, columns: &[(&str, &str)]) -> Map<String, Value> {
    columns
        .iter()
        .filter_map(|(name, tag)| Some((name.to_string(), cell(record.get(*tag)?)?)))
        .collect()
}

async fn run_search(
    mut s: Search,
    paging: Paging,
    columns: &'static [(&'static str, &'static str)],
) -> EngineResult<SearchOut> {
    let limit = paging.limit.map(|l| l as u32);
    let offset = paging.offset.unwrap_or(0) as u32;
    s.limit = limit;
    s.offset = Some(offset);
    let records = qido::search(&s).await?;
    let asked = limit.unwrap_or(100) as usize;
    Ok(SearchOut {
        count: records.len(),
        offset,
        more_may_exist: records.len() >= asked,
        rows: records.iter().map(|r| row(r, columns)).collect(),
        dicom_json: paging
            .include_dicom_json
            .unwrap_or(false)
            .then_some(records),
    })
}

fn keys(pairs: &[(&'static str, &Option<String>)]) -> Vec<(&'static str, String)> {
    pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (*k, v.clone())))
        .collect()
}

async fn search_studies(i: SearchStudies, _: Ctx) -> EngineResult<SearchOut> {
    let mut s = Search::new(&i.datastore_id, Level::Studies);
    s.keys = keys(&[
        ("StudyInstanceUID", &i.study_instance_uid),
        ("PatientID", &i.patient_id),
        ("PatientName", &i.patient_name),
        ("AccessionNumber", &i.accession_number),
        ("StudyDate", &i.study_date),
        ("StudyTime", &i.study_time),
        ("StudyID", &i.study_id),
        ("ModalitiesInStudy", &i.modalities_in_study),
        ("StudyDescription", &i.study_description),
        ("ReferringPhysicianName", &i.referring_physician_name),
    ]);
    s.fuzzy_matching = i.fuzzy_matching.unwrap_or(false);
    run_search(s, i.paging, STUDY_COLUMNS).await
}

async fn search_series(i: SearchSeries, _: Ctx) -> EngineResult<SearchOut> {
    let mut s = Search::new(&i.study.datastore_id, Level::Series);
    s.study_instance_uid = Some(i.study.study_instance_uid);
    s.keys = keys(&[
        ("SeriesInstanceUID", &i.series_instance_uid),
        ("Modality", &i.modality),
        ("SeriesNumber", &i.series_number),
    ]);
    run_search(s, i.paging, SERIES_COLUMNS).await
}

async fn search_instances(i: SearchInstances, _: Ctx) -> EngineResult<SearchOut> {
    let mut s = Search::new(&i.series.datastore_id, Level::Instances);
    s.study_instance_uid = Some(i.series.study_instance_uid);
    s.series_instance_uid = Some(i.series.series_instance_uid);
    s.keys = keys(&[
        ("SOPInstanceUID", &i.sop_instance_uid),
        ("SOPClassUID", &i.sop_class_uid),
        ("InstanceNumber", &i.instance_number),
    ]);
    run_search(s, i.paging, INSTANCE_COLUMNS).await
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeriesMetadata {
    #[serde(flatten)]
    pub series: SeriesAt,
    /// The image set to read from (default: the primary image set).
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub image_set_id: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceMetadata {
    #[serde(flatten)]
    pub series: SeriesAt,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub sop_instance_uid: String,
    /// The image set to read from (default: the primary image set).
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub image_set_id: Option<String>,
}

#[derive(Serialize, JsonSchema)]
pub struct SeriesMetadataOut {
    pub count: usize,
    /// One DICOM JSON object per instance.
    pub instances: Vec<Value>,
}

#[derive(Serialize, JsonSchema)]
pub struct InstanceMetadataOut {
    /// The instance in the DICOM JSON model.
    pub metadata: Value,
}

fn place(series: SeriesAt, image_set_id: Option<String>) -> Where {
    Where {
        datastore_id: series.datastore_id,
        study_instance_uid: series.study_instance_uid,
        series_instance_uid: series.series_instance_uid,
        image_set_id,
    }
}

/// `stored` (as HealthImaging keeps it) or uncompressed explicit VR little endian.
#[derive(Deserialize, JsonSchema, Clone, Copy, Default)]
#[serde(rename_all = "snake_case")]
pub enum TransferSyntax {
    #[default]
    Stored,
    ExplicitVrLittleEndian,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrieveInstances {
    #[serde(flatten)]
    pub study: StudyAt,
    /// Only this series (default: every series of the study).
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub series_instance_uid: Option<String>,
    /// Only this instance (needs series_instance_uid).
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub sop_instance_uid: Option<String>,
    /// The image set to read from (default: the primary image set).
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub image_set_id: Option<String>,
    /// Folder to write into, inside the allowed file roots (created if missing); relative
    /// paths are taken from the first root.
    pub folder: String,
    /// `stored` (default) or `explicit_vr_little_endian` (uncompressed; for tools that cannot
    /// read HTJ2K).
    pub transfer_syntax: Option<TransferSyntax>,
    /// Replace files that already exist (default false: they are skipped).
    pub overwrite: Option<bool>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreFiles {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    /// Files and folders inside the allowed file roots; relative paths are taken from the
    /// first root.
    pub paths: Vec<String>,
    /// Walk folders recursively (default true).
    pub recursive: Option<bool>,
}

pub fn tools() -> Vec<Tool> {
    vec![
        tool(
            "search_dicom_studies",
            "QIDO-RS study search (primary image sets only; newest update first). Keys match exactly unless wildcarded (*); answers a table of studies, with the DICOM JSON on request.",
            READ,
            search_studies,
        ),
        tool(
            "search_dicom_series",
            "QIDO-RS series search within a study (by series number).",
            READ,
            search_series,
        ),
        tool(
            "search_dicom_instances",
            "QIDO-RS instance search within a series (by instance number).",
            READ,
            search_instances,
        ),
        tool(
            "get_dicom_series_metadata",
            "WADO-RS series metadata: every instance's attributes in the DICOM JSON model.",
            READ,
            |i: SeriesMetadata, _| async move {
                let w = place(i.series, i.image_set_id);
                let instances = wado::series_metadata(&w).await?;
                Ok(SeriesMetadataOut {
                    count: instances.len(),
                    instances,
                })
            },
        ),
        tool(
            "get_dicom_instance_metadata",
            "WADO-RS instance metadata in the DICOM JSON model.",
            READ,
            |i: InstanceMetadata, _| async move {
                let w = place(i.series, i.image_set_id);
                Ok(InstanceMetadataOut {
                    metadata: wado::instance_metadata(&w, &i.sop_instance_uid).await?,
                })
            },
        ),
        tool(
            "retrieve_dicom_instances",
            "Download a study, a series or one instance as DICOM Part-10 files into a local folder (<folder>/<study>/<series>/<sop>.dcm), concurrently; reports each file: written, failed (why), skipped (exists) or not_attempted (cancelled).",
            READ,
            |i: RetrieveInstances, ctx: Ctx| async move {
                let ts = match i.transfer_syntax.unwrap_or_default() {
                    TransferSyntax::Stored => None,
                    TransferSyntax::ExplicitVrLittleEndian => Some(EXPLICIT_VR_LITTLE_ENDIAN.to_string()),
                };
                let r = Retrieve {
                    datastore_id: i.study.datastore_id,
                    study_instance_uid: i.study.study_instance_uid,
                    series_instance_uid: i.series_instance_uid,
                    sop_instance_uid: i.sop_instance_uid,
                    image_set_id: i.image_set_id,
                    folder: i.folder,
                    transfer_syntax: ts,
                    overwrite: i.overwrite.unwrap_or(false),
                };
                let out: Retrieved = retrieve::retrieve(r, ctx.progress).await?;
                Ok(out)
            },
        )
        .with_progress(),
        tool(
            "store_dicom_files",
            "Upload local DICOM Part-10 files and folders (STOW-RS) in batches within the 1 GB request limit; reports each file: stored, failed (the service's reason), skipped_not_dicom, and the image sets the stored series are in.",
            WRITE,
            |i: StoreFiles, ctx: Ctx| async move {
                let out: Stored = upload::store_files(
                    &i.datastore_id,
                    &i.paths,
                    i.recursive.unwrap_or(true),
                    ctx.progress,
                )
                .await?;
                Ok(out)
            },
        )
        .with_progress(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Each input reads its flattened parts (study, series, paging) and still refuses unknown
    /// fields (serde's flatten and deny_unknown_fields only go together one level deep).
    #[test]
    fn flattened_inputs_read_every_field() {
        let series =
            json!({"datastore_id": "d", "study_instance_uid": "1.2", "series_instance_uid": "1.3"});
        let with = |extra: Value| {
            let mut v = series.clone();
            v.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            v
        };
        let i: SearchInstances =
            serde_json::from_value(with(json!({"limit": 5, "include_dicom_json": true}))).unwrap();
        assert_eq!(
            (
                i.series.datastore_id.as_str(),
                i.series.series_instance_uid.as_str()
            ),
            ("d", "1.3")
        );
        assert_eq!(
            (i.paging.limit, i.paging.include_dicom_json),
            (Some(5), Some(true))
        );
        let i: InstanceMetadata =
            serde_json::from_value(with(json!({"sop_instance_uid": "1.4"}))).unwrap();
        assert_eq!(
            (
                i.series.study_instance_uid.as_str(),
                i.sop_instance_uid.as_str()
            ),
            ("1.2", "1.4")
        );
        let i: SeriesMetadata = serde_json::from_value(with(json!({"image_set_id": "i"}))).unwrap();
        assert_eq!(i.image_set_id.as_deref(), Some("i"));
        let i: SearchSeries = serde_json::from_value(with(json!({"offset": 3}))).unwrap();
        assert_eq!(
            (i.study.study_instance_uid.as_str(), i.paging.offset),
            ("1.2", Some(3))
        );
        let i: RetrieveInstances = serde_json::from_value(with(json!({"folder": "f"}))).unwrap();
        assert_eq!(
            (i.study.datastore_id.as_str(), i.folder.as_str()),
            ("d", "f")
        );
        let i: SearchStudies =
            serde_json::from_value(json!({"datastore_id": "d", "limit": 7})).unwrap();
        assert_eq!(i.paging.limit, Some(7));
        for bad in [
            with(json!({"nope": 1})),
            with(json!({"limit": 1, "nope": 1})),
        ] {
            assert!(serde_json::from_value::<SearchInstances>(bad.clone()).is_err());
            assert!(serde_json::from_value::<SearchSeries>(bad).is_err());
        }
    }

    #[test]
    fn table_rows_from_dicom_json() {
        let record = json!({
            "0020000D": {"vr": "UI", "Value": ["1.2.3"]},
            "00100010": {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane"}]},
            "00080061": {"vr": "CS", "Value": ["CT", "SEG"]},
            "00201206": {"vr": "IS", "Value": [2]},
            "00080050": {"vr": "SH"}
        });
        let r = row(&record, STUDY_COLUMNS);
        assert_eq!(
            Value::Object(r),
            json!({
                "study_instance_uid": "1.2.3",
                "patient_name": "Doe^Jane",
                "modalities_in_study": ["CT", "SEG"],
                "number_of_series": 2
            })
        );
    }
}
