//! Metadata documents and update documents arrive from clients as JSON: the typed model and the
//! update rules must reject bad ones with an error, never panic. Input: a metadata document and
//! an update document, separated by a NUL byte (the first byte's low bit is `force`).
#![no_main]

use healthimaging_mcp::dicom::metadata::ImageSetMetadata;
use healthimaging_mcp::local::updates::apply_dicom_updates;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (doc, update) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &[][..]),
    };
    let Ok(doc) = serde_json::from_slice::<Value>(doc) else {
        return;
    };
    let _ = ImageSetMetadata::from_json(&doc);
    let Ok(update) = serde_json::from_slice::<Value>(update) else {
        return;
    };
    let force = flags & 1 == 1;
    let removable = update.get("removableAttributes");
    let updatable = update.get("updatableAttributes");
    if let Ok(next) = apply_dicom_updates(&doc, removable, updatable, force) {
        let _ = ImageSetMetadata::from_json(&next);
    }
});
