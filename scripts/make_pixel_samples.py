"""Writes the rendering test files under tests/fixtures/pixels/ from the test files bundled in
pydicom's wheel (``pydicom.data.get_testdata_file``; pydicom's test data is MIT-licensed, see
its LICENSE). Each file gets its own study and series (new, deterministic UIDs; the sources'
study attributes differ, so a shared study would split into non-primary image sets), under one
patient, so the files import side by side as primary image sets; some are derived (MONOCHROME1, planar RGB, YBR_FULL,
multi-frame, a corrupt JPEG frame). The same pydicom and numpy give the same bytes.

HTJ2K files (1.2.840.10008.1.2.4.201 lossless, .203 lossy) are encoded with ``ojph_compress``
(Debian ``openjph-tools``, OpenJPH); the bundled samples hold the RPCL variant (.202).

    python scripts/make_pixel_samples.py   # needs pydicom 3, numpy and ojph_compress
"""

from __future__ import annotations

import copy
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.pixels import convert_color_space
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "pixels"
UID_PREFIX = "1.2.826.0.1.3680043.8.498."


def native(ds: Dataset, pixels: np.ndarray, photometric: str, planar: int | None = None) -> None:
    """Stores `pixels` natively (explicit VR little endian) with the given photometric model."""
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.PhotometricInterpretation = photometric
    if planar is not None:
        ds.PlanarConfiguration = planar
    ds.PixelData = pixels.tobytes()
    ds["PixelData"].VR = "OB" if pixels.dtype.itemsize == 1 else "OW"


def monochrome1(ds: Dataset) -> None:
    ds.PhotometricInterpretation = "MONOCHROME1"


def multiframe(ds: Dataset) -> None:
    base = ds.pixel_array.astype(np.int16)
    frames = np.stack([base, base // 2, -base]).astype(np.int16)
    ds.NumberOfFrames = 3
    native(ds, frames, "MONOCHROME2")


def rgb_of(name: str) -> np.ndarray:
    """The RGB pixels of a pydicom test file (pydicom converts YBR to RGB)."""
    return pydicom.dcmread(get_testdata_file(name)).pixel_array


def rgb(ds: Dataset) -> None:
    native(ds, rgb_of("SC_ybr_full_422_uncompressed.dcm"), "RGB", planar=0)


def rgb_planar(ds: Dataset) -> None:
    pixels = rgb_of("SC_ybr_full_422_uncompressed.dcm")
    native(ds, np.ascontiguousarray(pixels.transpose(2, 0, 1)), "RGB", planar=1)


def ybr_full(ds: Dataset) -> None:
    pixels = convert_color_space(rgb_of("SC_ybr_full_422_uncompressed.dcm"), "RGB", "YBR_FULL")
    native(ds, pixels.astype(np.uint8), "YBR_FULL", planar=0)


def corrupt_jpeg(ds: Dataset) -> None:
    # The JPEG headers stay; the entropy-coded data after the first start of scan is garbage,
    # then the stream ends without EOI.
    frame = bytearray(pydicom.encaps.generate_fragmented_frames(ds.PixelData).__next__()[0])
    sos = frame.index(b"\xff\xda")
    junk = bytes((i * 97 + 13) % 256 for i in range(200)).replace(b"\xff", b"\x00")
    frame = frame[: sos + 2] + b"\x00\x02" + junk
    if len(frame) % 2:
        frame += b"\x00"
    ds.PixelData = pydicom.encaps.encapsulate([bytes(frame)])


def htj2k(ds: Dataset, syntax: str, *options: str) -> None:
    """The frame encoded by ojph_compress (non-negative 16-bit samples, given as a PGM)."""
    pixels = ds.pixel_array
    assert pixels.min() >= 0, "PGM input holds unsigned samples"
    with tempfile.TemporaryDirectory() as tmp:
        pgm, j2c = Path(tmp) / "frame.pgm", Path(tmp) / "frame.j2c"
        header = f"P5 {pixels.shape[1]} {pixels.shape[0]} 65535\n".encode()
        pgm.write_bytes(header + pixels.astype(">u2").tobytes())
        subprocess.run(["ojph_compress", "-i", str(pgm), "-o", str(j2c), *options], check=True, capture_output=True)
        codestream = j2c.read_bytes()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.PixelData = encapsulate([codestream + b"\x00" * (len(codestream) % 2)])
    ds["PixelData"].VR = "OB"


def htj2k_lossless(ds: Dataset) -> None:
    htj2k(ds, "1.2.840.10008.1.2.4.201", "-reversible", "true")


def htj2k_lossy(ds: Dataset) -> None:
    htj2k(ds, "1.2.840.10008.1.2.4.203", "-qstep", "0.001")
    ds.LossyImageCompression = "01"


SPECS: list[tuple[str, str, Callable[[Dataset], None] | None]] = [
    ("ct_signed.dcm", "CT_small.dcm", None),
    ("mr.dcm", "MR_small.dcm", None),
    ("mr_monochrome1.dcm", "MR_small.dcm", monochrome1),
    ("mr_j2k_lossless.dcm", "MR_small_jp2klossless.dcm", None),
    ("mr_multiframe.dcm", "MR_small.dcm", multiframe),
    ("ct_htj2k_lossless.dcm", "CT_small.dcm", htj2k_lossless),
    ("mr_htj2k_lossy.dcm", "MR_small.dcm", htj2k_lossy),
    ("rgb.dcm", "SC_ybr_full_422_uncompressed.dcm", rgb),
    ("rgb_planar.dcm", "SC_ybr_full_422_uncompressed.dcm", rgb_planar),
    ("ybr_full.dcm", "SC_ybr_full_422_uncompressed.dcm", ybr_full),
    ("ybr_full_422.dcm", "SC_ybr_full_422_uncompressed.dcm", None),
    ("palette.dcm", "examples_palette.dcm", None),
    ("jpeg_baseline.dcm", "SC_rgb_jpeg_dcmtk.dcm", None),
    ("jpeg_corrupt.dcm", "SC_rgb_jpeg_dcmtk.dcm", corrupt_jpeg),
    ("jpeg_extended_12bit.dcm", "JPGExtended.dcm", None),
]


def make(name: str, source: str, derive: Callable[[Dataset], None] | None, number: int) -> Path:
    ds = copy.deepcopy(pydicom.dcmread(get_testdata_file(source)))
    if derive is not None:
        derive(ds)
    ds.PatientID = "PX-PIXELS"
    ds.PatientName = "PIXELS^TEST"
    ds.StudyInstanceUID = generate_uid(UID_PREFIX, entropy_srcs=[f"px-study-{name}"])
    ds.SeriesInstanceUID = generate_uid(UID_PREFIX, entropy_srcs=[f"px-series-{name}"])
    ds.SOPInstanceUID = generate_uid(UID_PREFIX, entropy_srcs=[f"px-instance-{name}"])
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.SeriesNumber = number
    ds.InstanceNumber = 1
    ds.SeriesDescription = name.removesuffix(".dcm")
    path = OUT / name
    ds.save_as(path, enforce_file_format=True)
    return path


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    total = 0
    for number, (name, source, derive) in enumerate(SPECS, start=1):
        path = make(name, source, derive, number)
        total += path.stat().st_size
        print(f"{path.relative_to(OUT.parent.parent.parent)}  {path.stat().st_size} bytes  (from {source})")
    print(f"{len(SPECS)} files, {total} bytes")


if __name__ == "__main__":
    main()
