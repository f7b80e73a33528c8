//! get_image_set_summary: an image set in a few hundred bytes (patient, study, and per series
//! the counts, geometry and stored syntaxes), read from GetImageSet and GetImageSetMetadata.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::describe::number;
use super::{slice_locations, SliceKey};
use crate::dicom::metadata::{ImageSetMetadata, Instance, Series};
use crate::engine::convert::Timestamp;
use crate::engine::{image_sets, metadata, EngineError, EngineResult, ErrorType};
use crate::model::constraints::Shape;
use crate::tools::schema::shaped;

/// One image set, optionally one version of it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetImageSetSummary {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub image_set_id: String,
    /// Default: the latest version.
    #[schemars(transform = shaped(Shape::VersionId))]
    pub version_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ImageSetSummary {
    pub datastore_id: String,
    pub image_set_id: String,
    pub version_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_primary: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    pub patient: PatientSummary,
    pub study: StudySummary,
    pub series: Vec<SeriesSummary>,
}

/// Absent attributes are left out.
#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct PatientSummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sex: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, JsonSchema)]
pub struct StudySummary {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accession_number: Option<String>,
}

/// Where `spacing_between_slices` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SpacingSource {
    /// The SpacingBetweenSlices attribute.
    Attribute,
    /// The median distance between neighbouring ImagePositionPatient along the slice normal.
    Positions,
    /// As `positions`, but the distances differ by more than 1%: the series is not evenly
    /// spaced (gaps, overlaps or several stacks).
    IrregularPositions,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct SeriesSummary {
    pub uid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_part: Option<String>,
    pub instances: usize,
    pub frames: usize,
    /// Each distinct "ROWSxCOLUMNS" of the series' instances (usually one).
    pub rows_x_columns: Vec<String>,
    /// mm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slice_thickness: Option<f64>,
    /// mm; see spacing_source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spacing_between_slices: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spacing_source: Option<SpacingSource>,
    /// The stored transfer syntax UIDs.
    pub transfer_syntaxes: Vec<String>,
}

/// An instance attribute, else the series' (HealthImaging keeps per-image attributes at the
/// instance level; some documents carry shared ones at the series level).
fn decimal(series: &Series, instance: Option<&Instance>, keyword: &str) -> Option<f64> {
    instance
        .and_then(|i| number(&i.attributes.dicom, keyword))
        .or_else(|| number(&series.attributes.dicom, keyword))
}

/// The median gap between sorted positions, and whether the gaps agree within 1%.
fn spacing_of(mut positions: Vec<f64>) -> Option<(f64, bool)> {
    positions.sort_by(f64::total_cmp);
    let mut gaps: Vec<f64> = positions.windows(2).map(|w| w[1] - w[0]).collect();
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_by(f64::total_cmp);
    let median = gaps[gaps.len() / 2];
    let (lo, hi) = (gaps[0], gaps[gaps.len() - 1]);
    let even = median > 0.0 && (hi - lo) <= 0.01 * median;
    Some((median, even))
}

/// Rounded to 0.1 µm: enough for geometry, short in JSON.
fn round(v: f64) -> f64 {
    (v * 1e4).round() / 1e4
}

pub fn summarize_series(uid: &str, series: &Series) -> SeriesSummary {
    let first = series
        .instances
        .values()
        .min_by_key(|i| i.attributes.integer("InstanceNumber").unwrap_or(i64::MAX));
    let sizes: BTreeSet<String> = series
        .instances
        .values()
        .filter_map(|i| {
            let (r, c) = (
                i.attributes
                    .integer("Rows")
                    .or_else(|| series.attributes.integer("Rows"))?,
                i.attributes
                    .integer("Columns")
                    .or_else(|| series.attributes.integer("Columns"))?,
            );
            Some(format!("{r}x{c}"))
        })
        .collect();
    let syntaxes: BTreeSet<String> = series
        .instances
        .values()
        .filter_map(|i| i.stored_transfer_syntax_uid.clone())
        .collect();
    let keys: Vec<SliceKey> = series
        .instances
        .values()
        .map(|i| SliceKey::from_attributes(&i.attributes.dicom))
        .collect();
    let positions: Vec<f64> = slice_locations(&keys).into_iter().flatten().collect();
    let spacing = match decimal(series, first, "SpacingBetweenSlices") {
        Some(s) => Some((s, SpacingSource::Attribute)),
        None => spacing_of(positions).map(|(s, even)| {
            let source = if even {
                SpacingSource::Positions
            } else {
                SpacingSource::IrregularPositions
            };
            (s, source)
        }),
    };
    let text = |k: &str| {
        series
            .attributes
            .text(k)
            .or_else(|| first.and_then(|i| i.attributes.text(k)))
    };
    SeriesSummary {
        uid: uid.to_string(),
        number: series
            .attributes
            .integer("SeriesNumber")
            .or_else(|| first.and_then(|i| i.attributes.integer("SeriesNumber"))),
        modality: text("Modality"),
        description: text("SeriesDescription"),
        body_part: text("BodyPartExamined"),
        instances: series.instances.len(),
        frames: series.instances.values().map(|i| i.frames.len()).sum(),
        rows_x_columns: sizes.into_iter().collect(),
        slice_thickness: decimal(series, first, "SliceThickness").map(round),
        spacing_between_slices: spacing.map(|(s, _)| round(s)),
        spacing_source: spacing.map(|(_, source)| source),
        transfer_syntaxes: syntaxes.into_iter().collect(),
    }
}

/// The patient, study and series parts of a summary, from a metadata document.
pub fn summarize(doc: &ImageSetMetadata) -> (PatientSummary, StudySummary, Vec<SeriesSummary>) {
    let p = &doc.patient;
    let s = &doc.study.attributes;
    let patient = PatientSummary {
        id: p.text("PatientID"),
        name: p.text("PatientName"),
        sex: p.text("PatientSex"),
        birth_date: p.text("PatientBirthDate"),
    };
    let study = StudySummary {
        uid: s.text("StudyInstanceUID"),
        date: s.text("StudyDate"),
        description: s.text("StudyDescription"),
        accession_number: s.text("AccessionNumber"),
    };
    let mut series: Vec<SeriesSummary> = doc
        .study
        .series
        .iter()
        .map(|(uid, s)| summarize_series(uid, s))
        .collect();
    series.sort_by_key(|s| s.number.unwrap_or(i64::MAX));
    (patient, study, series)
}

pub async fn get_image_set_summary(input: GetImageSetSummary) -> EngineResult<ImageSetSummary> {
    let GetImageSetSummary {
        datastore_id,
        image_set_id,
        version_id,
    } = input;
    let (props, doc) = tokio::try_join!(
        image_sets::get_image_set(
            datastore_id.clone(),
            image_set_id.clone(),
            version_id.clone()
        ),
        metadata::get_image_set_metadata(datastore_id.clone(), image_set_id.clone(), version_id),
    )?;
    let parsed = ImageSetMetadata::from_json(&doc.image_set_metadata).map_err(|e| {
        EngineError::new(
            ErrorType::Service,
            format!("metadata does not have the image set layout: {e}"),
        )
    })?;
    let (patient, study, series) = summarize(&parsed);
    Ok(ImageSetSummary {
        datastore_id,
        image_set_id,
        version_id: props.version_id,
        is_primary: props.is_primary,
        created_at: props.created_at,
        updated_at: props.updated_at,
        patient,
        study,
        series,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn instance(n: i64, z: f64, syntax: &str) -> Value {
        json!({"DICOM": {"InstanceNumber": n.to_string(), "Rows": 512, "Columns": 512,
                         "SliceThickness": "1.25",
                         "ImageOrientationPatient": [1, 0, 0, 0, 1, 0],
                         "ImagePositionPatient": [-250.0, -250.0, z]},
               "ImageFrames": [{"ID": format!("f{n}")}],
               "StoredTransferSyntaxUID": syntax})
    }

    /// A study of `series` series of `per_series` instances, UIDs as long as real ones.
    fn study(series: usize, per_series: usize, gap: impl Fn(usize) -> f64) -> ImageSetMetadata {
        let uid = |k: &str, i: usize| format!("1.2.826.0.1.3680043.8.498.{k}{i:0>40}");
        let mut all = serde_json::Map::new();
        for s in 0..series {
            let mut instances = serde_json::Map::new();
            let mut z = 0.0;
            for i in 0..per_series {
                instances.insert(
                    uid("9", s * 10_000 + i),
                    instance(i as i64 + 1, z, "1.2.840.10008.1.2.4.202"),
                );
                z += gap(i);
            }
            all.insert(
                uid("7", s),
                json!({"DICOM": {"Modality": "CT", "SeriesNumber": (s + 1).to_string(),
                                 "SeriesDescription": "AXIAL 1.25MM LUNG", "BodyPartExamined": "CHEST"},
                       "Instances": instances}),
            );
        }
        ImageSetMetadata::from_json(&json!({
            "SchemaVersion": "1.1", "ImageSetID": "x",
            "Patient": {"DICOM": {"PatientID": "P-000123", "PatientName": "DOE^JANE",
                                  "PatientSex": "F", "PatientBirthDate": "19700101"}},
            "Study": {"DICOM": {"StudyInstanceUID": uid("5", 0), "StudyDate": "20240105",
                                "StudyDescription": "CT CHEST W CONTRAST", "AccessionNumber": "ACC-12345"},
                      "Series": all}
        }))
        .unwrap()
    }

    #[test]
    fn spacing_from_positions_and_irregular_stacks() {
        let even = study(1, 40, |_| 2.5);
        let (_, _, s) = summarize(&even);
        assert_eq!(s[0].instances, 40);
        assert_eq!(s[0].frames, 40);
        assert_eq!(s[0].rows_x_columns, ["512x512"]);
        assert_eq!(s[0].slice_thickness, Some(1.25));
        assert_eq!(s[0].spacing_between_slices, Some(2.5));
        assert_eq!(s[0].spacing_source, Some(SpacingSource::Positions));
        // One gap of 10 mm among 2.5 mm ones: the median stays, the series is flagged.
        let gappy = study(1, 10, |i| if i == 4 { 10.0 } else { 2.5 });
        let (_, _, s) = summarize(&gappy);
        assert_eq!(s[0].spacing_between_slices, Some(2.5));
        assert_eq!(s[0].spacing_source, Some(SpacingSource::IrregularPositions));
        // A single image has no spacing.
        let (_, _, s) = summarize(&study(1, 1, |_| 1.0));
        assert_eq!(s[0].spacing_between_slices, None);
        assert_eq!(s[0].spacing_source, None);
    }

    #[test]
    fn the_attribute_wins_over_positions() {
        let mut doc = study(1, 3, |_| 2.0);
        let series = doc.study.series.values_mut().next().unwrap();
        for i in series.instances.values_mut() {
            i.attributes
                .dicom
                .insert("SpacingBetweenSlices".into(), json!("3.0"));
        }
        let (_, _, s) = summarize(&doc);
        assert_eq!(s[0].spacing_between_slices, Some(3.0));
        assert_eq!(s[0].spacing_source, Some(SpacingSource::Attribute));
    }

    #[test]
    fn a_large_study_summarizes_under_2_kb() {
        // 4 series of 300 instances each: the summary's size does not grow with instances.
        let doc = study(4, 300, |_| 1.25);
        let (patient, study, series) = summarize(&doc);
        let out = ImageSetSummary {
            datastore_id: "0".repeat(32),
            image_set_id: "1".repeat(32),
            version_id: "12".into(),
            is_primary: Some(true),
            created_at: Some(Timestamp("2024-01-05T10:15:00.000Z".into())),
            updated_at: Some(Timestamp("2024-01-05T10:15:00.000Z".into())),
            patient,
            study,
            series,
        };
        let text = serde_json::to_string(&out).unwrap();
        assert!(text.len() < 2048, "{} bytes: {text}", text.len());
        assert_eq!(out.series.len(), 4);
        assert_eq!(out.series[3].number, Some(4));
        assert_eq!(out.series[0].instances, 300);
        assert_eq!(out.patient.name.as_deref(), Some("DOE^JANE"));
        assert_eq!(out.study.accession_number.as_deref(), Some("ACC-12345"));
    }
}
