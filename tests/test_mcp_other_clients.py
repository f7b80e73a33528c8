"""Clients other than the Python SDK's stdio client.

- The official MCP Inspector in CLI mode (npm ``@modelcontextprotocol/inspector``) starts the
  server with ``--local``, lists its tools and calls tools, as a user checking a server would.
  It is installed once with npm into ``<venv>/mcp-inspector`` (or ``$MCP_INSPECTOR_DIR``); the
  test is skipped, saying why, only when npm is missing or cannot install it.
- A streamable-HTTP session from the SDK's HTTP client running what the front-door tests do not:
  a destructive workflow with progress notifications streamed back, checked with boto3, the
  data stores as resources, and a structured error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from awslabs.healthimaging_mcp_server import _engine, local
from conftest import (
    MCP_CALL_TIMEOUT,
    MCP_MODULE,
    make_client,
    mcp_env,
    run_async,
    search_all,
    seed_datastore,
    tool_error,
)
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from test_mcp_http_front_door import http_server
from test_mcp_workflow_writes import Progress

INSPECTOR = "@modelcontextprotocol/inspector@2.12.0"
INSPECTOR_TIMEOUT = 300.0
"""Upper bound for one Inspector run (a safety net on a loaded machine, not a performance bar)."""


def inspector() -> Path:
    """The Inspector's launcher, installed with npm on first use."""
    folder = Path(os.environ.get("MCP_INSPECTOR_DIR") or Path(sys.prefix) / "mcp-inspector")
    launcher = folder / "node_modules" / ".bin" / "mcp-inspector"
    if launcher.exists():
        return launcher
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(f"npm is not installed, so the MCP Inspector ({INSPECTOR}) cannot be installed")
    done = subprocess.run(
        [npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", INSPECTOR],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0 or not launcher.exists():
        pytest.skip(f"npm could not install {INSPECTOR}: {(done.stderr or done.stdout)[-800:]}")
    return launcher


def run_inspector(launcher: Path, home: Path, data_dir: Path, *method: str, tool_error: bool = False) -> dict:
    """``mcp-inspector --cli <method...> -- <this server> --local``; its JSON answer. With
    `tool_error`, the call must end in a tool error (the Inspector then exits 5)."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home)}
    server_env = [f"XDG_DATA_HOME={home}"] + (
        [f"PYTHONPATH={os.environ['PYTHONPATH']}"] if "PYTHONPATH" in os.environ else []
    )
    argv = [str(launcher), "--cli", "--connect-timeout", str(int(INSPECTOR_TIMEOUT * 1000))]
    for pair in server_env:
        argv += ["-e", pair]
    argv += [*method, "--", sys.executable, "-m", MCP_MODULE, "--local", "--local-data-dir", str(data_dir)]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=INSPECTOR_TIMEOUT)
    assert done.returncode == (5 if tool_error else 0), (done.stdout[-2000:], done.stderr[-2000:])
    return json.loads(done.stdout)


def test_mcp_inspector_cli_lists_the_tools_and_calls_them_against_local(tmp_path):
    launcher = inspector()
    home, data_dir = tmp_path / "home", tmp_path / "local"
    home.mkdir()

    listed = run_inspector(launcher, home, data_dir, "--method", "tools/list")
    names = {t["name"] for t in listed["tools"]}
    assert names == {t["name"] for t in _engine.tools()}
    delete = next(t for t in listed["tools"] if t["name"] == "delete_patient_studies")
    assert delete["annotations"]["destructiveHint"] is True
    assert set(delete["inputSchema"]["required"]) == {"datastore_id", "patient_id"}

    stores = run_inspector(launcher, home, data_dir, "--method", "tools/call", "--tool-name", "list_datastores")
    assert stores["isError"] is False, stores
    summaries = json.loads(stores["content"][0]["text"])["datastore_summaries"]
    assert [s["datastore_name"] for s in summaries] == [local.SEED_DATASTORE_NAME]
    datastore_id = summaries[0]["datastore_id"]

    studies = run_inspector(
        launcher,
        home,
        data_dir,
        *("--method", "tools/call", "--tool-name", "get_patient_studies"),
        *("--tool-arg", f"datastore_id={datastore_id}", "patient_id=HI-PAT-A"),
    )
    assert studies["isError"] is False, studies
    study_ids = {s["study_id"] for s in studies["structuredContent"]["studies"]}

    missing = run_inspector(
        launcher,
        home,
        data_dir,
        *("--method", "tools/call", "--tool-name", "get_image_set"),
        *("--tool-arg", f"datastore_id={datastore_id}", "image_set_id=" + "0" * 32),
        tool_error=True,
    )
    assert missing["isError"] is True
    assert json.loads(missing["content"][0]["text"])["type"] == "not_found"

    # Independently: the same data folder opened by a local HealthImaging, read with boto3.
    with local.start(data_dir=data_dir) as again:
        client = make_client(again.endpoint_url)
        (store,) = client.list_datastores()["datastoreSummaries"]
        assert store["datastoreId"] == datastore_id
        criteria = {"filters": [{"operator": "EQUAL", "values": [{"DICOMPatientId": "HI-PAT-A"}]}]}
        tags = [s["DICOMTags"] for s in search_all(client, datastore_id, criteria, page_size=50)[0]]
    assert study_ids == {t["DICOMStudyId"] for t in tags}


# ---- streamable HTTP ---------------------------------------------------------------------------


def test_streamable_http_session_runs_a_workflow_with_progress_resources_and_errors(server, client, samples_uri):
    seeded = seed_datastore(client, samples_uri)
    ds = seeded.datastore_id
    criteria = {"filters": [{"operator": "EQUAL", "values": [{"DICOMPatientId": "HI-PAT-B"}]}]}
    doomed = {s["imageSetId"] for s in search_all(client, ds, criteria, page_size=50)[0]}
    everything = {s["imageSetId"] for s in search_all(client, ds, page_size=50)[0]}
    assert len(doomed) == 2
    progress = Progress()

    async def session(url: str):
        async with streamable_http_client(url) as (read, write), ClientSession(read, write) as s:
            await s.initialize()
            resources = {str(r.uri) for r in (await s.list_resources()).resources}
            store = json.loads((await s.read_resource(f"healthimaging://datastores/{ds}")).contents[0].text)
            deleted = await s.call_tool(
                "delete_patient_studies", {"datastore_id": ds, "patient_id": "HI-PAT-B"}, progress_callback=progress
            )
            bad = await s.call_tool(
                "delete_patient_studies", {"datastore_id": ds, "patient_id": "HI-PAT-B", "force": 1}
            )
            return resources, store, deleted, bad

    with http_server(mcp_env(server.endpoint_url), host="127.0.0.1") as (url, _):
        resources, store, deleted, bad = run_async(session(url), MCP_CALL_TIMEOUT)

    assert "healthimaging://datastores" in resources
    props = store["datastore_properties"]
    assert (props["datastore_id"], props["datastore_name"]) == (ds, seeded.datastore_name)
    assert not deleted.is_error, deleted.content
    report = deleted.structured_content
    assert report["total"] == 2 and report["failed"] == 0, report
    assert {i["image_set_id"]: i["outcome"] for i in report["items"]} == dict.fromkeys(doomed, "image_set_deleted")
    progress.assert_complete(2)  # streamed over HTTP before the result
    assert tool_error(bad)["type"] == "validation_error"
    # boto3: exactly HI-PAT-B's image sets are gone.
    assert {s["imageSetId"] for s in search_all(client, ds, page_size=50)[0]} == everything - doomed
