//! Tests of the de-identification library: the table, every row's outcome under each option,
//! UID consistency, sequences, private attributes, pixels and geometry, Part-10 files.

use std::collections::BTreeMap;

use dicom_core::dictionary::{DataDictionary, VirtualVr};
use dicom_core::value::{DataSetSequence, PixelFragmentSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::{tags, StandardDataDictionary};
use dicom_object::file::ReadPreamble;
use dicom_object::{InMemDicomObject, OpenFileOptions};

use super::profile::{parse_table, TABLE};
use super::*;
use crate::engine::ErrorType;

const SECRET: [u8; 32] = [7; 32];
/// Related Frame of Reference UID (3006,00C2): retired, multi-valued, U in the table.
const RELATED_FRAME_OF_REFERENCE_UID: Tag = Tag(0x3006, 0x00C2);

fn all_options() -> [Options; 4] {
    let none = Options::default();
    [
        none,
        Options {
            retain_longitudinal_dates: true,
            ..none
        },
        Options {
            retain_patient_characteristics: true,
            ..none
        },
        Options {
            retain_device_identity: true,
            ..none
        },
    ]
}

fn text(obj: &InMemDicomObject, tag: Tag) -> Option<String> {
    obj.get(tag).map(|e| {
        e.to_str()
            .unwrap()
            .trim_end_matches(['\0', ' '])
            .to_string()
    })
}

fn put_str(obj: &mut InMemDicomObject, tag: Tag, vr: VR, value: &str) {
    obj.put(DataElement::new(tag, vr, PrimitiveValue::from(value)));
}

fn sequence(items: Vec<InMemDicomObject>) -> Value<InMemDicomObject, Vec<u8>> {
    Value::from(DataSetSequence::from(items))
}

fn items(obj: &InMemDicomObject, tag: Tag) -> Option<&[InMemDicomObject]> {
    obj.get(tag).and_then(|e| e.items())
}

/// The table parses and holds every row of PS3.15 Table E.1-1 (2024b): 621 attributes, each
/// tag once, with the standard's counts of each action and option action.
#[test]
fn table_parses_with_every_row() {
    let rules = parse_table(TABLE).unwrap();
    assert_eq!(rules.len(), 621);
    assert_eq!(rules, super::rules());
    let mut patterns: Vec<TagPattern> = rules.iter().map(|r| r.pattern).collect();
    patterns.sort_by_key(|p| format!("{p:?}"));
    patterns.dedup();
    assert_eq!(patterns.len(), 621, "a tag is listed twice");

    let count = |f: &dyn Fn(&Rule) -> bool| rules.iter().filter(|r| f(r)).count();
    let basic: BTreeMap<String, usize> = [
        ("D", Code::D),
        ("Z", Code::Z),
        ("X", Code::X),
        ("U", Code::U),
        ("Z/D", Code::ZD),
        ("X/Z", Code::XZ),
        ("X/D", Code::XD),
        ("X/Z/D", Code::XZD),
        ("X/Z/U*", Code::XZU),
    ]
    .into_iter()
    .map(|(name, code)| (name.to_string(), count(&|r| r.basic == code)))
    .collect();
    let want: BTreeMap<String, usize> = [
        ("D", 92),
        ("Z", 42),
        ("X", 384),
        ("U", 54),
        ("Z/D", 6),
        ("X/Z", 11),
        ("X/D", 22),
        ("X/Z/D", 8),
        ("X/Z/U*", 2),
    ]
    .into_iter()
    .map(|(n, c)| (n.to_string(), c))
    .collect();
    assert_eq!(basic, want);
    assert_eq!(count(&|r| r.retain_dates == Some(Code::K)), 165);
    assert_eq!(count(&|r| r.retain_patient == Some(Code::K)), 9);
    assert_eq!(count(&|r| r.retain_patient == Some(Code::C)), 4);
    assert_eq!(count(&|r| r.retain_device == Some(Code::K)), 46);
    assert_eq!(count(&|r| r.retain_device == Some(Code::C)), 11);

    // Spot checks against the standard.
    let exact = |t: Tag| rule_for(t).unwrap();
    assert_eq!(exact(tags::PATIENT_NAME).basic, Code::Z);
    assert_eq!(exact(tags::STUDY_INSTANCE_UID).basic, Code::U);
    assert_eq!(exact(tags::REFERENCED_IMAGE_SEQUENCE).basic, Code::XZU);
    assert_eq!(exact(tags::PATIENT_SEX).retain_patient, Some(Code::K));
    assert_eq!(
        exact(tags::DEVICE_SERIAL_NUMBER).retain_device,
        Some(Code::K)
    );
    assert_eq!(exact(tags::STUDY_DATE).retain_dates, Some(Code::K));
}

#[test]
fn malformed_tables_are_refused_with_the_line() {
    let header = "tag\tbasic\tretain_dates\tretain_patient\tretain_device\tname\n";
    for (body, needle) in [
        ("(0010,0010)\tQ\t-\t-\t-\tName\n", "bad action"),
        ("(0010,001G)\tZ\t-\t-\t-\tName\n", "bad tag"),
        ("(0010,0010)\tZ\t-\t-\tName\n", "5 columns"),
        ("(0010,0010)\tZ\tQ\t-\t-\tName\n", "bad option action"),
    ] {
        let text: &'static str = Box::leak(format!("{header}{body}").into_boxed_str());
        let err = parse_table(text).unwrap_err();
        assert!(err.contains(needle) && err.contains("line 2"), "{err}");
    }
    assert!(parse_table("tag\tname\n").is_err());
}

/// The VR the dictionary gives a tag (the first choice of an ambiguous one).
fn dictionary_vr(tag: Tag) -> VR {
    match StandardDataDictionary.by_tag(tag).map(|e| e.vr) {
        Some(VirtualVr::Exact(vr)) => vr,
        Some(VirtualVr::Xs) => VR::US,
        Some(VirtualVr::Ox) | Some(VirtualVr::Px) => VR::OW,
        Some(_) => VR::US,
        None => VR::LO,
    }
}

/// A realistic identifying value of `vr`; a sequence's item holds a name, a referenced UID
/// and a private attribute, which must not survive whatever is kept of the sequence.
fn original_value(vr: VR) -> Value<InMemDicomObject, Vec<u8>> {
    let s = |v: &str| Value::Primitive(PrimitiveValue::from(v));
    match vr {
        VR::SQ => {
            let mut item = InMemDicomObject::new_empty();
            put_str(&mut item, tags::PATIENT_NAME, VR::PN, "Doe^Jane");
            put_str(
                &mut item,
                tags::REFERENCED_SOP_INSTANCE_UID,
                VR::UI,
                "1.2.3.99",
            );
            put_str(&mut item, Tag(0x0009, 0x1001), VR::LO, "private");
            sequence(vec![item])
        }
        VR::DA => s("20240131"),
        VR::TM => s("121314"),
        VR::DT => s("20240131121314"),
        VR::AS => s("042Y"),
        VR::DS => s("1.5"),
        VR::IS => s("7"),
        VR::UI => s("1.2.840.99.1"),
        VR::PN => s("Doe^Jane"),
        VR::AE | VR::CS => s("SECRETVAL"),
        VR::US => Value::Primitive(PrimitiveValue::from(7u16)),
        VR::SS => Value::Primitive(PrimitiveValue::from(7i16)),
        VR::UL => Value::Primitive(PrimitiveValue::from(7u32)),
        VR::SL => Value::Primitive(PrimitiveValue::from(7i32)),
        VR::FL => Value::Primitive(PrimitiveValue::from(7f32)),
        VR::FD => Value::Primitive(PrimitiveValue::from(7f64)),
        VR::AT => Value::Primitive(PrimitiveValue::Tags(vec![Tag(0x0010, 0x0010)].into())),
        VR::OB | VR::UN => Value::Primitive(PrimitiveValue::U8(vec![1, 2, 3, 4].into())),
        VR::OW => Value::Primitive(PrimitiveValue::U16(vec![7, 8].into())),
        _ => s("Secret text of Jane Doe"),
    }
}

/// What happened to an attribute, seen from the output alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Removed,
    Emptied,
    Dummy,
    Remapped,
    Unchanged,
    /// A sequence kept with its items de-identified.
    ItemsCleaned,
}

fn outcome(
    tag: Tag,
    vr: VR,
    before: &Value<InMemDicomObject, Vec<u8>>,
    after: &InMemDicomObject,
    uids: &UidMap,
) -> Outcome {
    let Some(elem) = after.get(tag) else {
        return Outcome::Removed;
    };
    if vr == VR::SQ {
        let items = elem.items().expect("still a sequence");
        if items.is_empty() {
            return Outcome::Emptied;
        }
        let item = &items[0];
        assert_eq!(text(item, tags::PATIENT_NAME).as_deref(), Some(""));
        assert!(item.get(Tag(0x0009, 0x1001)).is_none());
        assert_eq!(
            text(item, tags::REFERENCED_SOP_INSTANCE_UID),
            Some(uids.map("1.2.3.99"))
        );
        return Outcome::ItemsCleaned;
    }
    if elem
        .value()
        .primitive()
        .is_some_and(|p| p.multiplicity() == 0)
    {
        return Outcome::Emptied;
    }
    if elem.value() == before {
        return Outcome::Unchanged;
    }
    if elem.vr() == VR::UI {
        let original = before.to_str().unwrap();
        assert_eq!(elem.to_str().unwrap(), uids.map(&original));
        return Outcome::Remapped;
    }
    Outcome::Dummy
}

/// The outcomes a table code allows (A/B/C: any of them), for an attribute of `vr`.
fn allowed(code: Code, vr: VR) -> Vec<Outcome> {
    use Outcome::*;
    let letters: &[char] = match code {
        Code::D => &['D'],
        Code::Z => &['Z'],
        Code::X => &['X'],
        Code::K => &['K'],
        Code::C => &['X'],
        Code::U => &['U'],
        Code::ZD => &['Z', 'D'],
        Code::XZ => &['X', 'Z'],
        Code::XD => &['X', 'D'],
        Code::XZD => &['X', 'Z', 'D'],
        Code::XZU => &['X', 'Z', 'U'],
    };
    letters
        .iter()
        .map(|l| match (l, vr) {
            ('X', _) => Removed,
            ('Z', _) => Emptied,
            ('K', VR::SQ) | ('D', VR::SQ) | ('U', VR::SQ) => ItemsCleaned,
            ('K', _) => Unchanged,
            // A dummy UID is a new UID.
            ('D', VR::UI) | ('U', _) => Remapped,
            ('D', _) => Dummy,
            _ => unreachable!(),
        })
        .collect()
}

/// Every row with a single tag, under the basic profile and each option alone: an object
/// holding that attribute (with a value of its dictionary VR) comes out as the row says — one
/// of the actions the code allows, or unchanged where an option that is on says K — and the
/// pixels and geometry beside it are untouched.
#[test]
fn every_row_is_applied_under_each_option() {
    let uids = UidMap::new(SECRET);
    let mut checked = 0;
    for rule in rules() {
        let TagPattern::Exact(tag) = rule.pattern else {
            continue;
        };
        let vr = dictionary_vr(tag);
        for opts in all_options() {
            let before = original_value(vr);
            let mut obj = InMemDicomObject::new_empty();
            obj.put(DataElement::new(tag, vr, before.clone()));
            obj.put(DataElement::new(
                tags::ROWS,
                VR::US,
                PrimitiveValue::from(2u16),
            ));
            let report = deidentify(&mut obj, &opts, &uids);

            let retained = [
                (opts.retain_longitudinal_dates, rule.retain_dates),
                (opts.retain_patient_characteristics, rule.retain_patient),
                (opts.retain_device_identity, rule.retain_device),
            ]
            .iter()
            .any(|(on, code)| *on && *code == Some(Code::K));
            let want = if retained {
                allowed(Code::K, vr)
            } else {
                allowed(rule.basic, vr)
            };
            let got = outcome(tag, vr, &before, &obj, &uids);
            assert!(
                want.contains(&got),
                "{} {tag} ({vr:?}) with {opts:?}: {got:?}, want one of {want:?}",
                rule.name
            );
            assert_eq!(
                rule.action(&opts) == Action::Keep,
                retained,
                "{}",
                rule.name
            );
            assert_eq!(report.retained, u32::from(retained), "{}", rule.name);
            assert_eq!(text(&obj, tags::ROWS).as_deref(), Some("2"));
            checked += 1;
        }
    }
    // 621 rows less the three repeating groups and the private attributes.
    assert_eq!(checked, 617 * 4);
}

/// The repeating groups and private attributes: curves (50xx) and overlay data and comments
/// (60xx,3000/4000) removed, the rest of an overlay kept; every attribute of an odd group
/// removed, private creators included.
#[test]
fn repeating_groups_and_private_attributes() {
    let uids = UidMap::new(SECRET);
    let mut obj = InMemDicomObject::new_empty();
    let removed = [
        Tag(0x5000, 0x3000),
        Tag(0x5012, 0x0010),
        Tag(0x6000, 0x3000),
        Tag(0x6002, 0x4000),
        Tag(0x0009, 0x0010),
        Tag(0x0009, 0x1001),
        Tag(0x0029, 0x1010),
        Tag(0x7FE1, 0x0010),
    ];
    let kept = [
        Tag(0x6000, 0x0010),
        Tag(0x6002, 0x0011),
        Tag(0x5100, 0x0010),
    ];
    for tag in removed.iter().chain(&kept) {
        obj.put(DataElement::new(*tag, VR::LO, PrimitiveValue::from("x")));
    }
    for opts in all_options() {
        let mut out = obj.clone();
        let report = deidentify(&mut out, &opts, &uids);
        for tag in removed {
            assert!(out.get(tag).is_none(), "{tag} kept with {opts:?}");
        }
        for tag in kept {
            assert_eq!(text(&out, tag).as_deref(), Some("x"), "{tag}");
        }
        assert_eq!(report.removed, removed.len() as u32);
    }
}

/// One study's UIDs map the same in every instance, and the map is the same for the same
/// secret (a resumed job) and different for another; mapped UIDs are valid 2.25 UIDs, and the
/// pairs are remembered.
#[test]
fn uids_map_consistently_across_instances_and_resumes() {
    let instance = |sop: &str| {
        let mut obj = InMemDicomObject::new_empty();
        put_str(&mut obj, tags::STUDY_INSTANCE_UID, VR::UI, "1.2.840.1");
        put_str(&mut obj, tags::SERIES_INSTANCE_UID, VR::UI, "1.2.840.1.2");
        put_str(&mut obj, tags::SOP_INSTANCE_UID, VR::UI, sop);
        put_str(
            &mut obj,
            tags::FRAME_OF_REFERENCE_UID,
            VR::UI,
            "1.2.840.1.9",
        );
        put_str(
            &mut obj,
            tags::SOP_CLASS_UID,
            VR::UI,
            "1.2.840.10008.5.1.4.1.1.2",
        );
        obj
    };
    let uids = UidMap::new(SECRET);
    let (mut a, mut b) = (instance("1.2.840.1.2.1"), instance("1.2.840.1.2.2"));
    deidentify(&mut a, &Options::default(), &uids);
    deidentify(&mut b, &Options::default(), &uids);
    for tag in [
        tags::STUDY_INSTANCE_UID,
        tags::SERIES_INSTANCE_UID,
        tags::FRAME_OF_REFERENCE_UID,
    ] {
        assert_eq!(text(&a, tag), text(&b, tag));
        assert_ne!(text(&a, tag), text(&instance("1.2.840.1.2.1"), tag));
    }
    let (sop_a, sop_b) = (
        text(&a, tags::SOP_INSTANCE_UID).unwrap(),
        text(&b, tags::SOP_INSTANCE_UID).unwrap(),
    );
    assert_ne!(sop_a, sop_b);
    // The SOP Class is no identifier: kept.
    assert_eq!(
        text(&a, tags::SOP_CLASS_UID).as_deref(),
        Some("1.2.840.10008.5.1.4.1.1.2")
    );

    // A UID its writer kept as UN bytes is remapped all the same, as a UI.
    let mut raw = InMemDicomObject::new_empty();
    raw.put(DataElement::new(
        tags::SOP_INSTANCE_UID,
        VR::UN,
        PrimitiveValue::U8(b"1.2.840.1.2.1\0".to_vec().into()),
    ));
    deidentify(&mut raw, &Options::default(), &uids);
    assert_eq!(raw.get(tags::SOP_INSTANCE_UID).unwrap().vr(), VR::UI);
    assert_eq!(text(&raw, tags::SOP_INSTANCE_UID), Some(sop_a.clone()));

    let resumed = UidMap::new(SECRET);
    assert_eq!(resumed.map("1.2.840.1.2.1"), sop_a);
    let other = UidMap::new([8; 32]);
    assert_ne!(other.map("1.2.840.1.2.1"), sop_a);
    // Padding is not part of a UID.
    assert_eq!(uids.map("1.2.840.1.2.1\0"), sop_a);

    for (original, mapped) in uids.pairs() {
        assert!(
            mapped.len() <= 64 && mapped.starts_with("2.25."),
            "{mapped}"
        );
        let number = &mapped[5..];
        assert!(number.bytes().all(|b| b.is_ascii_digit()) && !number.starts_with('0'));
        assert_eq!(uids.map(&original), mapped);
    }
    let originals: Vec<String> = uids.pairs().into_iter().map(|(o, _)| o).collect();
    assert_eq!(
        originals,
        [
            "1.2.840.1",
            "1.2.840.1.2",
            "1.2.840.1.2.1",
            "1.2.840.1.2.2",
            "1.2.840.1.9"
        ]
    );
}

/// Dummy text is a keyed pseudonym: 16 characters valid for every text VR, equal for equal
/// values (one patient's ID stays one ID across instances and resumed jobs), different for
/// different values and for another secret, and free of the original.
#[test]
fn dummy_text_is_a_consistent_pseudonym() {
    let uids = UidMap::new(SECRET);
    let p = uids.pseudonym("MRN-123");
    assert_eq!(p.len(), 16);
    assert!(p.starts_with("ANON") && p[4..].bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(!p.contains("123"));
    assert_eq!(UidMap::new(SECRET).pseudonym("MRN-123"), p);
    assert_eq!(uids.pseudonym("MRN-123 "), p);
    assert_ne!(uids.pseudonym("MRN-124"), p);
    assert_ne!(UidMap::new([8; 32]).pseudonym("MRN-123"), p);
    // A UID and a text value of the same characters do not collide in form.
    assert!(uids.map("MRN-123").starts_with("2.25."));

    // Across two instances of one patient, and value by value in a multi-valued attribute.
    let mut a = image();
    let mut b = image();
    b.put(DataElement::new(
        tags::STATION_NAME,
        VR::SH,
        PrimitiveValue::Strs(vec!["CT1".to_string(), "CT2".to_string()].into()),
    ));
    deidentify(&mut a, &Options::default(), &uids);
    deidentify(&mut b, &Options::default(), &uids);
    assert_eq!(text(&a, tags::PATIENT_ID), text(&b, tags::PATIENT_ID));
    let stations = b
        .get(tags::STATION_NAME)
        .unwrap()
        .value()
        .to_multi_str()
        .unwrap()
        .to_vec();
    assert_eq!(stations, [uids.pseudonym("CT1"), uids.pseudonym("CT2")]);
}

/// Sequences are recursed at any depth, listed in the table or not: a reference to another
/// instance keeps pointing at that instance's new UID, names and IDs inside items are emptied
/// or replaced, private attributes inside items go, a multi-valued UID maps value by value;
/// stale group lengths go.
#[test]
fn sequences_are_deidentified_at_every_depth() {
    let uids = UidMap::new(SECRET);
    let mut inner = InMemDicomObject::new_empty();
    put_str(&mut inner, tags::PATIENT_NAME, VR::PN, "Doe^Jane");
    put_str(&mut inner, Tag(0x0011, 0x0010), VR::LO, "VENDOR");
    let mut reference = InMemDicomObject::new_empty();
    put_str(
        &mut reference,
        tags::REFERENCED_SOP_CLASS_UID,
        VR::UI,
        "1.2.840.10008.5.1.4.1.1.2",
    );
    put_str(
        &mut reference,
        tags::REFERENCED_SOP_INSTANCE_UID,
        VR::UI,
        "1.2.3.4",
    );
    // Other Patient IDs Sequence (X) nested in a kept sequence: removed there too.
    reference.put(DataElement::new(
        tags::OTHER_PATIENT_I_DS_SEQUENCE,
        VR::SQ,
        sequence(vec![inner.clone()]),
    ));
    reference.put(DataElement::new(
        tags::REFERENCED_IMAGE_SEQUENCE,
        VR::SQ,
        sequence(vec![inner]),
    ));
    let mut obj = InMemDicomObject::new_empty();
    obj.put(DataElement::new(
        tags::REFERENCED_IMAGE_SEQUENCE,
        VR::SQ,
        sequence(vec![reference]),
    ));
    // A sequence the table does not list is kept, and its items de-identified all the same.
    let mut region = InMemDicomObject::new_empty();
    put_str(&mut region, tags::CODE_VALUE, VR::SH, "T-D3000");
    put_str(&mut region, tags::PATIENT_ID, VR::LO, "MRN-123");
    obj.put(DataElement::new(
        tags::ANATOMIC_REGION_SEQUENCE,
        VR::SQ,
        sequence(vec![region]),
    ));
    // A group length, stale once values change, goes.
    obj.put(DataElement::new(
        Tag(0x0008, 0x0000),
        VR::UL,
        PrimitiveValue::from(1234u32),
    ));
    obj.put(DataElement::new(
        RELATED_FRAME_OF_REFERENCE_UID,
        VR::UI,
        PrimitiveValue::Strs(vec!["1.2.5".to_string(), "1.2.6".to_string()].into()),
    ));

    let report = deidentify(&mut obj, &Options::default(), &uids);
    let item = &items(&obj, tags::REFERENCED_IMAGE_SEQUENCE).unwrap()[0];
    assert_eq!(
        text(item, tags::REFERENCED_SOP_INSTANCE_UID),
        Some(uids.map("1.2.3.4"))
    );
    assert_eq!(
        text(item, tags::REFERENCED_SOP_CLASS_UID).as_deref(),
        Some("1.2.840.10008.5.1.4.1.1.2")
    );
    assert!(item.get(tags::OTHER_PATIENT_I_DS_SEQUENCE).is_none());
    let deep = &items(item, tags::REFERENCED_IMAGE_SEQUENCE).unwrap()[0];
    assert_eq!(text(deep, tags::PATIENT_NAME).as_deref(), Some(""));
    assert!(deep.get(Tag(0x0011, 0x0010)).is_none());
    let related = obj
        .get(RELATED_FRAME_OF_REFERENCE_UID)
        .unwrap()
        .value()
        .to_multi_str()
        .unwrap()
        .to_vec();
    assert_eq!(related, [uids.map("1.2.5"), uids.map("1.2.6")]);
    let region = &items(&obj, tags::ANATOMIC_REGION_SEQUENCE).unwrap()[0];
    assert_eq!(text(region, tags::CODE_VALUE).as_deref(), Some("T-D3000"));
    assert_eq!(
        text(region, tags::PATIENT_ID),
        Some(uids.pseudonym("MRN-123"))
    );
    assert!(obj.get(Tag(0x0008, 0x0000)).is_none());
    assert_eq!(report.replaced, 1);
    assert_eq!(report.remapped, 2);
    assert_eq!(report.removed, 2); // the nested Other Patient IDs Sequence, a private creator
    assert_eq!(report.emptied, 1);
}

fn image() -> InMemDicomObject {
    let mut obj = InMemDicomObject::new_empty();
    put_str(&mut obj, tags::PATIENT_NAME, VR::PN, "Doe^Jane");
    put_str(&mut obj, tags::PATIENT_ID, VR::LO, "MRN-123");
    put_str(&mut obj, tags::PATIENT_BIRTH_DATE, VR::DA, "19700101");
    put_str(&mut obj, tags::PATIENT_SEX, VR::CS, "F");
    put_str(&mut obj, tags::STUDY_DATE, VR::DA, "20240131");
    put_str(&mut obj, tags::CONTENT_DATE, VR::DA, "20240131");
    put_str(&mut obj, tags::INSTITUTION_NAME, VR::LO, "General Hospital");
    put_str(&mut obj, tags::DEVICE_SERIAL_NUMBER, VR::LO, "SN-42");
    put_str(
        &mut obj,
        tags::FRAME_OF_REFERENCE_UID,
        VR::UI,
        "1.2.840.1.9",
    );
    put_str(
        &mut obj,
        tags::IMAGE_POSITION_PATIENT,
        VR::DS,
        "-10.5\\20\\30.25",
    );
    put_str(
        &mut obj,
        tags::IMAGE_ORIENTATION_PATIENT,
        VR::DS,
        "1\\0\\0\\0\\1\\0",
    );
    put_str(&mut obj, tags::PIXEL_SPACING, VR::DS, "0.5\\0.5");
    put_str(&mut obj, tags::SLICE_THICKNESS, VR::DS, "1.25");
    obj.put(DataElement::new(
        tags::ROWS,
        VR::US,
        PrimitiveValue::from(2u16),
    ));
    obj.put(DataElement::new(
        tags::COLUMNS,
        VR::US,
        PrimitiveValue::from(2u16),
    ));
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U16(vec![1, 2, 3, 4].into()),
    ));
    obj
}

/// Pixels and geometry come out byte for byte; the Frame of Reference is remapped, not dropped.
#[test]
fn pixels_and_geometry_are_untouched() {
    let uids = UidMap::new(SECRET);
    let before = image();
    let mut obj = before.clone();
    deidentify(&mut obj, &Options::default(), &uids);
    for tag in [
        tags::PIXEL_DATA,
        tags::ROWS,
        tags::COLUMNS,
        tags::IMAGE_POSITION_PATIENT,
        tags::IMAGE_ORIENTATION_PATIENT,
        tags::PIXEL_SPACING,
        tags::SLICE_THICKNESS,
    ] {
        assert_eq!(obj.get(tag), before.get(tag), "{tag}");
    }
    assert_eq!(
        text(&obj, tags::FRAME_OF_REFERENCE_UID),
        Some(uids.map("1.2.840.1.9"))
    );
}

/// The basic profile alone and each option: dates, patient characteristics and device identity
/// go or stay as the options say; the data set is marked with the method, its codes and the
/// state of the dates.
#[test]
fn options_change_what_is_kept_and_how_the_method_is_recorded() {
    let uids = UidMap::new(SECRET);
    let run = |opts: Options| {
        let mut obj = image();
        deidentify(&mut obj, &opts, &uids);
        obj
    };
    let codes = |obj: &InMemDicomObject| -> Vec<String> {
        items(obj, tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE)
            .unwrap()
            .iter()
            .map(|i| {
                assert_eq!(
                    text(i, tags::CODING_SCHEME_DESIGNATOR).as_deref(),
                    Some("DCM")
                );
                text(i, tags::CODE_VALUE).unwrap()
            })
            .collect()
    };

    let basic = run(Options::default());
    assert_eq!(text(&basic, tags::PATIENT_NAME).as_deref(), Some(""));
    // Z/D: a pseudonym (a Type 1 Patient ID stays valid, and one patient stays one).
    assert_eq!(
        text(&basic, tags::PATIENT_ID),
        Some(uids.pseudonym("MRN-123"))
    );
    assert_eq!(text(&basic, tags::PATIENT_BIRTH_DATE).as_deref(), Some(""));
    assert_eq!(text(&basic, tags::PATIENT_SEX).as_deref(), Some(""));
    assert_eq!(text(&basic, tags::STUDY_DATE).as_deref(), Some(""));
    // Z/D: the dummy date keeps the file valid where the date is Type 1.
    assert_eq!(
        text(&basic, tags::CONTENT_DATE).as_deref(),
        Some("19000101")
    );
    // X/Z/D: a dummy value.
    assert_eq!(
        text(&basic, tags::INSTITUTION_NAME),
        Some(uids.pseudonym("General Hospital"))
    );
    assert_eq!(
        text(&basic, tags::DEVICE_SERIAL_NUMBER),
        Some(uids.pseudonym("SN-42"))
    );
    assert_eq!(
        text(&basic, tags::PATIENT_IDENTITY_REMOVED).as_deref(),
        Some("YES")
    );
    assert_eq!(
        text(&basic, tags::DEIDENTIFICATION_METHOD).as_deref(),
        Some("Basic Application Confidentiality Profile")
    );
    assert_eq!(codes(&basic), ["113100"]);
    assert_eq!(
        text(&basic, tags::LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED).as_deref(),
        Some("REMOVED")
    );

    let dates = run(Options {
        retain_longitudinal_dates: true,
        ..Options::default()
    });
    assert_eq!(text(&dates, tags::STUDY_DATE).as_deref(), Some("20240131"));
    assert_eq!(
        text(&dates, tags::CONTENT_DATE).as_deref(),
        Some("20240131")
    );
    // The birth date is no longitudinal information: still emptied.
    assert_eq!(text(&dates, tags::PATIENT_BIRTH_DATE).as_deref(), Some(""));
    assert_eq!(codes(&dates), ["113100", "113106"]);
    assert_eq!(
        text(&dates, tags::LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED).as_deref(),
        Some("UNMODIFIED")
    );

    let patient = run(Options {
        retain_patient_characteristics: true,
        ..Options::default()
    });
    assert_eq!(text(&patient, tags::PATIENT_SEX).as_deref(), Some("F"));
    assert_eq!(text(&patient, tags::PATIENT_NAME).as_deref(), Some(""));
    assert_eq!(codes(&patient), ["113100", "113108"]);

    let device = run(Options {
        retain_device_identity: true,
        ..Options::default()
    });
    assert_eq!(
        text(&device, tags::DEVICE_SERIAL_NUMBER).as_deref(),
        Some("SN-42")
    );
    assert_eq!(text(&device, tags::STUDY_DATE).as_deref(), Some(""));
    assert_eq!(codes(&device), ["113100", "113109"]);

    let all = run(Options {
        retain_longitudinal_dates: true,
        retain_patient_characteristics: true,
        retain_device_identity: true,
    });
    assert_eq!(codes(&all), ["113100", "113106", "113108", "113109"]);
    let methods = all
        .get(tags::DEIDENTIFICATION_METHOD)
        .unwrap()
        .value()
        .to_multi_str()
        .unwrap()
        .len();
    assert_eq!(methods, 4);
}

/// Options come from JSON with every member optional and unknown members refused.
#[test]
fn options_parse_from_json_strictly() {
    let opts: Options = serde_json::from_str("{}").unwrap();
    assert_eq!(opts, Options::default());
    let opts: Options = serde_json::from_str(r#"{"retain_device_identity": true}"#).unwrap();
    assert!(opts.retain_device_identity && !opts.retain_longitudinal_dates);
    assert!(serde_json::from_str::<Options>(r#"{"retain_uids": true}"#).is_err());
}

/// Burned In Annotation YES / NO / absent is reported as yes / no / unknown.
#[test]
fn burned_in_annotation_is_reported() {
    let uids = UidMap::new(SECRET);
    for (value, want) in [
        (Some("YES"), BurnedIn::Yes),
        (Some("NO "), BurnedIn::No),
        (None, BurnedIn::Unknown),
    ] {
        let mut obj = image();
        if let Some(v) = value {
            put_str(&mut obj, tags::BURNED_IN_ANNOTATION, VR::CS, v);
        }
        assert_eq!(
            deidentify(&mut obj, &Options::default(), &uids).burned_in,
            want
        );
    }
}

/// `identifying_tags` lists what the options change: the Study Date goes under the basic
/// profile, stays with full dates retained; patient identifiers go whatever the options.
#[test]
fn identifying_tags_follow_the_options() {
    let basic = identifying_tags(&Options::default());
    let has =
        |list: &[(Tag, Action)], tag: Tag| list.iter().find(|(t, _)| *t == tag).map(|(_, a)| *a);
    assert_eq!(has(&basic, tags::STUDY_DATE), Some(Action::Empty));
    assert_eq!(has(&basic, tags::PATIENT_NAME), Some(Action::Empty));
    assert_eq!(has(&basic, tags::SOP_INSTANCE_UID), Some(Action::Remap));
    assert_eq!(has(&basic, tags::PIXEL_DATA), None);
    let dates = identifying_tags(&Options {
        retain_longitudinal_dates: true,
        ..Options::default()
    });
    assert_eq!(has(&dates, tags::STUDY_DATE), None);
    assert_eq!(has(&dates, tags::PATIENT_NAME), Some(Action::Empty));
    assert_eq!(basic.len() - dates.len(), 165);
}

fn fixtures() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pixels");
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "dcm"))
        .collect();
    out.sort();
    out
}

fn read(bytes: &[u8]) -> dicom_object::DefaultDicomObject {
    OpenFileOptions::new()
        .read_preamble(ReadPreamble::Always)
        .from_reader(bytes)
        .unwrap()
}

fn pixel_bytes(obj: &InMemDicomObject) -> Vec<Vec<u8>> {
    match obj.get(tags::PIXEL_DATA).unwrap().value() {
        Value::PixelSequence(seq) => {
            let seq: &PixelFragmentSequence<Vec<u8>> = seq;
            seq.fragments().to_vec()
        }
        v => vec![v.to_bytes().unwrap().to_vec()],
    }
}

/// Every sample file (real files from pydicom's test data, native and encapsulated syntaxes,
/// with vendors' private attributes) de-identified as Part-10 bytes reads back with
/// dicom-object: same transfer syntax and pixel bytes, file meta SOP Instance UID remapped to
/// the data set's, no identifying attribute left, private attributes gone, marked as
/// de-identified; a file without its preamble reads as well.
#[test]
fn sample_files_round_trip_through_part10() {
    let uids = UidMap::new(SECRET);
    let opts = Options::default();
    let removed: Vec<Tag> = identifying_tags(&opts)
        .into_iter()
        .filter(|(_, a)| *a == Action::Remove)
        .map(|(t, _)| t)
        .collect();
    let paths = fixtures();
    assert!(paths.len() >= 10);
    let mut privates = 0;
    for path in paths {
        let bytes = std::fs::read(&path).unwrap();
        let original = read(&bytes);
        let (out, report) = deidentify_part10(&bytes, &opts, &uids).unwrap();
        let back = read(&out);
        assert_eq!(
            back.meta().transfer_syntax(),
            original.meta().transfer_syntax(),
            "{path:?}"
        );
        let sop = text(&back, tags::SOP_INSTANCE_UID).unwrap();
        let original_sop = text(&original, tags::SOP_INSTANCE_UID).unwrap();
        assert_eq!(sop, uids.map(&original_sop), "{path:?}");
        assert_eq!(
            back.meta()
                .media_storage_sop_instance_uid
                .trim_end_matches('\0'),
            sop
        );
        assert_eq!(
            back.meta().media_storage_sop_class_uid,
            original.meta().media_storage_sop_class_uid
        );
        assert_eq!(pixel_bytes(&back), pixel_bytes(&original), "{path:?}");
        assert_eq!(
            text(&back, tags::PATIENT_IDENTITY_REMOVED).as_deref(),
            Some("YES")
        );
        assert_ne!(
            text(&back, tags::STUDY_INSTANCE_UID),
            text(&original, tags::STUDY_INSTANCE_UID)
        );
        for tag in &removed {
            assert!(back.get(*tag).is_none(), "{tag} left in {path:?}");
        }
        if let Some(name) = text(&back, tags::PATIENT_NAME) {
            assert_eq!(name, "", "{path:?}");
        }
        assert!(back.iter().all(|e| e.header().tag.0 % 2 == 0), "{path:?}");
        let private = original
            .iter()
            .filter(|e| e.header().tag.0 % 2 == 1)
            .count() as u32;
        assert!(report.removed >= private, "{path:?}");
        privates += private;

        // Without the preamble: the same result.
        let (again, _) = deidentify_part10(&bytes[128..], &opts, &uids).unwrap();
        assert_eq!(again, out, "{path:?}");
    }
    // The samples do carry vendors' private attributes.
    assert!(privates > 0);
}

/// Bytes that are no DICOM file are a validation error, not a panic.
#[test]
fn unreadable_bytes_are_a_validation_error() {
    let uids = UidMap::new(SECRET);
    for bytes in [&b"not dicom"[..], &[0u8; 200][..], &b"DICM\x02\x00"[..]] {
        let err = deidentify_part10(bytes, &Options::default(), &uids).unwrap_err();
        assert_eq!(err.kind, ErrorType::Validation, "{}", err.message);
        assert!(err.message.contains("Part-10"), "{}", err.message);
    }
}
