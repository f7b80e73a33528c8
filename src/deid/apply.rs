//! The profile applied to a data set: each attribute gets its row's action, sequences are
//! recursed whatever their action keeps of them, and the result is marked as de-identified.

use dicom_core::value::{DataSetSequence, PrimitiveValue, Value};
use dicom_core::{DataElement, Tag, VR};
use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;

use super::profile::{action_for, rule_for, Action};
use super::{BurnedIn, Options, Report, UidMap};

/// Burned In Annotation (0028,0301) of the top-level data set.
pub(super) fn burned_in(obj: &InMemDicomObject) -> BurnedIn {
    let value = obj
        .get(tags::BURNED_IN_ANNOTATION)
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim_matches(['\0', ' ']).to_ascii_uppercase());
    match value.as_deref() {
        Some("YES") => BurnedIn::Yes,
        Some("NO") => BurnedIn::No,
        _ => BurnedIn::Unknown,
    }
}

fn is_sequence(obj: &InMemDicomObject, tag: Tag) -> bool {
    obj.get(tag)
        .is_some_and(|e| matches!(e.value(), Value::Sequence(_)))
}

/// Applies the profile to every attribute of `obj`, items of sequences included.
pub(super) fn apply(
    obj: &mut InMemDicomObject,
    opts: &Options,
    uids: &UidMap,
    report: &mut Report,
) {
    let tag_list: Vec<Tag> = obj.tags().collect();
    for tag in tag_list {
        // Group lengths (retired outside the file meta) would be stale once values change.
        if tag.1 == 0 && tag.0 != 0x0002 {
            obj.remove_element(tag);
            continue;
        }
        let action = action_for(tag, opts);
        if action == Action::Keep && rule_for(tag).is_some() {
            report.retained += 1;
        }
        let sequence = is_sequence(obj, tag);
        match action {
            Action::Remove => {
                obj.remove_element(tag);
                report.removed += 1;
            }
            Action::Empty => {
                let vr = obj.get(tag).map_or(VR::UN, |e| e.vr());
                let value = if sequence {
                    Value::from(DataSetSequence::<InMemDicomObject>::empty())
                } else {
                    Value::Primitive(PrimitiveValue::Empty)
                };
                obj.put(DataElement::new(tag, vr, value));
                report.emptied += 1;
            }
            // A sequence's items carry the identifying values: they are de-identified in turn
            // (the sequence kept, as the IOD may require it).
            Action::Keep | Action::Dummy | Action::Remap if sequence => {
                obj.update_value(tag, |value| {
                    if let Some(items) = value.items_mut() {
                        for item in items.iter_mut() {
                            apply(item, opts, uids, report);
                        }
                    }
                });
            }
            Action::Keep => {}
            Action::Remap => {
                remap(obj, tag, uids);
                report.remapped += 1;
            }
            Action::Dummy => {
                let vr = obj.get(tag).map_or(VR::UN, |e| e.vr());
                match vr {
                    VR::UI => remap(obj, tag, uids),
                    vr if is_text(vr) => pseudonymize(obj, tag, uids),
                    vr => {
                        obj.put(DataElement::new(tag, vr, dummy(vr)));
                    }
                }
                report.replaced += 1;
            }
        }
    }
}

/// Every value of the attribute replaced through the UID map (the VR becomes UI: a UID kept as
/// UN bytes by its writer is still a UID).
fn remap(obj: &mut InMemDicomObject, tag: Tag, uids: &UidMap) {
    let Some(elem) = obj.get(tag) else { return };
    let values: Vec<String> = match elem.value() {
        Value::Primitive(PrimitiveValue::U8(bytes)) => String::from_utf8_lossy(bytes)
            .split('\\')
            .map(str::to_string)
            .collect(),
        value => value.to_multi_str().map(|v| v.to_vec()).unwrap_or_default(),
    };
    let mapped: Vec<String> = values
        .iter()
        .map(|v| v.trim_matches(['\0', ' ']))
        .filter(|v| !v.is_empty())
        .map(|v| uids.map(v))
        .collect();
    let value = if mapped.is_empty() {
        PrimitiveValue::Empty
    } else {
        PrimitiveValue::Strs(mapped.into())
    };
    obj.put(DataElement::new(tag, VR::UI, value));
}

/// Text that a pseudonym can stand for (dates, times, ages and numbers have their own dummies).
fn is_text(vr: VR) -> bool {
    matches!(
        vr,
        VR::AE | VR::CS | VR::LO | VR::LT | VR::PN | VR::SH | VR::ST | VR::UC | VR::UR | VR::UT
    )
}

/// Every value of a text attribute replaced by its pseudonym (see `UidMap::pseudonym`): a dummy
/// that keeps equal values equal, so one patient's ID stays one ID.
fn pseudonymize(obj: &mut InMemDicomObject, tag: Tag, uids: &UidMap) {
    let Some(elem) = obj.get(tag) else { return };
    let vr = elem.vr();
    let values: Vec<String> = match elem.value().to_multi_str() {
        Ok(values) if !values.is_empty() => values.iter().map(|v| uids.pseudonym(v)).collect(),
        _ => vec![uids.pseudonym("")],
    };
    obj.put(DataElement::new(
        tag,
        vr,
        PrimitiveValue::Strs(values.into()),
    ));
}

/// A dummy value valid for the VR, free of identifying content (text and UIDs are handled
/// through the job's key: `pseudonymize`, `remap`).
fn dummy(vr: VR) -> PrimitiveValue {
    let text = |s: &str| PrimitiveValue::from(s);
    match vr {
        VR::DA => text("19000101"),
        VR::TM => text("000000"),
        VR::DT => text("19000101000000"),
        VR::AS => text("000Y"),
        VR::DS | VR::IS => text("0"),
        VR::AE
        | VR::CS
        | VR::LO
        | VR::LT
        | VR::PN
        | VR::SH
        | VR::ST
        | VR::UC
        | VR::UR
        | VR::UT
        | VR::UI => text("ANONYMIZED"),
        VR::US => PrimitiveValue::from(0u16),
        VR::SS => PrimitiveValue::from(0i16),
        VR::UL => PrimitiveValue::from(0u32),
        VR::SL => PrimitiveValue::from(0i32),
        VR::UV => PrimitiveValue::from(0u64),
        VR::SV => PrimitiveValue::from(0i64),
        VR::FL => PrimitiveValue::from(0f32),
        VR::FD => PrimitiveValue::from(0f64),
        VR::AT => PrimitiveValue::Tags(vec![Tag(0, 0)].into()),
        VR::OW => PrimitiveValue::U16(vec![0].into()),
        VR::OL => PrimitiveValue::U32(vec![0].into()),
        VR::OV => PrimitiveValue::U64(vec![0].into()),
        VR::OF => PrimitiveValue::F32(vec![0.0].into()),
        VR::OD => PrimitiveValue::F64(vec![0.0].into()),
        // OB, UN (and SQ, handled before): two zero bytes.
        _ => PrimitiveValue::U8(vec![0, 0].into()),
    }
}

/// The PS3.16 CID 7050 code of the profile and of each option on.
fn method_codes(opts: &Options) -> Vec<(&'static str, &'static str)> {
    [
        (true, "113100", "Basic Application Confidentiality Profile"),
        (
            opts.retain_longitudinal_dates,
            "113106",
            "Retain Longitudinal Temporal Information Full Dates Option",
        ),
        (
            opts.retain_patient_characteristics,
            "113108",
            "Retain Patient Characteristics Option",
        ),
        (
            opts.retain_device_identity,
            "113109",
            "Retain Device Identity Option",
        ),
    ]
    .into_iter()
    .filter(|(on, _, _)| *on)
    .map(|(_, code, meaning)| (code, meaning))
    .collect()
}

/// Marks the data set as de-identified (PS3.15 E.1.1 and the General Image module).
pub(super) fn mark(obj: &mut InMemDicomObject, opts: &Options) {
    let codes = method_codes(opts);
    let items: Vec<InMemDicomObject> = codes
        .iter()
        .map(|(code, meaning)| {
            InMemDicomObject::from_element_iter([
                DataElement::new(tags::CODE_VALUE, VR::SH, PrimitiveValue::from(*code)),
                DataElement::new(
                    tags::CODING_SCHEME_DESIGNATOR,
                    VR::SH,
                    PrimitiveValue::from("DCM"),
                ),
                DataElement::new(tags::CODE_MEANING, VR::LO, PrimitiveValue::from(*meaning)),
            ])
        })
        .collect();
    let meanings: Vec<String> = codes.iter().map(|(_, m)| m.to_string()).collect();
    let temporal = if opts.retain_longitudinal_dates {
        "UNMODIFIED"
    } else {
        "REMOVED"
    };
    obj.put(DataElement::new(
        tags::PATIENT_IDENTITY_REMOVED,
        VR::CS,
        PrimitiveValue::from("YES"),
    ));
    obj.put(DataElement::new(
        tags::DEIDENTIFICATION_METHOD,
        VR::LO,
        PrimitiveValue::Strs(meanings.into()),
    ));
    obj.put(DataElement::new(
        tags::DEIDENTIFICATION_METHOD_CODE_SEQUENCE,
        VR::SQ,
        Value::from(DataSetSequence::from(items)),
    ));
    obj.put(DataElement::new(
        tags::LONGITUDINAL_TEMPORAL_INFORMATION_MODIFIED,
        VR::CS,
        PrimitiveValue::from(temporal),
    ));
}
