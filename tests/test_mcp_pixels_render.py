"""render_image_frame end to end: a real MCP client, the real server, the local HealthImaging.

The data store of this module holds the bundled samples (explicit VR little endian, JPEG 2000
lossless, multi-frame HTJ2K) and the rendering fixtures of scripts/make_pixel_samples.py
(signed CT, MR, MONOCHROME1, multi-frame, RGB interleaved and planar, YBR_FULL, YBR_FULL_422,
palette colour, JPEG baseline, a corrupt JPEG frame, 12-bit JPEG extended). Expected pixels
come from pydicom and numpy (the source files, pydicom's modality and VOI LUT functions), and
stored state is read with boto3.
"""

from __future__ import annotations

import base64
import json
import shutil
import struct
import uuid
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from awslabs.healthimaging_mcp_server import local
from conftest import (
    call,
    create_datastore,
    get_metadata,
    instances_of,
    make_client,
    run_import,
    search_all,
    stage_samples,
    start_server,
    tool_error,
    wait_datastore_status,
)
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut

FIXTURES = Path(__file__).parent / "fixtures" / "pixels"
SAMPLES = Path(local.SAMPLES_DIR)


def read_png(data: bytes) -> np.ndarray:
    """A small PNG reader (8-bit grey or RGB, non-interlaced): the image as an array."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    assert header is not None
    width, height, depth, color, _, _, interlace = header
    assert depth == 8 and interlace == 0 and color in (0, 2), header
    channels = 1 if color == 0 else 3
    raw = zlib.decompress(idat)
    stride = width * channels
    out = np.zeros((height, stride), dtype=np.int32)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        kind, row = raw[y * (stride + 1)], np.frombuffer(raw, np.uint8, stride, y * (stride + 1) + 1).astype(np.int32)
        cur = np.zeros(stride, dtype=np.int32)
        for x in range(stride):
            a = cur[x - channels] if x >= channels else 0
            b = prev[x]
            c = prev[x - channels] if x >= channels else 0
            if kind == 0:
                p = 0
            elif kind == 1:
                p = a
            elif kind == 2:
                p = b
            elif kind == 3:
                p = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[x] = (row[x] + p) % 256
        out[y], prev = cur, cur
    return out.reshape(height, width, channels) if channels == 3 else out


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    """A local HealthImaging with one data store holding the samples and the fixtures."""
    root = tmp_path_factory.mktemp("pixels")
    with start_server(root) as server:
        client = make_client(server.endpoint_url)
        datastore_id = create_datastore(client, f"pixels-{uuid.uuid4().hex[:8]}")
        wait_datastore_status(client, datastore_id, "ACTIVE")
        samples = stage_samples(server.s3_root)
        shutil.copytree(FIXTURES, Path(server.s3_root) / "staged-samples" / "pixels")
        for uri in (samples, "s3://staged-samples/pixels/"):
            job = run_import(client, datastore_id, uri, f"s3://staged-samples/out/{uuid.uuid4().hex[:6]}/")
            assert job["jobStatus"] == "COMPLETED", job
        summaries, _ = search_all(client, datastore_id, page_size=50)
        instances = {}
        for s in summaries:
            doc = get_metadata(client, datastore_id, s["imageSetId"])
            for series_uid, series in doc["Study"]["Series"].items():
                for sop, inst in series["Instances"].items():
                    instances[sop] = {"image_set_id": s["imageSetId"], "series": series_uid, **inst}
        yield server, datastore_id, instances


def source_files() -> dict[str, Path]:
    """SOPInstanceUID -> source file, for the samples and the fixtures."""
    out = {}
    for path in [*SAMPLES.rglob("*.dcm"), *FIXTURES.glob("*.dcm")]:
        out[pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID] = path
    return out


def fixture(name: str) -> tuple[pydicom.Dataset, str]:
    ds = pydicom.dcmread(FIXTURES / name)
    return ds, ds.SOPInstanceUID


async def render(session, **args):
    result = await session.call_tool("render_image_frame", args)
    return result


def image_of(result) -> tuple[dict, bytes, str]:
    assert not result.is_error, result.content[0].text
    assert len(result.content) == 2, result.content
    image = result.content[1]
    assert image.type == "image"
    return result.structured_content, base64.b64decode(image.data), image.mime_type


def test_every_stored_syntax_decodes_to_the_source_pixels(store):
    """Each frame of every sample and fixture: the checksum HealthImaging's metadata holds
    equals the CRC32 of pydicom's decoded source pixels (computed here, independently), and
    the frame the tool decoded matches that checksum."""
    server, datastore_id, instances = store
    sources = source_files()
    manifest = {f["path"]: f for f in json.loads((SAMPLES.parent / "manifest.json").read_text())["files"]}
    # JPEG 2000 / HTJ2K fixtures need a pydicom plugin: their lossless source is the oracle.
    lossless_copies = {"mr_j2k_lossless.dcm": "mr.dcm", "ct_htj2k_lossless.dcm": "ct_signed.dcm"}
    checks = []
    for sop, inst in instances.items():
        path = sources[sop]
        syntax = inst["StoredTransferSyntaxUID"]
        if syntax.startswith("1.2.840.10008.1.2.4.5"):  # lossy JPEG: no checksum
            continue
        if path.is_relative_to(SAMPLES):
            # the CRC of the source pixels, recorded (with pydicom and numpy) when the samples were made
            expected = [f["crc32"] for f in manifest[str(path.relative_to(SAMPLES))]["frames"]]
        elif syntax == "1.2.840.10008.1.2.4.203":
            expected = None  # lossy: the decoded pixels are not the source's
        else:
            arr = pydicom.pixels.pixel_array(FIXTURES / lossless_copies.get(path.name, path.name), raw=True)
            frames = arr if arr.ndim == (4 if arr.shape[-1] == 3 else 3) else arr[None]
            expected = [zlib.crc32(f.tobytes()) for f in frames]
        for i, frame in enumerate(inst["ImageFrames"]):
            stored = frame["PixelDataChecksumFromBaseToFullResolution"][-1]["Checksum"]
            if expected is not None:
                assert stored == expected[i], (path.name, i)
            checks.append((inst["image_set_id"], frame["ID"], path.name, stored))
    assert {c[2] for c in checks} >= {"IM0001.dcm", "mr_multiframe.dcm", "palette.dcm", "ybr_full_422.dcm"}

    async def steps(session):
        out = []
        for image_set_id, frame_id, name, _ in checks:
            result = await render(
                session,
                datastore_id=datastore_id,
                image_set_id=image_set_id,
                image_frame_id=frame_id,
                max_size=2048,
            )
            value, _, _ = image_of(result)
            out.append((name, value["checksum_matched"], value["stored_transfer_syntax_uid"]))
        return out

    results = call(server, steps)
    assert all(matched is True for _, matched, _ in results), results
    syntaxes = {s for _, _, s in results}
    assert {
        "1.2.840.10008.1.2.1",
        "1.2.840.10008.1.2.4.90",
        "1.2.840.10008.1.2.4.201",
        "1.2.840.10008.1.2.4.202",
        "1.2.840.10008.1.2.4.203",
    } <= syntaxes


def reference_grey(ds: pydicom.Dataset, arr: np.ndarray, center=None, width=None) -> np.ndarray:
    """pydicom's modality LUT then VOI LUT (the image's window unless given), as 0..255."""
    ds = ds.copy()
    if center is not None:
        ds.WindowCenter, ds.WindowWidth = center, width
        if "VOILUTFunction" in ds:
            del ds.VOILUTFunction
    values = apply_modality_lut(arr, ds)
    windowed = apply_voi_lut(values, ds, prefer_lut=False)
    # apply_voi_lut maps onto the stored value range (rescaled when the image has a rescale):
    # normalise that range to 0..255.
    bits = int(ds.BitsStored)
    lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if ds.PixelRepresentation == 1 else (0, 2**bits - 1)
    if "RescaleSlope" in ds and "RescaleIntercept" in ds:
        slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
        lo, hi = lo * slope + intercept, hi * slope + intercept
    grey = (windowed - lo) / (hi - lo) * 255.0
    if ds.PhotometricInterpretation == "MONOCHROME1":
        grey = 255.0 - grey
    return grey


def assert_close(png: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert png.shape == expected.shape, (what, png.shape, expected.shape)
    worst = np.abs(png.astype(np.float64) - expected).max()
    assert worst <= 1.0, f"{what}: differs by {worst} grey levels"


def test_windowed_output_matches_pydicom_and_numpy(store):
    """CT (signed, rescaled; explicit window and the lung preset), MR (its own window),
    MONOCHROME1, multi-frame, RGB (interleaved and planar), YBR_FULL, YBR_FULL_422 and palette
    colour: the PNG equals the reference within one grey level."""
    server, datastore_id, instances = store
    ct, ct_sop = fixture("ct_signed.dcm")
    mr, mr_sop = fixture("mr.dcm")
    mono1, mono1_sop = fixture("mr_monochrome1.dcm")
    multi, multi_sop = fixture("mr_multiframe.dcm")
    cases = [
        ("ct window", ct_sop, {"window_center": 40, "window_width": 400}, reference_grey(ct, ct.pixel_array, 40, 400)),
        ("ct lung", ct_sop, {"window_preset": "lung"}, reference_grey(ct, ct.pixel_array, -600, 1500)),
        (
            "ct htj2k",
            fixture("ct_htj2k_lossless.dcm")[1],
            {"window_center": 40, "window_width": 400},
            reference_grey(ct, ct.pixel_array, 40, 400),
        ),
        ("mr own window", mr_sop, {}, reference_grey(mr, mr.pixel_array)),
        ("monochrome1", mono1_sop, {}, reference_grey(mono1, mono1.pixel_array)),
        ("multi-frame 3", multi_sop, {"frame_number": 3}, reference_grey(multi, multi.pixel_array[2])),
    ]
    for name in ("rgb.dcm", "rgb_planar.dcm", "ybr_full.dcm", "ybr_full_422.dcm"):
        ds, sop = fixture(name)
        cases.append((name, sop, {}, ds.pixel_array.astype(np.float64)))  # pydicom converts YBR to RGB
    palette, palette_sop = fixture("palette.dcm")
    cases.append(("palette", palette_sop, {}, (apply_color_lut(palette.pixel_array, palette) >> 8).astype(np.float64)))

    async def steps(session):
        out = []
        for what, sop, extra, _ in cases:
            inst = instances[sop]
            result = await render(
                session,
                datastore_id=datastore_id,
                series_instance_uid=inst["series"],
                sop_instance_uid=sop,
                max_size=2048,
                **extra,
            )
            out.append((what, *image_of(result)))
        return out

    for (what, _, _, expected), (_, value, data, mime) in zip(cases, call(server, steps), strict=True):
        assert mime == "image/png"
        png = read_png(data)
        assert (value["output_width"], value["output_height"]) == (png.shape[1], png.shape[0])
        assert_close(png, expected, what)
    # what the answer says was used
    assert value["window"] is None and value["photometric_interpretation"] == "PALETTE COLOR"


def test_answer_says_what_was_used_and_the_image_is_a_png_of_that_size(store):
    server, datastore_id, instances = store
    ct, ct_sop = fixture("ct_signed.dcm")
    inst = instances[ct_sop]

    async def steps(session):
        small = await render(
            session,
            datastore_id=datastore_id,
            series_instance_uid=inst["series"],
            instance_number=1,
            max_size=48,
            window_preset="lung",
        )
        jpeg = await render(
            session,
            datastore_id=datastore_id,
            image_set_id=inst["image_set_id"],
            image_frame_id=inst["ImageFrames"][0]["ID"],
            format="jpeg",
        )
        return image_of(small), image_of(jpeg)

    (value, data, mime), (jvalue, jdata, jmime) = call(server, steps)
    png = read_png(data)
    assert png.shape == (48, 48) and mime == "image/png"
    assert value["output_width"] == value["output_height"] == 48
    assert value["output_bytes"] == len(data)
    assert (value["rows"], value["columns"], value["bits_stored"]) == (128, 128, 16)
    assert value["sop_instance_uid"] == ct_sop and value["image_set_id"] == inst["image_set_id"]
    assert value["window"] == {
        "center": -600.0,
        "width": 1500.0,
        "function": "LINEAR",
        "source": "preset",
        "preset": "lung",
    }
    assert value["rescale"] == {"slope": 1.0, "intercept": -1024.0, "from_image": True}
    assert value["stored_transfer_syntax_uid"] == "1.2.840.10008.1.2.1"
    assert value["checksum_matched"] is True and value["warnings"] == []
    # the downscale averages the full-size rendering (boxes of 2 or 3 pixels: compare means)
    full = reference_grey(ct, ct.pixel_array, -600, 1500)
    assert abs(png.mean() - full.mean()) < 2.0
    assert jmime == "image/jpeg" and jdata[:2] == b"\xff\xd8" and jvalue["mime_type"] == "image/jpeg"
    assert (jvalue["output_width"], jvalue["window"]["source"]) == (128, "auto")


def test_addressing_by_series_middle_slice_and_frame_number(store):
    """slice="middle" takes the middle of the CT's slices ordered along the slice normal (the
    order is worked out here from ImagePositionPatient); frame_number picks a frame of the
    multi-frame HTJ2K instance; no image_set_id means the series' primary image set."""
    server, datastore_id, instances = store
    sources = source_files()
    ct = {sop: i for sop, i in instances.items() if "S01_CT" in str(sources[sop])}
    assert len(ct) == 5
    series = next(iter(ct.values()))["series"]
    by_z = sorted(ct, key=lambda s: float(ct[s]["DICOM"]["ImagePositionPatient"][2]))
    htj2k = next((s, i) for s, i in instances.items() if i["StoredTransferSyntaxUID"] == "1.2.840.10008.1.2.4.202")

    async def steps(session):
        middle = await render(session, datastore_id=datastore_id, series_instance_uid=series, slice="middle")
        third = await render(
            session,
            datastore_id=datastore_id,
            series_instance_uid=htj2k[1]["series"],
            sop_instance_uid=htj2k[0],
            frame_number=3,
        )
        thumbnail = await render(
            session,
            datastore_id=datastore_id,
            series_instance_uid=htj2k[1]["series"],
            sop_instance_uid=htj2k[0],
            frame_number=3,
            max_size=32,
        )
        return image_of(middle)[0], image_of(third)[0], image_of(thumbnail)

    middle, third, (thumb, thumb_png, _) = call(server, steps)
    # 64x64 HTJ2K to 32 px: one resolution level is not decoded; no checksum for that size
    assert (thumb["reduced_resolution_levels"], thumb["checksum_matched"]) == (1, None)
    assert read_png(thumb_png).shape == (32, 32) and (thumb["output_width"], thumb["output_height"]) == (32, 32)
    assert third["reduced_resolution_levels"] == 0

    assert middle["sop_instance_uid"] == by_z[len(by_z) // 2]
    assert (middle["slice_position"], middle["series_slices"]) == (len(by_z) // 2 + 1, len(by_z))
    assert third["frame_number"] == 3 and third["number_of_frames"] == len(htj2k[1]["ImageFrames"])
    assert third["image_frame_id"] == htj2k[1]["ImageFrames"][2]["ID"]
    assert third["checksum_matched"] is True


def test_bad_addressing_unsupported_and_corrupt_frames_are_structured_errors(store):
    server, datastore_id, instances = store
    mr, mr_sop = fixture("mr.dcm")
    _, corrupt_sop = fixture("jpeg_corrupt.dcm")
    _, extended_sop = fixture("jpeg_extended_12bit.dcm")
    _, baseline_sop = fixture("jpeg_baseline.dcm")
    mr_inst = instances[mr_sop]

    async def steps(session):
        def by_sop(sop, **extra):
            return render(
                session,
                datastore_id=datastore_id,
                series_instance_uid=instances[sop]["series"],
                sop_instance_uid=sop,
                **extra,
            )

        return [
            await render(session, datastore_id=datastore_id, series_instance_uid=mr_inst["series"]),
            await render(session, datastore_id=datastore_id, image_frame_id=mr_inst["ImageFrames"][0]["ID"]),
            await by_sop(mr_sop, frame_number=2),
            await by_sop(mr_sop, window_center=40),
            await by_sop(corrupt_sop),
            await by_sop(extended_sop),
            await by_sop(baseline_sop),
        ]

    none, frame_alone, out_of_range, half_window, corrupt, extended, baseline = call(server, steps)
    body = tool_error(none)
    assert body["type"] == "validation_error" and "sop_instance_uid" in body["message"] and "slice" in body["message"]
    assert tool_error(frame_alone)["type"] == "validation_error"
    body = tool_error(out_of_range)
    assert body["type"] == "validation_error" and "frame_number" in body["message"]
    assert tool_error(half_window)["type"] == "validation_error"
    body = tool_error(corrupt)
    assert (body["type"], body["code"]) == ("service_error", "CorruptImageFrame")
    body = tool_error(extended)
    assert (body["type"], body["code"]) == ("validation_error", "UnsupportedPixelData")
    value, data, _ = image_of(baseline)
    assert value["stored_transfer_syntax_uid"] == "1.2.840.10008.1.2.4.50"
    assert value["checksum_matched"] is None and read_png(data).shape == (100, 100, 3)


def test_a_frame_changed_at_rest_is_reported_by_its_checksum(tmp_path: Path):
    """The frame's stored bytes are changed on disk behind the service's back: the tool still
    renders it, says checksum_matched false and warns."""
    data_dir = tmp_path / "data"
    with start_server(tmp_path, data_dir=data_dir) as server:
        client = make_client(server.endpoint_url)
        datastore_id = create_datastore(client, "pixels-at-rest")
        wait_datastore_status(client, datastore_id, "ACTIVE")
        staged = Path(server.s3_root) / "pixels-in" / "mr"
        staged.mkdir(parents=True)
        shutil.copy(FIXTURES / "mr.dcm", staged)
        assert run_import(client, datastore_id, "s3://pixels-in/mr/", "s3://pixels-in/out/")["jobStatus"] == "COMPLETED"
        (summary,), _ = search_all(client, datastore_id)
        (inst,) = instances_of(get_metadata(client, datastore_id, summary["imageSetId"])).values()
    frame_id = inst["ImageFrames"][0]["ID"]
    (path,) = [p for p in data_dir.rglob(frame_id) if p.is_file()]
    raw = bytearray(path.read_bytes())
    raw[100] ^= 0x01
    path.write_bytes(bytes(raw))
    with start_server(tmp_path, data_dir=data_dir) as server:

        async def steps(session):
            return await render(
                session, datastore_id=datastore_id, image_set_id=summary["imageSetId"], image_frame_id=frame_id
            )

        value, _, _ = image_of(call(server, steps))
    assert value["checksum_matched"] is False
    assert any("PixelDataChecksumFromBaseToFullResolution" in w for w in value["warnings"])


NOTEBOOK = """
import asyncio, base64, json, sys
from awslabs.healthimaging_mcp_server import engine

async def main():
    r = await engine.render_image_frame(
        datastore_id=sys.argv[1], series_instance_uid=sys.argv[2], instance_number=1, window_preset="lung"
    )
    images = r.pop("images")
    print(json.dumps({"result": r, "images": [[i["mime_type"], type(i["data"]).__name__,
                                               base64.b64encode(i["data"]).decode()] for i in images]}))

asyncio.run(main())
"""


def test_notebook_api_returns_the_image_bytes(store):
    """The generated notebook function gives the result dict plus the image as bytes."""
    import os
    import subprocess
    import sys

    server, datastore_id, instances = store
    _, ct_sop = fixture("ct_signed.dcm")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL_MEDICAL_IMAGING=server.endpoint_url,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION="us-east-1",
        AWS_DISABLE_HOST_PREFIX_INJECTION="true",
        AWS_CONFIG_FILE="/nonexistent",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
    )
    done = subprocess.run(
        [sys.executable, "-c", NOTEBOOK, datastore_id, instances[ct_sop]["series"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    ((mime, kind, data),) = out["images"]
    assert (mime, kind) == ("image/png", "bytes")
    png = read_png(base64.b64decode(data))
    assert png.shape == (out["result"]["output_height"], out["result"]["output_width"]) == (128, 128)
    assert out["result"]["sop_instance_uid"] == ct_sop and out["result"]["window"]["preset"] == "lung"
