//! The `pixels` toolset: images a model can see (rendered frames, contact sheets) and compact
//! summaries.

use super::{Tool, Toolset, READ};
use crate::pixels::{contact_sheet, render_tool, summary};

pub fn tools() -> Vec<Tool> {
    vec![
        Tool::with_images(
            Toolset::Pixels,
            "render_image_frame",
            "Render one image frame as an image you can see (PNG, or JPEG on request), with the \
             viewer pipeline applied: rescale, window (window_center/window_width, a window_preset, \
             else the image's own window, else an automatic one), MONOCHROME1 inversion, colour. \
             Address the frame by image_frame_id (with image_set_id), or by series_instance_uid with \
             sop_instance_uid (+ frame_number), instance_number, or slice=\"middle\"; without \
             image_set_id the series' primary image set is used. The result also says what was used \
             and whether the decoded pixels match the stored checksum.",
            READ,
            |input, _ctx| render_tool::render_image_frame(input),
        ),
        Tool::with_images(
            Toolset::Pixels,
            "render_series_contact_sheet",
            "One image of count (default 16, at most 64) evenly spaced slices of a series, ordered \
             along the slice normal and labelled with instance number and slice location, at most \
             1024 px wide: survey a series before rendering single frames. Without image_set_id the \
             series' primary image set is used; window options as render_image_frame (one window \
             for every tile). The result lists the tiles in order (instance, SOP UID, frame ID, \
             location), the grid and the window; a tile whose frame fails is blank and flagged.",
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
