"""``--demo``: what an agent sees. Starts this server over stdio through the MCP client, lists
its tools, and calls a few of them against the configured HealthImaging (``--local`` for the
embedded one), printing readable results."""

from __future__ import annotations

import argparse
import asyncio
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
    return 0


def run_demo(args: argparse.Namespace) -> int:
    return asyncio.run(_demo(args))
