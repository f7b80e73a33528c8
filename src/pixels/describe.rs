//! The pixel description of one instance, read from HealthImaging metadata: the image pixel
//! attributes, rescale, the image's own windows and VOI LUT function, palette LUTs, and its
//! frames (IDs and checksums).

use base64::Engine as _;
use serde_json::{Map, Value};

use super::PixelError;
use crate::dicom::decode::PixelInfo;

/// A window (VOI LUT function parameters).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub center: f64,
    pub width: f64,
}

/// VOI LUT Function (0028,1056).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VoiFunction {
    #[default]
    Linear,
    LinearExact,
    Sigmoid,
}

impl VoiFunction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Linear => "LINEAR",
            Self::LinearExact => "LINEAR_EXACT",
            Self::Sigmoid => "SIGMOID",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "LINEAR" => Some(Self::Linear),
            "LINEAR_EXACT" => Some(Self::LinearExact),
            "SIGMOID" => Some(Self::Sigmoid),
            _ => None,
        }
    }
}

/// Modality LUT as Rescale Slope / Intercept (identity when the image has none).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rescale {
    pub slope: f64,
    pub intercept: f64,
}

impl Rescale {
    pub const IDENTITY: Rescale = Rescale {
        slope: 1.0,
        intercept: 0.0,
    };

    pub fn is_identity(&self) -> bool {
        *self == Self::IDENTITY
    }
}

/// One palette colour LUT (descriptor + data), already read as 16-bit entries.
#[derive(Debug, Clone, PartialEq)]
pub struct PaletteLut {
    /// The first stored value mapped (values below map to entry 0, above to the last).
    pub first_mapped: i64,
    /// Bits per entry (8 or 16).
    pub bits: u16,
    pub entries: Vec<u16>,
}

/// Red, green and blue palette LUTs of a PALETTE COLOR image.
#[derive(Debug, Clone, PartialEq)]
pub struct Palette {
    pub red: PaletteLut,
    pub green: PaletteLut,
    pub blue: PaletteLut,
}

/// One frame of the instance as the metadata lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameRef {
    pub id: String,
    /// `PixelDataChecksumFromBaseToFullResolution`: (width, height, CRC32) per resolution.
    pub checksums: Vec<(u32, u32, u32)>,
}

/// Everything needed to decode and display the frames of one instance.
#[derive(Debug, Clone, PartialEq)]
pub struct PixelDescription {
    pub sop_instance_uid: String,
    pub instance_number: Option<i64>,
    pub modality: Option<String>,
    pub info: PixelInfo,
    pub planar_configuration: u16,
    pub transfer_syntax_uid: String,
    pub rescale: Rescale,
    /// Rescale Slope/Intercept were present.
    pub has_rescale: bool,
    /// The image's own windows (WindowCenter/WindowWidth pairs), first is the default.
    pub windows: Vec<Window>,
    pub voi_function: VoiFunction,
    /// `None` unless PALETTE COLOR with its LUTs in the metadata (see `palette_error`).
    pub palette: Option<Palette>,
    /// Why a PALETTE COLOR image has no usable palette.
    pub palette_error: Option<String>,
    pub frames: Vec<FrameRef>,
}

/// The attributes of one instance merged with those of its series, study and patient (the
/// instance's own win), as a metadata document holds them.
pub fn merged_attributes(
    doc: &Value,
    series_uid: &str,
    sop_uid: &str,
) -> Option<Map<String, Value>> {
    let dicom = |v: Option<&Value>| {
        v.and_then(|v| v.get("DICOM"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let series = doc.get("Study")?.get("Series")?.get(series_uid)?;
    let instance = series.get("Instances")?.get(sop_uid)?;
    let mut out = dicom(doc.get("Patient"));
    out.extend(dicom(doc.get("Study")));
    out.extend(dicom(Some(series)));
    out.extend(dicom(Some(instance)));
    Some(out)
}

/// The first value of an attribute (arrays give their first element).
fn first(attrs: &Map<String, Value>, keyword: &str) -> Option<Value> {
    match attrs.get(keyword)? {
        Value::Array(a) => a.first().cloned(),
        Value::Null => None,
        v => Some(v.clone()),
    }
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        // DS/IS values, possibly multi-valued in one string ("40\400").
        Value::String(s) => s.split('\\').next()?.trim().parse().ok(),
        _ => None,
    }
}

/// All numeric values of an attribute (a number, a string of `\`-separated numbers, or an
/// array of either).
pub fn numbers(attrs: &Map<String, Value>, keyword: &str) -> Vec<f64> {
    let one = |v: &Value| -> Vec<f64> {
        match v {
            Value::Number(n) => n.as_f64().into_iter().collect(),
            Value::String(s) => s
                .split('\\')
                .filter_map(|p| p.trim().parse().ok())
                .collect(),
            _ => Vec::new(),
        }
    };
    match attrs.get(keyword) {
        Some(Value::Array(a)) => a.iter().flat_map(one).collect(),
        Some(v) => one(v),
        None => Vec::new(),
    }
}

pub fn number(attrs: &Map<String, Value>, keyword: &str) -> Option<f64> {
    first(attrs, keyword).as_ref().and_then(number_of)
}

fn text(attrs: &Map<String, Value>, keyword: &str) -> Option<String> {
    match first(attrs, keyword)? {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn small(attrs: &Map<String, Value>, keyword: &str, default: u16) -> u16 {
    number(attrs, keyword)
        .filter(|v| (0.0..=65535.0).contains(v))
        .map_or(default, |v| v as u16)
}

impl PixelDescription {
    /// The description of instance `sop_uid` of series `series_uid` in a metadata document.
    pub fn from_metadata(doc: &Value, series_uid: &str, sop_uid: &str) -> Result<Self, PixelError> {
        let attrs = merged_attributes(doc, series_uid, sop_uid).ok_or_else(|| {
            PixelError::NotFound(format!(
                "no instance {sop_uid} in series {series_uid} of this image set"
            ))
        })?;
        let instance = &doc["Study"]["Series"][series_uid]["Instances"][sop_uid];
        let ts = instance
            .get("StoredTransferSyntaxUID")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let frames = instance
            .get("ImageFrames")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        Self::from_attributes(sop_uid, &attrs, ts, frames)
    }

    /// The description from merged attributes, the stored transfer syntax and `ImageFrames`.
    pub fn from_attributes(
        sop_uid: &str,
        attrs: &Map<String, Value>,
        stored_transfer_syntax_uid: &str,
        image_frames: &[Value],
    ) -> Result<Self, PixelError> {
        let rows = number(attrs, "Rows").unwrap_or(0.0) as u32;
        let columns = number(attrs, "Columns").unwrap_or(0.0) as u32;
        if rows == 0 || columns == 0 {
            return Err(PixelError::NotAnImage(format!(
                "instance {sop_uid} has no Rows/Columns (not an image)"
            )));
        }
        let bits_allocated = small(attrs, "BitsAllocated", 16);
        let info = PixelInfo {
            rows,
            columns,
            samples_per_pixel: small(attrs, "SamplesPerPixel", 1),
            bits_allocated,
            bits_stored: small(attrs, "BitsStored", bits_allocated),
            pixel_representation: small(attrs, "PixelRepresentation", 0),
            photometric: text(attrs, "PhotometricInterpretation")
                .unwrap_or_else(|| "MONOCHROME2".into()),
        };
        let slope = number(attrs, "RescaleSlope");
        let intercept = number(attrs, "RescaleIntercept");
        let rescale = Rescale {
            slope: slope.filter(|s| *s != 0.0).unwrap_or(1.0),
            intercept: intercept.unwrap_or(0.0),
        };
        let centers = numbers(attrs, "WindowCenter");
        let widths = numbers(attrs, "WindowWidth");
        let windows = centers
            .iter()
            .zip(&widths)
            .filter(|(_, w)| **w > 0.0)
            .map(|(c, w)| Window {
                center: *c,
                width: *w,
            })
            .collect();
        let voi_function = text(attrs, "VOILUTFunction")
            .and_then(|s| VoiFunction::parse(&s))
            .unwrap_or_default();
        let (palette, palette_error) = if info.photometric == "PALETTE COLOR" {
            match palette(attrs) {
                Ok(p) => (Some(p), None),
                Err(e) => (None, Some(e)),
            }
        } else {
            (None, None)
        };
        let frames = image_frames
            .iter()
            .map(|f| FrameRef {
                id: f
                    .get("ID")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .into(),
                checksums: f
                    .get("PixelDataChecksumFromBaseToFullResolution")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|c| {
                                let n = |k: &str| c.get(k).and_then(Value::as_u64);
                                Some((
                                    n("Width")? as u32,
                                    n("Height")? as u32,
                                    n("Checksum")? as u32,
                                ))
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect();
        Ok(Self {
            sop_instance_uid: sop_uid.into(),
            instance_number: number(attrs, "InstanceNumber").map(|n| n as i64),
            modality: text(attrs, "Modality"),
            info,
            planar_configuration: small(attrs, "PlanarConfiguration", 0),
            transfer_syntax_uid: stored_transfer_syntax_uid.trim().into(),
            rescale,
            has_rescale: slope.is_some() || intercept.is_some(),
            windows,
            voi_function,
            palette,
            palette_error,
            frames,
        })
    }

    /// Monochrome (MONOCHROME1 or MONOCHROME2): the modality and VOI LUTs apply.
    pub fn is_monochrome(&self) -> bool {
        self.info.samples_per_pixel <= 1 && self.info.photometric.starts_with("MONOCHROME")
    }
}

/// The three palette LUTs from descriptors and data (OW data arrives base64-encoded).
fn palette(attrs: &Map<String, Value>) -> Result<Palette, String> {
    let lut = |color: &str| -> Result<PaletteLut, String> {
        let descriptor = numbers(attrs, &format!("{color}PaletteColorLookupTableDescriptor"));
        let [count, first_mapped, bits] = descriptor[..] else {
            return Err(format!(
                "PALETTE COLOR needs {color}PaletteColorLookupTableDescriptor (3 values) in the metadata"
            ));
        };
        let count = if count <= 0.0 { 65536 } else { count as usize };
        let bits = bits as u16;
        let key = format!("{color}PaletteColorLookupTableData");
        let data = match attrs.get(&key) {
            Some(Value::String(b64)) => base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|e| format!("{key} is not base64 ({e})"))?,
            _ => {
                return Err(format!(
                "PALETTE COLOR needs {key} in the metadata (segmented palettes are not supported)"
            ))
            }
        };
        // 8-bit entries may come one per byte; otherwise they are 16-bit little-endian words.
        let entries: Vec<u16> = if bits <= 8 && data.len() == count {
            data.iter().map(|&b| u16::from(b)).collect()
        } else {
            data.chunks_exact(2)
                .map(|w| u16::from_le_bytes([w[0], w[1]]))
                .collect()
        };
        if entries.len() < count {
            return Err(format!(
                "{key} has {} entries, its descriptor says {count}",
                entries.len()
            ));
        }
        Ok(PaletteLut {
            // The first mapped value is US or SS depending on PixelRepresentation.
            first_mapped: first_mapped as i64,
            bits,
            entries: entries[..count].to_vec(),
        })
    };
    Ok(Palette {
        red: lut("Red")?,
        green: lut("Green")?,
        blue: lut("Blue")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_attributes_of_every_level_and_frames() {
        let doc = json!({
            "Patient": {"DICOM": {"PatientID": "P"}},
            "Study": {"DICOM": {"StudyInstanceUID": "1"}, "Series": {"1.2": {
                "DICOM": {"Modality": "CT", "WindowCenter": "99"},
                "Instances": {"1.2.3": {
                    "DICOM": {"Rows": 4, "Columns": 3, "BitsAllocated": 16, "BitsStored": 12,
                              "PixelRepresentation": 1, "PhotometricInterpretation": "MONOCHROME1",
                              "RescaleSlope": "2", "RescaleIntercept": "-1024",
                              "WindowCenter": ["40", "-600"], "WindowWidth": ["400", "1500"],
                              "VOILUTFunction": "SIGMOID", "InstanceNumber": "7"},
                    "StoredTransferSyntaxUID": "1.2.840.10008.1.2.4.202",
                    "ImageFrames": [{"ID": "f1", "PixelDataChecksumFromBaseToFullResolution":
                        [{"Width": 3, "Height": 4, "Checksum": 1234}]}]}}}}}
        });
        let d = PixelDescription::from_metadata(&doc, "1.2", "1.2.3").unwrap();
        assert_eq!(
            (d.info.rows, d.info.columns, d.info.bits_stored),
            (4, 3, 12)
        );
        assert_eq!(d.info.pixel_representation, 1);
        assert_eq!(
            d.rescale,
            Rescale {
                slope: 2.0,
                intercept: -1024.0
            }
        );
        assert!(d.has_rescale);
        assert_eq!(
            d.windows,
            vec![
                Window {
                    center: 40.0,
                    width: 400.0
                },
                Window {
                    center: -600.0,
                    width: 1500.0
                }
            ]
        );
        assert_eq!(d.voi_function, VoiFunction::Sigmoid);
        assert_eq!(d.modality.as_deref(), Some("CT"));
        assert_eq!(d.instance_number, Some(7));
        assert_eq!(d.frames[0].id, "f1");
        assert_eq!(d.frames[0].checksums, vec![(3, 4, 1234)]);
        assert!(d.is_monochrome());
        assert!(matches!(
            PixelDescription::from_metadata(&doc, "1.2", "9"),
            Err(PixelError::NotFound(_))
        ));
    }

    #[test]
    fn palette_from_descriptors_and_base64_data() {
        let words = |v: &[u16]| {
            base64::engine::general_purpose::STANDARD
                .encode(v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>())
        };
        let mut attrs = Map::new();
        attrs.insert("Rows".into(), json!(1));
        attrs.insert("Columns".into(), json!(1));
        attrs.insert("PhotometricInterpretation".into(), json!("PALETTE COLOR"));
        for c in ["Red", "Green", "Blue"] {
            attrs.insert(
                format!("{c}PaletteColorLookupTableDescriptor"),
                json!([2, 10, 16]),
            );
            attrs.insert(
                format!("{c}PaletteColorLookupTableData"),
                json!(words(&[0, 65535])),
            );
        }
        let d = PixelDescription::from_attributes("x", &attrs, "1.2.840.10008.1.2.1", &[]).unwrap();
        let p = d.palette.unwrap();
        assert_eq!(p.red.entries, vec![0, 65535]);
        assert_eq!((p.green.first_mapped, p.blue.bits), (10, 16));
        attrs.remove("BluePaletteColorLookupTableData");
        let d = PixelDescription::from_attributes("x", &attrs, "1.2.840.10008.1.2.1", &[]).unwrap();
        assert!(d.palette.is_none());
        assert!(d
            .palette_error
            .unwrap()
            .contains("BluePaletteColorLookupTableData"));
    }
}
