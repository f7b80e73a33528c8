"""The compact views, end to end over MCP stdio against the local HealthImaging: the image set
summary, get_image_set_metadata's filters and the series contact sheet. Every answer is
checked against an independent view: boto3's GetImageSet / GetImageSetMetadata of the same
image set, and the sample files read with pydicom."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
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
from test_mcp_pixels_render import read_png

SAMPLES = local.SAMPLES_DIR


CT = SAMPLES / "HI-PAT-A" / "A1" / "S01_CT"


def restacked_ct(folder: Path) -> str:
    """The CT sample as a new series whose instance numbers run against the slice positions
    and which has no SpacingBetweenSlices (so order and spacing must come from the positions);
    returns its series UID."""
    folder.mkdir(parents=True)
    study, series = generate_uid(), generate_uid()
    files = sorted(CT.glob("*.dcm"))
    for i, path in enumerate(files):
        d = pydicom.dcmread(path)
        d.StudyInstanceUID, d.SeriesInstanceUID = study, series
        d.SOPInstanceUID = d.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        d.InstanceNumber = len(files) - i
        del d.SpacingBetweenSlices
        d.save_as(folder / path.name, enforce_file_format=True)
    return series


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The samples imported, one image set holding two series (B1's second series copied into
    the first's image set) and the restacked CT; yields (server, boto3 client, facts)."""
    root = tmp_path_factory.mktemp("s3")
    server = local.start(s3_root=root)
    client = make_client(server.endpoint_url)
    seeded = seed_datastore(client, stage_samples(root))
    ds = seeded.datastore_id
    b1 = pydicom.dcmread(SAMPLES / "HI-PAT-B" / "B1" / "S01_MR" / "IM0001.dcm").SeriesInstanceUID
    b2 = pydicom.dcmread(SAMPLES / "HI-PAT-B" / "B1" / "S02_MR" / "IM0001.dcm").SeriesInstanceUID
    copy_into(client, ds, seeded.image_sets[b2], seeded.image_sets[b1])
    restacked = restacked_ct(root / "extra" / "restacked")
    job = run_import(client, ds, "s3://extra/restacked/", "s3://extra/out/")
    assert job["jobStatus"] == "COMPLETED", job
    found, _ = search_all(
        client, ds, {"filters": [{"operator": "EQUAL", "values": [{"DICOMSeriesInstanceUID": restacked}]}]}, 50
    )
    image_sets = {**seeded.image_sets, restacked: found[0]["imageSetId"]}
    facts = {"ds": ds, "image_sets": image_sets, "merged": seeded.image_sets[b1], "b1": b1, "b2": b2}
    facts["restacked"] = restacked
    facts["restacked_dir"] = root / "extra" / "restacked"
    yield server, client, facts
    server.stop()


def text_of(result) -> str:
    assert not result.is_error, result.content[0].text
    return result.content[0].text


# ---- get_image_set_summary ---------------------------------------------------------------------


def dicom(level: dict) -> dict:
    return level.get("DICOM", {})


def first_value(v):
    return v[0] if isinstance(v, list) else v


def person_name(v) -> str:
    v = first_value(v)
    return v["Alphabetic"] if isinstance(v, dict) else v


def test_summary_agrees_with_boto3_and_is_small(world):
    server, client, f = world
    ids = sorted(set(f["image_sets"].values()))

    async def steps(s):
        return [await s.call_tool("get_image_set_summary", {"datastore_id": f["ds"], "image_set_id": i}) for i in ids]

    results = call(server, steps)
    for image_set_id, result in zip(ids, results, strict=True):
        text = text_of(result)
        assert len(text.encode()) < 2048, (len(text), text)
        got = json.loads(text)
        assert got == result.structured_content
        props = client.get_image_set(datastoreId=f["ds"], imageSetId=image_set_id)
        doc = get_metadata(client, f["ds"], image_set_id)
        assert got["image_set_id"] == image_set_id
        assert got["version_id"] == props["versionId"]
        assert got["is_primary"] == props["isPrimary"]
        assert got["created_at"][:19] == props["createdAt"].strftime("%Y-%m-%dT%H:%M:%S")
        patient, study = dicom(doc["Patient"]), dicom(doc["Study"])
        assert got["patient"] == {
            "id": patient["PatientID"],
            "name": person_name(patient["PatientName"]),
            "sex": patient["PatientSex"],
            "birth_date": patient["PatientBirthDate"],
        }
        assert got["study"] == {
            "uid": study["StudyInstanceUID"],
            "date": study["StudyDate"],
            "description": study["StudyDescription"],
            "accession_number": study["AccessionNumber"],
        }
        want_series = doc["Study"]["Series"]
        assert sorted(s["uid"] for s in got["series"]) == sorted(want_series)
        for s in got["series"]:
            series = want_series[s["uid"]]
            instances = series["Instances"].values()
            attrs = {**dicom(series), **dicom(next(iter(instances)))}
            assert s["modality"] == attrs["Modality"]
            assert s["description"] == attrs["SeriesDescription"]
            assert s["body_part"] == attrs["BodyPartExamined"]
            assert s["instances"] == len(series["Instances"])
            assert s["frames"] == sum(len(i["ImageFrames"]) for i in instances)
            assert s["rows_x_columns"] == sorted({f"{dicom(i)['Rows']}x{dicom(i)['Columns']}" for i in instances})
            assert s["transfer_syntaxes"] == sorted({i["StoredTransferSyntaxUID"] for i in instances})
            if "SliceThickness" in attrs:
                assert s["slice_thickness"] == pytest.approx(float(first_value(attrs["SliceThickness"])))
    # The two-series image set lists both, in series-number order.
    merged = json.loads(text_of(results[ids.index(f["merged"])]))
    assert [s["uid"] for s in merged["series"]] == [f["b1"], f["b2"]]


def test_summary_spacing_from_the_attribute_or_the_positions(world):
    """The CT sample states SpacingBetweenSlices; its restacked copy does not, so the summary
    derives it from the positions and says so. Expected values come from the files (pydicom)."""
    server, _, f = world
    slices = [pydicom.dcmread(p) for p in sorted(CT.glob("*.dcm"))]
    zs = sorted(float(d.ImagePositionPatient[2]) for d in slices)  # axial: the normal is z
    gaps = sorted(b - a for a, b in zip(zs, zs[1:], strict=False))
    original = f["image_sets"][slices[0].SeriesInstanceUID]
    restacked = f["image_sets"][f["restacked"]]

    async def steps(s):
        return [
            (await ok(s, "get_image_set_summary", datastore_id=f["ds"], image_set_id=i))["series"][0]
            for i in (original, restacked)
        ]

    stated, derived = call(server, steps)
    assert stated["spacing_between_slices"] == pytest.approx(float(slices[0].SpacingBetweenSlices))
    assert stated["spacing_source"] == "attribute"
    assert derived["spacing_between_slices"] == pytest.approx(gaps[len(gaps) // 2])
    assert gaps[-1] - gaps[0] <= 0.01 * gaps[0]
    assert derived["spacing_source"] == "positions"
    assert derived["slice_thickness"] == pytest.approx(float(slices[0].SliceThickness))


def test_summary_errors(world):
    server, _, f = world

    async def steps(s):
        return (
            await s.call_tool("get_image_set_summary", {"datastore_id": f["ds"], "image_set_id": "0" * 32}),
            await s.call_tool("get_image_set_summary", {"datastore_id": f["ds"]}),
        )

    missing, incomplete = call(server, steps)
    assert tool_error(missing)["type"] == "not_found"
    assert tool_error(incomplete)["type"] == "validation_error"


# ---- get_image_set_metadata filters ------------------------------------------------------------


def test_metadata_filters(world):
    server, client, f = world
    merged = f["merged"]
    full = get_metadata(client, f["ds"], merged)
    assert set(full["Study"]["Series"]) == {f["b1"], f["b2"]}
    sop = next(iter(full["Study"]["Series"][f["b2"]]["Instances"]))
    base = {"datastore_id": f["ds"], "image_set_id": merged}

    async def steps(s):
        calls = [
            {},
            {"include_instances": True},
            {"series_instance_uid": f["b2"]},
            {"sop_instance_uid": sop},
            {"series_instance_uid": f["b2"], "sop_instance_uid": sop},
            {"include_instances": False},
            {"series_instance_uid": f["b1"], "include_instances": False},
        ]
        return [await s.call_tool("get_image_set_metadata", {**base, **c}) for c in calls]

    default, with_instances, series, instance, both, counts, series_counts = call(server, steps)
    # No option (or the default value): exactly today's answer, the whole document.
    assert text_of(default) == text_of(with_instances)
    assert json.loads(text_of(default))["image_set_metadata"] == full

    def doc(result) -> dict:
        return json.loads(text_of(result))["image_set_metadata"]

    def without_series(d: dict) -> dict:
        return {**d, "Study": {k: v for k, v in d["Study"].items() if k != "Series"}}

    for part in (series, instance, both, counts, series_counts):
        assert without_series(doc(part)) == without_series(full)
    assert doc(series)["Study"]["Series"] == {f["b2"]: full["Study"]["Series"][f["b2"]]}
    want_instance = full["Study"]["Series"][f["b2"]]
    want_instance = {**want_instance, "Instances": {sop: want_instance["Instances"][sop]}}
    assert doc(instance)["Study"]["Series"] == {f["b2"]: want_instance}
    assert doc(both) == doc(instance)
    for uid, s in doc(counts)["Study"]["Series"].items():
        original = full["Study"]["Series"][uid]
        assert s == {
            **{k: v for k, v in original.items() if k != "Instances"},
            "InstanceCount": len(original["Instances"]),
            "FrameCount": sum(len(i["ImageFrames"]) for i in original["Instances"].values()),
        }
    assert list(doc(series_counts)["Study"]["Series"]) == [f["b1"]]
    assert doc(series_counts)["Study"]["Series"][f["b1"]]["FrameCount"] == 10
    assert len(text_of(counts)) < len(text_of(default))


def test_metadata_filters_refuse_unknown_uids(world):
    server, client, f = world
    merged = f["merged"]
    full = get_metadata(client, f["ds"], merged)
    sop_b1 = next(iter(full["Study"]["Series"][f["b1"]]["Instances"]))
    base = {"datastore_id": f["ds"], "image_set_id": merged}

    async def steps(s):
        calls = [
            {"series_instance_uid": "1.2.3.999"},
            {"sop_instance_uid": "1.2.3.888"},
            {"series_instance_uid": f["b2"], "sop_instance_uid": sop_b1},
            {"series_instance_uid": "not a uid"},
            {"include_instances": "no"},
        ]
        return [await s.call_tool("get_image_set_metadata", {**base, **c}) for c in calls]

    series, instance, elsewhere, malformed, wrong_type = call(server, steps)
    for result, uid in ((series, "1.2.3.999"), (instance, "1.2.3.888"), (elsewhere, sop_b1)):
        body = tool_error(result)
        assert body["type"] == "not_found", body
        assert uid in body["message"], body
    assert tool_error(malformed)["type"] == "validation_error"
    assert tool_error(wrong_type)["type"] == "validation_error"


# ---- render_series_contact_sheet ---------------------------------------------------------------


def sheet_of(result) -> tuple[dict, np.ndarray]:
    assert not result.is_error, result.content[0].text
    text, image = result.content
    assert image.type == "image" and image.mime_type == "image/png"
    assert json.loads(text.text) == result.structured_content
    return result.structured_content, read_png(base64.b64decode(image.data))


def test_contact_sheet_orders_tiles_along_the_normal(world):
    """The restacked CT: instance numbers run against the positions, so position order (read
    from the files with pydicom) and instance order differ; every tile equals that frame rendered
    alone with the sheet's window (below its label)."""
    server, _, f = world
    files = [pydicom.dcmread(p) for p in f["restacked_dir"].glob("*.dcm")]
    by_position = sorted(files, key=lambda d: float(d.ImagePositionPatient[2]))
    assert [d.InstanceNumber for d in by_position] != sorted(d.InstanceNumber for d in files)
    ds = f["ds"]

    async def steps(s):
        sheet = await s.call_tool(
            "render_series_contact_sheet", {"datastore_id": ds, "series_instance_uid": f["restacked"]}
        )
        body, _ = sheet_of(sheet)
        w = body["window"]
        singles = []
        for t in body["tiles"]:
            single = await s.call_tool(
                "render_image_frame",
                {
                    "datastore_id": ds,
                    "series_instance_uid": f["restacked"],
                    "sop_instance_uid": t["sop_instance_uid"],
                    "window_center": w["center"],
                    "window_width": w["width"],
                },
            )
            singles.append(read_png(base64.b64decode(single.content[1].data)))
        return sheet, singles

    result, singles = call(server, steps)
    body, png = sheet_of(result)
    assert body["image_set_id"] == f["image_sets"][f["restacked"]]
    assert body["ordered_by"] == "position" and body["series_slices"] == len(files) == 5
    assert [t["sop_instance_uid"] for t in body["tiles"]] == [d.SOPInstanceUID for d in by_position]
    assert [t["instance_number"] for t in body["tiles"]] == [d.InstanceNumber for d in by_position]
    for t, d in zip(body["tiles"], by_position, strict=True):
        assert t["slice_location"] == pytest.approx(float(d.ImagePositionPatient[2]))
        assert t["frame_number"] == 1 and "error" not in t
    grid = body["grid"]
    assert (grid["columns"], grid["rows"], grid["tile_width"], grid["tile_height"]) == (3, 2, 128, 128)
    assert png.shape == (grid["height"], grid["width"]) == (256, 384)
    assert body["failed_tiles"] == 0 and body["window"]["source"] == "image"
    for i, single in enumerate(singles):
        x, y = (i % 3) * 128, (i // 3) * 128
        # Below the 10-pixel label band the tile is the frame as render_image_frame draws it.
        assert (png[y + 10 : y + 128, x : x + 128] == single[10:128]).all(), i
        band = png[y : y + 10, x : x + 40]
        assert band.max() == 255 and band.min() == 0  # a label is drawn
    assert not png[128:256, 256:384].any()  # the sixth cell is empty


def test_contact_sheet_count_window_and_frames(world):
    server, _, f = world
    ds = f["ds"]

    async def steps(s):
        def sheet(**args):
            return s.call_tool("render_series_contact_sheet", {"datastore_id": ds, **args})

        return (
            await sheet(series_instance_uid=f["restacked"], count=2, window_preset="lung"),
            await sheet(series_instance_uid=f["b1"], count=4, image_set_id=f["merged"]),
            await sheet(series_instance_uid=f["restacked"], count=0),
            await sheet(series_instance_uid=f["restacked"], count=65),
            await sheet(series_instance_uid=f["restacked"], window_center=40),
            await sheet(series_instance_uid="1.2.3.4.5"),
            await sheet(series_instance_uid=f["b2"], image_set_id=f["image_sets"][f["restacked"]]),
        )

    two, frames, zero, many, half_window, unknown, elsewhere = call(server, steps)
    body, png = sheet_of(two)
    zs = sorted(float(pydicom.dcmread(p).ImagePositionPatient[2]) for p in f["restacked_dir"].glob("*.dcm"))
    assert [t["slice_location"] for t in body["tiles"]] == pytest.approx([zs[0], zs[-1]])  # both ends
    assert body["window"] == {"center": -600.0, "width": 1500.0, "source": "preset", "preset": "lung"}
    assert png.shape == (128, 256)
    body, png = sheet_of(frames)
    # One multi-frame instance of 10 frames: frames 1, 4, 7, 10, in a 2x2 grid.
    assert [t["frame_number"] for t in body["tiles"]] == [1, 4, 7, 10]
    assert len({t["image_frame_id"] for t in body["tiles"]}) == 4
    assert body["ordered_by"] == "instance_number" and body["series_slices"] == 10  # no top-level geometry
    assert (body["grid"]["columns"], body["grid"]["rows"]) == (2, 2)
    for bad in (zero, many, half_window):
        assert tool_error(bad)["type"] == "validation_error"
    assert tool_error(unknown)["type"] == "not_found"
    assert tool_error(elsewhere)["type"] == "not_found"
