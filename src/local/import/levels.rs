//! Attribute levels moved to `crate::dicom::levels` (shared with the workflows' update checks);
//! re-exported here for the importer.

pub use crate::dicom::levels::*;
