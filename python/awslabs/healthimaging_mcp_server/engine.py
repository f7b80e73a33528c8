"""The notebook API: every tool of the MCP server as an async function with keyword arguments.
Results are plain dicts (the tools' structured results); a tool that answers images (such as
``render_image_frame``) adds ``"images": [{"mime_type": "image/png", "data": b"..."}]`` (show one
in Jupyter with ``IPython.display.Image(data=r["images"][0]["data"])``, or write its bytes to a
file). Failures raise ``HealthImagingError``
with ``type``, ``message``, ``code`` and ``status``. Cancelling the awaiting task cancels the
call (a workflow starts no new image set).

    from awslabs.healthimaging_mcp_server import engine
    stores = await engine.list_datastores(max_results=10)

Generated from the Rust tool registry by scripts/gen_engine_api.py; do not edit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ._engine import HealthImagingError, rate_limits, recent_runs, reset_client
from ._engine import call as _call

__all__ = [
    "HealthImagingError",
    "bulk_delete_by_criteria",
    "bulk_update_patient_metadata",
    "cancel_job",
    "copy_image_set",
    "create_datastore",
    "delete_datastore",
    "delete_image_set",
    "delete_instance_in_series",
    "delete_instance_in_study",
    "delete_patient_studies",
    "delete_series_by_uid",
    "delete_study",
    "get_datastore",
    "get_dicom_export_job",
    "get_dicom_import_job",
    "get_dicom_instance_metadata",
    "get_dicom_series_metadata",
    "get_image_frame",
    "get_image_set",
    "get_image_set_metadata",
    "get_image_set_summary",
    "get_job",
    "get_patient_dicomweb_studies",
    "get_patient_series",
    "get_patient_studies",
    "get_series_primary_image_set",
    "get_study_primary_image_sets",
    "list_datastores",
    "list_dicom_export_jobs",
    "list_dicom_import_jobs",
    "list_image_set_versions",
    "list_jobs",
    "list_tags_for_resource",
    "remove_instance_from_image_set",
    "remove_series_from_image_set",
    "render_image_frame",
    "render_series_contact_sheet",
    "retrieve_dicom_instances",
    "search_by_patient_id",
    "search_by_series_uid",
    "search_by_study_uid",
    "search_dicom_instances",
    "search_dicom_series",
    "search_dicom_studies",
    "search_image_sets",
    "start_dicom_export_job",
    "start_dicom_import_job",
    "store_dicom_files",
    "tag_resource",
    "untag_resource",
    "update_image_set_metadata",
    "update_patient_study_metadata",
    "rate_limits",
    "recent_runs",
    "reset_client",
]


async def _run(name: str, arguments: dict[str, Any], progress: Callable[..., None] | None = None) -> Any:
    # None means absent; the registry checks the rest (unknown names, types, ranges).
    answer = await _call(name, json.dumps({k: v for k, v in arguments.items() if v is not None}), progress)
    if isinstance(answer, tuple):
        # A tool that answers images: the JSON result plus the images' bytes.
        text, images = answer
        result = json.loads(text)
        result["images"] = [{"mime_type": mime, "data": data} for mime, data in images]
        return result
    return json.loads(answer)


async def create_datastore(
    *,
    datastore_name: str,
    kms_key_arn: str | None = None,
    tags: dict[str, str] | None = None,
    lossless_storage_format: str | None = None,
    lambda_authorizer_arn: str | None = None,
    client_token: str | None = None,
) -> dict[str, Any]:
    """Create a data store (CreateDatastore); returns its ID and status CREATING: poll get_datastore
    until ACTIVE.

    kms_key_arn: Customer-managed KMS key (default: an AWS-owned key).
    lossless_storage_format: Default HTJ2K.
    lambda_authorizer_arn: Lambda authorizing DICOMweb OIDC requests.
    client_token: Idempotency token: a retry with the same token is safe.
    """
    return await _run(
        "create_datastore",
        {
            "datastore_name": datastore_name,
            "kms_key_arn": kms_key_arn,
            "tags": tags,
            "lossless_storage_format": lossless_storage_format,
            "lambda_authorizer_arn": lambda_authorizer_arn,
            "client_token": client_token,
        },
    )


async def delete_datastore(
    *,
    datastore_id: str,
) -> dict[str, Any]:
    """Delete a data store (DeleteDatastore); refused while it holds image sets. Returns status
    DELETING.
    """
    return await _run(
        "delete_datastore",
        {
            "datastore_id": datastore_id,
        },
    )


async def get_datastore(
    *,
    datastore_id: str,
) -> dict[str, Any]:
    """A data store's properties: name, status, ARN, KMS key, storage format, dates."""
    return await _run(
        "get_datastore",
        {
            "datastore_id": datastore_id,
        },
    )


async def list_datastores(
    *,
    datastore_status: str | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    """List data stores, one page at a time (follow next_token).

    next_token: From the previous page.
    """
    return await _run(
        "list_datastores",
        {
            "datastore_status": datastore_status,
            "max_results": max_results,
            "next_token": next_token,
        },
    )


async def start_dicom_import_job(
    *,
    datastore_id: str,
    data_access_role_arn: str,
    input_s3_uri: str,
    job_name: str | None = None,
    client_token: str | None = None,
    output_s3_uri: str | None = None,
    input_owner_account_id: str | None = None,
) -> dict[str, Any]:
    """Import DICOM Part-10 files from S3 into a data store (StartDICOMImportJob); output_s3_uri is
    required. Poll get_dicom_import_job until COMPLETED or FAILED.

    data_access_role_arn: IAM role HealthImaging assumes to read the input and write the output.
    input_s3_uri: s3://bucket/prefix/ holding the DICOM Part-10 files.
    output_s3_uri: Required by the API: where the job writes its manifest and SUCCESS/FAILURE
        reports.
    input_owner_account_id: Account owning the input bucket.
    """
    return await _run(
        "start_dicom_import_job",
        {
            "datastore_id": datastore_id,
            "data_access_role_arn": data_access_role_arn,
            "input_s3_uri": input_s3_uri,
            "job_name": job_name,
            "client_token": client_token,
            "output_s3_uri": output_s3_uri,
            "input_owner_account_id": input_owner_account_id,
        },
    )


async def get_dicom_import_job(
    *,
    datastore_id: str,
    job_id: str,
) -> dict[str, Any]:
    """An import job: status, URIs, dates, failure message. Per-file outcomes are in the reports under
    its output_s3_uri.
    """
    return await _run(
        "get_dicom_import_job",
        {
            "datastore_id": datastore_id,
            "job_id": job_id,
        },
    )


async def list_dicom_import_jobs(
    *,
    datastore_id: str,
    job_status: str | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> dict[str, Any]:
    """A data store's import jobs, one page at a time."""
    return await _run(
        "list_dicom_import_jobs",
        {
            "datastore_id": datastore_id,
            "job_status": job_status,
            "next_token": next_token,
            "max_results": max_results,
        },
    )


async def search_image_sets(
    *,
    datastore_id: str,
    search_criteria: dict[str, Any] | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> dict[str, Any]:
    """Search image sets (SearchImageSets), one page at a time; each result carries DICOM tags, version
    and is_primary. For a patient, study or series prefer the workflow tools (all pages, compact).

    search_criteria: The API's SearchCriteria: {"filters": [{"operator": "EQUAL"|"BETWEEN",
        "values": [{"DICOMPatientId": "..."}]}] (1 or 2 filters, ANDed), "sort": {"sortField":
        "updatedAt"|"createdAt"|"DICOMStudyDateAndTime", "sortOrder": "ASC"|"DESC"}}. EQUAL:
        DICOMPatientId, DICOMAccessionNumber, DICOMStudyId, DICOMStudyInstanceUID,
        DICOMSeriesInstanceUID, isPrimary. BETWEEN [low, high]: createdAt, updatedAt (epoch seconds
        or ISO-8601), DICOMStudyDateAndTime ({"DICOMStudyDate": "YYYYMMDD" or "YYYY-MM-DD"}).
    """
    return await _run(
        "search_image_sets",
        {
            "datastore_id": datastore_id,
            "search_criteria": search_criteria,
            "next_token": next_token,
            "max_results": max_results,
        },
    )


async def get_image_set(
    *,
    datastore_id: str,
    image_set_id: str,
    version_id: str | None = None,
) -> dict[str, Any]:
    """An image set's properties (latest version or version_id): state, workflow status, is_primary,
    ARN, dates.

    version_id: Default: the latest version.
    """
    return await _run(
        "get_image_set",
        {
            "datastore_id": datastore_id,
            "image_set_id": image_set_id,
            "version_id": version_id,
        },
    )


async def get_image_set_metadata(
    *,
    datastore_id: str,
    image_set_id: str,
    version_id: str | None = None,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    include_instances: bool | None = None,
) -> dict[str, Any]:
    """An image set's metadata as JSON: Patient, Study, Series, Instances (DICOM attributes by keyword)
    and each instance's ImageFrames IDs. Large studies: narrow it with series_instance_uid or
    sop_instance_uid, or include_instances=false for counts only.

    version_id: Default: the latest version.
    series_instance_uid: Only this series.
    sop_instance_uid: Only this instance (and its series).
    include_instances: false: each series' Instances map is replaced by InstanceCount and
        FrameCount. Default true.
    """
    return await _run(
        "get_image_set_metadata",
        {
            "datastore_id": datastore_id,
            "image_set_id": image_set_id,
            "version_id": version_id,
            "series_instance_uid": series_instance_uid,
            "sop_instance_uid": sop_instance_uid,
            "include_instances": include_instances,
        },
    )


async def list_image_set_versions(
    *,
    datastore_id: str,
    image_set_id: str,
    next_token: str | None = None,
    max_results: int | None = None,
) -> dict[str, Any]:
    """An image set's versions, newest first, one page at a time."""
    return await _run(
        "list_image_set_versions",
        {
            "datastore_id": datastore_id,
            "image_set_id": image_set_id,
            "next_token": next_token,
            "max_results": max_results,
        },
    )


async def update_image_set_metadata(
    *,
    datastore_id: str,
    image_set_id: str,
    latest_version_id: str,
    update_image_set_metadata_updates: dict[str, Any],
    force: bool | None = None,
    include_study_image_sets: bool | None = None,
) -> dict[str, Any]:
    """Update an image set's metadata (UpdateImageSetMetadata), creating a new version.

    latest_version_id: The image set's current version (else conflict_error: read it again).
    update_image_set_metadata_updates: {"DICOMUpdates": {"updatableAttributes": DOC,
        "removableAttributes": DOC}}, DOC shaped like the metadata, e.g. {"SchemaVersion": "1.1",
        "Patient": {"DICOM": {"PatientName": "DOE^JOHN"}}}; an empty object for a series or instance
        under removableAttributes removes it. Or {"revertToVersionId": "1"}.
    force: Allow updates DICOM rules otherwise refuse (UIDs, ...).
    include_study_image_sets: Apply the same update to the study's other primary image sets.
    """
    return await _run(
        "update_image_set_metadata",
        {
            "datastore_id": datastore_id,
            "image_set_id": image_set_id,
            "latest_version_id": latest_version_id,
            "update_image_set_metadata_updates": update_image_set_metadata_updates,
            "force": force,
            "include_study_image_sets": include_study_image_sets,
        },
    )


async def delete_image_set(
    *,
    datastore_id: str,
    image_set_id: str,
    version_id: str | None = None,
) -> dict[str, Any]:
    """Delete an image set with all its versions (DeleteImageSet).

    version_id: Refused: DeleteImageSet deletes every version.
    """
    return await _run(
        "delete_image_set",
        {
            "datastore_id": datastore_id,
            "image_set_id": image_set_id,
            "version_id": version_id,
        },
    )


async def copy_image_set(
    *,
    datastore_id: str,
    source_image_set_id: str,
    copy_image_set_information: dict[str, Any],
    source_datastore_id: str | None = None,
    force: bool | None = None,
    promote_to_primary: bool | None = None,
) -> dict[str, Any]:
    """Copy an image set, or chosen series/instances, into a new or an existing image set of the same
    data store (CopyImageSet).

    copy_image_set_information: {"sourceImageSet": {"latestVersionId": "1", "DICOMCopies"?:
        {"copiableAttributes": {"SchemaVersion": "1.1", "Study": {"Series": {SERIES_UID:
        {"Instances": {SOP_UID: {}}}}}}}}, "destinationImageSet"?: {"imageSetId": "...",
        "latestVersionId": "1"}}.
    source_datastore_id: Must equal datastore_id: copies never cross data stores.
    force: Copy even if Patient/Study/Series metadata disagree.
    promote_to_primary: Make the copy part of the primary hierarchy.
    """
    return await _run(
        "copy_image_set",
        {
            "datastore_id": datastore_id,
            "source_image_set_id": source_image_set_id,
            "copy_image_set_information": copy_image_set_information,
            "source_datastore_id": source_datastore_id,
            "force": force,
            "promote_to_primary": promote_to_primary,
        },
    )


async def get_image_frame(
    *,
    datastore_id: str,
    image_set_id: str,
    image_frame_information: dict[str, str],
) -> dict[str, Any]:
    """One image frame's stored pixel data (base64 image_frame_blob) and content type (image/jph for
    HTJ2K, ...).

    image_frame_information: {"imageFrameId": ID}, the ID from the metadata's ImageFrames.
    """
    return await _run(
        "get_image_frame",
        {
            "datastore_id": datastore_id,
            "image_set_id": image_set_id,
            "image_frame_information": image_frame_information,
        },
    )


async def list_tags_for_resource(
    *,
    resource_arn: str,
) -> dict[str, Any]:
    """The tags of a data store or image set."""
    return await _run(
        "list_tags_for_resource",
        {
            "resource_arn": resource_arn,
        },
    )


async def tag_resource(
    *,
    resource_arn: str,
    tags: dict[str, str],
) -> dict[str, Any]:
    """Add or overwrite tags on a data store or image set."""
    return await _run(
        "tag_resource",
        {
            "resource_arn": resource_arn,
            "tags": tags,
        },
    )


async def untag_resource(
    *,
    resource_arn: str,
    tag_keys: list[str],
) -> dict[str, Any]:
    """Remove tags, by key, from a data store or image set."""
    return await _run(
        "untag_resource",
        {
            "resource_arn": resource_arn,
            "tag_keys": tag_keys,
        },
    )


async def search_by_patient_id(
    *,
    datastore_id: str,
    patient_id: str,
    max_results: int | None = None,
) -> dict[str, Any]:
    """Every image set of a patient (all pages; primary and not), compactly: IDs, study/series UIDs,
    dates, descriptions, counts.

    patient_id: DICOM Patient ID, exact (leading/trailing spaces are padding).
    max_results: Most image sets to read, over all pages (default 1000); 'truncated' says if more
        matched.
    """
    return await _run(
        "search_by_patient_id",
        {
            "datastore_id": datastore_id,
            "patient_id": patient_id,
            "max_results": max_results,
        },
    )


async def search_by_study_uid(
    *,
    datastore_id: str,
    study_instance_uid: str,
    max_results: int | None = None,
) -> dict[str, Any]:
    """Every image set of a study (all pages; primary and not), compactly.

    max_results: Most image sets to read, over all pages (default 1000).
    """
    return await _run(
        "search_by_study_uid",
        {
            "datastore_id": datastore_id,
            "study_instance_uid": study_instance_uid,
            "max_results": max_results,
        },
    )


async def search_by_series_uid(
    *,
    datastore_id: str,
    series_instance_uid: str,
    max_results: int | None = None,
) -> dict[str, Any]:
    """Every image set holding a series (all pages; primary and not), compactly.

    max_results: Most image sets to read, over all pages (default 1000).
    """
    return await _run(
        "search_by_series_uid",
        {
            "datastore_id": datastore_id,
            "series_instance_uid": series_instance_uid,
            "max_results": max_results,
        },
    )


async def get_patient_studies(
    *,
    datastore_id: str,
    patient_id: str,
    max_results: int | None = None,
) -> dict[str, Any]:
    """A patient's studies, newest first: date, description, accession number, modalities, series
    count, and the image sets holding each.

    patient_id: DICOM Patient ID, exact (leading/trailing spaces are padding).
    max_results: Most image sets to read, over all pages (default 1000); 'truncated' says if more
        matched.
    """
    return await _run(
        "get_patient_studies",
        {
            "datastore_id": datastore_id,
            "patient_id": patient_id,
            "max_results": max_results,
        },
    )


async def get_patient_series(
    *,
    datastore_id: str,
    patient_id: str,
    max_results: int | None = None,
) -> dict[str, Any]:
    """A patient's series from each image set's metadata: modality, number, description, body part,
    instance count, image set, is_primary.

    patient_id: DICOM Patient ID, exact (leading/trailing spaces are padding).
    max_results: Most image sets to read, over all pages (default 1000); 'truncated' says if more
        matched.
    """
    return await _run(
        "get_patient_series",
        {
            "datastore_id": datastore_id,
            "patient_id": patient_id,
            "max_results": max_results,
        },
    )


async def get_study_primary_image_sets(
    *,
    datastore_id: str,
    study_instance_uid: str,
) -> dict[str, Any]:
    """The primary image sets of a study, compactly."""
    return await _run(
        "get_study_primary_image_sets",
        {
            "datastore_id": datastore_id,
            "study_instance_uid": study_instance_uid,
        },
    )


async def get_series_primary_image_set(
    *,
    datastore_id: str,
    series_instance_uid: str,
) -> dict[str, Any]:
    """The primary image set of a series (found = false if none)."""
    return await _run(
        "get_series_primary_image_set",
        {
            "datastore_id": datastore_id,
            "series_instance_uid": series_instance_uid,
        },
    )


async def get_patient_dicomweb_studies(
    *,
    datastore_id: str,
    patient_id: str,
) -> dict[str, Any]:
    """A patient's studies as QIDO-RS SearchStudies answers them (DICOM JSON: tag keys with vr and
    Value), from primary image sets.
    """
    return await _run(
        "get_patient_dicomweb_studies",
        {
            "datastore_id": datastore_id,
            "patient_id": patient_id,
        },
    )


async def delete_patient_studies(
    *,
    datastore_id: str,
    patient_id: str,
    dry_run: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Delete every image set of a patient, then search again and report how many remain (0 proves the
    erasure). Reports totals and each image set's outcome; dry_run reports exactly what would
    change.

    dry_run: Report what would change; change nothing.
    progress: called with (done, total, message)
    """
    return await _run(
        "delete_patient_studies",
        {
            "datastore_id": datastore_id,
            "patient_id": patient_id,
            "dry_run": dry_run,
        },
        progress,
    )


async def delete_study(
    *,
    datastore_id: str,
    study_instance_uid: str,
    dry_run: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Delete every image set of a study, then search again and report how many remain. Reports totals
    and each image set's outcome; dry_run reports exactly what would change.

    progress: called with (done, total, message)
    """
    return await _run(
        "delete_study",
        {
            "datastore_id": datastore_id,
            "study_instance_uid": study_instance_uid,
            "dry_run": dry_run,
        },
        progress,
    )


async def delete_series_by_uid(
    *,
    datastore_id: str,
    series_instance_uid: str,
    dry_run: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Remove a series from every image set holding it; other series stay. An image set left empty is
    deleted. Reports totals and each image set's outcome; dry_run reports exactly what would change.

    progress: called with (done, total, message)
    """
    return await _run(
        "delete_series_by_uid",
        {
            "datastore_id": datastore_id,
            "series_instance_uid": series_instance_uid,
            "dry_run": dry_run,
        },
        progress,
    )


async def delete_instance_in_study(
    *,
    datastore_id: str,
    study_instance_uid: str,
    sop_instance_uid: str,
    dry_run: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Remove a SOP instance from every image set of a study holding it. An image set left empty is
    deleted. Reports totals and each image set's outcome; dry_run reports exactly what would change.

    progress: called with (done, total, message)
    """
    return await _run(
        "delete_instance_in_study",
        {
            "datastore_id": datastore_id,
            "study_instance_uid": study_instance_uid,
            "sop_instance_uid": sop_instance_uid,
            "dry_run": dry_run,
        },
        progress,
    )


async def delete_instance_in_series(
    *,
    datastore_id: str,
    series_instance_uid: str,
    sop_instance_uid: str,
    dry_run: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Remove a SOP instance from every image set holding the series. An image set left empty is
    deleted. Reports totals and each image set's outcome; dry_run reports exactly what would change.

    progress: called with (done, total, message)
    """
    return await _run(
        "delete_instance_in_series",
        {
            "datastore_id": datastore_id,
            "series_instance_uid": series_instance_uid,
            "sop_instance_uid": sop_instance_uid,
            "dry_run": dry_run,
        },
        progress,
    )


async def update_patient_study_metadata(
    *,
    datastore_id: str,
    study_instance_uid: str,
    patient_updates: dict[str, Any],
    study_updates: dict[str, Any],
    dry_run: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Set Patient- and Study-level attributes on every image set of a study, each as a new version.
    Reports totals and each image set's outcome; dry_run reports exactly what would change.

    patient_updates: Patient-level attributes, DICOM keyword → value, e.g. {"PatientName":
        "DOE^JOHN"}.
    study_updates: Study-level attributes, e.g. {"StudyDescription": "CT CHEST"}.
    progress: called with (done, total, message)
    """
    return await _run(
        "update_patient_study_metadata",
        {
            "datastore_id": datastore_id,
            "study_instance_uid": study_instance_uid,
            "patient_updates": patient_updates,
            "study_updates": study_updates,
            "dry_run": dry_run,
        },
        progress,
    )


async def bulk_update_patient_metadata(
    *,
    datastore_id: str,
    patient_id: str,
    metadata_updates: dict[str, Any],
    dry_run: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Set attributes on every image set of a patient, e.g. to fix a name everywhere. Reports totals
    and each image set's outcome; dry_run reports exactly what would change.

    metadata_updates: {"Patient": {...}, "Study": {...}} (DICOM keyword → value), or a flat map of
        Patient-level attributes.
    progress: called with (done, total, message)
    """
    return await _run(
        "bulk_update_patient_metadata",
        {
            "datastore_id": datastore_id,
            "patient_id": patient_id,
            "metadata_updates": metadata_updates,
            "dry_run": dry_run,
        },
        progress,
    )


async def bulk_delete_by_criteria(
    *,
    datastore_id: str,
    criteria: dict[str, Any],
    max_deletions: int | None = None,
    dry_run: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Delete every image set matching criteria; counts first and deletes nothing when more than
    max_deletions match. Reports totals and each image set's outcome; dry_run reports exactly what
    would change.

    criteria: Searchable attributes, e.g. {"DICOMPatientId": "123", "DICOMStudyInstanceUID":
        "1.2.3"} (at most 2), or search_image_sets' {"filters": [...]}.
    max_deletions: Safety limit (default 25): nothing is deleted when more match.
    progress: called with (done, total, message)
    """
    return await _run(
        "bulk_delete_by_criteria",
        {
            "datastore_id": datastore_id,
            "criteria": criteria,
            "max_deletions": max_deletions,
            "dry_run": dry_run,
        },
        progress,
    )


async def remove_series_from_image_set(
    *,
    datastore_id: str,
    image_set_id: str,
    series_instance_uid: str,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Remove one series from one image set (a new version). An image set left empty is deleted.
    Reports totals and each image set's outcome; dry_run reports exactly what would change.
    """
    return await _run(
        "remove_series_from_image_set",
        {
            "datastore_id": datastore_id,
            "image_set_id": image_set_id,
            "series_instance_uid": series_instance_uid,
            "dry_run": dry_run,
        },
    )


async def remove_instance_from_image_set(
    *,
    datastore_id: str,
    image_set_id: str,
    series_instance_uid: str,
    sop_instance_uid: str,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Remove one SOP instance from one image set (a new version). An image set left empty is deleted.
    Reports totals and each image set's outcome; dry_run reports exactly what would change.
    """
    return await _run(
        "remove_instance_from_image_set",
        {
            "datastore_id": datastore_id,
            "image_set_id": image_set_id,
            "series_instance_uid": series_instance_uid,
            "sop_instance_uid": sop_instance_uid,
            "dry_run": dry_run,
        },
    )


async def render_image_frame(
    *,
    datastore_id: str,
    image_set_id: str | None = None,
    image_frame_id: str | None = None,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    frame_number: int | None = None,
    instance_number: int | None = None,
    slice: str | None = None,
    window_center: Any | None = None,
    window_width: Any | None = None,
    window_preset: str | None = None,
    max_size: int | None = None,
    format: str | None = None,
) -> dict[str, Any]:
    """One image frame as an image you can see (PNG; JPEG on request), windowed as a viewer would
    (window_center/window_width, window_preset, else the image's window, else automatic). Address it
    by image_frame_id, or series_instance_uid with sop_instance_uid, instance_number or
    slice="middle" (no image_set_id: the series' primary image set).

    image_set_id: Optional when addressing by series: then the series' primary image set.
    image_frame_id: The frame to render (needs image_set_id).
    series_instance_uid: With one of sop_instance_uid, instance_number or slice.
    frame_number: 1-based frame of a multi-frame instance (default 1).
    slice: "middle": the middle slice of the series (ordered along the slice normal).
    window_center: Window centre in modality units (Hounsfield for CT); with window_width.
    window_width: Window width (> 0); with window_center.
    window_preset: A named CT window instead of centre/width.
    max_size: Longest side of the image in pixels (default 512; never enlarged).
    format: png (default) or jpeg.
    """
    return await _run(
        "render_image_frame",
        {
            "datastore_id": datastore_id,
            "image_set_id": image_set_id,
            "image_frame_id": image_frame_id,
            "series_instance_uid": series_instance_uid,
            "sop_instance_uid": sop_instance_uid,
            "frame_number": frame_number,
            "instance_number": instance_number,
            "slice": slice,
            "window_center": window_center,
            "window_width": window_width,
            "window_preset": window_preset,
            "max_size": max_size,
            "format": format,
        },
    )


async def render_series_contact_sheet(
    *,
    datastore_id: str,
    series_instance_uid: str,
    image_set_id: str | None = None,
    count: int | None = None,
    window_center: Any | None = None,
    window_width: Any | None = None,
    window_preset: str | None = None,
    format: str | None = None,
) -> dict[str, Any]:
    """Survey a series in one image: count (default 16, at most 64) evenly spaced slices, ordered along
    the slice normal, labelled with instance number and slice location, at most 1024 px wide, one
    window for all (options as render_image_frame). No image_set_id: the series' primary image set.
    Lists the tiles in order; a failed tile is blank and flagged.

    image_set_id: Default: the series' primary image set.
    count: How many evenly spaced slices (default 16).
    window_center: Window centre in modality units (Hounsfield for CT); with window_width.
    window_width: Window width (> 0); with window_center.
    window_preset: A named CT window instead of centre/width.
    format: png (default) or jpeg.
    """
    return await _run(
        "render_series_contact_sheet",
        {
            "datastore_id": datastore_id,
            "series_instance_uid": series_instance_uid,
            "image_set_id": image_set_id,
            "count": count,
            "window_center": window_center,
            "window_width": window_width,
            "window_preset": window_preset,
            "format": format,
        },
    )


async def get_image_set_summary(
    *,
    datastore_id: str,
    image_set_id: str,
    version_id: str | None = None,
) -> dict[str, Any]:
    """An image set in brief (well under the size of its metadata): patient, study, and per series the
    modality, description, body part, instance and frame counts, rows x columns, slice thickness and
    spacing, stored transfer syntaxes; plus primary flag, version and dates.

    version_id: Default: the latest version.
    """
    return await _run(
        "get_image_set_summary",
        {
            "datastore_id": datastore_id,
            "image_set_id": image_set_id,
            "version_id": version_id,
        },
    )


async def search_dicom_studies(
    *,
    datastore_id: str,
    study_instance_uid: str | None = None,
    patient_id: str | None = None,
    patient_name: str | None = None,
    accession_number: str | None = None,
    study_date: str | None = None,
    study_time: str | None = None,
    study_id: str | None = None,
    modalities_in_study: str | None = None,
    study_description: str | None = None,
    referring_physician_name: str | None = None,
    fuzzy_matching: bool | None = None,
    limit: int | None = None,
    offset: int | None = None,
    include_dicom_json: bool | None = None,
) -> dict[str, Any]:
    """QIDO-RS study search (primary image sets only; newest update first). Keys match exactly unless
    wildcarded (*); answers a table of studies, with the DICOM JSON on request.

    patient_name: DICOM person name; `*` wildcards allowed.
    study_date: YYYYMMDD, or a range YYYYMMDD-YYYYMMDD.
    fuzzy_matching: Match person names fuzzily.
    limit: Records per answer (default 100, at most 1000).
    offset: Records to skip; offset + limit may not pass 10,000 (QIDO-RS's reach).
    include_dicom_json: Also return the records in the DICOM JSON model (default false: the table
        only).
    """
    return await _run(
        "search_dicom_studies",
        {
            "datastore_id": datastore_id,
            "study_instance_uid": study_instance_uid,
            "patient_id": patient_id,
            "patient_name": patient_name,
            "accession_number": accession_number,
            "study_date": study_date,
            "study_time": study_time,
            "study_id": study_id,
            "modalities_in_study": modalities_in_study,
            "study_description": study_description,
            "referring_physician_name": referring_physician_name,
            "fuzzy_matching": fuzzy_matching,
            "limit": limit,
            "offset": offset,
            "include_dicom_json": include_dicom_json,
        },
    )


async def search_dicom_series(
    *,
    datastore_id: str,
    study_instance_uid: str,
    series_instance_uid: str | None = None,
    modality: str | None = None,
    series_number: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
    include_dicom_json: bool | None = None,
) -> dict[str, Any]:
    """QIDO-RS series search within a study (by series number).

    limit: Records per answer (default 100, at most 1000).
    offset: Records to skip; offset + limit may not pass 10,000 (QIDO-RS's reach).
    include_dicom_json: Also return the records in the DICOM JSON model (default false: the table
        only).
    """
    return await _run(
        "search_dicom_series",
        {
            "datastore_id": datastore_id,
            "study_instance_uid": study_instance_uid,
            "series_instance_uid": series_instance_uid,
            "modality": modality,
            "series_number": series_number,
            "limit": limit,
            "offset": offset,
            "include_dicom_json": include_dicom_json,
        },
    )


async def search_dicom_instances(
    *,
    datastore_id: str,
    study_instance_uid: str,
    series_instance_uid: str,
    sop_instance_uid: str | None = None,
    sop_class_uid: str | None = None,
    instance_number: str | None = None,
    limit: int | None = None,
    offset: int | None = None,
    include_dicom_json: bool | None = None,
) -> dict[str, Any]:
    """QIDO-RS instance search within a series (by instance number).

    limit: Records per answer (default 100, at most 1000).
    offset: Records to skip; offset + limit may not pass 10,000 (QIDO-RS's reach).
    include_dicom_json: Also return the records in the DICOM JSON model (default false: the table
        only).
    """
    return await _run(
        "search_dicom_instances",
        {
            "datastore_id": datastore_id,
            "study_instance_uid": study_instance_uid,
            "series_instance_uid": series_instance_uid,
            "sop_instance_uid": sop_instance_uid,
            "sop_class_uid": sop_class_uid,
            "instance_number": instance_number,
            "limit": limit,
            "offset": offset,
            "include_dicom_json": include_dicom_json,
        },
    )


async def get_dicom_series_metadata(
    *,
    datastore_id: str,
    study_instance_uid: str,
    series_instance_uid: str,
    image_set_id: str | None = None,
) -> dict[str, Any]:
    """WADO-RS series metadata: every instance's attributes in the DICOM JSON model.

    image_set_id: The image set to read from (default: the primary image set).
    """
    return await _run(
        "get_dicom_series_metadata",
        {
            "datastore_id": datastore_id,
            "study_instance_uid": study_instance_uid,
            "series_instance_uid": series_instance_uid,
            "image_set_id": image_set_id,
        },
    )


async def get_dicom_instance_metadata(
    *,
    datastore_id: str,
    study_instance_uid: str,
    series_instance_uid: str,
    sop_instance_uid: str,
    image_set_id: str | None = None,
) -> dict[str, Any]:
    """WADO-RS instance metadata in the DICOM JSON model.

    image_set_id: The image set to read from (default: the primary image set).
    """
    return await _run(
        "get_dicom_instance_metadata",
        {
            "datastore_id": datastore_id,
            "study_instance_uid": study_instance_uid,
            "series_instance_uid": series_instance_uid,
            "sop_instance_uid": sop_instance_uid,
            "image_set_id": image_set_id,
        },
    )


async def retrieve_dicom_instances(
    *,
    datastore_id: str,
    study_instance_uid: str,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    image_set_id: str | None = None,
    folder: str,
    transfer_syntax: str | None = None,
    overwrite: bool | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Download a study, a series or one instance as DICOM Part-10 files into a local folder
    (<folder>/<study>/<series>/<sop>.dcm), concurrently; reports each file: written, failed (why),
    skipped (exists) or not_attempted (cancelled).

    series_instance_uid: Only this series (default: every series of the study).
    sop_instance_uid: Only this instance (needs series_instance_uid).
    image_set_id: The image set to read from (default: the primary image set).
    folder: Folder to write into, inside the allowed file roots (created if missing); relative paths
        are taken from the first root.
    transfer_syntax: `stored` (default) or `explicit_vr_little_endian` (uncompressed; for tools that
        cannot read HTJ2K).
    overwrite: Replace files that already exist (default false: they are skipped).
    progress: called with (done, total, message)
    """
    return await _run(
        "retrieve_dicom_instances",
        {
            "datastore_id": datastore_id,
            "study_instance_uid": study_instance_uid,
            "series_instance_uid": series_instance_uid,
            "sop_instance_uid": sop_instance_uid,
            "image_set_id": image_set_id,
            "folder": folder,
            "transfer_syntax": transfer_syntax,
            "overwrite": overwrite,
        },
        progress,
    )


async def store_dicom_files(
    *,
    datastore_id: str,
    paths: list[str],
    recursive: bool | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, Any]:
    """Upload local DICOM Part-10 files and folders (STOW-RS) in batches within the 1 GB request limit;
    reports each file: stored, failed (the service's reason), skipped_not_dicom, and the image sets
    the stored series are in.

    paths: Files and folders inside the allowed file roots; relative paths are taken from the first
        root.
    recursive: Walk folders recursively (default true).
    progress: called with (done, total, message)
    """
    return await _run(
        "store_dicom_files",
        {
            "datastore_id": datastore_id,
            "paths": paths,
            "recursive": recursive,
        },
        progress,
    )


async def start_dicom_export_job(
    *,
    datastore_id: str,
    data_access_role_arn: str,
    output_s3_uri: str,
    job_name: str | None = None,
    client_token: str | None = None,
    study_instance_uid: str | None = None,
    series_instance_uid: str | None = None,
    sop_instance_uid: str | None = None,
    submitted_before: str | None = None,
    submitted_after: str | None = None,
    transfer_syntax: str | None = None,
    include_non_primary: bool | None = None,
    deidentify: dict[str, Any] | None = None,
    identity_map_uri: str | None = None,
) -> dict[str, Any]:
    """Export a study, a series, one instance or the image sets created in a window as DICOM Part-10
    files to s3://bucket/prefix/ or file:///folder (<prefix>/<study>/<series>/<sop>.dcm, with
    manifest.jsonl and summary.json). Answers at once with the job; follow it with
    get_dicom_export_job.

    data_access_role_arn: IAM role assumed (through STS) to write to an s3:// destination; not used
        for file:// destinations, which this server writes with its own permissions.
    output_s3_uri: s3://bucket/prefix/ or file:///path/to/folder (inside the allowed file roots).
        Files land at <prefix>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm, with
        manifest.jsonl and summary.json at <prefix>/.
    client_token: Makes the start idempotent: the same token and request answer the same job.
    study_instance_uid: Export this study.
    series_instance_uid: Export this series.
    sop_instance_uid: Export this one instance (found through the image sets' metadata; faster with
        its study_instance_uid or series_instance_uid).
    submitted_before: Only image sets created at or before this ISO-8601 date-time.
    submitted_after: Only image sets created at or after this ISO-8601 date-time.
    transfer_syntax: `stored` (default: as HealthImaging keeps it) or `explicit_vr_little_endian`
        (uncompressed, for tools that cannot read HTJ2K).
    include_non_primary: Also export non-primary image sets (default false: primary image sets
        only).
    deidentify: De-identify with the DICOM PS3.15 Basic Application Level Confidentiality Profile
        ({} for the profile alone, or its options); UIDs are remapped consistently across the job
        (and the file layout uses the new UIDs); instances with burned-in annotation are flagged,
        not exported. Pixel data and geometry are kept.
    identity_map_uri: Only with deidentify: where to write the identity map (original -> new UIDs),
        e.g. s3://keys-bucket/job-1/identity.json or file:///secure/identity.json; never inside
        output_s3_uri.
    """
    return await _run(
        "start_dicom_export_job",
        {
            "datastore_id": datastore_id,
            "data_access_role_arn": data_access_role_arn,
            "output_s3_uri": output_s3_uri,
            "job_name": job_name,
            "client_token": client_token,
            "study_instance_uid": study_instance_uid,
            "series_instance_uid": series_instance_uid,
            "sop_instance_uid": sop_instance_uid,
            "submitted_before": submitted_before,
            "submitted_after": submitted_after,
            "transfer_syntax": transfer_syntax,
            "include_non_primary": include_non_primary,
            "deidentify": deidentify,
            "identity_map_uri": identity_map_uri,
        },
    )


async def get_dicom_export_job(
    *,
    datastore_id: str,
    job_id: str,
) -> dict[str, Any]:
    """An export job: status, progress, counts per outcome, failed instances with reasons, output and
    manifest URIs.
    """
    return await _run(
        "get_dicom_export_job",
        {
            "datastore_id": datastore_id,
            "job_id": job_id,
        },
    )


async def list_dicom_export_jobs(
    *,
    datastore_id: str,
    job_status: str | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> dict[str, Any]:
    """A data store's export jobs, newest first, filtered by job_status, one page at a time.

    next_token: From the previous page's answer.
    max_results: Jobs per page (default and most 50).
    """
    return await _run(
        "list_dicom_export_jobs",
        {
            "datastore_id": datastore_id,
            "job_status": job_status,
            "next_token": next_token,
            "max_results": max_results,
        },
    )


async def get_job(
    *,
    job_id: str,
    include_items: bool | None = None,
    max_items: int | None = None,
) -> dict[str, Any]:
    """A job's status, progress (done of total, ETA), counts per outcome and item outcomes (failed
    first): exports, and workflows still running when their call answered.

    job_id: The job_id a tool answered (an export, or a workflow still running at its deadline).
    include_items: Answer item outcomes (default true); failed ones first.
    max_items: Most items to answer (default 100); items_not_shown counts the rest.
    """
    return await _run(
        "get_job",
        {
            "job_id": job_id,
            "include_items": include_items,
            "max_items": max_items,
        },
    )


async def list_jobs(
    *,
    status: str | None = None,
    kind: str | None = None,
    datastore_id: str | None = None,
    next_token: str | None = None,
    max_results: int | None = None,
) -> dict[str, Any]:
    """Jobs of this server, newest first, by status, kind and data store; follow next_token.

    status: Where a job is. `COMPLETED` means every item has an outcome (some may have failed: see
        `counts`); `INTERRUPTED` means the server stopped while it ran and it was not resumed.
    kind: `export`, or the name of a workflow tool (e.g. delete_patient_studies).
    next_token: From the previous answer, for the next page.
    max_results: Jobs per page (default 50, at most 100).
    """
    return await _run(
        "list_jobs",
        {
            "status": status,
            "kind": kind,
            "datastore_id": datastore_id,
            "next_token": next_token,
            "max_results": max_results,
        },
    )


async def cancel_job(
    *,
    job_id: str,
) -> dict[str, Any]:
    """Stop a job: it starts no new item (items in flight finish); its record tells what was done. A
    job that already ended is answered as it is.
    """
    return await _run(
        "cancel_job",
        {
            "job_id": job_id,
        },
    )
