"""Strict tool inputs, end to end over MCP stdio against the local HealthImaging: an unknown or
misspelled argument, or an integer out of range, is refused with a validation_error before any
request, and the data store (read again with boto3) is exactly as before."""

from __future__ import annotations

import json

from conftest import Seeded, mcp_env, mcp_session, run_async, search_all, tool_error

INTEGER_RANGES = {"max_results", "max_deletions"}


def image_sets(client, datastore_id: str) -> dict[str, str]:
    """imageSetId -> version of every image set of the data store, as boto3 sees it."""
    found, _ = search_all(client, datastore_id, page_size=50)
    return {s["imageSetId"]: str(s["version"]) for s in found}


def test_every_input_schema_forbids_unknown_arguments_and_bounds_its_integers(server):
    async def scenario():
        async with mcp_session(mcp_env(server.endpoint_url)) as (s, _):
            return (await s.list_tools()).tools

    tools = run_async(scenario())
    assert len(tools) > 30
    bounded = {}
    for t in tools:
        assert t.input_schema.get("additionalProperties") is False, t.name
        for name, prop in t.input_schema["properties"].items():
            if name in INTEGER_RANGES:
                integer = next(p for p in prop.get("anyOf", [prop]) if p.get("type") == "integer")
                bounded[(t.name, name)] = (integer["minimum"], integer["maximum"])
    assert bounded[("list_datastores", "max_results")] == (1, 50)
    assert bounded[("search_image_sets", "max_results")] == (1, 50)
    assert bounded[("search_by_patient_id", "max_results")] == (1, 10000)
    assert bounded[("bulk_delete_by_criteria", "max_deletions")] == (1, 1000)
    assert all(low == 1 for low, _ in bounded.values())


def test_misspelled_arguments_are_refused_with_a_suggestion_and_nothing_is_deleted(server, client, seeded: Seeded):
    ds = seeded.datastore_id
    before = image_sets(client, ds)
    assert len(before) >= 3
    misspelled_dry_runs = ("dryRun", "dry-run", "DryRun", "dry run")

    async def scenario():
        async with mcp_session(mcp_env(server.endpoint_url)) as (s, _):
            out = {}
            for key in misspelled_dry_runs:
                out[key] = await s.call_tool(
                    "delete_patient_studies", {"datastore_id": ds, "patient_id": "HI-PAT-A", key: True}
                )
            out["searchCriteria"] = await s.call_tool(
                "search_image_sets",
                {"datastore_id": ds, "searchCriteria": {"filters": []}},
            )
            out["maxDeletions"] = await s.call_tool(
                "bulk_delete_by_criteria",
                {"datastore_id": ds, "criteria": {"DICOMPatientId": "HI-PAT-A"}, "maxDeletions": 0},
            )
            out["nonsense"] = await s.call_tool("delete_study", {"datastore_id": ds, "zzz": 1})
            return out

    out = run_async(scenario())
    for key in misspelled_dry_runs:
        body = tool_error(out[key])
        assert body["type"] == "validation_error", body
        assert f"unknown argument '{key}'; did you mean 'dry_run'?" in body["message"], body
    body = tool_error(out["searchCriteria"])
    assert body["type"] == "validation_error"
    assert "unknown argument 'searchCriteria'; did you mean 'search_criteria'?" in body["message"]
    body = tool_error(out["maxDeletions"])
    assert "unknown argument 'maxDeletions'; did you mean 'max_deletions'?" in body["message"]
    # Nothing close: the message lists the parameters (and the missing required one).
    body = tool_error(out["nonsense"])
    assert "unknown argument 'zzz'; known: datastore_id, dry_run, study_instance_uid" in body["message"]
    assert "study_instance_uid: Field required" in body["message"]
    assert image_sets(client, ds) == before  # nothing deleted, no version changed


def test_integers_out_of_range_are_validation_errors_before_any_request(server, client, seeded: Seeded):
    ds = seeded.datastore_id
    before = image_sets(client, ds)
    calls = [
        ("list_datastores", {"max_results": 0}),
        ("list_datastores", {"max_results": 51}),
        ("list_datastores", {"max_results": 2**63}),
        ("list_datastores", {"max_results": 2**64}),
        ("search_image_sets", {"datastore_id": ds, "max_results": 2**70}),
        ("search_by_patient_id", {"datastore_id": ds, "patient_id": "HI-PAT-A", "max_results": 10001}),
        (
            "bulk_delete_by_criteria",
            {"datastore_id": ds, "criteria": {"DICOMPatientId": "HI-PAT-A"}, "max_deletions": 0},
        ),
        (
            "bulk_delete_by_criteria",
            {"datastore_id": ds, "criteria": {"DICOMPatientId": "HI-PAT-A"}, "max_deletions": 2**64},
        ),
        (
            "bulk_delete_by_criteria",
            {"datastore_id": ds, "criteria": {"DICOMPatientId": "HI-PAT-A"}, "max_deletions": 1001},
        ),
    ]

    async def scenario():
        async with mcp_session(mcp_env(server.endpoint_url)) as (s, _):
            return [await s.call_tool(name, args) for name, args in calls]

    results = run_async(scenario())
    for (name, args), result in zip(calls, results, strict=True):
        body = tool_error(result)
        assert body["type"] == "validation_error", (name, args, body)
        field = "max_deletions" if "max_deletions" in args else "max_results"
        assert f"{field}: Input should be" in body["message"], body
    assert image_sets(client, ds) == before  # the bulk delete with 0 or 2**64 deleted nothing


def test_validation_errors_echo_only_a_prefix_of_huge_values(server):
    huge = "x" * 1_000_000

    async def scenario():
        async with mcp_session(mcp_env(server.endpoint_url)) as (s, _):
            return [
                await s.call_tool("list_datastores", {huge: 1}),
                await s.call_tool("list_datastores", {"max_results": "9" * 1_000_000}),
                await s.call_tool("list_datastores", {"max_results": huge}),
                await s.call_tool(huge, {}),
            ]

    results = run_async(scenario())
    for result in results:
        body = tool_error(result)
        assert body["type"] == "validation_error", body
        assert len(result.content[0].text) < 1000, len(result.content[0].text)
    first = tool_error(results[0])
    assert "(1000000 characters)" in first["message"], first


def test_a_corrected_argument_then_works(server, client, seeded: Seeded):
    """The suggestion is right: the same call with the suggested name runs (a dry run: nothing changes)."""
    ds = seeded.datastore_id
    before = image_sets(client, ds)

    async def scenario():
        async with mcp_session(mcp_env(server.endpoint_url)) as (s, _):
            return await s.call_tool(
                "delete_patient_studies", {"datastore_id": ds, "patient_id": "HI-PAT-A", "dry_run": True}
            )

    result = run_async(scenario())
    assert not result.is_error, result
    report = json.loads(result.content[0].text)
    assert report["dry_run"] is True and report["total"] >= 1
    assert image_sets(client, ds) == before
