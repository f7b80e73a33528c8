"""Tiny DICOM Part-10 files for the benchmark's fixtures, written without any DICOM library (the
benchmark must run after a plain ``pip install .``).

Each file is one 8x8 8-bit monochrome instance in explicit VR little endian, carrying the study
and series elements the import job groups by, so the caller decides how instances land in image
sets: the instances of one series join one image set; the series of one study each get their own.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
UID_ROOT = "1.2.826.0.1.3680043.10.99"
"""Root of every UID made here (outside the ranges the samples and synthetic fixtures use)."""

# VRs whose length field is 4 bytes after two reserved bytes (PS3.5 7.1.2).
_LONG_VRS = {"OB", "OW", "OF", "SQ", "UT", "UN"}


def _element(group: int, elem: int, vr: str, value: bytes | str | int) -> bytes:
    if isinstance(value, int):
        data = struct.pack("<H" if vr == "US" else "<I", value)
    elif isinstance(value, str):
        data = value.encode("ascii")
        if len(data) % 2:
            data += b"\0" if vr == "UI" else b" "
    else:
        data = value + (b"\0" if len(value) % 2 else b"")
    head = struct.pack("<HH", group, elem) + vr.encode("ascii")
    if vr in _LONG_VRS:
        return head + b"\0\0" + struct.pack("<I", len(data)) + data
    return head + struct.pack("<H", len(data)) + data


@dataclass(frozen=True)
class Study:
    patient_id: str
    patient_name: str
    study_uid: str
    accession: str
    description: str = "BENCH STUDY"
    date: str = "20240102"


def instance_bytes(study: Study, series_uid: str, series_number: int, sop_uid: str, number: int) -> bytes:
    """One Part-10 file: preamble, file meta group, then the data set in tag order."""
    meta_body = b"".join(
        [
            _element(0x0002, 0x0001, "OB", b"\0\1"),
            _element(0x0002, 0x0002, "UI", CT_IMAGE_STORAGE),
            _element(0x0002, 0x0003, "UI", sop_uid),
            _element(0x0002, 0x0010, "UI", EXPLICIT_VR_LITTLE_ENDIAN),
            _element(0x0002, 0x0012, "UI", UID_ROOT + ".1"),
        ]
    )
    meta = _element(0x0002, 0x0000, "UL", len(meta_body)) + meta_body
    data = b"".join(
        [
            _element(0x0008, 0x0016, "UI", CT_IMAGE_STORAGE),
            _element(0x0008, 0x0018, "UI", sop_uid),
            _element(0x0008, 0x0020, "DA", study.date),
            _element(0x0008, 0x0030, "TM", "101500"),
            _element(0x0008, 0x0050, "SH", study.accession),
            _element(0x0008, 0x0060, "CS", "CT"),
            _element(0x0008, 0x1030, "LO", study.description),
            _element(0x0010, 0x0010, "PN", study.patient_name),
            _element(0x0010, 0x0020, "LO", study.patient_id),
            _element(0x0020, 0x000D, "UI", study.study_uid),
            _element(0x0020, 0x000E, "UI", series_uid),
            _element(0x0020, 0x0010, "SH", "1"),
            _element(0x0020, 0x0011, "IS", str(series_number)),
            _element(0x0020, 0x0013, "IS", str(number)),
            _element(0x0028, 0x0002, "US", 1),
            _element(0x0028, 0x0004, "CS", "MONOCHROME2"),
            _element(0x0028, 0x0010, "US", 8),
            _element(0x0028, 0x0011, "US", 8),
            _element(0x0028, 0x0100, "US", 8),
            _element(0x0028, 0x0101, "US", 8),
            _element(0x0028, 0x0102, "US", 7),
            _element(0x0028, 0x0103, "US", 0),
            _element(0x7FE0, 0x0010, "OB", bytes((number + i) % 256 for i in range(64))),
        ]
    )
    return b"\0" * 128 + b"DICM" + meta + data


def write_series(folder: Path, study: Study, series: int, instances: int) -> str:
    """Writes `instances` files of series number `series` of `study` under `folder`; returns the
    series UID."""
    series_uid = f"{study.study_uid}.{series}"
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(1, instances + 1):
        sop = f"{series_uid}.{n}"
        (folder / f"s{series}-{n}.dcm").write_bytes(instance_bytes(study, series_uid, series, sop, n))
    return series_uid
