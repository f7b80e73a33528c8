//! The Python extension module `awslabs.healthimaging_mcp_server._engine`. Errors cross the
//! boundary once, in `errors`; futures cross in `bridge`; each concern has its own file.

mod bridge;
mod convert;
mod errors;
mod local;
mod runtime;
mod tools;

use pyo3::prelude::*;

#[pymodule(name = "_engine")]
fn engine_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add(
        "USER_AGENT_METADATA",
        crate::engine::config::USER_AGENT_METADATA,
    )?;
    errors::register(m)?;
    bridge::register(m)?;
    tools::register(m)?;
    runtime::register(m)?;
    m.add_class::<local::LocalHealthImaging>()?;
    Ok(())
}
