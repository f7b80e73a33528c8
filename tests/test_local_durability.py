"""The local HealthImaging keeps every acknowledged write across SIGKILL: the `healthimaging-local`
CLI is killed at random points of a loop of writes, restarted on the same data folder, and its state
is checked with boto3 against what it acknowledged. Also: erased frames leave the disk, the data
folder lock, and import jobs cut off by a crash."""

from __future__ import annotations

import json
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from botocore.exceptions import BotoCoreError, ClientError
from conftest import ROLE_ARN, error_of, get_metadata, instances_of, make_client, search_all, stage_samples

MODULE = "awslabs.healthimaging_mcp_server.local_cli"
URL_RE = re.compile(r"^http://127\.0\.0\.1:\d+$")
ROUNDS = 20
STARTUP_TIMEOUT = 20.0


class Server:
    """One `healthimaging-local` process on a data folder."""

    def __init__(self, data: Path, s3: Path, log: Path):
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", MODULE, "--data-dir", str(data), "--s3-root", str(s3)],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                lines.put(line.rstrip("\n"))
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        first = lines.get(timeout=STARTUP_TIMEOUT)
        assert first is not None and URL_RE.match(first), f"no endpoint URL: {first!r}; log: {log.read_text()}"
        self.url = first
        # No retries: a request cut off by the kill must surface as unacknowledged.
        self.client = make_client(first, retries={"total_max_attempts": 1}, read_timeout=10)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._log.close()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=10)
        self._log.close()
        return code


def attributes_update(description: str) -> dict:
    blob = json.dumps({"SchemaVersion": 1.1, "Study": {"DICOM": {"StudyDescription": description}}})
    return {"DICOMUpdates": {"updatableAttributes": blob.encode()}}


def description_of(client, ds: str, image_set: str, version: str) -> str | None:
    return get_metadata(client, ds, image_set, version)["Study"]["DICOM"].get("StudyDescription")


@dataclass
class Oracle:
    """What the server acknowledged."""

    datastore: str
    datastores: set[str] = field(default_factory=set)
    live: dict[str, str] = field(default_factory=dict)
    """image set -> latest version acknowledged."""
    deleted: set[str] = field(default_factory=set)
    contents: dict[tuple[str, str], str | None] = field(default_factory=dict)
    """(image set, version) -> StudyDescription that version was acknowledged with."""
    tags: dict[str, str] = field(default_factory=dict)
    pending_tag: tuple[str, str] | None = None
    """The tag write in flight, if any (it may or may not have landed)."""


def write_once(client, oracle: Oracle, n: int, rng: random.Random) -> str | None:
    """One random write. Returns the image set it touched (for the uncertain in-flight case)."""
    ds = oracle.datastore
    op = rng.choice(["update", "update", "copy", "delete", "tag", "datastore"])
    if op == "datastore" and len(oracle.datastores) >= 4:
        op = "tag"
    if op == "delete" and len(oracle.live) <= 3:
        op = "copy"
    if op == "update":
        target = rng.choice(sorted(oracle.live))
        desc = f"write-{n}"
        r = client.update_image_set_metadata(
            datastoreId=ds,
            imageSetId=target,
            latestVersionId=oracle.live[target],
            updateImageSetMetadataUpdates=attributes_update(desc),
        )
        oracle.live[target] = r["latestVersionId"]
        oracle.contents[(target, r["latestVersionId"])] = desc
        return None
    if op == "copy":
        source = rng.choice(sorted(oracle.live))
        r = client.copy_image_set(
            datastoreId=ds,
            sourceImageSetId=source,
            copyImageSetInformation={"sourceImageSet": {"latestVersionId": oracle.live[source]}},
        )
        dest = r["destinationImageSetProperties"]
        oracle.live[dest["imageSetId"]] = dest["latestVersionId"]
        oracle.contents[(dest["imageSetId"], dest["latestVersionId"])] = oracle.contents[(source, oracle.live[source])]
        return None
    if op == "delete":
        target = rng.choice(sorted(oracle.live))
        client.delete_image_set(datastoreId=ds, imageSetId=target)
        del oracle.live[target]
        oracle.deleted.add(target)
        return None
    if op == "tag":
        arn = client.get_datastore(datastoreId=ds)["datastoreProperties"]["datastoreArn"]
        key, value = f"key-{chr(97 + n % 26)}", f"v{n}"
        oracle.pending_tag = (key, value)
        client.tag_resource(resourceArn=arn, tags={key: value})
        oracle.pending_tag = None
        oracle.tags[key] = value
        return None
    r = client.create_datastore(datastoreName=f"durable-{n}", clientToken=uuid.uuid4().hex)
    oracle.datastores.add(r["datastoreId"])
    return None


def in_flight_target(client, oracle: Oracle) -> None:
    """After a kill, the write in flight may or may not have happened: adopt what the server
    says for every image set whose latest version is newer than acknowledged (checked below to
    never be older), and drop deleted-or-not uncertainty by reading the truth."""
    ds = oracle.datastore
    for image_set in list(oracle.live):
        try:
            latest = client.get_image_set(datastoreId=ds, imageSetId=image_set)["versionId"]
        except ClientError as e:
            # Only a delete in flight can remove an image set; it must be the uncertain one.
            assert error_of(e)[0] == "ResourceNotFoundException"
            oracle.deleted.add(image_set)
            del oracle.live[image_set]
            continue
        assert int(latest) >= int(oracle.live[image_set]), f"{image_set} went back to version {latest}"
        if latest != oracle.live[image_set]:
            oracle.contents[(image_set, latest)] = description_of(client, ds, image_set, latest)
            oracle.live[image_set] = latest
    if oracle.pending_tag:
        key, value = oracle.pending_tag
        arn = client.get_datastore(datastoreId=ds)["datastoreProperties"]["datastoreArn"]
        if client.list_tags_for_resource(resourceArn=arn)["tags"].get(key) == value:
            oracle.tags[key] = value
        oracle.pending_tag = None
    summaries, _ = search_all(client, ds, page_size=50)
    for s in summaries:
        if s["imageSetId"] not in oracle.live:
            # A copy in flight: it may exist; it must be new (never a deleted one coming back).
            assert s["imageSetId"] not in oracle.deleted, f"deleted image set {s['imageSetId']} came back"
            v = str(s["version"])
            oracle.live[s["imageSetId"]] = v
            oracle.contents[(s["imageSetId"], v)] = description_of(client, ds, s["imageSetId"], v)


def check(client, oracle: Oracle) -> int:
    """Everything acknowledged is there, nothing deleted came back, no version changed content."""
    ds = oracle.datastore
    ids = {d["datastoreId"] for d in client.list_datastores()["datastoreSummaries"]}
    assert oracle.datastores <= ids, f"lost data stores: {oracle.datastores - ids}"
    summaries, _ = search_all(client, ds, page_size=50)
    found = {s["imageSetId"] for s in summaries}
    assert not (found & oracle.deleted), f"deleted image sets came back: {found & oracle.deleted}"
    assert set(oracle.live) <= found, f"lost image sets: {set(oracle.live) - found}"
    checked = 0
    for (image_set, version), desc in oracle.contents.items():
        if image_set in oracle.live:
            assert description_of(client, ds, image_set, version) == desc, (image_set, version)
            checked += 1
    arn = client.get_datastore(datastoreId=ds)["datastoreProperties"]["datastoreArn"]
    tags = client.list_tags_for_resource(resourceArn=arn)["tags"]
    assert {k: tags.get(k) for k in oracle.tags} == oracle.tags
    return checked


def test_acknowledged_writes_survive_sigkill_at_random_points(tmp_path: Path):
    data, s3 = tmp_path / "data", tmp_path / "s3"
    log = tmp_path / "server.log"
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    server = Server(data, s3, log)
    c = server.client
    ds = c.create_datastore(datastoreName="durability", clientToken=uuid.uuid4().hex)["datastoreId"]
    job = c.start_dicom_import_job(
        datastoreId=ds,
        dataAccessRoleArn=ROLE_ARN,
        clientToken=uuid.uuid4().hex,
        inputS3Uri=stage_samples(s3),
        outputS3Uri="s3://staged-samples/output/",
    )
    while c.get_dicom_import_job(datastoreId=ds, jobId=job["jobId"])["jobProperties"]["jobStatus"] != "COMPLETED":
        pass
    oracle = Oracle(datastore=ds, datastores={ds})
    for s in search_all(c, ds, page_size=50)[0]:
        v = str(s["version"])
        oracle.live[s["imageSetId"]] = v
        oracle.contents[(s["imageSetId"], v)] = description_of(c, ds, s["imageSetId"], v)
    acknowledged = interrupted = 0
    n = 0
    for _ in range(ROUNDS):
        killer = threading.Timer(rng.uniform(0.02, 0.25), server.kill)
        killer.start()
        try:
            while True:
                n += 1
                write_once(server.client, oracle, n, rng)
                acknowledged += 1
        except (BotoCoreError, ClientError) as e:
            if isinstance(e, ClientError):
                # The only server answer a kill may produce is none at all.
                raise
            interrupted += 1
        killer.join()
        server.kill()
        server = Server(data, s3, log)
        in_flight_target(server.client, oracle)
        check(server.client, oracle)
    checked = check(server.client, oracle)
    assert server.stop() == 0
    assert interrupted == ROUNDS
    assert acknowledged > ROUNDS, acknowledged
    assert checked > 0 and oracle.deleted, (checked, oracle.deleted)
    # A clean stop after all this still leaves a folder that opens with the same state.
    server = Server(data, s3, log)
    check(server.client, oracle)
    assert server.stop() == 0


def frame_files(data: Path) -> set[str]:
    return {p.name for p in (data / "frames").iterdir()}


def frames_of(client, ds: str, image_set: str) -> set[str]:
    doc = get_metadata(client, ds, image_set)
    return {f["ID"] for inst in instances_of(doc).values() for f in inst["ImageFrames"]}


def run_import(client, ds: str, input_uri: str) -> str:
    job = client.start_dicom_import_job(
        datastoreId=ds,
        dataAccessRoleArn=ROLE_ARN,
        clientToken=uuid.uuid4().hex,
        inputS3Uri=input_uri,
        outputS3Uri="s3://staged-samples/output/",
    )
    while True:
        p = client.get_dicom_import_job(datastoreId=ds, jobId=job["jobId"])["jobProperties"]
        if p["jobStatus"] in ("COMPLETED", "FAILED"):
            assert p["jobStatus"] == "COMPLETED", p
            return job["jobId"]


def test_frames_of_an_erased_patient_leave_the_disk(tmp_path: Path):
    data, s3 = tmp_path / "data", tmp_path / "s3"
    server = Server(data, s3, tmp_path / "server.log")
    c = server.client
    ds = c.create_datastore(datastoreName="erase", clientToken=uuid.uuid4().hex)["datastoreId"]
    run_import(c, ds, stage_samples(s3))
    sets = [s["imageSetId"] for s in search_all(c, ds, page_size=50)[0]]
    frames = {s: frames_of(c, ds, s) for s in sets}
    patients = {get_metadata(c, ds, s)["Patient"]["DICOM"]["PatientID"] for s in sets}
    assert set().union(*frames.values()) <= frame_files(data)
    # A copy shares its source's frames: they stay while the copy references them.
    first = sets[0]
    copy = c.copy_image_set(
        datastoreId=ds,
        sourceImageSetId=first,
        copyImageSetInformation={"sourceImageSet": {"latestVersionId": "1"}},
    )["destinationImageSetProperties"]["imageSetId"]
    assert frames_of(c, ds, copy) == frames[first]
    c.delete_image_set(datastoreId=ds, imageSetId=first)
    assert frames[first] <= frame_files(data)
    c.delete_image_set(datastoreId=ds, imageSetId=copy)
    assert not (frames[first] & frame_files(data))
    for s in sets[1:]:
        c.delete_image_set(datastoreId=ds, imageSetId=s)
    assert frame_files(data) == set()
    c.delete_datastore(datastoreId=ds)
    # Nothing of the patient is left on disk after a restart either, and no state brings it back.
    assert server.stop() == 0
    server = Server(data, s3, tmp_path / "server.log")
    assert frame_files(data) == set()
    with pytest.raises(ClientError) as e:
        server.client.get_image_set(datastoreId=ds, imageSetId=sets[1])
    assert error_of(e.value)[0] == "ResourceNotFoundException"
    blob = b"".join(p.read_bytes() for p in data.rglob("*") if p.is_file())
    for s in sets:
        assert s.encode() not in blob, f"image set {s} is still named in the data folder"
    for p in patients:
        assert p.encode() not in blob, f"patient {p} is still in the data folder"
    server.stop()


def test_second_process_on_the_same_data_folder_is_refused(tmp_path: Path):
    data, s3 = tmp_path / "data", tmp_path / "s3"
    first = Server(data, s3, tmp_path / "first.log")
    second = subprocess.run(
        [sys.executable, "-m", MODULE, "--data-dir", str(data), "--s3-root", str(s3)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert second.returncode == 1
    assert f"process {first.proc.pid}" in second.stderr, second.stderr
    assert "in use" in second.stderr
    # A lock left by a killed process is taken over.
    first.kill()
    assert (data / "LOCK").read_text().strip() == str(first.proc.pid)
    third = Server(data, s3, tmp_path / "third.log")
    assert (data / "LOCK").read_text().strip() == str(third.proc.pid)
    assert third.stop() == 0


def test_import_cut_off_by_a_crash_is_failed_after_restart(tmp_path: Path):
    data, s3 = tmp_path / "data", tmp_path / "s3"
    # Enough files that the job is still running when the process is killed right after submit.
    stage_samples(s3, prefix="seed")
    for i in range(30):
        shutil.copytree(s3 / "staged-samples" / "seed", s3 / "big" / "in" / f"copy{i}")
    server = Server(data, s3, tmp_path / "server.log")
    c = server.client
    ds = c.create_datastore(datastoreName="cut", clientToken=uuid.uuid4().hex)["datastoreId"]
    token = uuid.uuid4().hex
    params = {
        "datastoreId": ds,
        "dataAccessRoleArn": ROLE_ARN,
        "clientToken": token,
        "inputS3Uri": "s3://big/in/",
        "outputS3Uri": "s3://big/out/",
    }
    job = c.start_dicom_import_job(**params)
    server.kill()
    assert job["jobStatus"] in ("SUBMITTED", "IN_PROGRESS")
    server = Server(data, s3, tmp_path / "server.log")
    props = server.client.get_dicom_import_job(datastoreId=ds, jobId=job["jobId"])["jobProperties"]
    assert props["jobStatus"] == "FAILED", props
    assert "interrupted" in props["message"]
    # Its client token names the failed job, not a job still in progress.
    again = server.client.start_dicom_import_job(**params)
    assert (again["jobId"], again["jobStatus"]) == (job["jobId"], "FAILED")
    # Every image set that exists has every frame it references.
    for s in search_all(server.client, ds, page_size=50)[0]:
        assert frames_of(server.client, ds, s["imageSetId"]) <= frame_files(data)
    assert server.stop() == 0
