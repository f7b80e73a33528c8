//! Part-10 file → [`ParsedInstance`]: the instance's metadata split into the AWS
//! HealthImaging levels (Patient / Study / Series / Instance) plus its stored frames with
//! their pixel statistics.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::Tag;
use dicom_dictionary_std::tags;
use dicom_object::file::ReadPreamble;
use dicom_object::mem::InMemElement;
use dicom_object::{DefaultDicomObject, OpenFileOptions};
use serde_json::{Map, Value as Json};

use crate::dicom::decode::{self, PixelInfo};
use crate::dicom::json::{
    effective_vr, element_key, element_text, element_to_json, primitive_to_json, vr_needs_recording,
};
use crate::dicom::levels::{level_of_tag, Level};

/// One stored frame of an instance.
#[derive(Clone, PartialEq, Eq)]
pub struct ParsedFrame {
    /// The frame exactly as stored (native slice, or the fragment bytes of the frame).
    pub bytes: Vec<u8>,
    /// Smallest decoded sample value; `None` when the frame could not be decoded (e.g. an
    /// unsupported transfer syntax).
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// CRC32 of the decoded samples (see `DecodedFrame::crc32`).
    pub checksum: Option<u32>,
    pub width: u32,
    pub height: u32,
}

impl fmt::Debug for ParsedFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParsedFrame")
            .field("bytes", &format_args!("<{} bytes>", self.bytes.len()))
            .field("min", &self.min)
            .field("max", &self.max)
            .field("checksum", &self.checksum)
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

/// A parsed Part-10 instance.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedInstance {
    pub study_uid: String,
    pub series_uid: String,
    pub sop_uid: String,
    pub transfer_syntax_uid: String,
    /// Patient-level attributes, keyed by [`element_key`].
    pub patient: Map<String, Json>,
    pub study: Map<String, Json>,
    pub series: Map<String, Json>,
    /// Instance-level attributes, including the file meta group (0002,xxxx) by keyword.
    pub instance: Map<String, Json>,
    /// key → VR for the top-level elements whose VR can't be derived from the key: private
    /// and unknown tags, ambiguous dictionary VRs (US or SS, OB or OW), VRs that differ from
    /// the dictionary. Nested items carry their own `"DICOMVRs"` object.
    pub dicom_vrs: Map<String, Json>,
    /// Frames in frame order (empty for an instance without pixel data).
    pub frames: Vec<ParsedFrame>,
}

impl ParsedInstance {
    /// The attribute map of a level.
    pub fn level(&self, level: Level) -> &Map<String, Json> {
        match level {
            Level::Patient => &self.patient,
            Level::Study => &self.study,
            Level::Series => &self.series,
            Level::Instance => &self.instance,
        }
    }

    /// Look an attribute up at whichever level it lives.
    pub fn attribute(&self, key: &str) -> Option<&Json> {
        self.patient
            .get(key)
            .or_else(|| self.study.get(key))
            .or_else(|| self.series.get(key))
            .or_else(|| self.instance.get(key))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not a DICOM Part-10 file: {0}")]
    NotDicom(String),
    #[error("corrupt DICOM file: {0}")]
    Corrupt(String),
    #[error("missing required attribute {0}")]
    MissingAttribute(&'static str),
    #[error("invalid pixel data: {0}")]
    Pixel(String),
}

/// Pixel-data related elements that never go into the metadata maps.
const PIXEL_TAGS: [Tag; 5] = [
    tags::PIXEL_DATA,
    tags::FLOAT_PIXEL_DATA,
    tags::DOUBLE_FLOAT_PIXEL_DATA,
    tags::EXTENDED_OFFSET_TABLE,
    tags::EXTENDED_OFFSET_TABLE_LENGTHS,
];

/// Parse a whole Part-10 file held in memory (128-byte preamble + `DICM` + file meta group +
/// data set; a file that starts directly with `DICM` is accepted too). Never panics.
pub fn parse_part10(bytes: &[u8]) -> Result<ParsedInstance, ParseError> {
    let preamble = if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
        ReadPreamble::Always
    } else if bytes.starts_with(b"DICM") {
        ReadPreamble::Never
    } else {
        return Err(ParseError::NotDicom(
            "no DICM magic after the 128-byte preamble".into(),
        ));
    };
    let body = match preamble {
        ReadPreamble::Always => &bytes[132..],
        _ => &bytes[4..],
    };
    // dicom-rs needs (0002,0000) FileMetaInformationGroupLength; add it when it's missing.
    let patched = with_meta_group_length(body);
    let (input, preamble, body) = match &patched {
        Some(p) => (&p[..], ReadPreamble::Never, &p[4..]),
        None => (bytes, preamble, body),
    };
    prescan_lengths(body)?;
    match catch_unwind(AssertUnwindSafe(|| parse_inner(input, preamble))) {
        Ok(result) => result,
        Err(_) => Err(ParseError::Corrupt(
            "DICOM parser failed on this input".into(),
        )),
    }
}

fn parse_inner(bytes: &[u8], preamble: ReadPreamble) -> Result<ParsedInstance, ParseError> {
    let obj: DefaultDicomObject = OpenFileOptions::new()
        .read_preamble(preamble)
        .from_reader(bytes)
        .map_err(|e| ParseError::Corrupt(error_chain(&e)))?;

    let transfer_syntax_uid = clean(obj.meta().transfer_syntax()).to_owned();
    let study_uid = required_uid(&obj, tags::STUDY_INSTANCE_UID, "StudyInstanceUID")?;
    let series_uid = required_uid(&obj, tags::SERIES_INSTANCE_UID, "SeriesInstanceUID")?;
    let sop_uid = required_uid(&obj, tags::SOP_INSTANCE_UID, "SOPInstanceUID")?;

    let mut parsed = ParsedInstance {
        study_uid,
        series_uid,
        sop_uid,
        transfer_syntax_uid,
        patient: Map::new(),
        study: Map::new(),
        series: Map::new(),
        instance: Map::new(),
        dicom_vrs: Map::new(),
        frames: Vec::new(),
    };

    // File meta group, by keyword, at instance level.
    for elem in obj.meta().to_element_iter() {
        let tag = elem.header().tag;
        if let Value::Primitive(p) = elem.value() {
            parsed
                .instance
                .insert(element_key(tag), primitive_to_json(tag, elem.vr(), p));
        }
    }

    for elem in obj.iter() {
        let tag = elem.header().tag;
        if PIXEL_TAGS.contains(&tag) {
            continue;
        }
        let key = element_key(tag);
        if tag.group() == 0x0002 && parsed.instance.contains_key(&key) {
            continue;
        }
        let vr = effective_vr(elem);
        if vr_needs_recording(tag, vr) {
            parsed
                .dicom_vrs
                .insert(key.clone(), Json::String(vr.to_string().to_owned()));
        }
        let value = element_to_json(elem);
        let map = match level_of_tag(tag) {
            Level::Patient => &mut parsed.patient,
            Level::Study => &mut parsed.study,
            Level::Series => &mut parsed.series,
            Level::Instance => &mut parsed.instance,
        };
        map.insert(key, value);
    }

    parsed.frames = extract_frames(&obj, &parsed.transfer_syntax_uid)?;
    Ok(parsed)
}

/// Explicit VR elements whose VR has a 16-bit length (PS3.5 7.1.2); every other VR has a
/// reserved field and a 32-bit length.
fn has_short_length(vr: &[u8; 2]) -> bool {
    matches!(
        vr,
        b"AE"
            | b"AS"
            | b"AT"
            | b"CS"
            | b"DA"
            | b"DS"
            | b"DT"
            | b"FL"
            | b"FD"
            | b"IS"
            | b"LO"
            | b"LT"
            | b"PN"
            | b"SH"
            | b"SL"
            | b"SS"
            | b"ST"
            | b"TM"
            | b"UI"
            | b"UL"
            | b"US"
    )
}

/// For a file meta group without (0002,0000) FileMetaInformationGroupLength: `DICM`, a
/// computed group length element and the rest of `body` (which starts after `DICM`).
/// `None` when the group length is present or the group can't be walked.
fn with_meta_group_length(body: &[u8]) -> Option<Vec<u8>> {
    let u16_at = |at: usize| u16::from_le_bytes([body[at], body[at + 1]]);
    if body.len() < 8 || u16_at(0) != 0x0002 || u16_at(2) == 0x0000 {
        return None;
    }
    let mut pos = 0usize;
    while pos + 8 <= body.len() && u16_at(pos) == 0x0002 {
        let vr = [body[pos + 4], body[pos + 5]];
        let short = has_short_length(&vr);
        let (length, header) = if !short {
            if pos + 12 > body.len() {
                return None;
            }
            let l =
                u32::from_le_bytes([body[pos + 8], body[pos + 9], body[pos + 10], body[pos + 11]]);
            (l as usize, 12)
        } else {
            (usize::from(u16_at(pos + 6)), 8)
        };
        pos = pos
            .checked_add(header + length)
            .filter(|&p| p <= body.len())?;
    }
    let group_length = u32::try_from(pos).ok()?;
    let mut out = Vec::with_capacity(body.len() + 16);
    out.extend_from_slice(b"DICM");
    out.extend_from_slice(&[0x02, 0x00, 0x00, 0x00, b'U', b'L', 0x04, 0x00]);
    out.extend_from_slice(&group_length.to_le_bytes());
    out.extend_from_slice(body);
    Some(out)
}

/// Element lengths above this size are checked against the bytes actually present before
/// the real parser sees them (it allocates the declared length up front).
const BIG_LENGTH: u64 = 16 * 1024 * 1024;

/// Walk the element headers of the file body (after `DICM`) the way dicom-rs reads them and
/// reject a declared length that is both large and longer than the rest of the file, so
/// that a corrupt or hostile length field can't make the parser allocate (and zero)
/// gigabytes before failing. Anything the walk doesn't understand ends the walk and is left
/// to the real parser.
fn prescan_lengths(body: &[u8]) -> Result<(), ParseError> {
    use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
    use dicom_dictionary_std::StandardDataDictionary;

    #[derive(Clone, Copy, PartialEq)]
    enum Kind {
        Seq,
        Item,
        Pixel,
    }

    let len = body.len();
    let u16_at = |at: usize, be: bool| {
        let b = [body[at], body[at + 1]];
        if be {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    };
    let u32_at = |at: usize, be: bool| {
        let b = [body[at], body[at + 1], body[at + 2], body[at + 3]];
        if be {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    let check = |tag: (u16, u16), length: u64, from: usize| {
        let left = len.saturating_sub(from) as u64;
        if length > BIG_LENGTH && length > left {
            Err(ParseError::Corrupt(format!(
                "element ({:04X},{:04X}) declares {length} bytes, only {left} left",
                tag.0, tag.1
            )))
        } else {
            Ok(())
        }
    };
    // Explicit VR header: (value length, header size), as dicom-encoding decodes it (an
    // unknown VR is read as UN, with a 32-bit length).
    let explicit_header = |pos: usize, be: bool| -> Option<([u8; 2], u32, usize)> {
        let vr = [body[pos + 4], body[pos + 5]];
        let short = has_short_length(&vr);
        if short {
            Some((vr, u32::from(u16_at(pos + 6, be)), 8))
        } else if pos + 12 <= len {
            Some((vr, u32_at(pos + 8, be), 12))
        } else {
            None
        }
    };

    // --- file meta group: Explicit VR LE, its size given by (0002,0000) ---
    if len < 12 || (u16_at(0, false), u16_at(2, false)) != (0x0002, 0x0000) {
        return Ok(());
    }
    let meta_end = 12usize.saturating_add(u32_at(8, false) as usize);
    let mut transfer_syntax = String::new();
    let mut pos = 12usize;
    while pos < meta_end && pos + 8 <= len {
        let tag = (u16_at(pos, false), u16_at(pos + 2, false));
        let Some((_, length, header)) = explicit_header(pos, false) else {
            return Ok(());
        };
        pos += header;
        if length == u32::MAX {
            return Ok(());
        }
        check(tag, u64::from(length), pos)?;
        if tag == (0x0002, 0x0010) && length < 256 && pos + length as usize <= len {
            transfer_syntax = String::from_utf8_lossy(&body[pos..pos + length as usize]).into();
        }
        pos = pos.saturating_add(length as usize);
    }

    // --- data set ---
    let (explicit, be) = match transfer_syntax.trim_end_matches(['\0', ' ']) {
        decode::IMPLICIT_VR_LE => (false, false),
        decode::EXPLICIT_VR_BE => (true, true),
        decode::DEFLATED_EXPLICIT_VR_LE => return Ok(()),
        _ => (true, false),
    };
    let mut pos = meta_end;
    // (kind, end offset for defined lengths)
    let mut stack: Vec<(Kind, Option<usize>)> = Vec::new();
    loop {
        while stack.last().is_some_and(|c| c.1.is_some_and(|e| pos >= e)) {
            stack.pop();
        }
        if pos.saturating_add(8) > len {
            return Ok(());
        }
        let tag = (u16_at(pos, be), u16_at(pos + 2, be));
        if tag.0 == 0xFFFE {
            let length = u32_at(pos + 4, be);
            pos += 8;
            match (tag.1, stack.last().map(|c| c.0)) {
                (0xE000, Some(Kind::Pixel)) => {
                    if length == u32::MAX {
                        return Ok(());
                    }
                    check(tag, u64::from(length), pos)?;
                    pos = pos.saturating_add(length as usize);
                }
                (0xE000, Some(Kind::Seq)) => {
                    let end = if length == u32::MAX {
                        None
                    } else {
                        check(tag, u64::from(length), pos)?;
                        Some(pos.saturating_add(length as usize))
                    };
                    stack.push((Kind::Item, end));
                }
                (0xE00D, Some(Kind::Item)) => {
                    stack.pop();
                }
                (0xE0DD, _) => {
                    while let Some((kind, _)) = stack.pop() {
                        if kind != Kind::Item {
                            break;
                        }
                    }
                }
                (0xE00D, None) => {}
                _ => return Ok(()),
            }
            continue;
        }
        let (vr, length, header) = if explicit {
            match explicit_header(pos, be) {
                Some((vr, length, header)) => (Some(vr), length, header),
                None => return Ok(()),
            }
        } else {
            (None, u32_at(pos + 4, be), 8)
        };
        pos += header;
        if length == u32::MAX {
            let kind = if tag == (0x7FE0, 0x0010) {
                Kind::Pixel
            } else {
                Kind::Seq
            };
            stack.push((kind, None));
            continue;
        }
        check(tag, u64::from(length), pos)?;
        let is_sequence = match vr {
            Some(vr) => &vr == b"SQ",
            None => StandardDataDictionary
                .by_tag(Tag(tag.0, tag.1))
                .is_some_and(|e| e.vr() == VirtualVr::Exact(dicom_core::VR::SQ)),
        };
        if is_sequence {
            stack.push((Kind::Seq, Some(pos.saturating_add(length as usize))));
        } else {
            pos = pos.saturating_add(length as usize);
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

fn clean(s: &str) -> &str {
    s.trim_end_matches(['\0', ' ']).trim_start()
}

fn element(obj: &DefaultDicomObject, tag: Tag) -> Option<&InMemElement> {
    obj.element_opt(tag).ok().flatten()
}

fn required_uid(
    obj: &DefaultDicomObject,
    tag: Tag,
    name: &'static str,
) -> Result<String, ParseError> {
    element(obj, tag)
        .and_then(element_text)
        .map(|s| clean(&s).to_owned())
        .filter(|s| !s.is_empty())
        .ok_or(ParseError::MissingAttribute(name))
}

fn int_attr(obj: &DefaultDicomObject, tag: Tag) -> Option<i64> {
    let e = element(obj, tag)?;
    match e.value() {
        Value::Primitive(PrimitiveValue::U8(_)) => {}
        _ => {
            if let Ok(v) = e.to_int::<i64>() {
                return Some(v);
            }
        }
    }
    // IS values such as "1.0", UN-encoded values
    let text = element_text(e)?;
    let first = clean(text.split('\\').next().unwrap_or(""));
    first
        .parse::<i64>()
        .ok()
        .or_else(|| first.parse::<f64>().ok().map(|f| f as i64))
}

fn u16_attr(obj: &DefaultDicomObject, tag: Tag, default: u16) -> u16 {
    int_attr(obj, tag)
        .and_then(|v| u16::try_from(v).ok())
        .unwrap_or(default)
}

fn pixel_info(obj: &DefaultDicomObject) -> PixelInfo {
    let bits_allocated = u16_attr(obj, tags::BITS_ALLOCATED, 0);
    PixelInfo {
        rows: int_attr(obj, tags::ROWS)
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0),
        columns: int_attr(obj, tags::COLUMNS)
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(0),
        samples_per_pixel: u16_attr(obj, tags::SAMPLES_PER_PIXEL, 1),
        bits_allocated,
        bits_stored: u16_attr(obj, tags::BITS_STORED, bits_allocated),
        pixel_representation: u16_attr(obj, tags::PIXEL_REPRESENTATION, 0),
        photometric: element(obj, tags::PHOTOMETRIC_INTERPRETATION)
            .and_then(element_text)
            .map(|s| clean(&s).to_owned())
            .unwrap_or_default(),
    }
}

fn extract_frames(obj: &DefaultDicomObject, ts: &str) -> Result<Vec<ParsedFrame>, ParseError> {
    let Some(pixel_data) = element(obj, tags::PIXEL_DATA) else {
        return Ok(Vec::new());
    };
    let info = pixel_info(obj);
    let planar = u16_attr(obj, tags::PLANAR_CONFIGURATION, 0);
    let n_frames = match int_attr(obj, tags::NUMBER_OF_FRAMES) {
        Some(n) if n >= 1 => usize::try_from(n)
            .map_err(|_| ParseError::Pixel(format!("NumberOfFrames {n} is too large")))?,
        _ => 1,
    };
    let big_endian = clean(ts) == decode::EXPLICIT_VR_BE;

    // For 8-bit (or bit-packed) samples held in OW words under Explicit VR Big Endian, the
    // stored byte order is swapped within each word; the samples are decoded from the
    // words' little-endian layout instead.
    let mut decode_as: Option<Vec<Vec<u8>>> = None;
    let stored: Vec<Vec<u8>> = match pixel_data.value() {
        Value::PixelSequence(seq) => {
            let eot = extended_offset_table(obj);
            split_encapsulated(seq.fragments(), seq.offset_table(), eot, n_frames)?
        }
        Value::Primitive(PrimitiveValue::Empty) => return Ok(Vec::new()),
        Value::Primitive(p) => {
            if !decode::is_native_transfer_syntax(ts) {
                return Err(ParseError::Pixel(format!(
                    "native pixel data under encapsulated transfer syntax {ts}"
                )));
            }
            let data = stored_bytes(p, big_endian);
            if big_endian
                && info.bits_allocated <= 8
                && matches!(p, PrimitiveValue::U16(_) | PrimitiveValue::I16(_))
            {
                decode_as = Some(split_native(&stored_bytes(p, false), &info, n_frames)?);
            }
            split_native(&data, &info, n_frames)?
        }
        Value::Sequence(_) => {
            return Err(ParseError::Pixel("PixelData is a sequence".into()));
        }
    };

    let mut frames = Vec::with_capacity(stored.len());
    for (i, bytes) in stored.into_iter().enumerate() {
        let logical = decode_as.as_ref().and_then(|d| d.get(i));
        frames.push(frame_with_stats(bytes, logical, ts, &info, planar, i)?);
    }
    Ok(frames)
}

/// `bytes` is the frame as stored; `little_endian_view`, when given, is the same frame in
/// little-endian word order, decoded instead of `bytes`.
fn frame_with_stats(
    bytes: Vec<u8>,
    little_endian_view: Option<&Vec<u8>>,
    ts: &str,
    info: &PixelInfo,
    planar: u16,
    index: usize,
) -> Result<ParsedFrame, ParseError> {
    let decoded = match little_endian_view {
        Some(view) => decode::decode_frame_planar(view, decode::EXPLICIT_VR_LE, info, planar),
        None => decode::decode_frame_planar(&bytes, ts, info, planar),
    };
    match decoded {
        Ok(decoded) => {
            let unsigned_32 = info.bits_allocated == 32 && info.pixel_representation == 0;
            let min_max = decoded.min_max_i64(unsigned_32);
            Ok(ParsedFrame {
                min: min_max.map(|m| m.0),
                max: min_max.map(|m| m.1),
                checksum: Some(decoded.crc32(info.bits_allocated)),
                width: decoded.width,
                height: decoded.height,
                bytes,
            })
        }
        Err(e) if e.is_unsupported() => Ok(ParsedFrame {
            bytes,
            min: None,
            max: None,
            checksum: None,
            width: info.columns,
            height: info.rows,
        }),
        Err(e) => Err(ParseError::Pixel(format!("frame {}: {e}", index + 1))),
    }
}

/// The PixelData value as it was stored in the file (byte order of the transfer syntax).
fn stored_bytes(p: &PrimitiveValue, big_endian: bool) -> Vec<u8> {
    fn collect<T: Copy, const N: usize>(
        v: &[T],
        le: impl Fn(T) -> [u8; N],
        be: impl Fn(T) -> [u8; N],
        big_endian: bool,
    ) -> Vec<u8> {
        if big_endian {
            v.iter().flat_map(|x| be(*x)).collect()
        } else {
            v.iter().flat_map(|x| le(*x)).collect()
        }
    }
    match p {
        PrimitiveValue::U8(v) => v.to_vec(),
        PrimitiveValue::U16(v) => collect(v, u16::to_le_bytes, u16::to_be_bytes, big_endian),
        PrimitiveValue::I16(v) => collect(v, i16::to_le_bytes, i16::to_be_bytes, big_endian),
        PrimitiveValue::U32(v) => collect(v, u32::to_le_bytes, u32::to_be_bytes, big_endian),
        PrimitiveValue::I32(v) => collect(v, i32::to_le_bytes, i32::to_be_bytes, big_endian),
        PrimitiveValue::U64(v) => collect(v, u64::to_le_bytes, u64::to_be_bytes, big_endian),
        PrimitiveValue::I64(v) => collect(v, i64::to_le_bytes, i64::to_be_bytes, big_endian),
        PrimitiveValue::F32(v) => collect(v, f32::to_le_bytes, f32::to_be_bytes, big_endian),
        PrimitiveValue::F64(v) => collect(v, f64::to_le_bytes, f64::to_be_bytes, big_endian),
        other => other.to_bytes().into_owned(),
    }
}

/// Split native pixel data into `n_frames` frames of the size Rows × Columns ×
/// SamplesPerPixel × BitsAllocated / 8. Bit-packed (BitsAllocated 1) frames that don't start
/// on a byte boundary are re-aligned.
fn split_native(
    data: &[u8],
    info: &PixelInfo,
    n_frames: usize,
) -> Result<Vec<Vec<u8>>, ParseError> {
    if info.rows == 0 || info.columns == 0 || info.bits_allocated == 0 {
        return Err(ParseError::Pixel(
            "PixelData without Rows, Columns or BitsAllocated".into(),
        ));
    }
    if info.bits_allocated == 1 {
        let frame_bits = info
            .native_frame_bits()
            .ok_or_else(|| ParseError::Pixel("frame size overflows".into()))?;
        let total_bits = frame_bits
            .checked_mul(n_frames as u64)
            .ok_or_else(|| ParseError::Pixel("pixel data size overflows".into()))?;
        if (data.len() as u64) * 8 < total_bits {
            return Err(too_short(data.len(), total_bits.div_ceil(8)));
        }
        let frame_len = usize::try_from(frame_bits.div_ceil(8))
            .map_err(|_| ParseError::Pixel("frame too large".into()))?;
        return Ok((0..n_frames as u64)
            .map(|i| {
                let start_bit = i * frame_bits;
                if start_bit % 8 == 0 {
                    let start = (start_bit / 8) as usize;
                    let mut out = data[start..start + frame_len].to_vec();
                    // clear the bits of the next frame sharing the last byte
                    let tail = frame_bits % 8;
                    if let (Some(last), true) = (out.last_mut(), tail != 0) {
                        *last &= (1u8 << tail) - 1;
                    }
                    out
                } else {
                    let mut out = vec![0u8; frame_len];
                    for b in 0..frame_bits {
                        let src = start_bit + b;
                        if (data[(src / 8) as usize] >> (src % 8)) & 1 == 1 {
                            out[(b / 8) as usize] |= 1 << (b % 8);
                        }
                    }
                    out
                }
            })
            .collect());
    }
    let frame_len = info.native_frame_len().ok_or_else(|| {
        ParseError::Pixel(format!(
            "unsupported BitsAllocated {} for native pixel data",
            info.bits_allocated
        ))
    })?;
    let total = frame_len
        .checked_mul(n_frames)
        .ok_or_else(|| ParseError::Pixel("pixel data size overflows".into()))?;
    if data.len() < total || frame_len == 0 {
        return Err(too_short(data.len(), total as u64));
    }
    Ok(data[..total]
        .chunks_exact(frame_len)
        .map(<[u8]>::to_vec)
        .collect())
}

fn too_short(have: usize, need: u64) -> ParseError {
    ParseError::Pixel(format!(
        "PixelData has {have} bytes, the frames need {need}"
    ))
}

/// The Extended Offset Table (offsets, lengths), if present.
fn extended_offset_table(obj: &DefaultDicomObject) -> Option<Vec<u64>> {
    let e = element(obj, tags::EXTENDED_OFFSET_TABLE)?;
    match e.value() {
        Value::Primitive(PrimitiveValue::U64(v)) => Some(v.to_vec()),
        Value::Primitive(PrimitiveValue::U8(b)) if b.len() % 8 == 0 => Some(
            b.chunks_exact(8)
                .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                .collect(),
        ),
        _ => None,
    }
}

/// Group encapsulated fragments into frames: one frame → all fragments; as many fragments
/// as frames → one each; otherwise use the Extended or Basic Offset Table, or, without
/// tables, the JPEG 2000 start-of-codestream markers.
fn split_encapsulated(
    fragments: &[Vec<u8>],
    bot: &[u32],
    eot: Option<Vec<u64>>,
    n_frames: usize,
) -> Result<Vec<Vec<u8>>, ParseError> {
    if fragments.is_empty() {
        return Err(ParseError::Pixel(
            "encapsulated PixelData has no fragments".into(),
        ));
    }
    if n_frames == 1 {
        return Ok(vec![fragments.concat()]);
    }
    if fragments.len() == n_frames {
        return Ok(fragments.to_vec());
    }
    if fragments.len() < n_frames {
        return Err(ParseError::Pixel(format!(
            "{} fragments for {n_frames} frames",
            fragments.len()
        )));
    }
    // Offsets are counted from the first byte of the first fragment's item tag.
    let mut positions = Vec::with_capacity(fragments.len());
    let mut pos = 0u64;
    for f in fragments {
        positions.push(pos);
        pos += 8 + f.len() as u64;
    }
    let offsets: Option<Vec<u64>> = match eot {
        Some(o) if o.len() == n_frames => Some(o),
        _ if bot.len() == n_frames => Some(bot.iter().map(|&o| u64::from(o)).collect()),
        _ => None,
    };
    let starts: Vec<usize> = match offsets {
        Some(offsets) => {
            let mut starts = Vec::with_capacity(n_frames);
            for (i, off) in offsets.iter().enumerate() {
                let idx = positions.binary_search(off).map_err(|_| {
                    ParseError::Pixel(format!(
                        "offset table entry {i} ({off}) does not start a fragment"
                    ))
                })?;
                if starts.last().is_some_and(|&prev| idx <= prev) || (i == 0 && idx != 0) {
                    return Err(ParseError::Pixel("offset table is not increasing".into()));
                }
                starts.push(idx);
            }
            starts
        }
        None => {
            const SOC: [u8; 4] = [0xFF, 0x4F, 0xFF, 0x51];
            let starts: Vec<usize> = fragments
                .iter()
                .enumerate()
                .filter(|(_, f)| f.starts_with(&SOC))
                .map(|(i, _)| i)
                .collect();
            if starts.len() != n_frames || starts.first() != Some(&0) {
                return Err(ParseError::Pixel(format!(
                    "cannot tell which of {} fragments belong to which of {n_frames} frames \
                     (no offset table)",
                    fragments.len()
                )));
            }
            starts
        }
    };
    Ok(starts
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            let end = starts.get(i + 1).copied().unwrap_or(fragments.len());
            fragments[start..end].concat()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Samples shipped with the Python package: one file per transfer syntax plus
    /// `manifest.json` (per frame: sha256 of the stored bytes, min, max, crc32).
    pub(crate) const SAMPLES_DIR: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/python/awslabs/healthimaging_mcp_server/samples/dicom"
    );

    fn manifest() -> Json {
        let path = format!("{SAMPLES_DIR}/../manifest.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("sample manifest {path} is missing: {e}"));
        serde_json::from_str(&text).expect("manifest.json is not JSON")
    }

    fn sample_files(manifest: &Json) -> Vec<(Json, Vec<u8>)> {
        let files = manifest["files"].as_array().expect("manifest has no files");
        assert!(files.len() >= 3, "expected several sample files");
        files
            .iter()
            .map(|f| {
                let rel = f["path"].as_str().unwrap();
                let bytes = std::fs::read(format!("{SAMPLES_DIR}/{rel}"))
                    .unwrap_or_else(|e| panic!("{rel}: {e}"));
                (f.clone(), bytes)
            })
            .collect()
    }

    fn sha256_hex(bytes: &[u8]) -> String {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(bytes))
    }

    #[test]
    fn samples_match_the_manifest() {
        let manifest = manifest();
        let mut frames_checked = 0;
        let mut syntaxes = std::collections::BTreeSet::new();
        for (entry, bytes) in sample_files(&manifest) {
            let rel = entry["path"].as_str().unwrap();
            let p = parse_part10(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}"));
            assert_eq!(p.study_uid, entry["study_instance_uid"], "{rel}");
            assert_eq!(p.series_uid, entry["series_instance_uid"], "{rel}");
            assert_eq!(p.sop_uid, entry["sop_instance_uid"], "{rel}");
            assert_eq!(p.transfer_syntax_uid, entry["transfer_syntax_uid"], "{rel}");
            syntaxes.insert(p.transfer_syntax_uid.clone());

            // metadata at the right level
            assert_eq!(p.patient["PatientName"], entry["patient_name"], "{rel}");
            assert_eq!(p.patient["PatientID"], entry["patient_id"], "{rel}");
            assert_eq!(p.patient["PatientBirthDate"], entry["patient_birth_date"]);
            assert_eq!(p.patient["PatientSex"], entry["patient_sex"]);
            assert_eq!(p.study["StudyInstanceUID"], entry["study_instance_uid"]);
            assert_eq!(p.study["StudyID"], entry["study_id"]);
            assert_eq!(p.study["StudyDate"], entry["study_date"]);
            assert_eq!(p.study["StudyTime"], entry["study_time"]);
            assert_eq!(p.study["AccessionNumber"], entry["accession_number"]);
            assert_eq!(p.study["StudyDescription"], entry["study_description"]);
            assert_eq!(p.series["SeriesInstanceUID"], entry["series_instance_uid"]);
            assert_eq!(p.series["Modality"], entry["modality"]);
            assert_eq!(p.series["SeriesDescription"], entry["series_description"]);
            assert_eq!(p.series["BodyPartExamined"], entry["body_part_examined"]);
            assert_eq!(
                p.series["SeriesNumber"],
                Json::from(entry["series_number"].to_string()),
                "IS stays a string"
            );
            assert_eq!(
                p.instance["InstanceNumber"],
                Json::from(entry["instance_number"].to_string())
            );
            assert_eq!(p.instance["SOPInstanceUID"], entry["sop_instance_uid"]);
            assert_eq!(p.instance["SOPClassUID"], entry["sop_class_uid"]);
            assert_eq!(
                p.instance["MediaStorageSOPInstanceUID"],
                entry["sop_instance_uid"]
            );
            assert_eq!(
                p.instance["TransferSyntaxUID"],
                entry["transfer_syntax_uid"]
            );
            assert_eq!(p.instance["FileMetaInformationVersion"], "AAE=");
            assert_eq!(p.instance["ImplementationVersionName"], "HIMCP_SAMPLES_1");
            assert_eq!(p.instance["Rows"], entry["rows"]);
            assert_eq!(p.instance["Columns"], entry["columns"]);
            assert_eq!(p.instance["BitsAllocated"], entry["bits_allocated"]);
            assert_eq!(p.instance["BitsStored"], entry["bits_stored"]);
            assert_eq!(
                p.instance["PixelRepresentation"],
                entry["pixel_representation"]
            );
            assert_eq!(
                p.instance["PhotometricInterpretation"],
                entry["photometric_interpretation"]
            );
            assert!(p.instance["ImageType"].is_array(), "{rel}: ImageType");
            for map in [&p.patient, &p.study, &p.series, &p.instance] {
                assert!(!map.contains_key("PixelData"), "{rel}: PixelData leaked");
            }
            assert!(p.attribute("PatientName").is_some());

            // frames
            let expected = entry["frames"].as_array().unwrap();
            assert_eq!(
                p.frames.len() as u64,
                entry["number_of_frames"].as_u64().unwrap(),
                "{rel}"
            );
            assert_eq!(p.frames.len(), expected.len(), "{rel}");
            for (frame, want) in p.frames.iter().zip(expected) {
                let i = &want["index"];
                assert_eq!(frame.bytes.len() as u64, want["length"].as_u64().unwrap());
                assert_eq!(sha256_hex(&frame.bytes), want["sha256"], "{rel} frame {i}");
                assert_eq!(frame.min, want["min"].as_i64(), "{rel} frame {i} min");
                assert_eq!(frame.max, want["max"].as_i64(), "{rel} frame {i} max");
                assert_eq!(
                    frame.checksum.map(u64::from),
                    want["crc32"].as_u64(),
                    "{rel} frame {i} crc32"
                );
                assert_eq!(u64::from(frame.width), entry["columns"].as_u64().unwrap());
                assert_eq!(u64::from(frame.height), entry["rows"].as_u64().unwrap());
                frames_checked += 1;
            }
        }
        assert_eq!(
            frames_checked,
            manifest["totals"]["frames"].as_u64().unwrap(),
            "every frame of the manifest was checked"
        );
        for ts in [
            "1.2.840.10008.1.2.1",
            "1.2.840.10008.1.2.4.90",
            "1.2.840.10008.1.2.4.202",
        ] {
            assert!(syntaxes.contains(ts), "no sample with {ts}");
        }
    }

    #[test]
    fn truncated_and_mutated_samples_never_panic() {
        let manifest = manifest();
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            // xorshift64*
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            state.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let mut errors = 0;
        for (entry, bytes) in sample_files(&manifest).into_iter().take(12) {
            let rel = entry["path"].as_str().unwrap().to_owned();
            // truncations: inside the preamble / meta group always fail
            for cut in [0, 10, 131, 132, 140, 200, 300] {
                assert!(
                    parse_part10(&bytes[..cut.min(bytes.len())]).is_err(),
                    "{rel} @{cut}"
                );
            }
            for _ in 0..25 {
                let cut = (next() % bytes.len() as u64) as usize;
                if parse_part10(&bytes[..cut]).is_err() {
                    errors += 1;
                }
            }
            // random byte mutations (keep the magic so the parser is exercised)
            for _ in 0..40 {
                let mut m = bytes.clone();
                for _ in 0..(1 + next() % 8) {
                    let at = 132 + (next() % (m.len() as u64 - 132)) as usize;
                    m[at] = next() as u8;
                }
                if parse_part10(&m).is_err() {
                    errors += 1;
                }
            }
            // huge declared lengths in the data set
            for _ in 0..10 {
                let mut m = bytes.clone();
                let at = 132 + (next() % (m.len() as u64 - 136)) as usize;
                m[at..at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
                let _ = parse_part10(&m);
            }
        }
        assert!(errors > 0);
        // random garbage with a valid magic
        for len in [132usize, 133, 140, 200, 1000, 5000] {
            let mut junk: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            junk[128..132].copy_from_slice(b"DICM");
            assert!(parse_part10(&junk).is_err());
        }
    }

    #[test]
    fn missing_uids_are_reported() {
        let manifest = manifest();
        let (_, bytes) = sample_files(&manifest).remove(0);
        // Blank the StudyInstanceUID value (keep its length) by finding the element.
        let tag = [0x20u8, 0x00, 0x0D, 0x00, b'U', b'I'];
        let at = bytes
            .windows(6)
            .position(|w| w == tag)
            .expect("StudyInstanceUID element");
        let len = u16::from_le_bytes([bytes[at + 6], bytes[at + 7]]) as usize;
        let mut m = bytes.clone();
        m[at + 8..at + 8 + len].fill(b' ');
        assert!(matches!(
            parse_part10(&m),
            Err(ParseError::MissingAttribute("StudyInstanceUID"))
        ));
        // and a file with the tag renamed to a private one loses it entirely
        let mut m = bytes.clone();
        m[at] = 0x21; // (0020,000D) → (0020,0021): unknown tag, wrong order is fine
        m[at + 1] = 0x00;
        let r = parse_part10(&m);
        assert!(
            matches!(
                r,
                Err(ParseError::MissingAttribute("StudyInstanceUID")) | Err(ParseError::Corrupt(_))
            ),
            "{r:?}"
        );
    }

    #[test]
    fn missing_meta_group_length_is_tolerated() {
        let manifest = manifest();
        let (_, bytes) = sample_files(&manifest).remove(0);
        let reference = parse_part10(&bytes).unwrap();
        // drop the 12-byte (0002,0000) element that follows DICM
        assert_eq!(&bytes[132..136], &[0x02, 0x00, 0x00, 0x00]);
        let mut stripped = bytes[..132].to_vec();
        stripped.extend_from_slice(&bytes[144..]);
        let p = parse_part10(&stripped).unwrap();
        assert_eq!(p.sop_uid, reference.sop_uid);
        assert_eq!(p.frames, reference.frames);
        assert_eq!(
            p.instance["FileMetaInformationGroupLength"],
            reference.instance["FileMetaInformationGroupLength"]
        );
        // and without the preamble as well
        let p = parse_part10(&stripped[128..]).unwrap();
        assert_eq!(p.study, reference.study);
    }

    #[test]
    fn unsupported_transfer_syntax_keeps_frames_without_stats() {
        let manifest = manifest();
        let (entry, bytes) = sample_files(&manifest)
            .into_iter()
            .find(|(e, _)| e["transfer_syntax_uid"] == "1.2.840.10008.1.2.4.90")
            .expect("a JPEG 2000 sample");
        // Relabel the file as JPEG Baseline (same UID length), which this emulator can't
        // decode: the import must keep the frame, without statistics.
        let from = b"1.2.840.10008.1.2.4.90";
        let at = bytes.windows(from.len()).position(|w| w == from).unwrap();
        let mut m = bytes.clone();
        m[at..at + from.len()].copy_from_slice(b"1.2.840.10008.1.2.4.50");
        let p = parse_part10(&m).unwrap();
        assert_eq!(p.transfer_syntax_uid, "1.2.840.10008.1.2.4.50");
        assert_eq!(p.instance["TransferSyntaxUID"], "1.2.840.10008.1.2.4.50");
        assert_eq!(p.frames.len(), 1);
        let f = &p.frames[0];
        assert_eq!(sha256_hex(&f.bytes), entry["frames"][0]["sha256"]);
        assert_eq!((f.min, f.max, f.checksum), (None, None, None));
        assert_eq!(u64::from(f.width), entry["columns"].as_u64().unwrap());
        assert_eq!(u64::from(f.height), entry["rows"].as_u64().unwrap());
    }

    #[test]
    fn rejects_non_dicom() {
        assert!(matches!(parse_part10(b""), Err(ParseError::NotDicom(_))));
        assert!(matches!(
            parse_part10(b"hello, this is a text file\n"),
            Err(ParseError::NotDicom(_))
        ));
        assert!(matches!(
            parse_part10(&[0u8; 200]),
            Err(ParseError::NotDicom(_))
        ));
        let mut only_magic = vec![0u8; 128];
        only_magic.extend_from_slice(b"DICM");
        assert!(matches!(
            parse_part10(&only_magic),
            Err(ParseError::Corrupt(_))
        ));
    }

    #[test]
    fn split_encapsulated_rules() {
        let frags = vec![vec![1u8, 2], vec![3, 4], vec![5, 6, 7, 8]];
        // single frame: concatenation
        assert_eq!(
            split_encapsulated(&frags, &[], None, 1).unwrap(),
            vec![vec![1, 2, 3, 4, 5, 6, 7, 8]]
        );
        // one fragment per frame
        assert_eq!(split_encapsulated(&frags, &[], None, 3).unwrap(), frags);
        // basic offset table: frame 1 = fragments 0+1 (offset 0), frame 2 = fragment 2
        // (offset (8+2)+(8+2) = 20)
        assert_eq!(
            split_encapsulated(&frags, &[0, 20], None, 2).unwrap(),
            vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8]]
        );
        // extended offset table wins over the basic one
        assert_eq!(
            split_encapsulated(&frags, &[0, 20], Some(vec![0, 10]), 2).unwrap(),
            vec![vec![1, 2], vec![3, 4, 5, 6, 7, 8]]
        );
        // bad offset
        assert!(split_encapsulated(&frags, &[0, 7], None, 2).is_err());
        // no table, no markers
        assert!(split_encapsulated(&frags, &[], None, 2).is_err());
        // too few fragments
        assert!(split_encapsulated(&frags, &[], None, 4).is_err());
        // J2K markers without a table
        let j2k = vec![
            vec![0xFF, 0x4F, 0xFF, 0x51, 1],
            vec![2],
            vec![0xFF, 0x4F, 0xFF, 0x51, 3],
        ];
        assert_eq!(
            split_encapsulated(&j2k, &[], None, 2).unwrap(),
            vec![
                vec![0xFF, 0x4F, 0xFF, 0x51, 1, 2],
                vec![0xFF, 0x4F, 0xFF, 0x51, 3]
            ]
        );
    }

    #[test]
    fn split_native_rules() {
        let info = PixelInfo {
            rows: 2,
            columns: 2,
            samples_per_pixel: 1,
            bits_allocated: 16,
            bits_stored: 16,
            pixel_representation: 0,
            photometric: "MONOCHROME2".into(),
        };
        let data: Vec<u8> = (0..17).collect(); // 2 frames of 8 bytes + 1 padding byte
        let frames = split_native(&data, &info, 2).unwrap();
        assert_eq!(frames, vec![(0..8).collect::<Vec<u8>>(), (8..16).collect()]);
        assert!(split_native(&data, &info, 3).is_err());
        // bit-packed 3x3 frames: the second frame starts at bit 9
        let bits = PixelInfo {
            rows: 3,
            columns: 3,
            bits_allocated: 1,
            bits_stored: 1,
            ..info
        };
        // frame 1 = bits 0..9 = 1,0,0,0,0,0,0,0,1 ; frame 2 = bits 9..18 = 1,1,0,...,0
        let packed = [0b0000_0001u8, 0b0000_0111, 0];
        let frames = split_native(&packed, &bits, 2).unwrap();
        assert_eq!(frames, vec![vec![0b0000_0001, 0b1], vec![0b0000_0011, 0]]);
        assert_eq!(packed[1], 0b0000_0111);
    }

    #[test]
    fn stored_bytes_respects_byte_order() {
        let p = PrimitiveValue::U16([0x0102u16, 0x0304].as_slice().into());
        assert_eq!(stored_bytes(&p, false), vec![2, 1, 4, 3]);
        assert_eq!(stored_bytes(&p, true), vec![1, 2, 3, 4]);
    }
}
