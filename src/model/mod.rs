//! Facts of the HealthImaging service model shared by the engine (checks before the network)
//! and the local HealthImaging (server-side validation): shapes and their constraints, and the
//! default throttling quotas.

pub mod constraints;
pub mod java_regex;
pub mod quotas;
