"""Logs: the MCP server runs a read, a write workflow and errors (not found, bad input, a wrong
secret) at the default log level and at debug, with distinctive fake credentials (and a session
token), its stderr captured and its home, data, cache and temporary folders pointed at an empty
folder. No access key ID, secret or session token appears in its stderr or in any file it
writes, at either level; at the default level no patient ID, patient name or UID of the fixtures
appears either. The local HealthImaging's own stderr (this process) is checked the same way."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import (
    MCP_MODULE,
    get_metadata,
    make_client,
    mcp_env,
    ok,
    run_async,
    seed_datastore,
    stage_samples,
    start_server,
    tool_error,
)
from mcp import ClientSession, StdioServerParameters, stdio_client

ACCESS_KEY_ID = "AKIABNLOGPROBE7Q2ZWX"
SECRET = "bnLogProbeSecret+Never/Logged0123456789ab"
SESSION_TOKEN = "bnLogProbeSessionToken/Never+Logged/" + "Q7" * 24
WRONG_SECRET = "bnLogProbeWrongSecret+Never/Logged9876543"
CREDENTIALS = (ACCESS_KEY_ID, SECRET, SESSION_TOKEN, WRONG_SECRET)
NEW_NAME = "LOGPROBE^RENAMED"
"""A patient name the write workflow sets: patient data that must not be logged either."""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A local HealthImaging that accepts only the distinctive credentials, and boto3 for it."""
    root = tmp_path_factory.mktemp("logs")
    with start_server(root, access_key_id=ACCESS_KEY_ID, secret_access_key=SECRET) as srv:
        client = make_client(srv.endpoint_url, access_key_id=ACCESS_KEY_ID, secret_access_key=SECRET)
        yield srv, client, stage_samples(srv.s3_root)


def patient_data(manifest: dict) -> set[str]:
    """Every patient ID, patient name, accession number and UID of the fixtures."""
    keys = ("patient_id", "patient_name", "accession_number", "study_instance_uid", "series_instance_uid")
    out = {NEW_NAME}
    for f in manifest["files"]:
        out.update(str(f[k]) for k in keys)
        out.add(f["sop_instance_uid"])
    return out


def server_env(srv, home: Path, level: str | None, secret: str = SECRET) -> dict[str, str]:
    folders = {
        name: str(home / name.lower())
        for name in ("HOME", "TMPDIR", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")
    }
    for folder in folders.values():
        Path(folder).mkdir(parents=True, exist_ok=True)
    env = mcp_env(
        srv.endpoint_url,
        AWS_ACCESS_KEY_ID=ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=secret,
        AWS_SESSION_TOKEN=SESSION_TOKEN,
        **folders,
    )
    if level is not None:
        env["FASTMCP_LOG_LEVEL"] = level
    return env


async def session_logged(env: dict[str, str], stderr: Path, steps):
    """Runs `steps(session)` against the MCP server over stdio, its stderr appended to `stderr`."""
    params = StdioServerParameters(command=sys.executable, args=["-m", MCP_MODULE], env=env)
    with stderr.open("a") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as s:
            await s.initialize()
            return await steps(s)


def run_flows(world, tmp_path: Path, level: str | None) -> tuple[str, Path, dict]:
    """The read, the write workflow and the errors at `level`; returns (the server's stderr, its
    folders, the data store's state)."""
    srv, client, samples = world
    seeded = seed_datastore(client, samples)
    ds = seeded.datastore_id
    a_set = next(iter(seeded.image_sets.values()))
    home, stderr = tmp_path / "home", tmp_path / "stderr.txt"
    stderr.touch()

    async def flows(s):
        studies = await ok(s, "get_patient_studies", datastore_id=ds, patient_id="HI-PAT-A")
        assert studies, studies
        doc = await ok(s, "get_image_set_metadata", datastore_id=ds, image_set_id=a_set)
        assert doc, doc
        report = await ok(
            s,
            "bulk_update_patient_metadata",
            datastore_id=ds,
            patient_id="HI-PAT-B",
            metadata_updates={"PatientName": NEW_NAME},
        )
        missing = tool_error(await s.call_tool("get_image_set", {"datastore_id": ds, "image_set_id": "0" * 32}))
        # A patient ID where a data store ID belongs, and a patient name as an unknown argument.
        bad = tool_error(
            await s.call_tool("search_by_patient_id", {"datastore_id": "HI-PAT-A", "patient_id": "HI-PAT-A"})
        )
        unknown = tool_error(
            await s.call_tool("get_patient_studies", {"datastore_id": ds, "patient_id": "HI-PAT-A", "name": "DOE^JANE"})
        )
        assert unknown["type"] == "validation_error", unknown
        return report, missing, bad

    report, missing, bad = run_async(session_logged(server_env(srv, home, level), stderr, flows))
    assert report["total"] == 2 and report["failed"] == 0, report
    assert missing["type"] == "not_found" and bad["type"] == "validation_error", (missing, bad)

    async def wrong_secret(s):
        return tool_error(await s.call_tool("get_patient_studies", {"datastore_id": ds, "patient_id": "HI-PAT-A"}))

    denied = run_async(session_logged(server_env(srv, home, level, WRONG_SECRET), stderr, wrong_secret))
    assert denied["type"] == "auth_error", denied
    renamed = {
        image_set_id: get_metadata(client, ds, image_set_id)["Patient"]["DICOM"]["PatientName"]
        for image_set_id in seeded.image_sets.values()
    }
    return stderr.read_text(), home, renamed


def written_files(home: Path) -> dict[Path, str]:
    return {p: p.read_text(errors="replace") for p in home.rglob("*") if p.is_file()}


def assert_absent(secrets, where: str, text: str) -> None:
    found = sorted(s for s in secrets if s in text)
    assert not found, f"{where} contains {found}"


@pytest.mark.parametrize("level", [None, "DEBUG"], ids=["default-level", "debug"])
def test_no_credentials_in_logs_and_no_patient_data_at_the_default_level(world, tmp_path, manifest, capfd, level):
    stderr, home, renamed = run_flows(world, tmp_path, level)
    # The write workflow really ran: both image sets of HI-PAT-B carry the new name.
    assert sorted(renamed.values()).count(NEW_NAME) == 2, renamed
    assert_absent(CREDENTIALS, "the MCP server's stderr", stderr)
    for path, text in written_files(home).items():
        assert_absent(CREDENTIALS, str(path), text)
    local_stderr = capfd.readouterr().err
    assert_absent(CREDENTIALS, "the local HealthImaging's stderr", local_stderr)
    # The capture works: the write workflow's run summary (info level) shows at debug only.
    assert ("bulk_update_patient_metadata finished" in stderr) == (level == "DEBUG"), stderr[-2000:]
    if level is None:
        assert_absent(patient_data(manifest), "the MCP server's stderr at the default level", stderr)


def test_streamable_http_at_debug_logs_no_bearer_token_or_credentials(world, tmp_path):
    """The HTTP front door at debug: a refused token, a wrong one and the right one, then a call;
    neither the token nor the AWS credentials reach the server's stderr."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client
    from test_mcp_http_front_door import http_server

    srv, _, _ = world
    token = "bnLogProbeBearerToken-Never-Logged-4242"
    env = {**server_env(srv, tmp_path / "home", "DEBUG"), "HEALTHIMAGING_MCP_AUTH_TOKEN": token}

    async def connect(url: str, bearer: str) -> bool:
        try:
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {bearer}"}, timeout=60) as http,
                streamable_http_client(url, http_client=http) as (read, write, *_),
                ClientSession(read, write) as s,
            ):
                await s.initialize()
                listed = await s.call_tool("list_datastores", {})
                return not listed.is_error
        except Exception:
            return False

    with http_server(env, host="127.0.0.1") as (url, stderr):
        assert not run_async(connect(url, token[:-1] + "X"))
        assert run_async(connect(url, token))
    text = "\n".join(stderr)
    # Debug logging ran: the SDK logged the session and the stream of answers.
    assert "Created new transport" in text and "chunk:" in text, text[-2000:]
    assert_absent((token, *CREDENTIALS), "the MCP server's stderr over HTTP at debug", text)
