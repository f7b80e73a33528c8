"""The benchmark's scenarios: what each one calls, how its outcome is checked (independently, with
boto3, for writes), and its floor.

A scenario's ``run`` makes the MCP calls of one timed run and returns an ``Outcome`` with the time
of those calls only; checks happen outside the timing. The floor is what no server can beat: the
SDK's own per-call cost (the no-op tool) plus the round trips on the critical path at the added
latency, and for writes the rate limit. Scenarios not written yet are in ``PENDING``: give one a
``run`` and a ``floor`` and move it into ``SCENARIOS``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import gzip
import json
import math
import re
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bench_env import EXPORT_ROOT
from fixtures import PATIENT, Fixtures, count_with_description, remaining, search_all
from mcp import ClientSession

WRITE_QUOTA = (0.25, 1.0)
"""HealthImaging's default rate (TPS) and burst of UpdateImageSetMetadata and DeleteImageSet."""
AWS_QUOTAS = {
    "SEARCH_IMAGE_SETS": (25.0, 50.0),
    "GET_IMAGE_SET": (25.0, 50.0),
    "GET_IMAGE_SET_METADATA": (50.0, 100.0),
    "UPDATE_IMAGE_SET_METADATA": WRITE_QUOTA,
    "DELETE_IMAGE_SET": WRITE_QUOTA,
}
"""The published defaults of the operations the write workflows use (see the README's table)."""
READ_CONCURRENCY = 8
"""This server's default concurrent reads per workflow (HEALTHIMAGING_MCP_READ_CONCURRENCY)."""
SEARCH_PAGE = 50
"""SearchImageSets' largest page."""


@dataclass
class Ctx:
    """What a run needs: the fixtures, the local HealthImaging, the settings and the floor's
    measurements."""

    fx: Fixtures
    client: Any
    """boto3, for checks."""
    local: Any
    """The local HealthImaging (its counters)."""
    latency_s: float
    noop_call_s: float = 0.0
    noop_start_s: float = 0.0
    label: str = ""
    run_index: int = 0
    server_stderr: Callable[[], str] = str
    """The running server's stderr so far (where the original logs the causes it does not answer)."""

    @property
    def write_rate(self) -> float:
        return WRITE_QUOTA[0] * self.fx.sizes.quota_scale

    def throttled(self) -> int:
        return sum(op.get("throttled", 0) for op in self.local.stats().get("operations", {}).values())


@dataclass
class Outcome:
    seconds: float
    done: bool
    """Whether the whole job was done (checked, not taken from the server's answer)."""
    note: str = ""
    """What was done when not all of it, or why it failed."""
    throttled: int = 0
    """ThrottlingException answers the service gave during the run."""
    info: str = ""
    """A fact worth showing (e.g. the size of the answer)."""


# ---- reading answers -----------------------------------------------------------------------------


def value_of(result) -> Any:
    """A tool result's value: its structured content, else its text parsed as JSON, else the text."""
    if result.structured_content is not None:
        return result.structured_content
    text = "".join(getattr(c, "text", "") for c in result.content)
    try:
        return json.loads(text)
    except ValueError:
        return text


ERROR_CODE = re.compile(r"\(([A-Za-z]+Exception)\)")
"""An AWS error code as botocore quotes it: "An error occurred (ValidationException) when ..."."""


def failure(ctx: Ctx, result) -> str:
    """The kind of error of a failed tool result: the service's error code where the answer has
    one; else the answer, with the last error code the server logged."""
    text = "".join(getattr(c, "text", "") for c in result.content)
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        return str(body.get("code") or body.get("type"))
    if m := ERROR_CODE.search(text):
        return m.group(1)
    logged = ERROR_CODE.findall(ctx.server_stderr())
    answer = text[:80] or "error"
    return f'{logged[-1]} (in its log; the answer: "{answer}")' if logged else answer


def answer_bytes(result) -> int:
    """Size of a tool result as JSON (text blocks and structured content, as sent)."""
    return len(result.model_dump_json(by_alias=True, exclude_none=True))


def strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value (keys of objects included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def find_key(value: Any, names: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        for k, v in value.items():
            if k in names and v:
                return v
            found = find_key(v, names)
            if found:
                return found
    elif isinstance(value, list):
        for v in value:
            found = find_key(v, names)
            if found:
                return found
    return None


def metadata_document(value: Any) -> dict | None:
    """The image set metadata document in an answer: as JSON, or as the original returns it, the
    service's gzip blob in base64."""
    if isinstance(value, dict):
        if isinstance(value.get("Study"), dict):
            return value
        for v in value.values():
            found = metadata_document(v)
            if found is not None:
                return found
    elif isinstance(value, str) and len(value) > 64:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return None
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        try:
            return metadata_document(json.loads(raw))
        except ValueError:
            return None
    return None


# ---- calls -----------------------------------------------------------------------------------------


async def call(ctx: Ctx, session: ClientSession, name: str, args: dict) -> tuple[Any, float, int]:
    """One tool call: its result, its duration and the throttles the service answered meanwhile."""
    throttled = ctx.throttled()
    t0 = time.perf_counter()
    result = await session.call_tool(name, args)
    return result, time.perf_counter() - t0, ctx.throttled() - throttled


async def run_get_datastore(ctx: Ctx, session: ClientSession) -> Outcome:
    ds, total = ctx.fx.search_ds, 0.0
    for i in range(ctx.fx.sizes.get_datastore):
        result, seconds, _ = await call(ctx, session, "get_datastore", {"datastore_id": ds})
        total += seconds
        if result.is_error:
            return Outcome(total, False, f"call {i + 1} failed: {failure(ctx, result)}")
        if ds not in strings(value_of(result)):
            return Outcome(total, False, f"call {i + 1}: the answer lacks the data store ID")
    return Outcome(total, True)


async def run_search_pages(ctx: Ctx, session: ClientSession) -> Outcome:
    sizes = ctx.fx.sizes
    want = sizes.pages * sizes.page_size
    seen: set[str] = set()
    token, total = None, 0.0
    for page in range(sizes.pages):
        args: dict[str, Any] = {"datastore_id": ctx.fx.search_ds, "max_results": sizes.page_size}
        if token:
            args["next_token"] = token
        result, seconds, _ = await call(ctx, session, "search_image_sets", args)
        total += seconds
        if result.is_error:
            return Outcome(total, False, f"page {page + 1} failed: {failure(ctx, result)}")
        value = value_of(result)
        seen |= ctx.fx.search_ids.intersection(strings(value))
        token = find_key(value, ("next_token", "nextToken"))
        if not token:
            break
    done = len(seen) == want
    return Outcome(total, done, "" if done else f"listed {len(seen)} of {want} image sets")


async def run_metadata(ctx: Ctx, session: ClientSession) -> Outcome:
    args = {"datastore_id": ctx.fx.imported_ds, "image_set_id": ctx.fx.big_image_set}
    result, seconds, _ = await call(ctx, session, "get_image_set_metadata", args)
    if result.is_error:
        return Outcome(seconds, False, f"failed: {failure(ctx, result)}")
    doc = metadata_document(value_of(result))
    count = sum(len(s.get("Instances", {})) for s in doc["Study"]["Series"].values()) if doc else 0
    want = ctx.fx.sizes.instances
    size = f"answer {answer_bytes(result) / 2**20:.2f} MiB"
    return Outcome(
        seconds, count == want, "" if count == want else f"{count} of {want} instances in the answer", info=size
    )


def run_patient_read(tool: str) -> Callable[[Ctx, ClientSession], Awaitable[Outcome]]:
    async def run(ctx: Ctx, session: ClientSession) -> Outcome:
        args = {"datastore_id": ctx.fx.search_ds, "patient_id": PATIENT}
        result, seconds, _ = await call(ctx, session, tool, args)
        want = len(ctx.fx.patient_studies)
        if result.is_error:
            return Outcome(seconds, False, f"0 of {want} studies: {failure(ctx, result)}")
        found = len(ctx.fx.patient_studies.intersection(strings(value_of(result))))
        return Outcome(seconds, found == want, "" if found == want else f"{found} of {want} studies in the answer")

    return run


async def run_update(ctx: Ctx, session: ClientSession) -> Outcome:
    fx = ctx.fx
    description = f"BENCH {ctx.label} RUN {ctx.run_index}"
    args = {
        "datastore_id": fx.imported_ds,
        "study_instance_uid": fx.update_study,
        "patient_updates": {},
        "study_updates": {"StudyDescription": description},
    }
    result, seconds, throttled = await call(ctx, session, "update_patient_study_metadata", args)
    updated = count_with_description(ctx.client, fx.imported_ds, fx.update_ids, description)
    want = len(fx.update_ids)
    note = "" if updated == want else f"updated {updated} of {want}"
    if result.is_error:
        note += f": {failure(ctx, result)}"
    return Outcome(seconds, updated == want, note, throttled)


async def run_delete(ctx: Ctx, session: ClientSession) -> Outcome:
    fx = ctx.fx
    patient = fx.take_delete_patient()
    before = len(search_all(ctx.client, fx.delete_ds))
    args = {"datastore_id": fx.delete_ds, "patient_id": patient}
    result, seconds, throttled = await call(ctx, session, "delete_patient_studies", args)
    left = remaining(ctx.client, fx.delete_ds, patient)
    after = len(search_all(ctx.client, fx.delete_ds))
    deleted, want = fx.sizes.delete - left, fx.sizes.delete
    others = before - after - deleted
    note = "" if deleted == want else f"deleted {deleted} of {want}"
    if result.is_error:
        note += f": {failure(ctx, result)}"
    if others:
        note += f"; {others} image sets of other patients deleted"
    return Outcome(seconds, deleted == want and not others, note.lstrip("; "), throttled)


async def lacks_tool(session: ClientSession, tool: str) -> bool:
    """Whether the server does not list `tool` (the original has no pixel tools)."""
    return tool not in {t.name for t in (await session.list_tools()).tools}


def images_of(result) -> list[bytes]:
    """The decoded image content blocks of a tool result."""
    return [base64.b64decode(c.data) for c in result.content if getattr(c, "type", "") == "image"]


PNG = b"\x89PNG\r\n\x1a\n"


def render_series(ctx: Ctx) -> str:
    """A one-instance series of the update study (its image set holds one 8x8 frame)."""
    return f"{ctx.fx.update_study}.1"


async def run_render(ctx: Ctx, session: ClientSession) -> Outcome:
    tool = "render_image_frame"
    if await lacks_tool(session, tool):
        return Outcome(0.0, False, "no such tool")
    series = render_series(ctx)
    args = {"datastore_id": ctx.fx.imported_ds, "series_instance_uid": series, "slice": "middle"}
    result, seconds, _ = await call(ctx, session, tool, args)
    if result.is_error:
        return Outcome(seconds, False, f"failed: {failure(ctx, result)}")
    value, images = value_of(result), images_of(result)
    done = value.get("series_instance_uid") == series and len(images) == 1 and images[0].startswith(PNG)
    return Outcome(seconds, done, "" if done else "no PNG of the series' frame in the answer")


SHEET_TILES = 16
"""The contact sheet's default tile count."""
SHEET_CONCURRENCY = 8
"""Frames the contact sheet fetches at a time (after the middle tile, whose window all share)."""


async def run_contact_sheet(ctx: Ctx, session: ClientSession) -> Outcome:
    tool = "render_series_contact_sheet"
    if await lacks_tool(session, tool):
        return Outcome(0.0, False, "no such tool")
    args = {"datastore_id": ctx.fx.imported_ds, "series_instance_uid": ctx.fx.big_series, "count": SHEET_TILES}
    result, seconds, _ = await call(ctx, session, tool, args)
    if result.is_error:
        return Outcome(seconds, False, f"failed: {failure(ctx, result)}")
    value, images = value_of(result), images_of(result)
    tiles = [t for t in value.get("tiles", []) if not t.get("error")]
    done = len(tiles) == SHEET_TILES and len(images) == 1 and images[0].startswith(PNG)
    note = "" if done else f"{len(tiles)} of {SHEET_TILES} tiles drawn"
    return Outcome(seconds, done, note, info=f"series of {ctx.fx.sizes.instances:,} instances")


EXPORT_ACTIVE = {"SUBMITTED", "IN_PROGRESS"}


async def run_export(ctx: Ctx, session: ClientSession) -> Outcome:
    """Export the update study (one instance per image set) to a folder; timed from the start
    call until get_dicom_export_job reports the end; checked on disk."""
    out = EXPORT_ROOT / f"{ctx.label}-{ctx.run_index}-{uuid.uuid4().hex[:8]}"
    ds = ctx.fx.imported_ds
    args = {
        "datastore_id": ds,
        "data_access_role_arn": "arn:aws:iam::123456789012:role/export",
        "output_s3_uri": f"file://{out}",
        "study_instance_uid": ctx.fx.update_study,
    }
    try:
        result, seconds, _ = await call(ctx, session, "start_dicom_export_job", args)
        if result.is_error:
            return Outcome(seconds, False, f"failed: {failure(ctx, result)}")
        job_id = value_of(result).get("job_id")
        t0 = time.perf_counter() - seconds
        while True:
            job = value_of(await session.call_tool("get_dicom_export_job", {"datastore_id": ds, "job_id": job_id}))
            if job.get("job_status") not in EXPORT_ACTIVE:
                break
            await asyncio.sleep(0.01)
        seconds = time.perf_counter() - t0
        want = len(ctx.fx.update_ids)
        files = list(out.rglob("*.dcm")) if out.exists() else []
        done = job.get("job_status") == "COMPLETED" and len(files) == want
        note = "" if done else f"{job.get('job_status')}: {len(files)} of {want} files written"
        return Outcome(
            seconds, done, note, info=f"{want} instances, {sum(f.stat().st_size for f in files) / 2**20:.1f} MiB"
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)


# ---- floors ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Floor:
    seconds: float
    how: str


def floor_start(ctx: Ctx) -> Floor:
    return Floor(ctx.noop_start_s, "no-op server of the same SDK: start to tools listed")


def floor_calls(calls: Callable[[Ctx], int]) -> Callable[[Ctx], Floor]:
    def floor(ctx: Ctx) -> Floor:
        n = calls(ctx)
        return Floor(n * (ctx.noop_call_s + ctx.latency_s), f"{n} x (no-op call + 1 RTT)")

    return floor


def floor_fan_out(ctx: Ctx) -> Floor:
    studies = ctx.fx.sizes.studies
    trips = math.ceil(studies / SEARCH_PAGE) + math.ceil(studies / READ_CONCURRENCY)
    return Floor(
        ctx.noop_call_s + trips * ctx.latency_s,
        f"no-op call + {trips} RTT (search, then {studies} metadata reads {READ_CONCURRENCY} at a time)",
    )


def floor_trips(trips: int, how: str) -> Callable[[Ctx], Floor]:
    """One call whose critical path is `trips` round trips, described by `how`."""

    def floor(ctx: Ctx) -> Floor:
        return Floor(ctx.noop_call_s + trips * ctx.latency_s, f"no-op call + {trips} RTT ({how})")

    return floor


SHEET_TRIPS = 3 + math.ceil((SHEET_TILES - 1) / SHEET_CONCURRENCY)


def floor_export(ctx: Ctx) -> Floor:
    n = len(ctx.fx.update_ids)
    trips = math.ceil(n / SEARCH_PAGE) + 2 * math.ceil(n / READ_CONCURRENCY)
    return Floor(
        ctx.noop_call_s + trips * ctx.latency_s,
        f"no-op call + {trips} RTT (search, then {n} metadata reads and {n} GetDICOMInstance, "
        f"{READ_CONCURRENCY} at a time); on AWS GetDICOMInstance's 50/s would add nothing below {n / 50:.1f} s",
    )


def floor_writes(count: Callable[[Ctx], int]) -> Callable[[Ctx], Floor]:
    def floor(ctx: Ctx) -> Floor:
        n = count(ctx)
        burst = WRITE_QUOTA[1]
        trips = math.ceil(n / SEARCH_PAGE) + 2
        seconds = ctx.noop_call_s + trips * ctx.latency_s + (n - burst) / ctx.write_rate
        return Floor(
            seconds,
            f"no-op call + {trips} RTT (search; last write, its confirmation) + "
            f"{n - burst:.0f} writes at {ctx.write_rate:g}/s",
        )

    return floor


# ---- the table -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    key: str
    """--only name."""
    title: Callable[[Ctx], str]
    run: Callable[[Ctx, ClientSession], Awaitable[Outcome]] | None
    """None for process start, which the runner measures itself (a new process per run)."""
    floor: Callable[[Ctx], Floor]
    writes: bool = False
    """Runs with the throttle table on, no warm-up run (it would change the data)."""


SCENARIOS: list[Scenario] = [
    Scenario("start", lambda c: "process start to tools listed", None, floor_start),
    Scenario(
        "get_datastore",
        lambda c: f"{c.fx.sizes.get_datastore} sequential get_datastore",
        run_get_datastore,
        floor_calls(lambda c: c.fx.sizes.get_datastore),
    ),
    Scenario(
        "search_pages",
        lambda c: f"search_image_sets over {c.fx.sizes.pages} pages of {c.fx.sizes.page_size}",
        run_search_pages,
        floor_calls(lambda c: c.fx.sizes.pages),
    ),
    Scenario(
        "metadata",
        lambda c: f"get_image_set_metadata, {c.fx.sizes.instances:,} instances",
        run_metadata,
        floor_calls(lambda c: 1),
    ),
    Scenario(
        "patient_studies",
        lambda c: f"get_patient_studies, {c.fx.sizes.studies} studies",
        run_patient_read("get_patient_studies"),
        floor_calls(lambda c: math.ceil(c.fx.sizes.studies / SEARCH_PAGE)),
    ),
    Scenario(
        "dicomweb_studies",
        lambda c: f"get_patient_dicomweb_studies, {c.fx.sizes.studies} studies",
        run_patient_read("get_patient_dicomweb_studies"),
        floor_fan_out,
    ),
    Scenario(
        "update",
        lambda c: f"update_patient_study_metadata, {c.fx.sizes.update} image sets",
        run_update,
        floor_writes(lambda c: c.fx.sizes.update),
        writes=True,
    ),
    Scenario(
        "delete",
        lambda c: f"delete_patient_studies, {c.fx.sizes.delete} image sets",
        run_delete,
        floor_writes(lambda c: c.fx.sizes.delete),
        writes=True,
    ),
    Scenario(
        "render",
        lambda c: "render_image_frame, middle slice of a series",
        run_render,
        floor_trips(3, "the series' primary image set, its metadata, the frame"),
    ),
    Scenario(
        "contact_sheet",
        lambda c: f"render_series_contact_sheet, {SHEET_TILES} tiles",
        run_contact_sheet,
        floor_trips(
            SHEET_TRIPS,
            f"primary image set, metadata, the middle frame, then {SHEET_TILES - 1} frames "
            f"{SHEET_CONCURRENCY} at a time",
        ),
    ),
    Scenario(
        "export",
        lambda c: f"start_dicom_export_job, one study of {len(c.fx.update_ids)} instances to a folder",
        run_export,
        floor_export,
    ),
]

PENDING: dict[str, str] = {}
"""Scenarios for tools not in this build yet (other work of this round)."""
