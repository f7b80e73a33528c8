"""The local HealthImaging never reads or writes outside its S3 stand-in folder.

Each test puts a sentinel DICOM file (a patient of its own) next to the S3 folder, tries to reach
it through StartDICOMImportJob, and then checks two things independently of the server's answer:
boto3 searches find no image set of the sentinel patient, and the folder outside the root holds
exactly what it held before (no job output written there).
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pydicom
import pytest
from awslabs.healthimaging_mcp_server import local
from botocore.exceptions import ClientError
from conftest import (
    ROLE_ARN,
    create_datastore,
    error_of,
    make_client,
    run_import,
    search_all,
    start_server,
    wait_datastore_status,
)
from pydicom.uid import generate_uid

SENTINEL_PATIENT = "SENTINEL-OUTSIDE-ROOT"
SAMPLE = next(iter(sorted(local.SAMPLES_DIR.rglob("*.dcm"))))

pytestmark = pytest.mark.skipif(os.name != "posix", reason="symlinks need a POSIX file system")


def write_sentinel(path: Path) -> None:
    """A valid DICOM file of a patient that must never be imported."""
    ds = pydicom.dcmread(SAMPLE)
    ds.PatientID = SENTINEL_PATIENT
    ds.PatientName = "Sentinel^Outside"
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (not following symlinks) and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def env(tmp_path):
    """A server whose S3 folder is tmp/s3, with sentinel DICOM files in tmp/outside.

    `s3://bkt/../../outside/` names tmp/outside, `s3://bkt/../../escaped-out/` tmp/escaped-out.
    """
    outside = tmp_path / "outside"
    write_sentinel(outside / "sentinel.dcm")
    write_sentinel(outside / "sub" / "sentinel2.dcm")
    with start_server(tmp_path) as srv:
        client = make_client(srv.endpoint_url)
        ds = create_datastore(client, "confinement")
        wait_datastore_status(client, ds, "ACTIVE")
        s3 = Path(srv.s3_root)
        (s3 / "bkt" / "in").mkdir(parents=True)
        (s3 / "bkt" / "in" / "real.dcm").write_bytes(SAMPLE.read_bytes())
        before = snapshot(tmp_path / "outside")
        yield {"client": client, "ds": ds, "s3": s3, "outside": outside, "before": before, "tmp": tmp_path}
        assert snapshot(tmp_path / "outside") == before, "something was written outside the S3 folder"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["outside", "s3"]


def patients(client, ds: str) -> set[str]:
    summaries, _ = search_all(client, ds, page_size=50)
    ids = set()
    for s in summaries:
        meta = client.get_image_set_metadata(datastoreId=ds, imageSetId=s["imageSetId"])
        ids.add(json.loads(gzip.decompress(meta["imageSetMetadataBlob"].read()))["Patient"]["DICOM"]["PatientID"])
    return ids


def start(client, ds: str, input_uri: str, output_uri: str):
    return client.start_dicom_import_job(
        datastoreId=ds,
        dataAccessRoleArn=ROLE_ARN,
        clientToken=os.urandom(8).hex(),
        inputS3Uri=input_uri,
        outputS3Uri=output_uri,
    )


@pytest.mark.parametrize(
    ("member", "uri"),
    [
        ("inputS3Uri", "s3://bkt/../../outside/"),
        ("inputS3Uri", "s3://bkt/in/../../../outside/"),
        ("inputS3Uri", "s3://bkt/./in/"),
        ("inputS3Uri", "s3://bkt/in/."),
        ("inputS3Uri", "s3://bkt/in//x/"),
        ("inputS3Uri", "s3://bkt//in/"),
        ("inputS3Uri", "s3://bkt//" + "tmp/"),
        ("outputS3Uri", "s3://bkt/../../escaped-out/"),
        ("outputS3Uri", "s3://bkt//escaped-out/"),
        ("outputS3Uri", "s3://bkt/out/./x/"),
    ],
)
def test_keys_that_are_not_literal_names_are_validation_errors(env, member, uri):
    client, ds = env["client"], env["ds"]
    uris = {"inputS3Uri": "s3://bkt/in/", "outputS3Uri": "s3://bkt/out/", member: uri}
    with pytest.raises(ClientError) as info:
        start(client, ds, uris["inputS3Uri"], uris["outputS3Uri"])
    assert error_of(info.value) == ("ValidationException", 400)
    message = info.value.response["Error"]["Message"]
    assert f"at '{member}'" in message and uri in message
    # Nothing was started: no job, nothing imported.
    assert client.list_dicom_import_jobs(datastoreId=ds)["jobSummaries"] == []
    assert search_all(client, ds)[0] == []


def test_symlinked_file_is_not_read(env):
    client, ds, s3 = env["client"], env["ds"], env["s3"]
    (s3 / "bkt" / "in" / "link.dcm").symlink_to(env["outside"] / "sentinel.dcm")
    job = run_import(client, ds, "s3://bkt/in/", "s3://bkt/out/")
    assert job["jobStatus"] == "COMPLETED", job
    assert patients(client, ds) == {pydicom.dcmread(SAMPLE).PatientID}
    reports = [p for p in (s3 / "bkt" / "out").rglob("*.ndjson")]
    lines = [json.loads(line) for p in reports for line in p.read_text().splitlines()]
    assert [r["inputFile"] for r in lines] == ["s3://bkt/in/real.dcm"]


def test_symlinked_folder_is_not_descended(env):
    client, ds, s3 = env["client"], env["ds"], env["s3"]
    (s3 / "bkt" / "in" / "linked").symlink_to(env["outside"], target_is_directory=True)
    (s3 / "bkt" / "alias").symlink_to(env["outside"], target_is_directory=True)
    job = run_import(client, ds, "s3://bkt/in/", "s3://bkt/out/")
    assert job["jobStatus"] == "COMPLETED", job
    # An input prefix that starts in the symlinked folder (or below it) finds nothing.
    for uri in ("s3://bkt/alias/", "s3://bkt/in/linked/", "s3://bkt/in/linked/sub/"):
        failed = run_import(client, ds, uri, "s3://bkt/out/")
        assert failed["jobStatus"] == "FAILED", failed
        assert str(env["tmp"]) not in failed.get("message", "")
    assert SENTINEL_PATIENT not in patients(client, ds)


def test_output_is_not_written_through_a_symlinked_folder(env):
    client, ds, s3 = env["client"], env["ds"], env["s3"]
    (s3 / "outbkt").mkdir()
    (s3 / "outbkt" / "reports").symlink_to(env["outside"], target_is_directory=True)
    job = run_import(client, ds, "s3://bkt/in/", "s3://outbkt/reports/")
    assert job["jobStatus"] == "FAILED", job
    assert str(env["tmp"]) not in job["message"]
    # A bucket folder that is itself a symlink is not written through either.
    (s3 / "linkbkt").symlink_to(env["outside"], target_is_directory=True)
    job = run_import(client, ds, "s3://bkt/in/", "s3://linkbkt/out/")
    assert job["jobStatus"] == "FAILED", job
    # The fixture checks the outside folder is unchanged.


def test_host_folder_names_never_appear_in_reports(env):
    """A prefix naming a folder that holds non-DICOM files lists only keys under the root."""
    client, ds, s3 = env["client"], env["ds"], env["s3"]
    (s3 / "bkt" / "mixed").mkdir()
    (s3 / "bkt" / "mixed" / "notes.txt").write_text("not DICOM")
    (s3 / "bkt" / "mixed" / "passwd").symlink_to("/etc/passwd")
    job = run_import(client, ds, "s3://bkt/mixed/", "s3://bkt/out/")
    assert job["jobStatus"] == "COMPLETED", job
    failure = next((s3 / "bkt" / "out").rglob("failure.ndjson")).read_text()
    assert [json.loads(line)["inputFile"] for line in failure.splitlines()] == ["s3://bkt/mixed/notes.txt"]
    assert "passwd" not in failure
