//! JSON values across the boundary: engine results become plain dicts/lists, dict parameters
//! become `serde_json::Value`.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

use super::errors::to_py_err;
use crate::engine::error::{excerpt, EngineError};

/// An integer argument (`max_results`, `max_deletions`). Any Python int is taken here, so that
/// one beyond 64 bits is answered as the caller's mistake (a `validation_error` naming the
/// parameter) instead of pyo3's OverflowError, which reaches the client as a server fault.
pub struct IntArg(Result<i64, String>);

impl<'a, 'py> FromPyObject<'a, 'py> for IntArg {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if !obj.is_instance_of::<PyInt>() || obj.is_instance_of::<PyBool>() {
            return Err(PyTypeError::new_err("an integer is required"));
        }
        Ok(Self(obj.extract::<i64>().map_err(|_| {
            obj.str()
                .map(|s| s.to_string())
                .unwrap_or_else(|_| "the integer".into())
        })))
    }
}

/// The engine's value of an optional integer argument, or a validation error naming it.
pub fn int_arg(py: Python<'_>, param: &str, value: Option<IntArg>) -> PyResult<Option<i64>> {
    match value.map(|v| v.0) {
        None => Ok(None),
        Some(Ok(n)) => Ok(Some(n)),
        Some(Err(text)) => Err(to_py_err(
            py,
            &EngineError::invalid(
                param,
                format!("{} is out of range (beyond 64 bits)", excerpt(&text)),
            ),
        )),
    }
}

pub fn to_py(py: Python<'_>, v: &Value) -> PyResult<Py<PyAny>> {
    Ok(match v {
        Value::Null => py.None(),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any().unbind(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any().unbind(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any().unbind(),
            _ => n
                .as_f64()
                .unwrap_or(f64::NAN)
                .into_pyobject(py)?
                .into_any()
                .unbind(),
        },
        Value::String(s) => PyString::new(py, s).into_any().unbind(),
        Value::Array(a) => {
            let items = a
                .iter()
                .map(|x| to_py(py, x))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any().unbind()
        }
        Value::Object(o) => {
            let d = PyDict::new(py);
            for (k, x) in o {
                d.set_item(k, to_py(py, x)?)?;
            }
            d.into_any().unbind()
        }
    })
}

pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    if obj.is_none() {
        Ok(Value::Null)
    } else if let Ok(b) = obj.cast::<PyBool>() {
        Ok(Value::Bool(b.is_true()))
    } else if obj.is_instance_of::<PyInt>() {
        let i: i128 = obj.extract()?;
        i64::try_from(i)
            .map(Value::from)
            .or_else(|_| u64::try_from(i).map(Value::from))
            .map_err(|_| PyTypeError::new_err("integer out of range"))
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| PyTypeError::new_err("NaN and infinity are not JSON"))
    } else if let Ok(s) = obj.cast::<PyString>() {
        Ok(Value::String(s.to_str()?.to_owned()))
    } else if let Ok(d) = obj.cast::<PyDict>() {
        let mut m = Map::new();
        for (k, v) in d.iter() {
            let key = k
                .cast::<PyString>()
                .map_err(|_| PyTypeError::new_err("dict keys must be strings"))?
                .to_str()?
                .to_owned();
            m.insert(key, from_py(&v)?);
        }
        Ok(Value::Object(m))
    } else if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        obj.try_iter()?
            .map(|x| from_py(&x?))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array)
    } else {
        Err(PyTypeError::new_err(format!(
            "cannot pass a {} as JSON",
            obj.get_type().name()?
        )))
    }
}
