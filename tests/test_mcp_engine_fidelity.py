"""Engine fidelity, end to end over MCP stdio against the local HealthImaging, each result checked
with boto3: millisecond timestamps that work as search bounds, tag reports and the tag quota, one
patient-ID whitespace rule in every tool, integer series numbers, instance counts de-duplicated
by SOP Instance UID, the image sets an include_study_image_sets update changes, short error
echoes, and out-of-range integers."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from awslabs.healthimaging_mcp_server import local
from conftest import (
    call,
    get_metadata,
    make_client,
    ok,
    search_all,
    seed_datastore,
    stage_samples,
    tool_error,
)

FAR_FUTURE = "2999-01-01T00:00:00.000Z"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A local HealthImaging with the samples imported twice: one data store stays as imported,
    the other gets study B1's second series copied into its first image set (both primary, so
    those instances sit in two primary image sets)."""
    root = tmp_path_factory.mktemp("s3")
    server = local.start(s3_root=root)
    client = make_client(server.endpoint_url)
    uri = stage_samples(root)
    plain = seed_datastore(client, uri)
    shared = seed_datastore(client, uri)
    b_sets, _ = search_all(
        client,
        shared.datastore_id,
        {"filters": [{"operator": "EQUAL", "values": [{"DICOMAccessionNumber": "ACC-B1"}]}]},
        50,
    )
    b_sets.sort(key=lambda s: s["DICOMTags"]["DICOMNumberOfStudyRelatedInstances"])
    single, pair = b_sets[0]["imageSetId"], b_sets[1]["imageSetId"]
    client.copy_image_set(
        datastoreId=shared.datastore_id,
        sourceImageSetId=pair,
        copyImageSetInformation={
            "sourceImageSet": {"latestVersionId": "1"},
            "destinationImageSet": {"imageSetId": single, "latestVersionId": "1"},
        },
    )
    yield server, client, {"plain": plain, "shared": shared.datastore_id, "merged": single, "pair": pair}
    server.stop()


async def err(session, name, **args):
    return tool_error(await session.call_tool(name, args))


def millis(t: datetime) -> str:
    """boto3's datetime (parsed from the wire's epoch seconds) as ISO-8601 with milliseconds."""
    ms = round(t.timestamp() * 1000)
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


COPIES = 12


def test_timestamps_have_milliseconds_and_work_as_search_bounds(world):
    server, client, f = world
    ds = f["shared"]
    # Image sets created at different milliseconds: about half of all millisecond values are
    # read by the SDK (through an f64) as slightly less, which the old output truncated.
    a_sets, _ = search_all(
        client, ds, {"filters": [{"operator": "EQUAL", "values": [{"DICOMPatientId": "HI-PAT-A"}]}]}, 50
    )
    for _ in range(COPIES):
        client.copy_image_set(
            datastoreId=ds,
            sourceImageSetId=a_sets[0]["imageSetId"],
            copyImageSetInformation={"sourceImageSet": {"latestVersionId": "1"}},
        )

    async def steps(s):
        listed = await ok(s, "search_image_sets", datastore_id=ds, max_results=50)
        found = {}
        for summary in listed["image_sets_metadata_summaries"]:
            for field, attribute in (("created_at", "createdAt"), ("updated_at", "updatedAt")):
                criteria = {
                    "filters": [
                        {"operator": "BETWEEN", "values": [{attribute: summary[field]}, {attribute: FAR_FUTURE}]}
                    ]
                }
                page = await ok(s, "search_image_sets", datastore_id=ds, search_criteria=criteria, max_results=50)
                found[(summary["image_set_id"], field)] = {
                    x["image_set_id"] for x in page["image_sets_metadata_summaries"]
                }
        one = listed["image_sets_metadata_summaries"][0]["image_set_id"]
        got = await ok(s, "get_image_set", datastore_id=ds, image_set_id=one)
        return listed, found, got

    listed, found, got = call(server, steps)
    boto = {s["imageSetId"]: s for s in search_all(client, ds, page_size=50)[0]}
    assert len(listed["image_sets_metadata_summaries"]) == len(boto) > COPIES
    for summary in listed["image_sets_metadata_summaries"]:
        theirs = boto[summary["image_set_id"]]
        # HealthImaging's millisecond value, exactly: "…07.662Z", not "…07.661999Z".
        assert summary["created_at"] == millis(theirs["createdAt"])
        assert summary["updated_at"] == millis(theirs["updatedAt"])
        for field in ("created_at", "updated_at"):
            assert summary["image_set_id"] in found[(summary["image_set_id"], field)], (field, summary[field])
    props = client.get_image_set(datastoreId=ds, imageSetId=got["image_set_id"])
    assert got["created_at"] == millis(props["createdAt"])


def test_tag_reports_and_the_tag_quota(world):
    server, client, f = world
    arn = client.get_datastore(datastoreId=f["plain"].datastore_id)["datastoreProperties"]["datastoreArn"]
    client.tag_resource(resourceArn=arn, tags={"env": "dev"})

    async def steps(s):
        # Keys with digits match the model's [a-zA-Z+-=._:/] ('+-=' is a range holding 0-9).
        first = await ok(s, "tag_resource", resource_arn=arn, tags={"env1": "a", "cost-center-01": "b", "env": "dev"})
        second = await ok(s, "tag_resource", resource_arn=arn, tags={"env1": "a2", "new": "x"})
        removed = await ok(s, "untag_resource", resource_arn=arn, tag_keys=["new", "never-there", "cost-center-01"])
        too_many = await err(s, "tag_resource", resource_arn=arn, tags={f"k{i}": "v" for i in range(51)})
        # 49 new keys on a resource that has 2: over the quota of 50 in total.
        over_total = await err(s, "tag_resource", resource_arn=arn, tags={f"k{i}": "v" for i in range(49)})
        return first, second, removed, too_many, over_total

    first, second, removed, too_many, over_total = call(server, steps)
    assert (first["tags_added"], first["tags_overwritten"], first["tags_unchanged"]) == (2, 0, 1)
    assert first["added_keys"] == ["cost-center-01", "env1"] and first["unchanged_keys"] == ["env"]
    assert (second["tags_added"], second["tags_overwritten"]) == (1, 1)
    assert second["added_keys"] == ["new"] and second["overwritten_keys"] == ["env1"]
    assert removed["tags_removed"] == ["cost-center-01", "new"]
    assert removed["tags_absent"] == ["never-there"]
    for body in (too_many, over_total):
        assert body["type"] == "validation_error", body
        assert "at most 50" in body["message"]
    assert client.list_tags_for_resource(resourceArn=arn)["tags"] == {"env": "dev", "env1": "a2"}


def test_patient_id_whitespace_is_one_rule_everywhere(world):
    server, client, f = world
    ds = f["plain"].datastore_id

    def by_patient(pid):
        return {"filters": [{"operator": "EQUAL", "values": [{"DICOMPatientId": pid}]}]}

    async def steps(s):
        padded = await ok(s, "search_by_patient_id", datastore_id=ds, patient_id="  HI-PAT-A   ")
        api_padded = await ok(s, "search_image_sets", datastore_id=ds, search_criteria=by_patient("HI-PAT-A  "))
        nbsp = await ok(s, "search_by_patient_id", datastore_id=ds, patient_id="HI-PAT-A\u00a0")
        api_nbsp = await ok(s, "search_image_sets", datastore_id=ds, search_criteria=by_patient("HI-PAT-A\u00a0"))
        refused = [
            await err(s, "search_by_patient_id", datastore_id=ds, patient_id="HI-PAT-A\n"),
            await err(s, "get_patient_studies", datastore_id=ds, patient_id="\tHI-PAT-A"),
            await err(s, "search_image_sets", datastore_id=ds, search_criteria=by_patient("HI-PAT-A\n")),
            await err(s, "delete_patient_studies", datastore_id=ds, patient_id="HI-PAT-A\r\n", dry_run=True),
            await err(s, "bulk_delete_by_criteria", datastore_id=ds, criteria={"DICOMPatientId": "HI-PAT-A\t"}),
        ]
        return padded, api_padded, nbsp, api_nbsp, refused

    padded, api_padded, nbsp, api_nbsp, refused = call(server, steps)
    expected = {s["imageSetId"] for s in search_all(client, ds, by_patient("HI-PAT-A"), 50)[0]}
    assert len(expected) == 2
    assert padded["patient_id"] == "HI-PAT-A"
    assert {s["image_set_id"] for s in padded["image_sets"]} == expected
    assert {s["image_set_id"] for s in api_padded["image_sets_metadata_summaries"]} == expected
    # NBSP is part of the ID, not padding: no such patient, in either tool.
    assert nbsp["total"] == 0 and api_nbsp["image_sets_metadata_summaries"] == []
    for body in refused:
        assert body["type"] == "validation_error", body
        assert "control character" in body["message"], body
    # Nothing was deleted by the refused calls.
    assert {s["imageSetId"] for s in search_all(client, ds, by_patient("HI-PAT-A"), 50)[0]} == expected


def test_series_numbers_are_integers_and_instances_are_counted_once(world, manifest):
    server, client, f = world
    ds = f["shared"]

    async def steps(s):
        return (
            await ok(s, "get_patient_series", datastore_id=ds, patient_id="HI-PAT-B"),
            await ok(s, "search_by_patient_id", datastore_id=ds, patient_id="HI-PAT-B"),
            await ok(s, "get_patient_studies", datastore_id=ds, patient_id="HI-PAT-B"),
            await ok(s, "get_patient_dicomweb_studies", datastore_id=ds, patient_id="HI-PAT-B"),
            await ok(s, "search_image_sets", datastore_id=ds, max_results=50),
        )

    series, searched, studies, dicomweb, api = call(server, steps)
    b_files = [x for x in manifest["files"] if x["patient_id"] == "HI-PAT-B"]
    numbers = {x["series_instance_uid"]: x["series_number"] for x in b_files}
    assert series["series"], series
    for row in series["series"]:
        # The same type as search_image_sets' dicom_series_number: an integer.
        assert row["series_number"] == numbers[row["series_instance_uid"]]
        assert isinstance(row["series_number"], int)
    api_numbers = [
        s["dicom_tags"]["dicom_series_number"]
        for s in api["image_sets_metadata_summaries"]
        if "dicom_series_number" in s["dicom_tags"]
    ]
    assert api_numbers and all(isinstance(n, int) for n in api_numbers)

    # Both primary image sets of B1 hold series 2 (copied): each instance counts once.
    docs = [get_metadata(client, ds, s["image_set_id"]) for s in searched["image_sets"] if s["is_primary"]]
    assert len(docs) == 2
    per_set = [sum(len(x["Instances"]) for x in d["Study"]["Series"].values()) for d in docs]
    distinct = {sop for d in docs for x in d["Study"]["Series"].values() for sop in x["Instances"]}
    assert sum(per_set) > len(distinct) == len(b_files) == 3
    study = studies["studies"][0]
    assert study["instance_count_in_primary_image_sets"] == len(distinct)
    assert study["series_count"] == 2
    assert dicomweb["studies"][0]["00201208"]["Value"] == [len(distinct)]
    assert dicomweb["studies"][0]["00201206"]["Value"] == [2]


def test_include_study_image_sets_reports_every_image_set_it_changes(world):
    server, client, f = world
    ds = f["plain"].datastore_id
    b_sets, _ = search_all(
        client, ds, {"filters": [{"operator": "EQUAL", "values": [{"DICOMAccessionNumber": "ACC-B1"}]}]}, 50
    )
    assert len(b_sets) == 2 and all(s["isPrimary"] for s in b_sets)
    target, other = b_sets[0]["imageSetId"], b_sets[1]["imageSetId"]
    updates = {
        "DICOMUpdates": {
            "updatableAttributes": {"SchemaVersion": "1.1", "Study": {"DICOM": {"StudyDescription": "BOTH"}}}
        }
    }

    async def steps(s):
        return await ok(
            s,
            "update_image_set_metadata",
            datastore_id=ds,
            image_set_id=target,
            latest_version_id="1",
            update_image_set_metadata_updates=updates,
            include_study_image_sets=True,
        )

    out = call(server, steps)
    report = out["study_image_sets"]
    assert report["updated"] == report["count"] == 1
    assert report["image_sets"] == [{"image_set_id": other, "version_before": 1, "version_after": 2, "updated": True}]
    # boto3: the other image set really changed, as reported.
    assert client.get_image_set(datastoreId=ds, imageSetId=other)["versionId"] == "2"
    assert get_metadata(client, ds, other)["Study"]["DICOM"]["StudyDescription"] == "BOTH"
    assert get_metadata(client, ds, target)["Study"]["DICOM"]["StudyDescription"] == "BOTH"


def test_errors_echo_a_short_prefix_and_big_integers_are_validation_errors(world):
    server, client, f = world
    ds = f["plain"].datastore_id
    huge = "a" * 1_000_000

    async def steps(s):
        return [
            await err(s, "get_image_set", datastore_id=ds, image_set_id=huge),
            await err(s, "search_image_sets", datastore_id=ds, max_results=2**64),
            await err(s, "list_datastores", max_results=2**63),
            await err(s, "get_patient_studies", datastore_id=ds, patient_id="HI-PAT-A", max_results=2**64),
            await err(s, "search_by_patient_id", datastore_id=ds, patient_id="HI-PAT-A", max_results=-(2**70)),
            await err(
                s, "bulk_delete_by_criteria", datastore_id=ds, criteria={"DICOMPatientId": "X"}, max_deletions=2**64
            ),
        ]

    echoed, *integers = call(server, steps)
    assert echoed["type"] == "validation_error"
    assert len(echoed["message"]) < 300, len(echoed["message"])
    assert "(1000000 characters)" in echoed["message"]
    for body, param in zip(integers, ["max_results"] * 4 + ["max_deletions"], strict=True):
        assert body["type"] == "validation_error", body
        assert param in body["message"], body
    assert len(search_all(client, ds, page_size=50)[0]) > 0
