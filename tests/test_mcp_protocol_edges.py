"""The MCP edges of the server: stdio frames it cannot parse, a data store resource that does not
exist, a workflow whose every item failed, a progress notification that cannot be sent. Against
the local HealthImaging, checked with boto3 where data could change."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import textwrap
import threading
from pathlib import Path

import pytest
from awslabs.healthimaging_mcp_server.server import _ProgressReporter
from conftest import MCP_CALL_TIMEOUT, MCP_MODULE, Seeded, mcp_env, mcp_session, run_async, search_all
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.shared.exceptions import MCPError

UNKNOWN_ID = "0" * 32


def frame(message: dict) -> bytes:
    return json.dumps(message).encode() + b"\n"


INITIALIZE = frame(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}},
    }
)
UNPARSEABLE = {
    "truncated": b'{"jsonrpc": "2.0", "id": 2, "method": "pi',
    "not json": b"hello there",
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "lone surrogate": b'{"jsonrpc": "2.0", "id": 3, "method": "ping", "params": {"x": "\\ud800"}}',
    "invalid utf-8": b"\xff\xfe\xfd",
}


def test_unparseable_stdio_frames_get_parse_errors_and_the_server_keeps_serving(server):
    frames = [INITIALIZE, frame({"jsonrpc": "2.0", "method": "notifications/initialized"})]
    frames += [raw + b"\n" for raw in UNPARSEABLE.values()]
    frames.append(frame({"jsonrpc": "2.0", "id": "not-a-message"}))  # JSON, but no method/result
    frames.append(b"\n")  # a blank line asks nothing and gets nothing
    frames.append(frame({"jsonrpc": "2.0", "id": 99, "method": "ping"}))
    proc = subprocess.Popen(
        [sys.executable, "-m", MCP_MODULE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=mcp_env(server.endpoint_url),
    )
    # Stdin stays open until the ping is answered: at end of input the server stops, and a
    # request still being handled then would go unanswered for a reason unrelated to this test.
    watchdog = threading.Timer(MCP_CALL_TIMEOUT, proc.kill)
    watchdog.start()
    try:
        proc.stdin.write(b"".join(frames))
        proc.stdin.flush()
        replies = []
        for line in proc.stdout:
            replies.append(json.loads(line))
            if replies[-1].get("id") == 99:
                break
    finally:
        watchdog.cancel()
        proc.stdin.close()
        proc.wait(timeout=MCP_CALL_TIMEOUT)
    assert replies[0]["id"] == 1 and "result" in replies[0]
    errors = replies[1:-1]
    assert [e["error"]["code"] for e in errors] == [-32700] * len(UNPARSEABLE) + [-32600], errors
    assert all(e["id"] is None and e["jsonrpc"] == "2.0" for e in errors), errors
    assert replies[-1] == {"jsonrpc": "2.0", "id": 99, "result": {}}  # still serving after them


def test_unknown_datastore_resource_is_a_structured_not_found_without_traceback(server):
    async def scenario(errlog):
        params = StdioServerParameters(
            command=sys.executable, args=["-m", MCP_MODULE], env=mcp_env(server.endpoint_url)
        )
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as s:
            await s.initialize()
            errors = []
            for datastore_id in (UNKNOWN_ID, "not-a-datastore-id"):
                with pytest.raises(MCPError) as caught:
                    await s.read_resource(f"healthimaging://datastores/{datastore_id}")
                errors.append(caught.value)
            return errors

    with tempfile.TemporaryFile(mode="w+") as errlog:
        unknown, invalid = run_async(scenario(errlog))
        errlog.seek(0)
        logged = errlog.read()
    assert unknown.code == invalid.code == -32602  # the SDK's code for a resource that does not exist
    body = json.loads(unknown.message)
    assert body["error"] is True and body["type"] == "not_found", body
    assert UNKNOWN_ID in body["message"]
    assert json.loads(invalid.message)["type"] == "validation_error"
    assert "Traceback" not in logged and "unexpected" not in logged, logged


def test_workflow_whose_every_item_failed_is_an_error_result_carrying_its_report(server, client, seeded: Seeded):
    ds = seeded.datastore_id
    found, _ = search_all(client, ds, page_size=50)
    study_uid = found[0]["DICOMTags"]["DICOMStudyInstanceUID"]
    study_sets = {
        s["imageSetId"]: str(s["version"]) for s in found if s["DICOMTags"]["DICOMStudyInstanceUID"] == study_uid
    }

    async def scenario():
        async with mcp_session(mcp_env(server.endpoint_url)) as (s, _):
            # HealthImaging refuses a StudyInstanceUID change without force on every image set.
            return await s.call_tool(
                "update_patient_study_metadata",
                {
                    "datastore_id": ds,
                    "study_instance_uid": study_uid,
                    "patient_updates": {},
                    "study_updates": {"StudyInstanceUID": "1.2.3.4"},
                },
            )

    result = run_async(scenario())
    assert result.is_error is True
    report = json.loads(result.content[0].text)
    assert report == result.structured_content
    assert report["total"] == len(study_sets) >= 1 and report["failed"] == report["total"], report
    assert {i["image_set_id"] for i in report["items"]} == set(study_sets)
    assert all(i["outcome"] == "failed" and i["error"]["type"] == "validation_error" for i in report["items"])
    after, _ = search_all(client, ds, page_size=50)
    assert {s["imageSetId"]: str(s["version"]) for s in after if s["imageSetId"] in study_sets} == study_sets


# ---- progress notifications that cannot be sent ------------------------------------------------


class BrokenProgress:
    """A request context whose client went away: every progress notification raises."""

    def __init__(self) -> None:
        self.attempts = 0

    async def report_progress(self, progress: float, total: float | None = None, message: str | None = None) -> None:
        self.attempts += 1
        raise ConnectionResetError("the client closed its stream")


def test_progress_reporter_stops_after_a_failed_send_and_closes():
    async def scenario():
        ctx = BrokenProgress()
        reporter = _ProgressReporter(ctx)  # type: ignore[arg-type]
        for done in range(1, 6):
            reporter.report(done, 5)
            await asyncio.sleep(0)
        await asyncio.wait_for(reporter.close(), MCP_CALL_TIMEOUT)  # a safety net: the old code never returned
        return ctx.attempts

    assert run_async(scenario()) == 1  # tried once, then no more progress for this call


BROKEN_PROGRESS_SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    sys.path.insert(0, sys.argv[1])
    from test_mcp_protocol_edges import BrokenProgress
    from awslabs.healthimaging_mcp_server.server import create_server

    async def main():
        ctx = BrokenProgress()
        result = await create_server().call_tool(
            "delete_patient_studies", {"datastore_id": sys.argv[2], "patient_id": "HI-PAT-A"}, ctx
        )
        print(json.dumps({"attempts": ctx.attempts, "report": result.structured_content}))

    asyncio.run(main())
    """
)


def test_destructive_workflow_answers_although_its_progress_cannot_be_sent(server, client, seeded: Seeded):
    ds = seeded.datastore_id
    found, _ = search_all(client, ds, page_size=50)
    patient_a = {s["imageSetId"] for s in found if s["DICOMTags"]["DICOMPatientId"] == "HI-PAT-A"}
    assert patient_a
    tests_dir = str(Path(__file__).parent)
    proc = subprocess.run(
        [sys.executable, "-c", BROKEN_PROGRESS_SCRIPT, tests_dir, ds],
        capture_output=True,
        text=True,
        env=mcp_env(server.endpoint_url),
        timeout=MCP_CALL_TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["attempts"] == 1
    report = out["report"]
    assert report["failed"] == 0 and {i["image_set_id"] for i in report["items"]} == patient_a
    remaining, _ = search_all(
        client, ds, {"filters": [{"operator": "EQUAL", "values": [{"DICOMPatientId": "HI-PAT-A"}]}]}
    )
    assert remaining == []
