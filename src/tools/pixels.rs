//! The `pixels` toolset: images a model can see (rendered frames, contact sheets) and compact
//! summaries.

use super::{Tool, Toolset, READ};
use crate::pixels::summary;

pub fn tools() -> Vec<Tool> {
    vec![Tool::new(
        Toolset::Pixels,
        "get_image_set_summary",
        "An image set in brief (well under the size of its metadata): patient, study, and per series the modality, description, body part, instance and frame counts, rows x columns, slice thickness and spacing, stored transfer syntaxes; plus primary flag, version and dates.",
        READ,
        |input, _| summary::get_image_set_summary(input),
    )]
}
