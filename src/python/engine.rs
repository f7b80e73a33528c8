//! The 18 HealthImaging API operations as async Python functions (keyword arguments in,
//! plain dicts out, `HealthImagingError` on failure).

use std::collections::HashMap;

use pyo3::prelude::*;

use super::bridge::spawn;
use super::convert::{from_py, int_arg, IntArg};
use crate::engine::{self, copy, datastores, frames, image_sets, imports, metadata, tags, Page};

type Awaitable<'py> = PyResult<Bound<'py, PyAny>>;

fn json(obj: &Bound<'_, PyAny>) -> PyResult<serde_json::Value> {
    from_py(obj)
}

fn page(py: Python<'_>, max_results: Option<IntArg>, next_token: Option<String>) -> PyResult<Page> {
    Ok(Page {
        max_results: int_arg(py, "max_results", max_results)?,
        next_token,
    })
}

#[pyfunction]
#[pyo3(signature = (*, datastore_name, kms_key_arn=None, tags=None, lossless_storage_format=None, lambda_authorizer_arn=None, client_token=None))]
fn create_datastore<'py>(
    py: Python<'py>,
    datastore_name: String,
    kms_key_arn: Option<String>,
    tags: Option<HashMap<String, String>>,
    lossless_storage_format: Option<String>,
    lambda_authorizer_arn: Option<String>,
    client_token: Option<String>,
) -> Awaitable<'py> {
    spawn(
        py,
        datastores::create_datastore(datastores::NewDatastore {
            datastore_name,
            kms_key_arn,
            tags,
            lossless_storage_format,
            lambda_authorizer_arn,
            client_token,
        }),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id))]
fn get_datastore(py: Python<'_>, datastore_id: String) -> Awaitable<'_> {
    spawn(py, datastores::get_datastore(datastore_id))
}

#[pyfunction]
#[pyo3(signature = (*, datastore_status=None, max_results=None, next_token=None))]
fn list_datastores(
    py: Python<'_>,
    datastore_status: Option<String>,
    max_results: Option<IntArg>,
    next_token: Option<String>,
) -> Awaitable<'_> {
    spawn(
        py,
        datastores::list_datastores(datastore_status, page(py, max_results, next_token)?),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id))]
fn delete_datastore(py: Python<'_>, datastore_id: String) -> Awaitable<'_> {
    spawn(py, datastores::delete_datastore(datastore_id))
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, data_access_role_arn, input_s3_uri, output_s3_uri=None, job_name=None, client_token=None, input_owner_account_id=None))]
#[allow(clippy::too_many_arguments)]
fn start_dicom_import_job<'py>(
    py: Python<'py>,
    datastore_id: String,
    data_access_role_arn: String,
    input_s3_uri: String,
    output_s3_uri: Option<String>,
    job_name: Option<String>,
    client_token: Option<String>,
    input_owner_account_id: Option<String>,
) -> Awaitable<'py> {
    spawn(
        py,
        imports::start_dicom_import_job(imports::NewImportJob {
            datastore_id,
            data_access_role_arn,
            input_s3_uri,
            output_s3_uri,
            job_name,
            client_token,
            input_owner_account_id,
        }),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, job_id))]
fn get_dicom_import_job(py: Python<'_>, datastore_id: String, job_id: String) -> Awaitable<'_> {
    spawn(py, imports::get_dicom_import_job(datastore_id, job_id))
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, job_status=None, max_results=None, next_token=None))]
fn list_dicom_import_jobs(
    py: Python<'_>,
    datastore_id: String,
    job_status: Option<String>,
    max_results: Option<IntArg>,
    next_token: Option<String>,
) -> Awaitable<'_> {
    spawn(
        py,
        imports::list_dicom_import_jobs(
            datastore_id,
            job_status,
            page(py, max_results, next_token)?,
        ),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, search_criteria=None, max_results=None, next_token=None))]
fn search_image_sets<'py>(
    py: Python<'py>,
    datastore_id: String,
    search_criteria: Option<Bound<'py, PyAny>>,
    max_results: Option<IntArg>,
    next_token: Option<String>,
) -> Awaitable<'py> {
    let criteria = search_criteria
        .filter(|c| !c.is_none())
        .map(|c| json(&c))
        .transpose()?;
    spawn(
        py,
        image_sets::search_image_sets(datastore_id, criteria, page(py, max_results, next_token)?),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, image_set_id, version_id=None))]
fn get_image_set(
    py: Python<'_>,
    datastore_id: String,
    image_set_id: String,
    version_id: Option<String>,
) -> Awaitable<'_> {
    spawn(
        py,
        image_sets::get_image_set(datastore_id, image_set_id, version_id),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, image_set_id, version_id=None))]
fn get_image_set_metadata(
    py: Python<'_>,
    datastore_id: String,
    image_set_id: String,
    version_id: Option<String>,
) -> Awaitable<'_> {
    spawn(
        py,
        metadata::get_image_set_metadata(datastore_id, image_set_id, version_id),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, image_set_id, max_results=None, next_token=None))]
fn list_image_set_versions(
    py: Python<'_>,
    datastore_id: String,
    image_set_id: String,
    max_results: Option<IntArg>,
    next_token: Option<String>,
) -> Awaitable<'_> {
    spawn(
        py,
        image_sets::list_image_set_versions(
            datastore_id,
            image_set_id,
            page(py, max_results, next_token)?,
        ),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, image_set_id, latest_version_id, update_image_set_metadata_updates, force=None, include_study_image_sets=None))]
fn update_image_set_metadata<'py>(
    py: Python<'py>,
    datastore_id: String,
    image_set_id: String,
    latest_version_id: String,
    update_image_set_metadata_updates: Bound<'py, PyAny>,
    force: Option<bool>,
    include_study_image_sets: Option<bool>,
) -> Awaitable<'py> {
    let updates = json(&update_image_set_metadata_updates)?;
    spawn(
        py,
        metadata::update_image_set_metadata(metadata::MetadataUpdate {
            datastore_id,
            image_set_id,
            latest_version_id,
            updates,
            force,
            include_study_image_sets,
        }),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, image_set_id, version_id=None))]
fn delete_image_set(
    py: Python<'_>,
    datastore_id: String,
    image_set_id: String,
    version_id: Option<String>,
) -> Awaitable<'_> {
    spawn(
        py,
        image_sets::delete_image_set(datastore_id, image_set_id, version_id),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, source_image_set_id, copy_image_set_information, source_datastore_id=None, force=None, promote_to_primary=None))]
fn copy_image_set<'py>(
    py: Python<'py>,
    datastore_id: String,
    source_image_set_id: String,
    copy_image_set_information: Bound<'py, PyAny>,
    source_datastore_id: Option<String>,
    force: Option<bool>,
    promote_to_primary: Option<bool>,
) -> Awaitable<'py> {
    let info = json(&copy_image_set_information)?;
    spawn(
        py,
        copy::copy_image_set(copy::CopyRequest {
            datastore_id,
            source_image_set_id,
            copy_image_set_information: info,
            source_datastore_id,
            force,
            promote_to_primary,
        }),
    )
}

#[pyfunction]
#[pyo3(signature = (*, datastore_id, image_set_id, image_frame_information))]
fn get_image_frame<'py>(
    py: Python<'py>,
    datastore_id: String,
    image_set_id: String,
    image_frame_information: Bound<'py, PyAny>,
) -> Awaitable<'py> {
    let info = json(&image_frame_information)?;
    spawn(
        py,
        frames::get_image_frame(datastore_id, image_set_id, info),
    )
}

#[pyfunction]
#[pyo3(signature = (*, resource_arn))]
fn list_tags_for_resource(py: Python<'_>, resource_arn: String) -> Awaitable<'_> {
    spawn(py, tags::list_tags_for_resource(resource_arn))
}

#[pyfunction]
#[pyo3(signature = (*, resource_arn, tags))]
fn tag_resource(
    py: Python<'_>,
    resource_arn: String,
    tags: HashMap<String, String>,
) -> Awaitable<'_> {
    spawn(py, tags::tag_resource(resource_arn, tags))
}

#[pyfunction]
#[pyo3(signature = (*, resource_arn, tag_keys))]
fn untag_resource(py: Python<'_>, resource_arn: String, tag_keys: Vec<String>) -> Awaitable<'_> {
    spawn(py, tags::untag_resource(resource_arn, tag_keys))
}

/// Forgets the shared client; the next call builds one from the current environment.
#[pyfunction]
fn reset_client(py: Python<'_>) -> Awaitable<'_> {
    spawn(py, async {
        engine::reset_client().await;
        Ok(serde_json::Value::Null)
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(create_datastore, m)?)?;
    m.add_function(wrap_pyfunction!(get_datastore, m)?)?;
    m.add_function(wrap_pyfunction!(list_datastores, m)?)?;
    m.add_function(wrap_pyfunction!(delete_datastore, m)?)?;
    m.add_function(wrap_pyfunction!(start_dicom_import_job, m)?)?;
    m.add_function(wrap_pyfunction!(get_dicom_import_job, m)?)?;
    m.add_function(wrap_pyfunction!(list_dicom_import_jobs, m)?)?;
    m.add_function(wrap_pyfunction!(search_image_sets, m)?)?;
    m.add_function(wrap_pyfunction!(get_image_set, m)?)?;
    m.add_function(wrap_pyfunction!(get_image_set_metadata, m)?)?;
    m.add_function(wrap_pyfunction!(list_image_set_versions, m)?)?;
    m.add_function(wrap_pyfunction!(update_image_set_metadata, m)?)?;
    m.add_function(wrap_pyfunction!(delete_image_set, m)?)?;
    m.add_function(wrap_pyfunction!(copy_image_set, m)?)?;
    m.add_function(wrap_pyfunction!(get_image_frame, m)?)?;
    m.add_function(wrap_pyfunction!(list_tags_for_resource, m)?)?;
    m.add_function(wrap_pyfunction!(tag_resource, m)?)?;
    m.add_function(wrap_pyfunction!(untag_resource, m)?)?;
    m.add_function(wrap_pyfunction!(reset_client, m)?)
}
