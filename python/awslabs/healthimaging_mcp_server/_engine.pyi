"""Typed interface of the Rust extension module ``awslabs.healthimaging_mcp_server._engine``."""

from collections.abc import Awaitable, Callable
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Any, TypedDict

__version__: str
USER_AGENT_METADATA: str
"""``md/awslabs#mcp#healthimaging-mcp-server#<version>``, added to every request's user agent."""

class HealthImagingError(Exception):
    """Every engine failure.

    ``type`` is one of validation_error (bad input, caught before any request, or refused by the
    service), not_found, auth_error, conflict_error, throttling_error, service_error (the service
    or the network to it failed), server_error (a fault of this package). ``code`` is the AWS
    error code and ``status`` the HTTP status when the service answered.
    """

    type: str
    message: str
    code: str | None
    status: int | None

EngineError = HealthImagingError

# ---- the tool registry (the MCP server and the public ``engine`` module are built on it) ------

TOOLSETS: list[str]
"""The toolset names (``api``, ``workflows``, ``pixels``, ``dicomweb``)."""

def tools() -> list[dict[str, Any]]:
    """Every tool: ``name``, ``description``, ``inputSchema``, ``outputSchema`` (when typed),
    ``annotations`` (MCP hints), ``toolset``, ``progress`` (whether it reports progress)."""

def call(name: str, arguments: str, progress: Callable[[int, int, str], None] | None = None) -> Awaitable[str]:
    """Runs tool ``name`` with ``arguments`` (JSON text). Awaits to the result as compact JSON
    text, or raises ``HealthImagingError``. Cancelling the awaiting task cancels the run."""

def instructions(toolsets: list[str]) -> str:
    """The MCP server instructions for a server serving ``toolsets``."""

# ---- process-wide engine state ---------------------------------------------------------------

async def reset_client() -> None:
    """Forgets the shared client; the next call builds one from the current environment."""

def recent_runs() -> list[dict[str, Any]]:
    """The last destructive runs (cancelled ones included), newest last: ``tool``,
    ``datastore_id``, ``cancelled``, counts per outcome and image set IDs."""

def rate_limits() -> dict[str, dict[str, float]]:
    """The client-side rate limit per operation: ``{operation: {"rate": tps, "burst": n}}``."""

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
    conflicts: int
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
        allow_hosts: list[str] = ...,
        idle_timeout: float = 60.0,
        write_delay_ms: float = 0.0,
        write_fail_rate: float = 0.0,
        stow_max_bytes: int | None = None,
    ) -> None:
        """Start serving.

        ``port=0`` picks a free port. ``s3_root`` is the folder standing in for S3
        (``s3://bucket/key`` is ``s3_root/bucket/key``; default ``data_dir/s3`` or a temporary
        folder). ``data_dir`` keeps state across restarts. ``throttle_rate`` answers that share
        of requests with ThrottlingException; ``transition_delay`` is how many seconds data
        stores stay CREATING / DELETING; ``latency_ms`` delays every request (emulated network).
        ``write_delay_ms`` keeps image sets LOCKED that long after an update, copy or delete;
        ``write_fail_rate`` ends that share of updates and copies UPDATE_FAILED / COPY_FAILED.
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
