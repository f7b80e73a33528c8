//! The one exception type Python sees from the engine, and the single conversion into it.

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    _engine,
    EngineError,
    PyException,
    "Raised by the engine; `args[0]` is the message."
);

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("EngineError", m.py().get_type::<EngineError>())
}

impl From<crate::local::StartError> for PyErr {
    fn from(e: crate::local::StartError) -> Self {
        EngineError::new_err(e.to_string())
    }
}
