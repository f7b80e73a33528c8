"""The per-call floor: an MCP server of the same SDK with one tool that does nothing, started and
called the same way as the servers under test (``python benches/noop_server.py``)."""

from mcp.server.mcpserver import MCPServer

server = MCPServer("noop")


@server.tool()
async def noop(value: str = "") -> dict:
    """Returns its argument."""
    return {"value": value}


if __name__ == "__main__":
    server.run("stdio")
