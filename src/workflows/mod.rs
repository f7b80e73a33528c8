//! DICOM workflows built on the engine: patient / study / series operations that read every
//! page, parse metadata once, and run independent calls concurrently under one bound.

pub mod common;
pub mod reads;
