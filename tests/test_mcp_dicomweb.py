"""The dicomweb tools, end to end over MCP stdio against the local HealthImaging's DICOMweb
routes: find a study by QIDO-RS, retrieve it as Part-10 files and parse each with pydicom
(attributes and pixels equal the bundled samples), store a folder with STOW-RS and find it with
boto3; bad input gives structured errors. The server runs with --file-root set to a temporary
folder."""

from __future__ import annotations

import shutil
import uuid

import pydicom
from awslabs.healthimaging_mcp_server import local
from conftest import (
    COMPARED,
    call,
    create_datastore,
    ok,
    search_all,
    tool_error,
    wait_datastore_status,
)

SAMPLES = local.SAMPLES_DIR
CT = SAMPLES / "HI-PAT-A" / "A1" / "S01_CT"


def study_of(manifest: dict, study_id: str) -> list[dict]:
    return [f for f in manifest["files"] if f["study_id"] == study_id]


def test_find_a_study_and_retrieve_it_as_files_pydicom_reads(server, seeded, manifest, tmp_path):
    files = study_of(manifest, "A1")
    study_uid = files[0]["study_instance_uid"]
    series_uid = files[0]["series_instance_uid"]

    async def steps(session):
        found = await ok(session, "search_dicom_studies", datastore_id=seeded.datastore_id, patient_id="HI-PAT-A")
        series = await ok(
            session, "search_dicom_series", datastore_id=seeded.datastore_id, study_instance_uid=study_uid
        )
        instances = await ok(
            session,
            "search_dicom_instances",
            datastore_id=seeded.datastore_id,
            study_instance_uid=study_uid,
            series_instance_uid=series_uid,
            limit=2,
            offset=1,
            include_dicom_json=True,
        )
        seen: list[tuple[float, float | None]] = []

        async def progress(done, total, message):
            seen.append((done, total))

        got = await ok(
            session,
            "retrieve_dicom_instances",
            progress=progress,
            datastore_id=seeded.datastore_id,
            study_instance_uid=study_uid,
            folder="out",
            transfer_syntax="explicit_vr_little_endian",
        )
        again = await ok(
            session,
            "retrieve_dicom_instances",
            datastore_id=seeded.datastore_id,
            study_instance_uid=study_uid,
            folder="out",
        )
        meta = await ok(
            session,
            "get_dicom_instance_metadata",
            datastore_id=seeded.datastore_id,
            study_instance_uid=study_uid,
            series_instance_uid=series_uid,
            sop_instance_uid=files[0]["sop_instance_uid"],
        )
        series_meta = await ok(
            session,
            "get_dicom_series_metadata",
            datastore_id=seeded.datastore_id,
            study_instance_uid=study_uid,
            series_instance_uid=series_uid,
        )
        return found, series, instances, got, again, seen, meta, series_meta

    found, series, instances, got, again, seen, meta, series_meta = call(server, steps, "--file-root", str(tmp_path))

    # QIDO-RS: the patient's two studies, as table rows; no DICOM JSON unless asked.
    uids = {r["study_instance_uid"] for r in found["rows"]}
    assert uids == {f["study_instance_uid"] for f in manifest["files"] if f["patient_id"] == "HI-PAT-A"}
    assert "dicom_json" not in found
    row = next(r for r in found["rows"] if r["study_instance_uid"] == study_uid)
    assert row["patient_id"] == "HI-PAT-A" and row["accession_number"] == "ACC-A1"
    assert [r["series_instance_uid"] for r in series["rows"]] == [series_uid]
    # Instances in InstanceNumber order; offset 1, limit 2 -> the 2nd and 3rd.
    ordered = sorted(files, key=lambda f: f["instance_number"])
    assert [r["sop_instance_uid"] for r in instances["rows"]] == [f["sop_instance_uid"] for f in ordered[1:3]]
    assert instances["more_may_exist"] is True
    assert [d["00080018"]["Value"][0] for d in instances["dicom_json"]] == [f["sop_instance_uid"] for f in ordered[1:3]]

    # WADO-RS metadata.
    assert meta["metadata"]["00080018"]["Value"][0] == files[0]["sop_instance_uid"]
    assert series_meta["count"] == len(files)

    # Every instance written once, in the documented layout, and equal to its sample.
    assert got["total"] == len(files) and got["written"] == len(files), got
    assert got["failed"] == got["skipped"] == got["not_attempted"] == 0
    assert seen and seen[-1] == (len(files), len(files))
    root = tmp_path.resolve()
    for f in files:
        path = root / "out" / f["study_instance_uid"] / f["series_instance_uid"] / f"{f['sop_instance_uid']}.dcm"
        assert path.is_file(), path
        ds = pydicom.dcmread(path)
        original = pydicom.dcmread(SAMPLES / f["path"])
        assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
        for keyword in COMPARED:
            assert ds.get(keyword) == original.get(keyword), keyword
        # The samples of this study are uncompressed, so the pixel data compares byte for byte.
        assert ds.PixelData == original.PixelData, f["path"]
    # A second run finds the files there and skips them.
    assert again["skipped"] == len(files) and again["written"] == 0, again


def test_store_a_folder_and_find_it_with_boto3(server, client, tmp_path):
    datastore_id = create_datastore(client, f"pytest-stow-{uuid.uuid4().hex[:8]}")
    wait_datastore_status(client, datastore_id, "ACTIVE")
    upload = tmp_path / "upload" / "nested"
    upload.mkdir(parents=True)
    sources = sorted(CT.glob("*.dcm"))
    for s in sources:
        shutil.copy(s, upload / s.name)
    (tmp_path / "upload" / "notes.txt").write_text("not DICOM")
    series_uid = str(pydicom.dcmread(sources[0]).SeriesInstanceUID)

    async def steps(session):
        return await ok(session, "store_dicom_files", datastore_id=datastore_id, paths=["upload"])

    # Batches of about two files, so the upload takes several requests.
    limit = str(2 * max(s.stat().st_size for s in sources) + 1024)
    out = call(server, steps, "--file-root", str(tmp_path), HEALTHIMAGING_MCP_STOW_BATCH_BYTES=limit)
    assert out["total"] == len(sources) + 1
    assert out["stored"] == len(sources) and out["failed"] == 0, out
    assert out["skipped_not_dicom"] == 1
    assert out["requests"] >= 2
    skipped = [f for f in out["files"] if f["outcome"] == "skipped_not_dicom"]
    assert skipped[0]["path"].endswith("notes.txt")

    summaries, _ = search_all(
        client,
        datastore_id,
        {"filters": [{"operator": "EQUAL", "values": [{"DICOMSeriesInstanceUID": series_uid}]}]},
        page_size=50,
    )
    assert summaries, "the stored series is not in SearchImageSets"
    reported = {s["image_set_id"] for entry in out["image_sets"] for s in entry["image_sets"]}
    assert reported == {s["imageSetId"] for s in summaries}


def test_bad_input_is_a_structured_error(server, seeded, manifest, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "root"
    root.mkdir()
    (root / "escape").symlink_to(outside)
    study_uid = manifest["files"][0]["study_instance_uid"]

    async def steps(session):
        out = {}
        out["bad_uid"] = await session.call_tool(
            "retrieve_dicom_instances",
            {"datastore_id": seeded.datastore_id, "study_instance_uid": "1.2.x", "folder": "out"},
        )
        for name, folder in (("dotdot", "../outside"), ("absolute", str(outside)), ("symlink", "escape/x")):
            out[name] = await session.call_tool(
                "retrieve_dicom_instances",
                {"datastore_id": seeded.datastore_id, "study_instance_uid": study_uid, "folder": folder},
            )
        out["store_outside"] = await session.call_tool(
            "store_dicom_files", {"datastore_id": seeded.datastore_id, "paths": [str(outside)]}
        )
        out["unknown_arg"] = await session.call_tool(
            "search_dicom_studies", {"datastore_id": seeded.datastore_id, "patient": "HI-PAT-A"}
        )
        out["window"] = await session.call_tool(
            "search_dicom_studies", {"datastore_id": seeded.datastore_id, "offset": 9990, "limit": 100}
        )
        return out

    out = call(server, steps, "--file-root", str(root))
    for name, result in out.items():
        body = tool_error(result)
        assert body["type"] == "validation_error", (name, body)
    assert "outside the allowed file roots" in tool_error(out["dotdot"])["message"]
    assert "10000" in tool_error(out["window"])["message"]
    assert not any(outside.iterdir()), "nothing may be written outside the roots"
