//! The workflows as async Python functions. Destructive ones take `dry_run` and an optional
//! `progress(done, total)` callback, called on the caller's event loop.

use pyo3::prelude::*;

use super::bridge::{progress_sink, spawn};
use super::convert::from_py;
use crate::workflows::writes::Progress;
use crate::workflows::{destructive, reads};

fn sink(py: Python<'_>, progress: Option<Bound<'_, PyAny>>) -> PyResult<Option<Progress>> {
    progress
        .filter(|p| !p.is_none())
        .map(|p| progress_sink(py, p))
        .transpose()
}

type Awaitable<'py> = PyResult<Bound<'py, PyAny>>;

#[pyfunction]
#[pyo3(signature = (*, datastore_id, patient_id, max_results=None))]
fn search_by_patient_id(
    py: Python<'_>,
    datastore_id: String,
    patient_id: String,
    max_results: Option<i64>,
) -> Awaitable<'_> {
    spawn(
        py,
        reads::search_by_patient_id(datastore_id, patient_id, max_results),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, study_instance_uid, max_results=None))]
fn search_by_study_uid(
    py: Python<'_>,
    datastore_id: String,
    study_instance_uid: String,
    max_results: Option<i64>,
) -> Awaitable<'_> {
    spawn(
        py,
        reads::search_by_study_uid(datastore_id, study_instance_uid, max_results),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, series_instance_uid, max_results=None))]
fn search_by_series_uid(
    py: Python<'_>,
    datastore_id: String,
    series_instance_uid: String,
    max_results: Option<i64>,
) -> Awaitable<'_> {
    spawn(
        py,
        reads::search_by_series_uid(datastore_id, series_instance_uid, max_results),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, patient_id, max_results=None))]
fn get_patient_studies(
    py: Python<'_>,
    datastore_id: String,
    patient_id: String,
    max_results: Option<i64>,
) -> Awaitable<'_> {
    spawn(
        py,
        reads::get_patient_studies(datastore_id, patient_id, max_results),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, patient_id, max_results=None))]
fn get_patient_series(
    py: Python<'_>,
    datastore_id: String,
    patient_id: String,
    max_results: Option<i64>,
) -> Awaitable<'_> {
    spawn(
        py,
        reads::get_patient_series(datastore_id, patient_id, max_results),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, study_instance_uid))]
fn get_study_primary_image_sets(
    py: Python<'_>,
    datastore_id: String,
    study_instance_uid: String,
) -> Awaitable<'_> {
    spawn(
        py,
        reads::get_study_primary_image_sets(datastore_id, study_instance_uid),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, series_instance_uid))]
fn get_series_primary_image_set(
    py: Python<'_>,
    datastore_id: String,
    series_instance_uid: String,
) -> Awaitable<'_> {
    spawn(
        py,
        reads::get_series_primary_image_set(datastore_id, series_instance_uid),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, patient_id))]
fn get_patient_dicomweb_studies(
    py: Python<'_>,
    datastore_id: String,
    patient_id: String,
) -> Awaitable<'_> {
    spawn(
        py,
        reads::get_patient_dicomweb_studies(datastore_id, patient_id),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, patient_id, dry_run=false, progress=None))]
fn delete_patient_studies<'py>(
    py: Python<'py>,
    datastore_id: String,
    patient_id: String,
    dry_run: bool,
    progress: Option<Bound<'py, PyAny>>,
) -> Awaitable<'py> {
    let progress = sink(py, progress)?;
    spawn(
        py,
        destructive::delete_patient_studies(datastore_id, patient_id, dry_run, progress),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, study_instance_uid, dry_run=false, progress=None))]
fn delete_study<'py>(
    py: Python<'py>,
    datastore_id: String,
    study_instance_uid: String,
    dry_run: bool,
    progress: Option<Bound<'py, PyAny>>,
) -> Awaitable<'py> {
    let progress = sink(py, progress)?;
    spawn(
        py,
        destructive::delete_study(datastore_id, study_instance_uid, dry_run, progress),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, series_instance_uid, dry_run=false, progress=None))]
fn delete_series_by_uid<'py>(
    py: Python<'py>,
    datastore_id: String,
    series_instance_uid: String,
    dry_run: bool,
    progress: Option<Bound<'py, PyAny>>,
) -> Awaitable<'py> {
    let progress = sink(py, progress)?;
    spawn(
        py,
        destructive::delete_series_by_uid(datastore_id, series_instance_uid, dry_run, progress),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, study_instance_uid, sop_instance_uid, dry_run=false, progress=None))]
fn delete_instance_in_study<'py>(
    py: Python<'py>,
    datastore_id: String,
    study_instance_uid: String,
    sop_instance_uid: String,
    dry_run: bool,
    progress: Option<Bound<'py, PyAny>>,
) -> Awaitable<'py> {
    let progress = sink(py, progress)?;
    spawn(
        py,
        destructive::delete_instance_in_study(
            datastore_id,
            study_instance_uid,
            sop_instance_uid,
            dry_run,
            progress,
        ),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, series_instance_uid, sop_instance_uid, dry_run=false, progress=None))]
fn delete_instance_in_series<'py>(
    py: Python<'py>,
    datastore_id: String,
    series_instance_uid: String,
    sop_instance_uid: String,
    dry_run: bool,
    progress: Option<Bound<'py, PyAny>>,
) -> Awaitable<'py> {
    let progress = sink(py, progress)?;
    spawn(
        py,
        destructive::delete_instance_in_series(
            datastore_id,
            series_instance_uid,
            sop_instance_uid,
            dry_run,
            progress,
        ),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, image_set_id, series_instance_uid, dry_run=false))]
fn remove_series_from_image_set(
    py: Python<'_>,
    datastore_id: String,
    image_set_id: String,
    series_instance_uid: String,
    dry_run: bool,
) -> Awaitable<'_> {
    spawn(
        py,
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
    spawn(
        py,
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
    spawn(
        py,
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
    spawn(
        py,
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
    max_deletions: Option<i64>,
    dry_run: bool,
    progress: Option<Bound<'py, PyAny>>,
) -> Awaitable<'py> {
    let criteria = from_py(&criteria)?;
    let progress = sink(py, progress)?;
    spawn(
        py,
        destructive::bulk_delete_by_criteria(
            datastore_id,
            criteria,
            max_deletions,
            dry_run,
            progress,
        ),
    )
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
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
