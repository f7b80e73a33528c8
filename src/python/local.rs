//! `LocalHealthImaging`: start and stop the embedded local HealthImaging from Python.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::errors::HealthImagingError as EngineError;
use crate::local::faults::FaultPlan;
use crate::local::quotas::QuotaMode;
use crate::local::seed;
use crate::local::{LocalConfig, LocalServer};

fn quota_mode(name: Option<&str>, scale: f64) -> PyResult<QuotaMode> {
    QuotaMode::parse(name.unwrap_or("off"), scale).map_err(|e| EngineError::new_err(e.to_string()))
}

/// A rules mapping (anything `json.dumps` takes) → the fault plan; `None` is no faults.
fn fault_plan(rules: Option<&Bound<'_, PyAny>>) -> PyResult<FaultPlan> {
    let Some(rules) = rules.filter(|r| !r.is_none()) else {
        return Ok(FaultPlan::default());
    };
    let text: String = rules
        .py()
        .import("json")?
        .call_method1("dumps", (rules,))?
        .extract()?;
    FaultPlan::from_json(&text).map_err(|e| EngineError::new_err(e.to_string()))
}

#[pyclass(module = "awslabs.healthimaging_mcp_server._engine", frozen)]
pub struct LocalHealthImaging {
    server: Mutex<Option<LocalServer>>,
    endpoint_url: String,
    region: String,
    s3_root: PathBuf,
}

impl LocalHealthImaging {
    fn with_server<T>(&self, f: impl FnOnce(&LocalServer) -> PyResult<T>) -> PyResult<T> {
        let guard = self.server.lock().expect("server lock");
        match guard.as_ref() {
            Some(s) => f(s),
            None => Err(EngineError::new_err(
                "the local HealthImaging has been stopped",
            )),
        }
    }
}

#[pymethods]
impl LocalHealthImaging {
    #[new]
    #[pyo3(signature = (
        *, port = 0, host = "127.0.0.1".to_string(), s3_root = None, data_dir = None,
        access_key_id = "test".to_string(), secret_access_key = "test".to_string(),
        region = "us-east-1".to_string(), account_id = "123456789012".to_string(),
        throttle_rate = 0.0, transition_delay = 0.0, latency_ms = 0.0,
        allow_hosts = Vec::new(), idle_timeout = 60.0,
        quotas = None, quota_scale = 1.0, faults = None,
        write_delay_ms = 0.0, write_fail_rate = 0.0, stow_max_bytes = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        port: u16,
        host: String,
        s3_root: Option<PathBuf>,
        data_dir: Option<PathBuf>,
        access_key_id: String,
        secret_access_key: String,
        region: String,
        account_id: String,
        throttle_rate: f64,
        transition_delay: f64,
        latency_ms: f64,
        allow_hosts: Vec<String>,
        idle_timeout: f64,
        quotas: Option<String>,
        quota_scale: f64,
        faults: Option<Bound<'_, PyAny>>,
        write_delay_ms: f64,
        write_fail_rate: f64,
        stow_max_bytes: Option<usize>,
    ) -> PyResult<Self> {
        let config = LocalConfig {
            host,
            port,
            s3_root,
            data_dir,
            credentials: vec![(access_key_id, secret_access_key)],
            region: region.clone(),
            account_id,
            throttle_rate,
            transition_delay,
            latency: std::time::Duration::from_secs_f64(latency_ms.max(0.0) / 1000.0),
            allowed_hosts: allow_hosts,
            write_delay: std::time::Duration::try_from_secs_f64(write_delay_ms / 1000.0).map_err(
                |_| EngineError::new_err("write_delay_ms must be a non-negative number"),
            )?,
            write_fail_rate,
            idle_timeout: std::time::Duration::try_from_secs_f64(idle_timeout)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    EngineError::new_err("idle_timeout must be a positive number of seconds")
                })?,
            quotas: quota_mode(quotas.as_deref(), quota_scale)?,
            faults: fault_plan(faults.as_ref())?,
            stow_max_body: stow_max_bytes
                .unwrap_or(crate::local::front_door::DEFAULT_STOW_MAX_BODY),
        };
        crate::local::log::install();
        let server = py.detach(|| LocalServer::start(config))?;
        Ok(Self {
            endpoint_url: server.endpoint_url(),
            s3_root: server.app.s3_root.clone(),
            server: Mutex::new(Some(server)),
            region,
        })
    }

    /// Writes a data folder (not in use) holding one data store of `image_sets` generated image
    /// sets with one frame of `frame_bytes` each, `sets_per_patient` per patient ID: a fixture
    /// for benchmarks at scale. Returns `{"datastore_id", "first_created_at"}`; image set `n`
    /// was created at `first_created_at + n` seconds.
    #[staticmethod]
    #[pyo3(signature = (data_dir, image_sets, *, frame_bytes = 8192, sets_per_patient = 10))]
    fn seed_synthetic<'py>(
        py: Python<'py>,
        data_dir: PathBuf,
        image_sets: usize,
        frame_bytes: usize,
        sets_per_patient: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        let spec = seed::SyntheticSpec {
            image_sets,
            sets_per_patient,
            frame_bytes,
        };
        let report = py
            .detach(|| seed::synthetic(&data_dir, &spec))
            .map_err(|e| EngineError::new_err(e.to_string()))?;
        let d = PyDict::new(py);
        d.set_item("datastore_id", report.datastore_id)?;
        d.set_item("first_created_at", report.first_created_at)?;
        Ok(d)
    }

    /// `http://127.0.0.1:PORT`
    #[getter]
    fn endpoint_url(&self) -> &str {
        &self.endpoint_url
    }

    #[getter]
    fn region(&self) -> &str {
        &self.region
    }

    /// The folder that stands in for S3 (`s3://bucket/key` is `<s3_root>/bucket/key`).
    #[getter]
    fn s3_root(&self) -> PathBuf {
        self.s3_root.clone()
    }

    /// Imports the samples in `samples_dir` into the `healthimaging-local-samples` data store
    /// (reused if it exists). Returns `{"datastore_id", "job_id", "image_sets"}`.
    fn seed<'py>(&self, py: Python<'py>, samples_dir: PathBuf) -> PyResult<Bound<'py, PyDict>> {
        let report = self.with_server(|s| {
            let app = s.app.clone();
            py.detach(move || seed::seed(&app, &samples_dir))
                .map_err(|e| EngineError::new_err(e.message))
        })?;
        let d = PyDict::new(py);
        d.set_item("datastore_id", report.datastore_id)?;
        d.set_item("job_id", report.job_id)?;
        d.set_item("image_sets", report.image_sets)?;
        Ok(d)
    }

    /// Request counters: `requests`, `in_flight`, `peak_in_flight`, `throttled` (by
    /// `throttle_rate`), `conflicts`, `last_user_agent`, and `operations`: per operation, how many
    /// requests were passed on (`ok`), `throttled` by the quotas, `faulted` (injected 500/503),
    /// `dropped`, and `spiked` (given a latency spike).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        self.with_server(|s| {
            let st = &s.app.stats;
            let d = PyDict::new(py);
            d.set_item("requests", st.requests.load(Ordering::Relaxed))?;
            d.set_item("in_flight", st.in_flight.load(Ordering::Relaxed))?;
            d.set_item("peak_in_flight", st.peak_in_flight.load(Ordering::Relaxed))?;
            d.set_item("throttled", st.throttled.load(Ordering::Relaxed))?;
            d.set_item("conflicts", st.conflicts.load(Ordering::Relaxed))?;
            d.set_item(
                "last_user_agent",
                st.last_user_agent.lock().expect("stats lock").clone(),
            )?;
            let ops = PyDict::new(py);
            for (op, c) in st.operations.snapshot() {
                let counts = PyDict::new(py);
                counts.set_item("ok", c.ok)?;
                counts.set_item("throttled", c.throttled)?;
                counts.set_item("faulted", c.faulted)?;
                counts.set_item("dropped", c.dropped)?;
                counts.set_item("spiked", c.spiked)?;
                ops.set_item(op, counts)?;
            }
            d.set_item("operations", ops)?;
            Ok(d)
        })
    }

    /// Enforces a throttle table from now on: `"aws"` (HealthImaging's published per-operation
    /// defaults, rates multiplied by `scale`) or `None`/`"off"`. Buckets start full.
    #[pyo3(signature = (quotas, scale = 1.0))]
    fn set_quotas(&self, quotas: Option<String>, scale: f64) -> PyResult<()> {
        let mode = quota_mode(quotas.as_deref(), scale)?;
        self.with_server(|s| {
            s.app.quotas.set(mode);
            Ok(())
        })
    }

    /// Replaces the injected faults: `{"*": rule, "<Operation>": rule}`, where a rule has
    /// `internal_error`, `unavailable`, `drop` (shares), `latency_ms`, `latency_max_ms`,
    /// `spike_share`, `spike_ms`, `slow_body_ms`. `None` or `{}` removes them.
    fn set_faults(&self, faults: Option<Bound<'_, PyAny>>) -> PyResult<()> {
        let plan = fault_plan(faults.as_ref())?;
        self.with_server(|s| {
            s.app.faults.set(plan);
            Ok(())
        })
    }

    /// The injected faults in force, as given to `set_faults`.
    fn faults<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let text = self.with_server(|s| {
            serde_json::to_string(&s.app.faults.plan())
                .map_err(|e| EngineError::new_err(e.to_string()))
        })?;
        py.import("json")?.call_method1("loads", (text,))
    }

    /// Resets `peak_in_flight` to the current number in flight.
    fn reset_peak(&self) -> PyResult<()> {
        self.with_server(|s| {
            let st = &s.app.stats;
            st.peak_in_flight
                .store(st.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
            Ok(())
        })
    }

    /// Stops the server and writes state (when a data directory was given). Idempotent.
    fn stop(&self, py: Python<'_>) {
        let server = self.server.lock().expect("server lock").take();
        if let Some(mut s) = server {
            py.detach(move || s.stop());
        }
    }

    #[getter]
    fn running(&self) -> bool {
        self.server.lock().expect("server lock").is_some()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: Option<Bound<'_, PyAny>>,
        _exc: Option<Bound<'_, PyAny>>,
        _tb: Option<Bound<'_, PyAny>>,
    ) -> bool {
        self.stop(py);
        false
    }

    fn __repr__(&self) -> String {
        format!("LocalHealthImaging(endpoint_url={:?})", self.endpoint_url)
    }
}
