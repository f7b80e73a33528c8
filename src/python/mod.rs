//! The Python extension module `awslabs.healthimaging_mcp_server._engine`. Errors cross the
//! boundary once, in `errors`; each concern has its own file.

mod errors;
mod local;

use pyo3::prelude::*;

#[pymodule(name = "_engine")]
fn engine(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    m.add_class::<local::LocalHealthImaging>()?;
    Ok(())
}
