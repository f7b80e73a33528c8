"""The MCP server's command line: --help and --version, --demo, and streamable HTTP (stateless,
two instances sharing one local HealthImaging, as behind a load balancer)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time

import pytest
from awslabs.healthimaging_mcp_server import __version__, _engine, local
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from test_engine_api import engine_env

CLI = [sys.executable, "-m", "awslabs.healthimaging_mcp_server.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_help_and_version():
    help_text = subprocess.run([*CLI, "--help"], capture_output=True, text=True, check=True).stdout
    for option in ("--transport", "--readonly", "--local", "--stateless", "--demo"):
        assert option in help_text
    version = subprocess.run([*CLI, "--version"], capture_output=True, text=True, check=True).stdout
    assert version.strip().endswith(__version__)


def test_demo_shows_real_results(tmp_path):
    # The default --local state lives under XDG_DATA_HOME, which the demo's server must see.
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    done = subprocess.run(
        [*CLI, "--local", "--demo"], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    # The data folder is journaled; a clean stop leaves one snapshot of the state.
    assert list((tmp_path / "awslabs-healthimaging-mcp-server" / "local").glob("snapshot-*.log"))
    assert f"{len(_engine.tools())} tools" in done.stdout
    assert "healthimaging-local-samples" in done.stdout
    assert "4 image set(s)" in done.stdout
    assert "HI-PAT-A" in done.stdout
    # The summaries, and the rendered CT slice written to the current directory.
    assert "CT AXIAL: 5 instances, 5 frames, 128x128, 5.0 mm apart (attribute)" in done.stdout
    assert "lung window -600/1500" in done.stdout
    assert (tmp_path / "healthimaging-demo-ct-lung.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def backend(tmp_path):
    server = local.start(s3_root=tmp_path / "s3", seed=True)
    yield server
    server.stop()


def wait_listening(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"port {port} never opened")


def test_stateless_streamable_http_instances_share_nothing_but_the_backend(backend):
    ports = [free_port(), free_port()]
    procs = [
        subprocess.Popen(
            [*CLI, "--transport", "streamable-http", "--port", str(p), "--stateless"],
            env=engine_env(backend),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in ports
    ]
    try:
        for p, proc in zip(ports, procs, strict=True):
            wait_listening(p, proc)

        async def ask(port: int) -> tuple[int, list[str]]:
            async with (
                streamable_http_client(f"http://127.0.0.1:{port}/mcp") as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                tools = (await session.list_tools()).tools
                result = await session.call_tool("list_datastores", {})
                assert not result.is_error, result.content
                return len(tools), [d["datastore_name"] for d in result.structured_content["datastore_summaries"]]

        for p in ports:
            count, names = asyncio.run(ask(p))
            assert count == len(_engine.tools())
            assert names == ["healthimaging-local-samples"]
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)
    # Nothing on stdout in HTTP mode either; the URL and a client config go to stderr.
    assert procs[0].stdout.read() == ""
    err = procs[0].stderr.read()
    assert f"http://127.0.0.1:{ports[0]}/mcp" in err
    assert "Traceback" not in err


def test_no_credentials_or_patient_identifiers_in_logs(backend):
    """Default log level: a session that searches by patient and fails on purpose logs neither the
    secret nor the patient ID."""
    from test_engine_api import engine_env as env_for

    secret = "wrong-secret-do-not-log"
    calls = [
        (
            "search_image_sets",
            {
                "datastore_id": "0" * 32,
                "search_criteria": {"filters": [{"operator": "EQUAL", "values": [{"DICOMPatientId": "HI-PAT-A"}]}]},
            },
        ),
        ("get_image_set", {"datastore_id": "x", "image_set_id": "HI-PAT-A"}),
    ]
    lines = [
        '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",'
        '"capabilities":{},"clientInfo":{"name":"t","version":"1"}}}',
        '{"jsonrpc":"2.0","method":"notifications/initialized"}',
    ]
    for i, (name, args) in enumerate(calls, start=2):
        lines.append(
            json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {"name": name, "arguments": args}})
        )
    proc = subprocess.Popen(
        CLI,
        env={**env_for(backend), "AWS_SECRET_ACCESS_KEY": secret},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    for line in lines:
        proc.stdin.write(line + "\n")
    proc.stdin.flush()
    answers = {}
    while len(answers) < 1 + len(calls):
        msg = json.loads(proc.stdout.readline())
        answers[msg.get("id")] = msg
    _, err = proc.communicate(timeout=30)
    # Both calls failed (wrong secret: auth_error; malformed IDs: validation_error) ...
    texts = [json.loads(answers[i]["result"]["content"][0]["text"]) for i in (2, 3)]
    assert [t["type"] for t in texts] == ["auth_error", "validation_error"]
    # ... and stderr mentions neither the secret nor the patient ID.
    assert secret not in err
    assert "HI-PAT-A" not in err
