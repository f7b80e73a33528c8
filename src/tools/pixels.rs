//! The `pixels` toolset: images a model can see (rendered frames, contact sheets) and compact
//! summaries.

use super::{Tool, Toolset, READ};
use crate::pixels::{contact_sheet, render_tool, summary};

pub fn tools() -> Vec<Tool> {
    vec![
        Tool::with_images(
            Toolset::Pixels,
            "render_image_frame",
            "One image frame as an image you can see (PNG; JPEG on request), windowed as a viewer \
             would (window_center/window_width, window_preset, else the image's window, else automatic). \
             Address it by image_frame_id, or series_instance_uid with sop_instance_uid, \
             instance_number or slice=\"middle\" (no image_set_id: the series' primary image set).",
            READ,
            |input, _ctx| render_tool::render_image_frame(input),
        ),
        Tool::with_images(
            Toolset::Pixels,
            "render_series_contact_sheet",
            "Survey a series in one image: count (default 16, at most 64) evenly spaced slices, \
             ordered along the slice normal, labelled with instance number and slice location, at \
             most 1024 px wide, one window for all (options as render_image_frame). No image_set_id: \
             the series' primary image set. Lists the tiles in order; a failed tile is blank and flagged.",
            READ,
            |input, _ctx| contact_sheet::render_series_contact_sheet(input),
        ),
        Tool::new(
            Toolset::Pixels,
            "get_image_set_summary",
            "An image set in brief (well under the size of its metadata): patient, study, and per \
             series the modality, description, body part, instance and frame counts, rows x \
             columns, slice thickness and spacing, stored transfer syntaxes; plus primary flag, \
             version and dates.",
            READ,
            |input, _| summary::get_image_set_summary(input),
        ),
    ]
}
