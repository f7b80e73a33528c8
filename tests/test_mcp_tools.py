"""The MCP server as an MCP host runs it: a subprocess speaking MCP over stdio, driven by the mcp
SDK client, against a local HealthImaging started in the test process. Every tool is called on
really imported samples; what a tool writes is checked independently with boto3 or another tool,
and what it reads is checked against the sample manifest."""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import shutil
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import mcp_types
import pytest
from awslabs.healthimaging_mcp_server import __version__, local
from botocore.exceptions import ClientError
from conftest import (
    MCP_MODULE,
    ROLE_ARN,
    UNTYPED_TOOLS,
    WORKFLOW_READ_TOOLS,
    WORKFLOW_WRITE_TOOLS,
    error_of,
    files_by_series,
    get_metadata,
    instances_of,
    mcp_env,
    mcp_session,
    paginate,
    run_async,
    search_all,
    start_server,
    tool_error,
)

ALL_TOOLS = {
    "create_datastore",
    "delete_datastore",
    "get_datastore",
    "list_datastores",
    "start_dicom_import_job",
    "get_dicom_import_job",
    "list_dicom_import_jobs",
    "search_image_sets",
    "get_image_set",
    "get_image_set_metadata",
    "list_image_set_versions",
    "update_image_set_metadata",
    "delete_image_set",
    "copy_image_set",
    "get_image_frame",
    "list_tags_for_resource",
    "tag_resource",
    "untag_resource",
}
EXPORT_TOOLS: set[str] = {"start_dicom_export_job", "get_dicom_export_job", "list_dicom_export_jobs"}
"""The ``export`` toolset: the original's three export tools, as jobs of this server."""
ORIGINAL_TOOLS = ALL_TOOLS | WORKFLOW_READ_TOOLS | WORKFLOW_WRITE_TOOLS | EXPORT_TOOLS
"""The original 0.1.1 tool names, all served."""
PIXEL_TOOLS: set[str] = {"render_image_frame", "render_series_contact_sheet", "get_image_set_summary"}
"""The ``pixels`` toolset (read-only)."""
DICOMWEB_READ_TOOLS: set[str] = {
    "search_dicom_studies",
    "search_dicom_series",
    "search_dicom_instances",
    "get_dicom_series_metadata",
    "get_dicom_instance_metadata",
    "retrieve_dicom_instances",
}
DICOMWEB_WRITE_TOOLS: set[str] = {"store_dicom_files"}
"""The ``dicomweb`` toolset."""
JOB_TOOLS: set[str] = {"get_job", "list_jobs", "cancel_job"}
"""The ``jobs`` toolset (cancel_job writes: it stops a job)."""
ALL_TOOLS = ORIGINAL_TOOLS | PIXEL_TOOLS | DICOMWEB_READ_TOOLS | DICOMWEB_WRITE_TOOLS | JOB_TOOLS
DESTRUCTIVE = {
    "delete_datastore",
    "delete_image_set",
    "update_image_set_metadata",
    "untag_resource",
} | WORKFLOW_WRITE_TOOLS
WRITE_TOOLS = (
    {
        "create_datastore",
        "delete_datastore",
        "start_dicom_import_job",
        "update_image_set_metadata",
        "delete_image_set",
        "copy_image_set",
        "tag_resource",
        "untag_resource",
    }
    | WORKFLOW_WRITE_TOOLS
    | DICOMWEB_WRITE_TOOLS
    | {"start_dicom_export_job"}
    | {"cancel_job"}
)
READ_ONLY_TOOLS = ALL_TOOLS - WRITE_TOOLS
CONTENT_TYPES = {
    "1.2.840.10008.1.2.4.202": "image/jph",
    "1.2.840.10008.1.2.4.90": "image/j2c",
    "1.2.840.10008.1.2.1": "application/octet-stream",
}
UNKNOWN_ID = "0" * 32


# ---- helpers -----------------------------------------------------------------------------------


async def call(session, name: str, **arguments: Any) -> dict:
    """A tool call that must succeed; returns its structured content (equal to its text), or for
    an untyped tool (no output schema) its text parsed."""
    result = await session.call_tool(name, arguments)
    text = result.content[0].text if result.content else ""
    assert not result.is_error, f"{name}({arguments}) failed: {text}"
    if name in UNTYPED_TOOLS:
        assert result.structured_content is None, name
        return json.loads(text)
    assert isinstance(result.structured_content, dict), result
    assert json.loads(text) == result.structured_content, f"{name}: text and structured content differ"
    return result.structured_content


async def call_error(session, name: str, **arguments: Any) -> dict:
    """A tool call that must fail; returns the parsed error body."""
    return tool_error(await session.call_tool(name, arguments))


async def poll(session, name: str, done, *, attempts: int = 200, **arguments: Any) -> dict:
    """Calls a read tool until `done(result)`; fails after `attempts` calls."""
    import asyncio

    for _ in range(attempts):
        result = await call(session, name, **arguments)
        if done(result):
            return result
        await asyncio.sleep(0.02)
    raise AssertionError(f"{name}({arguments}) never reached the expected state; last: {result}")


async def pages(session, name: str, key: str, page_size: int, **arguments: Any) -> tuple[list[dict], int]:
    """Every item of a paginated tool, `page_size` per call following next_token; and the page count."""
    items: list[dict] = []
    token = None
    count = 0
    while True:
        page = await call(session, name, max_results=page_size, **arguments, **({"next_token": token} if token else {}))
        count += 1
        assert len(page[key]) <= page_size, page
        items.extend(page[key])
        token = page.get("next_token")
        if not token:
            return items, count
        assert count < 100, "pagination does not end"


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def equal(attribute: dict) -> dict:
    return {"filters": [{"operator": "EQUAL", "values": [attribute]}]}


def series_of(summaries: list[dict]) -> list[str]:
    return [s["dicom_tags"]["dicom_series_instance_uid"] for s in summaries]


@pytest.fixture(scope="module")
def env(server) -> dict[str, str]:
    return mcp_env(server.endpoint_url)


@pytest.fixture(scope="module")
def staged(server) -> str:
    """The samples staged under the local server's S3 stand-in folder (s3://mcp-samples/dicom/)."""
    shutil.copytree(local.SAMPLES_DIR, Path(server.s3_root) / "mcp-samples" / "dicom", dirs_exist_ok=True)
    return "s3://mcp-samples/dicom/"


# ---- 1. discovery ------------------------------------------------------------------------------


def test_list_tools_annotations_schemas_and_server_info(env):
    async def scenario():
        async with mcp_session(env) as (session, init):
            return init, (await session.list_tools()).tools

    init, tools = run_async(scenario())
    assert init.server_info.name == "awslabs.healthimaging-mcp-server"
    assert init.server_info.version == __version__
    assert "search_image_sets" in (init.instructions or "")

    assert len(tools) == len(ALL_TOOLS)
    assert len(ORIGINAL_TOOLS) == 39
    assert {t.name for t in tools} == ALL_TOOLS
    for tool in tools:
        a = tool.annotations
        assert a is not None, tool.name
        hints = (a.read_only_hint, a.destructive_hint, a.idempotent_hint, a.open_world_hint)
        assert all(isinstance(h, bool) for h in hints), (tool.name, hints)
        assert a.read_only_hint is (tool.name in READ_ONLY_TOOLS), tool.name
        assert a.destructive_hint is (tool.name in DESTRUCTIVE), tool.name
        assert a.open_world_hint is True, tool.name
        if a.read_only_hint:
            assert a.idempotent_hint is True, tool.name
        assert tool.description, tool.name
        assert tool.input_schema["type"] == "object", tool.name
        # The output schema comes from the tool's output type: every tool but the untyped
        # metadata document has one, with the fields it always returns marked required.
        schema = tool.output_schema
        if tool.name in UNTYPED_TOOLS:
            assert schema is None, tool.name
            continue
        assert schema is not None, tool.name
        assert schema["type"] == "object", tool.name
        assert schema["properties"], tool.name
        assert set(schema.get("required", [])) <= set(schema["properties"]), tool.name


# ---- 2. every tool on really imported samples --------------------------------------------------


def test_every_tool_on_imported_samples(server, client, env, staged, manifest):
    by_series = files_by_series(manifest)
    name = f"mcp-{uuid.uuid4().hex[:10]}"
    other_name = f"mcp-other-{uuid.uuid4().hex[:6]}"
    output_uri = f"s3://mcp-samples/output/{name}/"

    async def scenario():
        async with mcp_session(env) as (s, _):
            # -- data store: create, wait for ACTIVE
            created = await call(s, "create_datastore", datastore_name=name, tags={"team": "pytest"})
            ds = created["datastore_id"]
            assert created["datastore_status"] in ("CREATING", "ACTIVE")
            assert client.get_datastore(datastoreId=ds)["datastoreProperties"]["datastoreName"] == name
            props = (
                await poll(
                    s,
                    "get_datastore",
                    lambda r: r["datastore_properties"]["datastore_status"] == "ACTIVE",
                    datastore_id=ds,
                )
            )["datastore_properties"]
            assert props["datastore_id"] == ds
            assert props["datastore_name"] == name
            arn = props["datastore_arn"]
            assert arn.endswith(f":datastore/{ds}")

            # -- import
            started = await call(
                s,
                "start_dicom_import_job",
                datastore_id=ds,
                data_access_role_arn=ROLE_ARN,
                input_s3_uri=staged,
                output_s3_uri=output_uri,
                job_name="mcp-import",
            )
            assert started["datastore_id"] == ds
            assert started["job_status"] in ("SUBMITTED", "IN_PROGRESS", "COMPLETED")
            job_id = started["job_id"]
            job = (
                await poll(
                    s,
                    "get_dicom_import_job",
                    lambda r: r["job_properties"]["job_status"] in ("COMPLETED", "FAILED"),
                    datastore_id=ds,
                    job_id=job_id,
                )
            )["job_properties"]
            assert job["job_status"] == "COMPLETED", job
            assert job["job_name"] == "mcp-import"
            assert job["input_s3_uri"] == staged
            assert job["output_s3_uri"] == output_uri
            assert job["data_access_role_arn"] == ROLE_ARN
            boto_job = client.get_dicom_import_job(datastoreId=ds, jobId=job_id)["jobProperties"]
            assert boto_job["jobStatus"] == "COMPLETED"
            assert boto_job["outputS3Uri"] == output_uri

            jobs = (await call(s, "list_dicom_import_jobs", datastore_id=ds))["job_summaries"]
            assert [(j["job_id"], j["job_status"]) for j in jobs] == [(job_id, "COMPLETED")]
            completed = await call(s, "list_dicom_import_jobs", datastore_id=ds, job_status="COMPLETED", max_results=5)
            assert [j["job_id"] for j in completed["job_summaries"]] == [job_id]
            failed = await call(s, "list_dicom_import_jobs", datastore_id=ds, job_status="FAILED")
            assert failed["job_summaries"] == []

            # -- search: everything, filters, and one-per-page pagination
            everything = (await call(s, "search_image_sets", datastore_id=ds, max_results=50))[
                "image_sets_metadata_summaries"
            ]
            assert sorted(series_of(everything)) == sorted(by_series)
            image_sets = {x["dicom_tags"]["dicom_series_instance_uid"]: x["image_set_id"] for x in everything}
            boto_summaries, _ = search_all(client, ds, page_size=50)
            assert {x["imageSetId"] for x in boto_summaries} == set(image_sets.values())
            for summary in everything:
                files = by_series[summary["dicom_tags"]["dicom_series_instance_uid"]]
                tags = summary["dicom_tags"]
                assert tags["dicom_patient_id"] == files[0]["patient_id"]
                assert tags["dicom_study_instance_uid"] == files[0]["study_instance_uid"]
                assert tags["dicom_accession_number"] == files[0]["accession_number"]
                assert summary["version"] == 1
                assert summary["is_primary"] is True

            paged, page_count = await pages(s, "search_image_sets", "image_sets_metadata_summaries", 1, datastore_id=ds)
            assert len(paged) == 4
            assert page_count >= 4
            assert {x["image_set_id"] for x in paged} == set(image_sets.values())

            patient_a = await call(
                s, "search_image_sets", datastore_id=ds, search_criteria=equal({"DICOMPatientId": "HI-PAT-A"})
            )
            want_a = {f["series_instance_uid"] for f in manifest["files"] if f["patient_id"] == "HI-PAT-A"}
            assert set(series_of(patient_a["image_sets_metadata_summaries"])) == want_a
            b1 = next(f for f in manifest["files"] if f["study_id"] == "B1")
            by_study = await call(
                s,
                "search_image_sets",
                datastore_id=ds,
                search_criteria={
                    "filters": [
                        {"operator": "EQUAL", "values": [{"DICOMStudyInstanceUID": b1["study_instance_uid"]}]},
                        {"operator": "EQUAL", "values": [{"DICOMAccessionNumber": b1["accession_number"]}]},
                    ]
                },
            )
            want_b1 = {f["series_instance_uid"] for f in manifest["files"] if f["study_id"] == "B1"}
            assert set(series_of(by_study["image_sets_metadata_summaries"])) == want_b1
            dated = await call(
                s,
                "search_image_sets",
                datastore_id=ds,
                search_criteria={
                    "filters": [
                        {
                            "operator": "BETWEEN",
                            "values": [
                                {"DICOMStudyDateAndTime": {"DICOMStudyDate": "20240101"}},
                                {"DICOMStudyDateAndTime": {"DICOMStudyDate": "20241231"}},
                            ],
                        }
                    ]
                },
            )
            want_2024 = {f["series_instance_uid"] for f in manifest["files"] if f["study_date"].startswith("2024")}
            assert set(series_of(dated["image_sets_metadata_summaries"])) == want_2024
            nobody = await call(s, "search_image_sets", datastore_id=ds, search_criteria=equal({"DICOMPatientId": "X"}))
            assert nobody["image_sets_metadata_summaries"] == []

            # -- read every image set: properties, metadata (vs. the manifest), every frame
            frames_checked = 0
            for series_uid, image_set_id in image_sets.items():
                files = by_series[series_uid]
                props = await call(s, "get_image_set", datastore_id=ds, image_set_id=image_set_id)
                assert props["image_set_id"] == image_set_id
                assert props["datastore_id"] == ds
                assert props["version_id"] == "1"
                assert props["image_set_state"] == "ACTIVE"
                assert props["is_primary"] is True
                assert props["image_set_arn"].endswith(f"/imageset/{image_set_id}")

                meta = await call(s, "get_image_set_metadata", datastore_id=ds, image_set_id=image_set_id)
                doc = meta["image_set_metadata"]
                assert isinstance(doc, dict)
                assert doc == get_metadata(client, ds, image_set_id)
                assert doc["ImageSetID"] == image_set_id
                assert doc["Patient"]["DICOM"]["PatientID"] == files[0]["patient_id"]
                assert doc["Patient"]["DICOM"]["PatientName"] == files[0]["patient_name"]
                assert doc["Study"]["DICOM"]["StudyInstanceUID"] == files[0]["study_instance_uid"]
                assert list(doc["Study"]["Series"]) == [series_uid]
                instances = instances_of(doc)
                assert set(instances) == {f["sop_instance_uid"] for f in files}

                for f in files:
                    for got, want in zip(instances[f["sop_instance_uid"]]["ImageFrames"], f["frames"], strict=True):
                        frame = await call(
                            s,
                            "get_image_frame",
                            datastore_id=ds,
                            image_set_id=image_set_id,
                            image_frame_information={"imageFrameId": got["ID"]},
                        )
                        body = base64.b64decode(frame["image_frame_blob"], validate=True)
                        where = f"{f['path']} frame {want['index']}"
                        assert hashlib.sha256(body).hexdigest() == want["sha256"], where
                        assert len(body) == want["length"], where
                        assert frame["content_type"] == CONTENT_TYPES[f["transfer_syntax_uid"]], where
                        if "size_bytes" in frame:
                            assert frame["size_bytes"] == want["length"], where
                        frames_checked += 1
            assert frames_checked == manifest["totals"]["frames"]

            # -- update metadata: new version, visible to both clients; stale version conflicts
            a1_series = next(f["series_instance_uid"] for f in manifest["files"] if f["study_id"] == "A1")
            a1 = image_sets[a1_series]
            updates = {
                "DICOMUpdates": {
                    "updatableAttributes": {"SchemaVersion": "1.1", "Patient": {"DICOM": {"PatientName": "X^Y"}}}
                }
            }
            written = await call(
                s,
                "update_image_set_metadata",
                datastore_id=ds,
                image_set_id=a1,
                latest_version_id="1",
                update_image_set_metadata_updates=updates,
            )
            assert written["image_set_id"] == a1
            assert written["latest_version_id"] == "2"
            meta = await call(s, "get_image_set_metadata", datastore_id=ds, image_set_id=a1)
            assert meta["image_set_metadata"]["Patient"]["DICOM"]["PatientName"] == "X^Y"
            assert get_metadata(client, ds, a1)["Patient"]["DICOM"]["PatientName"] == "X^Y"
            assert (await call(s, "get_image_set", datastore_id=ds, image_set_id=a1))["version_id"] == "2"
            v1 = await call(s, "get_image_set_metadata", datastore_id=ds, image_set_id=a1, version_id="1")
            assert v1["image_set_metadata"]["Patient"]["DICOM"]["PatientName"] == "DOE^JANE"

            conflict = await call_error(
                s,
                "update_image_set_metadata",
                datastore_id=ds,
                image_set_id=a1,
                latest_version_id="1",
                update_image_set_metadata_updates={
                    "DICOMUpdates": {
                        "updatableAttributes": {
                            "SchemaVersion": "1.1",
                            "Patient": {"DICOM": {"PatientName": "STALE^WRITE"}},
                        }
                    }
                },
            )
            assert conflict["type"] == "conflict_error", conflict
            assert client.get_image_set(datastoreId=ds, imageSetId=a1)["versionId"] == "2"
            assert get_metadata(client, ds, a1)["Patient"]["DICOM"]["PatientName"] == "X^Y"

            versions = (await call(s, "list_image_set_versions", datastore_id=ds, image_set_id=a1))[
                "image_set_properties_list"
            ]
            assert [v["version_id"] for v in versions] == ["2", "1"]
            assert {v["image_set_id"] for v in versions} == {a1}
            paged_versions, _ = await pages(
                s, "list_image_set_versions", "image_set_properties_list", 1, datastore_id=ds, image_set_id=a1
            )
            assert [v["version_id"] for v in paged_versions] == ["2", "1"]

            # -- copy two instances into a new image set
            chosen = [f["sop_instance_uid"] for f in by_series[a1_series][:2]]
            copied = await call(
                s,
                "copy_image_set",
                datastore_id=ds,
                source_image_set_id=a1,
                copy_image_set_information={
                    "sourceImageSet": {
                        "latestVersionId": "2",
                        "DICOMCopies": {
                            "copiableAttributes": {
                                "SchemaVersion": "1.1",
                                "Study": {"Series": {a1_series: {"Instances": {sop: {} for sop in chosen}}}},
                            }
                        },
                    }
                },
            )
            assert copied["source_image_set_properties"]["image_set_id"] == a1
            copy_id = copied["destination_image_set_properties"]["image_set_id"]
            assert copy_id not in image_sets.values()
            copy_doc = (await call(s, "get_image_set_metadata", datastore_id=ds, image_set_id=copy_id))[
                "image_set_metadata"
            ]
            assert copy_doc["ImageSetID"] == copy_id
            assert set(instances_of(copy_doc)) == set(chosen)
            assert copy_doc["Patient"]["DICOM"]["PatientName"] == "X^Y"
            assert set(instances_of(get_metadata(client, ds, copy_id))) == set(chosen)
            assert len(instances_of(get_metadata(client, ds, a1))) == len(by_series[a1_series])

            # -- delete the copy
            deleted = await call(s, "delete_image_set", datastore_id=ds, image_set_id=copy_id)
            assert deleted["image_set_id"] == copy_id
            gone = await call_error(s, "get_image_set", datastore_id=ds, image_set_id=copy_id)
            assert gone["type"] == "not_found", gone
            with pytest.raises(ClientError) as info:
                client.get_image_set(datastoreId=ds, imageSetId=copy_id)
            assert error_of(info.value) == ("ResourceNotFoundException", 404)

            # -- tags on the data store ARN
            tags = await call(s, "list_tags_for_resource", resource_arn=arn)
            assert tags["tags"] == {"team": "pytest"}
            await call(s, "tag_resource", resource_arn=arn, tags={"env": "test", "owner": "mcp"})
            assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {
                "team": "pytest",
                "env": "test",
                "owner": "mcp",
            }
            await call(s, "untag_resource", resource_arn=arn, tag_keys=["env", "team"])
            assert (await call(s, "list_tags_for_resource", resource_arn=arn))["tags"] == {"owner": "mcp"}
            assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {"owner": "mcp"}

            # -- list data stores one per page over at least two
            other = (await call(s, "create_datastore", datastore_name=other_name))["datastore_id"]
            listed, page_count = await pages(s, "list_datastores", "datastore_summaries", 1)
            listed_ids = [d["datastore_id"] for d in listed]
            assert len(listed_ids) == len(set(listed_ids)) >= 2
            assert {ds, other} <= set(listed_ids)
            assert page_count >= len(listed_ids)
            boto_ids = {d["datastoreId"] for d in paginate(client, "list_datastores", "datastoreSummaries", 50)[0]}
            assert set(listed_ids) == boto_ids
            names = {d["datastore_id"]: d["datastore_name"] for d in listed}
            assert (names[ds], names[other]) == (name, other_name)

            # -- delete_datastore is refused while image sets exist, succeeds once they are gone
            refused = await call_error(s, "delete_datastore", datastore_id=ds)
            assert refused["type"] == "conflict_error", refused
            assert client.get_datastore(datastoreId=ds)["datastoreProperties"]["datastoreStatus"] == "ACTIVE"
            remaining = (await call(s, "search_image_sets", datastore_id=ds, max_results=50))[
                "image_sets_metadata_summaries"
            ]
            assert len(remaining) == 4
            for x in remaining:
                await call(s, "delete_image_set", datastore_id=ds, image_set_id=x["image_set_id"])
            assert search_all(client, ds)[0] == []
            dropped = await call(s, "delete_datastore", datastore_id=ds)
            assert dropped["datastore_id"] == ds
            assert dropped["datastore_status"] in ("DELETING", "DELETED")
            await call(s, "delete_datastore", datastore_id=other)
            for gone_id in (ds, other):
                status = client.get_datastore(datastoreId=gone_id)["datastoreProperties"]["datastoreStatus"]
                assert status in ("DELETING", "DELETED")

    run_async(scenario())


# ---- 3. errors ---------------------------------------------------------------------------------


def test_errors_are_structured_and_validation_sends_nothing(server, client, env):
    datastore_id = client.create_datastore(datastoreName=f"mcp-err-{uuid.uuid4().hex[:6]}", clientToken="e" * 32)[
        "datastoreId"
    ]

    async def scenario():
        async with mcp_session(env) as (s, _):
            await call(s, "get_datastore", datastore_id=datastore_id)  # the engine is connected

            async def refused_locally(name: str, **arguments: Any) -> dict:
                before = server.stats()["requests"]
                body = await call_error(s, name, **arguments)
                assert server.stats()["requests"] == before, f"{name}({arguments}) sent a request"
                assert body["type"] == "validation_error", body
                return body

            body = await refused_locally("get_image_set", datastore_id=datastore_id, image_set_id="not-an-id")
            assert "image_set_id" in body["message"]
            body = await refused_locally("get_datastore", datastore_id="A" * 32)
            assert "datastore_id" in body["message"]
            body = await refused_locally("list_datastores", max_results="lots")
            assert "max_results" in body["message"]
            body = await refused_locally("list_datastores", max_results=500)
            assert "max_results" in body["message"]
            body = await refused_locally("get_image_set", datastore_id=datastore_id)  # required argument missing
            assert "image_set_id" in body["message"]
            body = await refused_locally(
                "start_dicom_import_job",
                datastore_id=datastore_id,
                data_access_role_arn=ROLE_ARN,
                input_s3_uri="s3://mcp-samples/dicom/",
            )
            assert "output_s3_uri" in body["message"]
            assert client.list_dicom_import_jobs(datastoreId=datastore_id)["jobSummaries"] == []

            body = await call_error(s, "get_image_set", datastore_id=datastore_id, image_set_id=UNKNOWN_ID)
            assert body["type"] == "not_found", body
            body = await call_error(s, "get_datastore", datastore_id=UNKNOWN_ID)
            assert body["type"] == "not_found", body

    run_async(scenario())


def test_wrong_secret_is_auth_error(server):
    before = server.stats()["requests"]

    async def scenario():
        async with mcp_session(mcp_env(server.endpoint_url, AWS_SECRET_ACCESS_KEY="wrong")) as (s, _):
            return await call_error(s, "list_datastores")

    body = run_async(scenario())
    assert body["type"] == "auth_error", body
    assert server.stats()["requests"] > before  # refused by the server, not by the client


def test_unreachable_endpoint_is_service_error():
    env = mcp_env(f"http://127.0.0.1:{closed_port()}")

    async def scenario():
        async with mcp_session(env) as (s, _):
            return await call_error(s, "list_datastores")

    body = run_async(scenario())
    assert body["type"] == "service_error", body


def test_throttling_is_throttling_error(tmp_path):
    with start_server(tmp_path, throttle_rate=1.0) as throttled:

        async def scenario():
            async with mcp_session(mcp_env(throttled.endpoint_url)) as (s, _):
                return await call_error(s, "list_datastores")

        body = run_async(scenario())
        assert body["type"] == "throttling_error", body
        stats = throttled.stats()
        assert stats["throttled"] == stats["requests"] >= 1


# ---- 4. read-only mode -------------------------------------------------------------------------


def test_readonly_registers_only_read_only_tools(client, env):
    datastore_id = client.create_datastore(datastoreName=f"mcp-ro-{uuid.uuid4().hex[:6]}", clientToken="r" * 32)[
        "datastoreId"
    ]

    async def scenario():
        async with mcp_session(env, "--readonly") as (s, _):
            tools = (await s.list_tools()).tools
            deleted = await s.call_tool("delete_datastore", {"datastore_id": datastore_id})
            listed = await call(s, "list_datastores", max_results=50)
            return tools, deleted, listed

    tools, deleted, listed = run_async(scenario())
    assert {t.name for t in tools} == READ_ONLY_TOOLS
    assert all(t.annotations and t.annotations.read_only_hint is True for t in tools)
    assert not WRITE_TOOLS & {t.name for t in tools}
    refused = tool_error(deleted)
    assert refused["type"] == "validation_error", refused
    assert "delete_datastore" in refused["message"]
    assert datastore_id in {d["datastore_id"] for d in listed["datastore_summaries"]}
    assert client.get_datastore(datastoreId=datastore_id)["datastoreProperties"]["datastoreStatus"] == "ACTIVE"


# ---- 5. resources ------------------------------------------------------------------------------


def test_datastore_resources(client, env):
    name = f"mcp-res-{uuid.uuid4().hex[:6]}"
    datastore_id = client.create_datastore(datastoreName=name, clientToken="s" * 32)["datastoreId"]

    async def scenario():
        async with mcp_session(env) as (s, _):
            resources = (await s.list_resources()).resources
            templates = (await s.list_resource_templates()).resource_templates
            everything = (await s.read_resource("healthimaging://datastores")).contents
            one = (await s.read_resource(f"healthimaging://datastores/{datastore_id}")).contents
            return resources, templates, everything, one

    resources, templates, everything, one = run_async(scenario())
    assert "healthimaging://datastores" in {str(r.uri) for r in resources}
    assert "healthimaging://datastores/{datastore_id}" in {t.uri_template for t in templates}

    (content,) = everything
    assert content.mime_type == "application/json"
    listed = {d["datastore_id"]: d for d in json.loads(content.text)["datastores"]}
    boto_ids = {d["datastoreId"] for d in paginate(client, "list_datastores", "datastoreSummaries", 50)[0]}
    assert set(listed) == boto_ids
    assert listed[datastore_id]["datastore_name"] == name

    (content,) = one
    props = json.loads(content.text)["datastore_properties"]
    assert props["datastore_id"] == datastore_id
    assert props["datastore_name"] == name
    assert props["datastore_status"] == "ACTIVE"


# ---- 6. --local --------------------------------------------------------------------------------


def test_local_flag_seeds_once_and_keeps_state(tmp_path, manifest):
    data_dir = tmp_path / "local-state"
    env = mcp_env(None, XDG_DATA_HOME=str(tmp_path / "xdg"))
    # --local must not depend on these being set; it sets its own.
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AWS_DISABLE_HOST_PREFIX_INJECTION"):
        env.pop(key)

    async def one_run() -> tuple[list[dict], list[dict]]:
        async with mcp_session(env, "--local", "--local-data-dir", str(data_dir)) as (s, _):
            stores = (await call(s, "list_datastores", max_results=50))["datastore_summaries"]
            seeded = [d for d in stores if d["datastore_name"] == local.SEED_DATASTORE_NAME]
            assert len(seeded) == 1, stores
            found, _ = await pages(
                s, "search_image_sets", "image_sets_metadata_summaries", 50, datastore_id=seeded[0]["datastore_id"]
            )
            return stores, found

    stores, found = run_async(one_run())
    assert len(stores) == 1
    assert stores[0]["datastore_status"] == "ACTIVE"
    assert len(found) == 4
    assert set(series_of(found)) == set(files_by_series(manifest))
    assert data_dir.is_dir() and any(data_dir.iterdir())
    assert not (tmp_path / "xdg").exists()  # the default data dir was not touched

    stores_again, found_again = run_async(one_run())
    assert [d["datastore_id"] for d in stores_again] == [stores[0]["datastore_id"]]
    assert {x["image_set_id"] for x in found_again} == {x["image_set_id"] for x in found}


# ---- 7. nothing but protocol on stdout ---------------------------------------------------------


def test_stdout_carries_only_json_rpc(env):
    proc = subprocess.Popen(
        [sys.executable, "-m", MCP_MODULE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    stderr: list[str] = []

    def pump_stdout() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def pump_stderr() -> None:
        assert proc.stderr is not None
        stderr.append(proc.stderr.read())

    threading.Thread(target=pump_stdout, daemon=True).start()
    stderr_reader = threading.Thread(target=pump_stderr, daemon=True)
    stderr_reader.start()

    def send(message: dict) -> None:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(message) + "\n")
        proc.stdin.flush()

    def response(request_id: int) -> dict:
        """Reads stdout lines until the response to `request_id`; every line must be JSON-RPC."""
        while True:
            try:
                line = lines.get(timeout=20)
            except queue.Empty:
                raise AssertionError(f"no response to request {request_id}; stderr: {stderr}") from None
            assert line is not None, f"stdout closed before response {request_id}; stderr: {stderr}"
            message = json.loads(line)
            assert message["jsonrpc"] == "2.0", line
            if message.get("id") == request_id:
                return message

    try:
        send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": mcp_types.LATEST_PROTOCOL_VERSION,
                    "capabilities": {},
                    "clientInfo": {"name": "pytest", "version": "0"},
                },
            }
        )
        init = response(1)
        assert "error" not in init, init
        assert init["result"]["serverInfo"]["version"] == __version__
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
        listed = response(2)
        assert {t["name"] for t in listed["result"]["tools"]} == ALL_TOOLS

        assert proc.stdin is not None
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
        while (line := lines.get(timeout=5)) is not None:
            assert json.loads(line)["jsonrpc"] == "2.0", line
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr_reader.join(timeout=5)
    text = "".join(stderr)
    assert "Traceback" not in text, text
