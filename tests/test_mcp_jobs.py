"""Change workflows that outlive their deadline become jobs, end to end through an MCP client into
the real server and a slowed-down local HealthImaging, with stored state checked by boto3:
delete_patient_studies with ``--job-deadline 1`` answers a job_id, get_job follows it to COMPLETED;
cancel_job stops it (what it never reached is untouched); a server stopped mid-job and started
again on the same ``--state-dir`` shows the job INTERRUPTED with the outcomes it recorded."""

from __future__ import annotations

import asyncio

import pytest
from awslabs.healthimaging_mcp_server import local
from conftest import kill_mcp_server, make_client, mcp_env, mcp_session, ok, run_async, tool_error
from test_mcp_workflow_writes import EXTRA_BUCKET, equal, new_store, versions, write_patient

PATIENT = "HI-PAT-JOBS"
OTHER = "HI-PAT-JOBS-OTHER"
COUNT = 8
LATENCY_MS = 100
"""Each request answers 100 ms late: one image set (fresh read, delete, confirmation) takes
several of them, so 8 image sets one at a time outlast a 1-second deadline."""
SLOW = {"HEALTHIMAGING_MCP_WRITE_CONCURRENCY": "1"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("s3")
    write_patient(root / EXTRA_BUCKET / "jobs", PATIENT, COUNT)
    write_patient(root / EXTRA_BUCKET / "other", OTHER, 2)
    server = local.start(s3_root=root, latency_ms=LATENCY_MS)
    try:
        yield server, make_client(server.endpoint_url)
    finally:
        server.stop()


def store(client) -> tuple[str, dict[str, str], dict[str, str]]:
    ds = new_store(client, "jobs", "other", samples=False)
    mine, other = (
        versions(client, ds, equal("DICOMPatientId", PATIENT)),
        versions(client, ds, equal("DICOMPatientId", OTHER)),
    )
    assert len(mine) == COUNT and len(other) == 2
    return ds, mine, other


async def follow(s, job_id: str, until=lambda job: job["status"] not in ("SUBMITTED", "IN_PROGRESS")) -> dict:
    """get_job until `until` holds (the scenario's own timeout bounds the wait)."""
    while True:
        job = await ok(s, "get_job", job_id=job_id, max_items=100)
        if until(job):
            return job
        await asyncio.sleep(0.1)


def item_outcomes(job: dict) -> dict[str, str]:
    assert job["items_not_shown"] == 0, job
    return {i["key"]: i["outcome"] for i in job["items"]}


def test_a_long_deletion_answers_a_job_and_get_job_follows_it_to_completed(world, tmp_path):
    server, client = world
    ds, mine, other = store(client)

    async def scenario():
        env = mcp_env(server.endpoint_url, **SLOW)
        async with mcp_session(env, "--job-deadline", "1", "--state-dir", str(tmp_path)) as (s, _):
            # The client validates the structured answer against the tool's output schema.
            first = await ok(s, "delete_patient_studies", datastore_id=ds, patient_id=PATIENT)
            job = await follow(s, first["job_id"])
            listed = await ok(s, "list_jobs", kind="delete_patient_studies", datastore_id=ds)
            unknown = await s.call_tool("get_job", {"job_id": "0" * 32})
            return first, job, listed, tool_error(unknown)

    first, job, listed, unknown = run_async(scenario())
    assert first["status"] == "IN_PROGRESS" and first["message"] == "still running; follow with get_job", first
    assert first["progress"]["total"] == COUNT and first["progress"]["done"] < COUNT, first
    assert job["status"] == "COMPLETED", job
    assert job["kind"] == "delete_patient_studies" and job["request"]["patient_id"] == PATIENT
    assert job["progress"]["done"] == COUNT and job["eta_seconds"] == 0
    assert item_outcomes(job) == dict.fromkeys(mine, "image_set_deleted")
    assert job["counts"] == {"image_set_deleted": COUNT}
    # The report, without its items, is the job's summary: the search after the run found none.
    assert job["summary"]["remaining_image_sets"] == 0 and "items" not in job["summary"], job["summary"]
    assert [j["job_id"] for j in listed["jobs"]] == [first["job_id"]]
    assert unknown["type"] == "not_found", unknown
    # boto3: every image set reported deleted is gone; the other patient's are untouched.
    assert versions(client, ds, equal("DICOMPatientId", PATIENT)) == {}
    assert versions(client, ds, equal("DICOMPatientId", OTHER)) == other


def test_a_short_run_answers_its_report_as_before(world, tmp_path):
    server, client = world
    ds, _, other = store(client)

    async def scenario():
        env = mcp_env(server.endpoint_url)
        async with mcp_session(env, "--state-dir", str(tmp_path)) as (s, _):
            report = await ok(s, "delete_patient_studies", datastore_id=ds, patient_id=OTHER)
            jobs = await ok(s, "list_jobs")
            return report, jobs

    report, jobs = run_async(scenario())
    assert "job_id" not in report and report["total"] == 2 and report["remaining_image_sets"] == 0, report
    # It ran as a job all the same: its record holds the outcomes.
    (job,) = jobs["jobs"]
    assert job["status"] == "COMPLETED" and job["counts"] == {"image_set_deleted": 2}, job
    assert versions(client, ds, equal("DICOMPatientId", OTHER)) == {}


def test_cancel_job_stops_the_run_and_leaves_what_it_never_reached(world, tmp_path):
    server, client = world
    ds, mine, other = store(client)

    async def scenario():
        env = mcp_env(server.endpoint_url, **SLOW)
        async with mcp_session(env, "--job-deadline", "1", "--state-dir", str(tmp_path)) as (s, _):
            first = await ok(s, "delete_patient_studies", datastore_id=ds, patient_id=PATIENT)
            job_id = first["job_id"]
            await follow(s, job_id, until=lambda job: job["progress"]["done"] >= 1)
            await ok(s, "cancel_job", job_id=job_id)
            job = await follow(s, job_id)
            again = await ok(s, "cancel_job", job_id=job_id)
            return job, again

    job, again = run_async(scenario())
    assert job["status"] == "CANCELLED", job
    assert again["status"] == "CANCELLED" and again["job_id"] == job["job_id"]
    outcomes = item_outcomes(job)
    assert set(outcomes) == set(mine), outcomes
    deleted = {k for k, o in outcomes.items() if o == "image_set_deleted"}
    untouched = {k for k, o in outcomes.items() if o == "not_attempted"}
    assert deleted and untouched and deleted | untouched == set(mine), outcomes
    # boto3: the deleted ones are gone, the ones never reached still there at their versions.
    left = versions(client, ds, equal("DICOMPatientId", PATIENT))
    assert left == {k: mine[k] for k in untouched}
    assert versions(client, ds, equal("DICOMPatientId", OTHER)) == other


def test_a_job_running_when_the_server_stops_is_interrupted_after_a_restart(world, tmp_path):
    server, client = world
    ds, mine, other = store(client)
    env = mcp_env(server.endpoint_url, **SLOW)
    args = ("--job-deadline", "1", "--state-dir", str(tmp_path))

    async def before_stop():
        async with mcp_session(env, *args) as (s, _):
            first = await ok(s, "delete_patient_studies", datastore_id=ds, patient_id=PATIENT)
            await follow(s, first["job_id"], until=lambda job: job["progress"]["done"] >= 2)
            # A crash: the server process is killed with the job running.
            kill_mcp_server(str(tmp_path))
            return first["job_id"]

    async def after_restart(job_id):
        async with mcp_session(env, *args) as (s, _):
            job = await ok(s, "get_job", job_id=job_id)
            listed = await ok(s, "list_jobs", status="INTERRUPTED")
            return job, listed

    job_id = run_async(before_stop())
    job, listed = run_async(after_restart(job_id))
    assert job["status"] == "INTERRUPTED", job
    assert "not resumed" in job["message"], job
    assert [j["job_id"] for j in listed["jobs"]] == [job_id]
    outcomes = item_outcomes(job)
    assert len(outcomes) >= 2 and set(outcomes) <= set(mine), outcomes
    deleted = {k for k, o in outcomes.items() if o == "image_set_deleted"}
    assert len(deleted) >= 2, outcomes
    # boto3: what the record says was deleted is gone; the other patient is untouched.
    left = versions(client, ds, equal("DICOMPatientId", PATIENT))
    assert not deleted & set(left), (deleted, left)
    assert versions(client, ds, equal("DICOMPatientId", OTHER)) == other
