//! Images a model can see: decoding stored frames, the viewer's pixel pipeline (modality LUT,
//! VOI window, photometric handling), downscaling, PNG/JPEG encoding and contact sheets.

pub mod contact_sheet;
pub mod summary;
