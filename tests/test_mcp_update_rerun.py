"""Safe re-runs of the update workflows, through a real MCP client into the server and the local
HealthImaging: where an image set's fresh read already holds every requested value, nothing is
written (no new version) and the item is reported `unchanged` and counted; only image sets that
differ are written. Stored state is checked with boto3 (ListImageSetVersions, GetImageSetMetadata).
"""

from __future__ import annotations

import json
import uuid

import pytest
from awslabs.healthimaging_mcp_server import local
from conftest import (
    call,
    create_datastore,
    get_metadata,
    make_client,
    ok,
    paginate,
    run_import,
    search_all,
    wait_datastore_status,
)
from test_mcp_workflow_writes import write_patient

BUCKET = "rerun-bucket"
PATIENT = "HI-PAT-RERUN"
SETS = 3
UNCHANGED_DETAIL = "every requested value is already in place"


@pytest.fixture(scope="module")
def rerun_world(tmp_path_factory):
    """A local HealthImaging with one data store: one study of PATIENT in SETS image sets."""
    root = tmp_path_factory.mktemp("s3")
    study_uid = write_patient(root / BUCKET / "in", PATIENT, SETS)
    with local.start(s3_root=root) as server:
        client = make_client(server.endpoint_url)
        ds = create_datastore(client, f"pytest-rerun-{uuid.uuid4().hex[:8]}")
        wait_datastore_status(client, ds, "ACTIVE")
        job = run_import(client, ds, f"s3://{BUCKET}/in/", f"s3://{BUCKET}/out/")
        assert job["jobStatus"] == "COMPLETED", job
        yield server, client, ds, study_uid


def version_counts(client, ds: str) -> dict[str, int]:
    """image set -> how many versions ListImageSetVersions lists (boto3)."""
    sets, _ = search_all(client, ds, page_size=50)
    return {
        s["imageSetId"]: len(
            paginate(
                client,
                "list_image_set_versions",
                "imageSetPropertiesList",
                50,
                datastoreId=ds,
                imageSetId=s["imageSetId"],
            )[0]
        )
        for s in sets
    }


def outcomes(report: dict) -> dict[str, str]:
    out = {i["image_set_id"]: i["outcome"] for i in report["items"]}
    assert len(out) == report["total"], report
    return out


def assert_all_unchanged(report: dict, ids) -> None:
    assert outcomes(report) == dict.fromkeys(ids, "unchanged"), report
    assert report["unchanged"] == report["total"] == len(ids) and report["failed"] == 0, report
    assert {i.get("detail") for i in report["items"]} == {UNCHANGED_DETAIL}, report
    assert all("latest_version_id" not in i for i in report["items"]), report


def test_update_patient_study_metadata_rerun_writes_nothing(rerun_world):
    server, client, ds, study_uid = rerun_world
    args = {
        "datastore_id": ds,
        "study_instance_uid": study_uid,
        "patient_updates": {"PatientName": "RERUN^STUDY"},
        "study_updates": {"StudyDescription": "RERUN ONE"},
    }

    async def first(s):
        return await ok(s, "update_patient_study_metadata", **args)

    report = call(server, first)
    ids = set(outcomes(report))
    assert len(ids) == SETS and set(outcomes(report).values()) == {"updated"}, report
    counts = version_counts(client, ds)
    assert {counts[i] for i in ids} == {2}

    # The same update again, dry and real: nothing to write, every item unchanged.
    async def again(s):
        dry = await ok(s, "update_patient_study_metadata", **args, dry_run=True)
        real = await ok(s, "update_patient_study_metadata", **args)
        return dry, real

    dry, real = call(server, again)
    assert_all_unchanged(dry, ids)
    assert dry["dry_run"] is True
    assert_all_unchanged(real, ids)
    assert version_counts(client, ds) == counts

    # One image set changed meanwhile by someone else: only that one is written again, with the
    # whole document; one value of the request differing is enough.
    drifted = sorted(ids)[0]
    doc = {"SchemaVersion": "1.1", "Study": {"DICOM": {"StudyDescription": "SOMEONE ELSE"}}}
    client.update_image_set_metadata(
        datastoreId=ds,
        imageSetId=drifted,
        latestVersionId="2",
        updateImageSetMetadataUpdates={"DICOMUpdates": {"updatableAttributes": json.dumps(doc).encode()}},
    )
    report = call(server, first)
    assert outcomes(report) == {i: "updated" if i == drifted else "unchanged" for i in ids}, report
    assert report["unchanged"] == SETS - 1 and report["failed"] == 0
    after = version_counts(client, ds)
    assert after == {**counts, drifted: 4}
    stored = get_metadata(client, ds, drifted)
    assert stored["Study"]["DICOM"]["StudyDescription"] == "RERUN ONE"
    assert stored["Patient"]["DICOM"]["PatientName"] == "RERUN^STUDY"


def test_bulk_update_patient_metadata_rerun_writes_nothing(rerun_world):
    server, client, ds, _ = rerun_world
    args = {
        "datastore_id": ds,
        "patient_id": PATIENT,
        "metadata_updates": {"Patient": {"PatientBirthDate": "19600101"}},
    }

    async def twice(s):
        first = await ok(s, "bulk_update_patient_metadata", **args)
        before = version_counts(client, ds)
        second = await ok(s, "bulk_update_patient_metadata", **args)
        return first, before, second

    first, before, second = call(server, twice)
    ids = set(outcomes(first))
    assert len(ids) == SETS and set(outcomes(first).values()) == {"updated"}, first
    assert_all_unchanged(second, ids)
    assert version_counts(client, ds) == before
    for i in ids:
        assert get_metadata(client, ds, i)["Patient"]["DICOM"]["PatientBirthDate"] == "19600101"
