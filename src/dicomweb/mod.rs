//! DICOMweb wire formats shared by the engine's client and the local HealthImaging's routes:
//! multipart/related bodies, media types and the DICOM JSON model (PS3.18 Annex F).

pub mod media;
pub mod multipart_read;
pub mod multipart_write;
