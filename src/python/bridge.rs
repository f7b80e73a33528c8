//! Rust futures as asyncio futures. The work runs on the shared tokio runtime without touching
//! Python; only its completion enters Python, and never after shutdown has begun: a naive bridge
//! that completes futures from worker threads while the interpreter finalizes crashes the
//! process (pyo3-async-runtimes issue #40). At exit, `shutdown` closes the gate, waiting for
//! completions already inside Python; later completions drop nothing Python-owned and leave.

use std::future::Future;
use std::sync::RwLock;

use pyo3::prelude::*;
use serde::Serialize;

use pyo3::types::PyCFunction;

use super::convert::to_py;
use super::errors::to_py_err;
use crate::engine::EngineResult;
use crate::workflows::cancel::{self, CancelToken, RunContext};

/// `true` once the interpreter has begun to exit.
static CLOSED: RwLock<bool> = RwLock::new(false);

/// Sets the asyncio future's outcome unless it was cancelled meanwhile (runs on the loop).
#[pyfunction]
fn _complete(future: &Bound<'_, PyAny>, ok: bool, value: &Bound<'_, PyAny>) -> PyResult<()> {
    if future.call_method0("done")?.is_truthy()? {
        return Ok(());
    }
    if ok {
        future.call_method1("set_result", (value,))?;
    } else {
        future.call_method1("set_exception", (value,))?;
    }
    Ok(())
}

/// Registered with `atexit`: closes the gate (with the GIL released, so completions in
/// progress can finish).
#[pyfunction]
fn _shutdown(py: Python<'_>) {
    py.detach(|| {
        let mut closed = CLOSED.write().unwrap_or_else(|e| e.into_inner());
        *closed = true;
    });
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_complete, m)?)?;
    let logger = m
        .py()
        .import("logging")?
        .call_method1("getLogger", ("awslabs.healthimaging_mcp_server.workflows",))?
        .unbind();
    cancel::set_log_sink(move |line| {
        let closed = CLOSED.read().unwrap_or_else(|e| e.into_inner());
        if !*closed {
            Python::attach(|py| {
                let _ = logger.call_method1(py, "info", ("%s", line));
            });
        }
    });
    let shutdown = wrap_pyfunction!(_shutdown, m)?;
    m.py()
        .import("atexit")?
        .call_method1("register", (&shutdown,))?;
    m.add_function(shutdown)
}

/// Runs `work` on the engine's runtime and returns an awaitable asyncio future.
pub fn spawn<'py, F, T>(py: Python<'py>, work: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = EngineResult<T>> + Send + 'static,
    T: Serialize,
{
    spawn_run(py, "engine", work)
}

/// `spawn` for the run `tool`: cancelling the asyncio future (a cancelled task, an MCP
/// cancellation, a client that went away) fires the run's cancellation token, so the workflow
/// starts nothing new (see `workflows::cancel`).
pub fn spawn_run<'py, F, T>(
    py: Python<'py>,
    tool: &'static str,
    work: F,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = EngineResult<T>> + Send + 'static,
    T: Serialize,
{
    spawn_run_with(py, tool, work, |py, v| {
        serde_json::to_value(&v)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))
            .and_then(|v| to_py(py, &v))
    })
}

/// [`spawn_run`] with the conversion of the result into Python given (for results that are
/// not plain JSON, such as bytes).
pub fn spawn_run_with<'py, F, T, C>(
    py: Python<'py>,
    tool: &'static str,
    work: F,
    convert: C,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = EngineResult<T>> + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let future = event_loop.call_method0("create_future")?;
    let token = CancelToken::new();
    let on_done = {
        let token = token.clone();
        PyCFunction::new_closure(py, None, None, move |args, _kwargs| -> PyResult<()> {
            if args.get_item(0)?.call_method0("cancelled")?.is_truthy()? {
                token.cancel();
            }
            Ok(())
        })?
    };
    future.call_method1("add_done_callback", (on_done,))?;
    let complete = wrap_pyfunction!(_complete, py)?.into_any().unbind();
    let (future_ref, loop_ref) = (future.clone().unbind(), event_loop.unbind());
    let run = RunContext { tool, token };
    pyo3_async_runtimes::tokio::get_runtime().spawn(async move {
        let result = cancel::scoped(run, work).await;
        let closed = CLOSED.read().unwrap_or_else(|e| e.into_inner());
        if *closed {
            // The interpreter is going away: touching (or even releasing) Python objects now
            // is what crashes. Leak them; the process is exiting.
            std::mem::forget((future_ref, loop_ref, complete));
            return;
        }
        Python::attach(|py| {
            let (ok, value) = match result {
                Ok(v) => match convert(py, v) {
                    Ok(obj) => (true, obj),
                    Err(e) => (false, e.into_value(py).into_any()),
                },
                Err(e) => (false, to_py_err(py, &e).into_value(py).into_any()),
            };
            // A closed loop (the caller went away) raises; nothing is waiting then.
            let _ = loop_ref.call_method1(
                py,
                "call_soon_threadsafe",
                (complete, future_ref, ok, value),
            );
        });
        drop(closed);
    });
    Ok(future)
}

/// A progress callback for the engine: `(done, total, message)`, or `(done, total)` for a
/// callback that takes two arguments; each report is scheduled on the caller's event loop (so
/// the callback runs on the loop thread), and dropped after shutdown began.
pub fn progress_sink(
    py: Python<'_>,
    callback: Bound<'_, PyAny>,
) -> PyResult<crate::workflows::writes::Progress> {
    let event_loop = py
        .import("asyncio")?
        .call_method0("get_running_loop")?
        .unbind();
    let with_message = py
        .import("inspect")?
        .call_method1("signature", (&callback,))
        .and_then(|sig| sig.call_method1("bind", (0, 0, "")))
        .is_ok();
    let callback = callback.unbind();
    Ok(std::sync::Arc::new(
        move |done: usize, total: usize, message: &str| {
            let closed = CLOSED.read().unwrap_or_else(|e| e.into_inner());
            if *closed {
                return;
            }
            Python::attach(|py| {
                let cb = callback.clone_ref(py);
                let _ = if with_message {
                    event_loop.call_method1(py, "call_soon_threadsafe", (cb, done, total, message))
                } else {
                    event_loop.call_method1(py, "call_soon_threadsafe", (cb, done, total))
                };
            });
        },
    ))
}
