//! The tool registry as Python sees it: `tools()` (names, descriptions, schemas, hints) and
//! one call path, `call(name, arguments_json, progress=None)`: the arguments cross into Rust
//! once as JSON text, the result comes back once as compact JSON text; for a tool that
//! answers images (`"images": true` in `tools()`), as `(json_text, [(mime_type, bytes), ...])`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};
use serde_json::Value;

use super::bridge::{progress_sink, spawn_run_with};
use super::convert::to_py;
use crate::tools::{instructions, registry, Ctx, Tool, Toolset};

/// Every tool: `{name, description, inputSchema, outputSchema?, annotations, toolset,
/// progress}`.
#[pyfunction(name = "tools")]
fn tool_list(py: Python<'_>) -> PyResult<Py<PyAny>> {
    let all = registry().tools().iter().map(Tool::describe).collect();
    to_py(py, &Value::Array(all))
}

/// Calls a tool; awaits to the result as compact JSON (with its images, for a tool that
/// answers some), or raises `HealthImagingError`.
/// Cancelling the awaiting task cancels the run. `progress(done, total, message)` is called
/// on the event loop, for tools that report progress.
#[pyfunction]
#[pyo3(signature = (name, arguments, progress = None))]
fn call<'py>(
    py: Python<'py>,
    name: &str,
    arguments: &str,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let progress = progress
        .filter(|p| !p.is_none())
        .map(|p| progress_sink(py, p))
        .transpose()?;
    super::runtime::ensure_jobs(py);
    let tool = registry().get(name);
    let run = tool.map_or("unknown", |t| t.name);
    let images = tool.is_some_and(|t| t.images);
    let work = crate::tools::call_answer(name, arguments, Ctx { progress });
    spawn_run_with(py, run, work, move |py, answer| {
        let text = PyString::new(py, &answer.json).into_any();
        if !images {
            return Ok(text.unbind());
        }
        let list = answer
            .images
            .iter()
            .map(|i| {
                PyTuple::new(
                    py,
                    [
                        PyString::new(py, i.mime_type).into_any(),
                        PyBytes::new(py, &i.data).into_any(),
                    ],
                )
            })
            .collect::<PyResult<Vec<_>>>()?;
        Ok(PyTuple::new(py, [text, PyList::new(py, list)?.into_any()])?
            .into_any()
            .unbind())
    })
}

fn toolsets(names: &[String]) -> PyResult<Vec<Toolset>> {
    names
        .iter()
        .map(|n| {
            Toolset::parse(n).ok_or_else(|| {
                let known: Vec<&str> = Toolset::ALL.iter().map(|t| t.as_str()).collect();
                PyValueError::new_err(format!(
                    "unknown toolset {n:?}; known: {}",
                    known.join(", ")
                ))
            })
        })
        .collect()
}

/// The server instructions for the given toolsets (names as in `tools()`).
#[pyfunction(name = "instructions")]
fn server_instructions(names: Vec<String>) -> PyResult<String> {
    Ok(instructions::instructions(&toolsets(&names)?))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let names: Vec<&str> = Toolset::ALL.iter().map(|t| t.as_str()).collect();
    m.add("TOOLSETS", names)?;
    m.add_function(wrap_pyfunction!(tool_list, m)?)?;
    m.add_function(wrap_pyfunction!(call, m)?)?;
    m.add_function(wrap_pyfunction!(server_instructions, m)?)
}
