"""The benchmark's data, in one local HealthImaging, and the independent checks (boto3) of what a
run did.

- ``search``: synthetic image sets (``seed_synthetic``), enough for the search pages, one study
  each, ``studies`` image sets per patient: patient ``PAT0000000`` has ``studies`` studies.
- ``delete``: synthetic, ``delete`` image sets per patient, one patient per timed run of each
  server (a delete run needs image sets nobody deleted yet).
- ``imported``: a regular DICOM import job of files written here: one series of ``instances``
  instances (one image set) and a study of ``update`` one-instance series (one image set each).
"""

from __future__ import annotations

import gzip
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_env import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY
from dicom_files import UID_ROOT, Study, write_series

PATIENT = "PAT0000000"
"""The synthetic fixture's first patient ID."""


def boto3_client(endpoint_url: str):
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "medical-imaging",
        region_name=REGION,
        endpoint_url=endpoint_url,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=Config(
            retries={"mode": "adaptive", "total_max_attempts": 20}, max_pool_connections=16, inject_host_prefix=False
        ),
    )


def search_all(client, datastore_id: str, criteria: dict | None = None) -> list[dict]:
    params: dict[str, Any] = {"datastoreId": datastore_id, "PaginationConfig": {"PageSize": 50}}
    if criteria:
        params["searchCriteria"] = criteria
    pages = client.get_paginator("search_image_sets").paginate(**params)
    return [s for page in pages for s in page["imageSetsMetadataSummaries"]]


def by_patient(patient_id: str) -> dict:
    return {"filters": [{"operator": "EQUAL", "values": [{"DICOMPatientId": patient_id}]}]}


def metadata(client, datastore_id: str, image_set_id: str) -> dict:
    blob = client.get_image_set_metadata(datastoreId=datastore_id, imageSetId=image_set_id)["imageSetMetadataBlob"]
    return json.loads(gzip.decompress(blob.read()))


@dataclass
class Sizes:
    runs: int
    write_runs: int
    get_datastore: int
    pages: int
    page_size: int
    instances: int
    studies: int
    update: int
    delete: int
    quota_scale: float
    noop_calls: int


FULL = Sizes(
    runs=5,
    write_runs=3,
    get_datastore=100,
    pages=10,
    page_size=50,
    instances=2000,
    studies=40,
    update=60,
    delete=200,
    quota_scale=40,
    noop_calls=100,
)
QUICK = Sizes(
    runs=2,
    write_runs=1,
    get_datastore=20,
    pages=3,
    page_size=50,
    instances=200,
    studies=10,
    update=12,
    delete=30,
    quota_scale=100,
    noop_calls=20,
)


@dataclass
class Fixtures:
    sizes: Sizes
    search_ds: str
    search_ids: set[str]
    patient_studies: set[str]
    """Study UIDs of PATIENT in the search data store."""
    delete_ds: str
    delete_patients: list[str]
    imported_ds: str
    big_image_set: str
    big_series: str
    """The big image set's one series (its instances in order: instance number = position)."""
    update_study: str
    update_ids: list[str]
    _next_patient: int = field(default=0)

    def take_delete_patient(self) -> str:
        """A patient of the delete data store no run has used yet."""
        patient = self.delete_patients[self._next_patient]
        self._next_patient += 1
        return patient


def seed_synthetic(data_dir: Path, sizes: Sizes, servers: int) -> tuple[dict, dict]:
    """The two synthetic data stores, written before the local HealthImaging starts on data_dir."""
    from awslabs.healthimaging_mcp_server.local import LocalHealthImaging

    search = LocalHealthImaging.seed_synthetic(
        data_dir,
        max(sizes.pages * sizes.page_size + sizes.page_size, sizes.studies),
        frame_bytes=64,
        sets_per_patient=sizes.studies,
    )
    delete = LocalHealthImaging.seed_synthetic(
        data_dir, sizes.delete * sizes.write_runs * servers, frame_bytes=64, sets_per_patient=sizes.delete
    )
    return search, delete


def _wait(read, done, what: str, timeout: float = 600.0):
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}: {value!r}")
        time.sleep(0.2)


def import_dicom(client, s3_root: Path, sizes: Sizes) -> tuple[str, str, str, str, list[str]]:
    """Writes and imports the DICOM fixture; returns (data store, big image set, its series UID,
    update study UID, the update study's image sets)."""
    big = Study("BENCH-BIG", "BENCH^BIG", f"{UID_ROOT}.1", "ACCBIG")
    upd = Study("BENCH-UPD", "BENCH^UPD", f"{UID_ROOT}.2", "ACCUPD")
    folder = s3_root / "bench" / "in"
    big_series = write_series(folder / "big", big, 1, sizes.instances)
    for n in range(1, sizes.update + 1):
        write_series(folder / "update", upd, n, 1)
    ds = client.create_datastore(datastoreName="bench-imported", clientToken=uuid.uuid4().hex)["datastoreId"]
    _wait(
        lambda: client.get_datastore(datastoreId=ds)["datastoreProperties"]["datastoreStatus"],
        lambda s: s == "ACTIVE",
        "the data store",
    )
    job = client.start_dicom_import_job(
        datastoreId=ds,
        dataAccessRoleArn="arn:aws:iam::123456789012:role/Import",
        clientToken=uuid.uuid4().hex,
        inputS3Uri="s3://bench/in/",
        outputS3Uri="s3://bench/out/",
    )["jobId"]
    status = _wait(
        lambda: client.get_dicom_import_job(datastoreId=ds, jobId=job)["jobProperties"]["jobStatus"],
        lambda s: s in ("COMPLETED", "FAILED"),
        "the import job",
    )
    if status != "COMPLETED":
        raise RuntimeError(f"the fixture's import job ended {status}")
    sets = search_all(client, ds)
    (big_set,) = [s["imageSetId"] for s in sets if s["DICOMTags"].get("DICOMSeriesInstanceUID") == big_series]
    update_ids = [s["imageSetId"] for s in sets if s["DICOMTags"]["DICOMStudyInstanceUID"] == upd.study_uid]
    if len(update_ids) != sizes.update:
        raise RuntimeError(f"expected {sizes.update} image sets in the update study, found {len(update_ids)}")
    return ds, big_set, big_series, upd.study_uid, update_ids


def build(client, s3_root: Path, sizes: Sizes, synthetic: tuple[dict, dict], servers: int) -> Fixtures:
    search, delete = synthetic
    search_ids = {s["imageSetId"] for s in search_all(client, search["datastore_id"])}
    studies = {
        s["DICOMTags"]["DICOMStudyInstanceUID"] for s in search_all(client, search["datastore_id"], by_patient(PATIENT))
    }
    if len(studies) != sizes.studies:
        raise RuntimeError(f"expected {sizes.studies} studies of {PATIENT}, found {len(studies)}")
    imported = import_dicom(client, s3_root, sizes)
    patients = [f"PAT{n:07d}" for n in range(sizes.write_runs * servers)]
    return Fixtures(sizes, search["datastore_id"], search_ids, studies, delete["datastore_id"], patients, *imported)


# ---- independent checks ------------------------------------------------------------------------


def remaining(client, datastore_id: str, patient_id: str) -> int:
    """How many image sets of the patient are still there."""
    return len(search_all(client, datastore_id, by_patient(patient_id)))


def count_with_description(client, datastore_id: str, image_set_ids: list[str], description: str) -> int:
    """How many of the image sets now carry this StudyDescription (their latest metadata)."""

    def has(image_set_id: str) -> bool:
        doc = metadata(client, datastore_id, image_set_id)
        return doc["Study"]["DICOM"].get("StudyDescription") == description

    with ThreadPoolExecutor(8) as pool:
        return sum(pool.map(has, image_set_ids))
