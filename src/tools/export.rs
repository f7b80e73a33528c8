//! The `export` toolset: the original's start_dicom_export_job, get_dicom_export_job and
//! list_dicom_export_jobs, as jobs of this server (`crate::export`). To be built.

use super::Tool;

pub fn tools() -> Vec<Tool> {
    Vec::new()
}
