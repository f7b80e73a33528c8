//! DICOM import: Part-10 parsing (`parse`), attribute levels (`levels`), and the import job that
//! turns the files under an S3 prefix into image sets (`job`).

pub mod job;
pub mod levels;
pub mod parse;

pub use job::{run_job, spawn_job};
