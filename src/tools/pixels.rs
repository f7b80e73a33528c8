//! The `pixels` toolset: images a model can see (rendered frames, contact sheets) and compact
//! summaries.

use super::{Tool, Toolset, READ};
use crate::pixels::render_tool;

pub fn tools() -> Vec<Tool> {
    vec![Tool::with_images(
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
    )]
}
