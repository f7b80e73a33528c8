"""Benchmark: decode + window + PNG of one 512x512 16-bit CT frame stored as HTJ2K and as
JPEG 2000 (run by hand, not in CI).

Sides, on the same frames:

- ours: ``engine.render_image_frame`` against a local HealthImaging holding the frames (so it
  includes GetImageSetMetadata and GetImageFrame over HTTP on localhost), and the decode time
  the tool reports for the frame alone;
- pydicom + pylibjpeg: ``Dataset.pixel_array`` (pylibjpeg-openjpeg), ``apply_modality_lut``,
  ``apply_voi_lut``, scale to 8 bits, PNG with Pillow;
- OpenJPEG alone: ``openjpeg.decode`` of the codestream (pylibjpeg-openjpeg).

The frame is a synthetic 512x512 CT slice (a body, lungs, bones and noise, in HU + 1024, 12
bits used of 16). HTJ2K is made with ``ojph_compress`` (Debian ``openjph-tools``) and JPEG 2000
with pylibjpeg-openjpeg's encoder; both reversible (lossless).

    pip install pylibjpeg pylibjpeg-openjpeg pillow numpy pydicom
    python benches/pixels.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import generate_uid

HTJ2K_LOSSLESS = "1.2.840.10008.1.2.4.201"
J2K_LOSSLESS = "1.2.840.10008.1.2.4.90"
PREFIX = "1.2.826.0.1.3680043.8.498."


def phantom(size: int = 512) -> np.ndarray:
    """A CT-like slice in stored values (HU + 1024)."""
    rng = np.random.default_rng(7)
    y, x = np.mgrid[-1 : 1 : size * 1j, -1 : 1 : size * 1j]
    hu = np.full((size, size), -1000.0)
    body = (x / 0.85) ** 2 + (y / 0.65) ** 2 < 1
    hu[body] = 40
    for cx in (-0.4, 0.4):
        hu[((x - cx) / 0.28) ** 2 + (y / 0.4) ** 2 < 1] = -850
    hu[(x**2 + (y + 0.45) ** 2) < 0.01] = 900
    hu[body] += rng.normal(0, 12, body.sum())
    return np.clip(hu + 1024, 0, 4095).astype(np.uint16)


def htj2k(pixels: np.ndarray, work: Path) -> bytes:
    raw = work / "frame.pgm"
    out = work / "frame.j2c"
    header = f"P5 {pixels.shape[1]} {pixels.shape[0]} 65535\n".encode()
    raw.write_bytes(header + pixels.astype(">u2").tobytes())
    subprocess.run(
        ["ojph_compress", "-i", str(raw), "-o", str(out), "-reversible", "true"], check=True, capture_output=True
    )
    return out.read_bytes()


def j2k(pixels: np.ndarray) -> bytes:
    from openjpeg import encode

    return bytes(encode(pixels, bits_stored=12, use_mct=False))


def dataset(pixels: np.ndarray, codestream: bytes, syntax: str, name: str) -> Dataset:
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = syntax
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    meta.MediaStorageSOPInstanceUID = generate_uid(PREFIX, entropy_srcs=[f"bench-sop-{name}"])
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientID = "BENCH"
    ds.PatientName = "BENCH^PIXELS"
    ds.StudyInstanceUID = generate_uid(PREFIX, entropy_srcs=["bench-study"])
    ds.SeriesInstanceUID = generate_uid(PREFIX, entropy_srcs=[f"bench-series-{name}"])
    ds.Modality = "CT"
    ds.InstanceNumber = 1
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    ds.WindowCenter, ds.WindowWidth = -600, 1500
    ds.PixelData = encapsulate([codestream])
    ds["PixelData"].VR = "OB"
    return ds


def python_pipeline(ds: Dataset) -> bytes:
    from PIL import Image
    from pydicom.pixels import apply_modality_lut, apply_voi_lut, pixel_array

    values = apply_modality_lut(pixel_array(ds), ds)  # decodes each time (no cached array)
    windowed = apply_voi_lut(values, ds, prefer_lut=False)
    lo, hi = -1024.0, 4095.0 - 1024.0
    grey = np.rint((windowed - lo) / (hi - lo) * 255).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(grey).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def timed(fn, repeat: int) -> float:
    fn()  # warm-up
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t) * 1000)
    return statistics.median(runs)


async def ours(root: Path, files: dict[str, Path], repeat: int) -> dict[str, tuple[float, float, float]]:
    import os

    from awslabs.healthimaging_mcp_server import engine, local

    s3 = root / "s3"
    (s3 / "bench" / "in").mkdir(parents=True)
    for path in files.values():
        shutil.copy(path, s3 / "bench" / "in" / path.name)
    out: dict[str, tuple[float, float, float]] = {}
    with local.start(s3_root=s3, seed=False, throttle_rate=0.0) as server:
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_REGION": "us-east-1",
                "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
                "AWS_ENDPOINT_URL_MEDICAL_IMAGING": server.endpoint_url,
                "AWS_CONFIG_FILE": "/nonexistent",
                "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
            }
        )
        engine.reset_client()
        store = await engine.create_datastore(datastore_name="bench")
        datastore_id = store["datastore_id"]
        while (await engine.get_datastore(datastore_id=datastore_id))["datastore_properties"][
            "datastore_status"
        ] != "ACTIVE":
            await asyncio.sleep(0.05)
        job = await engine.start_dicom_import_job(
            datastore_id=datastore_id,
            data_access_role_arn="arn:aws:iam::123456789012:role/bench",
            input_s3_uri="s3://bench/in/",
            output_s3_uri="s3://bench/out/",
        )
        while (await engine.get_dicom_import_job(datastore_id=datastore_id, job_id=job["job_id"]))["job_properties"][
            "job_status"
        ] not in ("COMPLETED", "FAILED"):
            await asyncio.sleep(0.05)
        for name, path in files.items():
            series = pydicom.dcmread(path, stop_before_pixels=True).SeriesInstanceUID
            args = {"datastore_id": datastore_id, "series_instance_uid": series, "instance_number": 1}
            first = await engine.render_image_frame(**args)
            assert first["checksum_matched"] is True, first
            walls, decodes = [], []
            for _ in range(repeat):
                t = time.perf_counter()
                r = await engine.render_image_frame(**args)
                walls.append((time.perf_counter() - t) * 1000)
                decodes.append(r["decode_ms"])
            thumbs = []
            for _ in range(repeat):
                t = time.perf_counter()
                r = await engine.render_image_frame(**args, max_size=128)
                thumbs.append((time.perf_counter() - t) * 1000)
            assert r["reduced_resolution_levels"] == 2, r
            out[name] = (statistics.median(walls), statistics.median(decodes), statistics.median(thumbs))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    import openjpeg

    pixels = phantom()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        streams = {"HTJ2K lossless (.201)": (htj2k(pixels, work), HTJ2K_LOSSLESS)}
        streams["JPEG 2000 lossless (.90)"] = (j2k(pixels), J2K_LOSSLESS)
        files = {}
        for i, (name, (codestream, syntax)) in enumerate(streams.items()):
            ds = dataset(pixels, codestream, syntax, str(i))
            assert np.array_equal(ds.pixel_array, pixels), name
            files[name] = work / f"frame{i}.dcm"
            ds.save_as(files[name], enforce_file_format=True)
        mine = asyncio.run(ours(work, files, args.repeat))
        rows = []
        for name, (codestream, _) in streams.items():
            ds = pydicom.dcmread(files[name])
            py = timed(lambda ds=ds: python_pipeline(ds), args.repeat)
            ojp = timed(lambda c=codestream: openjpeg.decode(c), args.repeat)
            wall, decode, thumb = mine[name]
            rows.append((name, len(codestream), wall, decode, thumb, py, ojp))
    print(f"512x512 16-bit CT frame (12 bits stored), median of {args.repeat} runs, milliseconds\n")
    print(
        "| frame | bytes | ours: render_image_frame (HTTP + decode + window + PNG) | ours: decode only "
        "| ours: 128 px thumbnail (2 levels not decoded) | pydicom + pylibjpeg + Pillow | OpenJPEG decode alone "
        "| pydicom / ours | ours decode / OpenJPEG |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, size, wall, decode, thumb, py, ojp in rows:
        cells = [name, str(size), *(f"{v:.1f}" for v in (wall, decode, thumb, py, ojp))]
        cells += [f"{py / wall:.1f}x", f"{decode / ojp:.2f}x"]
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
