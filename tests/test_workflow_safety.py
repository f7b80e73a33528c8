"""Safety of the destructive workflows, against the local HealthImaging and checked with boto3:
cancellation stops the work (MCP `notifications/cancelled` and a cancelled asyncio task), each
image set is re-read right before its write (`changed_since_selected`), the per-item deadline,
the rate limit (none against a custom endpoint unless set; the progress ETA follows it), and reruns
of removals report `already_done`.

Interleaving with a second writer is made deterministic with the local server's added latency
and request counter: the local server counts a request when it arrives and answers after the
latency, so a change sent as soon as the tool's search arrives is applied after the search and
before any later request of the tool."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from contextlib import contextmanager

import pytest
from awslabs.healthimaging_mcp_server import _engine, engine, local
from conftest import call, copy_into, get_metadata, make_client, mcp_env, mcp_session, ok, run_async, wait_until
from test_mcp_workflow_writes import (
    EXTRA_BUCKET,
    Progress,
    equal,
    new_store,
    outcomes,
    updatable,
    versions,
    write_patient,
)

LATENCY_MS = 100
CANCEL_COUNT = 30


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    """The S3 stand-in folder with a 30-image-set patient and a 3-image-set patient."""
    root = tmp_path_factory.mktemp("s3")
    extra = root / EXTRA_BUCKET
    write_patient(extra / "cancel", "HI-PAT-CANCEL", CANCEL_COUNT)
    write_patient(extra / "three", "HI-PAT-THREE", 3)
    return root


def start(root, **options):
    server = local.start(s3_root=root, **options)
    return server, make_client(server.endpoint_url)


@contextmanager
def three_patient(root, **options):
    """A local HealthImaging (`options` as for local.start) with a new data store of
    HI-PAT-THREE's three image sets: (server, boto3 client, data store ID, image set versions)."""
    server, client = start(root, **options)
    try:
        ds = new_store(client, "three", samples=False)
        yield server, client, ds, patient_sets(client, ds, "HI-PAT-THREE")
    finally:
        server.stop()


def patient_sets(client, ds: str, patient: str) -> dict[str, str]:
    return versions(client, ds, equal("DICOMPatientId", patient))


def stable_count(client, ds: str, patient: str) -> tuple[int, int]:
    """The patient's image sets once in-flight writes had time to land, and again later."""
    time.sleep(2 * LATENCY_MS / 1000 + 1)
    first = len(patient_sets(client, ds, patient))
    time.sleep(3)
    return first, len(patient_sets(client, ds, patient))


def erase_patient_while(server, ds: str, patient: str, action) -> dict:
    """delete_patient_studies for `patient`, one write at a time, with `action` run by another
    writer as soon as the tool's search arrives; the tool's report."""

    async def steps(s):
        writer = when_tool_searches(server, action)
        report = await ok(s, "delete_patient_studies", datastore_id=ds, patient_id=patient)
        writer.join(10)
        assert not writer.problems, writer.problems
        return report

    return call(server, steps, HEALTHIMAGING_MCP_WRITE_CONCURRENCY="1")


def when_tool_searches(server, action) -> threading.Thread:
    """Runs `action` in a thread as soon as the tool's first request (its search) arrives."""
    base = server.stats()["requests"]
    problems: list[BaseException] = []

    def run() -> None:
        try:
            wait_until(lambda: server.stats()["requests"], lambda n: n > base, timeout=60, what="the tool's search")
            # The search is answered 300 ms (the added latency) after it arrived; the action's own
            # request lands 300 ms after it is sent. Sent at once, it could land first on a loaded
            # machine (the search's task scheduled late): starting it half the latency later puts
            # it in the middle of the window between the search and the tool's first fresh read.
            time.sleep(0.15)
            action()
        except BaseException as e:  # reported by the test thread
            problems.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.problems = problems  # type: ignore[attr-defined]
    thread.start()
    return thread


# ---- cancellation ------------------------------------------------------------------------------


def test_mcp_cancellation_stops_delete_patient_studies(staged):
    server, client = start(staged, latency_ms=LATENCY_MS)
    try:
        ds = new_store(client, "cancel", samples=False)
        assert len(patient_sets(client, ds, "HI-PAT-CANCEL")) == CANCEL_COUNT

        async def scenario():
            env = mcp_env(server.endpoint_url, HEALTHIMAGING_MCP_WRITE_CONCURRENCY="1")
            async with mcp_session(env) as (s, _):
                call = asyncio.ensure_future(
                    s.call_tool("delete_patient_studies", {"datastore_id": ds, "patient_id": "HI-PAT-CANCEL"})
                )
                # Some deletions happened: the run is under way.
                while len(patient_sets(client, ds, "HI-PAT-CANCEL")) > CANCEL_COUNT - 2:
                    assert not call.done(), call.result()
                    await asyncio.sleep(0.05)
                # Abandoning the request sends notifications/cancelled for it.
                call.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await call
                # The session stays usable, and the server answers other requests.
                listed = await s.list_tools()
                assert listed.tools
                return stable_count(client, ds, "HI-PAT-CANCEL")

        first, later = run_async(scenario())
        assert 0 < first < CANCEL_COUNT - 1, first
        assert later == first, f"deletions went on after the cancel: {first} -> {later}"
    finally:
        server.stop()


def test_cancelled_task_stops_the_work_and_is_recorded(staged, write_delay_ms, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger="awslabs.healthimaging_mcp_server.workflows")
    server, client = start(staged, latency_ms=LATENCY_MS, write_delay_ms=write_delay_ms)
    try:
        ds = new_store(client, "cancel", samples=False)
        before = set(patient_sets(client, ds, "HI-PAT-CANCEL"))
        monkeypatch.setenv("AWS_ENDPOINT_URL_MEDICAL_IMAGING", server.endpoint_url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        monkeypatch.setenv("HEALTHIMAGING_MCP_WRITE_CONCURRENCY", "1")

        async def scenario():
            await _engine.reset_client()
            task = asyncio.ensure_future(engine.delete_patient_studies(datastore_id=ds, patient_id="HI-PAT-CANCEL"))
            while len(patient_sets(client, ds, "HI-PAT-CANCEL")) > CANCEL_COUNT - 2:
                await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

        run_async(scenario())
        first, later = stable_count(client, ds, "HI-PAT-CANCEL")
        assert 0 < first < CANCEL_COUNT - 1 and later == first, (first, later)
        left = set(patient_sets(client, ds, "HI-PAT-CANCEL"))

        # The run is kept: counts and image set IDs of what was done, the rest not attempted.
        run = wait_until(
            lambda: [r for r in _engine.recent_runs() if r["datastore_id"] == ds],
            lambda runs: len(runs) == 1,
            what="the cancelled run's record",
        )[0]
        assert run["tool"] == "delete_patient_studies" and run["cancelled"] is True
        assert run["total"] == CANCEL_COUNT
        deleted = set(run["image_set_ids"]["image_set_deleted"])
        # With asynchronous writes, a deletion sent just before the cancel completes after it,
        # unconfirmed by the run: reported so, never as deleted.
        unconfirmed = set(run["image_set_ids"].get("unconfirmed", []))
        assert not deleted & unconfirmed and deleted | unconfirmed == before - left
        assert deleted, run
        assert run["counts"]["not_attempted"] >= 1
        assert set(run["image_set_ids"]["not_attempted"]) <= left
        assert sum(run["counts"].values()) == CANCEL_COUNT
        # Logged at info level: the counts and IDs, no patient identifiers.
        records = [r for r in caplog.records if "delete_patient_studies cancelled" in r.getMessage()]
        assert len(records) == 1 and records[0].levelno == logging.INFO, records
        text = records[0].getMessage()
        assert ds in text and all(i in text for i in deleted)
        assert "HI-PAT-CANCEL" not in text
    finally:
        server.stop()


# ---- decisions on fresh state ------------------------------------------------------------------


def test_image_set_reassigned_after_selection_is_not_deleted(staged, write_delay_ms):
    with three_patient(staged, latency_ms=300, write_delay_ms=write_delay_ms) as (server, client, ds, three):
        target = sorted(three)[1]

        def reassign() -> None:
            client.update_image_set_metadata(
                datastoreId=ds,
                imageSetId=target,
                latestVersionId="1",
                updateImageSetMetadataUpdates=updatable({"PatientID": "HI-PAT-OTHER"}),
            )

        report = erase_patient_while(server, ds, "HI-PAT-THREE", reassign)
        got = outcomes(report)
        assert got == {i: ("changed_since_selected" if i == target else "image_set_deleted") for i in three}, report
        item = next(i for i in report["items"] if i["image_set_id"] == target)
        assert "Patient ID" in item["detail"]
        assert report["changed_since_selected"] == 1 and report["failed"] == 0
        # boto3: the reassigned image set is intact under its new patient; the others are gone.
        assert versions(client, ds) == {target: "2"}
        assert get_metadata(client, ds, target)["Patient"]["DICOM"]["PatientID"] == "HI-PAT-OTHER"


def test_series_copied_in_after_selection_is_not_destroyed(staged, write_delay_ms):
    with three_patient(staged, latency_ms=300, write_delay_ms=write_delay_ms) as (server, client, ds, three):
        source, destination = sorted(three)[:2]
        series_before = set(get_metadata(client, ds, source)["Study"]["Series"]) | set(
            get_metadata(client, ds, destination)["Study"]["Series"]
        )

        # The tool deletes the source once the copy has completed: the writer does not wait for it.
        report = erase_patient_while(
            server, ds, "HI-PAT-THREE", lambda: copy_into(client, ds, source, destination, wait=False)
        )
        got = outcomes(report)
        assert got[destination] == "changed_since_selected", report
        detail = next(i for i in report["items"] if i["image_set_id"] == destination)["detail"]
        assert "version 1, now 2" in detail
        assert report["remaining_image_sets"] == 1
        # boto3: the destination survives with both series; nothing else of the patient is left.
        left = versions(client, ds)
        assert left == {destination: "2"}, left
        assert set(get_metadata(client, ds, destination)["Study"]["Series"]) == series_before


# ---- deadlines, rate limits, progress ----------------------------------------------------------


def test_item_deadline_fails_items_with_what_they_waited_for(staged):
    with three_patient(staged, latency_ms=400) as (server, client, ds, three):

        async def scenario():
            env = mcp_env(server.endpoint_url, HEALTHIMAGING_MCP_ITEM_DEADLINE_SECONDS="0.5")
            async with mcp_session(env) as (s, _):
                result = await s.call_tool("delete_patient_studies", {"datastore_id": ds, "patient_id": "HI-PAT-THREE"})
                return result.structured_content

        report = run_async(scenario())
        # Each item needs a read of its image set and of its metadata (400 ms each) before the
        # delete: none can finish within 0.5 s, so each fails with what it was waiting for.
        assert outcomes(report) == dict.fromkeys(three, "failed"), report
        for item in report["items"]:
            assert "item deadline of 0.5s" in item["error"]["message"], item
            assert "GetImageSetMetadata" in item["error"]["message"], item
        assert report["failed"] == 3
        assert patient_sets(client, ds, "HI-PAT-THREE") == three


def test_item_deadline_reports_the_last_error(staged):
    """The server goes away once the tool has selected its image sets: every request after that
    is refused and the SDK keeps retrying (50 attempts allowed) until the item's deadline; each
    item then fails with the last error its requests met. (delete_instance_in_study searches
    nothing afterwards.)"""
    server, client = start(staged, latency_ms=200)
    ds = new_store(client, "three", samples=False)
    three = patient_sets(client, ds, "HI-PAT-THREE")
    study = get_metadata(client, ds, sorted(three)[0])["Study"]["DICOM"]["StudyInstanceUID"]
    base = server.stats()["requests"]

    def stop_after_search() -> None:
        # The tool's second request: its search has been answered.
        wait_until(lambda: server.stats()["requests"], lambda n: n > base + 1, timeout=60, what="first item")
        server.stop()

    stopper = threading.Thread(target=stop_after_search, daemon=True)

    async def scenario():
        env = mcp_env(
            server.endpoint_url,
            HEALTHIMAGING_MCP_ITEM_DEADLINE_SECONDS="2",
            HEALTHIMAGING_MCP_WRITE_CONCURRENCY="1",
            AWS_MAX_ATTEMPTS="50",
        )
        async with mcp_session(env) as (s, _):
            stopper.start()
            args = {"datastore_id": ds, "study_instance_uid": study, "sop_instance_uid": "1.2.3"}
            result = await s.call_tool("delete_instance_in_study", args)
            return result.structured_content

    try:
        report = run_async(scenario())
    finally:
        stopper.join(10)
        server.stop()
    assert outcomes(report) == dict.fromkeys(three, "failed"), report
    for item in report["items"]:
        message = item["error"]["message"]
        assert "item deadline of 2s" in message and "last error: GetImageSet" in message, message
        assert "got no answer" in message, message


def test_failed_verification_is_reported_beside_the_items(staged):
    """The data store is deleted as soon as the tool's last image set deletion is applied, so the
    search that verifies the erasure fails: the per-item report still comes back, with the
    verification error beside it."""
    with three_patient(staged, latency_ms=300) as (server, client, ds, three):
        base = server.stats()["requests"]

        def delete_store() -> None:
            # The search, then four requests per image set (read, metadata, delete, confirming
            # read): the third of the last image set's is the last delete.
            last_delete = base + 1 + 4 * 2 + 3
            wait_until(lambda: server.stats()["requests"], lambda n: n >= last_delete, timeout=60, what="deletes")
            client.delete_datastore(datastoreId=ds)

        writer = threading.Thread(target=delete_store, daemon=True)

        async def scenario():
            env = mcp_env(server.endpoint_url, HEALTHIMAGING_MCP_WRITE_CONCURRENCY="1")
            async with mcp_session(env) as (s, _):
                writer.start()
                return await ok(s, "delete_patient_studies", datastore_id=ds, patient_id="HI-PAT-THREE")

        report = run_async(scenario())
        writer.join(10)
        assert outcomes(report) == dict.fromkeys(three, "image_set_deleted"), report
        assert report["verification_error"]["type"] in {"validation_error", "not_found", "conflict_error"}, report
        assert "remaining_image_sets" not in report


def test_custom_endpoint_has_no_rate_limit_unless_set_and_eta_follows_it(staged):
    server, client = start(staged)
    try:
        messages: list[str] = []

        class Messages(Progress):
            async def __call__(self, progress, total, message):
                await super().__call__(progress, total, message)
                messages.append(message)

        def erase(extra: dict[str, str]) -> None:
            ds = new_store(client, "three", samples=False)
            assert len(patient_sets(client, ds, "HI-PAT-THREE")) == 3

            async def scenario():
                async with mcp_session(mcp_env(server.endpoint_url, **extra)) as (s, _):
                    progress = Messages()
                    await ok(s, "delete_patient_studies", progress, datastore_id=ds, patient_id="HI-PAT-THREE")
                    progress.assert_complete(3)

            run_async(scenario())
            assert patient_sets(client, ds, "HI-PAT-THREE") == {}

        erase({})
        # No limit against the local endpoint: no estimate from a rate before the first item.
        assert messages[0] == "0 of 3 image sets", messages
        messages.clear()
        erase({"HEALTHIMAGING_MCP_RATE_DELETE_IMAGE_SET": "0.5:1"})
        # Set for DeleteImageSet: 3 deletions at 0.5 per second.
        assert messages[0] == "0 of 3 image sets; about 6s left", messages
        assert messages[-1] == "3 of 3 image sets", messages
    finally:
        server.stop()


def test_rate_limit_table_in_the_notebook_api(staged, monkeypatch):
    server, _ = start(staged)
    try:
        monkeypatch.setenv("AWS_ENDPOINT_URL_MEDICAL_IMAGING", server.endpoint_url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        monkeypatch.setenv("AWS_REGION", "us-east-1")

        async def limits():
            await _engine.reset_client()
            await engine.list_datastores()
            return _engine.rate_limits()

        assert run_async(limits()) == {}
        monkeypatch.setenv("HEALTHIMAGING_MCP_RATE_DELETE_IMAGE_SET", "2:3")
        assert run_async(limits()) == {"DeleteImageSet": {"rate": 2.0, "burst": 3.0}}
    finally:
        server.stop()


# ---- reruns ------------------------------------------------------------------------------------


def test_removal_rerun_after_the_image_set_is_gone_is_already_done(staged, write_delay_ms):
    with three_patient(staged, write_delay_ms=write_delay_ms) as (server, client, ds, three):
        image_set = sorted(three)[0]
        series = next(iter(get_metadata(client, ds, image_set)["Study"]["Series"]))
        args = {"datastore_id": ds, "image_set_id": image_set, "series_instance_uid": series}

        async def steps(s):
            return await ok(s, "remove_series_from_image_set", **args), await ok(
                s, "remove_series_from_image_set", **args
            )

        first, again = call(server, steps)
        assert outcomes(first) == {image_set: "image_set_deleted"}
        assert outcomes(again) == {image_set: "already_done"}
        assert again["failed"] == 0 and again["already_done"] == 1
        assert image_set not in versions(client, ds)
