//! The tool registry as Python sees it: `tools()` (names, descriptions, schemas, hints) and
//! one call path, `call(name, arguments_json, progress=None)`: the arguments cross into Rust
//! once as JSON text, the result comes back once as compact JSON text.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use serde_json::Value;

use super::bridge::{progress_sink, spawn_run};
use super::convert::to_py;
use crate::tools::{instructions, registry, Ctx, Tool, Toolset};

/// Every tool: `{name, description, inputSchema, outputSchema?, annotations, toolset,
/// progress}`.
#[pyfunction(name = "tools")]
fn tool_list(py: Python<'_>) -> PyResult<Py<PyAny>> {
    let all = registry().tools().iter().map(Tool::describe).collect();
    to_py(py, &Value::Array(all))
}

/// Calls a tool; awaits to the result as compact JSON, or raises `HealthImagingError`.
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
    let run = registry().get(name).map_or("unknown", |t| t.name);
    spawn_run(
        py,
        run,
        crate::tools::call(name, arguments, Ctx { progress }),
    )
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
