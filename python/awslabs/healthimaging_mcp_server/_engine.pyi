"""Typed interface of the Rust extension module ``awslabs.healthimaging_mcp_server._engine``."""

from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import TypedDict

__version__: str

class EngineError(Exception):
    """Raised by the engine; ``args[0]`` is the message."""

class SeedReport(TypedDict):
    datastore_id: str
    job_id: str | None
    """``None`` when the sample data store already existed and nothing was imported."""
    image_sets: int

class ServerStats(TypedDict):
    requests: int
    in_flight: int
    peak_in_flight: int
    throttled: int
    last_user_agent: str

class LocalHealthImaging:
    """The embedded local HealthImaging, serving the REST-JSON API on a loopback port.

    It starts listening when constructed and stops on ``stop()`` or when used as a context
    manager and the block ends. Requests must be SigV4-signed with the configured credentials
    (``test``/``test`` by default) for service ``medical-imaging`` and the configured region.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        s3_root: str | PathLike[str] | None = None,
        data_dir: str | PathLike[str] | None = None,
        access_key_id: str = "test",
        secret_access_key: str = "test",
        region: str = "us-east-1",
        account_id: str = "123456789012",
        throttle_rate: float = 0.0,
        transition_delay: float = 0.0,
        latency_ms: float = 0.0,
    ) -> None:
        """Start serving.

        ``port=0`` picks a free port. ``s3_root`` is the folder standing in for S3
        (``s3://bucket/key`` is ``s3_root/bucket/key``; default ``data_dir/s3`` or a temporary
        folder). ``data_dir`` keeps state across restarts. ``throttle_rate`` answers that share
        of requests with ThrottlingException; ``transition_delay`` is how many seconds data
        stores stay CREATING / DELETING; ``latency_ms`` delays every request (emulated network).
        """
    @property
    def endpoint_url(self) -> str:
        """``http://HOST:PORT``"""
    @property
    def region(self) -> str: ...
    @property
    def s3_root(self) -> Path: ...
    @property
    def running(self) -> bool: ...
    def seed(self, samples_dir: str | PathLike[str]) -> SeedReport:
        """Import the DICOM files under ``samples_dir`` into the ``healthimaging-local-samples``
        data store through a regular import job (reused if the data store exists)."""
    def stats(self) -> ServerStats:
        """Request counters since start (``peak_in_flight`` proves concurrency)."""
    def reset_peak(self) -> None:
        """Reset ``peak_in_flight`` to the number of requests in flight now."""
    def stop(self) -> None:
        """Stop serving and write state (with ``data_dir``). Idempotent."""
    def __enter__(self) -> LocalHealthImaging: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool: ...
