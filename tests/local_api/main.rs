//! Drives the local HealthImaging with the real `aws-sdk-medicalimaging` client over HTTP.
//! One binary, one module per area.

mod common;
mod datastores;
mod errors;
mod image_sets;
mod import;
mod persistence;
mod requests;
mod search;
mod structure;
