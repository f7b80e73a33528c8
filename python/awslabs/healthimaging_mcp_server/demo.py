"""``--demo``: what an agent sees. Starts this server over stdio through the MCP client, lists
its tools, and calls a few of them against the configured HealthImaging (``--local`` for the
embedded one), printing readable results."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys

from mcp import ClientSession, StdioServerParameters, stdio_client


def _server_command(args: argparse.Namespace) -> StdioServerParameters:
    argv = ["-m", "awslabs.healthimaging_mcp_server.cli"]
    if args.local:
        argv.append("--local")
    if args.local_data_dir:
        argv += ["--local-data-dir", args.local_data_dir]
    if args.readonly:
        argv.append("--readonly")
    # The whole environment: the server needs the caller's AWS settings (or XDG_DATA_HOME for
    # --local), and the MCP client would otherwise pass only a few safe variables.
    return StdioServerParameters(command=sys.executable, args=argv, env=dict(os.environ))


async def _call(session: ClientSession, name: str, **arguments) -> dict:
    result = await session.call_tool(name, arguments)
    text = result.content[0].text if result.content else "{}"
    if result.is_error:
        raise SystemExit(f"{name} failed: {text}")
    return result.structured_content or json.loads(text)


async def _demo(args: argparse.Namespace) -> int:
    async with (
        stdio_client(_server_command(args)) as (read, write),
        ClientSession(read, write) as session,
    ):
        info = await session.initialize()
        tools = (await session.list_tools()).tools
        print(f"Connected to {info.server_info.name} {info.server_info.version} over stdio: {len(tools)} tools")
        print("  " + ", ".join(t.name for t in tools))
        stores = (await _call(session, "list_datastores"))["datastore_summaries"]
        print(f"\nlist_datastores: {len(stores)} data store(s)")
        for s in stores:
            print(f"  {s['datastore_id']}  {s['datastore_status']:<8} {s['datastore_name']}")
        if not stores:
            return 0
        ds = stores[0]["datastore_id"]
        found = await _call(session, "search_image_sets", datastore_id=ds, max_results=50)
        sets = found["image_sets_metadata_summaries"]
        print(f"\nsearch_image_sets in {ds}: {len(sets)} image set(s)")
        for s in sets:
            t = s.get("dicom_tags", {})
            print(
                f"  {s['image_set_id']}  v{s.get('version')}  primary={s.get('is_primary')}  "
                f"{t.get('dicom_patient_id', '')}  {t.get('dicom_study_date', '')}  "
                f"{t.get('dicom_series_modality', '')}  {t.get('dicom_number_of_study_related_instances', 0)} instances"
            )
        if sets:
            meta = await _call(
                session,
                "get_image_set_metadata",
                datastore_id=ds,
                image_set_id=sets[0]["image_set_id"],
            )
            doc = meta["image_set_metadata"]
            series = doc["Study"]["Series"]
            print(f"\nget_image_set_metadata {sets[0]['image_set_id']}:")
            print(f"  Patient: {json.dumps(doc['Patient']['DICOM'])}")
            print(f"  Study:   {json.dumps(doc['Study']['DICOM'].get('StudyDescription'))}, {len(series)} series")
            for uid, s in series.items():
                frames = sum(len(i.get("ImageFrames", [])) for i in s["Instances"].values())
                print(f"  Series {uid}: {s['DICOM'].get('Modality')}, {len(s['Instances'])} instances, {frames} frames")
        names = {t.name for t in tools}
        if sets and "get_image_set_summary" in names:
            await _summaries(session, ds, [s["image_set_id"] for s in sets])
        ct = [s for s in sets if s.get("dicom_tags", {}).get("dicom_series_modality") == "CT"]
        if ct and "render_image_frame" in names:
            await _render(session, ds, ct[0]["dicom_tags"]["dicom_series_instance_uid"])
    return 0


DEMO_PNG = "healthimaging-demo-ct-lung.png"
"""Where ``--demo`` writes the CT slice it renders (in the current directory)."""


async def _render(session: ClientSession, ds: str, series_uid: str) -> None:
    """Renders the middle slice of a CT series with the lung window and writes it as a PNG."""
    result = await session.call_tool(
        "render_image_frame",
        {"datastore_id": ds, "series_instance_uid": series_uid, "slice": "middle", "window_preset": "lung"},
    )
    if result.is_error:
        raise SystemExit(f"render_image_frame failed: {result.content[0].text}")
    frame = result.structured_content or json.loads(result.content[0].text)
    image = next(c for c in result.content if c.type == "image")
    with open(DEMO_PNG, "wb") as f:
        f.write(base64.b64decode(image.data))
    window = frame["window"]
    print(
        f"\nrender_image_frame (middle slice of the CT series, lung window {window['center']:g}/{window['width']:g}): "
        f"instance {frame['instance_number']}, {frame['output_width']}x{frame['output_height']} "
        f"{frame['mime_type']}, decoded in {frame['decode_ms']} ms -> {os.path.abspath(DEMO_PNG)}"
    )


async def _summaries(session: ClientSession, ds: str, image_set_ids: list[str]) -> None:
    print("\nget_image_set_summary (each image set in brief):")
    for image_set_id in image_set_ids:
        summary = await _call(session, "get_image_set_summary", datastore_id=ds, image_set_id=image_set_id)
        study, patient = summary["study"], summary["patient"]
        print(f"  {image_set_id}  {patient.get('id', '')}  {study.get('date', '')}  {study.get('description', '')}")
        for s in summary["series"]:
            spacing = s.get("spacing_between_slices")
            geometry = f", {spacing} mm apart ({s['spacing_source']})" if spacing is not None else ""
            print(
                f"    {s.get('modality', '?')} {s.get('description', '')}: {s['instances']} instances, "
                f"{s['frames']} frames, {'/'.join(s['rows_x_columns'])}{geometry}"
            )


def run_demo(args: argparse.Namespace) -> int:
    return asyncio.run(_demo(args))
