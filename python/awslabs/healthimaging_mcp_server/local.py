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

from collections.abc import Sequence
from os import PathLike
from pathlib import Path

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
    write_delay_ms: float = 0.0,
    write_fail_rate: float = 0.0,
    seed: bool = False,
) -> LocalHealthImaging:
    """Start a local HealthImaging on a background thread and return it once it listens.

    ``seed=True`` imports the bundled sample DICOM into a data store named
    ``healthimaging-local-samples`` (reused if it already exists in ``data_dir``).
    ``allow_hosts`` adds Host header values to serve besides the bound address and the loopback
    names (``host`` for any port, or ``host:port``; for a proxy in front). ``idle_timeout`` is how
    long a connection may wait for a request's headers, and a request for its body, in seconds.
    ``write_delay_ms`` makes UpdateImageSetMetadata, CopyImageSet and DeleteImageSet asynchronous
    as on AWS: the image set stays ``LOCKED`` (``UPDATING``, ``COPYING``, ...) for that long, and
    writes to it answer ``ConflictException``. ``write_fail_rate`` is the share of updates and
    copies that end ``UPDATE_FAILED`` / ``COPY_FAILED`` with a message, leaving the metadata as it was.
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
        write_delay_ms=write_delay_ms,
        write_fail_rate=write_fail_rate,
    )
    if seed:
        try:
            server.seed(SAMPLES_DIR)
        except BaseException:
            server.stop()
            raise
    return server
