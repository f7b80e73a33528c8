"""The destructive workflows, end to end over MCP stdio against the local HealthImaging, on real
DICOM imports: the samples, a study split across primary and non-primary image sets, an image
set holding two series, a patient with 125 image sets (three pages of 50), a concurrent writer
and a throttling server. After every call the data store is read again with boto3 (search,
image set properties, metadata), independently of the tool's own report."""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from pathlib import Path

import pydicom
import pytest
from awslabs.healthimaging_mcp_server import local
from botocore.exceptions import ClientError
from conftest import (
    SAMPLES_BUCKET,
    WORKFLOW_WRITE_TOOLS,
    call,
    copy_into,
    create_datastore,
    error_of,
    get_metadata,
    instances_of,
    make_client,
    ok,
    run_import,
    search_all,
    stage_samples,
    tool_error,
    wait_datastore_status,
)
from pydicom.uid import generate_uid

SAMPLES = local.SAMPLES_DIR
EXTRA_BUCKET = "extra-bucket"
MANY = 125
TEN = 10
THROTTLED = 64
UNKNOWN_ID = "0" * 32

CT = SAMPLES / "HI-PAT-A" / "A1" / "S01_CT"
MR_A2 = SAMPLES / "HI-PAT-A" / "A2" / "S01_MR"
MR_B1_S01 = SAMPLES / "HI-PAT-B" / "B1" / "S01_MR"
MR_B1_S02 = SAMPLES / "HI-PAT-B" / "B1" / "S02_MR"


# ---- data --------------------------------------------------------------------------------------


def dicom(path: Path) -> pydicom.Dataset:
    return pydicom.dcmread(path)


def uid_of(path: Path, keyword: str) -> str:
    return str(getattr(dicom(path), keyword))


def write_patient(folder: Path, patient_id: str, count: int) -> str:
    """`count` single-instance series of one study of `patient_id` (one image set each)."""
    source = dicom(CT / "IM0001.dcm")
    folder.mkdir(parents=True)
    study_uid = generate_uid()
    for i in range(count):
        ds = copy.deepcopy(source)
        ds.PatientID, ds.PatientName = patient_id, "ORIGINAL^NAME"
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, generate_uid()
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.SeriesNumber = i + 1
        ds.save_as(folder / f"IM{i:04d}.dcm", enforce_file_format=True)
    return study_uid


def new_store(client, *extras: str, samples: bool = True) -> str:
    """A new ACTIVE data store with the samples and then each extra prefix imported."""
    ds = create_datastore(client, f"pytest-writes-{uuid.uuid4().hex[:10]}")
    wait_datastore_status(client, ds, "ACTIVE")
    prefixes = ([f"{SAMPLES_BUCKET}/dicom"] if samples else []) + [f"{EXTRA_BUCKET}/{e}" for e in extras]
    for prefix in prefixes:
        job = run_import(client, ds, f"s3://{prefix}/", f"s3://{EXTRA_BUCKET}/out/{uuid.uuid4().hex}/")
        assert job["jobStatus"] == "COMPLETED", job
    return ds


@pytest.fixture(scope="module")
def staged(tmp_path_factory) -> Path:
    """The S3 stand-in folder with the DICOM of every scenario."""
    root = tmp_path_factory.mktemp("s3")
    assert stage_samples(root) == f"s3://{SAMPLES_BUCKET}/dicom/"
    extra = root / EXTRA_BUCKET
    # One CT instance of study A1 with another Study Date: it conflicts with the primary image set
    # of its series, so the import puts it into a non-primary image set of the same study.
    (extra / "split").mkdir(parents=True)
    conflicting = dicom(CT / "IM0001.dcm")
    conflicting.StudyDate = "20240106"
    conflicting.save_as(extra / "split" / "IM0001.dcm", enforce_file_format=True)
    write_patient(extra / "many", "HI-PAT-MANY", MANY)
    write_patient(extra / "ten", "HI-PAT-TEN", TEN)
    write_patient(extra / "three", "HI-PAT-THREE", 3)
    write_patient(extra / "throttled", "HI-PAT-THROTTLED", THROTTLED)
    return root


@pytest.fixture(scope="module")
def world(staged, write_delay_ms):
    """A local HealthImaging on the staged folder, whose writes complete at once or after a
    delay (`write_delay_ms`), and a boto3 client."""
    with local.start(s3_root=staged, write_delay_ms=write_delay_ms) as server:
        yield server, make_client(server.endpoint_url)


# ---- boto3's view ------------------------------------------------------------------------------


def equal(attribute: str, value: str) -> dict:
    return {"filters": [{"operator": "EQUAL", "values": [{attribute: value}]}]}


def summaries(client, ds: str, criteria: dict | None = None) -> list[dict]:
    found, _ = search_all(client, ds, criteria, 50)
    return found


def versions(client, ds: str, criteria: dict | None = None) -> dict[str, str]:
    """imageSetId -> latest version of every image set matching `criteria` (boto3 search)."""
    return {s["imageSetId"]: str(s["version"]) for s in summaries(client, ds, criteria)}


def version_of(client, ds: str, image_set_id: str) -> str:
    return client.get_image_set(datastoreId=ds, imageSetId=image_set_id)["versionId"]


def assert_gone(client, ds: str, image_set_id: str) -> None:
    with pytest.raises(ClientError) as e:
        client.get_image_set(datastoreId=ds, imageSetId=image_set_id)
    assert error_of(e.value) == ("ResourceNotFoundException", 404)


def series_set(client, ds: str, series_uid: str) -> str:
    """The primary image set of a series (boto3 search)."""
    found = [s for s in summaries(client, ds, equal("DICOMSeriesInstanceUID", series_uid)) if s["isPrimary"]]
    assert len(found) == 1, found
    return found[0]["imageSetId"]


def merge_b1(client, ds: str) -> tuple[str, str]:
    """Copies B1's second series (2 instances) into the image set of its first (1 instance).
    Returns (merged image set, the second series' own image set)."""
    single = series_set(client, ds, uid_of(MR_B1_S01 / "IM0001.dcm", "SeriesInstanceUID"))
    pair = series_set(client, ds, uid_of(MR_B1_S02 / "IM0001.dcm", "SeriesInstanceUID"))
    copy_into(client, ds, pair, single)
    assert version_of(client, ds, single) == "2"
    return single, pair


# ---- MCP ---------------------------------------------------------------------------------------


class Progress:
    """Collects a tool call's progress notifications."""

    def __init__(self) -> None:
        self.events: list[tuple[float, float | None]] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.events.append((progress, total))

    def assert_complete(self, total: int) -> None:
        """Every count from 0 to `total` reported once, all against `total`. (Their order is
        checked by test_progress_notifications_increase.)"""
        assert self.events, "no progress notifications"
        assert all(t == total for _, t in self.events), self.events
        assert sorted(p for p, _ in self.events) == list(range(total + 1)), self.events

    def assert_increasing(self) -> None:
        done = [p for p, _ in self.events]
        assert all(a < b for a, b in zip(done, done[1:], strict=False)), f"progress went backwards: {done}"


def rename_patient(server, ds: str, patient_id: str, name: str, progress: Progress, **env: str) -> dict:
    """bulk_update_patient_metadata setting the PatientName of every image set of `patient_id`
    (the MCP server's environment plus `env`); its report."""

    async def steps(s):
        return await ok(
            s,
            "bulk_update_patient_metadata",
            progress,
            datastore_id=ds,
            patient_id=patient_id,
            metadata_updates={"PatientName": name},
        )

    return call(server, steps, **env)


def outcomes(report: dict) -> dict[str, str]:
    """image_set_id -> outcome of a workflow report (one line per image set)."""
    out = {i["image_set_id"]: i["outcome"] for i in report["items"]}
    assert len(out) == len(report["items"]) == report["total"], report
    return out


# ---- deletions of whole image sets -------------------------------------------------------------


def test_delete_patient_studies_dry_run_then_erasure_then_idempotent(world):
    server, client = world
    ds = new_store(client, "split")
    patient_a, patient_b = equal("DICOMPatientId", "HI-PAT-A"), equal("DICOMPatientId", "HI-PAT-B")
    a_before, b_before = versions(client, ds, patient_a), versions(client, ds, patient_b)
    # A1 CT primary, A1 CT non-primary (the conflicting import), A2 MR; B1's two series.
    assert len(a_before) == 3 and len(b_before) == 2
    progress = Progress()

    async def steps(s):
        dry = await ok(s, "delete_patient_studies", datastore_id=ds, patient_id="HI-PAT-A", dry_run=True)
        after_dry = versions(client, ds, patient_a)
        real = await ok(s, "delete_patient_studies", progress, datastore_id=ds, patient_id="HI-PAT-A")
        again = await ok(s, "delete_patient_studies", datastore_id=ds, patient_id="HI-PAT-A")
        return dry, after_dry, real, again

    dry, after_dry, real, again = call(server, steps)

    assert dry["dry_run"] is True and dry["failed"] == 0
    assert outcomes(dry) == dict.fromkeys(a_before, "would_delete_image_set")
    assert after_dry == a_before  # the dry run deleted nothing

    assert real["dry_run"] is False and real["total"] == 3 and real["failed"] == 0
    assert outcomes(real) == dict.fromkeys(a_before, "image_set_deleted")
    assert real["remaining_image_sets"] == 0 and real["remaining_image_set_ids"] == []
    progress.assert_complete(3)
    assert versions(client, ds, patient_a) == {}
    for image_set_id in a_before:
        assert_gone(client, ds, image_set_id)
    assert versions(client, ds, patient_b) == b_before  # the other patient: same sets, same versions

    assert again["total"] == 0 and again["items"] == [] and again["failed"] == 0
    assert again["remaining_image_sets"] == 0


def test_delete_study_split_across_primary_and_non_primary(world):
    server, client = world
    ds = new_store(client, "split")
    study_uid = uid_of(CT / "IM0001.dcm", "StudyInstanceUID")
    study = equal("DICOMStudyInstanceUID", study_uid)
    doomed = versions(client, ds, study)
    assert sorted(s["isPrimary"] for s in summaries(client, ds, study)) == [False, True]
    everything = versions(client, ds)
    others = {k: v for k, v in everything.items() if k not in doomed}
    # Study A2 of the same patient stays.
    assert series_set(client, ds, uid_of(MR_A2 / "IM0001.dcm", "SeriesInstanceUID")) in others
    progress = Progress()

    async def steps(s):
        dry = await ok(s, "delete_study", datastore_id=ds, study_instance_uid=study_uid, dry_run=True)
        after_dry = versions(client, ds)
        real = await ok(s, "delete_study", progress, datastore_id=ds, study_instance_uid=study_uid)
        return dry, after_dry, real

    dry, after_dry, real = call(server, steps)
    assert outcomes(dry) == dict.fromkeys(doomed, "would_delete_image_set")
    assert after_dry == everything
    assert outcomes(real) == dict.fromkeys(doomed, "image_set_deleted")
    assert real["failed"] == 0 and real["remaining_image_sets"] == 0
    progress.assert_complete(2)
    assert summaries(client, ds, study) == []
    for image_set_id in doomed:
        assert_gone(client, ds, image_set_id)
    assert versions(client, ds) == others


# ---- removal of series and instances -----------------------------------------------------------


def test_delete_series_by_uid_from_a_two_series_image_set_and_its_own(world):
    server, client = world
    ds = new_store(client)
    merged, own = merge_b1(client, ds)
    keep_uid = uid_of(MR_B1_S01 / "IM0001.dcm", "SeriesInstanceUID")
    gone_uid = uid_of(MR_B1_S02 / "IM0001.dcm", "SeriesInstanceUID")
    before = get_metadata(client, ds, merged)
    assert set(before["Study"]["Series"]) == {keep_uid, gone_uid}
    everything = versions(client, ds)
    others = {k: v for k, v in everything.items() if k not in (merged, own)}
    progress = Progress()

    async def steps(s):
        dry = await ok(s, "delete_series_by_uid", datastore_id=ds, series_instance_uid=gone_uid, dry_run=True)
        after_dry = versions(client, ds), get_metadata(client, ds, merged)
        real = await ok(s, "delete_series_by_uid", progress, datastore_id=ds, series_instance_uid=gone_uid)
        return dry, after_dry, real

    dry, after_dry, real = call(server, steps)
    assert outcomes(dry) == {merged: "would_remove", own: "would_delete_image_set"}
    assert after_dry == (everything, before)

    assert outcomes(real) == {merged: "removed", own: "image_set_deleted"}
    assert real["failed"] == 0 and real["remaining_image_sets"] == 0
    assert {i["image_set_id"]: i.get("latest_version_id") for i in real["items"]}[merged] == "3"
    progress.assert_complete(2)
    # Gone from every image set that had it; the other series stays exactly as it was.
    assert summaries(client, ds, equal("DICOMSeriesInstanceUID", gone_uid)) == []
    after = get_metadata(client, ds, merged)
    assert set(after["Study"]["Series"]) == {keep_uid}
    assert after["Study"]["Series"][keep_uid] == before["Study"]["Series"][keep_uid]
    assert after["Patient"] == before["Patient"]
    assert version_of(client, ds, merged) == "3"
    assert_gone(client, ds, own)
    assert {k: v for k, v in versions(client, ds).items() if k != merged} == others


def test_delete_instance_in_series_and_in_study(world):
    server, client = world
    ds = new_store(client, "split")
    ct_series = uid_of(CT / "IM0001.dcm", "SeriesInstanceUID")
    ct_sop = uid_of(CT / "IM0001.dcm", "SOPInstanceUID")  # also the non-primary set's only instance
    ct_sets = versions(client, ds, equal("DICOMSeriesInstanceUID", ct_series))
    ct_primary = series_set(client, ds, ct_series)
    (ct_copy,) = set(ct_sets) - {ct_primary}
    a2_study, a2_sop = (uid_of(MR_A2 / "IM0002.dcm", k) for k in ("StudyInstanceUID", "SOPInstanceUID"))
    a2_set = series_set(client, ds, uid_of(MR_A2 / "IM0001.dcm", "SeriesInstanceUID"))
    b1_study, b1_only_sop = (uid_of(MR_B1_S01 / "IM0001.dcm", k) for k in ("StudyInstanceUID", "SOPInstanceUID"))
    b1_single = series_set(client, ds, uid_of(MR_B1_S01 / "IM0001.dcm", "SeriesInstanceUID"))
    b1_pair = series_set(client, ds, uid_of(MR_B1_S02 / "IM0001.dcm", "SeriesInstanceUID"))
    everything = versions(client, ds)
    assert set(everything) == {ct_primary, ct_copy, a2_set, b1_single, b1_pair}
    assert set(everything.values()) == {"1"}
    ct_before, a2_before = (
        instances_of(get_metadata(client, ds, ct_primary)),
        instances_of(get_metadata(client, ds, a2_set)),
    )
    assert len(ct_before) == 5 and len(a2_before) == 3
    progress = {name: Progress() for name in ("series", "study_a2", "study_b1")}

    async def steps(s):
        series_args = {"datastore_id": ds, "series_instance_uid": ct_series, "sop_instance_uid": ct_sop}
        dry = await ok(s, "delete_instance_in_series", **series_args, dry_run=True)
        after_dry = versions(client, ds)
        by_series = await ok(s, "delete_instance_in_series", progress["series"], **series_args)
        a2 = await ok(
            s,
            "delete_instance_in_study",
            progress["study_a2"],
            datastore_id=ds,
            study_instance_uid=a2_study,
            sop_instance_uid=a2_sop,
        )
        b1 = await ok(
            s,
            "delete_instance_in_study",
            progress["study_b1"],
            datastore_id=ds,
            study_instance_uid=b1_study,
            sop_instance_uid=b1_only_sop,
        )
        return dry, after_dry, by_series, a2, b1

    dry, after_dry, by_series, a2, b1 = call(server, steps)
    assert outcomes(dry) == {ct_primary: "would_remove", ct_copy: "would_delete_image_set"}
    assert after_dry == everything

    # The instance leaves the 5-instance primary set (version 2) and the non-primary set whose only
    # instance it was (deleted).
    assert outcomes(by_series) == {ct_primary: "removed", ct_copy: "image_set_deleted"}
    assert by_series["failed"] == 0
    progress["series"].assert_complete(2)
    ct_after = instances_of(get_metadata(client, ds, ct_primary))
    assert ct_after == {k: v for k, v in ct_before.items() if k != ct_sop}
    assert_gone(client, ds, ct_copy)

    assert outcomes(a2) == {a2_set: "removed"} and a2["failed"] == 0
    progress["study_a2"].assert_complete(1)
    a2_after = instances_of(get_metadata(client, ds, a2_set))
    assert a2_after == {k: v for k, v in a2_before.items() if k != a2_sop} and len(a2_after) == 2

    # Study B1: the single-instance image set goes; the other image set of the study does not hold
    # the instance and is left alone.
    assert outcomes(b1) == {b1_single: "image_set_deleted", b1_pair: "unchanged"}
    assert b1["unchanged"] == 1 and b1["failed"] == 0
    progress["study_b1"].assert_complete(2)
    assert_gone(client, ds, b1_single)

    assert versions(client, ds) == {ct_primary: "2", a2_set: "2", b1_pair: "1"}
    reported = {i["image_set_id"]: i.get("latest_version_id") for r in (by_series, a2) for i in r["items"]}
    assert reported[ct_primary] == "2" and reported[a2_set] == "2"


def test_remove_series_and_instance_from_one_image_set(world):
    server, client = world
    ds = new_store(client)
    merged, own = merge_b1(client, ds)
    s01 = uid_of(MR_B1_S01 / "IM0001.dcm", "SeriesInstanceUID")
    s02, s02_first, s02_second = (
        uid_of(MR_B1_S02 / f"IM000{i}.dcm", k)
        for i, k in ((1, "SeriesInstanceUID"), (1, "SOPInstanceUID"), (2, "SOPInstanceUID"))
    )
    ct_series = uid_of(CT / "IM0001.dcm", "SeriesInstanceUID")
    before = get_metadata(client, ds, merged)
    others = {k: v for k, v in versions(client, ds).items() if k != merged}
    assert own in others

    async def steps(s):
        seen = {}
        base = {"datastore_id": ds, "image_set_id": merged}
        one = {**base, "series_instance_uid": s02, "sop_instance_uid": s02_first}
        seen["dry"] = await ok(s, "remove_instance_from_image_set", **one, dry_run=True)
        seen["after_dry"] = version_of(client, ds, merged), get_metadata(client, ds, merged)
        seen["instance"] = await ok(s, "remove_instance_from_image_set", **one)
        seen["after_instance"] = version_of(client, ds, merged), get_metadata(client, ds, merged)
        seen["series_dry"] = await ok(s, "remove_series_from_image_set", **base, series_instance_uid=s01, dry_run=True)
        seen["series"] = await ok(s, "remove_series_from_image_set", **base, series_instance_uid=s01)
        seen["after_series"] = version_of(client, ds, merged), get_metadata(client, ds, merged)
        # Not (or no longer) in the image set: nothing is written.
        seen["absent_series"] = await ok(s, "remove_series_from_image_set", **base, series_instance_uid=ct_series)
        seen["absent_instance"] = await ok(
            s, "remove_instance_from_image_set", **base, series_instance_uid=s01, sop_instance_uid=s02_second
        )
        seen["after_absent"] = version_of(client, ds, merged)
        seen["unknown"] = [
            tool_error(
                await s.call_tool(
                    "remove_series_from_image_set",
                    {"datastore_id": ds, "image_set_id": UNKNOWN_ID, "series_instance_uid": s01},
                )
            ),
            tool_error(
                await s.call_tool(
                    "remove_instance_from_image_set",
                    {**one, "image_set_id": UNKNOWN_ID},
                )
            ),
        ]
        # The last instance: the image set goes.
        seen["last"] = await ok(
            s, "remove_instance_from_image_set", **base, series_instance_uid=s02, sop_instance_uid=s02_second
        )
        return seen

    seen = call(server, steps)
    assert outcomes(seen["dry"]) == {merged: "would_remove"} and seen["dry"]["dry_run"] is True
    assert seen["after_dry"] == ("2", before)

    assert outcomes(seen["instance"]) == {merged: "removed"} and seen["instance"]["failed"] == 0
    assert seen["instance"]["items"][0]["latest_version_id"] == "3"
    version, doc = seen["after_instance"]
    assert version == "3"
    assert set(doc["Study"]["Series"][s02]["Instances"]) == {s02_second}
    assert doc["Study"]["Series"][s01] == before["Study"]["Series"][s01]

    assert outcomes(seen["series_dry"]) == {merged: "would_remove"}
    assert outcomes(seen["series"]) == {merged: "removed"}
    version, doc = seen["after_series"]
    assert version == "4" and set(doc["Study"]["Series"]) == {s02}
    assert (
        doc["Study"]["Series"][s02]["Instances"][s02_second] == before["Study"]["Series"][s02]["Instances"][s02_second]
    )

    for key in ("absent_series", "absent_instance"):
        assert outcomes(seen[key]) == {merged: "unchanged"}, seen[key]
        assert seen[key]["unchanged"] == 1 and seen[key]["failed"] == 0
    assert seen["after_absent"] == "4"
    assert [e["type"] for e in seen["unknown"]] == ["not_found", "not_found"]

    assert outcomes(seen["last"]) == {merged: "image_set_deleted"}
    assert_gone(client, ds, merged)
    assert versions(client, ds) == others  # the series' own image set and the rest: untouched


# ---- metadata updates --------------------------------------------------------------------------


def test_update_patient_study_metadata_on_every_image_set_of_a_study(world):
    server, client = world
    ds = new_store(client, "split")
    study_uid = uid_of(CT / "IM0001.dcm", "StudyInstanceUID")
    targets = versions(client, ds, equal("DICOMStudyInstanceUID", study_uid))
    assert len(targets) == 2  # primary and non-primary
    everything = versions(client, ds)
    docs_before = {i: get_metadata(client, ds, i) for i in everything}
    args = {
        "datastore_id": ds,
        "study_instance_uid": study_uid,
        "patient_updates": {"PatientName": "NEW^NAME"},
        "study_updates": {"StudyDescription": "FIXED"},
    }
    progress = Progress()

    async def steps(s):
        dry = await ok(s, "update_patient_study_metadata", **args, dry_run=True)
        after_dry = versions(client, ds), {i: get_metadata(client, ds, i) for i in everything}
        real = await ok(s, "update_patient_study_metadata", progress, **args)
        return dry, after_dry, real

    dry, after_dry, real = call(server, steps)
    assert outcomes(dry) == dict.fromkeys(targets, "would_update")
    assert after_dry == (everything, docs_before)

    assert outcomes(real) == dict.fromkeys(targets, "updated") and real["failed"] == 0
    progress.assert_complete(2)
    for item in real["items"]:
        assert item["latest_version_id"] == str(int(targets[item["image_set_id"]]) + 1)
    for image_set_id, version in everything.items():
        doc = get_metadata(client, ds, image_set_id)
        if image_set_id in targets:
            assert version_of(client, ds, image_set_id) == str(int(version) + 1)
            assert doc["Patient"]["DICOM"]["PatientName"] == "NEW^NAME"
            assert doc["Study"]["DICOM"]["StudyDescription"] == "FIXED"
            # Nothing else changed.
            expected = copy.deepcopy(docs_before[image_set_id])
            expected["Patient"]["DICOM"]["PatientName"] = "NEW^NAME"
            expected["Study"]["DICOM"]["StudyDescription"] = "FIXED"
            assert doc == expected
        else:  # other studies, including study A2 of the same patient
            assert version_of(client, ds, image_set_id) == version
            assert doc == docs_before[image_set_id]


def test_bulk_update_patient_metadata_over_three_pages(world):
    server, client = world
    ds = new_store(client, "many", samples=False)
    patient = equal("DICOMPatientId", "HI-PAT-MANY")
    before = versions(client, ds, patient)
    assert len(before) == MANY and set(before.values()) == {"1"}
    progress = Progress()
    report = rename_patient(server, ds, "HI-PAT-MANY", "RENAMED^PATIENT", progress)
    assert report["total"] == MANY and report["failed"] == 0 and report["truncated"] is False
    assert outcomes(report) == dict.fromkeys(before, "updated")
    assert {i["latest_version_id"] for i in report["items"]} == {"2"}
    progress.assert_complete(MANY)
    after = summaries(client, ds, patient)
    assert {s["imageSetId"] for s in after} == set(before)
    assert {s["DICOMTags"]["DICOMPatientName"] for s in after} == {"RENAMED^PATIENT"}
    assert {s["version"] for s in after} == {2}
    ids = sorted(before)
    for image_set_id in ids[:: len(ids) // 5]:
        doc = get_metadata(client, ds, image_set_id)
        assert doc["Patient"]["DICOM"]["PatientName"] == "RENAMED^PATIENT"
        assert doc["Patient"]["DICOM"]["PatientID"] == "HI-PAT-MANY"
        assert version_of(client, ds, image_set_id) == "2"


def test_progress_notifications_increase(world):
    server, client = world
    ds = new_store(client, "many", samples=False)
    progress = Progress()
    report = rename_patient(
        server, ds, "HI-PAT-MANY", "ORDERED^PROGRESS", progress, HEALTHIMAGING_MCP_WRITE_CONCURRENCY="10"
    )
    assert report["total"] == MANY and report["failed"] == 0
    progress.assert_complete(MANY)
    progress.assert_increasing()


# ---- a concurrent writer -----------------------------------------------------------------------

LATENCY_MS = 40
"""Every request of the latency server waits this long: the writer's update, sent as the tool's
metadata read arrives, lands well before the tool's own update of the same image set."""


def updatable(patient: dict, study: dict | None = None) -> dict:
    doc = {"SchemaVersion": "1.1", "Patient": {"DICOM": patient}}
    if study:
        doc["Study"] = {"DICOM": study}
    return {"DICOMUpdates": {"updatableAttributes": json.dumps(doc).encode()}}


def test_local_server_counts_conflicts(world):
    server, client = world
    ds = new_store(client)
    image_set_id = sorted(versions(client, ds))[0]
    before = server.stats()["conflicts"]
    with pytest.raises(ClientError) as e:
        client.update_image_set_metadata(
            datastoreId=ds,
            imageSetId=image_set_id,
            latestVersionId="7",
            updateImageSetMetadataUpdates=updatable({"PatientName": "STALE^WRITE"}),
        )
    assert error_of(e.value) == ("ConflictException", 409)
    assert server.stats()["conflicts"] == before + 1


def test_bulk_update_resolves_a_conflict_with_a_concurrent_writer(staged):
    """One write at a time (HEALTHIMAGING_MCP_WRITE_CONCURRENCY=1), so the tool's requests come in
    a known order: SearchImageSets, then per image set GetImageSet, GetImageSetMetadata,
    UpdateImageSetMetadata, and GetImageSet again to confirm the update completed. Watching the
    server's request counter, the writer updates its image set each time the tool reads an image
    set's metadata: after the tool took that image set's version, before the tool writes it. Then
    it asks whether the tool has read its image set (lastAccessedAt); once it has, the writer
    stops. So exactly one of its updates lands between the tool's read and the tool's write of
    that image set: a certain conflict, which the tool must resolve by reading again and
    re-applying its change on top of the writer's."""
    server = local.start(s3_root=staged, latency_ms=LATENCY_MS)
    try:
        client = make_client(server.endpoint_url)
        ds = new_store(client, "ten", samples=False)
        before = versions(client, ds, equal("DICOMPatientId", "HI-PAT-TEN"))
        assert len(before) == TEN and set(before.values()) == {"1"}
        target = sorted(before)[0]
        writer_client = make_client(server.endpoint_url, retries={"total_max_attempts": 1, "mode": "standard"})
        assert "lastAccessedAt" not in writer_client.get_image_set(datastoreId=ds, imageSetId=target)
        base = server.stats()["requests"]
        finished = threading.Event()
        writes: list[int] = []
        own_requests: list[int] = []
        problems: list[BaseException] = []

        def writer() -> None:
            own, version = 0, 1
            try:
                for k in range(TEN):
                    # The tool's k-th GetImageSetMetadata: its requests so far plus ours.
                    trigger = base + own + 3 + 4 * k
                    while server.stats()["requests"] < trigger:
                        if finished.is_set():
                            return
                        time.sleep(0.0005)
                    own += 1
                    resp = writer_client.update_image_set_metadata(
                        datastoreId=ds,
                        imageSetId=target,
                        latestVersionId=str(version),
                        updateImageSetMetadataUpdates=updatable(
                            {"PatientName": f"WRITER^{k}"}, {"StudyDescription": f"EDITED BY WRITER {k}"}
                        ),
                    )
                    version = int(resp["latestVersionId"])
                    writes.append(k)
                    own += 1
                    if "lastAccessedAt" in writer_client.get_image_set(datastoreId=ds, imageSetId=target):
                        return  # the tool read it: this update landed inside its read-write window
            except BaseException as e:  # reported by the test thread
                problems.append(e)
            finally:
                own_requests.append(own)

        thread = threading.Thread(target=writer, daemon=True)
        progress = Progress()

        async def steps(s):
            thread.start()
            try:
                return await ok(
                    s,
                    "bulk_update_patient_metadata",
                    progress,
                    datastore_id=ds,
                    patient_id="HI-PAT-TEN",
                    metadata_updates={"PatientName": "TOOL^WINS"},
                )
            finally:
                finished.set()

        report = call(server, steps, HEALTHIMAGING_MCP_WRITE_CONCURRENCY="1")
        thread.join(10)
        assert not problems, problems
        assert writes, "the writer never wrote"
        # The tool's requests: the search, four per image set (read, metadata, write, confirming
        # read), and three more for the stale attempt (read, metadata, write answered 409: the only
        # reason to retry).
        tool_requests = server.stats()["requests"] - base - own_requests[0]
        assert tool_requests == 1 + 4 * TEN + 3, f"tool made {tool_requests} requests; writer wrote {writes}"

        # The conflict was resolved: every item updated, nothing failed.
        assert report["total"] == TEN and report["failed"] == 0, report
        assert outcomes(report) == dict.fromkeys(before, "updated")
        progress.assert_complete(TEN)
        final = {i["image_set_id"]: i["latest_version_id"] for i in report["items"]}
        # The writer's versions, then the tool's on top of them.
        assert final[target] == str(1 + len(writes) + 1)
        assert version_of(client, ds, target) == final[target]
        listed = client.list_image_set_versions(datastoreId=ds, imageSetId=target)["imageSetPropertiesList"]
        assert sorted(int(v["versionId"]) for v in listed) == list(range(1, len(writes) + 3))
        for image_set_id in before:
            doc = get_metadata(client, ds, image_set_id)
            assert doc["Patient"]["DICOM"]["PatientName"] == "TOOL^WINS", image_set_id
            if image_set_id != target:
                assert final[image_set_id] == "2" and version_of(client, ds, image_set_id) == "2"
        # The tool re-read the image set: the writer's other change survives the retry.
        target_doc = get_metadata(client, ds, target)
        assert target_doc["Study"]["DICOM"]["StudyDescription"] == f"EDITED BY WRITER {writes[-1]}"
        # And the version the tool's first write was stale against is the writer's.
        stale = get_metadata(client, ds, target, str(1 + len(writes)))
        assert stale["Patient"]["DICOM"]["PatientName"] == f"WRITER^{writes[-1]}"
        if server.stats()["conflicts"]:  # counted by the server (see test_local_server_counts_conflicts)
            assert server.stats()["conflicts"] == 1
    finally:
        server.stop()


# ---- bulk deletion with a safety limit ---------------------------------------------------------


def test_bulk_delete_by_criteria_limit_validation_dry_run(world):
    server, client = world
    ds = new_store(client, "three")
    patient = equal("DICOMPatientId", "HI-PAT-THREE")
    three = versions(client, ds, patient)
    everything = versions(client, ds)
    others = {k: v for k, v in everything.items() if k not in three}
    assert len(three) == 3 and len(others) == 4
    criteria = {"DICOMPatientId": "HI-PAT-THREE"}
    progress = Progress()

    async def steps(s):
        seen = {}
        seen["refused"] = await ok(s, "bulk_delete_by_criteria", datastore_id=ds, criteria=criteria, max_deletions=2)
        seen["after_refused"] = versions(client, ds)
        requests = server.stats()["requests"]
        seen["invalid"] = [
            tool_error(await s.call_tool("bulk_delete_by_criteria", {"datastore_id": ds, "criteria": bad}))
            for bad in (
                {"DICOMPatientName": "X"},  # not a searchable attribute
                {"DICOMPatientId": "HI-PAT-THREE", "DICOMAccessionNumber": "A", "DICOMStudyId": "S"},
                {},
            )
        ]
        seen["invalid"].append(
            tool_error(
                await s.call_tool(
                    "bulk_delete_by_criteria", {"datastore_id": ds, "criteria": criteria, "max_deletions": 0}
                )
            )
        )
        seen["requests_during_invalid"] = server.stats()["requests"] - requests
        seen["dry"] = await ok(
            s, "bulk_delete_by_criteria", datastore_id=ds, criteria=criteria, max_deletions=3, dry_run=True
        )
        seen["after_dry"] = versions(client, ds)
        seen["real"] = await ok(
            s, "bulk_delete_by_criteria", progress, datastore_id=ds, criteria=criteria, max_deletions=3
        )
        return seen

    seen = call(server, steps)
    refused = seen["refused"]
    assert refused["refused"] is True and refused["matched"] == 3 and refused["max_deletions"] == 2
    assert refused["total"] == 0 and refused["items"] == []
    # The same report shape as every run (its output schema requires the counts).
    assert all(refused[k] == 0 for k in ("failed", "unchanged", "not_attempted", "already_deleted", "unconfirmed"))
    assert seen["after_refused"] == everything

    assert [e["type"] for e in seen["invalid"]] == ["validation_error"] * 4
    assert "criteria" in seen["invalid"][0]["message"] and "max_deletions" in seen["invalid"][3]["message"]
    assert seen["requests_during_invalid"] == 0

    dry = seen["dry"]
    assert dry["refused"] is False and dry["matched"] == 3 and dry["dry_run"] is True
    assert outcomes(dry) == dict.fromkeys(three, "would_delete_image_set")
    assert seen["after_dry"] == everything

    real = seen["real"]
    assert real["refused"] is False and real["matched"] == 3 and real["failed"] == 0
    assert outcomes(real) == dict.fromkeys(three, "image_set_deleted")
    assert real["remaining_image_sets"] == 0
    progress.assert_complete(3)
    assert versions(client, ds, patient) == {}
    for image_set_id in three:
        assert_gone(client, ds, image_set_id)
    assert versions(client, ds) == others


# ---- throttling --------------------------------------------------------------------------------


def test_delete_patient_studies_finishes_under_throttling(staged):
    server = local.start(s3_root=staged, throttle_rate=0.2)
    try:
        # boto3 (setting up and checking) retries enough not to notice the throttling.
        client = make_client(server.endpoint_url, retries={"total_max_attempts": 12, "mode": "standard"})
        ds = new_store(client, "throttled", samples=False)
        patient = equal("DICOMPatientId", "HI-PAT-THROTTLED")
        doomed = versions(client, ds, patient)
        assert len(doomed) == THROTTLED
        throttled0 = server.stats()["throttled"]
        progress = Progress()

        async def steps(s):
            args = {"datastore_id": ds, "patient_id": "HI-PAT-THROTTLED"}
            return await s.call_tool("delete_patient_studies", args, progress_callback=progress)

        # The one retry layer is the SDK's: allow it enough attempts for a 20% throttle rate.
        result = call(server, steps, AWS_MAX_ATTEMPTS="10")
        assert server.stats()["throttled"] > throttled0
        assert not result.is_error, result.content[0].text
        report = result.structured_content
        assert report["total"] == THROTTLED and report["failed"] == 0, [i for i in report["items"] if "error" in i]
        assert outcomes(report) == dict.fromkeys(doomed, "image_set_deleted")
        assert report["remaining_image_sets"] == 0
        progress.assert_complete(THROTTLED)
        assert versions(client, ds, patient) == {}
        assert versions(client, ds) == {}
    finally:
        server.stop()


# ---- read-only mode ----------------------------------------------------------------------------


def test_readonly_hides_every_destructive_workflow(staged):
    async def listed(s):
        return {t.name: t for t in (await s.list_tools()).tools}

    with local.start(s3_root=staged) as server:
        full = call(server, listed)
        readonly = call(server, listed, "--readonly")
    assert set(full) >= WORKFLOW_WRITE_TOOLS
    for name in WORKFLOW_WRITE_TOOLS:
        assert full[name].annotations.destructive_hint is True
        assert full[name].annotations.read_only_hint is False
        assert "dry_run" in full[name].input_schema["properties"]
    assert not WORKFLOW_WRITE_TOOLS & set(readonly)
    assert {"search_by_patient_id", "get_patient_studies"} <= set(readonly)
