"""Compatibility with the original awslabs.healthimaging-mcp-server 0.1.1: every original tool
that this server registers accepts every original parameter under the same name, with the same
required-ness and a compatible type, and needs nothing more; the original tools not registered yet
are exactly the export and workflow tools. The tool list is read from the server over stdio, as
an MCP host sees it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import WORKFLOW_READ_TOOLS, WORKFLOW_WRITE_TOOLS, mcp_env, mcp_session, run_async
from test_mcp_tools import DICOMWEB_READ_TOOLS, DICOMWEB_WRITE_TOOLS, EXPORT_TOOLS, JOB_TOOLS, PIXEL_TOOLS

ORIGINAL_FILE = Path(__file__).parent / "fixtures" / "tools-v0.1.1.json"
"""The original 0.1.1 interface as published (tool -> parameters with type and required-ness), kept in
the repository so this test runs everywhere."""

ORIGINAL: dict[str, tuple[tuple[str, str, bool], ...]] = {
    t["tool"]: tuple((p["name"], p["type"], p["required"]) for p in t["params"])
    for t in json.loads(ORIGINAL_FILE.read_text())["tools"]
}

WORKFLOW_TOOLS = WORKFLOW_READ_TOOLS | WORKFLOW_WRITE_TOOLS
API_TOOLS = sorted(set(ORIGINAL) - EXPORT_TOOLS - WORKFLOW_TOOLS)
PENDING_TOOLS: set[str] = set()
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


def test_the_published_interface_is_complete():
    assert len(ORIGINAL) == 39
    assert ORIGINAL["create_datastore"] == (
        ("datastore_name", "string", True),
        ("kms_key_arn", "string", False),
        ("tags", "object<string,string>", False),
    )


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
    # Beyond the original: only the newer toolsets.
    assert set(tools) - set(ORIGINAL) == PIXEL_TOOLS | DICOMWEB_READ_TOOLS | DICOMWEB_WRITE_TOOLS | JOB_TOOLS


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
