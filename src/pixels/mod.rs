//! Images a model can see: decoding stored frames, the viewer's pixel pipeline (modality LUT,
//! VOI window, photometric handling), downscaling, PNG/JPEG encoding and contact sheets.
//!
//! The pipeline is written here rather than on `dicom-pixeldata`: HealthImaging hands out
//! frames without a DICOM object (attributes come from the JSON metadata document), while
//! dicom-pixeldata's LUTs work on a decoded `DicomObject`; it would also pull in a second
//! image stack (`image`, `ndarray`) for what is a few hundred lines here.
//!
//! The API other modules use:
//! - [`PixelDescription::from_metadata`] (or [`PixelDescription::from_attributes`]): the pixel
//!   attributes, rescale, windows, palette and frames (IDs, checksums) of one instance of a
//!   HealthImaging metadata document (Patient/Study/Series/Instance `DICOM` merged,
//!   `StoredTransferSyntaxUID`, `ImageFrames`).
//! - [`render`]: one frame's stored bytes (as GetImageFrame returns them) → an 8-bit
//!   [`Raster`] (grey or RGB) downscaled to `max_size`, with the window, rescale, checksum
//!   result and decode time ([`Rendered`]). Decoder panics come back as [`PixelError::Corrupt`].
//! - [`encode`]: a raster → PNG or JPEG bytes.
//! - [`order_slices`] / [`slice_locations`]: a series' instances in slice order, and where each
//!   lies along the slice normal ([`SliceKey::from_attributes`] builds the keys).
//! - [`preset`] / [`PRESETS`]: named CT windows.

pub mod contact_sheet;
pub mod describe;
pub mod frame;
pub mod order;
pub mod raster;
pub mod render;
pub mod render_tool;
pub mod summary;
pub mod voi;

pub use describe::{merged_attributes, FrameRef, PixelDescription, Rescale, VoiFunction, Window};
pub use order::{order_slices, slice_locations, SliceKey};
pub use raster::{encode, fit, ImageFormat, Raster};
pub use render::{render, RenderOptions, Rendered};
pub use voi::{preset, WindowRequest, WindowSource, WindowUsed, PRESETS};

/// Why a frame cannot be rendered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PixelError {
    /// The syntax, layout or colour model is not supported here.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The stored bytes do not decode (or do not match Rows/Columns).
    #[error("the frame does not decode: {0}")]
    Corrupt(String),
    /// The instance has no pixel data attributes.
    #[error("{0}")]
    NotAnImage(String),
    #[error("{0}")]
    NotFound(String),
    #[error("encoding the image failed: {0}")]
    Encode(String),
}
