//! DICOM helpers shared by the local HealthImaging emulator: element → metadata JSON
//! (`json`) and frame decoding (`decode`).

pub mod decode;
pub mod json;
