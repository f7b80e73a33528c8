//! Export of DICOM instances out of HealthImaging: selection (by study, series, SOP Instance
//! UID or submission window: `select`), retrieval with WADO-RS streamed to `s3://` or
//! `file://` destinations (`sink`), a manifest and summary beside the files, run as a job of
//! `crate::jobs` that can be resumed (`run`). The request is checked before a job starts
//! (`request`).

pub mod request;
pub mod run;
mod secret;
pub mod select;
pub mod sink;

use std::sync::Arc;

use crate::jobs::RunJob;

/// The job kind of exports (`JobRecord::kind`).
pub const KIND: &str = "export";

/// Runs (or resumes) an export job from its record's request.
pub fn run_job() -> RunJob {
    Arc::new(|handle| Box::pin(run::run(handle)))
}
