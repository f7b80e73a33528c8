//! Decoding of one stored image frame into sample values.
//!
//! Native (uncompressed) transfer syntaxes are decoded here; JPEG 2000 and HTJ2K go through
//! the `jpeg2k` crate (pure-Rust OpenJPEG port). Everything else is reported as
//! [`DecodeError::Unsupported`] so that callers can keep the frame without statistics.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Implicit VR Little Endian.
pub const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";
/// Explicit VR Little Endian.
pub const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
/// Deflated Explicit VR Little Endian (pixel data is native once inflated).
pub const DEFLATED_EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1.99";
/// Explicit VR Big Endian (retired).
pub const EXPLICIT_VR_BE: &str = "1.2.840.10008.1.2.2";

/// JPEG 2000 family transfer syntaxes decoded through `jpeg2k`.
pub const JPEG2000_SYNTAXES: &[&str] = &[
    "1.2.840.10008.1.2.4.90",  // JPEG 2000 Image Compression (Lossless Only)
    "1.2.840.10008.1.2.4.91",  // JPEG 2000 Image Compression
    "1.2.840.10008.1.2.4.201", // HTJ2K Lossless
    "1.2.840.10008.1.2.4.202", // HTJ2K Lossless RPCL
    "1.2.840.10008.1.2.4.203", // HTJ2K
];

/// The image pixel attributes needed to interpret a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PixelInfo {
    pub rows: u32,
    pub columns: u32,
    pub samples_per_pixel: u16,
    pub bits_allocated: u16,
    pub bits_stored: u16,
    pub pixel_representation: u16,
    pub photometric: String,
}

impl PixelInfo {
    /// Number of bytes one native (uncompressed) frame occupies, `None` on overflow or for
    /// bit-packed data (BitsAllocated 1), where frames need not start on a byte boundary.
    ///
    /// YBR_FULL_422 native data stores two samples per pixel (Y Y Cb Cr per pixel pair).
    pub fn native_frame_len(&self) -> Option<usize> {
        let bytes_per_sample = match self.bits_allocated {
            8 => 1usize,
            16 => 2,
            32 => 4,
            64 => 8,
            _ => return None,
        };
        let samples = if self.is_ybr_422() {
            2
        } else {
            usize::from(self.samples_per_pixel.max(1))
        };
        (self.rows as usize)
            .checked_mul(self.columns as usize)?
            .checked_mul(samples)?
            .checked_mul(bytes_per_sample)
    }

    /// Number of bits one native frame occupies (works for BitsAllocated 1 as well).
    pub fn native_frame_bits(&self) -> Option<u64> {
        let samples: u64 = if self.is_ybr_422() {
            2
        } else {
            u64::from(self.samples_per_pixel.max(1))
        };
        u64::from(self.rows)
            .checked_mul(u64::from(self.columns))?
            .checked_mul(samples)?
            .checked_mul(u64::from(self.bits_allocated))
    }

    fn is_ybr_422(&self) -> bool {
        self.samples_per_pixel == 3 && self.photometric.trim() == "YBR_FULL_422"
    }

    fn signed(&self) -> bool {
        self.pixel_representation == 1
    }
}

/// One decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedFrame {
    pub width: u32,
    pub height: u32,
    pub samples_per_pixel: u16,
    /// Sample values, interleaved (R G B R G B ...) when there is more than one sample per
    /// pixel.
    pub samples: Vec<i32>,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unsupported transfer syntax {0}")]
    Unsupported(String),
    #[error("unsupported pixel layout: {0}")]
    UnsupportedLayout(String),
    #[error("corrupt codestream: {0}")]
    Corrupt(String),
    #[error("size mismatch: {0}")]
    SizeMismatch(String),
}

impl DecodeError {
    /// Whether the error only means "this emulator can't decode that" (as opposed to broken
    /// data).
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            DecodeError::Unsupported(_) | DecodeError::UnsupportedLayout(_)
        )
    }
}

/// Whether `decode_frame` can decode frames of this transfer syntax.
pub fn is_decodable_transfer_syntax(transfer_syntax_uid: &str) -> bool {
    let ts = clean_uid(transfer_syntax_uid);
    is_native(ts).is_some() || JPEG2000_SYNTAXES.contains(&ts)
}

/// Whether the transfer syntax stores pixel data natively (not encapsulated).
pub fn is_native_transfer_syntax(transfer_syntax_uid: &str) -> bool {
    is_native(clean_uid(transfer_syntax_uid)).is_some()
}

/// `Some(big_endian)` for native syntaxes.
fn is_native(ts: &str) -> Option<bool> {
    match ts {
        IMPLICIT_VR_LE | EXPLICIT_VR_LE | DEFLATED_EXPLICIT_VR_LE => Some(false),
        EXPLICIT_VR_BE => Some(true),
        _ => None,
    }
}

fn clean_uid(uid: &str) -> &str {
    uid.trim_end_matches(['\0', ' ']).trim()
}

/// Decode one stored frame (native frames are assumed to be colour-by-pixel, i.e.
/// PlanarConfiguration 0; see [`decode_frame_planar`]).
///
/// Native syntaxes (1.2.840.10008.1.2, .1.2.1, .1.2.1.99, .1.2.2 big endian) honour
/// BitsAllocated 1/8/16/32, PixelRepresentation and BitsStored (values masked to BitsStored,
/// sign-extended when signed). JPEG 2000 / HTJ2K (1.2.840.10008.1.2.4.90, .91, .201, .202,
/// .203) are decoded with `jpeg2k`. Anything else is `DecodeError::Unsupported`.
pub fn decode_frame(
    stored: &[u8],
    transfer_syntax_uid: &str,
    info: &PixelInfo,
) -> Result<DecodedFrame, DecodeError> {
    decode_frame_planar(stored, transfer_syntax_uid, info, 0)
}

/// [`decode_frame`] with the PlanarConfiguration of native colour data (1 = colour-by-plane,
/// RRR..GGG..BBB..). The result is always interleaved.
pub fn decode_frame_planar(
    stored: &[u8],
    transfer_syntax_uid: &str,
    info: &PixelInfo,
    planar_configuration: u16,
) -> Result<DecodedFrame, DecodeError> {
    decode_frame_reduced(stored, transfer_syntax_uid, info, planar_configuration, 0)
}

/// [`decode_frame_planar`] at a lower resolution: JPEG 2000 / HTJ2K frames drop `reduce`
/// resolution levels (each halves width and height, rounding up; at most the codestream's
/// decomposition levels, see [`j2k_decomposition_levels`]), decoding only what a thumbnail
/// needs. Other syntaxes ignore `reduce` and decode at full size.
pub fn decode_frame_reduced(
    stored: &[u8],
    transfer_syntax_uid: &str,
    info: &PixelInfo,
    planar_configuration: u16,
    reduce: u32,
) -> Result<DecodedFrame, DecodeError> {
    let ts = clean_uid(transfer_syntax_uid);
    if let Some(big_endian) = is_native(ts) {
        decode_native(stored, big_endian, info, planar_configuration)
    } else if JPEG2000_SYNTAXES.contains(&ts) {
        decode_j2k(stored, info, reduce)
    } else {
        Err(DecodeError::Unsupported(ts.to_owned()))
    }
}

/// Whether `transfer_syntax_uid` is one of the JPEG 2000 / HTJ2K syntaxes.
pub fn is_j2k_transfer_syntax(transfer_syntax_uid: &str) -> bool {
    JPEG2000_SYNTAXES.contains(&clean_uid(transfer_syntax_uid))
}

/// The number of wavelet decomposition levels of a JPEG 2000 codestream (from the COD marker
/// segment of its main header): how many resolution levels a decoder can drop. `None` when the
/// header cannot be read.
pub fn j2k_decomposition_levels(stored: &[u8]) -> Option<u32> {
    // COD: FF52, Lcod(2), Scod(1), progression(1), layers(2), MCT(1), decomposition levels(1)
    let head = &stored[..stored.len().min(8192)];
    let at = head.windows(2).position(|w| w == [0xFF, 0x52])?;
    head.get(at + 9).map(|&n| u32::from(n))
}

fn decode_native(
    stored: &[u8],
    big_endian: bool,
    info: &PixelInfo,
    planar_configuration: u16,
) -> Result<DecodedFrame, DecodeError> {
    let spp = info.samples_per_pixel.max(1);
    if spp != 1 && spp != 3 && spp != 4 {
        return Err(DecodeError::UnsupportedLayout(format!(
            "SamplesPerPixel {spp}"
        )));
    }
    let pixels = (info.rows as usize)
        .checked_mul(info.columns as usize)
        .ok_or_else(|| DecodeError::SizeMismatch("frame too large".into()))?;
    let ba = info.bits_allocated;
    let bits_stored = if info.bits_stored == 0 || info.bits_stored > ba {
        ba
    } else {
        info.bits_stored
    };

    if ba == 1 {
        if spp != 1 {
            return Err(DecodeError::UnsupportedLayout(
                "bit-packed colour data".into(),
            ));
        }
        let need = pixels.div_ceil(8);
        if stored.len() < need {
            return Err(size_error(stored.len(), need));
        }
        let samples = (0..pixels)
            .map(|i| i32::from((stored[i / 8] >> (i % 8)) & 1))
            .collect();
        return Ok(DecodedFrame {
            width: info.columns,
            height: info.rows,
            samples_per_pixel: 1,
            samples,
        });
    }

    let bytes_per_sample: usize = match ba {
        8 => 1,
        16 => 2,
        32 => 4,
        other => {
            return Err(DecodeError::UnsupportedLayout(format!(
                "BitsAllocated {other}"
            )))
        }
    };
    let need = info
        .native_frame_len()
        .ok_or_else(|| DecodeError::SizeMismatch("frame too large".into()))?;
    if stored.len() < need {
        return Err(size_error(stored.len(), need));
    }
    let raw = &stored[..need];
    let signed = info.signed();
    let mask: u32 = if bits_stored >= 32 {
        u32::MAX
    } else {
        (1u32 << bits_stored) - 1
    };
    let convert = |chunk: &[u8]| -> i32 {
        let v: u32 = match (bytes_per_sample, big_endian) {
            (1, _) => u32::from(chunk[0]),
            (2, false) => u32::from(u16::from_le_bytes([chunk[0], chunk[1]])),
            (2, true) => u32::from(u16::from_be_bytes([chunk[0], chunk[1]])),
            (_, false) => u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]),
            (_, true) => u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]),
        };
        let v = v & mask;
        if signed && bits_stored < 32 && v & (1 << (bits_stored - 1)) != 0 {
            (v | !mask) as i32
        } else {
            v as i32
        }
    };
    let values: Vec<i32> = raw.chunks_exact(bytes_per_sample).map(convert).collect();

    let samples = if info.is_ybr_422() {
        // Y1 Y2 Cb Cr per pair of pixels → Y Cb Cr per pixel
        let mut out = Vec::with_capacity(pixels * 3);
        for quad in values.chunks(4) {
            if let [y1, y2, cb, cr] = *quad {
                out.extend_from_slice(&[y1, cb, cr, y2, cb, cr]);
            }
        }
        out.truncate(pixels * 3);
        out
    } else if spp > 1 && planar_configuration == 1 {
        let n = usize::from(spp);
        let mut out = vec![0i32; pixels * n];
        for (plane, chunk) in values.chunks_exact(pixels.max(1)).enumerate().take(n) {
            for (i, v) in chunk.iter().enumerate() {
                out[i * n + plane] = *v;
            }
        }
        out
    } else {
        values
    };
    Ok(DecodedFrame {
        width: info.columns,
        height: info.rows,
        samples_per_pixel: spp,
        samples,
    })
}

fn size_error(have: usize, need: usize) -> DecodeError {
    DecodeError::SizeMismatch(format!("frame has {have} bytes, expected {need}"))
}

/// Frames with more samples than this are not decoded (kept without statistics): the
/// decoder would need several GiB.
pub const MAX_DECODE_SAMPLES: u64 = 1 << 27;

/// Read the SIZ marker segment of a JPEG 2000 codestream and check the image against the
/// DICOM attributes before handing it to the decoder (which allocates what SIZ declares).
fn check_siz(stored: &[u8], info: &PixelInfo) -> Result<(), DecodeError> {
    const SOC_SIZ: [u8; 4] = [0xFF, 0x4F, 0xFF, 0x51];
    let head = &stored[..stored.len().min(8192)];
    let at = head
        .windows(4)
        .position(|w| w == SOC_SIZ)
        .ok_or_else(|| DecodeError::Corrupt("no SIZ marker segment".into()))?;
    // FF51, Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz, XTsiz, YTsiz, XTOsiz, YTOsiz, Csiz
    let siz = &stored[at + 2..];
    if siz.len() < 40 {
        return Err(DecodeError::Corrupt("truncated SIZ marker segment".into()));
    }
    let u32_at = |i: usize| u32::from_be_bytes([siz[i], siz[i + 1], siz[i + 2], siz[i + 3]]);
    let (x, y, x0, y0) = (u32_at(6), u32_at(10), u32_at(14), u32_at(18));
    let components = u16::from_be_bytes([siz[38], siz[39]]);
    if x <= x0 || y <= y0 || components == 0 {
        return Err(DecodeError::Corrupt("SIZ declares an empty image".into()));
    }
    let (width, height) = (x - x0, y - y0);
    if (info.columns != 0 && width != info.columns) || (info.rows != 0 && height != info.rows) {
        return Err(DecodeError::SizeMismatch(format!(
            "codestream is {width}x{height}, Rows/Columns say {}x{}",
            info.columns, info.rows
        )));
    }
    if components < info.samples_per_pixel.max(1) {
        return Err(DecodeError::SizeMismatch(format!(
            "codestream has {components} components, SamplesPerPixel is {}",
            info.samples_per_pixel
        )));
    }
    // Checked: a hostile SIZ (4 Gi x 4 Gi x 64 Ki) overflows even u64.
    let samples = u64::from(width)
        .checked_mul(u64::from(height))
        .and_then(|n| n.checked_mul(u64::from(components)));
    if samples.is_none_or(|n| n > MAX_DECODE_SAMPLES) {
        return Err(DecodeError::UnsupportedLayout(format!(
            "{width}x{height}x{components} is too large to decode"
        )));
    }
    Ok(())
}

fn decode_j2k(stored: &[u8], info: &PixelInfo, reduce: u32) -> Result<DecodedFrame, DecodeError> {
    const J2K_SOC_SIZ: [u8; 4] = [0xFF, 0x4F, 0xFF, 0x51];
    const JP2_SIGNATURE: [u8; 12] = [
        0, 0, 0, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A,
    ];
    if !stored.starts_with(&J2K_SOC_SIZ) && !stored.starts_with(&JP2_SIGNATURE) {
        return Err(DecodeError::Corrupt(
            "not a JPEG 2000 codestream (no SOC/SIZ marker)".into(),
        ));
    }
    check_siz(stored, info)?;
    // The OpenJPEG port may panic on hostile input; never let that escape.
    let result = catch_unwind(AssertUnwindSafe(|| -> Result<DecodedFrame, DecodeError> {
        let image = if reduce == 0 {
            jpeg2k::Image::from_bytes(stored)
        } else {
            let params = jpeg2k::DecodeParameters::new().reduce(reduce);
            jpeg2k::Image::from_bytes_with(stored, params)
        }
        .map_err(|e| DecodeError::Corrupt(e.to_string()))?;
        let comps = image.components();
        if comps.is_empty() {
            return Err(DecodeError::Corrupt("codestream has no components".into()));
        }
        let width = comps[0].width();
        let height = comps[0].height();
        let spp = usize::from(info.samples_per_pixel.max(1));
        if comps.len() < spp {
            return Err(DecodeError::SizeMismatch(format!(
                "codestream has {} components, SamplesPerPixel is {spp}",
                comps.len()
            )));
        }
        // Each dropped level halves the size, rounding up.
        let scaled = |n: u32| n.div_ceil(1 << reduce.min(31));
        let (columns, rows) = (scaled(info.columns), scaled(info.rows));
        if (info.columns != 0 && width != columns) || (info.rows != 0 && height != rows) {
            return Err(DecodeError::SizeMismatch(format!(
                "codestream is {width}x{height}, Rows/Columns say {columns}x{rows}",
            )));
        }
        let pixels = (width as usize)
            .checked_mul(height as usize)
            .ok_or_else(|| DecodeError::SizeMismatch("frame too large".into()))?;
        let mut planes: Vec<Vec<i32>> = Vec::with_capacity(spp);
        for comp in comps.iter().take(spp) {
            if comp.width() != width || comp.height() != height {
                return Err(DecodeError::UnsupportedLayout(
                    "subsampled JPEG 2000 components".into(),
                ));
            }
            let data = comp.data();
            if data.len() != pixels {
                return Err(DecodeError::SizeMismatch(format!(
                    "component has {} samples, expected {pixels}",
                    data.len()
                )));
            }
            let precision = comp.precision();
            // PixelRepresentation 1 with an unsigned codestream: reinterpret the sample bits
            // as two's complement of the codestream precision (as pydicom does).
            if info.signed() && !comp.is_signed() && (1..32).contains(&precision) {
                let sign = 1i32 << (precision - 1);
                let full = 1i64 << precision;
                planes.push(
                    data.iter()
                        .map(|&v| {
                            if v & sign != 0 {
                                (i64::from(v) - full) as i32
                            } else {
                                v
                            }
                        })
                        .collect(),
                );
            } else {
                planes.push(data.to_vec());
            }
        }
        let samples = if spp == 1 {
            planes.pop().unwrap_or_default()
        } else {
            let mut out = Vec::with_capacity(pixels * spp);
            for i in 0..pixels {
                for plane in &planes {
                    out.push(plane[i]);
                }
            }
            out
        };
        Ok(DecodedFrame {
            width,
            height,
            samples_per_pixel: spp as u16,
            samples,
        })
    }));
    match result {
        Ok(r) => r,
        Err(_) => Err(DecodeError::Corrupt(
            "JPEG 2000 decoder failed on this codestream".into(),
        )),
    }
}

impl DecodedFrame {
    /// Smallest and largest sample value (over all samples), `None` for an empty frame.
    pub fn min_max(&self) -> Option<(i32, i32)> {
        let mut it = self.samples.iter().copied();
        let first = it.next()?;
        Some(it.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v))))
    }

    /// Min/max as i64, reading samples as unsigned 32-bit values when `unsigned_32` is set
    /// (BitsAllocated 32 with PixelRepresentation 0, whose values may exceed `i32::MAX`).
    pub fn min_max_i64(&self, unsigned_32: bool) -> Option<(i64, i64)> {
        if !unsigned_32 {
            return self
                .min_max()
                .map(|(lo, hi)| (i64::from(lo), i64::from(hi)));
        }
        let mut it = self.samples.iter().map(|&v| i64::from(v as u32));
        let first = it.next()?;
        Some(it.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v))))
    }

    /// CRC32 (crc32fast) of the samples laid out little-endian at the bits-allocated width
    /// (≤ 8 → 1 byte, ≤ 16 → 2 bytes, otherwise 4 bytes), two's complement for signed
    /// values — i.e. what numpy's `arr.tobytes()` gives for the decoded uint8 / uint16 /
    /// int16 / int32 array. This is how AWS HealthImaging's samples verify frames.
    pub fn crc32(&self, bits_allocated: u16) -> u32 {
        let mut hasher = crc32fast::Hasher::new();
        let mut buf = Vec::with_capacity(8192);
        for chunk in self.samples.chunks(2048) {
            buf.clear();
            match bits_allocated {
                0..=8 => buf.extend(chunk.iter().map(|&v| v as u8)),
                9..=16 => buf.extend(chunk.iter().flat_map(|&v| (v as u16).to_le_bytes())),
                _ => buf.extend(chunk.iter().flat_map(|&v| v.to_le_bytes())),
            }
            hasher.update(&buf);
        }
        hasher.finalize()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mono(rows: u32, columns: u32, ba: u16, bs: u16, pr: u16) -> PixelInfo {
        PixelInfo {
            rows,
            columns,
            samples_per_pixel: 1,
            bits_allocated: ba,
            bits_stored: bs,
            pixel_representation: pr,
            photometric: "MONOCHROME2".into(),
        }
    }

    /// Found by the decode_frame fuzz target (fuzz/corpus/decode_frame/siz_size_overflow): a
    /// SIZ of 4 Gi x 4 Gi x 64 Ki samples overflowed the size check's u64 product (a panic
    /// with overflow checks; without them the product wrapped and the check could pass).
    #[test]
    fn huge_siz_is_refused_without_overflow() {
        let mut stored = vec![0xFF, 0x4F, 0xFF, 0x51, 0x00, 0x29, 0x00, 0x00];
        stored.extend_from_slice(&u32::MAX.to_be_bytes()); // Xsiz
        stored.extend_from_slice(&u32::MAX.to_be_bytes()); // Ysiz
        stored.extend_from_slice(&[0; 24]); // XOsiz, YOsiz, tiles
        stored.extend_from_slice(&u16::MAX.to_be_bytes()); // Csiz
        stored.extend_from_slice(&[0; 8]);
        let info = mono(0, 0, 16, 16, 0);
        for syntax in ["1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.201"] {
            let e = decode_frame(&stored, syntax, &info).unwrap_err();
            assert!(
                matches!(&e, DecodeError::UnsupportedLayout(m) if m.contains("too large")),
                "{syntax}: {e:?}"
            );
        }
    }

    #[test]
    fn native_16_bit_signed_masks_and_sign_extends() {
        // 12 bits stored, signed: 0x0FFF → -1, 0x0800 → -2048, 0xF7FF (garbage high bits) →
        // 0x7FF = 2047, 0x0001 → 1
        let raw: Vec<u8> = [0x0FFFu16, 0x0800, 0xF7FF, 0x0001]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let f = decode_frame(&raw, EXPLICIT_VR_LE, &mono(2, 2, 16, 12, 1)).unwrap();
        assert_eq!(f.samples, vec![-1, -2048, 2047, 1]);
        assert_eq!(f.min_max(), Some((-2048, 2047)));
        assert_eq!((f.width, f.height), (2, 2));
        // CRC of the int16 little-endian bytes
        let bytes: Vec<u8> = [-1i16, -2048, 2047, 1]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(f.crc32(16), crc32fast::hash(&bytes));
    }

    #[test]
    fn native_16_bit_unsigned_masks_high_bits() {
        let raw: Vec<u8> = [0xF123u16, 0x0FFF]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let f = decode_frame(&raw, IMPLICIT_VR_LE, &mono(1, 2, 16, 12, 0)).unwrap();
        assert_eq!(f.samples, vec![0x123, 0xFFF]);
    }

    #[test]
    fn native_big_endian() {
        let raw: Vec<u8> = [300u16, 2, 65535]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let f = decode_frame(&raw, EXPLICIT_VR_BE, &mono(1, 3, 16, 16, 0)).unwrap();
        assert_eq!(f.samples, vec![300, 2, 65535]);
        let f = decode_frame(&raw, EXPLICIT_VR_BE, &mono(1, 3, 16, 16, 1)).unwrap();
        assert_eq!(f.samples, vec![300, 2, -1]);
        let raw32: Vec<u8> = [7u32, 0x8000_0000]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let f = decode_frame(&raw32, EXPLICIT_VR_BE, &mono(1, 2, 32, 32, 0)).unwrap();
        assert_eq!(f.samples, vec![7, i32::MIN]);
        assert_eq!(f.min_max_i64(true), Some((7, 0x8000_0000)));
    }

    #[test]
    fn native_8_bit_and_crc() {
        let raw = [0u8, 255, 7, 9];
        let f = decode_frame(&raw, EXPLICIT_VR_LE, &mono(2, 2, 8, 8, 0)).unwrap();
        assert_eq!(f.samples, vec![0, 255, 7, 9]);
        assert_eq!(f.crc32(8), crc32fast::hash(&raw));
        assert_eq!(f.min_max(), Some((0, 255)));
    }

    #[test]
    fn native_rgb_planar_is_interleaved() {
        let info = PixelInfo {
            samples_per_pixel: 3,
            photometric: "RGB".into(),
            ..mono(1, 2, 8, 8, 0)
        };
        let planar = [1u8, 2, 10, 20, 100, 200];
        let f = decode_frame_planar(&planar, EXPLICIT_VR_LE, &info, 1).unwrap();
        assert_eq!(f.samples, vec![1, 10, 100, 2, 20, 200]);
        let f = decode_frame(&planar, EXPLICIT_VR_LE, &info).unwrap();
        assert_eq!(f.samples, vec![1, 2, 10, 20, 100, 200]);
        assert_eq!(f.samples_per_pixel, 3);
    }

    #[test]
    fn native_ybr_422_is_upsampled() {
        let info = PixelInfo {
            samples_per_pixel: 3,
            photometric: "YBR_FULL_422".into(),
            ..mono(1, 2, 8, 8, 0)
        };
        assert_eq!(info.native_frame_len(), Some(4));
        let f = decode_frame(&[10, 20, 128, 129], EXPLICIT_VR_LE, &info).unwrap();
        assert_eq!(f.samples, vec![10, 128, 129, 20, 128, 129]);
    }

    #[test]
    fn native_bit_packed() {
        let f = decode_frame(&[0b1000_0101, 0b1], EXPLICIT_VR_LE, &mono(3, 3, 1, 1, 0)).unwrap();
        assert_eq!(f.samples, vec![1, 0, 1, 0, 0, 0, 0, 1, 1]);
    }

    #[test]
    fn short_native_frame_is_size_mismatch() {
        let e = decode_frame(&[1, 2, 3], EXPLICIT_VR_LE, &mono(2, 2, 8, 8, 0)).unwrap_err();
        assert!(matches!(e, DecodeError::SizeMismatch(_)), "{e}");
        assert!(!e.is_unsupported());
    }

    #[test]
    fn unsupported_syntaxes() {
        for ts in [
            "1.2.840.10008.1.2.4.50",
            "1.2.840.10008.1.2.5",
            "1.2.840.10008.1.2.4.80",
        ] {
            let e = decode_frame(&[0xFF, 0xD8], ts, &mono(1, 1, 8, 8, 0)).unwrap_err();
            assert!(matches!(e, DecodeError::Unsupported(_)), "{ts}: {e}");
            assert!(e.is_unsupported());
            assert!(!is_decodable_transfer_syntax(ts));
        }
        assert!(is_decodable_transfer_syntax("1.2.840.10008.1.2.4.202\0"));
        assert!(is_native_transfer_syntax("1.2.840.10008.1.2"));
        assert!(!is_native_transfer_syntax("1.2.840.10008.1.2.4.90"));
    }

    #[test]
    fn garbage_j2k_is_an_error_not_a_panic() {
        let info = mono(4, 4, 16, 16, 0);
        let mut junk = vec![0xFF, 0x4F, 0xFF, 0x51];
        junk.extend((0..200u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        for ts in JPEG2000_SYNTAXES {
            assert!(decode_frame(&junk, ts, &info).is_err());
            assert!(decode_frame(&junk[..4], ts, &info).is_err());
            assert!(decode_frame(b"hello", ts, &info).is_err());
            assert!(decode_frame(&[], ts, &info).is_err());
        }
    }

    #[test]
    fn siz_is_checked_before_decoding() {
        // SOC + SIZ declaring 60000x60000, 1 component
        let mut cs = vec![0xFF, 0x4F, 0xFF, 0x51, 0x00, 0x29, 0x00, 0x00];
        for v in [60000u32, 60000, 0, 0, 60000, 60000, 0, 0] {
            cs.extend_from_slice(&v.to_be_bytes());
        }
        cs.extend_from_slice(&[0x00, 0x01, 0x0F, 0x01, 0x01]);
        cs.extend_from_slice(&[0xFF, 0xD9]);
        let big = mono(60000, 60000, 16, 16, 0);
        let e = decode_frame(&cs, "1.2.840.10008.1.2.4.90", &big).unwrap_err();
        assert!(e.is_unsupported(), "{e}");
        let e = decode_frame(&cs, "1.2.840.10008.1.2.4.90", &mono(64, 64, 16, 16, 0)).unwrap_err();
        assert!(matches!(e, DecodeError::SizeMismatch(_)), "{e}");
        let e = decode_frame(&cs[..20], "1.2.840.10008.1.2.4.90", &big).unwrap_err();
        assert!(matches!(e, DecodeError::Corrupt(_)), "{e}");
    }

    #[test]
    fn crc32_widths() {
        let f = DecodedFrame {
            width: 3,
            height: 1,
            samples_per_pixel: 1,
            samples: vec![-1, 256, 70000],
        };
        assert_eq!(f.crc32(8), crc32fast::hash(&[0xFF, 0x00, 0x70]));
        assert_eq!(
            f.crc32(16),
            crc32fast::hash(&[0xFF, 0xFF, 0x00, 0x01, 0x70, 0x11])
        );
        let b32: Vec<u8> = [-1i32, 256, 70000]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(f.crc32(32), crc32fast::hash(&b32));
        let empty = DecodedFrame {
            width: 0,
            height: 0,
            samples_per_pixel: 1,
            samples: vec![],
        };
        assert_eq!(empty.min_max(), None);
    }
}
