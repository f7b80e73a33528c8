//! De-identification of a whole Part-10 file: the data set through the profile, and a new file
//! meta group in the same transfer syntax with the Media Storage SOP Instance UID remapped (its
//! row in the table is U) and nothing of the original writer kept (Source AE Title, private
//! information).

use std::panic::{catch_unwind, AssertUnwindSafe};

use dicom_dictionary_std::tags;
use dicom_object::file::ReadPreamble;
use dicom_object::{FileMetaTableBuilder, OpenFileOptions};

use super::profile::{action_for, Action};
use super::{deidentify, Options, Report, UidMap};
use crate::engine::{EngineError, EngineResult};

fn unreadable(detail: impl std::fmt::Display) -> EngineError {
    EngineError::invalid(
        "dicom",
        format!("not a readable DICOM Part-10 file ({detail})"),
    )
}

/// De-identifies the Part-10 file `bytes` (with or without its 128-byte preamble); the output
/// has a preamble, the same transfer syntax and the same pixel data bytes.
pub fn deidentify_part10(
    bytes: &[u8],
    opts: &Options,
    uids: &UidMap,
) -> EngineResult<(Vec<u8>, Report)> {
    let preamble = if bytes.get(128..132) == Some(b"DICM") {
        ReadPreamble::Always
    } else if bytes.starts_with(b"DICM") {
        ReadPreamble::Never
    } else {
        return Err(unreadable("no DICM prefix"));
    };
    // The parser may panic on hostile input; that is this file's failure, not the process's.
    let file = catch_unwind(AssertUnwindSafe(|| {
        OpenFileOptions::new()
            .read_preamble(preamble)
            .from_reader(bytes)
    }))
    .map_err(|_| unreadable("the parser failed on it"))?
    .map_err(unreadable)?;

    let meta = file.meta();
    let clean = |s: &str| s.trim_end_matches(['\0', ' ']).to_string();
    let transfer_syntax = clean(meta.transfer_syntax());
    let sop_class = clean(&meta.media_storage_sop_class_uid);
    let original_instance = clean(&meta.media_storage_sop_instance_uid);
    let sop_instance = match action_for(tags::MEDIA_STORAGE_SOP_INSTANCE_UID, opts) {
        Action::Keep => original_instance,
        _ => uids.map(&original_instance),
    };

    let mut dataset = file.into_inner();
    let report = deidentify(&mut dataset, opts, uids);
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(transfer_syntax)
        .media_storage_sop_class_uid(sop_class)
        .media_storage_sop_instance_uid(sop_instance)
        .build()
        .map_err(unreadable)?;
    let mut out = Vec::with_capacity(bytes.len() + 256);
    dataset
        .with_exact_meta(meta)
        .write_all(&mut out)
        .map_err(|e| EngineError::server(format!("writing the de-identified file failed: {e}")))?;
    Ok((out, report))
}
