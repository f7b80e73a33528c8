//! DICOM helpers: element → metadata JSON (`json`), frame decoding (`decode`), the typed
//! image set metadata model the workflows read (`metadata`), attribute facts (`dictionary`,
//! `levels`), value checks (`values`), and HealthImaging's update constraints (`update_rules`).

pub mod decode;
pub mod dictionary;
pub mod json;
pub mod json_model;
pub mod levels;
pub mod metadata;
pub mod part10;
pub mod update_rules;
pub mod values;
pub mod vr;
