"""Asynchronous writes, as HealthImaging does them: the local HealthImaging's ``write_delay_ms``
keeps an image set LOCKED while an update, copy or delete is in flight (reads show it, writes to
it answer ConflictException), ``write_fail_rate`` ends updates and copies UPDATE_FAILED /
COPY_FAILED, and a pending completion survives a restart. Then the workflows over MCP: an item is
reported done only once HealthImaging has completed its write, checked with boto3 right after
the result."""

from __future__ import annotations

import json
import uuid

import pytest
from awslabs.healthimaging_mcp_server import local
from botocore.exceptions import ClientError
from conftest import (
    call,
    create_datastore,
    error_of,
    get_metadata,
    gone,
    image_set,
    make_client,
    run_import,
    search_all,
    settled,
    stage_samples,
    start_server,
    wait_datastore_status,
    wait_until,
)

DELAY_MS = 300.0
PATIENT = "HI-PAT-A"


def new_store(client, samples_uri: str) -> tuple[str, list[str]]:
    """A new ACTIVE data store with the samples imported; the image set IDs of PATIENT."""
    ds = create_datastore(client, f"pytest-async-{uuid.uuid4().hex[:10]}")
    wait_datastore_status(client, ds, "ACTIVE")
    bucket = samples_uri[len("s3://") :].split("/")[0]
    job = run_import(client, ds, samples_uri, f"s3://{bucket}/out/{uuid.uuid4().hex}/")
    assert job["jobStatus"] == "COMPLETED", job
    found, _ = search_all(client, ds, patient(PATIENT), 50)
    assert found
    return ds, [s["imageSetId"] for s in found]


def patient(pid: str) -> dict:
    return {"filters": [{"operator": "EQUAL", "values": [{"DICOMPatientId": pid}]}]}


def rename(client, ds: str, image_set_id: str, version: str, name: str) -> dict:
    doc = json.dumps({"SchemaVersion": "1.1", "Patient": {"DICOM": {"PatientName": name}}})
    return client.update_image_set_metadata(
        datastoreId=ds,
        imageSetId=image_set_id,
        latestVersionId=version,
        updateImageSetMetadataUpdates={"DICOMUpdates": {"updatableAttributes": doc.encode()}},
    )


def conflict(call) -> None:
    with pytest.raises(ClientError) as e:
        call()
    assert error_of(e.value) == ("ConflictException", 409)


@pytest.fixture(scope="module")
def delayed(tmp_path_factory):
    """A local HealthImaging whose writes take DELAY_MS, with the samples staged."""
    with start_server(tmp_path_factory.mktemp("async"), write_delay_ms=DELAY_MS) as srv:
        yield srv, make_client(srv.endpoint_url), stage_samples(srv.s3_root)


@pytest.fixture(scope="module")
def failing(tmp_path_factory):
    """Writes take DELAY_MS and every update and copy fails."""
    with start_server(tmp_path_factory.mktemp("failing"), write_delay_ms=DELAY_MS, write_fail_rate=1.0) as srv:
        yield srv, make_client(srv.endpoint_url), stage_samples(srv.s3_root)


# ---- the local HealthImaging, through boto3 ----------------------------------------------------


def test_update_locks_until_it_completes(delayed):
    _, client, uri = delayed
    ds, (target, *_) = new_store(client, uri)
    before = image_set(client, ds, target)
    out = rename(client, ds, target, before["versionId"], "ASYNC^DONE")
    assert (out["imageSetState"], out["imageSetWorkflowStatus"]) == ("LOCKED", "UPDATING")
    during = image_set(client, ds, target)
    # The write has a DELAY_MS window; the update above returned inside it unless the host stalls.
    if during["imageSetState"] == "LOCKED":
        assert during["imageSetWorkflowStatus"] == "UPDATING"
        conflict(lambda: rename(client, ds, target, out["latestVersionId"], "SECOND"))
        conflict(lambda: client.delete_image_set(datastoreId=ds, imageSetId=target))
    after = settled(client, ds, target)
    assert (after["imageSetState"], after["imageSetWorkflowStatus"]) == ("ACTIVE", "UPDATED")
    assert after["versionId"] == out["latestVersionId"] == str(int(before["versionId"]) + 1)
    assert get_metadata(client, ds, target)["Patient"]["DICOM"]["PatientName"] == "ASYNC^DONE"
    # Once ACTIVE it takes writes again.
    again = rename(client, ds, target, after["versionId"], "THIRD")
    assert again["latestVersionId"] == str(int(after["versionId"]) + 1)
    settled(client, ds, target)


def test_a_write_to_a_locked_image_set_is_a_conflict(tmp_path):
    # A delay no test waits out: the image set is certainly still LOCKED for the checks below.
    with start_server(tmp_path, write_delay_ms=600_000.0) as srv:
        client = make_client(srv.endpoint_url)
        ds, (target, *_) = new_store(client, stage_samples(srv.s3_root))
        out = rename(client, ds, target, image_set(client, ds, target)["versionId"], "LOCKED^NOW")
        during = image_set(client, ds, target)
        assert (during["imageSetState"], during["imageSetWorkflowStatus"]) == ("LOCKED", "UPDATING")
        versions = client.list_image_set_versions(datastoreId=ds, imageSetId=target)["imageSetPropertiesList"]
        latest = max(versions, key=lambda v: int(v["versionId"]))
        assert (latest["imageSetState"], latest["ImageSetWorkflowStatus"]) == ("LOCKED", "UPDATING")
        conflict(lambda: rename(client, ds, target, out["latestVersionId"], "SECOND"))
        conflict(lambda: client.delete_image_set(datastoreId=ds, imageSetId=target))
        conflict(
            lambda: client.copy_image_set(
                datastoreId=ds,
                sourceImageSetId=target,
                copyImageSetInformation={"sourceImageSet": {"latestVersionId": out["latestVersionId"]}},
            )
        )


def test_delete_shows_deleting_then_the_image_set_is_gone(delayed):
    _, client, uri = delayed
    ds, (target, *_) = new_store(client, uri)
    out = client.delete_image_set(datastoreId=ds, imageSetId=target)
    assert (out["imageSetState"], out["imageSetWorkflowStatus"]) == ("LOCKED", "DELETING")
    try:
        during = image_set(client, ds, target)
        assert (during["imageSetState"], during["imageSetWorkflowStatus"]) == ("LOCKED", "DELETING")
    except ClientError as e:  # the delay already passed (a stalled host)
        assert error_of(e) == ("ResourceNotFoundException", 404)
    wait_until(lambda: gone(client, ds, target), bool, what="the delete to complete")
    found, _ = search_all(client, ds, patient(PATIENT), 50)
    assert target not in {s["imageSetId"] for s in found}


def test_copy_locks_source_and_destination_then_both_are_copied(delayed):
    _, client, uri = delayed
    ds, (source, *_) = new_store(client, uri)
    version = image_set(client, ds, source)["versionId"]
    out = client.copy_image_set(
        datastoreId=ds,
        sourceImageSetId=source,
        copyImageSetInformation={"sourceImageSet": {"latestVersionId": version}},
    )
    src, dst = out["sourceImageSetProperties"], out["destinationImageSetProperties"]
    assert (src["imageSetState"], src["imageSetWorkflowStatus"]) == ("LOCKED", "COPYING_WITH_READ_ONLY_ACCESS")
    assert (dst["imageSetState"], dst["imageSetWorkflowStatus"]) == ("LOCKED", "COPYING")
    assert settled(client, ds, source)["imageSetWorkflowStatus"] == "COPIED"
    assert settled(client, ds, dst["imageSetId"])["imageSetWorkflowStatus"] == "COPIED"


def test_failed_update_keeps_the_metadata_and_says_why(failing):
    _, client, uri = failing
    ds, (target, *_) = new_store(client, uri)
    before = image_set(client, ds, target)
    name_before = get_metadata(client, ds, target)["Patient"]["DICOM"]["PatientName"]
    out = rename(client, ds, target, before["versionId"], "NEVER^APPLIED")
    assert (out["imageSetState"], out["imageSetWorkflowStatus"]) == ("LOCKED", "UPDATING")
    after = settled(client, ds, target)
    assert (after["imageSetState"], after["imageSetWorkflowStatus"]) == ("ACTIVE", "UPDATE_FAILED")
    assert after["message"]
    # The version the update announced records the failure; its metadata is the previous one.
    assert after["versionId"] == out["latestVersionId"]
    assert get_metadata(client, ds, target)["Patient"]["DICOM"]["PatientName"] == name_before


def test_failed_copy_into_a_new_image_set_creates_nothing(failing):
    _, client, uri = failing
    ds, (source, *_) = new_store(client, uri)
    out = client.copy_image_set(
        datastoreId=ds,
        sourceImageSetId=source,
        copyImageSetInformation={"sourceImageSet": {"latestVersionId": image_set(client, ds, source)["versionId"]}},
    )
    after = settled(client, ds, source)
    assert (after["imageSetState"], after["imageSetWorkflowStatus"]) == ("ACTIVE", "COPY_FAILED")
    assert after["message"]
    dest = out["destinationImageSetProperties"]["imageSetId"]
    wait_until(lambda: gone(client, ds, dest), bool, what="the failed copy's image set to go")


def test_a_pending_write_survives_a_restart(tmp_path):
    data = tmp_path / "data"
    # Long enough that the restart certainly happens while it is in flight, short enough to wait.
    delay_ms = 3000.0
    with local.start(data_dir=data, write_delay_ms=delay_ms) as srv:
        client = make_client(srv.endpoint_url)
        ds, (updated, deleted, *_) = new_store(client, stage_samples(srv.s3_root))
        out = rename(client, ds, updated, image_set(client, ds, updated)["versionId"], "AFTER^RESTART")
        client.delete_image_set(datastoreId=ds, imageSetId=deleted)
    # The restarted server has no delay configured: the completions come from the stored state.
    with local.start(data_dir=data) as srv:
        client = make_client(srv.endpoint_url)
        after = settled(client, ds, updated)
        assert (after["imageSetState"], after["imageSetWorkflowStatus"]) == ("ACTIVE", "UPDATED")
        assert after["versionId"] == out["latestVersionId"]
        assert get_metadata(client, ds, updated)["Patient"]["DICOM"]["PatientName"] == "AFTER^RESTART"
        wait_until(lambda: gone(client, ds, deleted), bool, what="the pending delete to complete")
    # ... and the completions themselves were stored.
    with local.start(data_dir=data) as srv:
        client = make_client(srv.endpoint_url)
        assert image_set(client, ds, updated)["imageSetWorkflowStatus"] == "UPDATED"
        assert gone(client, ds, deleted)


# ---- the workflows confirm their writes, over MCP ----------------------------------------------


def call_tool(server, name: str, **args):
    """One tool call over MCP; its result, error or not."""
    return call(server, lambda session: session.call_tool(name, args))


def rename_study_of(server, client, ds: str, image_set_id: str, name: str):
    """update_patient_study_metadata setting the PatientName of the study of `image_set_id`."""
    study = get_metadata(client, ds, image_set_id)["Study"]["DICOM"]["StudyInstanceUID"]
    return call_tool(
        server,
        "update_patient_study_metadata",
        datastore_id=ds,
        study_instance_uid=study,
        patient_updates={"PatientName": name},
        study_updates={},
    )


def test_update_workflow_reports_updated_only_once_active(delayed):
    srv, client, uri = delayed
    ds, (target, *_) = new_store(client, uri)
    result = rename_study_of(srv, client, ds, target, "CONFIRMED^NAME")
    assert not result.is_error, result.content[0].text
    report = result.structured_content
    assert report["failed"] == 0 and report["items"], report
    for item in report["items"]:
        assert item["outcome"] == "updated", item
        # Read right after the result: the write has completed.
        p = image_set(client, ds, item["image_set_id"])
        assert (p["imageSetState"], p["imageSetWorkflowStatus"]) == ("ACTIVE", "UPDATED")
        assert p["versionId"] == item["latest_version_id"]
        doc = get_metadata(client, ds, item["image_set_id"])
        assert doc["Patient"]["DICOM"]["PatientName"] == "CONFIRMED^NAME"


def test_update_workflow_reports_the_services_failure(failing):
    srv, client, uri = failing
    ds, (target, *_) = new_store(client, uri)
    name_before = get_metadata(client, ds, target)["Patient"]["DICOM"]["PatientName"]
    result = rename_study_of(srv, client, ds, target, "NEVER^APPLIED")
    # Every item failed: the result is an MCP error carrying the per-item report.
    assert result.is_error
    report = json.loads(result.content[0].text)
    items = report["items"]
    assert items and report["failed"] == report["total"] == len(items), report
    for item in items:
        assert item["outcome"] == "failed", item
        assert "UPDATE_FAILED" in item["error"]["message"], item
        p = image_set(client, ds, item["image_set_id"])
        assert (p["imageSetState"], p["imageSetWorkflowStatus"]) == ("ACTIVE", "UPDATE_FAILED")
        assert p["message"] in item["error"]["message"]
    assert get_metadata(client, ds, target)["Patient"]["DICOM"]["PatientName"] == name_before


def test_delete_workflow_reports_deleted_only_once_gone(delayed):
    srv, client, uri = delayed
    ds, targets = new_store(client, uri)
    result = call_tool(srv, "delete_patient_studies", datastore_id=ds, patient_id=PATIENT)
    assert not result.is_error, result.content[0].text
    report = result.structured_content
    assert {i["image_set_id"]: i["outcome"] for i in report["items"]} == dict.fromkeys(targets, "image_set_deleted")
    # Right after the result: none is left, not even LOCKED / DELETING.
    found, _ = search_all(client, ds, patient(PATIENT), 50)
    assert found == []
    for image_set_id in targets:
        assert gone(client, ds, image_set_id)


def test_item_deadline_while_a_write_completes_is_unconfirmed_not_failed(tmp_path):
    # HealthImaging takes 3 s to complete each deletion; an item may take 1 s. Every deletion is
    # accepted within the item's second, which then ends while the image set is still DELETING.
    with start_server(tmp_path, write_delay_ms=3000.0) as srv:
        client = make_client(srv.endpoint_url)
        ds, targets = new_store(client, stage_samples(srv.s3_root))
        args = {"datastore_id": ds, "patient_id": PATIENT}
        result = call(
            srv, lambda s: s.call_tool("delete_patient_studies", args), HEALTHIMAGING_MCP_ITEM_DEADLINE_SECONDS="1"
        )
        report = json.loads(result.content[0].text) if result.is_error else result.structured_content
        assert {i["image_set_id"]: i["outcome"] for i in report["items"]} == dict.fromkeys(targets, "unconfirmed")
        assert report["unconfirmed"] == len(targets), report
        for item in report["items"]:
            message = item["error"]["message"]
            assert "item deadline of 1s" in message and "accepted" in message, item
        # ... and the deletions did happen: none of them was a failure.
        for image_set_id in targets:
            wait_until(lambda i=image_set_id: gone(client, ds, i), bool, what=f"{image_set_id} to be deleted")
