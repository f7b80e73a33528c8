"""The notebook API: the engine's async functions, awaited directly, return plain dicts, fail with
one exception class, and really run concurrently (the local HealthImaging counts requests in
flight)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest
from awslabs.healthimaging_mcp_server import _engine, local

SCRIPT = """
import asyncio, json, sys
from awslabs.healthimaging_mcp_server import _engine

async def main():
    ds = (await _engine.list_datastores())["datastore_summaries"][0]["datastore_id"]
    out = {"list": await _engine.search_image_sets(datastore_id=ds, max_results=50)}
    {extra}
    print(json.dumps(out))

asyncio.run(main())
"""


def engine_env(server: local.LocalHealthImaging, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL_MEDICAL_IMAGING=server.endpoint_url,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION="us-east-1",
        AWS_DISABLE_HOST_PREFIX_INJECTION="true",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
        AWS_MAX_ATTEMPTS="2",
    )
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory):
    """A seeded local HealthImaging that takes 50 ms per request, so overlap is observable."""
    server = local.start(s3_root=tmp_path_factory.mktemp("s3"), seed=True, latency_ms=50)
    yield server
    server.stop()


def run_script(server: local.LocalHealthImaging, extra: str = "") -> subprocess.CompletedProcess:
    # Each script is a fresh interpreter: the engine reads its configuration once per process.
    return subprocess.run(
        [sys.executable, "-c", SCRIPT.replace("{extra}", extra)],
        env=engine_env(server),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_awaited_calls_return_plain_dicts(slow_server):
    done = run_script(
        slow_server,
        extra="""
    first = out["list"]["image_sets_metadata_summaries"][0]
    meta = await _engine.get_image_set_metadata(datastore_id=ds, image_set_id=first["image_set_id"])
    out["types"] = [type(out["list"]).__name__, type(first).__name__, type(meta["image_set_metadata"]).__name__]
    out["patient"] = meta["image_set_metadata"]["Patient"]["DICOM"]["PatientID"]
""",
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["types"] == ["dict", "dict", "dict"]
    assert len(out["list"]["image_sets_metadata_summaries"]) == 4
    assert out["patient"] in {"HI-PAT-A", "HI-PAT-B"}
    assert out["list"]["image_sets_metadata_summaries"][0]["created_at"].endswith("Z")


def test_failures_raise_one_exception_class_with_type_code_and_status(slow_server):
    done = run_script(
        slow_server,
        extra="""
    errors = []
    for call in (
        _engine.get_image_set(datastore_id=ds, image_set_id="not-an-id"),
        _engine.get_image_set(datastore_id=ds, image_set_id="0" * 32),
        _engine.list_datastores(max_results=51),
    ):
        try:
            await call
        except _engine.HealthImagingError as e:
            errors.append([e.type, e.code, e.status, str(e)])
    out["errors"] = errors
""",
    )
    assert done.returncode == 0, done.stderr
    errors = json.loads(done.stdout)["errors"]
    assert [e[0] for e in errors] == ["validation_error", "not_found", "validation_error"]
    assert errors[0][1] is None and "image_set_id" in errors[0][3]
    assert errors[1][1:3] == ["ResourceNotFoundException", 404]
    assert "max_results" in errors[2][3]


def test_two_hundred_concurrent_calls_overlap(slow_server, monkeypatch):
    for k, v in engine_env(slow_server).items():
        monkeypatch.setenv(k, v)

    async def scenario() -> tuple[int, int]:
        await _engine.reset_client()
        ds = (await _engine.list_datastores())["datastore_summaries"][0]["datastore_id"]
        slow_server.reset_peak()
        results = await asyncio.gather(*(_engine.get_datastore(datastore_id=ds) for _ in range(200)))
        assert all(r["datastore_properties"]["datastore_id"] == ds for r in results)
        return len(results), slow_server.stats()["peak_in_flight"]

    count, peak = asyncio.run(scenario())
    assert count == 200
    # One at a time would give 1; the GIL is released and tokio runs the calls together.
    assert peak >= 50, peak


def run_engine_call(env: dict[str, str], call: str) -> dict:
    """Runs one engine call in a fresh interpreter; returns {"ok": result} or {"error": [...]}."""
    script = f"""
import asyncio, json
from awslabs.healthimaging_mcp_server import _engine
async def main():
    try:
        print(json.dumps({{"ok": await _engine.{call}}}))
    except _engine.HealthImagingError as e:
        print(json.dumps({{"error": [e.type, e.code, e.status, str(e)]}}))
asyncio.run(main())
"""
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_region_comes_from_aws_region_default_region_or_profile(slow_server, tmp_path):
    base = engine_env(slow_server)
    del base["AWS_REGION"]
    # The local HealthImaging checks the SigV4 scope, so the region the engine used is visible.
    assert "ok" in run_engine_call({**base, "AWS_DEFAULT_REGION": "us-east-1"}, "list_datastores()")
    wrong = run_engine_call({**base, "AWS_DEFAULT_REGION": "eu-west-1"}, "list_datastores()")
    assert wrong["error"][0] == "auth_error" and "eu-west-1" in wrong["error"][3]
    profile = tmp_path / "config"
    profile.write_text("[default]\nregion = us-east-1\n")
    assert "ok" in run_engine_call({**base, "AWS_CONFIG_FILE": str(profile)}, "list_datastores()")
    # AWS_REGION wins over the others.
    assert "ok" in run_engine_call(
        {**base, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "eu-west-1"}, "list_datastores()"
    )


def test_retry_attempts_follow_aws_max_attempts(tmp_path):
    with local.start(s3_root=tmp_path, throttle_rate=1.0) as throttled:
        for attempts in ("1", "3"):
            before = throttled.stats()["throttled"]
            env = {**engine_env(throttled), "AWS_MAX_ATTEMPTS": attempts, "AWS_RETRY_MODE": "standard"}
            out = run_engine_call(env, "list_datastores()")
            assert out["error"][:3] == ["throttling_error", "ThrottlingException", 429]
            assert throttled.stats()["throttled"] - before == int(attempts)


def test_user_agent_names_this_server(slow_server):
    assert "ok" in run_engine_call(engine_env(slow_server), "list_datastores()")
    assert f"md/awslabs#mcp#healthimaging-mcp-server#{_engine.__version__}" in slow_server.stats()["last_user_agent"]
