"""Writes the fuzz targets' seed corpus (fuzz/corpus/<target>/) from the bundled samples.

Run once with pydicom and botocore installed (the test extra): `python fuzz/make_corpus.py`.
The files are small: truncated sample files, a J2K and a native frame, a metadata document with
update documents, and a request signed the way boto3 signs for HealthImaging.
"""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from pydicom.encaps import generate_fragmented_frames

HERE = Path(__file__).parent
SAMPLES = HERE.parent / "python" / "awslabs" / "healthimaging_mcp_server" / "samples" / "dicom"
CT = SAMPLES / "HI-PAT-A" / "A1" / "S01_CT" / "IM0001.dcm"
MR_J2K = SAMPLES / "HI-PAT-A" / "A2" / "S01_MR" / "IM0001.dcm"
MR_HTJ2K = SAMPLES / "HI-PAT-B" / "B1" / "S01_MR" / "IM0001.dcm"
MR = SAMPLES / "HI-PAT-B" / "B1" / "S02_MR" / "IM0001.dcm"


def write(target: str, name: str, data: bytes) -> None:
    folder = HERE / "corpus" / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def part10() -> None:
    write("parse_part10", "mr_j2k", MR_J2K.read_bytes())
    for path, size in ((CT, 1536), (MR, 2048), (MR_HTJ2K, 4096)):
        write("parse_part10", f"{path.parent.name.lower()}_{size}", path.read_bytes()[:size])


def frames() -> None:
    # Header bytes: rows, columns, samples, bits index (3 = 16), bits stored, representation,
    # photometric index (1 = MONOCHROME2), syntax index << 1 | planar.
    def head(syntax_index: int, rows: int = 16) -> bytes:
        return bytes([rows, rows, 1, 3, 12, 0, 1, syntax_index << 1])

    native = pydicom.dcmread(MR).PixelData[: 16 * 16 * 2]
    write("decode_frame", "native_16", head(1) + native)
    for name, path, index in (("j2k", MR_J2K, 4), ("htj2k", MR_HTJ2K, 7)):
        ds = pydicom.dcmread(path)
        frame = b"".join(next(generate_fragmented_frames(ds.PixelData)))
        write("decode_frame", name, head(index, ds.Rows) + frame[:6000])


def metadata() -> None:
    doc = {
        "SchemaVersion": "1.1",
        "DatastoreID": "0" * 32,
        "ImageSetID": "1" * 32,
        "Patient": {"DICOM": {"PatientID": "P1", "PatientName": "A^B"}},
        "Study": {
            "DICOM": {"StudyInstanceUID": "1.2.3", "StudyDescription": "S"},
            "Series": {
                "1.2.3.4": {
                    "DICOM": {"SeriesInstanceUID": "1.2.3.4", "Modality": "CT"},
                    "Instances": {
                        "1.2.3.4.5": {
                            "DICOM": {"SOPInstanceUID": "1.2.3.4.5", "Rows": 2, "Columns": 2},
                            "ImageFrames": [{"ID": "f" * 32, "PixelDataChecksumFromBaseToFullResolution": []}],
                        }
                    },
                }
            },
        },
    }
    updates = [
        {"updatableAttributes": {"SchemaVersion": 1.1, "Patient": {"DICOM": {"PatientName": "C^D"}}}},
        {
            "removableAttributes": {
                "SchemaVersion": 1.1,
                "Study": {"Series": {"1.2.3.4": {"Instances": {"1.2.3.4.5": {}}}}},
            }
        },
        {"removableAttributes": {"SchemaVersion": 1.1, "Study": {"DICOM": {"StudyDescription": "S"}}}},
    ]
    for i, update in enumerate(updates):
        write(
            "metadata", f"update_{i}", bytes([i % 2]) + json.dumps(doc).encode() + b"\0" + json.dumps(update).encode()
        )


def sigv4() -> None:
    body = json.dumps({"searchCriteria": {"filters": []}}).encode()
    url = "http://127.0.0.1:8080/datastore/" + "0" * 32 + "/searchImageSets?maxResults=50"
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("test", "test"), "medical-imaging", "us-east-1").add_auth(request)
    prepared = request.prepare()
    path = url.split("8080", 1)[1]
    head = "\n".join(f"{k}: {v}" for k, v in prepared.headers.items())
    head = f"host: 127.0.0.1:8080\n{head}"
    # The target puts the current time in place of these (a fixed date is refused as expired).
    stamp = prepared.headers["X-Amz-Date"]
    head = head.replace(stamp, "@NOW@").replace(stamp[:8] + "/", "@TODAY@/")
    write("sigv4", "search", f"POST {path}\n{head}\n\n".encode() + body)
    write("sigv4", "unsigned", b"GET /datastore\nhost: 127.0.0.1:8080\n\n")


def multipart() -> None:
    # First byte: the size of the pieces the body arrives in; the boundary is "B".
    parts = (
        b"--B\r\nContent-Type: application/dicom\r\n\r\nDICM-bytes\r\n"
        b"--B\r\nContent-Type: application/dicom+json\r\nContent-Location: /x\r\n\r\n"
        b'{"a":1}\r\n--B--\r\nepilogue'
    )
    write("multipart", "two_parts", b"\x07" + parts)
    write("multipart", "empty_part", b"\x01preamble\r\n--B\r\n\r\n\r\n--B--")


if __name__ == "__main__":
    part10()
    frames()
    metadata()
    sigv4()
    multipart()
