//! The workflows as async Python functions. Destructive ones take `dry_run` and an optional
//! `progress(done, total)` callback, called on the caller's event loop.

use pyo3::prelude::*;

use super::bridge::{progress_sink, spawn, spawn_run};
use super::convert::{from_py, int_arg, to_py, IntArg};
use crate::engine::rate_limit;
use crate::workflows::cancel;
use crate::workflows::writes::Progress;
use crate::workflows::{destructive, reads};

fn sink(py: Python<'_>, progress: Option<Bound<'_, PyAny>>) -> PyResult<Option<Progress>> {
    progress
        .filter(|p| !p.is_none())
        .map(|p| progress_sink(py, p))
        .transpose()
}

type Awaitable<'py> = PyResult<Bound<'py, PyAny>>;

/// A workflow taking string arguments (and `max_results`), as an async Python function.
macro_rules! read_workflow {
    ($name:ident($($arg:ident),*) $(, $opt:ident)?) => {
        #[pyfunction]
        #[pyo3(signature = (*, datastore_id, $($arg,)* $($opt = None)?))]
        fn $name(py: Python<'_>, datastore_id: String, $($arg: String,)* $($opt: Option<IntArg>)?) -> Awaitable<'_> {
            $(let $opt = int_arg(py, stringify!($opt), $opt)?;)?
            spawn(py, reads::$name(datastore_id, $($arg,)* $($opt)?))
        }
    };
}

/// A destructive workflow taking string arguments, `dry_run` and `progress`.
macro_rules! destructive_workflow {
    ($name:ident($($arg:ident),*)) => {
        #[pyfunction]
        #[pyo3(signature = (*, datastore_id, $($arg,)* dry_run = false, progress = None))]
        fn $name<'py>(
            py: Python<'py>,
            datastore_id: String,
            $($arg: String,)*
            dry_run: bool,
            progress: Option<Bound<'py, PyAny>>,
        ) -> Awaitable<'py> {
            let progress = sink(py, progress)?;
            spawn_run(py, stringify!($name), destructive::$name(datastore_id, $($arg,)* dry_run, progress))
        }
    };
}

read_workflow!(search_by_patient_id(patient_id), max_results);
read_workflow!(search_by_study_uid(study_instance_uid), max_results);
read_workflow!(search_by_series_uid(series_instance_uid), max_results);
read_workflow!(get_patient_studies(patient_id), max_results);
read_workflow!(get_patient_series(patient_id), max_results);
read_workflow!(get_study_primary_image_sets(study_instance_uid));
read_workflow!(get_series_primary_image_set(series_instance_uid));
read_workflow!(get_patient_dicomweb_studies(patient_id));

destructive_workflow!(delete_patient_studies(patient_id));
destructive_workflow!(delete_study(study_instance_uid));
destructive_workflow!(delete_series_by_uid(series_instance_uid));
destructive_workflow!(delete_instance_in_study(
    study_instance_uid,
    sop_instance_uid
));
destructive_workflow!(delete_instance_in_series(
    series_instance_uid,
    sop_instance_uid
));

#[pyfunction]
#[pyo3(signature = (*, datastore_id, image_set_id, series_instance_uid, dry_run=false))]
fn remove_series_from_image_set(
    py: Python<'_>,
    datastore_id: String,
    image_set_id: String,
    series_instance_uid: String,
    dry_run: bool,
) -> Awaitable<'_> {
    spawn_run(
        py,
        "remove_series_from_image_set",
        destructive::remove_series_from_image_set(
            datastore_id,
            image_set_id,
            series_instance_uid,
            dry_run,
        ),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, image_set_id, series_instance_uid, sop_instance_uid, dry_run=false))]
fn remove_instance_from_image_set(
    py: Python<'_>,
    datastore_id: String,
    image_set_id: String,
    series_instance_uid: String,
    sop_instance_uid: String,
    dry_run: bool,
) -> Awaitable<'_> {
    spawn_run(
        py,
        "remove_instance_from_image_set",
        destructive::remove_instance_from_image_set(
            datastore_id,
            image_set_id,
            series_instance_uid,
            sop_instance_uid,
            dry_run,
        ),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, study_instance_uid, patient_updates, study_updates, dry_run=false, progress=None))]
#[allow(clippy::too_many_arguments)]
fn update_patient_study_metadata<'py>(
    py: Python<'py>,
    datastore_id: String,
    study_instance_uid: String,
    patient_updates: Bound<'py, PyAny>,
    study_updates: Bound<'py, PyAny>,
    dry_run: bool,
    progress: Option<Bound<'py, PyAny>>,
) -> Awaitable<'py> {
    let (p, s) = (from_py(&patient_updates)?, from_py(&study_updates)?);
    let progress = sink(py, progress)?;
    spawn_run(
        py,
        "update_patient_study_metadata",
        destructive::update_patient_study_metadata(
            datastore_id,
            study_instance_uid,
            p,
            s,
            dry_run,
            progress,
        ),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, patient_id, metadata_updates, dry_run=false, progress=None))]
fn bulk_update_patient_metadata<'py>(
    py: Python<'py>,
    datastore_id: String,
    patient_id: String,
    metadata_updates: Bound<'py, PyAny>,
    dry_run: bool,
    progress: Option<Bound<'py, PyAny>>,
) -> Awaitable<'py> {
    let updates = from_py(&metadata_updates)?;
    let progress = sink(py, progress)?;
    spawn_run(
        py,
        "bulk_update_patient_metadata",
        destructive::bulk_update_patient_metadata(
            datastore_id,
            patient_id,
            updates,
            dry_run,
            progress,
        ),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, criteria, max_deletions=None, dry_run=false, progress=None))]
fn bulk_delete_by_criteria<'py>(
    py: Python<'py>,
    datastore_id: String,
    criteria: Bound<'py, PyAny>,
    max_deletions: Option<IntArg>,
    dry_run: bool,
    progress: Option<Bound<'py, PyAny>>,
) -> Awaitable<'py> {
    let max_deletions = int_arg(py, "max_deletions", max_deletions)?;
    let criteria = from_py(&criteria)?;
    let progress = sink(py, progress)?;
    spawn_run(
        py,
        "bulk_delete_by_criteria",
        destructive::bulk_delete_by_criteria(
            datastore_id,
            criteria,
            max_deletions,
            dry_run,
            progress,
        ),
    )
}

/// The last destructive runs (cancelled ones included): tool, data store, counts per outcome
/// and image set IDs, newest last.
#[pyfunction]
fn recent_runs(py: Python<'_>) -> PyResult<Py<PyAny>> {
    to_py(py, &serde_json::Value::Array(cancel::recent_runs()))
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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(recent_runs, m)?)?;
    m.add_function(wrap_pyfunction!(rate_limits, m)?)?;
    m.add_function(wrap_pyfunction!(delete_patient_studies, m)?)?;
    m.add_function(wrap_pyfunction!(delete_study, m)?)?;
    m.add_function(wrap_pyfunction!(delete_series_by_uid, m)?)?;
    m.add_function(wrap_pyfunction!(delete_instance_in_study, m)?)?;
    m.add_function(wrap_pyfunction!(delete_instance_in_series, m)?)?;
    m.add_function(wrap_pyfunction!(remove_series_from_image_set, m)?)?;
    m.add_function(wrap_pyfunction!(remove_instance_from_image_set, m)?)?;
    m.add_function(wrap_pyfunction!(update_patient_study_metadata, m)?)?;
    m.add_function(wrap_pyfunction!(bulk_update_patient_metadata, m)?)?;
    m.add_function(wrap_pyfunction!(bulk_delete_by_criteria, m)?)?;
    m.add_function(wrap_pyfunction!(search_by_patient_id, m)?)?;
    m.add_function(wrap_pyfunction!(search_by_study_uid, m)?)?;
    m.add_function(wrap_pyfunction!(search_by_series_uid, m)?)?;
    m.add_function(wrap_pyfunction!(get_patient_studies, m)?)?;
    m.add_function(wrap_pyfunction!(get_patient_series, m)?)?;
    m.add_function(wrap_pyfunction!(get_study_primary_image_sets, m)?)?;
    m.add_function(wrap_pyfunction!(get_series_primary_image_set, m)?)?;
    m.add_function(wrap_pyfunction!(get_patient_dicomweb_studies, m)?)
}
