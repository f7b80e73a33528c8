"""Typed interface of the Rust extension module ``awslabs.healthimaging_mcp_server._engine``."""

from collections.abc import Callable
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Any, TypedDict

__version__: str
USER_AGENT_METADATA: str
"""``md/awslabs#mcp#healthimaging-mcp-server#<version>``, added to every request's user agent."""

class HealthImagingError(Exception):
    """Every engine failure.

    ``type`` is one of validation_error (bad input, caught before any request, or refused by the
    service), not_found, auth_error, conflict_error, throttling_error, service_error (the service
    or the network to it failed), server_error (a fault of this package). ``code`` is the AWS
    error code and ``status`` the HTTP status when the service answered.
    """

    type: str
    message: str
    code: str | None
    status: int | None

EngineError = HealthImagingError

# ---- the HealthImaging API (one shared client, configured from the environment) ----------------
# Every function is a coroutine function: ``await`` it. Results are plain dicts with the
# original server's snake_case field names and ISO-8601 timestamps.

async def create_datastore(
    *,
    datastore_name: str,
    kms_key_arn: str | None = None,
    tags: dict[str, str] | None = None,
    lossless_storage_format: str | None = None,
    lambda_authorizer_arn: str | None = None,
    client_token: str | None = None,
) -> dict[str, Any]:
    """CreateDatastore: ``{"datastore_id", "datastore_status"}``."""

async def get_datastore(*, datastore_id: str) -> dict[str, Any]:
    """GetDatastore: ``{"datastore_properties": {...}}``."""

async def list_datastores(
    *, datastore_status: str | None = None, max_results: int | None = None, next_token: str | None = None
) -> dict[str, Any]:
    """ListDatastores, one page: ``{"datastore_summaries": [...], "next_token"?}``."""

async def delete_datastore(*, datastore_id: str) -> dict[str, Any]:
    """DeleteDatastore (refused while image sets remain)."""

async def start_dicom_import_job(
    *,
    datastore_id: str,
    data_access_role_arn: str,
    input_s3_uri: str,
    output_s3_uri: str | None = None,
    job_name: str | None = None,
    client_token: str | None = None,
    input_owner_account_id: str | None = None,
) -> dict[str, Any]:
    """StartDICOMImportJob. ``output_s3_uri`` is required by the API (validation_error without it)."""

async def get_dicom_import_job(*, datastore_id: str, job_id: str) -> dict[str, Any]:
    """GetDICOMImportJob: ``{"job_properties": {...}}``."""

async def list_dicom_import_jobs(
    *, datastore_id: str, job_status: str | None = None, max_results: int | None = None, next_token: str | None = None
) -> dict[str, Any]:
    """ListDICOMImportJobs, one page: ``{"job_summaries": [...], "next_token"?}``."""

async def search_image_sets(
    *,
    datastore_id: str,
    search_criteria: dict[str, Any] | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
) -> dict[str, Any]:
    """SearchImageSets, one page. ``search_criteria`` in the API's shape, e.g.
    ``{"filters": [{"operator": "EQUAL", "values": [{"DICOMPatientId": "123"}]}]}``.
    Returns ``{"image_sets_metadata_summaries": [...], "sort"?, "next_token"?}``."""

async def get_image_set(*, datastore_id: str, image_set_id: str, version_id: str | None = None) -> dict[str, Any]:
    """GetImageSet: state, workflow status, is_primary, storage tier, dates."""

async def get_image_set_metadata(
    *, datastore_id: str, image_set_id: str, version_id: str | None = None
) -> dict[str, Any]:
    """GetImageSetMetadata, decompressed: ``{"image_set_metadata": {Patient, Study, ...}, ...}``."""

async def list_image_set_versions(
    *, datastore_id: str, image_set_id: str, max_results: int | None = None, next_token: str | None = None
) -> dict[str, Any]:
    """ListImageSetVersions, one page, newest first."""

async def update_image_set_metadata(
    *,
    datastore_id: str,
    image_set_id: str,
    latest_version_id: str,
    update_image_set_metadata_updates: dict[str, Any],
    force: bool | None = None,
    include_study_image_sets: bool | None = None,
) -> dict[str, Any]:
    """UpdateImageSetMetadata. Updates: ``{"DICOMUpdates": {"updatableAttributes": {...},
    "removableAttributes": {...}}}`` (documents as JSON objects) or ``{"revertToVersionId": "1"}``."""

async def delete_image_set(*, datastore_id: str, image_set_id: str, version_id: str | None = None) -> dict[str, Any]:
    """DeleteImageSet (all versions; ``version_id`` is refused)."""

async def copy_image_set(
    *,
    datastore_id: str,
    source_image_set_id: str,
    copy_image_set_information: dict[str, Any],
    source_datastore_id: str | None = None,
    force: bool | None = None,
    promote_to_primary: bool | None = None,
) -> dict[str, Any]:
    """CopyImageSet within one data store."""

async def get_image_frame(
    *, datastore_id: str, image_set_id: str, image_frame_information: dict[str, str]
) -> dict[str, Any]:
    """GetImageFrame: ``{"image_frame_id", "content_type", "size_bytes", "image_frame_blob" (base64)}``."""

async def list_tags_for_resource(*, resource_arn: str) -> dict[str, Any]: ...
async def tag_resource(*, resource_arn: str, tags: dict[str, str]) -> dict[str, Any]: ...
async def untag_resource(*, resource_arn: str, tag_keys: list[str]) -> dict[str, Any]: ...
async def reset_client() -> None:
    """Forget the shared client; the next call builds one from the current environment."""

# ---- workflows: every page, compact results -----------------------------------------------------

async def search_by_patient_id(*, datastore_id: str, patient_id: str, max_results: int | None = None) -> dict[str, Any]:
    """Every image set of a patient (up to ``max_results``, default 1000): ``{"total", "primary",
    "truncated", "image_sets": [...]}``."""

async def search_by_study_uid(
    *, datastore_id: str, study_instance_uid: str, max_results: int | None = None
) -> dict[str, Any]: ...
async def search_by_series_uid(
    *, datastore_id: str, series_instance_uid: str, max_results: int | None = None
) -> dict[str, Any]: ...
async def get_patient_studies(*, datastore_id: str, patient_id: str, max_results: int | None = None) -> dict[str, Any]:
    """A patient's studies with their image sets, newest first."""

async def get_patient_series(*, datastore_id: str, patient_id: str, max_results: int | None = None) -> dict[str, Any]:
    """A patient's series, read from every image set's metadata."""

async def get_study_primary_image_sets(*, datastore_id: str, study_instance_uid: str) -> dict[str, Any]: ...
async def get_series_primary_image_set(*, datastore_id: str, series_instance_uid: str) -> dict[str, Any]: ...
async def get_patient_dicomweb_studies(*, datastore_id: str, patient_id: str) -> dict[str, Any]:
    """A patient's studies as QIDO-RS SearchStudies JSON (PS3.18 Annex F), primary data only."""

# Destructive workflows: ``dry_run`` reports what would change; ``progress(done, total)`` (or
# ``progress(done, total, message)``, the message with an ETA) is called on the caller's event
# loop as image sets finish. Results: ``{"total", "failed", "already_deleted", "already_done",
# "unchanged", "changed_since_selected", "not_attempted", "items": [{"image_set_id", "outcome",
# "detail"?, "error"?}], ...}``. Cancelling the awaiting task stops the run: nothing new starts.

def recent_runs() -> list[dict[str, Any]]:
    """The last 20 destructive runs of this process, cancelled ones included (newest last):
    ``{"tool", "datastore_id", "cancelled", "finished_at", "total", "counts": {outcome: n},
    "image_set_ids": {outcome: [id, ...]}}``."""

def rate_limits() -> dict[str, dict[str, float]]:
    """The client-side rate limit in force per operation, ``{operation: {"rate", "burst"}}``
    (empty against a custom endpoint unless ``HEALTHIMAGING_MCP_RATE_<OPERATION>`` is set)."""

async def delete_patient_studies(
    *, datastore_id: str, patient_id: str, dry_run: bool = False, progress: Callable[[int, int], None] | None = None
) -> dict[str, Any]: ...
async def delete_study(
    *,
    datastore_id: str,
    study_instance_uid: str,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]: ...
async def delete_series_by_uid(
    *,
    datastore_id: str,
    series_instance_uid: str,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]: ...
async def delete_instance_in_study(
    *,
    datastore_id: str,
    study_instance_uid: str,
    sop_instance_uid: str,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]: ...
async def delete_instance_in_series(
    *,
    datastore_id: str,
    series_instance_uid: str,
    sop_instance_uid: str,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]: ...
async def remove_series_from_image_set(
    *, datastore_id: str, image_set_id: str, series_instance_uid: str, dry_run: bool = False
) -> dict[str, Any]: ...
async def remove_instance_from_image_set(
    *, datastore_id: str, image_set_id: str, series_instance_uid: str, sop_instance_uid: str, dry_run: bool = False
) -> dict[str, Any]: ...
async def update_patient_study_metadata(
    *,
    datastore_id: str,
    study_instance_uid: str,
    patient_updates: dict[str, Any],
    study_updates: dict[str, Any],
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]: ...
async def bulk_update_patient_metadata(
    *,
    datastore_id: str,
    patient_id: str,
    metadata_updates: dict[str, Any],
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]: ...
async def bulk_delete_by_criteria(
    *,
    datastore_id: str,
    criteria: dict[str, Any],
    max_deletions: int | None = None,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]: ...

# ---- the embedded local HealthImaging -------------------------------------------------------

class SeedReport(TypedDict):
    datastore_id: str
    job_id: str | None
    """``None`` when the sample data store already existed and nothing was imported."""
    image_sets: int

class ServerStats(TypedDict):
    requests: int
    in_flight: int
    peak_in_flight: int
    throttled: int
    conflicts: int
    last_user_agent: str

class LocalHealthImaging:
    """The embedded local HealthImaging, serving the REST-JSON API on a loopback port.

    It starts listening when constructed and stops on ``stop()`` or when used as a context
    manager and the block ends. Requests must be SigV4-signed with the configured credentials
    (``test``/``test`` by default) for service ``medical-imaging`` and the configured region.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        s3_root: str | PathLike[str] | None = None,
        data_dir: str | PathLike[str] | None = None,
        access_key_id: str = "test",
        secret_access_key: str = "test",
        region: str = "us-east-1",
        account_id: str = "123456789012",
        throttle_rate: float = 0.0,
        transition_delay: float = 0.0,
        latency_ms: float = 0.0,
        allow_hosts: list[str] = ...,
        idle_timeout: float = 60.0,
        write_delay_ms: float = 0.0,
        write_fail_rate: float = 0.0,
    ) -> None:
        """Start serving.

        ``port=0`` picks a free port. ``s3_root`` is the folder standing in for S3
        (``s3://bucket/key`` is ``s3_root/bucket/key``; default ``data_dir/s3`` or a temporary
        folder). ``data_dir`` keeps state across restarts. ``throttle_rate`` answers that share
        of requests with ThrottlingException; ``transition_delay`` is how many seconds data
        stores stay CREATING / DELETING; ``latency_ms`` delays every request (emulated network).
        ``write_delay_ms`` keeps image sets LOCKED that long after an update, copy or delete;
        ``write_fail_rate`` ends that share of updates and copies UPDATE_FAILED / COPY_FAILED.
        """
    @property
    def endpoint_url(self) -> str:
        """``http://HOST:PORT``"""
    @property
    def region(self) -> str: ...
    @property
    def s3_root(self) -> Path: ...
    @property
    def running(self) -> bool: ...
    def seed(self, samples_dir: str | PathLike[str]) -> SeedReport:
        """Import the DICOM files under ``samples_dir`` into the ``healthimaging-local-samples``
        data store through a regular import job (reused if the data store exists)."""
    def stats(self) -> ServerStats:
        """Request counters since start (``peak_in_flight`` proves concurrency)."""
    def reset_peak(self) -> None:
        """Reset ``peak_in_flight`` to the number of requests in flight now."""
    def stop(self) -> None:
        """Stop serving and write state (with ``data_dir``). Idempotent."""
    def __enter__(self) -> LocalHealthImaging: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...
