//! The viewer pipeline for one frame, in a radiology viewer's order: decode, modality LUT
//! (rescale), VOI (window), MONOCHROME1 inversion; colour models to RGB (RGB, YBR_FULL,
//! YBR_FULL_422, PALETTE COLOR); then downscale to the requested size.

use std::time::Instant;

use super::describe::{PixelDescription, Rescale};
use super::frame::{decode_stored, reduce_for};
use super::raster::{fit, Raster};
use super::voi::{self, WindowRequest, WindowUsed};
use super::PixelError;
use crate::dicom::decode::DecodedFrame;

/// What to render.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOptions {
    pub window: WindowRequest,
    /// Longest side of the output, in pixels (never enlarged).
    pub max_size: u32,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            window: WindowRequest::Default,
            max_size: 512,
        }
    }
}

/// One rendered frame and what was used to render it.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub raster: Raster,
    /// Size of the decoded frame (smaller than Rows x Columns when JPEG 2000 resolution levels
    /// were dropped).
    pub decoded_width: u32,
    pub decoded_height: u32,
    /// JPEG 2000 resolution levels not decoded.
    pub reduced_levels: u32,
    /// The window, for monochrome frames.
    pub window: Option<WindowUsed>,
    /// The modality LUT applied (identity for colour frames).
    pub rescale: Rescale,
    /// Whether the decoded pixels match `PixelDataChecksumFromBaseToFullResolution`; `None`
    /// when the metadata has no checksum for the decoded size.
    pub checksum_matched: Option<bool>,
    pub decode_ms: f64,
}

/// Decodes frame `frame_index` (0-based) of the instance `desc` from its stored bytes and
/// renders it to an 8-bit raster.
pub fn render(
    stored: &[u8],
    desc: &PixelDescription,
    frame_index: usize,
    options: &RenderOptions,
) -> Result<Rendered, PixelError> {
    if desc.info.photometric == "PALETTE COLOR" && desc.palette.is_none() {
        let why = desc.palette_error.clone().unwrap_or_default();
        return Err(PixelError::Unsupported(why));
    }
    let started = Instant::now();
    let reduced_levels = reduce_for(stored, desc, options.max_size);
    let decoded = decode_stored(stored, desc, reduced_levels)?;
    let decode_ms = started.elapsed().as_secs_f64() * 1000.0;
    let checksum_matched = if reduced_levels == 0 {
        checksum(&decoded, desc, frame_index)
    } else {
        None
    };
    let (full, window, rescale) = to_raster(&decoded, desc, &options.window)?;
    let (w, h) = fit(full.width, full.height, options.max_size);
    Ok(Rendered {
        raster: full.downscale(w, h),
        decoded_width: decoded.width,
        decoded_height: decoded.height,
        reduced_levels,
        window,
        rescale,
        checksum_matched,
        decode_ms,
    })
}

/// The decoded samples compared with the checksum the metadata lists for that size.
fn checksum(decoded: &DecodedFrame, desc: &PixelDescription, frame_index: usize) -> Option<bool> {
    let frame = desc.frames.get(frame_index)?;
    let (_, _, expected) = frame
        .checksums
        .iter()
        .find(|(w, h, _)| (*w, *h) == (decoded.width, decoded.height))?;
    Some(decoded.crc32(desc.info.bits_allocated) == *expected)
}

/// The full-size 8-bit raster of a decoded frame, with the window and rescale used.
pub fn to_raster(
    decoded: &DecodedFrame,
    desc: &PixelDescription,
    request: &WindowRequest,
) -> Result<(Raster, Option<WindowUsed>, Rescale), PixelError> {
    let (width, height) = (decoded.width, decoded.height);
    let photometric = desc.info.photometric.as_str();
    let raster = |channels: u8, data: Vec<u8>| Raster {
        width,
        height,
        channels,
        data,
    };
    if decoded.samples_per_pixel == 1 && photometric == "PALETTE COLOR" {
        let palette = desc
            .palette
            .as_ref()
            .ok_or_else(|| PixelError::Unsupported("PALETTE COLOR without palette".into()))?;
        let mut data = Vec::with_capacity(decoded.samples.len() * 3);
        for &v in &decoded.samples {
            for lut in [&palette.red, &palette.green, &palette.blue] {
                let i = (i64::from(v) - lut.first_mapped).clamp(0, lut.entries.len() as i64 - 1);
                let e = lut.entries[i as usize];
                data.push(if lut.bits > 8 {
                    (e >> 8) as u8
                } else {
                    e as u8
                });
            }
        }
        return Ok((raster(3, data), None, Rescale::IDENTITY));
    }
    if decoded.samples_per_pixel == 1 {
        if !photometric.starts_with("MONOCHROME") && !photometric.is_empty() {
            return Err(PixelError::Unsupported(format!(
                "one sample per pixel with PhotometricInterpretation {photometric}"
            )));
        }
        let Rescale { slope, intercept } = desc.rescale;
        let values: Vec<f64> = decoded
            .samples
            .iter()
            .map(|&v| f64::from(v) * slope + intercept)
            .collect();
        let used = voi::choose(request, desc, &values);
        let map = voi::mapper(&used);
        let invert = photometric == "MONOCHROME1";
        let data = values
            .iter()
            .map(|&x| {
                let y = map(x).round() as u8;
                if invert {
                    255 - y
                } else {
                    y
                }
            })
            .collect();
        return Ok((raster(1, data), Some(used), desc.rescale));
    }
    if decoded.samples_per_pixel != 3 {
        return Err(PixelError::Unsupported(format!(
            "{} samples per pixel",
            decoded.samples_per_pixel
        )));
    }
    // Colour samples wider than 8 bits keep their top 8 bits.
    let shift = desc.info.bits_stored.saturating_sub(8).min(24);
    let to8 = |v: i32| (v.max(0) >> shift).min(255) as u8;
    let data: Vec<u8> = match photometric {
        // JPEG 2000's own colour transforms were undone by the decoder.
        "RGB" | "YBR_RCT" | "YBR_ICT" => decoded.samples.iter().map(|&v| to8(v)).collect(),
        "YBR_FULL" | "YBR_FULL_422" => decoded
            .samples
            .chunks_exact(3)
            .flat_map(|p| ybr_full_to_rgb(to8(p[0]), to8(p[1]), to8(p[2])))
            .collect(),
        other => {
            return Err(PixelError::Unsupported(format!(
                "PhotometricInterpretation {other}"
            )))
        }
    };
    Ok((raster(3, data), None, Rescale::IDENTITY))
}

/// YCbCr (full range, PS3.3 C.7.6.3.1.2) to RGB.
fn ybr_full_to_rgb(y: u8, cb: u8, cr: u8) -> [u8; 3] {
    let (y, cb, cr) = (f64::from(y), f64::from(cb) - 128.0, f64::from(cr) - 128.0);
    let c = |v: f64| v.round().clamp(0.0, 255.0) as u8;
    [
        c(y + 1.402 * cr),
        c(y - 0.344136 * cb - 0.714136 * cr),
        c(y + 1.772 * cb),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pixels::describe::{FrameRef, VoiFunction, Window};
    use crate::pixels::raster::{encode, ImageFormat};
    use crate::pixels::voi::WindowSource;
    use serde_json::{json, Map, Value};

    fn ct(rows: u32, columns: u32, extra: Value) -> PixelDescription {
        let mut attrs: Map<String, Value> = serde_json::from_value(json!({
            "Rows": rows, "Columns": columns, "BitsAllocated": 16, "BitsStored": 16,
            "PixelRepresentation": 1, "PhotometricInterpretation": "MONOCHROME2",
            "RescaleSlope": "1", "RescaleIntercept": "-1024", "Modality": "CT"
        }))
        .unwrap();
        attrs.extend(serde_json::from_value::<Map<String, Value>>(extra).unwrap());
        PixelDescription::from_attributes("1.2.3", &attrs, "1.2.840.10008.1.2.1", &[]).unwrap()
    }

    fn le16(v: &[i16]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn ct_with_lung_preset_and_checksum() {
        // stored 424 → -600 HU (lung centre), 0 → -1024, 2000 → 976 (above the window)
        let stored = le16(&[424, 0, 2000, 1024]);
        let mut desc = ct(2, 2, json!({}));
        let crc = crc32fast::hash(&stored);
        desc.frames = vec![FrameRef {
            id: "f".into(),
            checksums: vec![(2, 2, crc)],
        }];
        let options = RenderOptions {
            window: WindowRequest::Preset("lung", voi::preset("lung").unwrap()),
            max_size: 512,
        };
        let r = render(&stored, &desc, 0, &options).unwrap();
        let lung = voi::mapper(&r.window.unwrap());
        let expected = [-600.0, -1024.0, 976.0, 0.0].map(|hu| lung(hu).round() as u8);
        assert_eq!(r.raster.data, expected);
        assert_eq!(r.raster.data[2], 255);
        assert_eq!(r.raster.data[0], 128);
        assert_eq!(r.checksum_matched, Some(true));
        assert_eq!(r.window.unwrap().source, WindowSource::Preset("lung"));
        assert_eq!(r.rescale.intercept, -1024.0);
        desc.frames[0].checksums[0].2 ^= 1;
        assert_eq!(
            render(&stored, &desc, 0, &options)
                .unwrap()
                .checksum_matched,
            Some(false)
        );
        assert_eq!(
            render(&stored, &desc, 1, &options)
                .unwrap()
                .checksum_matched,
            None
        );
    }

    #[test]
    fn image_window_and_monochrome1_inversion() {
        let stored = le16(&[1024, 1064, 2000, 0]);
        let desc = ct(
            2,
            2,
            json!({"PhotometricInterpretation": "MONOCHROME1", "WindowCenter": ["40", "400"],
                   "WindowWidth": ["80", "2000"], "VOILUTFunction": "LINEAR_EXACT"}),
        );
        let r = render(&stored, &desc, 0, &RenderOptions::default()).unwrap();
        let used = r.window.unwrap();
        assert_eq!(
            used.window,
            Window {
                center: 40.0,
                width: 80.0
            }
        );
        assert_eq!(used.function, VoiFunction::LinearExact);
        assert_eq!(used.source, WindowSource::Image);
        // 0 HU → 0 (exact linear: lower edge) → inverted 255; 40 HU → 127.5 → 128 → 127
        assert_eq!(r.raster.data, vec![255, 127, 0, 255]);
    }

    #[test]
    fn auto_window_without_one_and_downscale() {
        let values: Vec<i16> = (0..64 * 32).map(|i| (i % 200) as i16).collect();
        let desc = ct(32, 64, json!({"RescaleIntercept": "0"}));
        let r = render(
            &le16(&values),
            &desc,
            0,
            &RenderOptions {
                window: WindowRequest::Default,
                max_size: 16,
            },
        )
        .unwrap();
        assert_eq!(r.window.unwrap().source, WindowSource::Auto);
        assert_eq!((r.raster.width, r.raster.height), (16, 8));
        assert_eq!((r.decoded_width, r.decoded_height), (64, 32));
        let png = encode(&r.raster, ImageFormat::Png).unwrap();
        assert!(png.len() > 8);
    }

    #[test]
    fn ybr_full_and_palette() {
        assert_eq!(ybr_full_to_rgb(128, 128, 128), [128, 128, 128]);
        assert_eq!(ybr_full_to_rgb(76, 85, 255), [254, 0, 0]);
        let mut attrs: Map<String, Value> = serde_json::from_value(json!({
            "Rows": 1, "Columns": 2, "BitsAllocated": 8, "BitsStored": 8, "SamplesPerPixel": 3,
            "PhotometricInterpretation": "YBR_FULL"
        }))
        .unwrap();
        let desc =
            PixelDescription::from_attributes("x", &attrs, "1.2.840.10008.1.2.1", &[]).unwrap();
        let r = render(
            &[128, 128, 128, 76, 85, 255],
            &desc,
            0,
            &RenderOptions::default(),
        )
        .unwrap();
        assert_eq!(r.raster.data, vec![128, 128, 128, 254, 0, 0]);
        assert!(r.window.is_none());
        use base64::Engine as _;
        let words = |v: &[u16]| {
            base64::engine::general_purpose::STANDARD
                .encode(v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>())
        };
        attrs.insert("SamplesPerPixel".into(), json!(1));
        attrs.insert("PhotometricInterpretation".into(), json!("PALETTE COLOR"));
        for (c, lut) in [
            ("Red", [0u16, 0xFF00]),
            ("Green", [0x1000, 0x2000]),
            ("Blue", [0xFFFF, 0]),
        ] {
            attrs.insert(
                format!("{c}PaletteColorLookupTableDescriptor"),
                json!([2, 0, 16]),
            );
            attrs.insert(
                format!("{c}PaletteColorLookupTableData"),
                json!(words(&lut)),
            );
        }
        let desc =
            PixelDescription::from_attributes("x", &attrs, "1.2.840.10008.1.2.1", &[]).unwrap();
        let r = render(&[0, 1], &desc, 0, &RenderOptions::default()).unwrap();
        assert_eq!(r.raster.data, vec![0, 0x10, 0xFF, 0xFF, 0x20, 0]);
        attrs.remove("RedPaletteColorLookupTableData");
        let desc =
            PixelDescription::from_attributes("x", &attrs, "1.2.840.10008.1.2.1", &[]).unwrap();
        let e = render(&[0, 1], &desc, 0, &RenderOptions::default()).unwrap_err();
        assert!(matches!(e, PixelError::Unsupported(_)), "{e}");
    }

    #[test]
    fn unsupported_and_corrupt_frames_are_errors() {
        let desc = PixelDescription {
            transfer_syntax_uid: "1.2.840.10008.1.2.4.80".into(),
            ..ct(2, 2, json!({}))
        };
        let e = render(&[1, 2, 3], &desc, 0, &RenderOptions::default()).unwrap_err();
        assert!(matches!(e, PixelError::Unsupported(_)), "{e}");
        for ts in ["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.201"] {
            let desc = PixelDescription {
                transfer_syntax_uid: ts.into(),
                ..ct(2, 2, json!({}))
            };
            let junk: Vec<u8> = [0xFF, 0xD8, 0xFF, 0x4F]
                .iter()
                .copied()
                .chain(0..100)
                .collect();
            let e = render(&junk, &desc, 0, &RenderOptions::default()).unwrap_err();
            assert!(matches!(e, PixelError::Corrupt(_)), "{ts}: {e}");
        }
        let e = render(&[1, 2], &ct(2, 2, json!({})), 0, &RenderOptions::default()).unwrap_err();
        assert!(matches!(e, PixelError::Corrupt(_)), "{e}");
    }

    #[test]
    fn jpeg_baseline_frames_decode() {
        let gray: Vec<u8> = (0..64u32 * 48).map(|i| (i % 64 * 4) as u8).collect();
        let r = Raster {
            width: 64,
            height: 48,
            channels: 1,
            data: gray.clone(),
        };
        let jpeg = encode(&r, ImageFormat::Jpeg).unwrap();
        let desc = PixelDescription {
            transfer_syntax_uid: "1.2.840.10008.1.2.4.50".into(),
            ..ct(
                48,
                64,
                json!({"BitsAllocated": 8, "BitsStored": 8, "PixelRepresentation": 0,
                                "RescaleIntercept": "0", "WindowCenter": "127.5", "WindowWidth": "256",
                                "VOILUTFunction": "LINEAR_EXACT"}),
            )
        };
        let out = render(&jpeg, &desc, 0, &RenderOptions::default()).unwrap();
        let worst = out
            .raster
            .data
            .iter()
            .zip(&gray)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        assert!(worst <= 12, "lossy JPEG round trip differs by {worst}");
    }
}
