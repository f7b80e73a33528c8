"""``healthimaging-local``: run the local HealthImaging until interrupted.

The first line of output is the endpoint URL, so scripts can read it with ``head -1``.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from . import __version__, local


def _parser() -> argparse.ArgumentParser:
    """The options; each one's destination is the ``local.start`` parameter it sets (``--seed``
    aside), so the parsed options are passed on as they are."""
    p = argparse.ArgumentParser(
        prog="healthimaging-local",
        description="Local AWS HealthImaging: the real REST-JSON API with SigV4, on loopback.",
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1); any other than loopback needs your own credentials",
    )
    p.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    p.add_argument(
        "--s3-root",
        metavar="DIR",
        help="folder standing in for S3: s3://bucket/key is DIR/bucket/key "
        "(default: DATA_DIR/s3, or a temporary folder)",
    )
    p.add_argument("--data-dir", metavar="DIR", help="keep state here across restarts (default: in memory)")
    p.add_argument("--access-key-id", default=os.environ.get("HEALTHIMAGING_LOCAL_ACCESS_KEY_ID", "test"))
    p.add_argument(
        "--secret-access-key",
        default=os.environ.get("HEALTHIMAGING_LOCAL_SECRET_ACCESS_KEY", "test"),
        help="secret the server checks signatures against (default: test)",
    )
    p.add_argument("--region", default="us-east-1")
    p.add_argument("--account-id", default="123456789012", help="account used in ARNs")
    p.add_argument("--seed", action="store_true", help="import the bundled sample DICOM into a data store")
    p.add_argument(
        "--throttle-rate",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="answer this share (0..1) of requests with ThrottlingException",
    )
    p.add_argument(
        "--latency-ms", type=float, default=0.0, metavar="MS", help="delay every request by MS (emulated network)"
    )
    p.add_argument(
        "--write-delay",
        dest="write_delay_ms",
        type=float,
        default=0.0,
        metavar="MS",
        help="complete UpdateImageSetMetadata, CopyImageSet and DeleteImageSet after MS, as AWS does "
        "them asynchronously: meanwhile the image set is LOCKED and writes to it get ConflictException",
    )
    p.add_argument(
        "--write-fail-rate",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="end this share (0..1) of updates and copies UPDATE_FAILED / COPY_FAILED with a message",
    )
    p.add_argument(
        "--allow-host",
        dest="allow_hosts",
        action="append",
        default=[],
        metavar="HOST[:PORT]",
        help="also serve requests whose Host header is this (a proxy in front); repeatable. "
        "Others than the bound address and loopback names get 403 (DNS rebinding protection)",
    )
    p.add_argument(
        "--idle-timeout",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="close connections that send no complete request headers for this long, and answer "
        "408 to a body that takes longer (default 60)",
    )
    p.add_argument(
        "--quotas",
        choices=("off", "aws"),
        default="off",
        help="aws: enforce HealthImaging's published per-operation default rates and bursts "
        "(ThrottlingException beyond them); default off",
    )
    p.add_argument(
        "--quota-scale",
        type=float,
        default=1.0,
        metavar="X",
        help="multiply the --quotas rates by X (e.g. 20 to run tests faster)",
    )
    p.add_argument(
        "--fault",
        dest="faults",
        action="append",
        default=[],
        metavar="OPERATION:KEY=VALUE[,KEY=VALUE]",
        help="inject faults into OPERATION's requests (* for all); keys: internal_error, unavailable, "
        "drop (shares 0..1), latency_ms, latency_max_ms, spike_share, spike_ms, slow_body_ms. "
        "Repeatable; e.g. --fault DeleteImageSet:internal_error=0.5 --fault '*:spike_share=0.1,spike_ms=500'",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def _faults(specs: list[str]) -> dict[str, dict[str, float]]:
    """``OPERATION:key=value,key=value`` entries → the rules mapping ``local.start`` takes."""
    rules: dict[str, dict[str, float]] = {}
    for spec in specs:
        op, sep, settings = spec.partition(":")
        if not sep or not op.strip():
            raise ValueError(f"--fault {spec!r} is not OPERATION:KEY=VALUE[,KEY=VALUE]")
        rule = rules.setdefault(op.strip(), {})
        for item in settings.split(","):
            key, _, value = item.partition("=")
            try:
                rule[key.strip()] = float(value)
            except ValueError:
                raise ValueError(f"--fault {spec!r}: {item!r} is not KEY=NUMBER") from None
    return rules


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        args.faults = _faults(args.faults)
    except ValueError as e:
        print(e, file=sys.stderr)
        return 2
    if not 0.0 <= args.throttle_rate <= 1.0:
        print("--throttle-rate must be between 0 and 1", file=sys.stderr)
        return 2
    if not 0.0 <= args.write_fail_rate <= 1.0:
        print("--write-fail-rate must be between 0 and 1", file=sys.stderr)
        return 2
    if not 0.0 <= args.write_delay_ms < 1e12:
        print("--write-delay must be a non-negative number of milliseconds", file=sys.stderr)
        return 2
    if not args.idle_timeout > 0:
        print("--idle-timeout must be a positive number of seconds", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    # Seeded after the start, so the sample data store's size can be printed.
    options = {name: value for name, value in vars(args).items() if name != "seed"}
    try:
        server = local.start(**options)
    except local.EngineError as e:
        print(f"healthimaging-local: {e}", file=sys.stderr)
        return 1
    try:
        seeded = server.seed(local.SAMPLES_DIR) if args.seed else None
    except local.EngineError as e:
        server.stop()
        print(f"healthimaging-local: seeding failed: {e}", file=sys.stderr)
        return 1
    print(server.endpoint_url, flush=True)
    print(f"region {server.region}; S3 stand-in folder {server.s3_root}", flush=True)
    if seeded:
        print(
            f"sample datastore {seeded['datastore_id']} with {seeded['image_sets']} image sets",
            flush=True,
        )
    print(
        "try: AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "
        f"AWS_DISABLE_HOST_PREFIX_INJECTION=true aws medical-imaging list-datastores "
        f"--region {server.region} --endpoint-url {server.endpoint_url}",
        flush=True,
    )
    print("press Ctrl-C to stop", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
