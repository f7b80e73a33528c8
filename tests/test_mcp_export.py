"""The export toolset end to end over MCP stdio: start_dicom_export_job against the local
HealthImaging, writing to a folder (``file://``) and to a real S3-compatible server (moto's
threaded server, started here on a free port, which also answers the STS AssumeRole of the data
access role). The files are read back with pydicom and compared with the imported samples, the
manifest is checked against the files' own SHA-256, and the objects are read with boto3. Jobs are
followed with get_dicom_export_job and listed with list_dicom_export_jobs (status filter, paging);
client tokens make a start idempotent; bad input is a validation_error before any job starts."""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pydicom
import pytest
from awslabs.healthimaging_mcp_server import local
from conftest import ACCOUNT_ID, COMPARED, call, mcp_env, mcp_session, ok, run_async, tool_error

SAMPLES = local.SAMPLES_DIR
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/ExportRole"
ACTIVE = {"SUBMITTED", "IN_PROGRESS"}


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_of(moto_url: str):
    return boto3.client(
        "s3", endpoint_url=moto_url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def s3_env(moto_url: str) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL_S3": moto_url, "AWS_ENDPOINT_URL_STS": moto_url}


async def follow(session, datastore_id: str, job_id: str) -> dict:
    """get_dicom_export_job until the job ends."""
    while True:
        job = await ok(session, "get_dicom_export_job", datastore_id=datastore_id, job_id=job_id)
        if job["job_status"] not in ACTIVE:
            return job
        await asyncio.sleep(0.05)


def study_files(manifest: dict, study_id: str) -> list[dict]:
    return [f for f in manifest["files"] if f["study_id"] == study_id]


def manifest_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def same_instance(ds: pydicom.Dataset, original: pydicom.Dataset) -> None:
    for keyword in COMPARED:
        assert ds.get(keyword) == original.get(keyword), keyword
    assert (ds.pixel_array == original.pixel_array).all(), ds.SOPInstanceUID


def test_export_a_study_to_a_folder_reads_back_equal(server, seeded, manifest, tmp_path):
    files = study_files(manifest, "A1")
    study_uid = files[0]["study_instance_uid"]
    out = tmp_path / "exports" / "a1"
    args = {
        "datastore_id": seeded.datastore_id,
        "data_access_role_arn": ROLE,
        "output_s3_uri": f"file://{out}",
        "study_instance_uid": study_uid,
        "transfer_syntax": "explicit_vr_little_endian",
        "client_token": "export-a1",
        "job_name": "a1-to-folder",
    }

    async def steps(session):
        started = await ok(session, "start_dicom_export_job", **args)
        again = await ok(session, "start_dicom_export_job", **args)
        conflict = await session.call_tool("start_dicom_export_job", {**args, "transfer_syntax": "stored"})
        ended = await follow(session, seeded.datastore_id, started["job_id"])
        listed = await ok(session, "list_dicom_export_jobs", datastore_id=seeded.datastore_id, job_status="COMPLETED")
        failed = await ok(session, "list_dicom_export_jobs", datastore_id=seeded.datastore_id, job_status="FAILED")
        return started, again, conflict, ended, listed, failed

    started, again, conflict, ended, listed, failed = call(server, steps, "--file-root", str(tmp_path))

    # A start answers at once; the same client token and request answer the same job, another
    # request with that token is a conflict.
    assert started["job_status"] in ACTIVE and started["job_name"] == "a1-to-folder", started
    assert again["job_id"] == started["job_id"]
    assert tool_error(conflict)["type"] == "conflict_error"

    assert ended["job_status"] == "COMPLETED", ended
    assert ended["counts"] == {"done": len(files)}, ended
    assert ended["progress"]["done"] == ended["progress"]["total"] == len(files)
    assert ended["output_uri"] == f"file://{out}/" and ended["manifest_uri"] == f"file://{out}/manifest.jsonl"
    assert [j["job_id"] for j in listed["jobs"]] == [started["job_id"]] and failed["jobs"] == []

    # Every instance once, in the layout, equal to the sample it was imported from.
    real = out.resolve()
    written = sorted(p for p in real.rglob("*.dcm"))
    assert len(written) == len(files)
    assert not list(real.rglob("*.part"))
    for f in files:
        path = real / f["study_instance_uid"] / f["series_instance_uid"] / f"{f['sop_instance_uid']}.dcm"
        ds = pydicom.dcmread(path)
        assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
        same_instance(ds, pydicom.dcmread(SAMPLES / f["path"]))

    # The manifest: one line per instance, its SHA-256 and size those of the file written.
    lines = manifest_lines((real / "manifest.jsonl").read_text())
    assert len(lines) == len(files)
    for line in lines:
        assert line["outcome"] == "done" and line["reason"] is None, line
        path = Path(line["destination"][len("file://") :])
        body = path.read_bytes()
        assert line["sha256"] == hashlib.sha256(body).hexdigest() and line["size"] == len(body)
        assert line["source_image_set_id"] in seeded.image_sets.values()
        assert isinstance(line["source_version"], int)
    summary = json.loads((real / "summary.json").read_text())
    assert summary["job_id"] == started["job_id"] and summary["counts"] == {"done": len(files)}
    assert summary["bytes"] == sum(p.stat().st_size for p in written)


def test_export_a_series_to_s3_and_a_missing_bucket_fails_with_the_reason(server, seeded, manifest, moto_url):
    s3 = s3_of(moto_url)
    bucket = f"export-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    files = study_files(manifest, "A1")
    series_uid = files[0]["series_instance_uid"]
    series = [f for f in files if f["series_instance_uid"] == series_uid]

    async def steps(session):
        started = await ok(
            session,
            "start_dicom_export_job",
            datastore_id=seeded.datastore_id,
            data_access_role_arn=ROLE,
            output_s3_uri=f"s3://{bucket}/cohort/one",
            series_instance_uid=series_uid,
        )
        ended = await follow(session, seeded.datastore_id, started["job_id"])
        # The same series de-identified, followed with the jobs toolset's get_job.
        deid = await ok(
            session,
            "start_dicom_export_job",
            datastore_id=seeded.datastore_id,
            data_access_role_arn=ROLE,
            output_s3_uri=f"s3://{bucket}/deid/",
            series_instance_uid=series_uid,
            deidentify={},
        )
        while (deid_job := await ok(session, "get_job", job_id=deid["job_id"]))["status"] in ACTIVE:
            await asyncio.sleep(0.05)
        missing = []
        for _ in range(3):
            m = await ok(
                session,
                "start_dicom_export_job",
                datastore_id=seeded.datastore_id,
                data_access_role_arn=ROLE,
                output_s3_uri="s3://no-such-bucket-here/x/",
                series_instance_uid=series_uid,
            )
            missing.append(await follow(session, seeded.datastore_id, m["job_id"]))
        page1 = await ok(
            session, "list_dicom_export_jobs", datastore_id=seeded.datastore_id, job_status="FAILED", max_results=2
        )
        page2 = await ok(
            session,
            "list_dicom_export_jobs",
            datastore_id=seeded.datastore_id,
            job_status="FAILED",
            max_results=2,
            next_token=page1["next_token"],
        )
        return ended, deid_job, missing, page1, page2

    ended, deid_job, missing, page1, page2 = call(server, steps, **s3_env(moto_url))

    assert ended["job_status"] == "COMPLETED" and ended["counts"] == {"done": len(series)}, ended
    assert ended["manifest_uri"] == f"s3://{bucket}/cohort/one/manifest.jsonl"
    lines = manifest_lines(s3.get_object(Bucket=bucket, Key="cohort/one/manifest.jsonl")["Body"].read().decode())
    assert len(lines) == len(series)
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="cohort/one/")["Contents"]}
    assert keys == {
        f"cohort/one/{f['study_instance_uid']}/{series_uid}/{f['sop_instance_uid']}.dcm" for f in series
    } | {"cohort/one/manifest.jsonl", "cohort/one/summary.json"}
    by_dest = {line["destination"]: line for line in lines}
    for f in series:
        key = f"cohort/one/{f['study_instance_uid']}/{series_uid}/{f['sop_instance_uid']}.dcm"
        obj = s3.get_object(Bucket=bucket, Key=key)
        body = obj["Body"].read()
        sha = hashlib.sha256(body).hexdigest()
        # The SHA-256 is kept with the object (what a resumed export compares) and in the manifest.
        assert obj["Metadata"]["sha256"] == sha == by_dest[f"s3://{bucket}/{key}"]["sha256"]
        ds = pydicom.dcmread(pydicom.filebase.DicomBytesIO(body))
        same_instance(ds, pydicom.dcmread(SAMPLES / f["path"]))

    # De-identified into the bucket: one object per instance under new UIDs, no original UID or
    # patient name in any key or file, the pixels those of the sample.
    assert deid_job["status"] == "COMPLETED" and deid_job["counts"] == {"done": len(series)}, deid_job
    deid_keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="deid/")["Contents"]}
    instances = sorted(k for k in deid_keys if k.endswith(".dcm"))
    assert len(instances) == len(series) and deid_keys - set(instances) == {"deid/manifest.jsonl", "deid/summary.json"}
    originals = {f["sop_instance_uid"]: pydicom.dcmread(SAMPLES / f["path"]) for f in series}
    for key in instances:
        assert series_uid not in key and not any(sop in key for sop in originals), key
        ds = pydicom.dcmread(pydicom.filebase.DicomBytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
        assert ds.PatientIdentityRemoved == "YES"
        source = next(o for o in originals.values() if o.PixelData == ds.PixelData)
        assert str(ds.get("PatientName", "")) != str(source.PatientName)
        assert ds.SOPInstanceUID not in originals and ds.StudyInstanceUID != source.StudyInstanceUID

    # A missing bucket: the job fails at once with the reason, and is kept (listed, paged).
    for job in missing:
        assert job["job_status"] == "FAILED", job
        assert "no-such-bucket-here" in job["message"] and "does not exist" in job["message"], job
    assert len(page1["jobs"]) == 2 and "next_token" in page1
    assert len(page2["jobs"]) == 1 and "next_token" not in page2
    assert {j["job_id"] for j in page1["jobs"] + page2["jobs"]} == {j["job_id"] for j in missing}


def test_bad_export_input_is_a_validation_error_before_any_job(server, seeded, manifest, tmp_path):
    study_uid = study_files(manifest, "A1")[0]["study_instance_uid"]
    base = {
        "datastore_id": seeded.datastore_id,
        "data_access_role_arn": ROLE,
        "output_s3_uri": f"file://{tmp_path}/out",
        "study_instance_uid": study_uid,
    }
    bad = [
        {**base, "output_s3_uri": "https://example.com/x"},
        {**base, "output_s3_uri": "file:///etc/exports"},
        {**base, "study_instance_uid": None},
        {**base, "submitted_after": "2024-02-01", "submitted_before": "2024-01-01"},
        {**base, "submitted_after": "last tuesday"},
        {**base, "transfer_syntax": "jpeg"},
        {**base, "output_bucket": "x"},
    ]

    async def steps(session):
        errors = []
        for args in bad:
            args = {k: v for k, v in args.items() if v is not None}
            errors.append(await session.call_tool("start_dicom_export_job", args))
        unknown = await session.call_tool(
            "get_dicom_export_job", {"datastore_id": seeded.datastore_id, "job_id": "0" * 32}
        )
        listed = await ok(session, "list_dicom_export_jobs", datastore_id=seeded.datastore_id)
        return errors, unknown, listed

    errors, unknown, listed = call(server, steps, "--file-root", str(tmp_path))
    for args, result in zip(bad, errors, strict=True):
        assert tool_error(result)["type"] == "validation_error", (args, result.content[0].text)
    assert tool_error(unknown)["type"] == "not_found"
    assert listed["jobs"] == []
    assert not (tmp_path / "out").exists()


# ---- de-identification ---------------------------------------------------------------------------

PROFILE = Path(__file__).parent.parent / "src" / "deid" / "basic_profile.tsv"
"""The de-identification library's own table (PS3.15 Table E.1-1): the check is driven by it."""
GEOMETRY = ("Rows", "Columns", "PixelSpacing", "ImageOrientationPatient", "ImagePositionPatient", "SliceThickness")


def profile_rows() -> list[tuple[int, str, str]]:
    """(tag, basic action, name) of every row naming one attribute (no repeating-group x)."""
    rows = []
    for line in PROFILE.read_text().splitlines():
        if line.startswith("#") or line.startswith("tag\t") or not line.strip():
            continue
        tag, action, *_, name = line.split("\t")
        digits = tag.strip("()").replace(",", "")
        if "x" in digits.lower() or not all(c in "0123456789abcdefABCDEF" for c in digits):
            continue  # repeating groups and the private-attributes row (checked separately)
        rows.append((int(digits, 16), action, name))
    return rows


def test_a_deidentified_export_keeps_no_identifying_attribute_and_maps_uids_once(server, seeded, manifest, tmp_path):
    files = study_files(manifest, "A1")
    study_uid = files[0]["study_instance_uid"]
    out = tmp_path / "deid"
    identity = tmp_path / "keys" / "identity.json"

    async def steps(session):
        started = await ok(
            session,
            "start_dicom_export_job",
            datastore_id=seeded.datastore_id,
            data_access_role_arn=ROLE,
            output_s3_uri=f"file://{out}",
            study_instance_uid=study_uid,
            transfer_syntax="explicit_vr_little_endian",
            deidentify={},
            identity_map_uri=f"file://{identity}",
        )
        inside = await session.call_tool(
            "start_dicom_export_job",
            {
                "datastore_id": seeded.datastore_id,
                "data_access_role_arn": ROLE,
                "output_s3_uri": f"file://{out}",
                "study_instance_uid": study_uid,
                "deidentify": {},
                "identity_map_uri": f"file://{out}/identity.json",
            },
        )
        return await follow(session, seeded.datastore_id, started["job_id"]), inside

    ended, inside = call(server, steps, "--file-root", str(tmp_path))
    # The identity map never goes beside the de-identified files.
    assert tool_error(inside)["type"] == "validation_error"
    assert ended["job_status"] == "COMPLETED" and ended["counts"] == {"done": len(files)}, ended

    real = out.resolve()
    written = sorted(real.rglob("*.dcm"))
    assert len(written) == len(files)
    assert sorted(p.name for p in real.iterdir() if p.is_file()) == ["manifest.jsonl", "summary.json"]
    rows = profile_rows()
    originals = {f["sop_instance_uid"]: pydicom.dcmread(SAMPLES / f["path"]) for f in files}
    mapping = json.loads(identity.read_text())["uids"]
    new_studies, new_series = set(), {}
    for path in written:
        ds = pydicom.dcmread(path)
        sop = next(k for k, v in mapping.items() if v == ds.SOPInstanceUID)
        original = originals[sop]
        # Table-driven: every attribute the profile does not keep is gone, emptied or changed.
        for tag, action, name in rows:
            if action == "K" or tag not in original or tag >> 16 == 0x0002:
                continue
            before = original[tag].value
            if before in (None, "", b"", []):
                continue
            assert tag not in ds or ds[tag].value != before, (name, action, ds.get(tag))
        assert not [e for e in ds if e.tag.is_private]
        # Pixels and geometry as imported.
        assert ds.PixelData == original.PixelData
        for keyword in GEOMETRY:
            assert ds.get(keyword) == original.get(keyword), keyword
        # The layout follows the new UIDs, which the identity map pairs with the old ones.
        assert path.relative_to(real).parts == (ds.StudyInstanceUID, ds.SeriesInstanceUID, f"{ds.SOPInstanceUID}.dcm")
        assert mapping[original.StudyInstanceUID] == ds.StudyInstanceUID
        assert mapping[original.SeriesInstanceUID] == ds.SeriesInstanceUID
        new_studies.add(ds.StudyInstanceUID)
        new_series.setdefault(original.SeriesInstanceUID, set()).add(ds.SeriesInstanceUID)
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
    # One study stays one study; each series one series.
    assert len(new_studies) == 1 and study_uid not in new_studies
    assert all(len(v) == 1 for v in new_series.values())
    # Nothing identifying in the manifest either (it names the new UIDs' paths).
    text = (real / "manifest.jsonl").read_text()
    assert study_uid not in text and all(sop not in text for sop in originals)


# ---- resume after a restart ----------------------------------------------------------------------


@contextmanager
def slow_export_world(tmp_path: Path, name: str):
    """A local HealthImaging adding 150 ms per request, seeded with the samples; yields the seeded
    data store, its instance count, an export folder under the file root `tmp_path/files`, and the
    MCP server environment (one read at a time, so an export takes several seconds)."""
    from conftest import make_client, seed_datastore, stage_samples

    slow = local.start(s3_root=tmp_path / "s3", latency_ms=150)
    try:
        client = make_client(slow.endpoint_url)
        seeded = seed_datastore(client, stage_samples(slow.s3_root))
        total = len(search_all_instances(client, seeded.datastore_id))
        out = tmp_path / "files" / name
        out.parent.mkdir()
        yield seeded, total, out, mcp_env(slow.endpoint_url, HEALTHIMAGING_MCP_READ_CONCURRENCY="1")
    finally:
        slow.stop()


async def start_export_of_everything(session, seeded, out: Path) -> dict:
    return await ok(
        session,
        "start_dicom_export_job",
        datastore_id=seeded.datastore_id,
        data_access_role_arn=ROLE,
        output_s3_uri=f"file://{out}",
        submitted_after="2000-01-01T00:00:00Z",
    )


def test_an_export_interrupted_by_a_restart_resumes_without_duplicates_or_gaps(tmp_path):
    from conftest import kill_mcp_server

    with slow_export_world(tmp_path, "all") as (seeded, total, out, env):
        args = ("--file-root", str(tmp_path / "files"), "--state-dir", str(tmp_path / "state"))

        async def before_stop():
            async with mcp_session(env, *args) as (s, _):
                started = await start_export_of_everything(s, seeded, out)
                while True:
                    job = await ok(
                        s, "get_dicom_export_job", datastore_id=seeded.datastore_id, job_id=started["job_id"]
                    )
                    if job["progress"]["done"] >= 2:
                        break
                    await asyncio.sleep(0.05)
                # A crash: the server process is killed with the export running.
                kill_mcp_server(str(tmp_path / "state"))
                return started["job_id"]

        job_id = run_async(before_stop())
        assert job_id
        first = {p: p.stat().st_mtime_ns for p in out.resolve().rglob("*.dcm")}
        assert 2 <= len(first) < total, (len(first), total)

        async def after_restart():
            async with mcp_session(env, *args) as (s, _):
                return await follow(s, seeded.datastore_id, job_id)

        ended = run_async(after_restart())

    assert ended["job_status"] == "COMPLETED" and ended["counts"] == {"done": total}, ended
    real = out.resolve()
    written = sorted(real.rglob("*.dcm"))
    assert len(written) == total and not list(real.rglob("*.part"))
    # The instances written before the stop were kept (same SHA-256), not written again.
    assert all(p.stat().st_mtime_ns == first[p] for p in first)
    lines = manifest_lines((real / "manifest.jsonl").read_text())
    assert len(lines) == total and {line["destination"] for line in lines} == {
        f"file://{out}/{p.relative_to(real).as_posix()}" for p in written
    }
    for line in lines:
        body = Path(line["destination"][len("file://") :]).read_bytes()
        assert line["outcome"] == "done" and line["sha256"] == hashlib.sha256(body).hexdigest()


def search_all_instances(client, datastore_id: str) -> list[str]:
    """Every SOP Instance UID of the data store's image sets (boto3)."""
    from conftest import get_metadata, instances_of, search_all

    summaries, _ = search_all(client, datastore_id, page_size=50)
    return [sop for s in summaries for sop in instances_of(get_metadata(client, datastore_id, s["imageSetId"]))]


def test_cancel_job_stops_an_export_and_leaves_a_consistent_manifest(tmp_path):
    with slow_export_world(tmp_path, "cancelled") as (seeded, total, out, env):

        async def steps():
            async with mcp_session(env, "--file-root", str(tmp_path / "files")) as (s, _):
                started = await start_export_of_everything(s, seeded, out)
                while (await ok(s, "get_job", job_id=started["job_id"]))["progress"]["done"] < 1:
                    await asyncio.sleep(0.02)
                await ok(s, "cancel_job", job_id=started["job_id"])
                return await follow(s, seeded.datastore_id, started["job_id"])

        ended = run_async(steps())

    assert ended["job_status"] == "CANCELLED", ended
    real = out.resolve()
    written = {p.stem: p for p in real.rglob("*.dcm")}
    assert not list(real.rglob("*.part"))
    # The manifest names every instance the job reached: done ones are on disk whole, the rest
    # never started and left no file; nothing new started after the cancel.
    lines = manifest_lines((real / "manifest.jsonl").read_text())
    done = {Path(line["destination"]).stem: line for line in lines if line["outcome"] == "done"}
    assert 1 <= len(done) < total, (len(done), total)
    assert set(written) == set(done)
    for sop, line in done.items():
        assert hashlib.sha256(written[sop].read_bytes()).hexdigest() == line["sha256"]
    assert all(line["outcome"] in {"done", "not_attempted"} for line in lines), lines
    assert sum(ended["counts"].values()) == len(lines) and ended["counts"]["done"] == len(done)
