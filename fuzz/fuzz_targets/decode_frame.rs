//! Frames come from stored image sets whose pixel attributes may disagree with the bytes: the
//! decoders must answer a DecodeError, never panic. Input: 8 header bytes choosing the pixel
//! attributes (frame size kept small) and the transfer syntax, then the stored frame.
#![no_main]

use healthimaging_mcp::dicom::decode::{decode_frame_planar, PixelInfo};
use libfuzzer_sys::fuzz_target;

const SYNTAXES: [&str; 10] = [
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203",
    "1.2.840.10008.1.2.4.50",
];
const PHOTOMETRIC: [&str; 6] = [
    "MONOCHROME1",
    "MONOCHROME2",
    "RGB",
    "YBR_FULL",
    "YBR_FULL_422",
    "PALETTE COLOR",
];
const BITS: [u16; 6] = [1, 8, 12, 16, 32, 64];

fuzz_target!(|data: &[u8]| {
    let Some((head, stored)) = data.split_first_chunk::<8>() else {
        return;
    };
    let bits_allocated = BITS[usize::from(head[3]) % BITS.len()];
    let info = PixelInfo {
        rows: u32::from(head[0] % 65),
        columns: u32::from(head[1] % 65),
        samples_per_pixel: u16::from(head[2] % 5),
        bits_allocated,
        bits_stored: u16::from(head[4]) % (bits_allocated + 2),
        pixel_representation: u16::from(head[5] % 3),
        photometric: PHOTOMETRIC[usize::from(head[6]) % PHOTOMETRIC.len()].to_string(),
    };
    let syntax = SYNTAXES[usize::from(head[7] >> 1) % SYNTAXES.len()];
    let planar = u16::from(head[7] & 1);
    let _ = decode_frame_planar(stored, syntax, &info, planar);
});
