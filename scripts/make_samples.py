#!/usr/bin/env python3
"""Generate the DICOM Part-10 sample files shipped in the Python package.

Output (relative to the repository root):

    python/awslabs/healthimaging_mcp_server/samples/dicom/**.dcm
    python/awslabs/healthimaging_mcp_server/samples/manifest.json

The run is deterministic: every UID is derived from a fixed root plus a fixed
label, every date/time is a constant, and the encoders are called with fixed
options, so rerunning with the same tool versions reproduces the same bytes.

Requirements
------------
* Python packages: ``pydicom`` (3.x), ``numpy``, ``pydicom-data`` (provides
  ``emri_small.dcm``, which is not bundled in the pydicom wheel).
* Debian packages: ``libopenjp2-tools`` (``opj_compress``/``opj_decompress``,
  JPEG 2000 and - for cross-checking - HTJ2K decoding) and ``openjph-tools``
  (``ojph_compress``/``ojph_expand``, HTJ2K).

Every compressed frame is decoded again with the external tools and compared
with the source array; any mismatch aborts the run (non-zero exit).

Usage::

    python3 scripts/make_samples.py            # (re)write the samples
    python3 scripts/make_samples.py --check    # regenerate in a temp dir and
                                               # compare byte-for-byte
    python3 scripts/make_samples.py --out DIR  # write DIR/dicom + DIR/manifest.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, generate_frames, parse_basic_offsets
from pydicom.sequence import Sequence
from pydicom.uid import UID, generate_uid

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO_ROOT / "python" / "awslabs" / "healthimaging_mcp_server" / "samples"

# pydicom's registered UID root; fine for sample data.  All UIDs below are
# generate_uid(prefix=UID_ROOT, entropy_srcs=[UID_NAMESPACE, <label>...]),
# i.e. a deterministic SHA-512 derived suffix.
UID_ROOT = "1.2.826.0.1.3680043.8.498."
UID_NAMESPACE = "awslabs.healthimaging-mcp-server/samples/v1"

IMPLEMENTATION_VERSION_NAME = "HIMCP_SAMPLES_1"

# Transfer syntaxes
EXPLICIT_VR_LE = "1.2.840.10008.1.2.1"
JPEG2000_LOSSLESS = "1.2.840.10008.1.2.4.90"
HTJ2K_LOSSLESS_RPCL = "1.2.840.10008.1.2.4.202"

# SOP classes
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4"
ENHANCED_MR_IMAGE = "1.2.840.10008.5.1.4.1.1.4.1"

MANUFACTURER = "AWSLABS SAMPLE GENERATOR"
MODEL_NAME = "make_samples.py"
SOFTWARE_VERSION = "1"
REFERRING_PHYSICIAN = "SMITH^ALEX"


def uid(*labels: object) -> UID:
    """Deterministic UID under UID_ROOT for the given label path."""
    return generate_uid(prefix=UID_ROOT, entropy_srcs=[UID_NAMESPACE, *[str(x) for x in labels]])


IMPLEMENTATION_CLASS_UID = uid("implementation-class")


class SampleError(RuntimeError):
    """Raised when a sample cannot be produced or fails verification."""


# ---------------------------------------------------------------------------
# External tools
# ---------------------------------------------------------------------------

TOOLS = ("opj_compress", "opj_decompress", "ojph_compress", "ojph_expand")


def require_tools() -> None:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        raise SampleError(
            "missing external tools: " + ", ".join(missing) + " (apt-get install libopenjp2-tools openjph-tools)"
        )


def tool_versions() -> dict[str, str]:
    versions: dict[str, str] = {
        "pydicom": pydicom.__version__,
        "numpy": np.__version__,
    }
    for pkg in ("libopenjp2-tools", "openjph-tools"):
        try:
            out = subprocess.run(
                ["dpkg-query", "-W", "-f=${Version}", pkg],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            out = "unknown"
        versions[pkg] = out
    return versions


def run(cmd: list[str | Path]) -> None:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SampleError(
            f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
            f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
        )


def pixel_dtype(bits_allocated: int, pixel_representation: int) -> np.dtype:
    if bits_allocated == 8:
        return np.dtype("u1")
    if bits_allocated == 16:
        return np.dtype("<i2" if pixel_representation else "<u2")
    raise SampleError(f"unsupported BitsAllocated {bits_allocated}")


# ---------------------------------------------------------------------------
# JPEG 2000 codestream helpers
# ---------------------------------------------------------------------------


def _main_header_markers(cs: bytes) -> list[tuple[int, int, bytes]]:
    """(marker, offset, segment body) for the main header, up to the first SOT."""
    if cs[:2] != b"\xff\x4f":
        raise SampleError("codestream does not start with SOC")
    pos = 2
    markers = []
    while True:
        if pos + 4 > len(cs):
            raise SampleError("truncated codestream main header")
        (marker,) = struct.unpack(">H", cs[pos : pos + 2])
        if marker == 0xFF90:  # SOT: end of main header
            markers.append((marker, pos, b""))
            return markers
        (length,) = struct.unpack(">H", cs[pos + 2 : pos + 4])
        markers.append((marker, pos, cs[pos + 4 : pos + 2 + length]))
        pos += 2 + length


def check_codestream(
    cs: bytes,
    *,
    rows: int,
    columns: int,
    bits_stored: int,
    signed: bool,
    ht: bool,
    progression: int | None,
    tlm: bool,
) -> None:
    """Assert the codestream header says what the DICOM header will claim."""
    markers = {m: body for m, _, body in _main_header_markers(cs)}
    siz = markers.get(0xFF51)
    if siz is None:
        raise SampleError("no SIZ marker")
    rsiz, xsiz, ysiz, xo, yo = struct.unpack(">HIIII", siz[:18])
    (csiz,) = struct.unpack(">H", siz[34:36])
    ssiz = siz[36]
    want_ssiz = (bits_stored - 1) | (0x80 if signed else 0)
    if (xsiz - xo, ysiz - yo, csiz, ssiz) != (columns, rows, 1, want_ssiz):
        raise SampleError(
            f"SIZ mismatch: {(xsiz - xo, ysiz - yo, csiz, hex(ssiz))} != {(columns, rows, 1, hex(want_ssiz))}"
        )
    cod = markers.get(0xFF52)
    if cod is None:
        raise SampleError("no COD marker")
    prog = cod[1]
    n_decomp, _xcb, _ycb, cb_style, transform = cod[5:10]
    if transform != 1:
        raise SampleError("codestream does not use the reversible 5/3 wavelet")
    if progression is not None and prog != progression:
        raise SampleError(f"progression order {prog} != {progression}")
    if ht:
        if 0xFF50 not in markers:  # CAP marker, mandatory for HTJ2K
            raise SampleError("HTJ2K codestream without CAP marker")
        if not cb_style & 0x40:
            raise SampleError("code-block style does not select HT block coder")
        # DICOM PS3.5 10.18: base resolution must be <= 64 in width or height.
        if min(rows, columns) >> n_decomp > 64:
            raise SampleError("not enough decompositions for a <=64 thumbnail")
    if tlm and 0xFF55 not in markers:
        raise SampleError("codestream lacks a TLM marker")
    if cs[-2:] != b"\xff\xd9":
        raise SampleError("codestream does not end with EOC")


def insert_tlm(cs: bytes) -> bytes:
    """Insert a TLM marker segment (tile-part lengths) into the main header.

    Transfer syntax 1.2.840.10008.1.2.4.202 (HTJ2K Lossless RPCL) requires TLM
    markers; openjph 0.9.0 (Debian 12) cannot write them, so the script adds
    one right before the first SOT.  Ztlm=0, Stlm=0x60 (16-bit Ttlm, 32-bit
    Ptlm).  The tile-part data itself is untouched.
    """
    markers = _main_header_markers(cs)
    if any(m == 0xFF55 for m, _, _ in markers):
        return cs
    first_sot = markers[-1][1]
    entries = []
    pos = first_sot
    while cs[pos : pos + 2] == b"\xff\x90":
        _lsot, isot, psot, _tpsot, _tnsot = struct.unpack(">HHIBB", cs[pos + 2 : pos + 12])
        if psot == 0:  # last tile-part runs to EOC
            psot = len(cs) - 2 - pos
        entries.append((isot, psot))
        pos += psot
    if pos != len(cs) - 2 or cs[pos:] != b"\xff\xd9":
        raise SampleError("unexpected data after the last tile-part")
    body = b"".join(struct.pack(">HI", isot, psot) for isot, psot in entries)
    tlm = b"\xff\x55" + struct.pack(">HBB", 4 + len(body), 0, 0x60) + body
    return cs[:first_sot] + tlm + cs[first_sot:]


# ---------------------------------------------------------------------------
# Encoders (external tools) and their decoders (for the lossless check)
# ---------------------------------------------------------------------------


def _read_raw(path: Path, dtype: np.dtype, shape: tuple[int, int]) -> np.ndarray:
    data = np.fromfile(path, dtype=dtype)
    if data.size != shape[0] * shape[1]:
        raise SampleError(f"{path.name}: decoded {data.size} samples, expected {shape}")
    return data.reshape(shape)


def encode_j2k(frame: np.ndarray, bits_stored: int, signed: bool, tmp: Path) -> bytes:
    """JPEG 2000 lossless (reversible 5/3) raw codestream via opj_compress."""
    rows, cols = frame.shape
    src = tmp / "j2k_in.rawl"
    out = tmp / "j2k_out.j2k"
    frame.astype(pixel_dtype(16, int(signed))).tofile(src)
    run(
        [
            "opj_compress", "-i", src, "-o", out,
            "-F", f"{cols},{rows},1,{bits_stored},{'s' if signed else 'u'}@1x1",
            "-n", "6", "-p", "LRCP",
        ]
    )  # fmt: skip
    return out.read_bytes()


def decode_with_opj(cs: bytes, dtype: np.dtype, shape: tuple[int, int], tmp: Path) -> np.ndarray:
    src = tmp / "dec_in.j2c"
    out = tmp / "dec_out.rawl"
    src.write_bytes(cs)
    out.unlink(missing_ok=True)
    run(["opj_decompress", "-i", src, "-o", out])
    return _read_raw(out, dtype, shape)


def encode_htj2k(frame: np.ndarray, bits_stored: int, signed: bool, tmp: Path) -> bytes:
    """HTJ2K lossless, RPCL progression, raw codestream via ojph_compress."""
    rows, cols = frame.shape
    src = tmp / "ht_in.yuv"
    out = tmp / "ht_out.j2c"
    frame.astype(pixel_dtype(16, int(signed))).tofile(src)
    run(
        [
            "ojph_compress", "-i", src, "-o", out,
            "-reversible", "true", "-prog_order", "RPCL", "-num_decomps", "5",
            "-dims", f"{{{cols},{rows}}}", "-num_comps", "1",
            "-signed", "true" if signed else "false",
            "-bit_depth", str(bits_stored), "-downsamp", "{1,1}",
        ]
    )  # fmt: skip
    return out.read_bytes()


def decode_with_ojph(cs: bytes, dtype: np.dtype, shape: tuple[int, int], tmp: Path) -> np.ndarray:
    src = tmp / "htdec_in.j2c"
    out = tmp / "htdec_out.yuv"
    src.write_bytes(cs)
    out.unlink(missing_ok=True)
    run(["ojph_expand", "-i", src, "-o", out])
    return _read_raw(out, dtype, shape)


def assert_equal(decoded: np.ndarray, source: np.ndarray, what: str) -> None:
    if decoded.shape != source.shape or not np.array_equal(decoded, source):
        diff = "shape" if decoded.shape != source.shape else int(np.count_nonzero(decoded != source))
        raise SampleError(f"LOSSLESS CHECK FAILED for {what}: differing pixels={diff}")


# ---------------------------------------------------------------------------
# Source pixel data (pydicom / pydicom-data test files, MIT licensed)
# ---------------------------------------------------------------------------


def load_source(name: str) -> np.ndarray:
    path = get_testdata_file(name)
    if path is None:
        hint = " (install the 'pydicom-data' package)" if name.startswith("emri") else ""
        raise SampleError(f"pydicom test file {name} not available{hint}")
    return pydicom.dcmread(path).pixel_array


def ct_slices() -> list[np.ndarray]:
    """5 slices from CT_small.dcm: rolled 3 px/slice to the right and offset by
    +5 per slice so every slice differs (and has a distinct min/max)."""
    base = load_source("CT_small.dcm").astype(np.int16)  # 128x128, int16
    return [(np.roll(base, 3 * i, axis=1) + 5 * i).astype(np.int16) for i in range(5)]


def mr_brain_slices() -> list[np.ndarray]:
    """3 slices from MR_small.dcm: rolled 2 px/slice down, offset +7/slice."""
    base = load_source("MR_small.dcm").astype(np.int16)  # 64x64, int16
    return [(np.roll(base, 2 * i, axis=0) + 7 * i).astype(np.int16) for i in range(3)]


def emri_frames() -> np.ndarray:
    """All 10 frames of emri_small.dcm (64x64, uint16, 12 bits stored)."""
    frames = load_source("emri_small.dcm").astype(np.uint16)
    if frames.ndim != 3 or frames.shape[0] < 5:
        raise SampleError(f"unexpected emri_small.dcm shape {frames.shape}")
    return frames


# ---------------------------------------------------------------------------
# Dataset construction
# ---------------------------------------------------------------------------


@dataclass
class Patient:
    patient_id: str
    name: str
    birth_date: str
    sex: str


@dataclass
class Study:
    patient: Patient
    study_id: str
    date: str
    time: str
    accession: str
    description: str
    body_part: str
    laterality: str = ""

    @property
    def uid(self) -> UID:
        return uid(self.patient.patient_id, "study", self.study_id)

    @property
    def frame_of_reference_uid(self) -> UID:
        return uid(self.patient.patient_id, "study", self.study_id, "for")


@dataclass
class Series:
    study: Study
    number: int
    modality: str
    description: str
    time: str

    @property
    def uid(self) -> UID:
        return uid(self.study.patient.patient_id, "study", self.study.study_id, "series", self.number)


@dataclass
class Instance:
    """One file to write plus everything needed for the manifest."""

    series: Series
    number: int
    sop_class_uid: str
    transfer_syntax_uid: str
    dataset: Dataset
    frames: list[np.ndarray]  # decoded source frames
    stored_frames: list[bytes] = field(default_factory=list)  # as in file
    codestreams: list[bytes] = field(default_factory=list)  # unpadded
    encoder_outputs: list[bytes] = field(default_factory=list)

    @property
    def sop_instance_uid(self) -> UID:
        s = self.series
        return uid(
            s.study.patient.patient_id, "study", s.study.study_id,
            "series", s.number, "instance", self.number,
        )  # fmt: skip

    @property
    def relpath(self) -> str:
        s = self.series
        return f"{s.study.patient.patient_id}/{s.study.study_id}/S{s.number:02d}_{s.modality}/IM{self.number:04d}.dcm"


def base_dataset(series: Series, number: int, sop_class_uid: str) -> Dataset:
    study = series.study
    patient = study.patient
    ds = Dataset()
    # SOP Common
    ds.SOPClassUID = sop_class_uid
    ds.InstanceCreationDate = study.date
    ds.InstanceCreationTime = series.time
    # Patient
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = patient.sex
    # General Study
    ds.StudyInstanceUID = study.uid
    ds.StudyDate = study.date
    ds.StudyTime = study.time
    ds.AccessionNumber = study.accession
    ds.StudyID = study.study_id
    ds.StudyDescription = study.description
    ds.ReferringPhysicianName = REFERRING_PHYSICIAN
    # General Series
    ds.SeriesInstanceUID = series.uid
    ds.SeriesNumber = series.number
    ds.Modality = series.modality
    ds.SeriesDescription = series.description
    ds.SeriesDate = study.date
    ds.SeriesTime = series.time
    ds.BodyPartExamined = study.body_part
    if study.laterality:
        ds.Laterality = study.laterality
    ds.PatientPosition = "HFS" if study.body_part != "KNEE" else "FFS"
    # Frame of Reference
    ds.FrameOfReferenceUID = study.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    # General Equipment
    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = MODEL_NAME
    ds.SoftwareVersions = SOFTWARE_VERSION
    # General Image
    ds.InstanceNumber = number
    ds.ContentDate = study.date
    ds.ContentTime = series.time
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    return ds


def set_image_pixel(ds: Dataset, rows: int, cols: int, bits_stored: int, signed: bool) -> None:
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = rows
    ds.Columns = cols
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0


def make_ct_series(study: Study) -> list[Instance]:
    series = Series(study, 1, "CT", "AXIAL", "101700")
    out = []
    z0 = -75.7
    for i, frame in enumerate(ct_slices()):
        n = i + 1
        z = f"{z0 + 5.0 * i:.2f}"
        ds = base_dataset(series, n, CT_IMAGE)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.AcquisitionNumber = 1
        ds.AcquisitionDate = study.date
        ds.AcquisitionTime = series.time
        ds.KVP = "120"
        ds.ScanOptions = "HELICAL MODE"
        ds.ConvolutionKernel = "STANDARD"
        ds.SliceThickness = "5.0"
        ds.SpacingBetweenSlices = "5.0"
        ds.PixelSpacing = ["0.661468", "0.661468"]
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
        ds.ImagePositionPatient = ["-158.135803", "-179.035797", z]
        ds.SliceLocation = z
        ds.RescaleIntercept = "-1024"
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        ds.WindowCenter = "40"
        ds.WindowWidth = "400"
        set_image_pixel(ds, *frame.shape, bits_stored=16, signed=True)
        out.append(Instance(series, n, CT_IMAGE, EXPLICIT_VR_LE, ds, [frame]))
    return out


def make_mr_brain_series(study: Study) -> list[Instance]:
    series = Series(study, 1, "MR", "T2 AXIAL", "143200")
    out = []
    for i, frame in enumerate(mr_brain_slices()):
        n = i + 1
        z = f"{6.6406 + 0.8 * i:.4f}"
        ds = base_dataset(series, n, MR_IMAGE)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
        ds.AcquisitionNumber = 1
        ds.ScanningSequence = "SE"
        ds.SequenceVariant = "NONE"
        ds.ScanOptions = ""
        ds.MRAcquisitionType = "3D"
        ds.RepetitionTime = "4000"
        ds.EchoTime = "240"
        ds.EchoTrainLength = "1"
        ds.ImagingFrequency = "63.924339"
        ds.ImagedNucleus = "1H"
        ds.MagneticFieldStrength = "1.5"
        ds.FlipAngle = "90"
        ds.SliceThickness = "0.8"
        ds.PixelSpacing = ["0.3125", "0.3125"]
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
        ds.ImagePositionPatient = ["-83.9063", "-91.2000", z]
        ds.SliceLocation = z
        ds.WindowCenter = "600"
        ds.WindowWidth = "1600"
        set_image_pixel(ds, *frame.shape, bits_stored=16, signed=True)
        out.append(Instance(series, n, MR_IMAGE, JPEG2000_LOSSLESS, ds, [frame]))
    return out


def make_enhanced_mr(study: Study, frames: np.ndarray) -> Instance:
    series = Series(study, 1, "MR", "T1 3D TFE", "090500")
    ds = base_dataset(series, 1, ENHANCED_MR_IMAGE)
    n_frames, rows, cols = frames.shape
    image_type = ["ORIGINAL", "PRIMARY", "VOLUME", "NONE"]
    ds.ImageType = image_type
    ds.AcquisitionNumber = 1
    ds.AcquisitionDateTime = f"{study.date}{series.time}"
    ds.AcquisitionDuration = 652.70703125
    ds.ContentQualification = "PRODUCT"
    ds.PixelPresentation = "MONOCHROME"
    ds.VolumetricProperties = "VOLUME"
    ds.VolumeBasedCalculationTechnique = "NONE"
    ds.ComplexImageComponent = "MAGNITUDE"
    ds.AcquisitionContrast = "T1"
    ds.PresentationLUTShape = "IDENTITY"
    ds.DeviceSerialNumber = "SAMPLE-0001"
    # MR Image and Spectroscopy Instance macro / MR Pulse Sequence module
    ds.ResonantNucleus = "1H"
    ds.KSpaceFiltering = "RIESZ"
    ds.MagneticFieldStrength = "3"
    ds.ApplicableSafetyStandardAgency = "IEC"
    ds.AcquisitionContextSequence = Sequence([])
    # Enhanced MR carries laterality per frame (FrameAnatomySequence) only.
    if "Laterality" in ds:
        del ds.Laterality
    ds.PulseSequenceName = "T1TFE"
    ds.MRAcquisitionType = "3D"
    ds.EchoPulseSequence = "GRADIENT"
    ds.MultiPlanarExcitation = "NO"
    ds.PhaseContrast = "NO"
    ds.TimeOfFlightContrast = "NO"
    ds.SteadyStatePulseSequence = "LONGITUDINAL"
    ds.EchoPlanarPulseSequence = "NO"
    ds.SaturationRecovery = "NO"
    ds.SpectrallySelectedSuppression = "NONE"
    ds.OversamplingPhase = "NONE"
    ds.GeometryOfKSpaceTraversal = "RECTILINEAR"
    ds.RectilinearPhaseEncodeReordering = "REVERSE_LINEAR"
    ds.SegmentedKSpaceTraversal = "PARTIAL"
    ds.CoverageOfKSpace = "FULL"
    ds.NumberOfKSpaceTrajectories = 218
    # Multi-frame
    ds.NumberOfFrames = n_frames
    # Multi-frame Dimension module: (StackID, InStackPositionNumber)
    dim_org_uid = uid(series.uid, "dimension-organization")
    org = Dataset()
    org.DimensionOrganizationUID = dim_org_uid
    ds.DimensionOrganizationSequence = Sequence([org])
    ds.DimensionOrganizationType = "3D"
    dim_items = []
    for pointer, label in ((0x00209056, "Stack ID"), (0x00209057, "In-Stack Position Number")):
        item = Dataset()
        item.DimensionOrganizationUID = dim_org_uid
        item.DimensionIndexPointer = pointer
        item.FunctionalGroupPointer = 0x00209111  # FrameContentSequence
        item.DimensionDescriptionLabel = label
        dim_items.append(item)
    ds.DimensionIndexSequence = Sequence(dim_items)
    # Shared functional groups
    shared = Dataset()
    pm = Dataset()
    pm.PixelSpacing = ["3.75", "3.75"]
    pm.SliceThickness = "1.2"
    pm.SpacingBetweenSlices = "1.2"
    shared.PixelMeasuresSequence = Sequence([pm])
    po = Dataset()
    po.ImageOrientationPatient = ["0", "1", "0", "0", "0", "-1"]
    shared.PlaneOrientationSequence = Sequence([po])
    ft = Dataset()
    ft.FrameType = image_type
    ft.PixelPresentation = "MONOCHROME"
    ft.VolumetricProperties = "VOLUME"
    ft.VolumeBasedCalculationTechnique = "NONE"
    ft.ComplexImageComponent = "MAGNITUDE"
    ft.AcquisitionContrast = "T1"
    shared.MRImageFrameTypeSequence = Sequence([ft])
    timing = Dataset()
    timing.RepetitionTime = "8.1"
    timing.FlipAngle = "8"
    timing.EchoTrainLength = 1
    timing.RFEchoTrainLength = 0
    timing.GradientEchoTrainLength = 240
    sar = Dataset()
    sar.SpecificAbsorptionRateDefinition = "IEC_WHOLE_BODY"
    sar.SpecificAbsorptionRateValue = 0.015
    timing.SpecificAbsorptionRateSequence = Sequence([sar])
    modes = []
    for mode_type in ("STATIC FIELD", "RF", "GRADIENT"):
        mode = Dataset()
        mode.OperatingModeType = mode_type
        mode.OperatingMode = "IEC_NORMAL"
        modes.append(mode)
    timing.OperatingModeSequence = Sequence(modes)
    shared.MRTimingAndRelatedParametersSequence = Sequence([timing])
    echo = Dataset()
    echo.EffectiveEchoTime = 3.7
    shared.MREchoSequence = Sequence([echo])
    anatomy = Dataset()
    region = Dataset()
    region.CodeValue = "72696002"
    region.CodingSchemeDesignator = "SCT"
    region.CodeMeaning = "Knee"
    anatomy.AnatomicRegionSequence = Sequence([region])
    anatomy.FrameLaterality = study.laterality or "U"
    shared.FrameAnatomySequence = Sequence([anatomy])
    pvt = Dataset()
    pvt.RescaleIntercept = "0"
    pvt.RescaleSlope = "1"
    pvt.RescaleType = "US"
    shared.PixelValueTransformationSequence = Sequence([pvt])
    fov = Dataset()
    fov.InPlanePhaseEncodingDirection = "ROW"
    fov.MRAcquisitionFrequencyEncodingSteps = 256
    fov.MRAcquisitionPhaseEncodingStepsInPlane = 256
    fov.MRAcquisitionPhaseEncodingStepsOutOfPlane = n_frames
    fov.PercentSampling = "100"
    fov.PercentPhaseFieldOfView = "100"
    shared.MRFOVGeometrySequence = Sequence([fov])
    modifier = Dataset()
    modifier.InversionRecovery = "NO"
    modifier.FlowCompensation = "NONE"
    modifier.T2Preparation = "NO"
    modifier.SpectrallySelectedExcitation = "NONE"
    modifier.SpatialPresaturation = "NONE"
    modifier.PartialFourier = "NO"
    modifier.ParallelAcquisition = "NO"
    shared.MRModifierSequence = Sequence([modifier])
    imaging_mod = Dataset()
    imaging_mod.MagnetizationTransfer = "NONE"
    imaging_mod.BloodSignalNulling = "NO"
    imaging_mod.Tagging = "NONE"
    imaging_mod.TransmitterFrequency = 127.74
    imaging_mod.PixelBandwidth = "241"
    shared.MRImagingModifierSequence = Sequence([imaging_mod])
    rx = Dataset()
    rx.ReceiveCoilName = "KNEE"
    rx.ReceiveCoilType = "VOLUME"
    rx.QuadratureReceiveCoil = "YES"
    rx.ReceiveCoilManufacturerName = ""
    shared.MRReceiveCoilSequence = Sequence([rx])
    tx = Dataset()
    tx.TransmitCoilName = "BODY"
    tx.TransmitCoilType = "BODY"
    tx.TransmitCoilManufacturerName = ""
    shared.MRTransmitCoilSequence = Sequence([tx])
    averages = Dataset()
    averages.NumberOfAverages = "1"
    shared.MRAveragesSequence = Sequence([averages])
    voi = Dataset()
    voi.WindowCenter = "240"
    voi.WindowWidth = "480"
    shared.FrameVOILUTSequence = Sequence([voi])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    # Per-frame functional groups
    per_frame = []
    for k in range(n_frames):
        item = Dataset()
        fc = Dataset()
        fc.FrameAcquisitionNumber = 1
        fc.FrameReferenceDateTime = ds.AcquisitionDateTime
        fc.FrameAcquisitionDateTime = ds.AcquisitionDateTime
        fc.FrameAcquisitionDuration = 652.70703125
        fc.StackID = "1"
        fc.InStackPositionNumber = k + 1
        fc.DimensionIndexValues = [1, k + 1]
        item.FrameContentSequence = Sequence([fc])
        pp = Dataset()
        pp.ImagePositionPatient = [f"{-6.0 + 1.2 * k:.1f}", "-120", "120"]
        item.PlanePositionSequence = Sequence([pp])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    set_image_pixel(ds, rows, cols, bits_stored=12, signed=False)
    return Instance(series, 1, ENHANCED_MR_IMAGE, HTJ2K_LOSSLESS_RPCL, ds, [f for f in frames])


def make_localizer_series(study: Study, frames: np.ndarray) -> list[Instance]:
    series = Series(study, 2, "MR", "LOCALIZER", "090100")
    out = []
    # two transposed emri frames, i.e. the same volume seen in another plane
    for i, src in enumerate((3, 6)):
        n = i + 1
        frame = np.ascontiguousarray(frames[src].T).astype(np.uint16)
        y = f"{-20.0 + 40.0 * i:.1f}"
        ds = base_dataset(series, n, MR_IMAGE)
        ds.ImageType = ["ORIGINAL", "PRIMARY", "OTHER"]
        ds.AcquisitionNumber = 1
        ds.ScanningSequence = "GR"
        ds.SequenceVariant = "SP"
        ds.ScanOptions = ""
        ds.MRAcquisitionType = "2D"
        ds.RepetitionTime = "8.6"
        ds.EchoTime = "4.0"
        ds.EchoTrainLength = "1"
        ds.ImagedNucleus = "1H"
        ds.MagneticFieldStrength = "3"
        ds.FlipAngle = "20"
        ds.SliceThickness = "10"
        ds.PixelSpacing = ["3.75", "3.75"]
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "0", "-1"]
        ds.ImagePositionPatient = ["-120", y, "120"]
        ds.SliceLocation = y
        ds.WindowCenter = "240"
        ds.WindowWidth = "480"
        set_image_pixel(ds, *frame.shape, bits_stored=12, signed=False)
        out.append(Instance(series, n, MR_IMAGE, EXPLICIT_VR_LE, ds, [frame]))
    return out


# ---------------------------------------------------------------------------
# Pixel data encoding + writing
# ---------------------------------------------------------------------------


def encode_instance(inst: Instance, tmp: Path) -> None:
    ds = inst.dataset
    signed = bool(ds.PixelRepresentation)
    dtype = pixel_dtype(ds.BitsAllocated, ds.PixelRepresentation)
    shape = (ds.Rows, ds.Columns)
    ts = inst.transfer_syntax_uid
    for k, frame in enumerate(inst.frames):
        if frame.shape != shape:
            raise SampleError(f"{inst.relpath}: frame {k} shape {frame.shape} != {shape}")
        if signed:
            lo, hi = -(1 << (ds.BitsStored - 1)), (1 << (ds.BitsStored - 1)) - 1
        else:
            lo, hi = 0, (1 << ds.BitsStored) - 1
        if int(frame.min()) < lo or int(frame.max()) > hi:
            raise SampleError(f"{inst.relpath}: frame {k} out of range for BitsStored")
    if ts == EXPLICIT_VR_LE:
        stored = [np.ascontiguousarray(f, dtype=dtype).tobytes() for f in inst.frames]
        inst.stored_frames = stored
        ds.add_new(0x7FE00010, "OW", b"".join(stored))
        return
    for k, frame in enumerate(inst.frames):
        what = f"{inst.relpath} frame {k + 1}"
        if ts == JPEG2000_LOSSLESS:
            enc = encode_j2k(frame, ds.BitsStored, signed, tmp)
            cs = enc
            check_codestream(
                cs, rows=shape[0], columns=shape[1], bits_stored=ds.BitsStored,
                signed=signed, ht=False, progression=0, tlm=False,
            )  # fmt: skip
            assert_equal(decode_with_opj(cs, dtype, shape, tmp), frame, what + " (opj_decompress)")
        elif ts == HTJ2K_LOSSLESS_RPCL:
            enc = encode_htj2k(frame, ds.BitsStored, signed, tmp)
            cs = insert_tlm(enc)
            check_codestream(
                cs, rows=shape[0], columns=shape[1], bits_stored=ds.BitsStored,
                signed=signed, ht=True, progression=2, tlm=True,
            )  # fmt: skip
            assert_equal(
                decode_with_ojph(enc, dtype, shape, tmp),
                frame,
                what + " (ojph_expand, encoder output)",
            )
            assert_equal(decode_with_ojph(cs, dtype, shape, tmp), frame, what + " (ojph_expand)")
            assert_equal(decode_with_opj(cs, dtype, shape, tmp), frame, what + " (opj_decompress)")
        else:
            raise SampleError(f"unsupported transfer syntax {ts}")
        inst.encoder_outputs.append(enc)
        inst.codestreams.append(cs)
        inst.stored_frames.append(cs + (b"\x00" if len(cs) % 2 else b""))
    ds.add_new(0x7FE00010, "OB", encapsulate(inst.codestreams, 1, has_bot=True))
    ds["PixelData"].is_undefined_length = True


def write_instance(inst: Instance, dicom_dir: Path) -> Path:
    ds = inst.dataset
    ds.SOPInstanceUID = inst.sop_instance_uid
    meta = FileMetaDataset()
    meta.FileMetaInformationVersion = b"\x00\x01"
    meta.MediaStorageSOPClassUID = inst.sop_class_uid
    meta.MediaStorageSOPInstanceUID = inst.sop_instance_uid
    meta.TransferSyntaxUID = inst.transfer_syntax_uid
    meta.ImplementationClassUID = IMPLEMENTATION_CLASS_UID
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    ds.file_meta = meta
    ds.preamble = b"\x00" * 128
    path = dicom_dir / inst.relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


# ---------------------------------------------------------------------------
# Read-back verification
# ---------------------------------------------------------------------------


def pylibjpeg_available() -> bool:
    try:
        import openjpeg  # noqa: F401  (pylibjpeg-openjpeg)
        import pylibjpeg  # noqa: F401
    except ImportError:
        return False
    return True


def verify_file(path: Path, inst: Instance, tmp: Path, use_pylibjpeg: bool) -> None:
    ds = pydicom.dcmread(path)
    raw = path.read_bytes()
    if raw[128:132] != b"DICM":
        raise SampleError(f"{path}: no DICM prefix")
    fm = ds.file_meta
    checks = {
        "TransferSyntaxUID": (fm.TransferSyntaxUID, inst.transfer_syntax_uid),
        "MediaStorageSOPClassUID": (fm.MediaStorageSOPClassUID, ds.SOPClassUID),
        "MediaStorageSOPInstanceUID": (fm.MediaStorageSOPInstanceUID, ds.SOPInstanceUID),
        "ImplementationClassUID": (fm.ImplementationClassUID, IMPLEMENTATION_CLASS_UID),
        "SOPClassUID": (ds.SOPClassUID, inst.sop_class_uid),
    }
    for name, (got, want) in checks.items():
        if got != want:
            raise SampleError(f"{path}: {name} {got} != {want}")
    n_frames = int(ds.get("NumberOfFrames", 1))
    if n_frames != len(inst.frames):
        raise SampleError(f"{path}: NumberOfFrames {n_frames} != {len(inst.frames)}")
    dtype = pixel_dtype(ds.BitsAllocated, ds.PixelRepresentation)
    shape = (ds.Rows, ds.Columns)
    src = np.stack(inst.frames) if n_frames > 1 else inst.frames[0]
    if inst.transfer_syntax_uid == EXPLICIT_VR_LE:
        arr = ds.pixel_array
        assert_equal(arr, src, f"{path} pixel_array")
        flen = shape[0] * shape[1] * dtype.itemsize
        pd = ds.PixelData
        for k in range(n_frames):
            if pd[k * flen : (k + 1) * flen] != inst.stored_frames[k]:
                raise SampleError(f"{path}: native frame {k + 1} bytes differ")
        return
    frames = list(generate_frames(ds.PixelData, number_of_frames=n_frames))
    if frames != inst.stored_frames:
        raise SampleError(f"{path}: encapsulated frames differ from what was written")
    bot = parse_basic_offsets(ds.PixelData)
    expected, off = [], 0
    for f in inst.stored_frames:
        expected.append(off)
        off += 8 + len(f)
    if list(bot) != expected:
        raise SampleError(f"{path}: basic offset table {bot} != {expected}")
    for k, f in enumerate(frames):
        assert_equal(decode_with_opj(f, dtype, shape, tmp), inst.frames[k], f"{path} frame {k + 1} re-read")
        if inst.transfer_syntax_uid == HTJ2K_LOSSLESS_RPCL:
            assert_equal(
                decode_with_ojph(f, dtype, shape, tmp),
                inst.frames[k],
                f"{path} frame {k + 1} re-read",
            )
    if use_pylibjpeg:
        assert_equal(ds.pixel_array, src, f"{path} pixel_array (pylibjpeg-openjpeg)")


# ---------------------------------------------------------------------------
# Manifest
# ---------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def frame_entry(inst: Instance, k: int) -> dict:
    ds = inst.dataset
    dtype = pixel_dtype(ds.BitsAllocated, ds.PixelRepresentation)
    decoded = np.ascontiguousarray(inst.frames[k], dtype=dtype)
    stored = inst.stored_frames[k]
    entry: dict = {
        "index": k + 1,
        "sha256": sha256(stored),
        "length": len(stored),
    }
    if inst.codestreams:
        cs = inst.codestreams[k]
        enc = inst.encoder_outputs[k]
        entry["codestream_sha256"] = sha256(cs)
        entry["codestream_length"] = len(cs)
        entry["padded"] = len(stored) != len(cs)
        entry["encoder_output_sha256"] = sha256(enc)
        entry["encoder_output_length"] = len(enc)
    entry["min"] = int(decoded.min())
    entry["max"] = int(decoded.max())
    entry["crc32"] = zlib.crc32(decoded.tobytes()) & 0xFFFFFFFF
    return entry


def file_entry(inst: Instance, path: Path) -> dict:
    ds = inst.dataset
    data = path.read_bytes()
    return {
        "path": inst.relpath,
        "file_size": len(data),
        "file_sha256": sha256(data),
        "patient_id": str(ds.PatientID),
        "patient_name": str(ds.PatientName),
        "patient_birth_date": ds.PatientBirthDate,
        "patient_sex": ds.PatientSex,
        "study_instance_uid": ds.StudyInstanceUID,
        "study_id": ds.StudyID,
        "study_date": ds.StudyDate,
        "study_time": ds.StudyTime,
        "accession_number": ds.AccessionNumber,
        "study_description": ds.StudyDescription,
        "series_instance_uid": ds.SeriesInstanceUID,
        "series_number": int(ds.SeriesNumber),
        "series_description": ds.SeriesDescription,
        "modality": ds.Modality,
        "body_part_examined": ds.BodyPartExamined,
        "sop_instance_uid": ds.SOPInstanceUID,
        "sop_class_uid": ds.SOPClassUID,
        "instance_number": int(ds.InstanceNumber),
        "transfer_syntax_uid": inst.transfer_syntax_uid,
        "rows": int(ds.Rows),
        "columns": int(ds.Columns),
        "samples_per_pixel": int(ds.SamplesPerPixel),
        "photometric_interpretation": ds.PhotometricInterpretation,
        "bits_allocated": int(ds.BitsAllocated),
        "bits_stored": int(ds.BitsStored),
        "high_bit": int(ds.HighBit),
        "pixel_representation": int(ds.PixelRepresentation),
        "number_of_frames": len(inst.frames),
        "frames": [frame_entry(inst, k) for k in range(len(inst.frames))],
    }


def summarize(files: list[dict]) -> tuple[dict, dict]:
    patients: dict = {}
    for f in files:
        p = patients.setdefault(
            f["patient_id"],
            {
                "patient_name": f["patient_name"],
                "patient_birth_date": f["patient_birth_date"],
                "patient_sex": f["patient_sex"],
                "study_count": 0,
                "series_count": 0,
                "instance_count": 0,
                "frame_count": 0,
                "studies": {},
            },
        )
        st = p["studies"].setdefault(
            f["study_instance_uid"],
            {
                "study_id": f["study_id"],
                "accession_number": f["accession_number"],
                "study_date": f["study_date"],
                "study_time": f["study_time"],
                "study_description": f["study_description"],
                "series_count": 0,
                "instance_count": 0,
                "frame_count": 0,
                "series": {},
            },
        )
        se = st["series"].setdefault(
            f["series_instance_uid"],
            {
                "series_number": f["series_number"],
                "modality": f["modality"],
                "series_description": f["series_description"],
                "instance_count": 0,
                "frame_count": 0,
                "transfer_syntax_uids": [],
                "sop_instance_uids": [],
            },
        )
        se["instance_count"] += 1
        se["frame_count"] += f["number_of_frames"]
        se["sop_instance_uids"].append(f["sop_instance_uid"])
        if f["transfer_syntax_uid"] not in se["transfer_syntax_uids"]:
            se["transfer_syntax_uids"].append(f["transfer_syntax_uid"])
    totals = {"patients": 0, "studies": 0, "series": 0, "instances": 0, "frames": 0}
    for p in patients.values():
        for st in p["studies"].values():
            st["series_count"] = len(st["series"])
            st["instance_count"] = sum(s["instance_count"] for s in st["series"].values())
            st["frame_count"] = sum(s["frame_count"] for s in st["series"].values())
        p["study_count"] = len(p["studies"])
        p["series_count"] = sum(st["series_count"] for st in p["studies"].values())
        p["instance_count"] = sum(st["instance_count"] for st in p["studies"].values())
        p["frame_count"] = sum(st["frame_count"] for st in p["studies"].values())
        totals["patients"] += 1
        totals["studies"] += p["study_count"]
        totals["series"] += p["series_count"]
        totals["instances"] += p["instance_count"]
        totals["frames"] += p["frame_count"]
    return patients, totals


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def build_instances() -> list[Instance]:
    pat_a = Patient("HI-PAT-A", "DOE^JANE", "19700101", "F")
    pat_b = Patient("HI-PAT-B", "ROE^RICHARD", "19651231", "M")
    a1 = Study(pat_a, "A1", "20240105", "101500", "ACC-A1", "CT CHEST", "CHEST")
    a2 = Study(pat_a, "A2", "20240310", "143000", "ACC-A2", "MR BRAIN", "HEAD")
    b1 = Study(pat_b, "B1", "20231120", "090000", "ACC-B1", "MR KNEE", "KNEE", "R")
    emri = emri_frames()
    return [
        *make_ct_series(a1),
        *make_mr_brain_series(a2),
        make_enhanced_mr(b1, emri),
        *make_localizer_series(b1, emri),
    ]


def generate(out: Path) -> list[tuple[Path, int]]:
    require_tools()
    dicom_dir = out / "dicom"
    if dicom_dir.exists():
        shutil.rmtree(dicom_dir)
    dicom_dir.mkdir(parents=True)
    instances = build_instances()
    use_pylibjpeg = pylibjpeg_available()
    files = []
    written = []
    with tempfile.TemporaryDirectory(prefix="make_samples_") as tmpname:
        tmp = Path(tmpname)
        for inst in instances:
            encode_instance(inst, tmp)
            path = write_instance(inst, dicom_dir)
            verify_file(path, inst, tmp, use_pylibjpeg)
            files.append(file_entry(inst, path))
            written.append((path, path.stat().st_size))
    uids = [f["sop_instance_uid"] for f in files]
    if len(set(uids)) != len(uids):
        raise SampleError("duplicate SOPInstanceUID")
    patients, totals = summarize(files)
    manifest = {
        "schema_version": 1,
        "description": (
            "Oracle for the DICOM samples in samples/dicom/. Generated by "
            "scripts/make_samples.py; see samples/README.md for field semantics."
        ),
        "uid_root": UID_ROOT,
        "implementation_class_uid": IMPLEMENTATION_CLASS_UID,
        "files": files,
        "patients": patients,
        "totals": totals,
    }
    mpath = out / "manifest.json"
    mpath.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    written.append((mpath, mpath.stat().st_size))
    print(
        "verified: all files re-read with pydicom; every compressed frame decoded "
        "losslessly with opj_decompress"
        + " (and ojph_expand for HTJ2K)"
        + ("; pixel_array cross-checked via pylibjpeg-openjpeg" if use_pylibjpeg else "")
    )
    return written


def compare_trees(generated: Path, committed: Path) -> list[str]:
    problems = []
    gen = {p.relative_to(generated) for p in generated.rglob("*") if p.is_file()}
    com = {p.relative_to(committed) for p in (committed / "dicom").rglob("*") if p.is_file()}
    com.add(Path("manifest.json"))
    for rel in sorted(gen | com):
        a, b = generated / rel, committed / rel
        if not a.exists():
            problems.append(f"extra committed file: {rel}")
        elif not b.exists():
            problems.append(f"missing committed file: {rel}")
        elif a.read_bytes() != b.read_bytes():
            problems.append(f"differs: {rel}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="samples directory")
    ap.add_argument(
        "--check",
        action="store_true",
        help="regenerate into a temporary directory and compare with --out",
    )
    args = ap.parse_args(argv)
    try:
        print("tool versions:", json.dumps(tool_versions()))
        if args.check:
            with tempfile.TemporaryDirectory(prefix="samples_check_") as d:
                generate(Path(d))
                problems = compare_trees(Path(d), args.out)
            for p in problems:
                print("MISMATCH:", p, file=sys.stderr)
            print("check:", "FAILED" if problems else "OK (byte-identical)")
            return 1 if problems else 0
        written = generate(args.out)
    except SampleError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    total = 0
    for path, size in written:
        total += size
        print(f"{size:8d}  {path.relative_to(args.out)}")
    print(f"{total:8d}  total ({len(written) - 1} DICOM files + manifest)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
