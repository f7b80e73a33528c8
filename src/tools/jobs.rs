//! The `jobs` toolset: get_job, list_jobs and cancel_job for every job (exports, and
//! workflows that outlived their deadline). To be built.

use super::Tool;

pub fn tools() -> Vec<Tool> {
    Vec::new()
}
