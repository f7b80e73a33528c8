"""Generated hostile arguments for every tool the server lists, through one MCP client session.

For each tool of `tools/list`, hypothesis builds arguments from the tool's input schema (real IDs
of a throwaway data store where a value is expected) and then spoils one of them: a wrong JSON
type, a 1 MB string, an unknown argument, an injection-like or unicode ID, deeply nested JSON in
an object argument. Every call must end in the structured error (`{"error": true, "type",
"message"}` with the MCP error flag) or a result with structured content, within a time limit;
after each tool's batch the session still answers a ping and `tools/list`. A 10,000-deep JSON
document, which no client library serialises, is sent as a raw JSON-RPC line to a bare server
process. The whole local HealthImaging here is throwaway: destructive tools may succeed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import anyio
import pytest
from anyio.from_thread import start_blocking_portal
from conftest import MCP_MODULE, make_client, mcp_env, mcp_session, search_all, start_server
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES_PER_TOOL = 6
CALL_LIMIT_S = 30.0
"""A call that takes longer counts as a hang (a safety net, not a performance bar)."""
HUGE = "A" * 1_000_000
DEEP_IN_CLIENT = 120
"""Nesting the SDK client can still serialise (Python's recursion limit); deeper is sent raw."""
DEEP_RAW = 10_000
HOSTILE_IDS = [
    "../../../etc/passwd",
    "..%2F..%2Fdatastore",
    "%00",
    "abc\x00def",
    "' OR '1'='1",
    '"; DROP TABLE image_sets; --',
    "${jndi:ldap://x}",
    "<script>alert(1)</script>",
    "\u202egnp.exe",
    "\U0001f9e0\u00e9\u4e2d\u0000",
    " ",
    "",
    "0" * 32 + "/../" + "0" * 32,
]


def nested(depth: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(depth):
        value = {"k": value}
    return value


# ---- one MCP session for the module ------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """(local HealthImaging, blocking portal, MCP session, known IDs): the server seeded with the
    samples, all throwaway."""
    with start_server(tmp_path_factory.mktemp("hostile"), seed=True) as server:
        client = make_client(server.endpoint_url)
        (ds,) = [d["datastoreId"] for d in client.list_datastores()["datastoreSummaries"]]
        summaries, _ = search_all(client, ds, page_size=50)
        known = {"datastore_id": ds, "image_set_id": summaries[0]["imageSetId"]}
        with (
            start_blocking_portal() as portal,
            portal.wrap_async_context_manager(mcp_session(mcp_env(server.endpoint_url))) as (session, _),
        ):
            yield server, portal, session, known


def tools_of(hostile) -> list:
    _, portal, session, _ = hostile
    return portal.call(session.list_tools).tools


async def bounded(awaitable):
    with anyio.fail_after(CALL_LIMIT_S):
        return await awaitable


def plausible(name: str, schema: dict, known: dict):
    """A well-typed value for a property (real IDs for IDs)."""
    if name in known:
        return known[name]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if "enum" in schema:
        return schema["enum"][0]
    return {"string": "1.2.3", "integer": 1, "number": 1, "boolean": False, "object": {}, "array": []}.get(kind)


wrong_types = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
hostile_strings = st.one_of(st.sampled_from(HOSTILE_IDS), st.just(HUGE), st.text(max_size=40))
deep_objects = st.integers(min_value=20, max_value=DEEP_IN_CLIENT).map(nested)


@st.composite
def spoiled_arguments(draw, schema: dict, known: dict) -> dict:
    props: dict = schema.get("properties", {})
    required = set(schema.get("required", []))
    args = {n: plausible(n, props[n], known) for n in props if n in required or draw(st.booleans())}
    target = draw(st.sampled_from([*props, "__unknown__"])) if props else "__unknown__"
    how = draw(st.sampled_from(["wrong_type", "string", "deep", "drop_required", "unknown"]))
    if target == "__unknown__" or how == "unknown":
        args[draw(st.sampled_from(["unknown_argument", "__proto__", "datastoreId", "x" * 300]))] = draw(
            st.one_of(hostile_strings, wrong_types)
        )
    elif how == "wrong_type":
        args[target] = draw(wrong_types)
    elif how == "string":
        args[target] = draw(hostile_strings)
    elif how == "deep":
        args[target] = draw(deep_objects)
    else:
        args.pop(target, None)
    return args


def check_answer(result) -> None:
    """A structured error with the MCP error flag, or a result with structured content."""
    if result.is_error:
        assert result.content, result
        body = json.loads(result.content[0].text)
        assert body["error"] is True, body
        assert isinstance(body["type"], str) and body["type"], body
        assert isinstance(body["message"], str) and body["message"], body
    else:
        assert isinstance(result.structured_content, dict), result


def test_every_tool_survives_generated_hostile_arguments(hostile):
    server, portal, session, known = hostile
    tools = tools_of(hostile)
    assert len(tools) >= 30
    for tool in tools:

        @settings(
            max_examples=EXAMPLES_PER_TOOL,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(args=spoiled_arguments(tool.input_schema, known), name=st.just(tool.name))
        def survives(args, name):
            result = portal.call(bounded, session.call_tool(name, args))
            check_answer(result)

        survives()
        # The server is alive and the session usable after each tool's batch.
        portal.call(bounded, session.send_ping())
        assert len(tools_of(hostile)) == len(tools)
    assert server.stats()["requests"] > 0


# ---- deeper than any client serialises ---------------------------------------------------------


def raw_line(message_id: int, method: str, params: str) -> bytes:
    return f'{{"jsonrpc":"2.0","id":{message_id},"method":"{method}","params":{params}}}\n'.encode()


@pytest.mark.parametrize(
    ("tool", "argument"),
    [
        ("search_image_sets", "search_criteria"),
        ("bulk_update_patient_metadata", "metadata_updates"),
        ("update_image_set_metadata", "update_image_set_metadata_updates"),
    ],
)
def test_ten_thousand_deep_json_is_refused_and_the_server_lives(tmp_path, tool, argument):
    with start_server(tmp_path) as server:
        proc = subprocess.Popen(
            [sys.executable, "-m", MCP_MODULE],
            env=mcp_env(server.endpoint_url),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            init = '{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"0"}}'
            deep = '{"k":' * DEEP_RAW + "1" + "}" * DEEP_RAW
            args = f'{{"datastore_id":"{"0" * 32}","image_set_id":"{"0" * 32}","patient_id":"P","{argument}":{deep}}}'
            lines = [
                raw_line(1, "initialize", init),
                b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n',
                raw_line(2, "tools/call", f'{{"name":"{tool}","arguments":{args}}}'),
                raw_line(3, "ping", "{}"),
            ]
            proc.stdin.write(b"".join(lines))
            proc.stdin.flush()
            # A watchdog ends a server that does not answer the ping in time (a hang fails below).
            watchdog = threading.Timer(CALL_LIMIT_S, proc.kill)
            watchdog.start()
            answers: dict = {}
            try:
                for line in proc.stdout:
                    message = json.loads(line)
                    answers[message.get("id")] = message
                    if 3 in answers:
                        break
            finally:
                watchdog.cancel()
            assert set(answers) >= {1, 3}, answers
            assert answers[3].get("result") == {}, answers[3]
            # The deep call is refused: as a JSON-RPC error or a tool error, never a success.
            deep_answer = answers.get(2)
            if deep_answer is not None and "result" in deep_answer:
                assert deep_answer["result"]["isError"] is True, deep_answer
                body = json.loads(deep_answer["result"]["content"][0]["text"])
                assert body["error"] is True and body["type"] and body["message"], body
        finally:
            proc.kill()
            proc.wait(timeout=30)
