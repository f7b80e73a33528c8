//! Facts of the HealthImaging service model shared by the engine (checks before the network)
//! and the local HealthImaging (server-side validation): shapes and their constraints.

pub mod constraints;
pub mod java_regex;
