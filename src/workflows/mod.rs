//! DICOM workflows built on the engine: patient / study / series operations that read every
//! page, parse metadata once, and run independent calls concurrently under one bound.

pub mod cancel;
pub mod checks;
pub mod common;
pub mod destructive;
pub mod documents;
pub mod reads;
pub mod subjects;
pub mod writes;
