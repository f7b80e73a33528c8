//! The engine's process-wide state, for notebooks and tests: the shared client, the last
//! destructive runs, the client-side rate limits.

use pyo3::prelude::*;

use super::bridge::spawn;
use super::convert::to_py;
use crate::engine::{self, rate_limit};
use crate::workflows::cancel;

/// Forgets the shared client; the next call builds one from the current environment.
#[pyfunction]
fn reset_client(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    spawn(py, async {
        engine::reset_client().await;
        Ok(())
    })
}

/// The last destructive runs (cancelled ones included): tool, data store, counts per outcome
/// and image set IDs, newest last.
#[pyfunction]
fn recent_runs(py: Python<'_>) -> PyResult<Py<PyAny>> {
    let runs = serde_json::to_value(cancel::recent_runs())
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    to_py(py, &runs)
}

/// The client-side rate limit now in force per operation: `{operation: {"rate": tps,
/// "burst": n}}` (empty before the first request, and against a custom endpoint unless set).
#[pyfunction]
fn rate_limits(py: Python<'_>) -> PyResult<Py<PyAny>> {
    let table: serde_json::Map<String, serde_json::Value> = rate_limit::current()
        .map(|l| l.snapshot())
        .unwrap_or_default()
        .into_iter()
        .map(|(op, l)| (op, serde_json::json!({"rate": l.rate, "burst": l.burst})))
        .collect();
    to_py(py, &serde_json::Value::Object(table))
}

/// Starts the job runtime once: registers the kinds that resume and loads the records of the
/// state folder (`state_dir`, else HEALTHIMAGING_MCP_STATE_DIR, XDG_STATE_HOME or
/// ~/.local/state). Answers the folder in use (`None`: records stay in memory). Later calls
/// answer the folder of the first.
#[pyfunction]
#[pyo3(signature = (state_dir = None))]
pub fn init_jobs(
    py: Python<'_>,
    state_dir: Option<std::path::PathBuf>,
) -> PyResult<Option<String>> {
    let dir = py.detach(|| {
        let _entered = pyo3_async_runtimes::tokio::get_runtime().enter();
        crate::tools::jobs::start_runtime(state_dir.as_deref())
    });
    dir.map(|d| d.map(|d| d.display().to_string()))
        .map_err(|e| super::errors::to_py_err(py, &e))
}

/// The runtime started on first use by callers that did not start it (the notebook API); a
/// folder that cannot be used leaves records in memory, with a warning.
pub fn ensure_jobs(py: Python<'_>) {
    static STARTED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    STARTED.get_or_init(|| {
        if let Err(e) = init_jobs(py, None) {
            tracing::warn!(target: "healthimaging_mcp::jobs", "job records stay in memory: {e}");
        }
    });
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(init_jobs, m)?)?;
    m.add_function(wrap_pyfunction!(reset_client, m)?)?;
    m.add_function(wrap_pyfunction!(recent_runs, m)?)?;
    m.add_function(wrap_pyfunction!(rate_limits, m)?)
}
