"""The tool table: one entry per MCP tool, naming its engine function, parameters,
annotations and output shape. `server.py` registers tools from this table only.

Names and parameters are those of the original awslabs.healthimaging-mcp-server 0.1.1; a few
optional parameters the real API has (force, promote_to_primary, ...) are added.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import models as m

DATASTORE_ID = "Data store ID: 32 characters [0-9a-z]."
IMAGE_SET_ID = "Image set ID: 32 characters [0-9a-z]."
MAX_RESULTS = "Results per page, 1 to 50 (HealthImaging's limit)."
NEXT_TOKEN = "Token from the previous page's next_token, to read the next page."


@dataclass(frozen=True)
class Param:
    name: str
    type: Any
    description: str
    required: bool = False
    minimum: int | None = None
    """Inclusive bounds of an integer, checked (and published in the schema) before any request."""
    maximum: int | None = None


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    params: tuple[Param, ...]
    output: type
    read_only: bool
    destructive: bool = False
    idempotent: bool = False
    engine_function: str = ""
    progress: bool = False
    """Long-running: the tool sends MCP progress notifications (done / total)."""

    @property
    def function(self) -> str:
        return self.engine_function or self.name


def _p(name: str, type_: Any, description: str, required: bool = False) -> Param:
    return Param(name, type_, description, required)


def _count(name: str, description: str, maximum: int) -> Param:
    return Param(name, int, description, minimum=1, maximum=maximum)


_DS = _p("datastore_id", str, DATASTORE_ID, True)
_IS = _p("image_set_id", str, IMAGE_SET_ID, True)
_MAX = _count("max_results", MAX_RESULTS, 50)
_NEXT = _p("next_token", str, NEXT_TOKEN)

API_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "create_datastore",
        "Create a HealthImaging data store (CreateDatastore). Returns its ID and status "
        "(CREATING; poll get_datastore until ACTIVE).",
        (
            _p("datastore_name", str, "Name, 1-256 characters [A-Za-z0-9._/#-].", True),
            _p("kms_key_arn", str, "Customer-managed KMS key ARN (default: AWS-owned key)."),
            _p("tags", dict[str, str], "Tags to attach, key -> value."),
            _p("lossless_storage_format", str, "HTJ2K (default) or JPEG_2000_LOSSLESS."),
            _p("lambda_authorizer_arn", str, "Lambda ARN authorizing DICOMweb OIDC requests."),
            _p("client_token", str, "Idempotency token; a retry with the same token is safe."),
        ),
        m.DatastoreStatusResult,
        read_only=False,
    ),
    ToolSpec(
        "delete_datastore",
        "Delete a data store (DeleteDatastore). HealthImaging refuses while it still holds "
        "image sets; returns status DELETING.",
        (_DS,),
        m.DatastoreStatusResult,
        read_only=False,
        destructive=True,
        idempotent=True,
    ),
    ToolSpec(
        "get_datastore",
        "Get a data store's properties: name, status, ARN, KMS key, storage format, dates.",
        (_DS,),
        m.GetDatastoreResult,
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        "list_datastores",
        "List data stores, one page at a time (use next_token for more).",
        (
            _p(
                "datastore_status",
                str,
                "Only this status: CREATING, CREATE_FAILED, ACTIVE, DELETING or DELETED.",
            ),
            _MAX,
            _NEXT,
        ),
        m.ListDatastoresResult,
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        "start_dicom_import_job",
        "Import DICOM Part-10 files from an S3 prefix into a data store (StartDICOMImportJob). "
        "output_s3_uri is required by the API (the job writes its manifest and SUCCESS/FAILURE "
        "reports there). Returns the job ID; poll get_dicom_import_job until COMPLETED or FAILED.",
        (
            _DS,
            _p(
                "data_access_role_arn",
                str,
                "IAM role HealthImaging assumes to read the input and write the output.",
                True,
            ),
            _p("input_s3_uri", str, "s3://bucket/prefix/ holding the DICOM files.", True),
            _p("job_name", str, "Job name, 1-64 characters [A-Za-z0-9._/#-]."),
            _p("client_token", str, "Idempotency token."),
            _p("output_s3_uri", str, "s3://bucket/prefix/ for the job's results (required)."),
            _p("input_owner_account_id", str, "12-digit account ID owning the input bucket."),
        ),
        m.StartImportJobResult,
        read_only=False,
    ),
    ToolSpec(
        "get_dicom_import_job",
        "Get an import job: status, input/output URIs, dates and failure message. COMPLETED "
        "means the job ran; per-file outcomes are in its output_s3_uri reports.",
        (_DS, _p("job_id", str, "Import job ID.", True)),
        m.GetImportJobResult,
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        "list_dicom_import_jobs",
        "List a data store's import jobs, one page at a time.",
        (
            _DS,
            _p("job_status", str, "Only this status: SUBMITTED, IN_PROGRESS, COMPLETED, FAILED."),
            _NEXT,
            _MAX,
        ),
        m.ListImportJobsResult,
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        "search_image_sets",
        "Search image sets (SearchImageSets), one page at a time. search_criteria uses the "
        'API shape: {"filters": [{"operator": "EQUAL", "values": [{"DICOMPatientId": "123"}]}], '
        '"sort": {"sortField": "updatedAt", "sortOrder": "DESC"}}. Attributes: DICOMPatientId, '
        "DICOMAccessionNumber, DICOMStudyId, DICOMStudyInstanceUID, DICOMSeriesInstanceUID, "
        "isPrimary (EQUAL); createdAt, updatedAt (epoch seconds or ISO-8601) and "
        'DICOMStudyDateAndTime ({"DICOMStudyDate": "YYYYMMDD"}) with BETWEEN [low, high]. '
        "At most 2 filters, combined with AND. Results carry the DICOM tags, version and "
        "is_primary of each image set.",
        (
            _DS,
            _p("search_criteria", dict[str, Any], "Filters and sort, as described above."),
            _NEXT,
            _MAX,
        ),
        m.SearchImageSetsResult,
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        "get_image_set",
        "Get an image set's properties (latest version, or version_id): state, workflow "
        "status, is_primary, storage tier, ARN, dates.",
        (_DS, _IS, _p("version_id", str, "A version ID such as '1' (default: latest).")),
        m.ImageSetProperties,
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        "get_image_set_metadata",
        "Get an image set's metadata document as JSON (decompressed): Patient, Study, Series "
        "and Instances with DICOM attributes by keyword, and each instance's ImageFrames IDs.",
        (_DS, _IS, _p("version_id", str, "A version ID (default: latest).")),
        m.ImageSetMetadataResult,
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        "list_image_set_versions",
        "List an image set's versions, newest first, one page at a time.",
        (_DS, _IS, _NEXT, _MAX),
        m.ListImageSetVersionsResult,
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        "update_image_set_metadata",
        "Update an image set's metadata (UpdateImageSetMetadata), creating a new version. "
        'update_image_set_metadata_updates is {"DICOMUpdates": {"updatableAttributes": {...}, '
        '"removableAttributes": {...}}} with documents shaped like the metadata, e.g. '
        '{"SchemaVersion": "1.1", "Patient": {"DICOM": {"PatientName": "DOE^JOHN"}}}; an empty '
        "object for a series or instance in removableAttributes removes it. Or "
        '{"revertToVersionId": "1"}. latest_version_id must be the current version '
        "(otherwise conflict_error: read it again).",
        (
            _DS,
            _IS,
            _p("latest_version_id", str, "The image set's current version ID.", True),
            _p(
                "update_image_set_metadata_updates",
                dict[str, Any],
                "DICOMUpdates or revertToVersionId, as described above.",
                True,
            ),
            _p("force", bool, "Allow updates that DICOM constraints otherwise refuse (UIDs...)."),
            _p(
                "include_study_image_sets",
                bool,
                "Apply the same update to the other primary image sets of the study.",
            ),
        ),
        m.ImageSetWriteResult,
        read_only=False,
        destructive=True,
    ),
    ToolSpec(
        "delete_image_set",
        "Delete an image set with all its versions (DeleteImageSet). version_id is not "
        "supported by the API and is refused.",
        (_DS, _IS, _p("version_id", str, "Not supported: DeleteImageSet takes no version.")),
        m.ImageSetWriteResult,
        read_only=False,
        destructive=True,
        idempotent=True,
    ),
    ToolSpec(
        "copy_image_set",
        "Copy an image set, or selected series/instances, into a new image set or into an "
        "existing one (CopyImageSet), within one data store. copy_image_set_information: "
        '{"sourceImageSet": {"latestVersionId": "1", "DICOMCopies": {"copiableAttributes": '
        '{"SchemaVersion": "1.1", "Study": {"Series": {"<SeriesUID>": {"Instances": '
        '{"<SOPUID>": {}}}}}}}}, "destinationImageSet": {"imageSetId": "...", '
        '"latestVersionId": "1"}} (DICOMCopies and destinationImageSet optional).',
        (
            _DS,
            _p("source_image_set_id", str, IMAGE_SET_ID, True),
            _p("copy_image_set_information", dict[str, Any], "Source/destination, as above.", True),
            _p(
                "source_datastore_id",
                str,
                "Must equal datastore_id if given: copies never cross data stores.",
            ),
            _p("force", bool, "Copy even if Patient/Study/Series metadata disagree."),
            _p("promote_to_primary", bool, "Make the copy part of the primary hierarchy."),
        ),
        m.CopyImageSetResult,
        read_only=False,
    ),
    ToolSpec(
        "get_image_frame",
        "Get one image frame's stored pixel data (base64 in image_frame_blob) and its content "
        "type (image/jph for HTJ2K, ...). Frame IDs come from get_image_set_metadata.",
        (
            _DS,
            _IS,
            _p(
                "image_frame_information",
                dict[str, str],
                '{"imageFrameId": "<frame ID from the metadata>"}',
                True,
            ),
        ),
        m.ImageFrameResult,
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        "list_tags_for_resource",
        "List the tags of a data store or image set ARN.",
        (_p("resource_arn", str, "Data store or image set ARN.", True),),
        m.TagsResult,
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        "tag_resource",
        "Add or overwrite tags on a data store or image set ARN.",
        (
            _p("resource_arn", str, "Data store or image set ARN.", True),
            _p("tags", dict[str, str], "Tags, key -> value.", True),
        ),
        m.TagsResult,
        read_only=False,
        idempotent=True,
    ),
    ToolSpec(
        "untag_resource",
        "Remove tags (by key) from a data store or image set ARN.",
        (
            _p("resource_arn", str, "Data store or image set ARN.", True),
            _p("tag_keys", list[str], "Keys to remove.", True),
        ),
        m.TagsResult,
        read_only=False,
        destructive=True,
        idempotent=True,
    ),
)

_PATIENT = _p("patient_id", str, "DICOM Patient ID (exact match).", True)
_STUDY = _p("study_instance_uid", str, "Study Instance UID.", True)
_SERIES = _p("series_instance_uid", str, "Series Instance UID.", True)
_LIMIT = _count(
    "max_results",
    "Most image sets to return, 1 to 10000 (default 1000). Every page is read up to this many; "
    "'truncated' says whether more matched.",
    10000,
)

WORKFLOW_READ_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "search_by_patient_id",
        "Every image set of a patient (all pages), primary and non-primary, compactly: IDs, "
        "study/series UIDs, dates, descriptions, counts. 'primary' counts the primary ones.",
        (_DS, _PATIENT, _LIMIT),
        m.ImageSetListing,
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        "search_by_study_uid",
        "Every image set of a study (all pages), primary and non-primary, compactly.",
        (_DS, _STUDY, _LIMIT),
        m.ImageSetListing,
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        "search_by_series_uid",
        "Every image set holding a series (all pages), primary and non-primary, compactly.",
        (_DS, _SERIES, _LIMIT),
        m.ImageSetListing,
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        "get_patient_studies",
        "A patient's studies: for each study its date, description, accession number, modalities, "
        "series count and the image sets holding it (with is_primary), newest study first.",
        (_DS, _PATIENT, _LIMIT),
        m.PatientStudies,
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        "get_patient_series",
        "A patient's series, read from each image set's metadata (an image set may hold several "
        "series): modality, number, description, body part, instance count, image set, is_primary.",
        (_DS, _PATIENT, _LIMIT),
        m.PatientSeries,
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        "get_study_primary_image_sets",
        "The primary image sets of a study (isPrimary = true), compactly.",
        (_DS, _STUDY),
        m.ImageSetListing,
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        "get_series_primary_image_set",
        "The primary image set of a series (found = false if none).",
        (_DS, _SERIES),
        m.SeriesPrimaryImageSet,
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        "get_patient_dicomweb_studies",
        "A patient's studies in the DICOM JSON model, as QIDO-RS SearchStudies answers (tag keys "
        "such as 0020000D with vr and Value), including number of related series and instances and "
        "modalities in study; from primary image sets, newest update first.",
        (_DS, _PATIENT),
        m.DicomwebStudies,
        read_only=True,
        idempotent=True,
    ),
)

_DRY_RUN = _p("dry_run", bool, "Report exactly what would change, change nothing.")
_SOP = _p("sop_instance_uid", str, "SOP Instance UID.", True)
_ITEMS = (
    " Returns totals and one line per image set (outcome, error if any). Throttling slows the "
    "operation down instead of failing items; writes use each image set's current version and "
    "retry on conflicts. Safe to run again after an interruption: already-deleted image sets "
    "count as done."
)
_EMPTYING = " Removing an image set's last series or instance deletes the image set (none is left empty)."


def _destructive(
    name: str, description: str, params: tuple[Param, ...], idempotent: bool = True, progress: bool = True
) -> ToolSpec:
    return ToolSpec(
        name,
        description + _ITEMS,
        params + (_DRY_RUN,),
        m.WorkflowReport,
        read_only=False,
        destructive=True,
        idempotent=idempotent,
        progress=progress,
    )


WORKFLOW_WRITE_TOOLS: tuple[ToolSpec, ...] = (
    _destructive(
        "delete_patient_studies",
        "Delete every image set of a patient (all studies, primary and non-primary), then search "
        "again and report how many remain (0 proves the erasure).",
        (_DS, _PATIENT),
    ),
    _destructive(
        "delete_study",
        "Delete every image set of a study (primary and non-primary), then search again and report how many remain.",
        (_DS, _STUDY),
    ),
    _destructive(
        "delete_series_by_uid",
        "Remove a series from every image set that holds it; other series stay untouched." + _EMPTYING,
        (_DS, _SERIES),
    ),
    _destructive(
        "delete_instance_in_study",
        "Remove a SOP instance from every image set of a study that holds it." + _EMPTYING,
        (_DS, _STUDY, _SOP),
    ),
    _destructive(
        "delete_instance_in_series",
        "Remove a SOP instance from every image set holding the series." + _EMPTYING,
        (_DS, _SERIES, _SOP),
    ),
    _destructive(
        "update_patient_study_metadata",
        "Update Patient- and Study-level attributes (DICOM keyword -> value, e.g. "
        '{"PatientName": "DOE^JOHN"} and {"StudyDescription": "CT CHEST"}) on every image set '
        "of a study, each as a new version.",
        (
            _DS,
            _STUDY,
            _p("patient_updates", dict[str, Any], "Patient-level attributes to set.", True),
            _p("study_updates", dict[str, Any], "Study-level attributes to set.", True),
        ),
        idempotent=False,
    ),
    _destructive(
        "bulk_update_patient_metadata",
        "Update attributes on every image set of a patient, e.g. to fix a name everywhere. "
        'metadata_updates: {"Patient": {...}, "Study": {...}} or a flat map of Patient-level '
        "attributes.",
        (_DS, _PATIENT, _p("metadata_updates", dict[str, Any], "Attributes to set, as above.", True)),
        idempotent=False,
    ),
    _destructive(
        "bulk_delete_by_criteria",
        "Delete every image set matching criteria: searchable attributes such as "
        '{"DICOMPatientId": "123", "DICOMStudyInstanceUID": "1.2.3"} (at most 2) or the '
        'search_image_sets shape {"filters": [...]}. Counts matches first and deletes nothing '
        "when more than max_deletions match (saying how many did).",
        (
            _DS,
            _p("criteria", dict[str, Any], "What to delete, as above.", True),
            _count("max_deletions", "Safety limit, 1 to 1000 (default 25).", 1000),
        ),
    ),
    _destructive(
        "remove_series_from_image_set",
        "Remove one series from one image set (a new version)." + _EMPTYING,
        (_DS, _IS, _SERIES),
        progress=False,
    ),
    _destructive(
        "remove_instance_from_image_set",
        "Remove one SOP instance from one image set (a new version)." + _EMPTYING,
        (_DS, _IS, _SERIES, _SOP),
        progress=False,
    ),
)

TOOLS: tuple[ToolSpec, ...] = API_TOOLS + WORKFLOW_READ_TOOLS + WORKFLOW_WRITE_TOOLS
