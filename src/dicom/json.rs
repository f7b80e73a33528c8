//! DICOM element → JSON, following the AWS HealthImaging metadata document conventions.
//!
//! * Keys are standard keywords (`PatientName`) or, for private / unknown / repeating-group
//!   tags, the upper-case 8-hex-digit tag (`00091001`).
//! * Text values are JSON strings with their trailing padding (spaces, NULs) removed.
//!   DS and IS stay strings (the number text as stored, only trailing padding trimmed).
//! * Binary numbers (US, SS, UL, SL, UV, SV, FL, FD) are JSON numbers.
//! * An attribute whose dictionary value multiplicity allows more than one value (ImageType,
//!   PixelSpacing, WindowCenter, SoftwareVersions, ...) is always a JSON array, as is any
//!   attribute that actually holds more than one value.
//! * SQ is an array of objects, each keyed like the top level; an item that holds elements
//!   whose VR can't be derived from the keyword also carries a `"DICOMVRs"` object.
//! * OB, OW, OD, OF, OL, OV, UN are base64 (of the little-endian bytes); AT is `"GGGGEEEE"`.
//!   A standard attribute that was stored as UN (explicit VR files written by tools that
//!   didn't know it) is read with its dictionary VR instead, as pydicom does.
//! * An empty value (and an empty sequence) is `null`.

use base64::Engine as _;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, TagRange, VirtualVr};
use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;
use dicom_object::mem::{InMemDicomObject, InMemElement};
use serde_json::{Map, Number, Value as Json};

use super::vr::{form, Form};

/// Key of the per-object map recording VRs that can't be derived from the keyword.
pub const DICOM_VRS_KEY: &str = "DICOMVRs";

/// The key for an element: its standard keyword if the tag is in the standard dictionary,
/// else the 8-hex-digit upper-case tag, e.g. `"00091001"`.
///
/// Private tags (odd group) always use the hex form. Repeating-group attributes
/// (50xx, 60xx) use the keyword only in their base group (6000,xxxx), the hex form
/// otherwise, so that two overlays never share a key. Generic group lengths use hex.
pub fn element_key(tag: Tag) -> String {
    keyword_of(tag)
        .map(str::to_owned)
        .unwrap_or_else(|| hex_key(tag))
}

/// The standard keyword used as key for `tag`, if any (see [`element_key`]).
pub fn keyword_of(tag: Tag) -> Option<&'static str> {
    if tag.group() % 2 == 1 {
        return None;
    }
    let entry = StandardDataDictionary.by_tag(tag)?;
    match entry.tag_range() {
        TagRange::Single(t) if t == tag => Some(entry.alias),
        TagRange::Group100(t) | TagRange::Element100(t) if t == tag => Some(entry.alias),
        _ => None,
    }
}

/// `GGGGEEEE`, upper-case hex.
pub fn hex_key(tag: Tag) -> String {
    format!("{:04X}{:04X}", tag.group(), tag.element())
}

/// Whether the VR of an element has to be recorded in `DICOMVRs` because a reader can't
/// derive it from the key: private or unknown tags (and any tag keyed by hex), attributes
/// whose dictionary VR is ambiguous (US or SS, OB or OW, US or OW), and elements stored with
/// a VR other than the dictionary's.
pub fn vr_needs_recording(tag: Tag, vr: VR) -> bool {
    if keyword_of(tag).is_none() {
        return true;
    }
    match StandardDataDictionary.by_tag(tag).map(|e| e.vr()) {
        Some(VirtualVr::Exact(dict_vr)) => dict_vr != vr,
        _ => true,
    }
}

/// Convert one element's value into the JSON the AWS HealthImaging metadata document uses.
///
/// Strings (AE, AS, CS, DA, DT, LO, LT, SH, ST, TM, UC, UI, UR, UT, PN) become JSON strings
/// (PN as the raw `FAMILY^GIVEN` text); DS and IS stay strings as stored, trailing
/// spaces/NULs trimmed; US, SS, UL, SL, UV, SV, FL, FD become numbers; multi-valued elements
/// (more than one value, or dictionary VM > 1) become arrays; SQ becomes an array of objects
/// (see [`dataset_to_json`]); OB, OW, OD, OF, OL, OV, UN become base64 strings; AT becomes
/// `"GGGGEEEE"`; an empty value becomes `null`.
pub fn element_to_json<D>(elem: &InMemElement<D>) -> Json
where
    D: DataDictionary + Clone,
{
    let tag = elem.header().tag;
    match elem.value() {
        Value::Primitive(p) => match resolve_un(tag, elem.vr(), p) {
            Some((vr, resolved)) => primitive_to_json(tag, vr, &resolved),
            None => primitive_to_json(tag, elem.vr(), p),
        },
        Value::Sequence(seq) => {
            let items = seq.items();
            if items.is_empty() {
                Json::Null
            } else {
                Json::Array(
                    items
                        .iter()
                        .map(|item| Json::Object(dataset_to_json(item)))
                        .collect(),
                )
            }
        }
        // Encapsulated pixel data is never put in the metadata (icon images included).
        Value::PixelSequence(_) => Json::Null,
    }
}

/// Convert a data set (a sequence item) into a JSON object keyed by [`element_key`], in tag
/// order, adding a `"DICOMVRs"` object when some element's VR must be recorded
/// (see [`vr_needs_recording`]).
pub fn dataset_to_json<D>(obj: &InMemDicomObject<D>) -> Map<String, Json>
where
    D: DataDictionary + Clone,
{
    let mut map = Map::new();
    let mut vrs = Map::new();
    for elem in obj.iter() {
        let tag = elem.header().tag;
        // item delimiters never show up here, but be safe
        if tag.group() == 0xFFFE {
            continue;
        }
        let key = element_key(tag);
        let vr = effective_vr(elem);
        if vr_needs_recording(tag, vr) {
            vrs.insert(key.clone(), Json::String(vr.to_string().to_owned()));
        }
        map.insert(key, element_to_json(elem));
    }
    if !vrs.is_empty() {
        map.insert(DICOM_VRS_KEY.to_owned(), Json::Object(vrs));
    }
    map
}

/// The VR an element is rendered with: its stored VR, except that an element stored as UN
/// whose tag has a single definite dictionary VR is read as that VR (see [`resolve_un`]).
pub fn effective_vr<D>(elem: &InMemElement<D>) -> VR
where
    D: DataDictionary + Clone,
{
    match elem.value() {
        Value::Primitive(p) => resolve_un(elem.header().tag, elem.vr(), p)
            .map(|(vr, _)| vr)
            .unwrap_or(elem.vr()),
        _ => elem.vr(),
    }
}

/// The text of an element (multiple values joined with `\`), reading UN-encoded standard
/// attributes with their dictionary VR, trailing padding removed. `None` for non-primitive
/// or non-text values.
pub fn element_text<D>(elem: &InMemElement<D>) -> Option<String>
where
    D: DataDictionary + Clone,
{
    let Value::Primitive(p) = elem.value() else {
        return None;
    };
    let resolved = resolve_un(elem.header().tag, elem.vr(), p);
    let p = resolved.as_ref().map(|r| &r.1).unwrap_or(p);
    match p {
        PrimitiveValue::Str(s) => Some(trim_padding(s).to_owned()),
        PrimitiveValue::Strs(v) => Some(trim_padding(&v.join("\\")).to_owned()),
        PrimitiveValue::Empty => Some(String::new()),
        PrimitiveValue::U8(_) => None,
        other => Some(other.to_str().into_owned()),
    }
}

/// An element stored with VR UN (e.g. by a writer that didn't know the attribute) whose tag
/// has one definite, non-sequence VR in the standard dictionary: that VR and the value
/// decoded from the UN bytes (little endian, as UN content is Implicit VR Little Endian).
/// `None` when there is nothing to resolve or the bytes don't fit the VR.
pub fn resolve_un(tag: Tag, vr: VR, value: &PrimitiveValue) -> Option<(VR, PrimitiveValue)> {
    if vr != VR::UN || keyword_of(tag).is_none() {
        return None;
    }
    let PrimitiveValue::U8(bytes) = value else {
        return None;
    };
    let dict_vr = StandardDataDictionary.by_tag(tag)?.vr().exact()?;
    let text = || String::from_utf8_lossy(bytes).into_owned();
    let value = match form(dict_vr) {
        Form::Items => return None,
        _ if dict_vr == VR::UN => return None,
        _ if bytes.is_empty() => PrimitiveValue::Empty,
        Form::Texts => PrimitiveValue::Strs(text().split('\\').map(str::to_owned).collect()),
        Form::Text => PrimitiveValue::Str(text()),
        Form::Numbers | Form::Bytes | Form::Tags => binary_le(dict_vr, bytes)?,
    };
    Some((dict_vr, value))
}

/// Little-endian `bytes` read as binary values of `vr`; `None` when they don't fit it.
fn binary_le(vr: VR, bytes: &[u8]) -> Option<PrimitiveValue> {
    fn words<const N: usize, T>(b: &[u8], f: impl Fn([u8; N]) -> T) -> Option<Vec<T>> {
        if !b.len().is_multiple_of(N) {
            return None;
        }
        Some(
            b.chunks_exact(N)
                .map(|c| f(c.try_into().expect("chunk of N bytes")))
                .collect(),
        )
    }
    Some(match vr {
        VR::OB => PrimitiveValue::U8(bytes.into()),
        VR::US | VR::OW => PrimitiveValue::U16(words(bytes, u16::from_le_bytes)?.into()),
        VR::SS => PrimitiveValue::I16(words(bytes, i16::from_le_bytes)?.into()),
        VR::UL | VR::OL => PrimitiveValue::U32(words(bytes, u32::from_le_bytes)?.into()),
        VR::SL => PrimitiveValue::I32(words(bytes, i32::from_le_bytes)?.into()),
        VR::UV | VR::OV => PrimitiveValue::U64(words(bytes, u64::from_le_bytes)?.into()),
        VR::SV => PrimitiveValue::I64(words(bytes, i64::from_le_bytes)?.into()),
        VR::FL | VR::OF => PrimitiveValue::F32(words(bytes, f32::from_le_bytes)?.into()),
        VR::FD | VR::OD => PrimitiveValue::F64(words(bytes, f64::from_le_bytes)?.into()),
        VR::AT => PrimitiveValue::Tags(
            words(bytes, |c: [u8; 4]| {
                Tag(
                    u16::from_le_bytes([c[0], c[1]]),
                    u16::from_le_bytes([c[2], c[3]]),
                )
            })?
            .into(),
        ),
        // Text, sequences and UN: not binary values.
        _ => return None,
    })
}

/// Convert a primitive value of the given tag and VR (see [`element_to_json`]).
pub fn primitive_to_json(tag: Tag, vr: VR, value: &PrimitiveValue) -> Json {
    // OB, OW, OD, OF, OL, OV, UN: rendered as base64.
    if form(vr) == Form::Bytes {
        let bytes = primitive_le_bytes(value);
        return if bytes.is_empty() {
            Json::Null
        } else {
            Json::String(base64::engine::general_purpose::STANDARD.encode(bytes))
        };
    }
    let values: Vec<Json> = match value {
        PrimitiveValue::Empty => return Json::Null,
        PrimitiveValue::Str(s) => vec![text_json(s)],
        PrimitiveValue::Strs(v) => v.iter().map(|s| text_json(s)).collect(),
        PrimitiveValue::Tags(v) => v.iter().map(|t| Json::String(hex_key(*t))).collect(),
        PrimitiveValue::U8(v) => {
            if form(vr) == Form::Numbers {
                v.iter().map(|x| Json::from(*x)).collect()
            } else {
                // bytes under a text VR (should not happen): keep them as base64
                return Json::String(base64::engine::general_purpose::STANDARD.encode(&v[..]));
            }
        }
        PrimitiveValue::I16(v) => v.iter().map(|x| Json::from(*x)).collect(),
        PrimitiveValue::U16(v) => v.iter().map(|x| Json::from(*x)).collect(),
        PrimitiveValue::I32(v) => v.iter().map(|x| Json::from(*x)).collect(),
        PrimitiveValue::U32(v) => v.iter().map(|x| Json::from(*x)).collect(),
        PrimitiveValue::I64(v) => v.iter().map(|x| Json::from(*x)).collect(),
        PrimitiveValue::U64(v) => v.iter().map(|x| Json::from(*x)).collect(),
        PrimitiveValue::F32(v) => v.iter().map(|x| f32_json(*x)).collect(),
        PrimitiveValue::F64(v) => v.iter().map(|x| f64_json(*x)).collect(),
        // Only produced by the "interpreted" read strategy; render as DICOM text.
        PrimitiveValue::Date(_) | PrimitiveValue::Time(_) | PrimitiveValue::DateTime(_) => {
            value.to_multi_str().iter().map(|s| text_json(s)).collect()
        }
    };
    let single_valued_vr = form(vr) == Form::Text;
    if values.len() > 1 || (!single_valued_vr && dictionary_vm_is_multi(tag)) {
        Json::Array(values)
    } else {
        values.into_iter().next().unwrap_or(Json::Null)
    }
}

/// Trailing spaces and NULs are padding in every text VR.
fn trim_padding(s: &str) -> &str {
    s.trim_end_matches([' ', '\0'])
}

fn text_json(s: &str) -> Json {
    let t = trim_padding(s);
    if t.is_empty() {
        Json::Null
    } else {
        Json::String(t.to_owned())
    }
}

fn f64_json(x: f64) -> Json {
    Number::from_f64(x).map(Json::Number).unwrap_or(Json::Null)
}

/// FL values keep their shortest decimal form (0.1f32 → 0.1, not 0.10000000149011612).
fn f32_json(x: f32) -> Json {
    let widened = x.to_string().parse::<f64>().unwrap_or(f64::from(x));
    f64_json(widened)
}

/// The value's bytes in little-endian order (the parser has already decoded the file's
/// byte order into native numbers).
pub fn primitive_le_bytes(value: &PrimitiveValue) -> Vec<u8> {
    fn collect<T: Copy, const N: usize>(v: &[T], f: impl Fn(T) -> [u8; N]) -> Vec<u8> {
        v.iter().flat_map(|x| f(*x)).collect()
    }
    match value {
        PrimitiveValue::Empty => Vec::new(),
        PrimitiveValue::U8(v) => v.to_vec(),
        PrimitiveValue::I16(v) => collect(v, i16::to_le_bytes),
        PrimitiveValue::U16(v) => collect(v, u16::to_le_bytes),
        PrimitiveValue::I32(v) => collect(v, i32::to_le_bytes),
        PrimitiveValue::U32(v) => collect(v, u32::to_le_bytes),
        PrimitiveValue::I64(v) => collect(v, i64::to_le_bytes),
        PrimitiveValue::U64(v) => collect(v, u64::to_le_bytes),
        PrimitiveValue::F32(v) => collect(v, f32::to_le_bytes),
        PrimitiveValue::F64(v) => collect(v, f64::to_le_bytes),
        PrimitiveValue::Tags(v) => v
            .iter()
            .flat_map(|t| {
                let [a, b] = t.group().to_le_bytes();
                let [c, d] = t.element().to_le_bytes();
                [a, b, c, d]
            })
            .collect(),
        other => other.to_bytes().into_owned(),
    }
}

/// Whether the standard dictionary's value multiplicity for `tag` allows more than one
/// value (VM 2, 3, 1-n, 2-2n, ...), so that AWS renders it as an array even when a single
/// value is stored (e.g. `"WindowCenter": ["40"]`, `"SoftwareVersions": ["1.0"]`).
pub fn dictionary_vm_is_multi(tag: Tag) -> bool {
    let (g, e) = (tag.group(), tag.element());
    // repeating groups (curves 50xx, overlays 60xx)
    if g & 0xFF01 == 0x5000 {
        return matches!(
            e,
            0x0030 | 0x0040 | 0x0104 | 0x0105 | 0x0106 | 0x0110 | 0x0112 | 0x0114
        );
    }
    if g & 0xFF01 == 0x6000 {
        return matches!(e, 0x0050 | 0x0066 | 0x0800 | 0x0803 | 0x1200..=0x1203);
    }
    if g == 0x0020 && e & 0xFF00 == 0x3100 {
        return true; // SourceImageIDs (0020,31xx)
    }
    let key = (u32::from(g) << 16) | u32::from(e);
    MULTI_VM_TAGS.binary_search(&key).is_ok()
}

/// Standard (non-repeating) attributes with VM > 1 and a VR that can hold several values,
/// sorted. Generated from the DICOM data dictionary (PS3.6).
#[rustfmt::skip]
static MULTI_VM_TAGS: &[u32] = &[
    0x00000901, 0x00001005, 0x000051B0, 0x00041141, 0x00041500, 0x0004151A,
    0x00080005, 0x00080008, 0x0008001A, 0x00080054, 0x00080058, 0x00080061,
    0x00080062, 0x00080094, 0x0008009C, 0x00080304, 0x00080306, 0x00080309,
    0x0008030B, 0x0008040F, 0x00081048, 0x00081050, 0x00081060, 0x00081070,
    0x00081080, 0x0008115A, 0x00081160, 0x00081161, 0x00081162, 0x00081163,
    0x00082130, 0x00082132, 0x00083002, 0x00083010, 0x00089007, 0x00100028,
    0x00101000, 0x00101001, 0x00101050, 0x00102000, 0x00102110, 0x00102154,
    0x00120063, 0x00140030, 0x00140032, 0x00140034, 0x00140100, 0x00140107,
    0x00140108, 0x0014201A, 0x00142226, 0x0014222A, 0x0014222C, 0x00144038,
    0x0014403A, 0x0014403C, 0x0014407C, 0x0014407E, 0x001440A0, 0x001440A1,
    0x001440A2, 0x00160002, 0x00160008, 0x00160009, 0x0016000C, 0x0016000D,
    0x00160010, 0x0016002A, 0x00160036, 0x00160037, 0x0016004E, 0x00160072,
    0x00160074, 0x00160084, 0x00160086, 0x00161004, 0x00180020, 0x00180021,
    0x00180022, 0x00180030, 0x00180033, 0x00180086, 0x0018100B, 0x00181019,
    0x0018101A, 0x00181020, 0x00181046, 0x00181047, 0x00181065, 0x0018106C,
    0x00181135, 0x00181136, 0x00181137, 0x00181142, 0x00181146, 0x00181149,
    0x00181161, 0x00181164, 0x00181166, 0x00181182, 0x00181183, 0x00181184,
    0x00181190, 0x00181200, 0x00181201, 0x00181210, 0x00181240, 0x00181301,
    0x00181310, 0x00181520, 0x00181521, 0x00181600, 0x00181610, 0x00181620,
    0x00181624, 0x00181635, 0x00181700, 0x00181710, 0x00181720, 0x00182001,
    0x00182002, 0x00182003, 0x00182004, 0x00182005, 0x00182006, 0x00182010,
    0x00182043, 0x00182044, 0x00183105, 0x00185000, 0x00185010, 0x00185210,
    0x00185212, 0x00186052, 0x00186054, 0x00186058, 0x0018605A, 0x00186060,
    0x0018701A, 0x00187020, 0x00187022, 0x00187026, 0x00187028, 0x00187030,
    0x00187036, 0x00187046, 0x00187050, 0x00187052, 0x00187054, 0x00187056,
    0x00187058, 0x00189052, 0x00189053, 0x00189060, 0x00189061, 0x00189063,
    0x00189065, 0x00189066, 0x00189079, 0x00189089, 0x00189090, 0x00189098,
    0x00189100, 0x00189105, 0x00189106, 0x00189255, 0x00189256, 0x00189313,
    0x00189317, 0x00189318, 0x00189322, 0x00189323, 0x00189352, 0x00189376,
    0x00189377, 0x00189378, 0x00189404, 0x00189428, 0x00189429, 0x00189430,
    0x00189440, 0x00189442, 0x00189461, 0x00189557, 0x00189558, 0x00189801,
    0x00189908, 0x0018990A, 0x00189938, 0x00189939, 0x0018993A, 0x00200020,
    0x00200030, 0x00200032, 0x00200035, 0x00200037, 0x00200080, 0x00201020,
    0x00201070, 0x00205000, 0x00205002, 0x00209157, 0x00209301, 0x00209302,
    0x00209308, 0x00209309, 0x0020930A, 0x00209518, 0x00220002, 0x00220004,
    0x00220032, 0x00221463, 0x00221467, 0x00221468, 0x00221646, 0x00280009,
    0x0028000A, 0x00280030, 0x00280031, 0x00280032, 0x00280034, 0x00280050,
    0x00280051, 0x00280065, 0x00280066, 0x00280070, 0x00280082, 0x00280403,
    0x00280404, 0x00280701, 0x00280702, 0x00280721, 0x00281050, 0x00281051,
    0x00281055, 0x00281100, 0x00281101, 0x00281102, 0x00281103, 0x00281104,
    0x00281111, 0x00281112, 0x00281113, 0x00281407, 0x00282112, 0x00282114,
    0x00283002, 0x00286020, 0x00286022, 0x00286023, 0x00286030, 0x00286040,
    0x00286102, 0x00286110, 0x00286114, 0x00287013, 0x00287018, 0x00287026,
    0x00289446, 0x00289503, 0x00289506, 0x00289507, 0x00289520, 0x00321021,
    0x003A0205, 0x003A0231, 0x003A0244, 0x00400001, 0x00400010, 0x00400303,
    0x00401010, 0x00401103, 0x00409212, 0x0040A057, 0x0040A0B0, 0x0040A125,
    0x0040A132, 0x0040A136, 0x0040A138, 0x0040A13A, 0x0040A161, 0x0040A162,
    0x0040A163, 0x0040A29A, 0x0040A30A, 0x0040DB73, 0x00420014, 0x00440008,
    0x00460135, 0x00460202, 0x00460208, 0x00460213, 0x00460247, 0x00480015,
    0x00480102, 0x00480201, 0x00480202, 0x00540010, 0x00540020, 0x00540030,
    0x00540050, 0x00540060, 0x00540070, 0x00540080, 0x00540090, 0x00540100,
    0x00540210, 0x00541000, 0x00541201, 0x00541203, 0x00541220, 0x00541311,
    0x00541400, 0x00603020, 0x00620009, 0x0062000B, 0x0062000D, 0x00640007,
    0x00640008, 0x00660017, 0x0066001A, 0x0066001B, 0x0066001C, 0x00660020,
    0x00686346, 0x00686347, 0x00686350, 0x00686450, 0x00686460, 0x00686490,
    0x006864A0, 0x006864C0, 0x006864D0, 0x006864F0, 0x00686560, 0x00686590,
    0x006865B0, 0x006865D0, 0x006865F0, 0x00686610, 0x00686620, 0x006A000E,
    0x006A0010, 0x00700010, 0x00700011, 0x00700014, 0x00700022, 0x00700050,
    0x00700051, 0x00700052, 0x00700053, 0x00700067, 0x00700101, 0x00700102,
    0x00700241, 0x00700247, 0x00700251, 0x00700252, 0x00700273, 0x0070030B,
    0x00700401, 0x00701205, 0x0070120C, 0x00701303, 0x00701305, 0x00701306,
    0x00701505, 0x00701507, 0x00701511, 0x00701603, 0x00701604, 0x00701605,
    0x00701606, 0x00701703, 0x00701807, 0x00720038, 0x0072003C, 0x00720052,
    0x00720054, 0x0072005E, 0x0072005F, 0x00720060, 0x00720061, 0x00720062,
    0x00720063, 0x00720064, 0x00720066, 0x0072006A, 0x0072006B, 0x0072006C,
    0x0072006F, 0x00720072, 0x00720074, 0x00720076, 0x00720078, 0x0072007A,
    0x0072007C, 0x0072007E, 0x0072007F, 0x00720082, 0x00720083, 0x00720108,
    0x00720212, 0x00720218, 0x00720420, 0x00720421, 0x00720432, 0x00720520,
    0x00720700, 0x0074103A, 0x00741057, 0x0074133A, 0x00780050, 0x00780060,
    0x00780090, 0x007800A0, 0x00800006, 0x00800007, 0x00880912, 0x04000020,
    0x201000A7, 0x201000A9, 0x20100376, 0x20400011, 0x2200000E, 0x3002000D,
    0x30020010, 0x30020011, 0x30020012, 0x30020034, 0x3002010F, 0x30040008,
    0x3004000C, 0x30040014, 0x30040040, 0x30040058, 0x3006002A, 0x30060045,
    0x30060049, 0x30060050, 0x300600C6, 0x30080047, 0x300800A4, 0x300A0009,
    0x300A000B, 0x300A0018, 0x300A0082, 0x300A00A2, 0x300A00BE, 0x300A00CC,
    0x300A00E9, 0x300A00EA, 0x300A00EB, 0x300A00EC, 0x300A0106, 0x300A011C,
    0x300A012C, 0x300A012E, 0x300A0133, 0x300A02D4, 0x300A02E2, 0x300A02E6,
    0x300A030A, 0x300A038F, 0x300A0391, 0x300A0394, 0x300A0396, 0x300A0398,
    0x300A0399, 0x300A0412, 0x300A0503, 0x300A0504, 0x300A0509, 0x300A0510,
    0x300A061D, 0x300A061E, 0x300A0624, 0x300A0627, 0x300A0649, 0x300A064A,
    0x300A064B, 0x300A064F, 0x300A079B, 0x300C0122, 0x30100047, 0x30100048,
    0x30100052, 0x30100053, 0x30100085, 0x30100093, 0x30100099, 0x3010009A,
    0x40101004, 0x40101005, 0x4010101B, 0x4010101C, 0x4010101D, 0x40101021,
    0x40101029, 0x40101043, 0x40101060, 0x40101061, 0x4010107A, 0x4010107E,
];

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::value::DataSetSequence;
    use dicom_core::{dicom_value, DataElement, Length};
    use dicom_dictionary_std::tags;

    fn elem(tag: Tag, vr: VR, value: PrimitiveValue) -> InMemElement {
        DataElement::new(tag, vr, value)
    }

    fn strs(v: &[&str]) -> PrimitiveValue {
        PrimitiveValue::Strs(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn keys() {
        assert_eq!(element_key(tags::PATIENT_NAME), "PatientName");
        assert_eq!(element_key(tags::TRANSFER_SYNTAX_UID), "TransferSyntaxUID");
        assert_eq!(element_key(tags::PIXEL_DATA), "PixelData");
        assert_eq!(element_key(Tag(0x0009, 0x1001)), "00091001");
        assert_eq!(element_key(Tag(0x0009, 0x0010)), "00090010"); // private creator
        assert_eq!(element_key(Tag(0x0029, 0x10AB)), "002910AB");
        assert_eq!(element_key(Tag(0x6000, 0x3000)), "OverlayData");
        assert_eq!(element_key(Tag(0x6002, 0x3000)), "60023000");
        assert_eq!(element_key(Tag(0x0008, 0x0000)), "00080000"); // generic group length
        assert_eq!(
            element_key(Tag(0x0002, 0x0000)),
            "FileMetaInformationGroupLength"
        );
        assert_eq!(element_key(Tag(0x4321, 0x0000)), "43210000");
    }

    #[test]
    fn ds_and_is_keep_text_but_lose_padding() {
        let e = elem(tags::SLICE_THICKNESS, VR::DS, strs(&["2.50 "]));
        assert_eq!(element_to_json(&e), Json::from("2.50"));
        let e = elem(tags::SERIES_NUMBER, VR::IS, strs(&["  7 "]));
        assert_eq!(element_to_json(&e), Json::from("  7"));
        let e = elem(tags::RESCALE_INTERCEPT, VR::DS, strs(&["-1024\0"]));
        assert_eq!(element_to_json(&e), Json::from("-1024"));
        // VM 2 attribute: always an array, each value kept as text
        let e = elem(
            tags::PIXEL_SPACING,
            VR::DS,
            strs(&["0.661468", "0.661468 "]),
        );
        assert_eq!(
            element_to_json(&e),
            serde_json::json!(["0.661468", "0.661468"])
        );
        // VM 1-n attribute with a single value: still an array (as AWS renders it)
        let e = elem(tags::WINDOW_CENTER, VR::DS, strs(&["40 "]));
        assert_eq!(element_to_json(&e), serde_json::json!(["40"]));
        // empty
        let e = elem(tags::SLICE_THICKNESS, VR::DS, PrimitiveValue::Empty);
        assert_eq!(element_to_json(&e), Json::Null);
        let e = elem(tags::ACQUISITION_NUMBER, VR::IS, strs(&[" "]));
        assert_eq!(element_to_json(&e), Json::Null);
    }

    #[test]
    fn multi_valued_cs_is_an_array() {
        let e = elem(
            tags::IMAGE_TYPE,
            VR::CS,
            strs(&["ORIGINAL", "PRIMARY", "AXIAL "]),
        );
        assert_eq!(
            element_to_json(&e),
            serde_json::json!(["ORIGINAL", "PRIMARY", "AXIAL"])
        );
        // single-valued CS stays a string
        let e = elem(tags::MODALITY, VR::CS, strs(&["CT"]));
        assert_eq!(element_to_json(&e), Json::from("CT"));
        // more values than the dictionary allows: still kept, as an array
        let e = elem(tags::MODALITY, VR::CS, strs(&["CT", "PT"]));
        assert_eq!(element_to_json(&e), serde_json::json!(["CT", "PT"]));
    }

    #[test]
    fn binary_numbers_are_numbers() {
        let e = elem(tags::ROWS, VR::US, dicom_value!(U16, [512]));
        assert_eq!(element_to_json(&e), serde_json::json!(512));
        let e = elem(
            tags::SMALLEST_IMAGE_PIXEL_VALUE,
            VR::SS,
            dicom_value!(I16, [-2000]),
        );
        assert_eq!(element_to_json(&e), serde_json::json!(-2000));
        let e = elem(Tag(0x0018, 0x9073), VR::FD, dicom_value!(F64, [652.5])); // AcquisitionDuration
        assert_eq!(element_to_json(&e), serde_json::json!(652.5));
        let e = elem(Tag(0x0018, 0x9098), VR::FD, dicom_value!(F64, [127.74])); // TransmitterFrequency, VM 1-2
        assert_eq!(element_to_json(&e), serde_json::json!([127.74]));
        let e = elem(Tag(0x0018, 0x1318), VR::FL, dicom_value!(F32, [0.1])); // dB/dt
        assert_eq!(element_to_json(&e), serde_json::json!(0.1));
        let e = elem(Tag(0x0028, 0x0106), VR::US, dicom_value!(U16, [1, 2]));
        assert_eq!(element_to_json(&e), serde_json::json!([1, 2]));
        let e = elem(
            Tag(0x0018, 0x9219),
            VR::UL,
            dicom_value!(U32, [4_000_000_000]),
        );
        assert_eq!(element_to_json(&e), serde_json::json!(4_000_000_000u32));
        let e = elem(Tag(0x0018, 0x9073), VR::FD, dicom_value!(F64, [f64::NAN]));
        assert_eq!(element_to_json(&e), Json::Null);
    }

    #[test]
    fn person_name_is_the_raw_string() {
        let e = elem(tags::PATIENT_NAME, VR::PN, strs(&["DOE^JANE^^DR "]));
        assert_eq!(element_to_json(&e), Json::from("DOE^JANE^^DR"));
        let e = elem(
            tags::PATIENT_NAME,
            VR::PN,
            strs(&["Yamada^Tarou=山田^太郎"]),
        );
        assert_eq!(element_to_json(&e), Json::from("Yamada^Tarou=山田^太郎"));
        let e = elem(tags::STUDY_INSTANCE_UID, VR::UI, strs(&["1.2.3\0"]));
        assert_eq!(element_to_json(&e), Json::from("1.2.3"));
    }

    #[test]
    fn binary_vrs_are_base64() {
        let e = elem(
            tags::FILE_META_INFORMATION_VERSION,
            VR::OB,
            dicom_value!(U8, [0, 1]),
        );
        assert_eq!(element_to_json(&e), Json::from("AAE="));
        let e = elem(
            Tag(0x0009, 0x1010),
            VR::UN,
            dicom_value!(U8, [0xDE, 0xAD, 0xBE]),
        );
        assert_eq!(element_to_json(&e), Json::from("3q2+"));
        // OW holds 16-bit words: little-endian bytes
        let e = elem(
            Tag(0x0028, 0x1201),
            VR::OW,
            dicom_value!(U16, [0x0102, 0x0304]),
        );
        assert_eq!(element_to_json(&e), Json::from("AgEEAw=="));
        let e = elem(Tag(0x0009, 0x1011), VR::OB, PrimitiveValue::Empty);
        assert_eq!(element_to_json(&e), Json::Null);
    }

    #[test]
    fn attribute_tags_are_hex() {
        let e = elem(
            Tag(0x0020, 0x9165), // DimensionIndexPointer, VM 1
            VR::AT,
            PrimitiveValue::Tags([Tag(0x0020, 0x9056)].as_slice().into()),
        );
        assert_eq!(element_to_json(&e), Json::from("00209056"));
        let e = elem(
            Tag(0x0028, 0x0009), // FrameIncrementPointer, VM 1-n
            VR::AT,
            PrimitiveValue::Tags([Tag(0x0018, 0x1063), Tag(0x0018, 0x1065)].as_slice().into()),
        );
        assert_eq!(
            element_to_json(&e),
            serde_json::json!(["00181063", "00181065"])
        );
    }

    #[test]
    fn text_vrs_keep_backslashes_and_leading_space() {
        let e = elem(
            tags::IMAGE_COMMENTS,
            VR::LT,
            PrimitiveValue::Str("  a\\b  ".into()),
        );
        assert_eq!(element_to_json(&e), Json::from("  a\\b"));
    }

    #[test]
    fn sequences_nest_with_vrs() {
        let code = InMemDicomObject::from_element_iter([
            elem(tags::CODE_VALUE, VR::SH, strs(&["113100"])),
            elem(tags::CODING_SCHEME_DESIGNATOR, VR::SH, strs(&["DCM "])),
            elem(tags::CODE_MEANING, VR::LO, strs(&["Basic Profile"])),
        ]);
        let inner_seq = DataElement::new(
            tags::PURPOSE_OF_REFERENCE_CODE_SEQUENCE,
            VR::SQ,
            DataSetSequence::new(vec![code], Length::UNDEFINED),
        );
        let item = InMemDicomObject::from_element_iter([
            elem(
                tags::REFERENCED_SOP_CLASS_UID,
                VR::UI,
                strs(&["1.2.840.10008.5.1.4.1.1.2"]),
            ),
            inner_seq,
            elem(Tag(0x0009, 0x0010), VR::LO, strs(&["ACME 1.0"])),
            elem(Tag(0x0009, 0x1001), VR::UN, dicom_value!(U8, [1, 2, 3, 4])),
            elem(tags::PIXEL_PADDING_VALUE, VR::SS, dicom_value!(I16, [-1])),
        ]);
        let empty_item = InMemDicomObject::new_empty();
        let seq = DataElement::new(
            tags::SOURCE_IMAGE_SEQUENCE,
            VR::SQ,
            DataSetSequence::new(vec![item, empty_item], Length::UNDEFINED),
        );
        assert_eq!(
            element_to_json(&seq),
            serde_json::json!([
                {
                    "ReferencedSOPClassUID": "1.2.840.10008.5.1.4.1.1.2",
                    "PurposeOfReferenceCodeSequence": [
                        {"CodeValue": "113100", "CodingSchemeDesignator": "DCM", "CodeMeaning": "Basic Profile"}
                    ],
                    "00090010": "ACME 1.0",
                    "00091001": "AQIDBA==",
                    "PixelPaddingValue": -1,
                    "DICOMVRs": {"00090010": "LO", "00091001": "UN", "PixelPaddingValue": "SS"}
                },
                {}
            ])
        );
        // key order follows tag order
        let Json::Array(items) = element_to_json(&seq) else {
            panic!("not an array")
        };
        let keys: Vec<&String> = items[0].as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "ReferencedSOPClassUID",
                "00090010",
                "00091001",
                "PixelPaddingValue",
                "PurposeOfReferenceCodeSequence",
                "DICOMVRs"
            ]
        );
        let empty = DataElement::new(
            tags::SOURCE_IMAGE_SEQUENCE,
            VR::SQ,
            DataSetSequence::<InMemDicomObject>::empty(),
        );
        assert_eq!(element_to_json(&empty), Json::Null);
    }

    #[test]
    fn un_elements_of_known_attributes_are_read_with_their_dictionary_vr() {
        let e = elem(
            tags::STUDY_INSTANCE_UID,
            VR::UN,
            PrimitiveValue::U8(b"1.2.3\0".as_slice().into()),
        );
        assert_eq!(element_to_json(&e), Json::from("1.2.3"));
        assert_eq!(effective_vr(&e), VR::UI);
        assert_eq!(element_text(&e).as_deref(), Some("1.2.3"));
        let e = elem(
            tags::IMAGE_TYPE,
            VR::UN,
            PrimitiveValue::U8(b"DERIVED\\SECONDARY ".as_slice().into()),
        );
        assert_eq!(
            element_to_json(&e),
            serde_json::json!(["DERIVED", "SECONDARY"])
        );
        let e = elem(tags::ROWS, VR::UN, dicom_value!(U8, [0x00, 0x02]));
        assert_eq!(element_to_json(&e), serde_json::json!(512));
        let e = elem(
            tags::DOSE_GRID_SCALING,
            VR::UN,
            PrimitiveValue::U8(b"1.5e-05 ".as_slice().into()),
        );
        assert_eq!(element_to_json(&e), Json::from("1.5e-05"));
        // bytes that don't fit the VR stay UN
        let e = elem(tags::ROWS, VR::UN, dicom_value!(U8, [1, 2, 3]));
        assert_eq!(element_to_json(&e), Json::from("AQID"));
        assert_eq!(effective_vr(&e), VR::UN);
        // ambiguous dictionary VR and private tags stay UN
        let e = elem(
            tags::SMALLEST_IMAGE_PIXEL_VALUE,
            VR::UN,
            dicom_value!(U8, [1, 0]),
        );
        assert_eq!(effective_vr(&e), VR::UN);
        let e = elem(Tag(0x0009, 0x1001), VR::UN, dicom_value!(U8, [1, 0]));
        assert_eq!(effective_vr(&e), VR::UN);
    }

    #[test]
    fn vr_recording_rules() {
        assert!(!vr_needs_recording(tags::PATIENT_NAME, VR::PN));
        assert!(vr_needs_recording(tags::PATIENT_NAME, VR::UN));
        assert!(vr_needs_recording(Tag(0x0009, 0x1001), VR::LO));
        assert!(vr_needs_recording(tags::SMALLEST_IMAGE_PIXEL_VALUE, VR::US));
        assert!(vr_needs_recording(tags::PIXEL_DATA, VR::OW));
        assert!(vr_needs_recording(Tag(0x6002, 0x3000), VR::OW));
        assert!(!vr_needs_recording(tags::ROWS, VR::US));
    }

    #[test]
    fn multi_vm_table_is_sorted() {
        assert!(MULTI_VM_TAGS.windows(2).all(|w| w[0] < w[1]));
        assert!(dictionary_vm_is_multi(tags::IMAGE_TYPE));
        assert!(dictionary_vm_is_multi(tags::IMAGE_POSITION_PATIENT));
        assert!(dictionary_vm_is_multi(tags::SOFTWARE_VERSIONS));
        assert!(dictionary_vm_is_multi(Tag(0x6002, 0x0050))); // OverlayOrigin
        assert!(!dictionary_vm_is_multi(tags::PATIENT_NAME));
        assert!(!dictionary_vm_is_multi(tags::ROWS));
        assert!(!dictionary_vm_is_multi(Tag(0x6000, 0x0010)));
    }
}
