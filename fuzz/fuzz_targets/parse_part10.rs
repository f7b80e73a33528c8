//! The import parser takes whatever bytes sit in the S3 stand-in folder: it must answer a
//! ParseError, never panic.
#![no_main]

use healthimaging_mcp::local::import::parse::parse_part10;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_part10(data);
});
