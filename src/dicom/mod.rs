//! DICOM helpers: element → metadata JSON (`json`), frame decoding (`decode`), and the typed
//! image set metadata model the workflows read (`metadata`).

pub mod decode;
pub mod json;
pub mod metadata;
