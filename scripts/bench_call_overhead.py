"""Per-call cost of a tool call over MCP stdio, against the same MCP SDK's floor.

Measures, one call at a time after a warm-up: (1) ``get_datastore`` through this server against a
zero-latency local HealthImaging, (2) a trivial tool of the same MCP SDK answering the same shape
without any work (the floor: client, stdio, SDK), (3) ``engine.get_datastore`` awaited in-process
(the engine's own time, HTTP to the local HealthImaging included). Our overhead is (1) - (3);
the target is (1) <= 1.3 x (2) + (3).

    python scripts/bench_call_overhead.py [calls]
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time

from awslabs.healthimaging_mcp_server import _engine, engine, local
from mcp import ClientSession, StdioServerParameters, stdio_client

FLOOR_SERVER = """
from mcp.server.mcpserver import MCPServer

server = MCPServer("floor")


@server.tool()
async def get_datastore(datastore_id: str) -> dict:
    return {"datastore_properties": {"datastore_id": datastore_id, "datastore_status": "ACTIVE"}}


server.run("stdio")
"""


async def per_call_us(params: StdioServerParameters, args: dict, calls: int) -> float:
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        await session.list_tools()
        for _ in range(50):
            await session.call_tool("get_datastore", args)
        start = time.perf_counter()
        for _ in range(calls):
            result = await session.call_tool("get_datastore", args)
            assert not result.is_error, result
        return (time.perf_counter() - start) / calls * 1e6


async def engine_us(datastore_id: str, calls: int) -> float:
    await _engine.reset_client()
    for _ in range(50):
        await engine.get_datastore(datastore_id=datastore_id)
    start = time.perf_counter()
    for _ in range(calls):
        await engine.get_datastore(datastore_id=datastore_id)
    return (time.perf_counter() - start) / calls * 1e6


def main() -> int:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    with tempfile.TemporaryDirectory() as tmp, local.start(s3_root=tmp) as server:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
            "AWS_ENDPOINT_URL_MEDICAL_IMAGING": server.endpoint_url,
            "AWS_CONFIG_FILE": "/nonexistent",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        }
        os.environ.update(env)
        datastore_id = asyncio.run(engine.create_datastore(datastore_name="bench"))["datastore_id"]
        args = {"datastore_id": datastore_id}
        ours = asyncio.run(
            per_call_us(
                StdioServerParameters(
                    command=sys.executable, args=["-m", "awslabs.healthimaging_mcp_server.cli"], env=env
                ),
                args,
                calls,
            )
        )
        floor = asyncio.run(
            per_call_us(StdioServerParameters(command=sys.executable, args=["-c", FLOOR_SERVER]), args, calls)
        )
        own = asyncio.run(engine_us(datastore_id, calls))
    print(f"calls: {calls}")
    print(f"get_datastore through this server: {ours:8.0f} us/call")
    print(f"trivial tool, same MCP SDK (floor): {floor:8.0f} us/call")
    print(f"engine.get_datastore in-process:    {own:8.0f} us/call")
    print(
        f"ours / (floor + engine) = {ours / (floor + own):.2f}; "
        f"target (1) <= 1.3 x (2) + (3): {ours <= 1.3 * floor + own}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
