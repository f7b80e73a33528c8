//! The `pixels` toolset: images a model can see (rendered frames, contact sheets) and compact
//! summaries.

use super::{Tool, Toolset, READ};
use crate::pixels::render_tool;

pub fn tools() -> Vec<Tool> {
    vec![Tool::with_images(
        Toolset::Pixels,
        "render_image_frame",
        "One image frame as an image you can see (PNG; JPEG on request), windowed as a viewer \
         would (window_center/window_width, window_preset, else the image's window, else automatic). \
         Address it by image_frame_id, or series_instance_uid with sop_instance_uid, \
         instance_number or slice=\"middle\" (no image_set_id: the series' primary image set).",
        READ,
        |input, _ctx| render_tool::render_image_frame(input),
    )]
}
