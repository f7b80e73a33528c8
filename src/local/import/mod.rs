//! DICOM import: Part-10 parsing (`parse`) and the import job that turns the files under an S3
//! prefix into image sets (`job`). Attribute levels come from `crate::dicom::levels`.

pub mod job;
pub mod parse;

pub use job::{run_job, spawn_job};
