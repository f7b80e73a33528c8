//! `render_image_frame`: one frame as an image a model can see, addressed by image frame ID,
//! by series + SOP Instance UID (+ frame number), by series + instance number, or as the middle
//! slice of a series; plus what was used to render it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::order::{order_slices, SliceKey};
use super::voi::{self, WindowRequest};
use super::{encode, merged_attributes, render, ImageFormat, PixelDescription, PixelError};
use super::{RenderOptions, PRESETS};
use crate::engine::{frames, metadata, validate, EngineError, EngineResult, ErrorType};
use crate::model::constraints::Shape;
use crate::tools::schema::{one_of, shaped, within};
use crate::tools::EncodedImage;
use crate::workflows::reads;

pub const PRESET_NAMES: &[&str] = &[
    "lung",
    "mediastinum",
    "bone",
    "brain",
    "subdural",
    "stroke",
    "liver",
    "soft_tissue",
    "abdomen",
];

/// The VOI window a caller asks for, in the inputs of the tools that render (flattened).
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct WindowChoice {
    /// Window centre in modality units (Hounsfield for CT); with window_width.
    pub window_center: Option<f64>,
    /// Window width (> 0); with window_center.
    pub window_width: Option<f64>,
    /// A named CT window instead of centre/width.
    #[schemars(transform = one_of(PRESET_NAMES))]
    pub window_preset: Option<String>,
}

impl WindowChoice {
    /// Centre and width, or a preset, or neither (the image's own window, else automatic).
    pub fn request(&self) -> EngineResult<WindowRequest> {
        match (self.window_center, self.window_width, &self.window_preset) {
            (None, None, None) => Ok(WindowRequest::Default),
            (Some(center), Some(width), None) => {
                if !(width > 0.0 && width.is_finite() && center.is_finite()) {
                    return Err(EngineError::invalid(
                        "window_width",
                        "must be a number greater than 0",
                    ));
                }
                Ok(WindowRequest::Explicit(super::Window { center, width }))
            }
            (None, None, Some(name)) => PRESETS
                .iter()
                .find(|(n, _)| n == name)
                .map(|(n, w)| WindowRequest::Preset(n, *w))
                .ok_or_else(|| {
                    EngineError::invalid(
                        "window_preset",
                        format!("must be one of {}", PRESET_NAMES.join(", ")),
                    )
                }),
            (_, _, Some(_)) => Err(invalid(
                "give window_preset or window_center + window_width, not both",
            )),
            _ => Err(invalid("window_center and window_width go together")),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderImageFrame {
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub datastore_id: String,
    /// Optional when addressing by series: then the series' primary image set.
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub image_set_id: Option<String>,
    /// The frame to render (needs image_set_id).
    #[schemars(transform = shaped(Shape::ResourceId))]
    pub image_frame_id: Option<String>,
    /// With one of sop_instance_uid, instance_number or slice.
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub series_instance_uid: Option<String>,
    #[schemars(transform = shaped(Shape::DicomUid))]
    pub sop_instance_uid: Option<String>,
    /// 1-based frame of a multi-frame instance (default 1).
    #[schemars(transform = within(1..=i64::from(i32::MAX)))]
    pub frame_number: Option<i64>,
    #[schemars(transform = within(i64::from(i32::MIN)..=i64::from(i32::MAX)))]
    pub instance_number: Option<i64>,
    /// "middle": the middle slice of the series (ordered along the slice normal).
    #[schemars(transform = one_of(&["middle"]))]
    pub slice: Option<String>,
    #[serde(flatten)]
    pub window: WindowChoice,
    /// Longest side of the image in pixels (default 512; never enlarged).
    #[schemars(transform = within(16..=2048))]
    pub max_size: Option<i64>,
    /// png (default) or jpeg.
    #[schemars(transform = one_of(&["png", "jpeg"]))]
    pub format: Option<String>,
}

/// The modality LUT applied.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RescaleUsed {
    pub slope: f64,
    pub intercept: f64,
    /// Whether the image has RescaleSlope/RescaleIntercept (else the identity was used).
    pub from_image: bool,
}

/// The VOI window applied.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct WindowReport {
    pub center: f64,
    pub width: f64,
    /// LINEAR, LINEAR_EXACT or SIGMOID.
    pub function: &'static str,
    /// request, preset, image (its WindowCenter/Width) or auto (0.5-99.5 percentiles).
    pub source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preset: Option<&'static str>,
}

/// What was rendered and how; the image itself follows as image content.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct RenderedFrame {
    pub image_set_id: String,
    pub image_frame_id: String,
    pub series_instance_uid: String,
    pub sop_instance_uid: String,
    pub instance_number: Option<i64>,
    /// 1-based.
    pub frame_number: usize,
    pub number_of_frames: usize,
    pub rows: u32,
    pub columns: u32,
    pub bits_allocated: u16,
    pub bits_stored: u16,
    pub pixel_representation: u16,
    pub photometric_interpretation: String,
    pub stored_transfer_syntax_uid: String,
    /// image/png or image/jpeg.
    pub mime_type: &'static str,
    pub output_width: u32,
    pub output_height: u32,
    pub output_bytes: usize,
    /// JPEG 2000 resolution levels skipped because the output is much smaller.
    pub reduced_resolution_levels: u32,
    /// Null for colour images.
    pub rescale: Option<RescaleUsed>,
    /// Null for colour images.
    pub window: Option<WindowReport>,
    /// Decoded pixels against PixelDataChecksumFromBaseToFullResolution; null when the
    /// metadata has no checksum for the decoded resolution.
    pub checksum_matched: Option<bool>,
    pub decode_ms: f64,
    /// For slice "middle": the slice's 1-based place in the series' slice order, and their count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slice_position: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series_slices: Option<usize>,
    /// Things worth knowing (a checksum mismatch, a preset on a non-CT image).
    pub warnings: Vec<String>,
}

const ADDRESSING: &str = "give image_frame_id (with image_set_id), or series_instance_uid with \
     one of sop_instance_uid (+ frame_number), instance_number or slice=\"middle\"";

fn invalid(message: impl Into<String>) -> EngineError {
    EngineError::new(ErrorType::Validation, message)
}

fn pixel_error(e: PixelError) -> EngineError {
    let (kind, code) = match &e {
        PixelError::Unsupported(_) | PixelError::NotAnImage(_) => {
            (ErrorType::Validation, "UnsupportedPixelData")
        }
        PixelError::Corrupt(_) => (ErrorType::Service, "CorruptImageFrame"),
        PixelError::NotFound(_) => (ErrorType::NotFound, "ResourceNotFoundException"),
        PixelError::Encode(_) => (ErrorType::Server, "EncodeFailed"),
    };
    EngineError {
        code: Some(code.into()),
        ..EngineError::new(kind, e.to_string())
    }
}

/// The frame the caller means, once the image set's metadata is known.
enum Target {
    FrameId(String),
    Sop { sop: String, frame: usize },
    InstanceNumber { number: i64, frame: usize },
    Middle,
}

fn target(input: &RenderImageFrame) -> EngineResult<Target> {
    let selectors = [
        input.sop_instance_uid.is_some(),
        input.instance_number.is_some(),
        input.slice.is_some(),
    ];
    let chosen = selectors.iter().filter(|s| **s).count();
    let frame = usize::try_from(input.frame_number.unwrap_or(1).max(1)).unwrap_or(1);
    if let Some(id) = &input.image_frame_id {
        if chosen > 0 || input.frame_number.is_some() {
            return Err(invalid(format!(
                "image_frame_id names one frame: leave out sop_instance_uid, instance_number, \
                 slice and frame_number ({ADDRESSING})"
            )));
        }
        if input.image_set_id.is_none() {
            return Err(invalid(format!(
                "image_frame_id needs image_set_id ({ADDRESSING})"
            )));
        }
        return Ok(Target::FrameId(id.clone()));
    }
    if input.series_instance_uid.is_none() || chosen != 1 {
        return Err(invalid(format!("which frame? {ADDRESSING}")));
    }
    if input.slice.is_some() && input.frame_number.is_some() {
        return Err(invalid(
            "frame_number goes with sop_instance_uid or instance_number, not slice",
        ));
    }
    Ok(match (&input.sop_instance_uid, input.instance_number) {
        (Some(sop), _) => Target::Sop {
            sop: sop.clone(),
            frame,
        },
        (None, Some(number)) => Target::InstanceNumber { number, frame },
        _ => Target::Middle,
    })
}

/// Where the chosen frame is in the metadata document.
struct Located {
    series_uid: String,
    sop_uid: String,
    /// 0-based.
    frame_index: usize,
    slice: Option<(usize, usize)>,
}

fn instances(doc: &Value, series_uid: &str) -> EngineResult<serde_json::Map<String, Value>> {
    doc["Study"]["Series"]
        .get(series_uid)
        .and_then(|s| s.get("Instances"))
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| {
            EngineError::new(
                ErrorType::NotFound,
                format!("series {series_uid} is not in this image set"),
            )
        })
}

fn frame_count(instance: &Value) -> usize {
    instance["ImageFrames"].as_array().map_or(0, Vec::len)
}

fn locate(doc: &Value, target: &Target, series: Option<&str>) -> EngineResult<Located> {
    let series_uid = series.unwrap_or_default().to_string();
    let checked = |sop_uid: String, frame: usize, instance: &Value| -> EngineResult<Located> {
        let count = frame_count(instance);
        if frame == 0 || frame > count {
            return Err(EngineError::invalid(
                "frame_number",
                format!(
                    "instance {sop_uid} has {count} frame(s); frame_number {frame} is out of range"
                ),
            ));
        }
        Ok(Located {
            series_uid: series_uid.clone(),
            sop_uid,
            frame_index: frame - 1,
            slice: None,
        })
    };
    match target {
        Target::FrameId(id) => {
            let all = doc["Study"]["Series"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            for (s_uid, s) in &all {
                for (sop, inst) in s["Instances"].as_object().into_iter().flatten() {
                    let frames = inst["ImageFrames"]
                        .as_array()
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    if let Some(i) = frames
                        .iter()
                        .position(|f| f["ID"].as_str() == Some(id.as_str()))
                    {
                        return Ok(Located {
                            series_uid: s_uid.clone(),
                            sop_uid: sop.clone(),
                            frame_index: i,
                            slice: None,
                        });
                    }
                }
            }
            Err(EngineError::new(
                ErrorType::NotFound,
                format!("image frame {id} is not in this image set"),
            ))
        }
        Target::Sop { sop, frame } => {
            let insts = instances(doc, &series_uid)?;
            let inst = insts.get(sop).ok_or_else(|| {
                EngineError::new(
                    ErrorType::NotFound,
                    format!("instance {sop} is not in series {series_uid} of this image set"),
                )
            })?;
            checked(sop.clone(), *frame, inst)
        }
        Target::InstanceNumber { number, frame } => {
            let insts = instances(doc, &series_uid)?;
            let found = insts.iter().find(|(sop, _)| {
                merged_attributes(doc, &series_uid, sop)
                    .and_then(|a| super::describe::number(&a, "InstanceNumber"))
                    == Some(*number as f64)
            });
            let (sop, inst) = found.ok_or_else(|| {
                EngineError::new(
                    ErrorType::NotFound,
                    format!("no instance with InstanceNumber {number} in series {series_uid}"),
                )
            })?;
            checked(sop.clone(), *frame, inst)
        }
        Target::Middle => {
            let insts = instances(doc, &series_uid)?;
            let with_frames: Vec<(&String, &Value)> =
                insts.iter().filter(|(_, i)| frame_count(i) > 0).collect();
            if with_frames.is_empty() {
                return Err(EngineError::new(
                    ErrorType::NotFound,
                    format!("series {series_uid} has no image frames"),
                ));
            }
            let keys: Vec<SliceKey> = with_frames
                .iter()
                .map(|(sop, _)| {
                    merged_attributes(doc, &series_uid, sop)
                        .map(|a| SliceKey::from_attributes(&a))
                        .unwrap_or_default()
                })
                .collect();
            let order = order_slices(&keys);
            let (sop, inst) = with_frames[order[order.len() / 2]];
            // One multi-frame instance: its middle frame.
            let frames = frame_count(inst);
            let (index, count, frame_index) = if with_frames.len() == 1 && frames > 1 {
                (frames / 2, frames, frames / 2)
            } else {
                (order.len() / 2, order.len(), 0)
            };
            Ok(Located {
                series_uid: series_uid.clone(),
                sop_uid: sop.clone(),
                frame_index,
                slice: Some((index + 1, count)),
            })
        }
    }
}

pub async fn render_image_frame(
    input: RenderImageFrame,
) -> EngineResult<(RenderedFrame, Vec<EncodedImage>)> {
    validate::id("datastore_id", &input.datastore_id)?;
    let target = target(&input)?;
    let window = input.window.request()?;
    let max_size = input.max_size.unwrap_or(512).clamp(16, 2048) as u32;
    let format = match input.format.as_deref() {
        None | Some("png") => ImageFormat::Png,
        Some("jpeg") => ImageFormat::Jpeg,
        Some(_) => return Err(EngineError::invalid("format", "must be png or jpeg")),
    };
    let datastore_id = input.datastore_id.clone();
    let image_set_id = match &input.image_set_id {
        Some(id) => {
            validate::id("image_set_id", id)?;
            id.clone()
        }
        None => {
            let series = input.series_instance_uid.clone().unwrap_or_default();
            let primary =
                reads::get_series_primary_image_set(datastore_id.clone(), series.clone()).await?;
            primary.image_set.map(|s| s.image_set_id).ok_or_else(|| {
                EngineError::new(
                    ErrorType::NotFound,
                    format!("series {series} has no primary image set in this data store"),
                )
            })?
        }
    };
    let doc = metadata::get_image_set_metadata(datastore_id.clone(), image_set_id.clone(), None)
        .await?
        .image_set_metadata;
    let located = locate(&doc, &target, input.series_instance_uid.as_deref())?;
    let desc = PixelDescription::from_metadata(&doc, &located.series_uid, &located.sop_uid)
        .map_err(pixel_error)?;
    let frame_id = desc.frames[located.frame_index].id.clone();
    let (stored, _content_type) =
        frames::fetch_frame(&datastore_id, &image_set_id, &frame_id).await?;
    let options = RenderOptions { window, max_size };
    let work_desc = desc.clone();
    let frame_index = located.frame_index;
    // Decoding is CPU work: keep it off the runtime's I/O threads.
    let (rendered, bytes) = tokio::task::spawn_blocking(move || {
        let rendered = render(&stored, &work_desc, frame_index, &options)?;
        let bytes = encode(&rendered.raster, format)?;
        Ok::<_, PixelError>((rendered, bytes))
    })
    .await
    .map_err(|e| EngineError::server(format!("rendering stopped: {e}")))?
    .map_err(pixel_error)?;

    let mut warnings = Vec::new();
    if rendered.checksum_matched == Some(false) {
        warnings.push(
            "the decoded pixels do not match PixelDataChecksumFromBaseToFullResolution: the frame \
             may be corrupt"
                .to_string(),
        );
    }
    let window = rendered.window.map(|w| WindowReport {
        center: w.window.center,
        width: w.window.width,
        function: w.function.as_str(),
        source: w.source.as_str(),
        preset: match w.source {
            voi::WindowSource::Preset(name) => Some(name),
            _ => None,
        },
    });
    if window.as_ref().is_some_and(|w| w.preset.is_some())
        && desc.modality.as_deref().is_some_and(|m| m != "CT")
    {
        warnings.push("window presets are in Hounsfield units (CT); this image is not CT".into());
    }
    let monochrome = rendered.window.is_some();
    let out = RenderedFrame {
        image_set_id,
        image_frame_id: frame_id,
        series_instance_uid: located.series_uid,
        sop_instance_uid: located.sop_uid,
        instance_number: desc.instance_number,
        frame_number: located.frame_index + 1,
        number_of_frames: desc.frames.len(),
        rows: desc.info.rows,
        columns: desc.info.columns,
        bits_allocated: desc.info.bits_allocated,
        bits_stored: desc.info.bits_stored,
        pixel_representation: desc.info.pixel_representation,
        photometric_interpretation: desc.info.photometric.clone(),
        stored_transfer_syntax_uid: desc.transfer_syntax_uid.clone(),
        mime_type: format.mime_type(),
        output_width: rendered.raster.width,
        output_height: rendered.raster.height,
        output_bytes: bytes.len(),
        reduced_resolution_levels: rendered.reduced_levels,
        rescale: monochrome.then_some(RescaleUsed {
            slope: rendered.rescale.slope,
            intercept: rendered.rescale.intercept,
            from_image: desc.has_rescale,
        }),
        window,
        checksum_matched: rendered.checksum_matched,
        decode_ms: (rendered.decode_ms * 100.0).round() / 100.0,
        slice_position: located.slice.map(|s| s.0),
        series_slices: located.slice.map(|s| s.1),
        warnings,
    };
    let image = EncodedImage {
        mime_type: format.mime_type(),
        data: bytes,
    };
    Ok((out, vec![image]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(v: Value) -> RenderImageFrame {
        let mut base = json!({"datastore_id": "d".repeat(32)});
        base.as_object_mut()
            .unwrap()
            .extend(v.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn addressing_must_name_one_frame() {
        for bad in [
            json!({}),
            json!({"series_instance_uid": "1.2"}),
            json!({"series_instance_uid": "1.2", "sop_instance_uid": "1.3", "instance_number": 2}),
            json!({"image_frame_id": "f"}),
            json!({"image_set_id": "i", "image_frame_id": "f", "frame_number": 2}),
            json!({"series_instance_uid": "1.2", "slice": "middle", "frame_number": 2}),
        ] {
            let e = target(&input(bad.clone())).err().unwrap();
            assert_eq!(e.kind, ErrorType::Validation, "{bad}");
        }
        assert!(matches!(
            target(&input(
                json!({"series_instance_uid": "1.2", "instance_number": 3})
            )),
            Ok(Target::InstanceNumber {
                number: 3,
                frame: 1
            })
        ));
        let window = |v| input(v).window.request();
        let e = window(json!({"window_center": 40.0})).unwrap_err();
        assert!(e.message.contains("together"), "{}", e.message);
        let e = window(json!({"window_center": 40.0, "window_width": 0.0})).unwrap_err();
        assert!(e.message.contains("window_width"), "{}", e.message);
        assert!(window(json!({"window_preset": "nope"})).is_err());
        assert!(matches!(
            window(json!({"window_preset": "lung"})),
            Ok(WindowRequest::Preset("lung", _))
        ));
        assert_eq!(PRESET_NAMES.len(), PRESETS.len());
    }

    #[test]
    fn middle_slice_and_frame_ranges() {
        let inst = |z: f64, n: i64| {
            json!({"DICOM": {"ImagePositionPatient": [0, 0, z], "InstanceNumber": n,
                             "ImageOrientationPatient": [1, 0, 0, 0, 1, 0]},
                   "ImageFrames": [{"ID": format!("f{n}")}]})
        };
        let doc = json!({"Study": {"Series": {"1.2": {"DICOM": {}, "Instances": {
            "a": inst(30.0, 1), "b": inst(10.0, 2), "c": inst(20.0, 3)}}}}});
        let l = locate(&doc, &Target::Middle, Some("1.2")).unwrap();
        assert_eq!((l.sop_uid.as_str(), l.slice), ("c", Some((2, 3))));
        let l = locate(&doc, &Target::FrameId("f2".into()), None).unwrap();
        assert_eq!((l.series_uid.as_str(), l.sop_uid.as_str()), ("1.2", "b"));
        let e = locate(
            &doc,
            &Target::Sop {
                sop: "a".into(),
                frame: 2,
            },
            Some("1.2"),
        )
        .err()
        .unwrap();
        assert!(e.message.contains("out of range"), "{}", e.message);
        let e = locate(
            &doc,
            &Target::InstanceNumber {
                number: 9,
                frame: 1,
            },
            Some("1.2"),
        )
        .err()
        .unwrap();
        assert_eq!(e.kind, ErrorType::NotFound);
    }
}
