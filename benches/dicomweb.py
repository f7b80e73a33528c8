"""Benchmark: the dicomweb tools against the local HealthImaging (run by hand, not in CI).

1. Upload of N small files (default 200, copies of a bundled CT slice with new UIDs, one
   series) by ``store_dicom_files`` (STOW-RS), versus an import job of the same files
   (StartDICOMImportJob, polled until COMPLETED).
2. Retrieval of a series of M instances (default 300) as Part-10 files by
   ``retrieve_dicom_instances``.

Each figure is printed beside the floor HealthImaging's published rate sets: GetDICOMInstance at
50 TPS with a burst of 100 gives (M - 100) / 50 s for M instances; STOW-RS and the import job
have no published per-file rate (StartDICOMImportJob is 0.25 TPS: one call). The engine's
limiter applies AWS's rates only against AWS; set HEALTHIMAGING_MCP_RATE_GET_DICOM_INSTANCE=50:100
to pace the local run as AWS would (``--aws-rates``).

    python benches/dicomweb.py
    python benches/dicomweb.py --files 200 --instances 300 --aws-rates
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path


def make_files(folder: Path, count: int) -> list[Path]:
    import pydicom
    from awslabs.healthimaging_mcp_server import local
    from pydicom.uid import generate_uid

    source = sorted((local.SAMPLES_DIR / "HI-PAT-A" / "A1" / "S01_CT").glob("*.dcm"))[0]
    study, series = generate_uid(), generate_uid()
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        ds = pydicom.dcmread(source)
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
        ds.PatientID = "BENCH-" + study[-8:]
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.InstanceNumber = i + 1
        path = folder / f"IM{i + 1:05d}.dcm"
        ds.save_as(path)
        out.append(path)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=200)
    p.add_argument("--instances", type=int, default=300)
    p.add_argument("--aws-rates", action="store_true")
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-dicomweb-"))
    os.environ.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION="us-east-1",
        AWS_DISABLE_HOST_PREFIX_INJECTION="true",
        HEALTHIMAGING_MCP_FILE_ROOTS=str(work),
    )
    if args.aws_rates:
        os.environ["HEALTHIMAGING_MCP_RATE_GET_DICOM_INSTANCE"] = "50:100"
    import boto3
    from awslabs.healthimaging_mcp_server import engine, local

    server = local.start(data_dir=work / "data", s3_root=work / "s3")
    os.environ["AWS_ENDPOINT_URL_MEDICAL_IMAGING"] = server.endpoint_url
    hi = boto3.client("medical-imaging", endpoint_url=server.endpoint_url, region_name="us-east-1")

    def new_datastore(name: str) -> str:
        ds = hi.create_datastore(datastoreName=name)["datastoreId"]
        while hi.get_datastore(datastoreId=ds)["datastoreProperties"]["datastoreStatus"] != "ACTIVE":
            time.sleep(0.05)
        return ds

    results = {}
    try:
        files = make_files(work / "upload", args.files)
        ds = new_datastore("bench-stow")
        t0 = time.perf_counter()
        out = asyncio.run(engine.store_dicom_files(datastore_id=ds, paths=["upload"]))
        stored = out["stored"] if isinstance(out, dict) else out.stored
        results["store_dicom_files_s"] = time.perf_counter() - t0
        results["stored"] = stored

        bucket = work / "s3" / "bench" / "in"
        bucket.mkdir(parents=True)
        for f in files:
            shutil.copy(f, bucket / f.name)
        ds2 = new_datastore("bench-import")
        t0 = time.perf_counter()
        job = hi.start_dicom_import_job(
            datastoreId=ds2,
            dataAccessRoleArn="arn:aws:iam::123456789012:role/Import",
            inputS3Uri="s3://bench/in/",
            outputS3Uri="s3://bench/out/",
        )["jobId"]
        while True:
            status = hi.get_dicom_import_job(datastoreId=ds2, jobId=job)["jobProperties"]["jobStatus"]
            if status in ("COMPLETED", "FAILED"):
                break
            time.sleep(0.05)
        results["import_job_s"] = time.perf_counter() - t0
        results["import_status"] = status

        series_files = make_files(work / "series", args.instances)
        ds3 = new_datastore("bench-retrieve")
        asyncio.run(engine.store_dicom_files(datastore_id=ds3, paths=["series"]))
        import pydicom

        first = pydicom.dcmread(series_files[0])
        t0 = time.perf_counter()
        got = asyncio.run(
            engine.retrieve_dicom_instances(
                datastore_id=ds3,
                study_instance_uid=str(first.StudyInstanceUID),
                series_instance_uid=str(first.SeriesInstanceUID),
                folder="retrieved",
            )
        )
        results["retrieve_series_s"] = time.perf_counter() - t0
        results["retrieved"] = got["written"] if isinstance(got, dict) else got.written
        results["retrieve_floor_at_aws_rate_s"] = max(0, args.instances - 100) / 50
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
