"""Shared fixtures and helpers for the local HealthImaging tests.

The server is the embedded local HealthImaging; boto3 is the independent client. The `seeded`
fixture builds a data store the way a user would: stage the bundled samples under the S3
stand-in folder, create a data store, wait for ACTIVE, run a real StartDICOMImportJob and poll
GetDICOMImportJob until it completes. The sample manifest (written by the sample generator, not
by the code under test) is the oracle for what the server returns.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import boto3
import pytest
from awslabs.healthimaging_mcp_server import local
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
ACCESS_KEY_ID = "test"
SECRET_ACCESS_KEY = "test"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/HealthImagingImportRole"
SAMPLES_BUCKET = "staged-samples"
MANIFEST_PATH = local.SAMPLES_DIR.parent / "manifest.json"
# The workflow tools of the original (all registered).
WORKFLOW_WRITE_TOOLS = {
    "delete_patient_studies",
    "delete_study",
    "delete_series_by_uid",
    "delete_instance_in_study",
    "delete_instance_in_series",
    "update_patient_study_metadata",
    "bulk_update_patient_metadata",
    "bulk_delete_by_criteria",
    "remove_series_from_image_set",
    "remove_instance_from_image_set",
}
WORKFLOW_READ_TOOLS = {
    "search_by_patient_id",
    "search_by_study_uid",
    "search_by_series_uid",
    "get_patient_studies",
    "get_patient_series",
    "get_study_primary_image_sets",
    "get_series_primary_image_set",
    "get_patient_dicomweb_studies",
}

T = TypeVar("T")


# ---- environment -------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def aws_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Point botocore at nothing but the test settings, for the whole session.

    botocore reads AWS_DISABLE_HOST_PREFIX_INJECTION when a client is created; without it the
    data-plane operations would go to a ``runtime-`` prefixed host.
    """
    empty = tmp_path_factory.mktemp("aws-config") / "none"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DISABLE_HOST_PREFIX_INJECTION", "true")
        mp.setenv("AWS_CONFIG_FILE", str(empty))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty))
        for var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
            mp.delenv(var, raising=False)
        mp.delenv("AWS_ENDPOINT_URL_MEDICAL_IMAGING", raising=False)
        # Job records of in-process engine calls stay out of the user's state folder.
        mp.setenv("HEALTHIMAGING_MCP_STATE_DIR", str(tmp_path_factory.mktemp("jobs-state")))
        yield


# ---- servers and clients -----------------------------------------------------------------------


def start_server(root: Path, **options: Any) -> local.LocalHealthImaging:
    """A local HealthImaging with its S3 stand-in folder under `root` (state in memory)."""
    settings: dict[str, Any] = {
        "s3_root": root / "s3",
        "seed": False,
        "throttle_rate": 0.0,
        "access_key_id": ACCESS_KEY_ID,
        "secret_access_key": SECRET_ACCESS_KEY,
        "region": REGION,
    }
    settings.update(options)
    return local.start(**settings)


def make_client(
    endpoint_url: str,
    *,
    access_key_id: str = ACCESS_KEY_ID,
    secret_access_key: str = SECRET_ACCESS_KEY,
    region: str = REGION,
    **config: Any,
):
    """A boto3 medical-imaging client for `endpoint_url`; `config` overrides botocore Config."""
    base = Config(
        retries={"total_max_attempts": 2, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
    )
    session = boto3.session.Session()
    return session.client(
        "medical-imaging",
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=base.merge(Config(**config)) if config else base,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[local.LocalHealthImaging]:
    with start_server(tmp_path_factory.mktemp("healthimaging")) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: local.LocalHealthImaging):
    return make_client(server.endpoint_url)


# ---- polling and errors ------------------------------------------------------------------------


def wait_until(read: Callable[[], T], done: Callable[[T], bool], *, timeout: float = 10.0, what: str = "") -> T:
    """Calls `read` until `done(value)`; fails the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {value!r}")
        time.sleep(0.02)


def error_of(exc: ClientError) -> tuple[str, int]:
    """(error code, HTTP status) of a botocore ClientError."""
    return exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]


# ---- asynchronous writes -----------------------------------------------------------------------

WRITE_DELAY_MS = 150.0
"""How long the delayed mode's local HealthImaging keeps an image set LOCKED for each update,
copy or delete before completing it."""


@pytest.fixture(scope="module", params=[0.0, WRITE_DELAY_MS], ids=["writes-at-once", "writes-delayed"])
def write_delay_ms(request: pytest.FixtureRequest) -> float:
    """The write delay of the local HealthImaging a test runs against: each test using it runs
    twice, with writes that complete at once and with writes that complete later (the image set
    LOCKED meanwhile), as HealthImaging does them. Module scope: one server per mode."""
    return request.param


def image_set(client, datastore_id: str, image_set_id: str) -> dict:
    """GetImageSet."""
    return client.get_image_set(datastoreId=datastore_id, imageSetId=image_set_id)


def settled(client, datastore_id: str, image_set_id: str) -> dict:
    """GetImageSet once no write is in flight on the image set (it is no longer LOCKED)."""
    return wait_until(
        lambda: image_set(client, datastore_id, image_set_id),
        lambda p: p["imageSetState"] != "LOCKED",
        what=f"the write on image set {image_set_id} to complete",
    )


def gone(client, datastore_id: str, image_set_id: str) -> bool:
    """Whether GetImageSet answers ResourceNotFoundException for the image set."""
    try:
        image_set(client, datastore_id, image_set_id)
    except ClientError as e:
        assert error_of(e) == ("ResourceNotFoundException", 404)
        return True
    return False


def copy_into(client, datastore_id: str, source: str, destination: str, *, wait: bool = True) -> None:
    """Copies version 1 of `source` into version 1 of `destination` (boto3 CopyImageSet); with
    `wait`, returns once the copy has completed on both image sets."""
    client.copy_image_set(
        datastoreId=datastore_id,
        sourceImageSetId=source,
        copyImageSetInformation={
            "sourceImageSet": {"latestVersionId": "1"},
            "destinationImageSet": {"imageSetId": destination, "latestVersionId": "1"},
        },
    )
    if wait:
        for image_set_id in (source, destination):
            settled(client, datastore_id, image_set_id)


# ---- data stores and imports -------------------------------------------------------------------


def create_datastore(client, name: str, **extra: Any) -> str:
    resp = client.create_datastore(datastoreName=name, clientToken=uuid.uuid4().hex, **extra)
    assert resp["datastoreStatus"] in ("CREATING", "ACTIVE"), resp
    return resp["datastoreId"]


def wait_datastore_status(client, datastore_id: str, status: str) -> dict:
    """Polls GetDatastore until the data store has `status`; returns its properties."""
    return wait_until(
        lambda: client.get_datastore(datastoreId=datastore_id)["datastoreProperties"],
        lambda p: p["datastoreStatus"] == status,
        what=f"datastore {datastore_id} to be {status}",
    )


def stage_samples(s3_root: Path | str, bucket: str = SAMPLES_BUCKET, prefix: str = "dicom") -> str:
    """Copies the bundled sample DICOM under the S3 stand-in folder; returns its s3:// URI."""
    shutil.copytree(local.SAMPLES_DIR, Path(s3_root) / bucket / prefix, dirs_exist_ok=True)
    return f"s3://{bucket}/{prefix}/"


def run_import(client, datastore_id: str, input_uri: str, output_uri: str) -> dict:
    """StartDICOMImportJob, then GetDICOMImportJob until it ends; returns the job properties."""
    started = client.start_dicom_import_job(
        jobName="pytest-import",
        datastoreId=datastore_id,
        dataAccessRoleArn=ROLE_ARN,
        clientToken=uuid.uuid4().hex,
        inputS3Uri=input_uri,
        outputS3Uri=output_uri,
    )
    assert started["datastoreId"] == datastore_id
    assert started["jobStatus"] in ("SUBMITTED", "IN_PROGRESS", "COMPLETED"), started
    job_id = started["jobId"]
    return wait_until(
        lambda: client.get_dicom_import_job(datastoreId=datastore_id, jobId=job_id)["jobProperties"],
        lambda p: p["jobStatus"] in ("COMPLETED", "FAILED"),
        what=f"import job {job_id}",
    )


def paginate(client, operation: str, key: str, page_size: int = 1, **params: Any):
    """All items of a paginated operation, fetched `page_size` at a time, and the page count."""
    pages = list(client.get_paginator(operation).paginate(**params, PaginationConfig={"PageSize": page_size}))
    for page in pages:
        assert len(page[key]) <= page_size, page
    items = [item for page in pages for item in page[key]]
    return items, len(pages)


def search_all(client, datastore_id: str, criteria: dict | None = None, page_size: int = 1):
    """Every SearchImageSets result (one page per `page_size`) and the number of pages."""
    params: dict[str, Any] = {"datastoreId": datastore_id}
    if criteria is not None:
        params["searchCriteria"] = criteria
    return paginate(client, "search_image_sets", "imageSetsMetadataSummaries", page_size, **params)


def get_metadata(client, datastore_id: str, image_set_id: str, version: str | None = None) -> dict:
    params = {"datastoreId": datastore_id, "imageSetId": image_set_id}
    if version is not None:
        params["versionId"] = version
    resp = client.get_image_set_metadata(**params)
    assert resp["contentType"] == "application/json"
    assert resp["contentEncoding"] == "gzip"
    return json.loads(gzip.decompress(resp["imageSetMetadataBlob"].read()))


def instances_of(metadata: dict) -> dict[str, dict]:
    """SOPInstanceUID -> instance entry, over all series of a metadata document."""
    return {sop: inst for series in metadata["Study"]["Series"].values() for sop, inst in series["Instances"].items()}


@dataclass(frozen=True)
class Seeded:
    datastore_id: str
    datastore_name: str
    job: dict
    output_uri: str
    image_sets: dict[str, str]
    """SeriesInstanceUID -> imageSetId of the primary image set holding that series."""


def import_samples(client, datastore_id: str, name: str, input_uri: str) -> Seeded:
    """Imports the staged samples into an ACTIVE data store with a real import job."""
    output_uri = f"s3://{input_uri[len('s3://') :].split('/')[0]}/output/{name}/"
    job = run_import(client, datastore_id, input_uri, output_uri)
    assert job["jobStatus"] == "COMPLETED", job
    summaries, _ = search_all(client, datastore_id, page_size=50)
    by_series = {s["DICOMTags"]["DICOMSeriesInstanceUID"]: s["imageSetId"] for s in summaries}
    assert len(by_series) == len(summaries), summaries
    return Seeded(datastore_id, name, job, output_uri, by_series)


def seed_datastore(client, input_uri: str) -> Seeded:
    """A new data store (created, waited for until ACTIVE) holding the imported samples."""
    name = f"pytest-{uuid.uuid4().hex[:12]}"
    datastore_id = create_datastore(client, name)
    wait_datastore_status(client, datastore_id, "ACTIVE")
    return import_samples(client, datastore_id, name, input_uri)


@pytest.fixture(scope="module")
def samples_uri(server: local.LocalHealthImaging) -> str:
    return stage_samples(server.s3_root)


@pytest.fixture
def seeded(client, samples_uri: str) -> Seeded:
    """A fresh data store per test, so tests that write do not affect each other."""
    return seed_datastore(client, samples_uri)


# ---- the sample manifest (oracle) --------------------------------------------------------------


# Attributes an exported or retrieved file must keep from the sample it was imported from.
COMPARED = (
    "SOPInstanceUID",
    "SOPClassUID",
    "PatientID",
    "PatientName",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "InstanceNumber",
    "Rows",
    "Columns",
    "Modality",
)


@pytest.fixture(scope="session")
def manifest() -> dict:
    return json.loads(MANIFEST_PATH.read_text())


def files_by_series(manifest: dict) -> dict[str, list[dict]]:
    """SeriesInstanceUID -> the manifest's file entries of that series, in instance order."""
    out: dict[str, list[dict]] = {}
    for f in sorted(manifest["files"], key=lambda f: f["instance_number"]):
        out.setdefault(f["series_instance_uid"], []).append(f)
    return out


# ---- MCP server over stdio (added for test_mcp_tools.py / test_mcp_compat.py) -----------------
#
# The MCP server runs as a subprocess speaking MCP over stdio, driven by the mcp SDK's client,
# exactly as an MCP host would run it. The subprocess environment is built from scratch so
# nothing from the developer's AWS setup leaks in.

MCP_MODULE = "awslabs.healthimaging_mcp_server.cli"
MCP_CALL_TIMEOUT = 60.0
"""Upper bound for one whole MCP scenario (a safety net against hangs, not a performance bar)."""


def mcp_env(endpoint_url: str | None, **overrides: str) -> dict[str, str]:
    """The MCP server's environment: credentials and endpoint of a local HealthImaging."""
    import os

    missing = str(Path(os.devnull).parent / "nonexistent-aws-config")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_REGION": REGION,
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        "AWS_CONFIG_FILE": missing,
        "AWS_SHARED_CREDENTIALS_FILE": missing,
        "AWS_MAX_ATTEMPTS": "2",
        "PYTHONUNBUFFERED": "1",
        # Each MCP server keeps its job records in a folder of its own (unless told otherwise).
        "HEALTHIMAGING_MCP_STATE_DIR": tempfile.mkdtemp(prefix="mcp-jobs-state-"),
    }
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    if endpoint_url is not None:
        env["AWS_ENDPOINT_URL_MEDICAL_IMAGING"] = endpoint_url
    env.update(overrides)
    return env


def mcp_session(env: dict[str, str], *args: str):
    """``async with mcp_session(env) as (session, init):`` an initialized MCP client session
    with ``python -m awslabs.healthimaging_mcp_server.cli *args``."""
    import sys
    from contextlib import asynccontextmanager

    from mcp import ClientSession, StdioServerParameters, stdio_client

    @asynccontextmanager
    async def session():
        params = StdioServerParameters(command=sys.executable, args=["-m", MCP_MODULE, *args], env=env)
        async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
            init = await s.initialize()
            yield s, init

    return session()


def kill_mcp_server(marker: str) -> None:
    """SIGKILLs the MCP server this test process started whose command line holds ``marker`` (a
    crash: no shutdown code runs). Linux only (reads /proc)."""
    import os
    import signal

    me = os.getpid()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == me and MCP_MODULE.encode() in argv and marker.encode() in argv:
            found.append(int(entry.name))
    assert len(found) == 1, f"expected one MCP server with {marker!r}, found {found}"
    os.kill(found[0], signal.SIGKILL)


def run_async(scenario, timeout: float = MCP_CALL_TIMEOUT):
    """Runs a coroutine to completion in a fresh event loop, failing after `timeout` seconds."""
    import asyncio

    try:
        return asyncio.run(asyncio.wait_for(scenario, timeout))
    except BaseException as e:
        # anyio task groups wrap a failing assertion in (nested) exception groups: show it plainly.
        leaf = e
        while len(getattr(leaf, "exceptions", ())) == 1:
            leaf = leaf.exceptions[0]
        if leaf is e:
            raise
        raise leaf.with_traceback(leaf.__traceback__) from None


def tool_error(result) -> dict:
    """The parsed error body of an MCP tool result that must be an error."""
    assert result.is_error, f"expected an error result, got {result.structured_content!r}"
    assert result.content, result
    body = json.loads(result.content[0].text)
    assert body["error"] is True, body
    assert isinstance(body["type"], str) and isinstance(body["message"], str), body
    return body


def call(server, steps, *args: str, **env: str):
    """Runs `steps(session)` in one MCP session against `server`: the MCP server started with
    the command-line `args`, and `env` added to its environment."""

    async def scenario():
        async with mcp_session(mcp_env(server.endpoint_url, **env), *args) as (session, _):
            return await steps(session)

    return run_async(scenario())


UNTYPED_TOOLS = {"get_image_set_metadata"}
"""Tools without an output schema: they answer their JSON as text only."""


async def ok(session, name, progress=None, **args):
    """A successful tool call's structured result (an untyped tool's text, parsed); `progress`
    receives its notifications."""
    result = await session.call_tool(name, args, progress_callback=progress)
    assert not result.is_error, result.content[0].text if result.content else result
    if name in UNTYPED_TOOLS:
        assert result.structured_content is None, name
        return json.loads(result.content[0].text)
    return result.structured_content
