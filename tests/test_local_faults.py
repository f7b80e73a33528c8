"""The local HealthImaging's throttle table (`quotas="aws"`) and injected faults, seen by boto3.

Assertions are on counts and outcomes (what the client got, what the server counted), never on
timing. Clients here do not retry, so each call is one request.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter

import pytest
from awslabs.healthimaging_mcp_server import local
from botocore.exceptions import ClientError, ConnectionClosedError, HTTPClientError
from conftest import error_of, get_metadata, make_client, search_all, start_server

MISSING = "0" * 32


def no_retries(server: local.LocalHealthImaging):
    return make_client(server.endpoint_url, retries={"total_max_attempts": 1, "mode": "standard"})


def outcome(call) -> str:
    """The error code boto3 raised (with the HTTP status for a throttle), or "ok"."""
    try:
        call()
    except ClientError as e:
        code, status = error_of(e)
        return f"{code}/{status}" if code == "ThrottlingException" else code
    return "ok"


def op_stats(server: local.LocalHealthImaging, operation: str) -> dict:
    return server.stats()["operations"].get(operation, {})


@pytest.fixture(scope="module")
def seeded_server(tmp_path_factory):
    with start_server(tmp_path_factory.mktemp("faults"), seed=True, quotas="aws", quota_scale=20) as srv:
        yield srv


@pytest.fixture(scope="module")
def seeded_ids(seeded_server):
    client = no_retries(seeded_server)
    (ds,) = [
        d["datastoreId"]
        for d in client.list_datastores()["datastoreSummaries"]
        if d["datastoreName"] == local.SEED_DATASTORE_NAME
    ]
    summaries, _ = search_all(client, ds, page_size=50)
    return ds, [s["imageSetId"] for s in summaries]


def test_aws_quotas_throttle_a_delete_burst_and_leave_reads_alone(seeded_server, seeded_ids):
    ds, image_sets = seeded_ids
    client = no_retries(seeded_server)
    before_delete = op_stats(seeded_server, "DeleteImageSet")
    before_get = op_stats(seeded_server, "GetImageSet")
    # DeleteImageSet's default burst is 1 (0.25 TPS, here x20 = 5 per second): eight at once
    # cannot all pass.
    targets = [MISSING] * 8
    results: list[str] = []
    barrier = threading.Barrier(len(targets))
    lock = threading.Lock()

    def delete(image_set_id: str) -> None:
        barrier.wait()
        got = outcome(lambda: client.delete_image_set(datastoreId=ds, imageSetId=image_set_id))
        with lock:
            results.append(got)

    threads = [threading.Thread(target=delete, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    seen = Counter(results)
    assert len(results) == len(targets)
    assert seen["ThrottlingException/429"] >= 1, seen
    # The ones let through reached the operation (the image set does not exist).
    assert seen["ThrottlingException/429"] + seen["ResourceNotFoundException"] == len(targets), seen
    # GetImageSet has its own bucket (burst 50): 20 calls right after all pass.
    gets = [outcome(lambda i=i: client.get_image_set(datastoreId=ds, imageSetId=i)) for i in (image_sets * 20)[:20]]
    assert gets == ["ok"] * 20
    after_delete = op_stats(seeded_server, "DeleteImageSet")
    after_get = op_stats(seeded_server, "GetImageSet")
    assert after_delete["throttled"] - before_delete.get("throttled", 0) == seen["ThrottlingException/429"]
    assert after_delete["ok"] - before_delete.get("ok", 0) == seen["ResourceNotFoundException"]
    assert after_get["ok"] - before_get.get("ok", 0) == 20
    assert after_get["throttled"] == 0


def test_quotas_can_be_switched_off_and_on_while_running(seeded_server, seeded_ids):
    ds, _ = seeded_ids
    client = no_retries(seeded_server)
    seeded_server.set_quotas(None)
    try:
        got = {outcome(lambda: client.delete_image_set(datastoreId=ds, imageSetId=MISSING)) for _ in range(10)}
        assert got == {"ResourceNotFoundException"}
    finally:
        seeded_server.set_quotas("aws", scale=20)
    with pytest.raises(local.EngineError, match="unknown quotas"):
        seeded_server.set_quotas("gcp")
    with pytest.raises(local.EngineError, match="positive"):
        seeded_server.set_quotas("aws", scale=0)


def test_injected_500s_reach_boto3_for_one_operation_only(seeded_server, seeded_ids):
    ds, image_sets = seeded_ids
    client = no_retries(seeded_server)
    before = op_stats(seeded_server, "GetImageSet").get("faulted", 0)
    seeded_server.set_faults({"GetImageSet": {"internal_error": 1.0}})
    try:
        with pytest.raises(ClientError) as err:
            client.get_image_set(datastoreId=ds, imageSetId=image_sets[0])
        assert error_of(err.value) == ("InternalServerException", 500)
        # Other operations are untouched.
        assert get_metadata(client, ds, image_sets[0])["DatastoreID"] == ds
        assert client.get_datastore(datastoreId=ds)["datastoreProperties"]["datastoreId"] == ds
        assert op_stats(seeded_server, "GetImageSet")["faulted"] == before + 1
        assert seeded_server.faults() == {
            "GetImageSet": {**seeded_server.faults()["GetImageSet"], "internal_error": 1.0}
        }
        # Changed while running: 503s for all operations instead.
        seeded_server.set_faults({"*": {"unavailable": 1.0}})
        with pytest.raises(ClientError) as err:
            client.get_datastore(datastoreId=ds)
        assert error_of(err.value) == ("ServiceUnavailableException", 503)
    finally:
        seeded_server.set_faults(None)
    # And removed: the same call answers again.
    assert client.get_image_set(datastoreId=ds, imageSetId=image_sets[0])["imageSetId"] == image_sets[0]
    assert seeded_server.faults() == {}


def test_dropped_connections_give_the_client_a_connection_error(seeded_server):
    client = no_retries(seeded_server)
    before = op_stats(seeded_server, "ListDatastores").get("dropped", 0)
    seeded_server.set_faults({"ListDatastores": {"drop": 1.0}})
    try:
        with pytest.raises(HTTPClientError) as err:
            client.list_datastores()
        assert isinstance(err.value, ConnectionClosedError), repr(err.value)
    finally:
        seeded_server.set_faults({})
    assert op_stats(seeded_server, "ListDatastores")["dropped"] == before + 1
    assert "datastoreSummaries" in client.list_datastores()


def test_latency_spikes_and_slow_bodies_delay_but_answer_in_full(seeded_server, seeded_ids):
    ds, image_sets = seeded_ids
    client = no_retries(seeded_server)
    expected = get_metadata(client, ds, image_sets[0])
    before = op_stats(seeded_server, "GetImageSetMetadata").get("spiked", 0)
    seeded_server.set_faults(
        {
            "GetImageSetMetadata": {
                "latency_ms": 1,
                "latency_max_ms": 5,
                "spike_share": 1.0,
                "spike_ms": 30,
                "slow_body_ms": 20,
            }
        }
    )
    try:
        for _ in range(3):
            assert get_metadata(client, ds, image_sets[0]) == expected
    finally:
        seeded_server.set_faults(None)
    assert op_stats(seeded_server, "GetImageSetMetadata")["spiked"] == before + 3


def test_bad_fault_rules_are_refused_and_change_nothing(seeded_server):
    seeded_server.set_faults({"GetImageSet": {"latency_ms": 1}})
    try:
        for rules, needle in [
            ({"GetImageSets": {"drop": 0.5}}, "unknown operation"),
            ({"*": {"drop": 2}}, "between 0 and 1"),
            ({"*": {"droop": 0.1}}, "unknown field"),
        ]:
            with pytest.raises(local.EngineError, match=needle):
                seeded_server.set_faults(rules)
        assert seeded_server.faults()["GetImageSet"]["latency_ms"] == 1
    finally:
        seeded_server.set_faults(None)
    with pytest.raises(local.EngineError, match="unknown operation"):
        local.start(faults={"Nope": {}})


# ---- the CLI flags -----------------------------------------------------------------------------


def test_cli_quota_and_fault_flags(tmp_path):
    from test_local_cli import MODULE, start_cli

    cli, url = start_cli(
        [sys.executable, "-m", MODULE],
        tmp_path,
        "--port",
        "0",
        "--quotas",
        "aws",
        "--quota-scale",
        "20",
        "--fault",
        "GetImageSet:internal_error=1",
        "--fault",
        "GetDatastore:unavailable=1,latency_ms=1",
    )
    with cli:
        client = make_client(url, retries={"total_max_attempts": 1, "mode": "standard"})
        assert "datastoreSummaries" in client.list_datastores()
        with pytest.raises(ClientError) as err:
            client.get_image_set(datastoreId=MISSING, imageSetId=MISSING)
        assert error_of(err.value) == ("InternalServerException", 500)
        with pytest.raises(ClientError) as err:
            client.get_datastore(datastoreId=MISSING)
        assert error_of(err.value) == ("ServiceUnavailableException", 503)
        # DeleteImageSet's burst is 1: a second call at once finds the bucket empty, unless a
        # fifth of a second passed between them; of ten, some must be throttled.
        seen = Counter(
            outcome(lambda: client.delete_image_set(datastoreId=MISSING, imageSetId=MISSING)) for _ in range(10)
        )
        assert seen["ThrottlingException/429"] >= 1, seen
        assert seen["ThrottlingException/429"] + seen["ResourceNotFoundException"] == 10, seen


@pytest.mark.parametrize(
    ("args", "status", "needle"),
    [
        (("--fault", "GetImageSet"), 2, "is not OPERATION:KEY=VALUE"),
        (("--fault", "GetImageSet:drop"), 2, "is not KEY=NUMBER"),
        (("--fault", "GetImageSets:drop=1"), 1, "unknown operation"),
        (("--quotas", "gcp"), 2, "invalid choice"),
        (("--quotas", "aws", "--quota-scale", "0"), 1, "positive"),
    ],
)
def test_cli_rejects_bad_quota_and_fault_flags(args, status, needle):
    from test_local_cli import MODULE, _run

    done = _run([sys.executable, "-m", MODULE], "--port", "0", *args)
    assert done.returncode == status, done.stderr
    assert needle in done.stderr
    assert done.stdout == ""
