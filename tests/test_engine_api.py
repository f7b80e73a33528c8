"""The notebook API (``awslabs.healthimaging_mcp_server.engine``): one async function per tool,
awaited directly, returning plain dicts, failing with one exception class, really running
concurrently (the local HealthImaging counts requests in flight); its stub and module are what the
generator makes from the registry, and agree."""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from awslabs.healthimaging_mcp_server import _engine, engine, local
from conftest import search_all

SCRIPT = """
import asyncio, json, sys
from awslabs.healthimaging_mcp_server import engine

async def main():
    ds = (await engine.list_datastores())["datastore_summaries"][0]["datastore_id"]
    out = {"list": await engine.search_image_sets(datastore_id=ds, max_results=50)}
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
    meta = await engine.get_image_set_metadata(datastore_id=ds, image_set_id=first["image_set_id"])
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
        engine.get_image_set(datastore_id=ds, image_set_id="not-an-id"),
        engine.get_image_set(datastore_id=ds, image_set_id="0" * 32),
        engine.list_datastores(max_results=51),
    ):
        try:
            await call
        except engine.HealthImagingError as e:
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
        ds = (await engine.list_datastores())["datastore_summaries"][0]["datastore_id"]
        slow_server.reset_peak()
        results = await asyncio.gather(*(engine.get_datastore(datastore_id=ds) for _ in range(200)))
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
from awslabs.healthimaging_mcp_server import engine
async def main():
    try:
        print(json.dumps({{"ok": await engine.{call}}}))
    except engine.HealthImagingError as e:
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


# ---- the generated module and its stub --------------------------------------------------------

GENERATOR = Path(__file__).resolve().parent.parent / "scripts" / "gen_engine_api.py"


def generator():
    spec = importlib.util.spec_from_file_location("gen_engine_api", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_module_and_stub_are_what_the_registry_generates():
    for path, text in generator().generated().items():
        assert path.read_text() == text, f"{path.name} is stale: run python scripts/gen_engine_api.py"


def stub_functions() -> dict[str, ast.AsyncFunctionDef]:
    tree = ast.parse((Path(engine.__file__).with_suffix(".pyi")).read_text())
    return {f.name: f for f in tree.body if isinstance(f, ast.AsyncFunctionDef)}


def test_stub_module_and_registry_agree():
    """What stubtest would check, for this module: every stub function exists at runtime as a coroutine
    function with the same keyword-only parameters, defaults and annotations, and both follow the
    registry's input schemas (names, required-ness)."""
    stubs = stub_functions()
    registry = {t["name"]: t for t in _engine.tools()}
    assert set(stubs) == set(registry)
    for name, stub in stubs.items():
        runtime = getattr(engine, name)
        assert inspect.iscoroutinefunction(runtime), name
        params = inspect.signature(runtime).parameters
        assert not stub.args.args and stub.args.vararg is None, name
        stub_params = {
            a.arg: (ast.unparse(a.annotation), None if d is None else ast.literal_eval(d))
            for a, d in zip(stub.args.kwonlyargs, stub.args.kw_defaults, strict=True)
        }
        assert list(stub_params) == list(params), name
        for pname, (annotation, default) in stub_params.items():
            p = params[pname]
            assert p.kind is inspect.Parameter.KEYWORD_ONLY, (name, pname)
            assert p.annotation == annotation, (name, pname)
            assert (None if p.default is inspect.Parameter.empty else p.default) == default, (name, pname)
        schema = registry[name]["inputSchema"]
        expected = set(schema["properties"]) | ({"progress"} if registry[name]["progress"] else set())
        assert set(params) == expected, name
        required = {n for n, p in params.items() if p.default is inspect.Parameter.empty}
        assert required == set(schema.get("required", [])), name
    assert engine.HealthImagingError is _engine.HealthImagingError
    for name in ("recent_runs", "rate_limits", "reset_client"):
        assert callable(getattr(engine, name)), name


def test_notebook_workflow_reports_progress_and_deletes_against_local(server, client, seeded, monkeypatch):
    for k, v in engine_env(server).items():
        monkeypatch.setenv(k, v)
    ds = seeded.datastore_id
    patient_a = {
        s["imageSetId"]
        for s in search_all(client, ds, page_size=50)[0]
        if s["DICOMTags"]["DICOMPatientId"] == "HI-PAT-A"
    }
    assert len(patient_a) >= 2
    reports: list[tuple[int, int, str]] = []

    async def scenario():
        await _engine.reset_client()
        dry = await engine.delete_patient_studies(datastore_id=ds, patient_id="HI-PAT-A", dry_run=True)
        assert dry["dry_run"] is True and dry["total"] == len(patient_a)
        assert {s["imageSetId"] for s in search_all(client, ds, page_size=50)[0]} >= patient_a  # nothing deleted
        return await engine.delete_patient_studies(
            datastore_id=ds, patient_id="HI-PAT-A", progress=lambda d, t, m: reports.append((d, t, m))
        )

    report = asyncio.run(scenario())
    assert {i["image_set_id"] for i in report["items"]} == patient_a and report["failed"] == 0
    assert reports and reports[-1][:2] == (len(patient_a), len(patient_a)), reports
    assert [d for d, _, _ in reports] == sorted(d for d, _, _ in reports)
    left = {s["imageSetId"] for s in search_all(client, ds, page_size=50)[0]}
    assert not left & patient_a and left  # patient A gone (boto3 says so), the other patient kept


def test_unknown_keyword_is_a_type_error_and_bad_values_a_validation_error():
    with pytest.raises(TypeError):
        engine.get_datastore(datastore_id="x", datastoreId="y")  # type: ignore[call-arg]

    async def scenario():
        with pytest.raises(engine.HealthImagingError) as info:
            await engine.search_by_patient_id(datastore_id="0" * 32, patient_id="P", max_results=0)
        return info.value

    error = asyncio.run(scenario())
    assert error.type == "validation_error"
    assert "max_results: Input should be greater than or equal to 1" in error.message


def test_extension_stub_names_exist_at_runtime():
    tree = ast.parse((Path(_engine.__file__).parent / "_engine.pyi").read_text())
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign):
            names.add(node.target.id)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets}
    typed_dicts = {"SeedReport", "ServerStats"}  # shapes of returned dicts, not runtime names
    assert {"tools", "call", "instructions", "recent_runs", "rate_limits", "reset_client", "TOOLSETS"} <= names
    missing = sorted(n for n in names - typed_dicts if not hasattr(_engine, n))
    assert missing == []
