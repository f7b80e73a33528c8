//! De-identification of DICOM instances: the PS3.15 Annex E Basic Application Level
//! Confidentiality Profile, driven by its table (`profile`, from `basic_profile.tsv`), three of
//! its options, and one consistent UID mapping per export job (`uids`). Pixel data and geometry
//! are never touched; burned-in annotation is reported, not removed (the caller decides).

mod apply;
mod part10;
mod profile;
mod uids;

#[cfg(test)]
mod tests;

use dicom_object::InMemDicomObject;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use part10::deidentify_part10;
pub use profile::{action_for, identifying_tags, rule_for, rules, Action, Code, Rule, TagPattern};
pub use uids::UidMap;

/// Options of the profile (PS3.15 E.3); all off gives the basic profile alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Retain Longitudinal Temporal Information with Full Dates: keep dates and times as they
    /// are (otherwise they are emptied, removed or replaced by dummy dates).
    #[serde(default)]
    pub retain_longitudinal_dates: bool,
    /// Retain Patient Characteristics: keep sex, age, size, weight, ethnic group, pregnancy and
    /// smoking status.
    #[serde(default)]
    pub retain_patient_characteristics: bool,
    /// Retain Device Identity: keep device serial numbers, station names, detector IDs and UIDs
    /// of devices.
    #[serde(default)]
    pub retain_device_identity: bool,
}

/// Whether the pixels may show identifying text burned into them, from Burned In Annotation
/// (0028,0301). The profile does not clean pixels: such an instance must be flagged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BurnedIn {
    /// Burned In Annotation is YES.
    Yes,
    /// Burned In Annotation is NO.
    No,
    /// The attribute is absent (or has another value): nobody said.
    Unknown,
}

/// What de-identifying one instance did. Counts are of attributes, inside sequences included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Report {
    pub burned_in: BurnedIn,
    /// Attributes removed (private attributes included).
    pub removed: u32,
    /// Attributes given a zero length value (sequences left with no items).
    pub emptied: u32,
    /// Attributes replaced with a dummy value.
    pub replaced: u32,
    /// Attributes whose UIDs were replaced through the UID map.
    pub remapped: u32,
    /// Attributes of the table kept because an option retains them.
    pub retained: u32,
}

/// De-identifies a data set in place (file meta excluded: see `deidentify_part10`), and marks
/// it: Patient Identity Removed YES, De-identification Method and its code sequence (113100 and
/// the codes of the options on), Longitudinal Temporal Information Modified.
pub fn deidentify(obj: &mut InMemDicomObject, opts: &Options, uids: &UidMap) -> Report {
    let burned_in = apply::burned_in(obj);
    let mut report = Report {
        burned_in,
        removed: 0,
        emptied: 0,
        replaced: 0,
        remapped: 0,
        retained: 0,
    };
    apply::apply(obj, opts, uids, &mut report);
    apply::mark(obj, opts);
    report
}
