//! Rust engine of awslabs.healthimaging-mcp-server, and the local HealthImaging it is tested
//! against. Python sees the `python` module (behind the `python` feature).

pub mod deid;
pub mod dicom;
pub mod dicomweb;
pub mod engine;
pub mod export;
pub mod files;
pub mod jobs;
pub mod local;
pub mod model;
pub mod pixels;
pub mod tools;
pub mod workflows;

#[cfg(feature = "python")]
mod python;
