//! The `pixels` toolset: images a model can see (rendered frames, contact sheets) and compact
//! summaries.

use super::Tool;

pub fn tools() -> Vec<Tool> {
    Vec::new()
}
