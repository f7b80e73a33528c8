//! Decoding one stored frame of any syntax HealthImaging stores: native and JPEG 2000 /
//! HTJ2K through `dicom::decode` (JPEG 2000 at reduced resolution for thumbnails), JPEG
//! (baseline, extended 8-bit, lossless) kept as stored through `jpeg-decoder`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::describe::PixelDescription;
use super::PixelError;
use crate::dicom::decode::{self, DecodeError, DecodedFrame};

/// JPEG syntaxes decoded with `jpeg-decoder` (HealthImaging keeps lossy JPEG as stored).
const JPEG_SYNTAXES: &[&str] = &[
    "1.2.840.10008.1.2.4.50", // JPEG Baseline (Process 1)
    "1.2.840.10008.1.2.4.51", // JPEG Extended (Process 2 & 4), 8-bit only
    "1.2.840.10008.1.2.4.57", // JPEG Lossless, Non-Hierarchical (Process 14)
    "1.2.840.10008.1.2.4.70", // JPEG Lossless, first-order prediction
];

/// How many resolution levels a JPEG 2000 decode may drop so that the result is still at least
/// `target` pixels on its longer side (0 for other syntaxes).
pub fn reduce_for(stored: &[u8], desc: &PixelDescription, target: u32) -> u32 {
    if !decode::is_j2k_transfer_syntax(&desc.transfer_syntax_uid) || target == 0 {
        return 0;
    }
    let longer = desc.info.rows.max(desc.info.columns);
    let mut r = 0;
    while r < 8 && longer.div_ceil(1 << (r + 1)) >= target {
        r += 1;
    }
    r.min(decode::j2k_decomposition_levels(stored).unwrap_or(0))
}

/// Decodes one stored frame to sample values (interleaved for colour), dropping `reduce`
/// JPEG 2000 resolution levels.
pub fn decode_stored(
    stored: &[u8],
    desc: &PixelDescription,
    reduce: u32,
) -> Result<DecodedFrame, PixelError> {
    let ts = desc.transfer_syntax_uid.trim_end_matches(['\0', ' ']);
    if JPEG_SYNTAXES.contains(&ts) {
        return decode_jpeg(stored, desc);
    }
    decode::decode_frame_reduced(stored, ts, &desc.info, desc.planar_configuration, reduce).map_err(
        |e| match e {
            DecodeError::Unsupported(ts) => PixelError::Unsupported(format!(
                "frames stored as transfer syntax {ts} cannot be decoded here"
            )),
            DecodeError::UnsupportedLayout(what) => PixelError::Unsupported(what),
            DecodeError::Corrupt(what) | DecodeError::SizeMismatch(what) => {
                PixelError::Corrupt(what)
            }
        },
    )
}

fn decode_jpeg(stored: &[u8], desc: &PixelDescription) -> Result<DecodedFrame, PixelError> {
    // The decoder may panic on hostile input; never let that escape.
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut decoder = jpeg_decoder::Decoder::new(stored);
        // Colour conversion follows PhotometricInterpretation (render.rs), not JFIF guesses.
        decoder.set_color_transform(jpeg_decoder::ColorTransform::None);
        let cap = (desc.info.rows as usize)
            .saturating_mul(desc.info.columns as usize)
            .saturating_mul(8);
        decoder.set_max_decoding_buffer_size(cap.max(1 << 16));
        let pixels = decoder.decode();
        (pixels, decoder.info())
    }));
    let (pixels, info) =
        result.map_err(|_| PixelError::Corrupt("JPEG decoder failed on this frame".into()))?;
    let pixels = pixels.map_err(|e| match e {
        jpeg_decoder::Error::Unsupported(what) => {
            PixelError::Unsupported(format!("JPEG frame: {what:?}"))
        }
        other => PixelError::Corrupt(format!("JPEG frame: {other}")),
    })?;
    let info = info.ok_or_else(|| PixelError::Corrupt("JPEG frame without a header".into()))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    if width != desc.info.columns || height != desc.info.rows {
        return Err(PixelError::Corrupt(format!(
            "JPEG frame is {width}x{height}, Rows/Columns say {}x{}",
            desc.info.columns, desc.info.rows
        )));
    }
    let (samples_per_pixel, samples): (u16, Vec<i32>) = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => (1, pixels.iter().map(|&v| i32::from(v)).collect()),
        jpeg_decoder::PixelFormat::L16 => (
            1,
            // jpeg-decoder gives 16-bit samples in native byte order.
            pixels
                .chunks_exact(2)
                .map(|w| i32::from(u16::from_ne_bytes([w[0], w[1]])))
                .collect(),
        ),
        jpeg_decoder::PixelFormat::RGB24 => (3, pixels.iter().map(|&v| i32::from(v)).collect()),
        jpeg_decoder::PixelFormat::CMYK32 => {
            return Err(PixelError::Unsupported("4-component JPEG frames".into()))
        }
    };
    Ok(DecodedFrame {
        width,
        height,
        samples_per_pixel,
        samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::import::parse::parse_part10;
    use serde_json::Value;
    use std::path::PathBuf;

    fn samples() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("python/awslabs/healthimaging_mcp_server/samples")
    }

    /// Each bundled sample's frames decode to the pixels of its source: the CRC32 of the
    /// decoded samples equals the manifest's (computed with pydicom and numpy when the samples
    /// were made); JPEG 2000 frames decoded at reduced resolution have the halved size.
    #[test]
    fn bundled_samples_decode_to_the_source_pixels() {
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(samples().join("manifest.json")).unwrap())
                .unwrap();
        let mut reduced = 0;
        for file in manifest["files"].as_array().unwrap() {
            let rel = file["path"].as_str().unwrap();
            let parsed =
                parse_part10(&std::fs::read(samples().join("dicom").join(rel)).unwrap()).unwrap();
            let mut attrs = parsed.patient.clone();
            for level in [&parsed.study, &parsed.series, &parsed.instance] {
                attrs.extend(level.clone());
            }
            let desc = PixelDescription::from_attributes(
                &parsed.sop_uid,
                &attrs,
                &parsed.transfer_syntax_uid,
                &[],
            )
            .unwrap();
            for (frame, expected) in parsed.frames.iter().zip(file["frames"].as_array().unwrap()) {
                let decoded = decode_stored(&frame.bytes, &desc, 0).unwrap();
                assert_eq!(
                    u64::from(decoded.crc32(desc.info.bits_allocated)),
                    expected["crc32"].as_u64().unwrap(),
                    "{rel}"
                );
                let r = reduce_for(&frame.bytes, &desc, 32);
                if decode::is_j2k_transfer_syntax(&desc.transfer_syntax_uid) {
                    assert_eq!(r, 1, "{rel}: 64x64 to at least 32 drops one level");
                    let half = decode_stored(&frame.bytes, &desc, r).unwrap();
                    assert_eq!((half.width, half.height), (32, 32), "{rel}");
                    reduced += 1;
                } else {
                    assert_eq!(r, 0);
                }
            }
        }
        assert!(reduced >= 13, "JPEG 2000 and HTJ2K frames seen: {reduced}");
    }
}
