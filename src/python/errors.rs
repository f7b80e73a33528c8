//! The one exception Python sees from the engine, and the single conversion into it.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

use crate::engine::EngineError;

create_exception!(
    _engine,
    HealthImagingError,
    PyException,
    "An engine failure. Attributes: type (validation_error, not_found, auth_error, conflict_error, throttling_error, service_error, server_error), message, code (AWS error code or None), status (HTTP status or None)."
);

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add(
        "HealthImagingError",
        m.py().get_type::<HealthImagingError>(),
    )?;
    // Kept for start-up failures of the local HealthImaging.
    m.add("EngineError", m.py().get_type::<HealthImagingError>())
}

/// Builds the Python exception with its attributes set.
pub fn to_py_err(py: Python<'_>, e: &EngineError) -> PyErr {
    let err = HealthImagingError::new_err(e.message.clone());
    let value = err.value(py);
    let _ = value.setattr("type", e.kind.as_str());
    let _ = value.setattr("message", e.message.as_str());
    let _ = value.setattr("code", e.code.as_deref());
    let _ = value.setattr("status", e.status);
    err
}

impl From<crate::local::StartError> for PyErr {
    fn from(e: crate::local::StartError) -> Self {
        HealthImagingError::new_err(e.to_string())
    }
}
