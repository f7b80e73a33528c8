//! The `dicomweb` toolset: HealthImaging's DICOMweb APIs (QIDO-RS search, WADO-RS retrieval,
//! STOW-RS upload).

use super::Tool;

pub fn tools() -> Vec<Tool> {
    Vec::new()
}
