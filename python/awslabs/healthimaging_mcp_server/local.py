"""Start and stop the embedded local HealthImaging from Python.

>>> from awslabs.healthimaging_mcp_server import local
>>> with local.start(seed=True) as server:
...     print(server.endpoint_url)

Clients sign requests with SigV4 as for AWS (access key ``test``, secret ``test`` by default;
a ``host`` other than loopback needs credentials of your own).
boto3 needs ``AWS_DISABLE_HOST_PREFIX_INJECTION=true`` so data-plane calls are not sent to a
``runtime-`` prefixed host.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

from ._engine import EngineError, LocalHealthImaging

SAMPLES_DIR = Path(__file__).parent / "samples" / "dicom"
SEED_DATASTORE_NAME = "healthimaging-local-samples"

__all__ = ["SAMPLES_DIR", "SEED_DATASTORE_NAME", "EngineError", "LocalHealthImaging", "start"]


def start(
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
    allow_hosts: Sequence[str] = (),
    idle_timeout: float = 60.0,
    quotas: str | None = None,
    quota_scale: float = 1.0,
    faults: Mapping[str, Mapping[str, Any]] | None = None,
    write_delay_ms: float = 0.0,
    write_fail_rate: float = 0.0,
    stow_max_bytes: int | None = None,
    seed: bool = False,
) -> LocalHealthImaging:
    """Start a local HealthImaging on a background thread and return it once it listens.

    ``seed=True`` imports the bundled sample DICOM into a data store named
    ``healthimaging-local-samples`` (reused if it already exists in ``data_dir``).
    ``allow_hosts`` adds Host header values to serve besides the bound address and the loopback
    names (``host`` for any port, or ``host:port``; for a proxy in front). ``idle_timeout`` is how
    long a connection may wait for a request's headers, and a request for its body, in seconds.

    ``quotas="aws"`` enforces HealthImaging's published per-operation default rate and burst
    (one token bucket per operation for the server, as the service keeps one per account);
    requests beyond them get ``ThrottlingException`` (429). ``quota_scale`` multiplies the rates.
    ``faults`` injects faults, ``{"*": rule, "DeleteImageSet": rule}`` (a per-operation rule
    replaces the one for all), each rule with any of ``internal_error``, ``unavailable``,
    ``drop`` (shares 0..1 of 500s, 503s and connections closed without an answer),
    ``latency_ms``, ``latency_max_ms`` (fixed, or uniform between the two), ``spike_share`` and
    ``spike_ms`` (that share gets that much more), ``slow_body_ms`` (the answer dribbles out over
    that long). Change both while running with ``server.set_quotas(...)`` and
    ``server.set_faults(...)``; ``server.stats()["operations"]`` counts the outcomes.

    ``write_delay_ms`` makes UpdateImageSetMetadata, CopyImageSet and DeleteImageSet asynchronous
    as on AWS: the image set stays ``LOCKED`` (``UPDATING``, ``COPYING``, ...) for that long, and
    writes to it answer ``ConflictException``. ``write_fail_rate`` is the share of updates and
    copies that end ``UPDATE_FAILED`` / ``COPY_FAILED`` with a message, leaving the metadata as it was.

    The DICOMweb APIs are served on the same port under ``/datastore/<id>/studies``;
    ``stow_max_bytes`` bounds a STOW-RS request body (default 1 GiB, the service's documented
    limit; larger bodies get 413).
    """
    server = LocalHealthImaging(
        port=port,
        host=host,
        s3_root=None if s3_root is None else Path(s3_root),
        data_dir=None if data_dir is None else Path(data_dir),
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        region=region,
        account_id=account_id,
        throttle_rate=throttle_rate,
        transition_delay=transition_delay,
        latency_ms=latency_ms,
        allow_hosts=list(allow_hosts),
        idle_timeout=idle_timeout,
        quotas=quotas,
        quota_scale=quota_scale,
        faults=None if faults is None else {op: dict(rule) for op, rule in faults.items()},
        write_delay_ms=write_delay_ms,
        write_fail_rate=write_fail_rate,
        stow_max_bytes=stow_max_bytes,
    )
    if seed:
        try:
            server.seed(SAMPLES_DIR)
        except BaseException:
            server.stop()
            raise
    return server
