//! The local HealthImaging: a faithful, self-contained emulator of the AWS HealthImaging
//! REST-JSON API on a loopback port. Split as moto splits its services: `routes` (HTTP front),
//! `protocol` (request/response shaping), `state` (rules and data), `import` (DICOM → image
//! sets), plus SigV4 verification, validation, search, metadata updates and persistence.

pub mod app;
pub mod connections;
pub mod dicomweb;
pub mod document;
pub mod error;
pub mod faults;
pub mod front_door;
pub mod import;
pub mod log;
pub mod pagination;
pub mod persist;
pub mod protocol;
pub mod quotas;
pub mod requests;
pub mod routes;
pub mod s3;
pub mod search;
pub mod seed;
pub mod server;
pub mod sigv4;
pub mod state;
pub mod updates;
pub mod validate;

pub use server::{LocalConfig, LocalServer, StartError};
