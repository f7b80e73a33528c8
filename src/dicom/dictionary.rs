//! What the DICOM data dictionary (PS3.6, via dicom-rs) says about an attribute named in a
//! metadata document: tag, VR, whether it may hold several values, and the HealthImaging
//! metadata level it lives at.

use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry, VirtualVr};
use dicom_core::{Tag, VR};
use dicom_dictionary_std::StandardDataDictionary;

use super::json::dictionary_vm_is_multi;
use super::levels::{keywords, level_of, Level};

/// A standard attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute {
    pub keyword: &'static str,
    pub tag: Tag,
    /// `None` when the VR depends on context (e.g. US or SS).
    pub vr: Option<VR>,
    /// Whether its value multiplicity allows more than one value (VM 1-n, 2, ...).
    pub multi_valued: bool,
    pub level: Level,
}

/// The standard attribute named by `keyword` (exact spelling), if any.
pub fn attribute(keyword: &str) -> Option<Attribute> {
    let entry = StandardDataDictionary.by_name(keyword)?;
    let tag = entry.tag();
    Some(Attribute {
        keyword: entry.alias(),
        tag,
        vr: match entry.vr() {
            VirtualVr::Exact(vr) => Some(vr),
            _ => None,
        },
        multi_valued: dictionary_vm_is_multi(tag),
        level: level_of(keyword),
    })
}

/// The tag of an 8-hex-digit key such as `"00100010"` (how private attributes are named).
pub fn tag_key(key: &str) -> Option<Tag> {
    if key.len() != 8 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let n = u32::from_str_radix(key, 16).ok()?;
    Some(Tag((n >> 16) as u16, (n & 0xFFFF) as u16))
}

/// The standard keyword of `tag`, if it has one.
pub fn keyword_of(tag: Tag) -> Option<&'static str> {
    super::json::keyword_of(tag)
}

/// A Patient-, Study- or Series-level keyword spelled like `key` but for letter case, to
/// suggest for a misspelled one.
pub fn suggestion(key: &str) -> Option<&'static str> {
    keywords().find(|k| k.eq_ignore_ascii_case(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_from_the_dictionary() {
        let name = attribute("PatientName").unwrap();
        assert_eq!(
            (name.tag, name.vr, name.multi_valued, name.level),
            (Tag(0x0010, 0x0010), Some(VR::PN), false, Level::Patient)
        );
        let others = attribute("OtherPatientNames").unwrap();
        assert!(others.multi_valued && others.level == Level::Patient);
        assert_eq!(attribute("StudyDate").unwrap().vr, Some(VR::DA));
        assert_eq!(attribute("ReasonForVisit").unwrap().vr, Some(VR::UT));
        assert_eq!(attribute("Rows").unwrap().level, Level::Instance);
        assert!(attribute("patientname").is_none());
        assert!(attribute("PatientNickname").is_none());
        assert_eq!(suggestion("patientname"), Some("PatientName"));
        assert_eq!(tag_key("00100010"), Some(Tag(0x0010, 0x0010)));
        assert_eq!(keyword_of(Tag(0x0010, 0x0010)), Some("PatientName"));
        assert_eq!(tag_key("PatientN"), None);
    }
}
