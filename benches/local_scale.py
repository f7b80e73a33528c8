"""Benchmark: the local HealthImaging at scale (run by hand, not in CI).

For each store size it writes a data folder of synthetic image sets (one frame file each, ten
image sets per patient ID) with ``LocalHealthImaging.seed_synthetic``, starts the local
HealthImaging on it in a fresh process, and measures with boto3:

- time to start and resident memory after start (frames stay on disk until asked for);
- SearchImageSets: EQUAL on the patient ID (10 hits) and BETWEEN on createdAt (100 hits), each
  with the default order and with an explicit sort, median and p95 of the first page;
- UpdateImageSetMetadata latency (each on a different image set), median and p95;
- GetImageFrame of a frame not read before;
- GetImageSet while four other clients loop on searches.

Sizes take turns over several rounds; each figure is the median over the rounds. Prints a
Markdown table with the ratio of the largest size to the smallest.

    python benches/local_scale.py                      # 1,000 and 100,000 image sets
    python benches/local_scale.py --sizes 1000,10000 --repeat 100
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETS_PER_PATIENT = 10
BETWEEN_HITS = 100


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def seed(data_dir: str, size: int, frame_bytes: int) -> None:
    from awslabs.healthimaging_mcp_server.local import LocalHealthImaging

    t0 = time.perf_counter()
    report = LocalHealthImaging.seed_synthetic(
        data_dir, size, frame_bytes=frame_bytes, sets_per_patient=SETS_PER_PATIENT
    )
    print(json.dumps({**report, "seed_s": time.perf_counter() - t0}))


def search_loop(url: str, ds: str, lo: str, hi: str) -> None:
    os.environ["AWS_DISABLE_HOST_PREFIX_INJECTION"] = "true"
    import boto3

    client = boto3.session.Session().client(
        "medical-imaging",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    criteria = {
        "filters": [{"operator": "BETWEEN", "values": [{"createdAt": float(lo)}, {"createdAt": float(hi)}]}],
        "sort": {"sortField": "createdAt", "sortOrder": "ASC"},
    }
    while True:
        client.search_image_sets(datastoreId=ds, searchCriteria=criteria)


def timed(n: int, call) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        call(i)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def summary(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {"median": statistics.median(ordered), "p95": ordered[max(0, round(0.95 * len(ordered)) - 1)]}


def measure(data_dir: str, size: int, first_created_at: float, repeat: int) -> None:
    os.environ["AWS_DISABLE_HOST_PREFIX_INJECTION"] = "true"
    import boto3
    from awslabs.healthimaging_mcp_server import local
    from botocore.config import Config

    rss_before = rss_mib()
    t0 = time.perf_counter()
    server = local.start(data_dir=data_dir)
    start_s = time.perf_counter() - t0
    rss_after = rss_mib()

    def new_client():
        return boto3.session.Session().client(
            "medical-imaging",
            region_name="us-east-1",
            endpoint_url=server.endpoint_url,
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"total_max_attempts": 1}),
        )

    client = new_client()
    ds = client.list_datastores()["datastoreSummaries"][0]["datastoreId"]
    patients = size // SETS_PER_PATIENT
    mid = first_created_at + size // 2
    sort = {"sortField": "createdAt", "sortOrder": "ASC"}

    def patient(i: int) -> dict:
        return {"operator": "EQUAL", "values": [{"DICOMPatientId": f"PAT{(patients // 2 + i) % patients:07d}"}]}

    def created(_: int) -> dict:
        return {
            "operator": "BETWEEN",
            "values": [{"createdAt": mid}, {"createdAt": mid + BETWEEN_HITS - 1}],
        }

    def search(make_filter, with_sort: bool):
        def call(i: int) -> None:
            criteria: dict = {"filters": [make_filter(i)]}
            if with_sort:
                criteria["sort"] = sort
            r = client.search_image_sets(datastoreId=ds, searchCriteria=criteria, maxResults=50)
            assert r["imageSetsMetadataSummaries"], "no hits"

        return call

    # One untimed call each warms the connection and the code paths.
    results: dict[str, dict[str, float]] = {}
    for name, f, s in [
        ("search EQUAL patient ID", patient, False),
        ("search EQUAL patient ID, sorted", patient, True),
        ("search BETWEEN createdAt", created, False),
        ("search BETWEEN createdAt, sorted", created, True),
    ]:
        search(f, s)(0)
        results[name] = summary(timed(repeat, search(f, s)))

    hits = client.search_image_sets(
        datastoreId=ds,
        searchCriteria={"filters": [created(0)], "sort": sort},
        maxResults=50,
    )["imageSetsMetadataSummaries"]

    def update(i: int) -> None:
        client.update_image_set_metadata(
            datastoreId=ds,
            imageSetId=hits[i]["imageSetId"],
            latestVersionId=str(hits[i]["version"]),
            updateImageSetMetadataUpdates={
                "DICOMUpdates": {
                    "updatableAttributes": json.dumps(
                        {"SchemaVersion": "1.1", "Study": {"DICOM": {"StudyDescription": f"bench {i}"}}}
                    ).encode()
                }
            },
        )

    update(len(hits) - 1)
    results["UpdateImageSetMetadata"] = summary(timed(min(repeat, len(hits) - 1), update))

    def frame(i: int) -> None:
        image_set = hits[i]["imageSetId"]
        meta = client.get_image_set_metadata(datastoreId=ds, imageSetId=image_set)
        doc = json.loads(gzip.decompress(meta["imageSetMetadataBlob"].read()))
        (series,) = doc["Study"]["Series"].values()
        (instance,) = series["Instances"].values()
        frame_id = instance["ImageFrames"][0]["ID"]
        t0 = time.perf_counter()
        client.get_image_frame(datastoreId=ds, imageSetId=image_set, imageFrameInformation={"imageFrameId": frame_id})[
            "imageFrameBlob"
        ].read()
        frames_ms.append((time.perf_counter() - t0) * 1000)

    frames_ms: list[float] = []
    for i in range(min(repeat, len(hits))):
        frame(i)
    results["GetImageFrame (first read)"] = summary(frames_ms)

    # A read while four other clients (processes, so they do not share this one's GIL) loop on
    # searches.
    loop_args = [server.endpoint_url, ds, str(mid), str(mid + BETWEEN_HITS - 1)]
    searchers = [subprocess.Popen([sys.executable, __file__, "--child", "search-loop", *loop_args]) for _ in range(4)]
    time.sleep(2)  # let them get going
    some = hits[0]["imageSetId"]
    results["GetImageSet, 4 clients searching"] = summary(
        timed(repeat, lambda _: client.get_image_set(datastoreId=ds, imageSetId=some))
    )
    for p in searchers:
        p.kill()
        p.wait()
    server.stop()
    print(
        json.dumps(
            {
                "start_s": start_s,
                "rss_after_start_mib": rss_after,
                "rss_start_delta_mib": rss_after - rss_before,
                "latency_ms": results,
            }
        )
    )


def child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def folder_mib(path: Path, sub: str) -> float:
    return sum(f.stat().st_size for f in (path / sub).rglob("*") if f.is_file()) / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000,100000", help="store sizes, comma separated")
    ap.add_argument("--frame-bytes", type=int, default=8192, help="bytes of each image set's frame")
    ap.add_argument("--repeat", type=int, default=50, help="timed calls per measurement")
    ap.add_argument("--rounds", type=int, default=3, help="measurements per size, taking turns (median shown)")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "seed":
            seed(rest[0], int(rest[1]), int(rest[2]))
        elif kind == "search-loop":
            search_loop(*rest)
        else:
            measure(rest[0], int(rest[1]), float(rest[2]), int(rest[3]))
        return

    sizes = [int(s) for s in args.sizes.split(",")]
    runs: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(prefix="hi-bench-") as tmp:
        seeded = {}
        for size in sizes:
            folder = Path(tmp) / str(size)
            seeded[size] = child("seed", str(folder), str(size), str(args.frame_bytes))
            runs[size] = {
                "frames_mib": folder_mib(folder, "frames"),
                "state_mib": sum(p.stat().st_size for p in folder.glob("snapshot-*.log")) / 2**20,
                "rounds": [],
            }
        # Sizes take turns, so a busy spell of the machine does not land on one size only.
        for r in range(args.rounds):
            for size in sizes:
                folder = str(Path(tmp) / str(size))
                first = str(seeded[size]["first_created_at"])
                runs[size]["rounds"].append(child("measure", folder, str(size), first, str(args.repeat)))
                print(f"round {r + 1}: measured {size} image sets", file=sys.stderr)

    def med(size: int, pick) -> float:
        return statistics.median(pick(m) for m in runs[size]["rounds"])

    lo, hi = sizes[0], sizes[-1]
    head = f"| measure | {' | '.join(f'{s:,} image sets' for s in sizes)} | ratio {hi:,}/{lo:,} |"
    print(head)
    print("|" + "---|" * (len(sizes) + 2))

    def row(name: str, values: list[float], fmt: str) -> None:
        ratio = values[-1] / values[0] if values[0] else float("nan")
        print(f"| {name} | {' | '.join(format(v, fmt) for v in values)} | {ratio:.2f}x |")

    for name in runs[lo]["rounds"][0]["latency_ms"]:
        for stat in ("median", "p95"):
            values = [med(s, lambda m, n=name, st=stat: m["latency_ms"][n][st]) for s in sizes]
            row(f"{name}, {stat} (ms)", values, ".2f")
    for key, label, fmt in [
        ("start_s", "time to start (s)", ".2f"),
        ("rss_after_start_mib", "RSS after start (MiB)", ".0f"),
        ("rss_start_delta_mib", "RSS added by start (MiB)", ".0f"),
    ]:
        row(label, [med(s, lambda m, k=key: m[k]) for s in sizes], fmt)
    row("state snapshot on disk (MiB)", [runs[s]["state_mib"] for s in sizes], ".1f")
    row("frames on disk (MiB)", [runs[s]["frames_mib"] for s in sizes], ".0f")


if __name__ == "__main__":
    main()
