"""Side-by-side benchmark: this server and the original (awslabs.healthimaging-mcp-server 0.1.1 from
PyPI, installed into its own virtual environment under .bench/ on first use), run the same way
(subprocesses speaking MCP over stdio, driven by the MCP SDK's client) against one local
HealthImaging with added latency per request, and a no-op tool of the same SDK as the floor.

For each scenario: the median and range over the runs of each server, original / ours, the floor
(the SDK's per-call cost plus the round trips on the critical path; for writes, the rate limit of
the local HealthImaging playing AWS's throttle table, scaled) and ours / floor, and each server's
peak resident memory. Outcomes are checked with boto3 against the local HealthImaging; where a
server does not do the whole job the table says what it did instead of a time.

    python benches/run.py                     # full run (a few minutes), Markdown table on stdout
    python benches/run.py --quick             # fewer runs, smaller sizes
    python benches/run.py --only delete --out results.json

Needs the test extra (boto3): pip install -e ".[test]"
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import fixtures
from bench_env import Target, started, targets
from scenarios import AWS_QUOTAS, PENDING, SCENARIOS, Ctx, Floor, Outcome, Scenario

SERVERS = ("ours", "original")


@dataclass
class Measured:
    """One server's runs of one scenario."""

    outcomes: list[Outcome] = field(default_factory=list)
    peak_rss_mib: float | None = None
    info: str = ""

    @property
    def done(self) -> bool:
        return bool(self.outcomes) and all(o.done for o in self.outcomes)

    @property
    def seconds(self) -> list[float]:
        return [o.seconds for o in self.outcomes]

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.done else None

    @property
    def throttled(self) -> int:
        return sum(o.throttled for o in self.outcomes)

    def cell(self) -> str:
        if not self.done:
            failed = next((o for o in self.outcomes if not o.done), None)
            return failed.note if failed else "not run"
        s = self.seconds
        return f"{fmt(statistics.median(s))} ({fmt(min(s))}–{fmt(max(s))})" if len(s) > 1 else fmt(s[0])


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def rate_env(scale: float) -> dict[str, str]:
    """This server's client-side limits at the scaled table, as it would start at AWS's defaults
    (against a custom endpoint it limits only what these variables set)."""
    return {f"HEALTHIMAGING_MCP_RATE_{op}": f"{rate * scale:g}:{burst:g}" for op, (rate, burst) in AWS_QUOTAS.items()}


# ---- measuring -------------------------------------------------------------------------------------


async def start_runs(servers: list[Target], runs: int) -> dict[str, Measured]:
    """Process start to tools listed, a new process each run; the servers take turns, so a busy
    spell of the machine does not land on one of them only."""
    out = {t.key: Measured() for t in servers}
    for _ in range(runs):
        for target in servers:
            m = out[target.key]
            t0 = time.perf_counter()
            async with started(target) as live:
                tools = (await live.session.list_tools()).tools
                m.outcomes.append(Outcome(time.perf_counter() - t0, bool(tools), "" if tools else "no tools listed"))
                rss = live.peak_rss_mib()
            m.peak_rss_mib = max(filter(None, [m.peak_rss_mib, rss]), default=None)
            m.info = f"{len(tools)} tools"
    return out


async def noop_call_s(target: Target, calls: int) -> float:
    """Median time of one call of the no-op tool."""
    async with started(target) as live:
        for _ in range(10):
            await live.session.call_tool("noop", {"value": "x"})
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            result = await live.session.call_tool("noop", {"value": "x"})
            times.append(time.perf_counter() - t0)
            assert not result.is_error, result
    return statistics.median(times)


async def scenario_runs(sc: Scenario, target: Target, ctx: Ctx) -> Measured:
    assert sc.run is not None
    sizes = ctx.fx.sizes
    out = Measured()
    extra = rate_env(sizes.quota_scale) if sc.writes and target.key == "ours" else {}
    if sc.writes:
        ctx.local.set_quotas("aws", sizes.quota_scale)
    try:
        async with started(target, extra) as live:
            ctx.server_stderr = live.stderr
            await live.session.list_tools()
            if sc.writes:
                await live.session.call_tool("list_datastores", {})
            else:
                await sc.run(ctx, live.session)  # warm-up, not timed
            for i in range(sizes.write_runs if sc.writes else sizes.runs):
                ctx.label, ctx.run_index = target.key, i
                outcome = await sc.run(ctx, live.session)
                out.outcomes.append(outcome)
                out.info = outcome.info
                if not outcome.done:
                    break  # the same failure again says nothing new
            out.peak_rss_mib = live.peak_rss_mib()
    finally:
        if sc.writes:
            ctx.local.set_quotas(None)
    return out


# ---- reporting -------------------------------------------------------------------------------------


def machine() -> dict:
    model = ""
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        model = platform.processor()
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "system": platform.platform(),
        "python": platform.python_version(),
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.1f}x" if a and b else "—"


def mib(value: float | None) -> str:
    return f"{value:.0f}" if value is not None else "—"


def table(ctx: Ctx, rows: list[tuple[Scenario, Floor, dict[str, Measured]]]) -> str:
    lines = [
        "| scenario | this server | original 0.1.1 | original ÷ ours | floor | ours ÷ floor "
        "| peak RSS MiB (ours / original) | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for sc, floor, m in rows:
        ours, orig = m["ours"], m["original"]
        notes = [f"floor: {floor.how}"]
        if sc.writes:
            notes.append(f"ThrottlingException from the service: ours {ours.throttled}, original {orig.throttled}")
        infos = [f"{label}: {m.info}" for label, m in (("ours", ours), ("original", orig)) if m.info]
        if infos:
            notes.append("; ".join(infos))
        lines.append(
            f"| {sc.title(ctx)} | {ours.cell()} | {orig.cell()} | {ratio(orig.median, ours.median)} "
            f"| {fmt(floor.seconds)} | {ratio(ours.median, floor.seconds)} "
            f"| {mib(ours.peak_rss_mib)} / {mib(orig.peak_rss_mib)} | {'; '.join(notes)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer runs and smaller sizes")
    ap.add_argument(
        "--only",
        action="append",
        choices=[s.key for s in SCENARIOS],
        metavar="SCENARIO",
        help=f"run only this scenario (repeatable): {', '.join(s.key for s in SCENARIOS)}",
    )
    ap.add_argument("--latency-ms", type=float, default=20.0, help="added latency per request (default 20)")
    ap.add_argument("--runs", type=int, help="timed runs per read scenario (default 5, quick 2)")
    ap.add_argument("--quota-scale", type=float, help="multiply AWS's throttle table by this (default 40, quick 100)")
    ap.add_argument("--out", type=Path, help="write the results as JSON here")
    args = ap.parse_args(argv)

    sizes = fixtures.QUICK if args.quick else fixtures.FULL
    if args.runs:
        sizes = dataclasses.replace(sizes, runs=args.runs)
    if args.quota_scale:
        sizes = dataclasses.replace(sizes, quota_scale=args.quota_scale)
    selected = [s for s in SCENARIOS if not args.only or s.key in args.only]
    from awslabs.healthimaging_mcp_server import local

    noop_start: Measured | None = None
    started_at, before = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), machine()
    with tempfile.TemporaryDirectory(prefix="hi-bench-") as tmp:
        data, s3 = Path(tmp) / "data", Path(tmp) / "s3"
        synthetic = fixtures.seed_synthetic(data, sizes, len(SERVERS))
        with local.start(data_dir=data, s3_root=s3, latency_ms=args.latency_ms) as hi:
            client = fixtures.boto3_client(hi.endpoint_url)
            fx = fixtures.build(client, s3, sizes, synthetic, len(SERVERS))
            servers = targets(hi.endpoint_url)
            ctx = Ctx(fx, client, hi, args.latency_ms / 1000)
            ctx.noop_call_s = asyncio.run(noop_call_s(servers["floor"], sizes.noop_calls))
            rows = []
            for sc in selected:
                print(f"{sc.key} ...", file=sys.stderr, flush=True)
                if sc.run is None:
                    measured = asyncio.run(start_runs([servers[k] for k in ("floor", *SERVERS)], sizes.runs))
                    noop_start = measured.pop("floor")
                    ctx.noop_start_s = statistics.median(noop_start.seconds)
                else:
                    measured = {key: asyncio.run(scenario_runs(sc, servers[key], ctx)) for key in SERVERS}
                rows.append((sc, sc.floor(ctx), measured))
    after = machine()

    print(
        f"Ran {started_at} on {before['cpu']} ({before['cpus']} CPUs), {before['system']}, Python {before['python']}; "
        f"load average before {before['load_average'][0]:.1f}, after {after['load_average'][0]:.1f}."
    )
    print(
        f"Added latency {args.latency_ms:g} ms per request; {sizes.runs} runs per read scenario, "
        f"{sizes.write_runs} per write scenario; writes against AWS's throttle table x{sizes.quota_scale:g} "
        f"(UpdateImageSetMetadata and DeleteImageSet {ctx.write_rate:g}/s, burst 1). "
        f"Floor per call (no-op tool, same SDK): {fmt(ctx.noop_call_s)}"
        + (f"; its peak RSS {mib(noop_start.peak_rss_mib)} MiB" if noop_start else "")
        + ". Times: median (min–max).\n"
    )
    print(table(ctx, rows))
    if PENDING:
        print("\nNot measured yet: " + "; ".join(PENDING.values()) + ".")
    if args.out:
        report = {
            "started_at": started_at,
            "machine": {"before": before, "after": after},
            "latency_ms": args.latency_ms,
            "sizes": dataclasses.asdict(sizes),
            "floor": {
                "noop_call_s": ctx.noop_call_s,
                "noop_start_s": ctx.noop_start_s,
                "noop_peak_rss_mib": noop_start.peak_rss_mib if noop_start else None,
            },
            "scenarios": {
                sc.key: {
                    "title": sc.title(ctx),
                    "floor_s": floor.seconds,
                    "floor": floor.how,
                    **{
                        key: {
                            "done": m.done,
                            "median_s": m.median,
                            "seconds": m.seconds,
                            "notes": [o.note for o in m.outcomes if o.note],
                            "throttled": m.throttled,
                            "throttled_per_run": [o.throttled for o in m.outcomes],
                            "peak_rss_mib": m.peak_rss_mib,
                        }
                        for key, m in measured.items()
                    },
                }
                for sc, floor, measured in rows
            },
            "pending": PENDING,
        }
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
