"""Exact dry runs and study dates, end to end over MCP stdio against the local HealthImaging.

For a table of Patient/Study updates (valid ones and every kind HealthImaging refuses), each
update workflow runs as a dry run and then for real: the dry run's per-item outcome must be the
real run's (would_update <-> updated, would_fail <-> failed with the same reason), a refused
change sends no write, and the stored metadata (boto3 GetImageSetMetadata, gunzipped) changes
exactly when an item is reported updated. The same update documents sent straight to the local
HealthImaging with boto3 show the tool refuses exactly what the service refuses.

Study dates: ISO dates in search criteria are converted to DICOM YYYYMMDD (and the result says
so) instead of being compared as text; malformed dates and times are refused before any
request."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path

import pytest
from awslabs.healthimaging_mcp_server import local
from botocore.exceptions import ClientError
from conftest import (
    call,
    create_datastore,
    error_of,
    get_metadata,
    make_client,
    ok,
    run_import,
    settled,
    tool_error,
    wait_datastore_status,
)
from pydicom.uid import generate_uid
from test_mcp_workflow_writes import CT, dicom, equal, outcomes, version_of, versions

BUCKET = "dry-run-bucket"
PAIR, SCRATCH, DATED = "HI-PAT-PAIR", "HI-PAT-SCRATCH", "HI-PAT-DATED"
STUDY_DATES = ["20240115", "20240320", "20240601", "20240915", "20250110"]


def write_study(folder: Path, patient_id: str, series: int, study_date: str = "20240101") -> str:
    """One study of `patient_id` with `series` single-instance series (one image set each)."""
    folder.mkdir(parents=True)
    study_uid = generate_uid()
    for i in range(series):
        ds = dicom(CT / "IM0001.dcm")
        ds.PatientID, ds.PatientName, ds.StudyDate = patient_id, "ORIGINAL^NAME", study_date
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, generate_uid()
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.save_as(folder / f"IM{i:04d}.dcm", enforce_file_format=True)
    return study_uid


@pytest.fixture(scope="module")
def world(tmp_path_factory, write_delay_ms):
    """A local HealthImaging (writes complete at once or after a delay: `write_delay_ms`) with one
    data store: a two-image-set study (the update target), a one-image-set patient (scratch for
    the boto3 oracle), and five studies on known dates."""
    root = tmp_path_factory.mktemp("s3")
    server = local.start(s3_root=root, write_delay_ms=write_delay_ms)
    client = make_client(server.endpoint_url)
    pair_study = write_study(root / BUCKET / "in" / "pair", PAIR, 2)
    write_study(root / BUCKET / "in" / "scratch", SCRATCH, 1)
    for date in STUDY_DATES:
        write_study(root / BUCKET / "in" / f"dated-{date}", DATED, 1, date)
    ds = create_datastore(client, f"pytest-dry-{uuid.uuid4().hex[:10]}")
    wait_datastore_status(client, ds, "ACTIVE")
    job = run_import(client, ds, f"s3://{BUCKET}/in/", f"s3://{BUCKET}/out/")
    assert job["jobStatus"] == "COMPLETED", job
    yield server, client, ds, pair_study
    server.stop()


# ---- exact dry runs ----------------------------------------------------------------------------

# (case, Patient-level changes, Study-level changes, refusal reason fragment or None when valid)
UPDATES = [
    ("valid name and description", {"PatientName": "NEW^NAME"}, {"StudyDescription": "FIXED"}, None),
    ("valid ISO study date", {}, {"StudyDate": "2024-06-01"}, None),
    (
        "valid birth date, sex, time",
        {"PatientBirthDate": "19700131", "PatientSex": "F"},
        {"StudyTime": "101500.25"},
        None,
    ),
    ("attribute of the wrong level", {"StudyDescription": "X"}, {}, "Study-level attribute"),
    ("multi-valued name", {"PatientName": ["A^B", "C^D"]}, {}, "takes one value"),
    ("UID without force", {}, {"StudyInstanceUID": "1.2.3.4"}, "only be changed with force"),
    ("40 KB value", {}, {"ReasonForVisit": "x" * 40_000}, "HealthImaging accepts at most 30000"),
    ("hex tag key", {"00100010": "DOE^JANE"}, {}, "is the tag of PatientName"),
    ("unknown keyword", {"PatientNickname": "JO"}, {}, "not a DICOM keyword"),
    ("null value", {"PatientSex": None}, {}, "PatientSex is null"),
    ("date neither DICOM nor ISO", {}, {"StudyDate": "01/06/2024"}, "give YYYYMMDD or YYYY-MM-DD"),
    ("time not HHMMSS", {}, {"StudyTime": "10:15"}, "give HHMMSS"),
    ("time HHMM", {}, {"StudyTime": "1015"}, "give HHMMSS"),
    ("value too long for its VR", {}, {"StudyDescription": "x" * 65}, "LO allows at most 64"),
    ("sequence", {}, {"ProcedureCodeSequence": [{"CodeValue": "1"}]}, "sequences need force"),
]
# What the stored metadata holds after a valid case where it differs from what was given.
STORED = {"valid ISO study date": {"StudyDate": "20240601"}}
# Refused by this server although HealthImaging would store them: an empty value, and a time in
# a shorter form DICOM allows (this server takes HHMMSS[.ffffff] only).
SERVER_POLICY = {"null value", "time HHMM"}


def expected_after(before: dict, case: str, patient: dict, study: dict) -> dict:
    doc = copy.deepcopy(before)
    doc["Patient"]["DICOM"].update(patient)
    doc["Study"]["DICOM"].update(study)
    doc["Study"]["DICOM"].update(STORED.get(case, {}))
    return doc


def report_of(result) -> dict:
    """A workflow report, also from a result flagged as an error (every item failed)."""
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


def service_accepts(client, ds: str, image_set_id: str, document: dict) -> bool:
    """Sends `document` as updatableAttributes straight to the local HealthImaging (no force)."""
    try:
        client.update_image_set_metadata(
            datastoreId=ds,
            imageSetId=image_set_id,
            latestVersionId=version_of(client, ds, image_set_id),
            updateImageSetMetadataUpdates={"DICOMUpdates": {"updatableAttributes": json.dumps(document).encode()}},
        )
    except ClientError as e:
        assert error_of(e) == ("ValidationException", 400), e.response
        return False
    settled(client, ds, image_set_id)  # the next document goes to the completed version
    return True


@pytest.mark.parametrize("workflow", ["update_patient_study_metadata", "bulk_update_patient_metadata"])
def test_dry_run_outcome_equals_real_outcome_item_by_item(world, workflow):
    server, client, ds, pair_study = world
    targets = set(versions(client, ds, equal("DICOMStudyInstanceUID", pair_study)))
    assert len(targets) == 2
    (scratch,) = versions(client, ds, equal("DICOMPatientId", SCRATCH))

    def args(patient: dict, study: dict) -> dict:
        if workflow == "update_patient_study_metadata":
            return {"study_instance_uid": pair_study, "patient_updates": patient, "study_updates": study}
        return {"patient_id": PAIR, "metadata_updates": {"Patient": patient, "Study": study}}

    async def steps(s):
        seen = []
        for _case, patient, study, _ in UPDATES:
            before = {i: (version_of(client, ds, i), get_metadata(client, ds, i)) for i in targets}
            requests = server.stats()["requests"]
            dry = await ok(s, workflow, datastore_id=ds, **args(patient, study), dry_run=True)
            dry_requests = server.stats()["requests"] - requests
            after_dry = {i: (version_of(client, ds, i), get_metadata(client, ds, i)) for i in targets}
            requests = server.stats()["requests"]
            real = report_of(await s.call_tool(workflow, {"datastore_id": ds, **args(patient, study)}))
            real_requests = server.stats()["requests"] - requests
            after = {i: (version_of(client, ds, i), get_metadata(client, ds, i)) for i in targets}
            seen.append((before, dry, dry_requests, after_dry, real, real_requests, after))
        return seen

    seen = call(server, steps)
    for (case, patient, study, reason), (before, dry, dry_requests, after_dry, real, real_requests, after) in zip(
        UPDATES, seen, strict=True
    ):
        assert after_dry == before, case  # a dry run changes nothing
        dry_items = {i["image_set_id"]: i for i in dry["items"]}
        real_items = {i["image_set_id"]: i for i in real["items"]}
        assert set(dry_items) == set(real_items) == targets, case
        for image_set_id in targets:
            d, r = dry_items[image_set_id], real_items[image_set_id]
            pair = (d["outcome"], r["outcome"])
            assert pair in {("would_update", "updated"), ("would_fail", "failed"), ("unchanged", "unchanged")}, (
                case,
                d,
                r,
            )
            assert d.get("detail") == r.get("detail"), case  # the same reason
        if reason is None:
            # The second workflow finds the first one's values in place: unchanged, no write.
            assert set(outcomes(dry).values()) <= {"would_update", "unchanged"} and real["failed"] == 0, (case, dry)
            assert "update_refused" not in dry and dry["would_fail"] == 0, case
            for image_set_id, (version, doc) in before.items():
                if real_items[image_set_id]["outcome"] == "unchanged":
                    assert doc == expected_after(doc, case, patient, study), case
                    assert after[image_set_id] == (version, doc), case
                    continue
                assert after[image_set_id][0] == str(int(version) + 1), case
                assert after[image_set_id][1] == expected_after(doc, case, patient, study), case
            wrote = "updated" in outcomes(real).values()
            assert real_requests > dry_requests if wrote else real_requests == dry_requests, case
        else:
            assert set(outcomes(dry).values()) == {"would_fail"} and dry["would_fail"] == 2, (case, dry)
            assert set(outcomes(real).values()) == {"failed"} and real["failed"] == 2, case
            for item in real["items"]:
                assert reason in item["detail"], (case, item)
                assert item["error"] == {"type": "validation_error", "message": item["detail"]}, case
                assert len(item["detail"]) < 400, case  # a 40 KB value is not echoed
            assert reason in dry["update_refused"] and dry["update_refused"] == real["update_refused"], case
            assert after == before, case  # nothing stored, no new version
            assert real_requests == dry_requests, case  # the same reads as the dry run, no write
    iso = dict(zip([u[0] for u in UPDATES], seen, strict=True))["valid ISO study date"]
    assert iso[1]["normalized"] == {"StudyDate": "20240601"} == iso[4]["normalized"]
    assert iso[4]["update_document"]["Study"]["DICOM"]["StudyDate"] == "20240601"

    # The oracle: the same documents straight to the service. It refuses exactly what the tool
    # refused, except where this server is stricter on purpose.
    for (case, _, _, reason), (_, dry, *_rest) in zip(UPDATES, seen, strict=True):
        accepted = service_accepts(client, ds, scratch, dry["update_document"])
        assert accepted == (reason is None or case in SERVER_POLICY), case


def test_invalid_update_documents_are_still_validation_errors(world):
    """Not an object at all: a validation_error before anything is read."""
    server, client, ds, pair_study = world

    async def steps(s):
        requests = server.stats()["requests"]
        errors = [
            tool_error(
                await s.call_tool(
                    "update_patient_study_metadata",
                    {"datastore_id": ds, "study_instance_uid": pair_study, "patient_updates": {}, "study_updates": {}},
                )
            ),
            tool_error(
                await s.call_tool(
                    "bulk_update_patient_metadata", {"datastore_id": ds, "patient_id": PAIR, "metadata_updates": {}}
                )
            ),
        ]
        return errors, server.stats()["requests"] - requests

    errors, requests = call(server, steps)
    assert [e["type"] for e in errors] == ["validation_error"] * 2
    assert requests == 0


# ---- study dates -------------------------------------------------------------------------------


def study_range(low: str, high: str) -> dict:
    """The dated patient's image sets with a study date from `low` to `high`."""
    return {
        "filters": [
            {
                "operator": "BETWEEN",
                "values": [
                    {"DICOMStudyDateAndTime": {"DICOMStudyDate": low}},
                    {"DICOMStudyDateAndTime": {"DICOMStudyDate": high}},
                ],
            },
            {"operator": "EQUAL", "values": [{"DICOMPatientId": DATED}]},
        ]
    }


def dated_sets(client, ds: str) -> dict[str, str]:
    """StudyDate -> image set of the dated patient (boto3 search)."""
    found = client.search_image_sets(datastoreId=ds, searchCriteria=equal("DICOMPatientId", DATED), maxResults=50)
    return {s["DICOMTags"]["DICOMStudyDate"]: s["imageSetId"] for s in found["imageSetsMetadataSummaries"]}


def test_iso_study_dates_are_converted_not_compared_as_text(world):
    server, client, ds, _ = world
    by_date = dated_sets(client, ds)
    assert sorted(by_date) == STUDY_DATES
    june_on = {by_date["20240601"], by_date["20240915"]}
    # The service's own answer for the DICOM form of the same range.
    oracle = client.search_image_sets(datastoreId=ds, searchCriteria=study_range("20240601", "20241231"))
    assert {s["imageSetId"] for s in oracle["imageSetsMetadataSummaries"]} == june_on
    iso, mixed = study_range("2024-06-01", "2024-12-31"), study_range("2024-06-01", "20241231")

    async def steps(s):
        seen = {}
        for name, criteria in (("iso", iso), ("mixed", mixed)):
            seen[name] = await ok(
                s, "bulk_delete_by_criteria", datastore_id=ds, criteria=criteria, max_deletions=10, dry_run=True
            )
        seen["search"] = await ok(s, "search_image_sets", datastore_id=ds, search_criteria=iso, max_results=50)
        seen["after_dry"] = dated_sets(client, ds)
        seen["real"] = await ok(s, "bulk_delete_by_criteria", datastore_id=ds, criteria=iso, max_deletions=10)
        return seen

    seen = call(server, steps)
    for name in ("iso", "mixed"):
        dry = seen[name]
        assert outcomes(dry) == dict.fromkeys(june_on, "would_delete_image_set"), (name, dry)
        assert dry["matched"] == 2, name
    assert seen["iso"]["normalized"] == {
        "filters[0].values[0].DICOMStudyDateAndTime.DICOMStudyDate": "20240601",
        "filters[0].values[1].DICOMStudyDateAndTime.DICOMStudyDate": "20241231",
    }
    assert seen["mixed"]["normalized"] == {"filters[0].values[0].DICOMStudyDateAndTime.DICOMStudyDate": "20240601"}
    search = seen["search"]
    assert {s["image_set_id"] for s in search["image_sets_metadata_summaries"]} == june_on
    assert search["normalized"] == seen["iso"]["normalized"]
    assert seen["after_dry"] == by_date
    real = seen["real"]
    assert outcomes(real) == dict.fromkeys(june_on, "image_set_deleted") and real["remaining_image_sets"] == 0
    assert dated_sets(client, ds) == {d: i for d, i in by_date.items() if i not in june_on}


@pytest.mark.parametrize(
    ("low", "time", "why"),
    [
        ("2024/06/01", None, "give YYYYMMDD or YYYY-MM-DD"),
        ("June 1 2024", None, "give YYYYMMDD or YYYY-MM-DD"),
        ("20240631", None, "not a calendar date"),
        ("2024-02-30", None, "not a calendar date"),
        ("20240601", "10:15", "give HHMMSS"),
        ("20240601", "1015", "give HHMMSS"),
    ],
)
def test_malformed_dates_and_times_are_refused_before_any_request(world, low, time, why):
    server, _, ds, _ = world
    criteria = study_range(low, "20241231")
    if time is not None:
        criteria["filters"][0]["values"][0]["DICOMStudyDateAndTime"]["DICOMStudyTime"] = time

    async def steps(s):
        requests = server.stats()["requests"]
        errors = {
            "bulk": tool_error(
                await s.call_tool(
                    "bulk_delete_by_criteria", {"datastore_id": ds, "criteria": criteria, "dry_run": True}
                )
            ),
            "bulk_real": tool_error(
                await s.call_tool("bulk_delete_by_criteria", {"datastore_id": ds, "criteria": criteria})
            ),
            "search": tool_error(
                await s.call_tool("search_image_sets", {"datastore_id": ds, "search_criteria": criteria})
            ),
        }
        return errors, server.stats()["requests"] - requests

    errors, requests = call(server, steps)
    assert requests == 0
    for name, param in (("bulk", "criteria"), ("bulk_real", "criteria"), ("search", "search_criteria")):
        e = errors[name]
        assert e["type"] == "validation_error", (name, e)
        assert why in e["message"], (name, e)
        # one prefix, naming the tool's own parameter
        assert (
            e["message"].startswith(f"Invalid parameter '{param}': ") and e["message"].count("Invalid parameter") == 1
        )


def test_bulk_delete_criteria_errors_name_the_parameter_once(world):
    server, _, ds, _ = world

    async def steps(s):
        return [
            tool_error(await s.call_tool("bulk_delete_by_criteria", {"datastore_id": ds, "criteria": bad}))
            for bad in (
                {"DICOMPatientName": "X"},
                {"filters": [{"operator": "LIKE", "values": [{"DICOMPatientId": "X"}]}]},
                {"DICOMStudyInstanceUID": "not-a-uid"},
            )
        ]

    for e in call(server, steps):
        assert e["type"] == "validation_error", e
        assert e["message"].startswith("Invalid parameter 'criteria"), e
        assert e["message"].count("Invalid parameter") == 1, e
