"""`healthimaging-local` as a user runs it: a subprocess that prints its endpoint URL first,
serves boto3, keeps state in --data-dir across restarts and stops cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from awslabs.healthimaging_mcp_server import __version__, local
from botocore.exceptions import ClientError
from conftest import error_of, get_metadata, instances_of, make_client, search_all

MODULE = "awslabs.healthimaging_mcp_server.local_cli"
URL_RE = re.compile(r"^http://127\.0\.0\.1:(\d+)$")
SEEDED_RE = re.compile(r"^sample datastore ([0-9a-z]{32}) with (\d+) image sets$")
STARTUP_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


def _console_script() -> str | None:
    """The installed `healthimaging-local`, looked up next to this interpreter first."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return shutil.which("healthimaging-local", path=path)


SCRIPT = _console_script()
COMMANDS = [
    pytest.param([sys.executable, "-m", MODULE], id="python-m"),
    pytest.param(
        [SCRIPT],
        id="console-script",
        marks=pytest.mark.skipif(SCRIPT is None, reason="healthimaging-local is not installed"),
    ),
]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEALTHIMAGING_LOCAL_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Cli:
    """One `healthimaging-local` process; stdout lines are collected by a reader thread."""

    def __init__(self, command: list[str], *args: str, stderr_path: Path):
        self._stderr = stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [*command, *args],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=_env(),
        )
        self.stderr_path = stderr_path
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def line(self, timeout: float = STARTUP_TIMEOUT) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output within {timeout}s; stderr: {self.stderr()}") from None
        if line is None:
            raise AssertionError(f"exited ({self.proc.wait()}) early; stderr: {self.stderr()}")
        return line

    def stderr(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def stop(self, sig: signal.Signals) -> tuple[int, float]:
        """Sends `sig`; returns the exit code and how long the process took to exit."""
        started = time.monotonic()
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {STOP_TIMEOUT}s after {sig.name}") from None
        return code, time.monotonic() - started

    def __enter__(self) -> Cli:
        return self

    def __exit__(self, *exc) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()


def start_cli(command: list[str], tmp_path: Path, *args: str) -> tuple[Cli, str]:
    """Starts the CLI and returns it with the endpoint URL read from its first line."""
    n = len(list(tmp_path.glob("stderr-*.txt")))
    cli = Cli(command, *args, stderr_path=tmp_path / f"stderr-{n}.txt")
    url = cli.line()
    assert URL_RE.match(url), f"first line is not the endpoint URL: {url!r}"
    assert int(URL_RE.match(url).group(1)) > 0
    return cli, url


def info_lines(cli: Cli) -> list[str]:
    """The lines after the URL, up to the final 'press Ctrl-C to stop'."""
    lines = []
    while (line := cli.line()) != "press Ctrl-C to stop":
        lines.append(line)
    return lines


def seeded_datastore(client) -> tuple[str, list[dict]]:
    """The only data store on the server (it must be the seeded one) and its image sets."""
    stores = client.list_datastores()["datastoreSummaries"]
    assert [(d["datastoreName"], d["datastoreStatus"]) for d in stores] == [(local.SEED_DATASTORE_NAME, "ACTIVE")]
    image_sets, _ = search_all(client, stores[0]["datastoreId"], page_size=50)
    return stores[0]["datastoreId"], image_sets


def _run(command: list[str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*command, *args], capture_output=True, text=True, env=_env(), timeout=30)


# ---- seeding, persistence and clean stops ------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_seed_persists_across_restarts(command, tmp_path, manifest):
    data_dir = tmp_path / "state"
    args = ("--seed", "--port", "0", "--data-dir", str(data_dir))
    expected_series = {f["series_instance_uid"] for f in manifest["files"]}

    cli, url = start_cli(command, tmp_path, *args)
    with cli:
        info = info_lines(cli)
        assert f"region us-east-1; S3 stand-in folder {data_dir / 's3'}" in info
        (seeded,) = [m for m in map(SEEDED_RE.match, info) if m]
        client = make_client(url)
        datastore_id, image_sets = seeded_datastore(client)
        assert seeded.groups() == (datastore_id, "4")
        assert {s["DICOMTags"]["DICOMSeriesInstanceUID"] for s in image_sets} == expected_series

        # A change made before the restart has to survive it.
        target = image_sets[0]["imageSetId"]
        update = {"SchemaVersion": "1.1", "Patient": {"DICOM": {"PatientName": "RESTART^TEST"}}}
        client.update_image_set_metadata(
            datastoreId=datastore_id,
            imageSetId=target,
            latestVersionId="1",
            updateImageSetMetadataUpdates={"DICOMUpdates": {"updatableAttributes": json.dumps(update).encode()}},
        )
        code, elapsed = cli.stop(signal.SIGTERM)
        assert code == 0, cli.stderr()
        assert elapsed < STOP_TIMEOUT

    cli, url = start_cli(command, tmp_path, *args)
    with cli:
        info = info_lines(cli)
        (seeded,) = [m for m in map(SEEDED_RE.match, info) if m]
        client = make_client(url)
        again_id, again = seeded_datastore(client)  # still exactly one data store
        assert again_id == datastore_id
        assert seeded.groups() == (datastore_id, "4")
        assert {s["imageSetId"] for s in again} == {s["imageSetId"] for s in image_sets}

        props = client.get_image_set(datastoreId=datastore_id, imageSetId=target)
        assert props["versionId"] == "2"
        doc = get_metadata(client, datastore_id, target)
        assert doc["Patient"]["DICOM"]["PatientName"] == "RESTART^TEST"

        # Frames are stored in the data dir too: every frame of this image set is intact.
        by_sop = {f["sop_instance_uid"]: f for f in manifest["files"]}
        for sop, inst in instances_of(doc).items():
            for got, want in zip(inst["ImageFrames"], by_sop[sop]["frames"], strict=True):
                blob = client.get_image_frame(
                    datastoreId=datastore_id,
                    imageSetId=target,
                    imageFrameInformation={"imageFrameId": got["ID"]},
                )["imageFrameBlob"].read()
                assert hashlib.sha256(blob).hexdigest() == want["sha256"]

        code, elapsed = cli.stop(signal.SIGINT)
        assert code == 0, cli.stderr()
        assert elapsed < STOP_TIMEOUT


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_signal_stops_with_exit_code_zero(sig, tmp_path):
    cli, url = start_cli([sys.executable, "-m", MODULE], tmp_path, "--port", "0")
    with cli:
        info_lines(cli)
        assert make_client(url).list_datastores()["datastoreSummaries"] == []
        code, elapsed = cli.stop(sig)
        assert code == 0, cli.stderr()
        assert elapsed < STOP_TIMEOUT
        assert "Traceback" not in cli.stderr()


def test_write_delay_options_reach_the_server(tmp_path):
    # A delay no test waits out: the deleted image set is certainly still LOCKED when read.
    cli, url = start_cli([sys.executable, "-m", MODULE], tmp_path, "--port=0", "--seed", "--write-delay=600000")
    with cli:
        info_lines(cli)
        client = make_client(url)
        datastore_id, image_sets = seeded_datastore(client)
        target = image_sets[0]["imageSetId"]
        out = client.delete_image_set(datastoreId=datastore_id, imageSetId=target)
        assert (out["imageSetState"], out["imageSetWorkflowStatus"]) == ("LOCKED", "DELETING")
        during = client.get_image_set(datastoreId=datastore_id, imageSetId=target)
        assert (during["imageSetState"], during["imageSetWorkflowStatus"]) == ("LOCKED", "DELETING")


def test_credentials_and_region_options(tmp_path):
    cli, url = start_cli(
        [sys.executable, "-m", MODULE],
        tmp_path,
        "--port=0",
        "--access-key-id=cli-key",
        "--secret-access-key=cli-secret",
        "--region=eu-west-1",
    )
    with cli:
        assert "region eu-west-1; " in info_lines(cli)[0]
        good = make_client(url, access_key_id="cli-key", secret_access_key="cli-secret", region="eu-west-1")
        created = good.create_datastore(datastoreName="cli-options", clientToken="t1")
        props = good.get_datastore(datastoreId=created["datastoreId"])["datastoreProperties"]
        assert props["datastoreArn"].startswith("arn:aws:medical-imaging:eu-west-1:")

        for wrong, code in [
            ({"secret_access_key": "test", "access_key_id": "cli-key"}, "InvalidSignature"),
            ({"access_key_id": "test", "secret_access_key": "test"}, "UnrecognizedClient"),
        ]:
            with pytest.raises(ClientError) as info:
                make_client(url, region="eu-west-1", **wrong).list_datastores()
            assert error_of(info.value) == (f"{code}Exception", 403)
        assert cli.stop(signal.SIGTERM)[0] == 0


# ---- one-shot options --------------------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_version(command):
    done = _run(command, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"healthimaging-local {__version__}"


@pytest.mark.parametrize("command", COMMANDS)
def test_help(command):
    done = _run(command, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: healthimaging-local")
    for option in (
        "--port",
        "--s3-root",
        "--data-dir",
        "--seed",
        "--access-key-id",
        "--secret-access-key",
        "--region",
        "--throttle-rate",
        "--version",
    ):
        assert option in done.stdout


def test_rejects_throttle_rate_out_of_range():
    done = _run([sys.executable, "-m", MODULE], "--port", "0", "--throttle-rate", "1.5")
    assert done.returncode == 2
    assert "--throttle-rate must be between 0 and 1" in done.stderr
    assert done.stdout == ""
