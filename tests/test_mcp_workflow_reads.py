"""The read workflows, end to end over MCP stdio against the local HealthImaging, on imports
built for them: the samples, a patient with 125 image sets (three pages of 50), a study split
across primary and non-primary image sets, and an image set holding two series. Every result is
checked against boto3's independent view of the same data store."""

from __future__ import annotations

import copy
import json

import pydicom
import pytest
from awslabs.healthimaging_mcp_server import local
from conftest import (
    call,
    copy_into,
    get_metadata,
    make_client,
    ok,
    run_import,
    search_all,
    seed_datastore,
    stage_samples,
    tool_error,
)
from pydicom.uid import generate_uid

MANY = 125
SAMPLES = local.SAMPLES_DIR


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A seeded data store plus the extra imports; yields (server, boto3 client, facts)."""
    root = tmp_path_factory.mktemp("s3")
    server = local.start(s3_root=root)
    client = make_client(server.endpoint_url)
    seeded = seed_datastore(client, stage_samples(root))
    ds = seeded.datastore_id

    # 125 single-instance series of one patient: 125 primary image sets.
    source = pydicom.dcmread(SAMPLES / "HI-PAT-A" / "A1" / "S01_CT" / "IM0001.dcm")
    many_dir = root / "extra-bucket" / "many"
    many_dir.mkdir(parents=True)
    study_uid = generate_uid()
    for i in range(MANY):
        ds_i = copy.deepcopy(source)
        ds_i.PatientID, ds_i.PatientName = "HI-PAT-MANY", "MANY^IMAGE^SETS"
        ds_i.StudyInstanceUID, ds_i.SeriesInstanceUID = study_uid, generate_uid()
        ds_i.SOPInstanceUID = generate_uid()
        ds_i.file_meta.MediaStorageSOPInstanceUID = ds_i.SOPInstanceUID
        ds_i.SeriesNumber = i + 1
        ds_i.save_as(many_dir / f"IM{i:04d}.dcm", enforce_file_format=True)
    # One CT instance of study A1 with another Study Date: conflicts with the primary image set
    # of its series, so it goes into a non-primary image set of the same study.
    split_dir = root / "extra-bucket" / "split"
    split_dir.mkdir(parents=True)
    conflicting = copy.deepcopy(source)
    conflicting.StudyDate = "20240106"
    conflicting.save_as(split_dir / "IM0001.dcm", enforce_file_format=True)
    for prefix in ("many", "split"):
        job = run_import(client, ds, f"s3://extra-bucket/{prefix}/", f"s3://extra-bucket/out/{prefix}/")
        assert job["jobStatus"] == "COMPLETED", job

    # Study B1's second series copied into its first image set: one image set, two series.
    b_sets, _ = search_all(
        client, ds, {"filters": [{"operator": "EQUAL", "values": [{"DICOMAccessionNumber": "ACC-B1"}]}]}, 50
    )
    b_sets.sort(key=lambda s: s["DICOMTags"]["DICOMNumberOfStudyRelatedInstances"])
    single, pair = b_sets[0]["imageSetId"], b_sets[1]["imageSetId"]
    copy_into(client, ds, pair, single)
    facts = {"ds": ds, "many_study": study_uid, "ct_series": source.SeriesInstanceUID, "merged": single}
    yield server, client, facts
    server.stop()


def test_searches_read_every_page(world):
    server, client, f = world

    async def steps(s):
        return (
            await ok(s, "search_by_patient_id", datastore_id=f["ds"], patient_id="HI-PAT-MANY"),
            await ok(s, "search_by_patient_id", datastore_id=f["ds"], patient_id="HI-PAT-MANY", max_results=60),
            await ok(s, "search_by_study_uid", datastore_id=f["ds"], study_instance_uid=f["many_study"]),
            await ok(s, "search_by_series_uid", datastore_id=f["ds"], series_instance_uid=f["ct_series"]),
        )

    everything, capped, by_study, by_series = call(server, steps)
    independent, _ = search_all(
        client, f["ds"], {"filters": [{"operator": "EQUAL", "values": [{"DICOMPatientId": "HI-PAT-MANY"}]}]}, 50
    )
    assert len(independent) == MANY
    assert everything["total"] == MANY and not everything["truncated"]
    assert {s["image_set_id"] for s in everything["image_sets"]} == {s["imageSetId"] for s in independent}
    assert capped["total"] == 60 and capped["truncated"]
    assert by_study["total"] == MANY
    # The CT series: its primary image set and the non-primary one from the conflicting import.
    assert by_series["total"] == 2 and by_series["primary"] == 1
    assert {s["is_primary"] for s in by_series["image_sets"]} == {True, False}


def test_primary_image_sets_of_a_split_study_and_series(world):
    server, client, f = world
    study = pydicom.dcmread(SAMPLES / "HI-PAT-A" / "A1" / "S01_CT" / "IM0001.dcm").StudyInstanceUID

    async def steps(s):
        return (
            await ok(s, "search_by_study_uid", datastore_id=f["ds"], study_instance_uid=study),
            await ok(s, "get_study_primary_image_sets", datastore_id=f["ds"], study_instance_uid=study),
            await ok(s, "get_series_primary_image_set", datastore_id=f["ds"], series_instance_uid=f["ct_series"]),
            await ok(s, "get_series_primary_image_set", datastore_id=f["ds"], series_instance_uid="1.2.3.4.5.6"),
        )

    all_sets, primaries, series_primary, none = call(server, steps)
    assert all_sets["total"] == 2
    assert primaries["total"] == 1 and primaries["image_sets"][0]["is_primary"] is True
    boto_primary = client.get_image_set(datastoreId=f["ds"], imageSetId=series_primary["image_set"]["image_set_id"])
    assert boto_primary["isPrimary"] is True
    assert series_primary["found"] and series_primary["other_primary_image_sets"] == []
    assert none == {
        "series_instance_uid": "1.2.3.4.5.6",
        "found": False,
        "image_set": None,
        "other_primary_image_sets": [],
    }


def test_patient_studies_and_series(world, manifest):
    server, client, f = world

    async def steps(s):
        return (
            await ok(s, "get_patient_studies", datastore_id=f["ds"], patient_id="HI-PAT-A"),
            await ok(s, "get_patient_studies", datastore_id=f["ds"], patient_id="HI-PAT-B"),
            await ok(s, "get_patient_series", datastore_id=f["ds"], patient_id="HI-PAT-B"),
        )

    studies_a, studies_b, series_b = call(server, steps)
    a_files = [x for x in manifest["files"] if x["patient_id"] == "HI-PAT-A"]
    assert studies_a["total_studies"] == len({x["study_instance_uid"] for x in a_files}) == 2
    # Newest study first; the split CT study lists its primary and non-primary image sets.
    assert [s["study_date"] for s in studies_a["studies"]] == ["20240310", "20240105"]
    ct_study = studies_a["studies"][1]
    assert ct_study["modalities"] == ["CT"]
    assert sorted(i["is_primary"] for i in ct_study["image_sets"]) == [False, True]
    assert ct_study["instance_count_in_primary_image_sets"] == 5
    assert studies_b["studies"][0]["series_count"] == 2

    # The merged image set holds both B1 series: read from its metadata, checked with boto3.
    merged_rows = [r for r in series_b["series"] if r["image_set_id"] == f["merged"]]
    doc = get_metadata(client, f["ds"], f["merged"])
    assert {r["series_instance_uid"] for r in merged_rows} == set(doc["Study"]["Series"])
    assert len(merged_rows) == 2
    for row in merged_rows:
        assert row["instance_count"] == len(doc["Study"]["Series"][row["series_instance_uid"]]["Instances"])
        assert row["modality"] == "MR"


def test_dicomweb_studies_are_qido_shaped(world, manifest):
    server, client, f = world
    result = call(server, lambda s: ok(s, "get_patient_dicomweb_studies", datastore_id=f["ds"], patient_id="HI-PAT-A"))
    assert result["total_studies"] == 2
    by_uid = {study["0020000D"]["Value"][0]: study for study in result["studies"]}
    for x in [m for m in manifest["files"] if m["patient_id"] == "HI-PAT-A"]:
        study = by_uid[x["study_instance_uid"]]
        assert study["0020000D"]["vr"] == "UI"
        assert study["00100020"] == {"vr": "LO", "Value": ["HI-PAT-A"]}
        assert study["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "DOE^JANE"}]}
        assert study["00080020"] == {"vr": "DA", "Value": [x["study_date"]]}
        assert study["00080050"]["Value"] == [x["accession_number"]]
        assert study["00080061"] == {"vr": "CS", "Value": [x["modality"]]}
        same_study = [m for m in manifest["files"] if m["study_instance_uid"] == x["study_instance_uid"]]
        # Primary data only (DICOMweb's view): the non-primary CT instance is not counted.
        assert study["00201208"]["Value"] == [len(same_study)]
        assert study["00201206"]["Value"] == [len({m["series_instance_uid"] for m in same_study})]
    json.dumps(result)  # plain JSON all the way down


def test_bad_input_is_refused_before_any_request(world):
    server, _, f = world
    before = server.stats()["requests"]

    async def steps(s):
        return [
            tool_error(
                await s.call_tool("search_by_series_uid", {"datastore_id": f["ds"], "series_instance_uid": "x.y"})
            ),
            tool_error(await s.call_tool("search_by_patient_id", {"datastore_id": "bad", "patient_id": "P"})),
            tool_error(
                await s.call_tool(
                    "search_by_patient_id", {"datastore_id": f["ds"], "patient_id": "P", "max_results": 0}
                )
            ),
        ]

    errors = call(server, steps)
    assert [e["type"] for e in errors] == ["validation_error"] * 3
    assert "series_instance_uid" in errors[0]["message"]
    assert server.stats()["requests"] == before
