//! HealthImaging metadata (reference §4) back into DICOM: the data set of one instance rebuilt
//! from its Patient / Study / Series / Instance attribute maps (the inverse of `json`), and a
//! Part-10 file of it with its frames, in the stored transfer syntax or as Explicit VR Little
//! Endian with the frames decoded.

use base64::Engine as _;
use dicom_core::dictionary::{DataDictionary, VirtualVr};
use dicom_core::value::{DataSetSequence, PixelFragmentSequence, PrimitiveValue, Value};
use dicom_core::{Length, Tag, VR};
use dicom_dictionary_std::{tags, StandardDataDictionary};
use dicom_encoding::transfer_syntax::{Codec, TransferSyntax};
use dicom_object::mem::InMemElement;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use serde_json::{Map, Value as Json};

use super::decode::{self, DecodedFrame, PixelInfo};
use super::json::DICOM_VRS_KEY;
use super::vr::{form, Form};

pub const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";
const IMPLICIT_VR_LE: &str = "1.2.840.10008.1.2";

/// The tag a metadata key names: a standard keyword, or 8 hex digits.
pub fn tag_of_key(key: &str) -> Option<Tag> {
    if key.len() == 8 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
        let n = u32::from_str_radix(key, 16).ok()?;
        return Some(Tag((n >> 16) as u16, (n & 0xFFFF) as u16));
    }
    StandardDataDictionary
        .by_name(key)
        .and_then(|e| match e.tag {
            dicom_core::dictionary::TagRange::Single(t) => Some(t),
            dicom_core::dictionary::TagRange::Group100(t)
            | dicom_core::dictionary::TagRange::Element100(t) => Some(t),
            _ => None,
        })
}

/// The VR of an element: as recorded in `DICOMVRs`, else the dictionary's (the first choice of
/// an ambiguous one), else UN.
fn vr_of(tag: Tag, key: &str, vrs: Option<&Map<String, Json>>) -> VR {
    if let Some(vr) = vrs
        .and_then(|m| m.get(key))
        .and_then(Json::as_str)
        .and_then(|s| s.parse::<VR>().ok())
    {
        return vr;
    }
    match StandardDataDictionary.by_tag(tag).map(|e| e.vr) {
        Some(VirtualVr::Exact(vr)) => vr,
        Some(VirtualVr::Xs) | Some(VirtualVr::Lt) => VR::US,
        Some(VirtualVr::Ox) => VR::OW,
        Some(VirtualVr::Px) => VR::OB,
        _ => VR::UN,
    }
}

fn texts(v: &Json) -> Vec<String> {
    let one = |x: &Json| match x {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        other => other.to_string(),
    };
    match v {
        Json::Array(a) => a.iter().map(one).collect(),
        other => vec![one(other)],
    }
}

fn numbers(v: &Json) -> Vec<&Json> {
    match v {
        Json::Array(a) => a.iter().collect(),
        other => vec![other],
    }
}

fn ints<T: TryFrom<i64> + TryFrom<u64>>(v: &Json) -> Option<Vec<T>> {
    numbers(v)
        .into_iter()
        .map(|n| match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => T::try_from(u).ok(),
            (_, Some(i)) => T::try_from(i).ok(),
            _ => None,
        })
        .collect()
}

fn floats(v: &Json) -> Option<Vec<f64>> {
    numbers(v).into_iter().map(Json::as_f64).collect()
}

/// One attribute's JSON value as a DICOM value of `vr`; `None` when it does not fit the VR.
fn value_of(vr: VR, v: &Json) -> Option<Value<InMemDicomObject>> {
    if v.is_null() {
        return Some(if vr == VR::SQ {
            Value::from(DataSetSequence::new(Vec::new(), Length::UNDEFINED))
        } else {
            PrimitiveValue::Empty.into()
        });
    }
    let p = match form(vr) {
        Form::Items => {
            let items = v
                .as_array()?
                .iter()
                .map(|item| item.as_object().map(dataset_from_items))
                .collect::<Option<Vec<_>>>()?;
            return Some(Value::from(DataSetSequence::new(items, Length::UNDEFINED)));
        }
        Form::Texts => PrimitiveValue::Strs(texts(v).into()),
        Form::Text => PrimitiveValue::Str(texts(v).join("\\")),
        Form::Bytes => PrimitiveValue::U8(
            base64::engine::general_purpose::STANDARD
                .decode(v.as_str()?)
                .ok()?
                .into(),
        ),
        Form::Tags => PrimitiveValue::Tags(
            texts(v)
                .iter()
                .map(|s| tag_of_key(s))
                .collect::<Option<Vec<_>>>()?
                .into(),
        ),
        Form::Numbers => match vr {
            VR::US => PrimitiveValue::U16(ints(v)?.into()),
            VR::SS => PrimitiveValue::I16(ints(v)?.into()),
            VR::UL => PrimitiveValue::U32(ints(v)?.into()),
            VR::SL => PrimitiveValue::I32(ints(v)?.into()),
            VR::UV => PrimitiveValue::U64(ints(v)?.into()),
            VR::SV => PrimitiveValue::I64(ints(v)?.into()),
            VR::FL => PrimitiveValue::F32(floats(v)?.into_iter().map(|f| f as f32).collect()),
            _ => PrimitiveValue::F64(floats(v)?.into()),
        },
    };
    Some(p.into())
}

/// A sequence item (its own `DICOMVRs` inside).
fn dataset_from_items(item: &Map<String, Json>) -> InMemDicomObject {
    let vrs = item.get(DICOM_VRS_KEY).and_then(Json::as_object);
    let mut obj = InMemDicomObject::new_empty();
    put_all(&mut obj, item, vrs);
    obj
}

fn put_all(obj: &mut InMemDicomObject, attrs: &Map<String, Json>, vrs: Option<&Map<String, Json>>) {
    for (key, v) in attrs {
        if key == DICOM_VRS_KEY {
            continue;
        }
        let Some(tag) = tag_of_key(key) else {
            continue;
        };
        let vr = vr_of(tag, key, vrs);
        // A value that no longer fits its VR (an update gone wrong) is kept as text.
        let (vr, value) = match value_of(vr, v) {
            Some(value) => (vr, value),
            None => (
                VR::UN,
                PrimitiveValue::U8(texts(v).join("\\").into_bytes().into()).into(),
            ),
        };
        obj.put(InMemElement::new(tag, vr, value));
    }
}

/// The data set of one instance: the attributes of its levels (patient first; a lower level
/// wins on a shared key) with the instance's `DICOMVRs`. The file meta group (0002) is left out.
pub fn dataset_from_levels(
    levels: &[&Map<String, Json>],
    vrs: Option<&Map<String, Json>>,
) -> InMemDicomObject {
    let mut obj = InMemDicomObject::new_empty();
    for attrs in levels {
        put_all(&mut obj, attrs, vrs);
    }
    let meta: Vec<Tag> = obj
        .iter()
        .map(|e| e.header().tag)
        .filter(|t| t.group() == 0x0002)
        .collect();
    for t in meta {
        obj.remove_element(t);
    }
    obj
}

/// The pixel attributes of a data set.
pub fn pixel_info(obj: &InMemDicomObject) -> PixelInfo {
    let num = |t: Tag, d: u16| {
        obj.element(t)
            .ok()
            .and_then(|e| e.to_int::<u32>().ok())
            .unwrap_or(u32::from(d))
    };
    PixelInfo {
        rows: num(tags::ROWS, 0),
        columns: num(tags::COLUMNS, 0),
        samples_per_pixel: num(tags::SAMPLES_PER_PIXEL, 1) as u16,
        bits_allocated: num(tags::BITS_ALLOCATED, 8) as u16,
        bits_stored: num(tags::BITS_STORED, 8) as u16,
        pixel_representation: num(tags::PIXEL_REPRESENTATION, 0) as u16,
        photometric: obj
            .element(tags::PHOTOMETRIC_INTERPRETATION)
            .ok()
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
    }
}

/// Why an instance could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Part10Error {
    /// Frames of this stored syntax can't be decoded here.
    #[error("frames stored as {0} cannot be converted to Explicit VR Little Endian")]
    NotConvertible(String),
    #[error("frame {0} could not be decoded: {1}")]
    Decode(usize, decode::DecodeError),
    #[error("the instance could not be written: {0}")]
    Write(String),
}

/// Whether frames stored as `ts` are native (not encapsulated) and little endian.
fn native_le(ts: &str) -> bool {
    ts == EXPLICIT_VR_LE || ts == IMPLICIT_VR_LE
}

/// The samples of a decoded frame as little-endian native bytes of `bits_allocated`.
fn native_bytes(frame: &DecodedFrame, bits_allocated: u16) -> Vec<u8> {
    match bits_allocated {
        8 => frame.samples.iter().map(|&s| s as u8).collect(),
        32 => frame
            .samples
            .iter()
            .flat_map(|&s| s.to_le_bytes())
            .collect(),
        _ => frame
            .samples
            .iter()
            .flat_map(|&s| (s as u16).to_le_bytes())
            .collect(),
    }
}

fn even(mut b: Vec<u8>) -> Vec<u8> {
    if b.len() % 2 == 1 {
        b.push(0);
    }
    b
}

/// A Part-10 file: preamble, `DICM`, the file meta group (the stored group 0002 values, with
/// the transfer syntax written), and the data set with its pixel data from `frames`.
///
/// `to_explicit_le` asks for Explicit VR Little Endian with decoded frames; otherwise the
/// frames are written as stored (native when `stored_ts` is native, encapsulated one fragment
/// per frame otherwise) and the file says `stored_ts`.
pub fn write_part10(
    mut dataset: InMemDicomObject,
    meta: &Map<String, Json>,
    stored_ts: &str,
    frames: &[Vec<u8>],
    to_explicit_le: bool,
) -> Result<Vec<u8>, Part10Error> {
    let native_stored = decode::is_native_transfer_syntax(stored_ts);
    let ts = if to_explicit_le || native_stored {
        EXPLICIT_VR_LE
    } else {
        stored_ts
    };
    if !frames.is_empty() {
        let info = pixel_info(&dataset);
        let pixel_vr = if info.bits_allocated > 8 {
            VR::OW
        } else {
            VR::OB
        };
        if native_le(stored_ts) {
            dataset.put(InMemElement::new(
                tags::PIXEL_DATA,
                pixel_vr,
                PrimitiveValue::U8(even(frames.concat()).into()),
            ));
        } else if ts == EXPLICIT_VR_LE {
            if !decode::is_decodable_transfer_syntax(stored_ts) {
                return Err(Part10Error::NotConvertible(stored_ts.to_string()));
            }
            let planar = dataset
                .element(tags::PLANAR_CONFIGURATION)
                .ok()
                .and_then(|e| e.to_int::<u16>().ok())
                .unwrap_or(0);
            let mut bytes = Vec::new();
            for (n, f) in frames.iter().enumerate() {
                let d = decode::decode_frame_planar(f, stored_ts, &info, planar)
                    .map_err(|e| Part10Error::Decode(n + 1, e))?;
                bytes.extend(native_bytes(&d, info.bits_allocated));
            }
            if info.samples_per_pixel == 3 && !native_stored {
                // Decoded colour frames are RGB, colour-by-pixel.
                dataset.put(InMemElement::new(
                    tags::PHOTOMETRIC_INTERPRETATION,
                    VR::CS,
                    PrimitiveValue::from("RGB"),
                ));
                dataset.put(InMemElement::new(
                    tags::PLANAR_CONFIGURATION,
                    VR::US,
                    PrimitiveValue::from(0u16),
                ));
            }
            dataset.put(InMemElement::new(
                tags::PIXEL_DATA,
                pixel_vr,
                PrimitiveValue::U8(even(bytes).into()),
            ));
        } else {
            let fragments: Vec<Vec<u8>> = frames.iter().map(|f| even(f.clone())).collect();
            dataset.put(InMemElement::new(
                tags::PIXEL_DATA,
                VR::OB,
                Value::from(PixelFragmentSequence::new(Vec::<u32>::new(), fragments)),
            ));
        }
    }
    let text = |k: &str| meta.get(k).and_then(Json::as_str).map(str::to_string);
    let sop_class = text("MediaStorageSOPClassUID").or_else(|| {
        dataset
            .element(tags::SOP_CLASS_UID)
            .ok()
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches('\0').to_string())
    });
    let sop_instance = text("MediaStorageSOPInstanceUID").or_else(|| {
        dataset
            .element(tags::SOP_INSTANCE_UID)
            .ok()
            .and_then(|e| e.to_str().ok())
            .map(|s| s.trim_end_matches('\0').to_string())
    });
    let mut builder = FileMetaTableBuilder::new().transfer_syntax(ts);
    if let Some(v) = sop_class {
        builder = builder.media_storage_sop_class_uid(v);
    }
    if let Some(v) = sop_instance {
        builder = builder.media_storage_sop_instance_uid(v);
    }
    if let Some(v) = text("ImplementationClassUID") {
        builder = builder.implementation_class_uid(v);
    }
    if let Some(v) = text("ImplementationVersionName") {
        builder = builder.implementation_version_name(v);
    }
    if let Some(v) = text("SourceApplicationEntityTitle") {
        builder = builder.source_application_entity_title(v);
    }
    let table = builder
        .build()
        .map_err(|e| Part10Error::Write(e.to_string()))?;
    let mut out = vec![0u8; 128];
    out.extend_from_slice(b"DICM");
    table
        .write(&mut out)
        .map_err(|e| Part10Error::Write(e.to_string()))?;
    // Every encapsulated syntax encodes its data set as Explicit VR Little Endian.
    let writer_ts: TransferSyntax =
        TransferSyntax::new_ele(EXPLICIT_VR_LE, "Explicit VR Little Endian", Codec::None);
    dataset
        .write_dataset_with_ts(&mut out, &writer_ts)
        .map_err(|e| Part10Error::Write(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::import::parse::parse_part10;

    fn samples() -> Vec<std::path::PathBuf> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("python/awslabs/healthimaging_mcp_server/samples/dicom");
        let mut out = Vec::new();
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "dcm") {
                    out.push(p);
                }
            }
        }
        out.sort();
        out
    }

    /// Rebuilding a file from what import keeps gives back the same metadata and frames, in
    /// the stored syntax and (for decodable frames) as Explicit VR Little Endian.
    #[test]
    fn rebuilt_files_parse_back_to_the_same_instance() {
        for path in samples() {
            let source = parse_part10(&std::fs::read(&path).unwrap()).unwrap();
            let levels = [
                &source.patient,
                &source.study,
                &source.series,
                &source.instance,
            ];
            let vrs = Some(&source.dicom_vrs);
            let frames: Vec<Vec<u8>> = source.frames.iter().map(|f| f.bytes.clone()).collect();
            let stored = write_part10(
                dataset_from_levels(&levels, vrs),
                &source.instance,
                &source.transfer_syntax_uid,
                &frames,
                false,
            )
            .unwrap();
            let back = parse_part10(&stored).unwrap();
            assert_eq!(back.patient, source.patient, "{path:?}");
            assert_eq!(back.study, source.study, "{path:?}");
            assert_eq!(back.series, source.series, "{path:?}");
            assert_eq!(back.dicom_vrs, source.dicom_vrs, "{path:?}");
            assert_eq!(back.instance, source.instance, "{path:?}");
            assert_eq!(back.frames, source.frames, "{path:?}");

            let explicit = write_part10(
                dataset_from_levels(&levels, vrs),
                &source.instance,
                &source.transfer_syntax_uid,
                &frames,
                true,
            )
            .unwrap();
            let back = parse_part10(&explicit).unwrap();
            assert_eq!(back.transfer_syntax_uid, EXPLICIT_VR_LE);
            assert_eq!(back.series, source.series, "{path:?}");
            let checksums = |i: &crate::local::import::parse::ParsedInstance| -> Vec<Option<u32>> {
                i.frames.iter().map(|f| f.checksum).collect()
            };
            // The decoded samples are the same (CRC32 of the decoded frames).
            assert_eq!(checksums(&back), checksums(&source), "{path:?}");
        }
    }
}
