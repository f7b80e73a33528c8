//! The read workflows as async Python functions.

use pyo3::prelude::*;

use super::bridge::spawn;
use crate::workflows::reads;

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
#[pyo3(signature = (*, datastore_id, patient_id))]
fn get_patient_studies(py: Python<'_>, datastore_id: String, patient_id: String) -> Awaitable<'_> {
    spawn(py, reads::get_patient_studies(datastore_id, patient_id))
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, patient_id))]
fn get_patient_series(py: Python<'_>, datastore_id: String, patient_id: String) -> Awaitable<'_> {
    spawn(py, reads::get_patient_series(datastore_id, patient_id))
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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(search_by_patient_id, m)?)?;
    m.add_function(wrap_pyfunction!(search_by_study_uid, m)?)?;
    m.add_function(wrap_pyfunction!(search_by_series_uid, m)?)?;
    m.add_function(wrap_pyfunction!(get_patient_studies, m)?)?;
    m.add_function(wrap_pyfunction!(get_patient_series, m)?)?;
    m.add_function(wrap_pyfunction!(get_study_primary_image_sets, m)?)?;
    m.add_function(wrap_pyfunction!(get_series_primary_image_set, m)?)?;
    m.add_function(wrap_pyfunction!(get_patient_dicomweb_studies, m)?)
}
