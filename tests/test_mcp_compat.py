"""Compatibility with the original awslabs.healthimaging-mcp-server 0.1.1: every original tool
that this server registers accepts every original parameter under the same name, with the same
required-ness and a compatible type, and needs nothing more; the original tools not registered yet
are exactly the export and workflow tools. The tool list is read from the server over stdio, as
an MCP host sees it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import WORKFLOW_READ_TOOLS, WORKFLOW_WRITE_TOOLS, mcp_env, mcp_session, run_async

ORIGINAL_FILE = Path(os.environ.get("HEALTHIMAGING_COMPAT_FILE", "/work/shared/compat/tools-v0.1.1.json"))

# The original 0.1.1 interface (tool -> (parameter, type, required), in the original order), copied
# from its published tool list so the test does not depend on files outside the repository.
ORIGINAL: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "create_datastore": (
        ("datastore_name", "string", True),
        ("kms_key_arn", "string", False),
        ("tags", "object<string,string>", False),
    ),
    "delete_datastore": (("datastore_id", "string", True),),
    "get_datastore": (("datastore_id", "string", True),),
    "list_datastores": (
        ("datastore_status", "string", False),
        ("max_results", "integer", False),
        ("next_token", "string", False),
    ),
    "start_dicom_import_job": (
        ("datastore_id", "string", True),
        ("data_access_role_arn", "string", True),
        ("input_s3_uri", "string", True),
        ("job_name", "string", False),
        ("client_token", "string", False),
        ("output_s3_uri", "string", False),
        ("input_owner_account_id", "string", False),
    ),
    "get_dicom_import_job": (("datastore_id", "string", True), ("job_id", "string", True)),
    "list_dicom_import_jobs": (
        ("datastore_id", "string", True),
        ("job_status", "string", False),
        ("next_token", "string", False),
        ("max_results", "integer", False),
    ),
    "search_image_sets": (
        ("datastore_id", "string", True),
        ("search_criteria", "object", False),
        ("next_token", "string", False),
        ("max_results", "integer", False),
    ),
    "get_image_set": (
        ("datastore_id", "string", True),
        ("image_set_id", "string", True),
        ("version_id", "string", False),
    ),
    "get_image_set_metadata": (
        ("datastore_id", "string", True),
        ("image_set_id", "string", True),
        ("version_id", "string", False),
    ),
    "list_image_set_versions": (
        ("datastore_id", "string", True),
        ("image_set_id", "string", True),
        ("next_token", "string", False),
        ("max_results", "integer", False),
    ),
    "update_image_set_metadata": (
        ("datastore_id", "string", True),
        ("image_set_id", "string", True),
        ("latest_version_id", "string", True),
        ("update_image_set_metadata_updates", "object", True),
    ),
    "delete_image_set": (
        ("datastore_id", "string", True),
        ("image_set_id", "string", True),
        ("version_id", "string", False),
    ),
    "copy_image_set": (
        ("datastore_id", "string", True),
        ("source_image_set_id", "string", True),
        ("copy_image_set_information", "object", True),
        ("source_datastore_id", "string", False),
    ),
    "get_image_frame": (
        ("datastore_id", "string", True),
        ("image_set_id", "string", True),
        ("image_frame_information", "object<string,string>", True),
    ),
    "list_tags_for_resource": (("resource_arn", "string", True),),
    "tag_resource": (("resource_arn", "string", True), ("tags", "object<string,string>", True)),
    "untag_resource": (("resource_arn", "string", True), ("tag_keys", "array<string>", True)),
    "start_dicom_export_job": (
        ("datastore_id", "string", True),
        ("data_access_role_arn", "string", True),
        ("output_s3_uri", "string", True),
        ("job_name", "string", False),
        ("client_token", "string", False),
        ("study_instance_uid", "string", False),
        ("series_instance_uid", "string", False),
        ("sop_instance_uid", "string", False),
        ("submitted_before", "string", False),
        ("submitted_after", "string", False),
    ),
    "get_dicom_export_job": (("datastore_id", "string", True), ("job_id", "string", True)),
    "list_dicom_export_jobs": (
        ("datastore_id", "string", True),
        ("job_status", "string", False),
        ("next_token", "string", False),
        ("max_results", "integer", False),
    ),
    "delete_patient_studies": (("datastore_id", "string", True), ("patient_id", "string", True)),
    "delete_study": (("datastore_id", "string", True), ("study_instance_uid", "string", True)),
    "search_by_patient_id": (
        ("datastore_id", "string", True),
        ("patient_id", "string", True),
        ("max_results", "integer", False),
    ),
    "search_by_study_uid": (
        ("datastore_id", "string", True),
        ("study_instance_uid", "string", True),
        ("max_results", "integer", False),
    ),
    "search_by_series_uid": (
        ("datastore_id", "string", True),
        ("series_instance_uid", "string", True),
        ("max_results", "integer", False),
    ),
    "get_patient_studies": (("datastore_id", "string", True), ("patient_id", "string", True)),
    "get_patient_series": (("datastore_id", "string", True), ("patient_id", "string", True)),
    "get_study_primary_image_sets": (("datastore_id", "string", True), ("study_instance_uid", "string", True)),
    "delete_series_by_uid": (("datastore_id", "string", True), ("series_instance_uid", "string", True)),
    "get_series_primary_image_set": (("datastore_id", "string", True), ("series_instance_uid", "string", True)),
    "get_patient_dicomweb_studies": (("datastore_id", "string", True), ("patient_id", "string", True)),
    "delete_instance_in_study": (
        ("datastore_id", "string", True),
        ("study_instance_uid", "string", True),
        ("sop_instance_uid", "string", True),
    ),
    "delete_instance_in_series": (
        ("datastore_id", "string", True),
        ("series_instance_uid", "string", True),
        ("sop_instance_uid", "string", True),
    ),
    "update_patient_study_metadata": (
        ("datastore_id", "string", True),
        ("study_instance_uid", "string", True),
        ("patient_updates", "object", True),
        ("study_updates", "object", True),
    ),
    "bulk_update_patient_metadata": (
        ("datastore_id", "string", True),
        ("patient_id", "string", True),
        ("metadata_updates", "object", True),
    ),
    "bulk_delete_by_criteria": (
        ("datastore_id", "string", True),
        ("criteria", "object", True),
        ("max_deletions", "integer", False),
    ),
    "remove_series_from_image_set": (
        ("datastore_id", "string", True),
        ("image_set_id", "string", True),
        ("series_instance_uid", "string", True),
    ),
    "remove_instance_from_image_set": (
        ("datastore_id", "string", True),
        ("image_set_id", "string", True),
        ("series_instance_uid", "string", True),
        ("sop_instance_uid", "string", True),
    ),
}

EXPORT_TOOLS = {"start_dicom_export_job", "get_dicom_export_job", "list_dicom_export_jobs"}
WORKFLOW_TOOLS = WORKFLOW_READ_TOOLS | WORKFLOW_WRITE_TOOLS
API_TOOLS = sorted(set(ORIGINAL) - EXPORT_TOOLS - WORKFLOW_TOOLS)
PENDING_TOOLS = EXPORT_TOOLS
REGISTERED_TOOLS = sorted(set(ORIGINAL) - PENDING_TOOLS)


def schema_type(prop: dict) -> str:
    """A property's JSON schema in the original's type notation; ``None`` allowed for optional ones."""
    variants = [v for v in prop.get("anyOf", [prop]) if v.get("type") != "null"]
    if len(variants) != 1:
        return f"<{json.dumps(prop, sort_keys=True)}>"
    (v,) = variants
    kind = v.get("type")
    if kind == "object":
        values = v.get("additionalProperties")
        if isinstance(values, dict) and values.get("type"):
            return f"object<string,{values['type']}>"
        return "object" if values in (None, True, {}) else f"<{json.dumps(v, sort_keys=True)}>"
    if kind == "array":
        return f"array<{v.get('items', {}).get('type')}>"
    return str(kind)


def incompatibilities(name: str, input_schema: dict) -> list[str]:
    """How a tool's input schema breaks calls made with the original's parameters (empty if it doesn't)."""
    properties = input_schema.get("properties", {})
    required = set(input_schema.get("required", []))
    problems = []
    for param, type_, was_required in ORIGINAL[name]:
        if param not in properties:
            problems.append(f"{name}: parameter {param!r} is missing")
            continue
        if (param in required) != was_required:
            want = "required" if was_required else "optional"
            problems.append(f"{name}: parameter {param!r} must be {want}")
        got = schema_type(properties[param])
        if got != type_:
            problems.append(f"{name}: parameter {param!r} has type {got}, the original {type_}")
    original_params = {p for p, _, _ in ORIGINAL[name]}
    for param in sorted(required - original_params):
        problems.append(f"{name}: new parameter {param!r} is required (original calls lack it)")
    return problems


@pytest.fixture(scope="module")
def tools() -> dict[str, dict]:
    """Registered tool name -> input schema, as listed over MCP."""

    async def scenario():
        async with mcp_session(mcp_env("http://127.0.0.1:9")) as (session, _):
            return (await session.list_tools()).tools

    return {t.name: t.input_schema for t in run_async(scenario())}


def test_embedded_interface_matches_published_file():
    if not ORIGINAL_FILE.is_file():
        pytest.skip(f"{ORIGINAL_FILE} not present")
    published = json.loads(ORIGINAL_FILE.read_text())["tools"]
    assert {t["tool"]: tuple((p["name"], p["type"], p["required"]) for p in t["params"]) for t in published} == ORIGINAL
    assert len(published) == len(ORIGINAL) == 39


@pytest.mark.parametrize("name", REGISTERED_TOOLS)
def test_registered_tool_accepts_original_parameters(tools, name):
    assert name in tools, f"{name} is not registered"
    assert incompatibilities(name, tools[name]) == []


def test_unregistered_original_tools_are_exactly_the_pending_ones(tools):
    assert len(API_TOOLS) == 18
    assert len(EXPORT_TOOLS) == 3 and len(WORKFLOW_TOOLS) == 18
    assert set(ORIGINAL) >= EXPORT_TOOLS | WORKFLOW_TOOLS
    missing = set(ORIGINAL) - set(tools)
    assert missing == PENDING_TOOLS, {
        "registered but expected later": sorted(PENDING_TOOLS - missing),
        "expected but not registered": sorted(missing - PENDING_TOOLS),
    }
    assert set(tools) - set(ORIGINAL) == set(), "tools the original did not have"


def test_checker_reports_every_kind_of_incompatibility(tools):
    """The check above fails on a missing parameter, a changed required-ness or type, or a new
    required parameter (so a green run means something)."""
    schema = json.loads(json.dumps(tools["create_datastore"]))
    assert incompatibilities("create_datastore", schema) == []

    broken = json.loads(json.dumps(schema))
    del broken["properties"]["kms_key_arn"]
    assert incompatibilities("create_datastore", broken) == ["create_datastore: parameter 'kms_key_arn' is missing"]

    broken = json.loads(json.dumps(schema))
    broken["required"] = ["datastore_name", "tags"]
    assert incompatibilities("create_datastore", broken) == ["create_datastore: parameter 'tags' must be optional"]

    broken = json.loads(json.dumps(schema))
    broken["required"] = []
    assert incompatibilities("create_datastore", broken) == [
        "create_datastore: parameter 'datastore_name' must be required"
    ]

    broken = json.loads(json.dumps(schema))
    broken["properties"]["tags"] = {"type": "array", "items": {"type": "string"}}
    assert incompatibilities("create_datastore", broken) == [
        "create_datastore: parameter 'tags' has type array<string>, the original object<string,string>"
    ]

    broken = json.loads(json.dumps(schema))
    broken["required"] = ["datastore_name", "client_token"]
    assert incompatibilities("create_datastore", broken) == [
        "create_datastore: new parameter 'client_token' is required (original calls lack it)"
    ]
