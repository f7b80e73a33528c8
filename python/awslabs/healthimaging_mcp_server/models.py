"""Output shapes of the tools (they become each tool's MCP output schema).

Field names are the original server's snake_case names; timestamps are ISO-8601 strings.
Every shape allows extra keys so new fields from HealthImaging are passed through, not dropped.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

_OPEN = ConfigDict(extra="allow")


@with_config(_OPEN)
class DatastoreSummary(TypedDict, total=False):
    datastore_id: str
    datastore_name: str
    datastore_status: str
    datastore_arn: str
    created_at: str
    updated_at: str


@with_config(_OPEN)
class DatastoreProperties(DatastoreSummary, total=False):
    kms_key_arn: str
    lambda_authorizer_arn: str
    lossless_storage_format: str


@with_config(_OPEN)
class DatastoreStatusResult(TypedDict, total=False):
    datastore_id: str
    datastore_status: str


@with_config(_OPEN)
class GetDatastoreResult(TypedDict, total=False):
    datastore_properties: DatastoreProperties


@with_config(_OPEN)
class ListDatastoresResult(TypedDict, total=False):
    datastore_summaries: list[DatastoreSummary]
    next_token: str


@with_config(_OPEN)
class StartImportJobResult(TypedDict, total=False):
    datastore_id: str
    job_id: str
    job_status: str
    submitted_at: str


@with_config(_OPEN)
class ImportJobSummary(TypedDict, total=False):
    job_id: str
    job_name: str
    job_status: str
    datastore_id: str
    data_access_role_arn: str
    submitted_at: str
    ended_at: str
    message: str


@with_config(_OPEN)
class ImportJobProperties(ImportJobSummary, total=False):
    input_s3_uri: str
    output_s3_uri: str


@with_config(_OPEN)
class GetImportJobResult(TypedDict, total=False):
    job_properties: ImportJobProperties


@with_config(_OPEN)
class ListImportJobsResult(TypedDict, total=False):
    job_summaries: list[ImportJobSummary]
    next_token: str


@with_config(_OPEN)
class DicomTags(TypedDict, total=False):
    dicom_patient_id: str
    dicom_patient_name: str
    dicom_patient_birth_date: str
    dicom_patient_sex: str
    dicom_study_instance_uid: str
    dicom_study_id: str
    dicom_study_description: str
    dicom_accession_number: str
    dicom_study_date: str
    dicom_study_time: str
    dicom_number_of_study_related_series: int
    dicom_number_of_study_related_instances: int
    dicom_series_instance_uid: str
    dicom_series_modality: str
    dicom_series_body_part: str
    dicom_series_number: int


@with_config(_OPEN)
class ImageSetSummary(TypedDict, total=False):
    image_set_id: str
    version: int
    is_primary: bool
    storage_tier: str
    created_at: str
    updated_at: str
    last_accessed_at: str
    dicom_tags: DicomTags


@with_config(_OPEN)
class SortApplied(TypedDict, total=False):
    sort_field: str
    sort_order: str


@with_config(_OPEN)
class SearchImageSetsResult(TypedDict, total=False):
    image_sets_metadata_summaries: list[ImageSetSummary]
    sort: SortApplied
    next_token: str
    normalized: dict[str, str]


@with_config(_OPEN)
class ImageSetProperties(TypedDict, total=False):
    datastore_id: str
    image_set_id: str
    version_id: str
    image_set_state: str
    image_set_workflow_status: str
    is_primary: bool
    storage_tier: str
    image_set_arn: str
    created_at: str
    updated_at: str
    deleted_at: str
    last_accessed_at: str
    message: str
    overrides: dict[str, Any]


@with_config(_OPEN)
class ListImageSetVersionsResult(TypedDict, total=False):
    image_set_properties_list: list[ImageSetProperties]
    next_token: str


@with_config(_OPEN)
class ImageSetMetadataResult(TypedDict, total=False):
    datastore_id: str
    image_set_id: str
    version_id: str
    image_set_metadata: dict[str, Any]


@with_config(_OPEN)
class ImageSetWriteResult(TypedDict, total=False):
    datastore_id: str
    image_set_id: str
    latest_version_id: str
    image_set_state: str
    image_set_workflow_status: str
    image_set_arn: str
    created_at: str
    updated_at: str
    message: str


@with_config(_OPEN)
class CopyImageSetResult(TypedDict, total=False):
    datastore_id: str
    source_image_set_properties: ImageSetWriteResult
    destination_image_set_properties: ImageSetWriteResult


@with_config(_OPEN)
class ImageFrameResult(TypedDict, total=False):
    image_frame_id: str
    content_type: str
    size_bytes: int
    image_frame_blob: str


@with_config(_OPEN)
class TagsResult(TypedDict, total=False):
    resource_arn: str
    tags: dict[str, str]
    tags_added: int
    tags_removed: list[str]


# ---- workflow results ---------------------------------------------------------------------------


@with_config(_OPEN)
class CompactImageSet(TypedDict, total=False):
    image_set_id: str
    version: int
    is_primary: bool
    patient_id: str
    study_instance_uid: str
    study_date: str
    study_description: str
    accession_number: str
    series_instance_uid: str
    modality: str
    series_count: int
    instance_count: int
    updated_at: str


@with_config(_OPEN)
class ImageSetListing(TypedDict, total=False):
    patient_id: str
    study_instance_uid: str
    series_instance_uid: str
    total: int
    primary: int
    truncated: bool
    image_sets: list[CompactImageSet]


@with_config(_OPEN)
class PatientStudies(TypedDict, total=False):
    patient_id: str
    total_studies: int
    total_image_sets: int
    truncated: bool
    studies: list[dict[str, Any]]


@with_config(_OPEN)
class PatientSeries(TypedDict, total=False):
    patient_id: str
    total_series: int
    truncated: bool
    series: list[dict[str, Any]]


@with_config(_OPEN)
class SeriesPrimaryImageSet(TypedDict, total=False):
    series_instance_uid: str
    found: bool
    image_set: CompactImageSet | None
    other_primary_image_sets: list[str]


@with_config(_OPEN)
class DicomwebStudies(TypedDict, total=False):
    patient_id: str
    total_studies: int
    truncated: bool
    studies: list[dict[str, Any]]


@with_config(_OPEN)
class WorkflowItem(TypedDict, total=False):
    image_set_id: str
    outcome: str
    latest_version_id: str
    detail: str
    error: dict[str, str]


@with_config(_OPEN)
class WorkflowReport(TypedDict, total=False):
    dry_run: bool
    total: int
    failed: int
    already_deleted: int
    unchanged: int
    truncated: bool
    refused: bool
    matched: int
    max_deletions: int
    remaining_image_sets: int
    remaining_image_set_ids: list[str]
    update_document: dict[str, Any]
    would_fail: int
    update_refused: str
    normalized: dict[str, str]
    message: str
    items: list[WorkflowItem]
