//! Export of DICOM instances out of HealthImaging: selection (by study, series, SOP Instance
//! UID or submission window), retrieval with WADO-RS, optional de-identification (`crate::deid`),
//! writing Part-10 files to `s3://` or `file://` destinations with a manifest. Runs as a job
//! (`crate::jobs`). To be built (export issue).

use std::sync::Arc;

use crate::engine::EngineError;
use crate::jobs::RunJob;

/// The job kind of exports (`JobRecord::kind`).
pub const KIND: &str = "export";

/// Runs (or resumes) an export job from its record's request.
pub fn run_job() -> RunJob {
    Arc::new(|_handle| {
        Box::pin(async { Err(EngineError::server("export jobs are not built yet")) })
    })
}
