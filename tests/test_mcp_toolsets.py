"""The tool list as an MCP host sees it, generated from the Rust registry: small enough for the
original's budget while carrying the service model's constraints, limited to the toolsets asked for
(``--toolsets``, ``HEALTHIMAGING_MCP_TOOLSETS``, ``--readonly`` on top), and the instructions
naming the workflow tools. Over MCP stdio against the local HealthImaging, checked with boto3."""

from __future__ import annotations

import subprocess
import sys
import uuid

from conftest import MCP_MODULE, WORKFLOW_READ_TOOLS, WORKFLOW_WRITE_TOOLS, mcp_env, mcp_session, run_async, tool_error
from test_mcp_tools import DICOMWEB_READ_TOOLS, DICOMWEB_WRITE_TOOLS, EXPORT_TOOLS, JOB_TOOLS, PIXEL_TOOLS

ORIGINAL_TOOLS_LIST_BYTES = 52_000
"""The original 0.1.1 server's tools/list (52 KB): ours, constraints included, must not be larger."""
WORKFLOW_TOOLS = WORKFLOW_READ_TOOLS | WORKFLOW_WRITE_TOOLS


def listing(env, *args: str):
    async def scenario():
        async with mcp_session(env, *args) as (s, init):
            return init, await s.list_tools()

    return run_async(scenario())


def test_original_tool_list_fits_the_original_budget_and_carries_constraints(server):
    # The original's tools (toolsets api and workflows) within the original's budget; the newer
    # toolsets are extra, and a client that wants less asks for fewer toolsets.
    _, result = listing(mcp_env(server.endpoint_url), "--toolsets", "api,workflows")
    size = len(result.model_dump_json(by_alias=True, exclude_none=True))
    assert size <= ORIGINAL_TOOLS_LIST_BYTES, size
    tools = {t.name: t for t in result.tools}
    assert len(tools) == 36
    props = tools["get_image_set"].input_schema["properties"]
    assert props["datastore_id"]["pattern"] == "^(?:[0-9a-z]{32})$"
    assert props["version_id"]["pattern"] == "^(?:\\d+)$"
    listed = tools["list_datastores"].input_schema["properties"]
    assert listed["datastore_status"]["enum"] == ["CREATING", "CREATE_FAILED", "ACTIVE", "DELETING", "DELETED"]
    assert (listed["max_results"]["minimum"], listed["max_results"]["maximum"]) == (1, 50)
    name = tools["create_datastore"].input_schema["properties"]["datastore_name"]
    assert (name["minLength"], name["maxLength"]) == (1, 256)
    for tool in result.tools:
        assert tool.input_schema["additionalProperties"] is False, tool.name
        assert len(tool.description or "") <= 400, tool.name


def test_toolsets_select_groups_and_readonly_applies_on_top(server, client):
    datastore_id = client.create_datastore(datastoreName=f"mcp-ts-{uuid.uuid4().hex[:6]}", clientToken="t" * 32)[
        "datastoreId"
    ]
    env = mcp_env(server.endpoint_url)

    async def scenario():
        out = {}
        async with mcp_session(env, "--toolsets", "workflows") as (s, init):
            out["workflows"] = ({t.name for t in (await s.list_tools()).tools}, init.instructions)
            out["hidden"] = await s.call_tool("delete_datastore", {"datastore_id": datastore_id})
        async with mcp_session(env, "--toolsets", "api") as (s, init):
            out["api"] = ({t.name for t in (await s.list_tools()).tools}, init.instructions)
        async with mcp_session(env, "--toolsets", "workflows", "--readonly") as (s, _):
            out["readonly"] = {t.name for t in (await s.list_tools()).tools}
        async with mcp_session({**env, "HEALTHIMAGING_MCP_TOOLSETS": "api"}, "--readonly") as (s, _):
            out["env"] = {t.name for t in (await s.list_tools()).tools}
        async with mcp_session({**env, "HEALTHIMAGING_MCP_TOOLSETS": "api"}, "--toolsets", "all") as (s, _):
            out["all"] = {t.name for t in (await s.list_tools()).tools}
        return out

    out = run_async(scenario())
    names, instructions = out["workflows"]
    assert names == WORKFLOW_TOOLS
    assert "dry_run" in instructions and "search_by_patient_id" in instructions
    assert "search_image_sets" not in instructions  # only the served tools are described
    refused = tool_error(out["hidden"])
    assert refused["type"] == "validation_error" and "--toolsets workflows" in refused["message"], refused
    assert client.get_datastore(datastoreId=datastore_id)["datastoreProperties"]["datastoreStatus"] == "ACTIVE"
    api_names, api_instructions = out["api"]
    assert len(api_names) == 18 and not api_names & WORKFLOW_TOOLS
    assert "search_image_sets" in api_instructions and "delete_patient_studies" not in api_instructions
    assert out["readonly"] == WORKFLOW_READ_TOOLS
    assert out["env"] == {"list_datastores", "get_datastore", "list_dicom_import_jobs", "get_dicom_import_job"} | {
        "search_image_sets",
        "get_image_set",
        "get_image_set_metadata",
        "list_image_set_versions",
        "get_image_frame",
        "list_tags_for_resource",
    }
    # The flag wins over the environment.
    assert out["all"] == (
        api_names | WORKFLOW_TOOLS | PIXEL_TOOLS | DICOMWEB_READ_TOOLS | DICOMWEB_WRITE_TOOLS | EXPORT_TOOLS | JOB_TOOLS
    )


def test_unknown_toolset_is_refused_at_start():
    done = subprocess.run(
        [sys.executable, "-m", MCP_MODULE, "--toolsets", "api,imaging"],
        env=mcp_env("http://127.0.0.1:9"),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2, done
    assert "unknown toolset 'imaging'; known: api, workflows, pixels, dicomweb" in done.stderr
    assert done.stdout == ""
