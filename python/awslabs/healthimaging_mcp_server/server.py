"""The MCP server: every tool comes from the Rust tool registry (``_engine.tools()``), with its
schemas and hints sent as they are, and every call goes through one path (``_engine.call``):
the arguments cross into Rust once, are checked there, and the result comes back once as
compact JSON (the text block) and the same value as structured content (a tool declared without an
output schema, an untyped document, answers the text block only); a tool that answers
images (``"images": true``) adds one image content block (base64) per image after the text
block. Data stores are resources. There is no per-tool code here.

Every failure is an MCP error result whose text is ``{"error": true, "type": ..., "message": ...}``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Iterable
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.server.stdio import stdio_server
from mcp_types import CallToolResult, ImageContent, TextContent, ToolAnnotations
from mcp_types import Tool as MCPTool

from . import __version__, _engine, engine
from .stdio import AnsweringUnparseable

log = logging.getLogger(__name__)

SERVER_NAME = "awslabs.healthimaging-mcp-server"
TOOLSETS: tuple[str, ...] = tuple(_engine.TOOLSETS)


def error_text(kind: str, message: str) -> str:
    return json.dumps({"error": True, "type": kind, "message": message}, separators=(",", ":"))


def _error_body(e: _engine.HealthImagingError) -> str:
    body: dict[str, Any] = {"error": True, "type": e.type, "message": e.message}
    if getattr(e, "code", None):
        body["code"] = e.code
    if getattr(e, "status", None):
        body["status"] = e.status
    return json.dumps(body, separators=(",", ":"))


def _error_result(text: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)


def _all_failed(result: Any) -> bool:
    """A workflow report whose every item failed: an error result that still carries the report."""
    return isinstance(result, dict) and result.get("total", 0) > 0 and result.get("failed") == result["total"]


def _listed(spec: dict[str, Any]) -> MCPTool:
    hints = spec["annotations"]
    return MCPTool(
        name=spec["name"],
        description=spec["description"],
        input_schema=spec["inputSchema"],
        output_schema=spec.get("outputSchema"),
        annotations=ToolAnnotations(
            read_only_hint=hints["readOnlyHint"],
            destructive_hint=hints["destructiveHint"],
            idempotent_hint=hints["idempotentHint"],
            open_world_hint=hints["openWorldHint"],
        ),
    )


class _ProgressReporter:
    """Turns the engine's (done, total, message) callbacks into MCP progress notifications, sent in order
    by one task (a report not newer than one already queued is dropped: progress must increase),
    all delivered before the tool's result."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._queue: asyncio.Queue[tuple[int, int, str | None]] = asyncio.Queue()
        self._last = -1
        self._broken = False
        self._sender: asyncio.Task[None] | None = None

    async def _send(self) -> None:
        while True:
            done, total, message = await self._queue.get()
            try:
                if not self._broken:
                    await self._ctx.report_progress(done, total, message or f"{done} of {total} image sets")
            except Exception as e:
                # Progress is advisory: a client that cannot take it still gets the result.
                log.debug("progress notification failed (%s); no more progress for this call", type(e).__name__)
                self._broken = True
            finally:
                self._queue.task_done()

    def report(self, done: int, total: int, message: str | None = None) -> None:
        if done <= self._last or self._broken:
            return
        self._last = done
        self._queue.put_nowait((done, total, message))
        if self._sender is None:
            self._sender = asyncio.ensure_future(self._send())

    async def close(self) -> None:
        # The engine's last callbacks are already scheduled on this loop; let them run first.
        await asyncio.sleep(0)
        if self._sender is not None:
            await self._queue.join()
            self._sender.cancel()


class HealthImagingServer(MCPServer):
    """Lists and calls the registry's tools (those of the served toolsets), answers stdio frames it
    cannot parse."""

    def __init__(
        self, *args: Any, specs: list[dict[str, Any]], registry: set[str], why_hidden: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._specs = {s["name"]: s for s in specs}
        self._tools = [_listed(s) for s in specs]
        self._registry = registry
        """Every tool name of the registry, served here or not."""
        self._why_hidden = why_hidden

    async def run_stdio_async(self) -> None:
        async with stdio_server() as (read_stream, write_stream):
            await self._lowlevel_server.run(
                AnsweringUnparseable(read_stream, write_stream),
                write_stream,
                self._lowlevel_server.create_initialization_options(),
            )

    async def list_tools(self) -> list[MCPTool]:
        return list(self._tools)

    def _tool_input_schema(self, name: str) -> dict[str, Any] | None:
        spec = self._specs.get(name)
        return None if spec is None else spec["inputSchema"]

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context | None = None) -> Any:
        spec = self._specs.get(name)
        if spec is None and name in self._registry:
            return _error_result(error_text("validation_error", f"Unknown tool: {name} ({self._why_hidden})"))
        # An unknown name goes on too: the registry answers it (its value echoed only as a prefix).
        reporter = _ProgressReporter(context) if context is not None and spec and spec["progress"] else None
        try:
            text = await _engine.call(name, json.dumps(arguments), reporter.report if reporter else None)
        except _engine.HealthImagingError as e:
            return _error_result(_error_body(e))
        except Exception as e:
            # A crash: log its type only (its text may carry request data), answer in the same form.
            log.warning("tool %s failed unexpectedly: %s", spec["name"] if spec else "?", type(e).__name__)
            return _error_result(error_text("server_error", f"the tool failed unexpectedly ({type(e).__name__})"))
        finally:
            if reporter is not None:
                await reporter.close()
        images: list[tuple[str, bytes]] = []
        if isinstance(text, tuple):
            text, images = text
        content = [
            TextContent(type="text", text=text),
            *(
                ImageContent(type="image", data=base64.b64encode(data).decode("ascii"), mime_type=mime)
                for mime, data in images
            ),
        ]
        if spec is not None and spec.get("outputSchema") is None:
            # An untyped document (megabytes of image set metadata): the text block only, as MCP
            # allows; parsing it here for a structured copy would double what is sent and checked.
            return CallToolResult(content=content)
        value = json.loads(text)
        return CallToolResult(
            content=content,
            structured_content=value if isinstance(value, dict) else None,
            is_error=_all_failed(value),
        )


def _resource_error(e: _engine.HealthImagingError) -> ResourceError:
    """An engine error as the SDK's resource error (logged without traceback, answered with the
    structured error as its message): -32602 for a data store that does not exist or an ID that
    cannot be one, -32603 otherwise."""
    body = _error_body(e)
    return ResourceNotFoundError(body) if e.type in ("not_found", "validation_error") else ResourceError(body)


async def _all_datastores() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    token = None
    while True:
        page = await engine.list_datastores(max_results=50, next_token=token)
        out.extend(page.get("datastore_summaries", []))
        token = page.get("next_token")
        if not token:
            return out


def parse_toolsets(value: str | Iterable[str] | None) -> list[str]:
    """``"api,workflows"`` (or a list of names) → the toolset names; empty or ``all`` means every
    toolset. Raises ValueError naming an unknown one."""
    names = [n.strip() for n in (value.split(",") if isinstance(value, str) else value or ()) if n.strip()]
    if not names or names == ["all"]:
        return list(TOOLSETS)
    unknown = [n for n in names if n not in TOOLSETS]
    if unknown:
        raise ValueError(f"unknown toolset {unknown[0]!r}; known: {', '.join(TOOLSETS)} (or all)")
    return [t for t in TOOLSETS if t in names]


def create_server(
    *,
    readonly: bool = False,
    toolsets: str | Iterable[str] | None = None,
    log_level: str = "WARNING",
    **settings: Any,
) -> MCPServer:
    """The MCP server with the registry's tools of ``toolsets`` (default all; only read-only ones
    with ``readonly``)."""
    served = parse_toolsets(toolsets)
    every = _engine.tools()
    specs = [s for s in every if s["toolset"] in served and (s["annotations"]["readOnlyHint"] or not readonly)]
    reasons = []
    if readonly:
        reasons.append("--readonly serves read-only tools only")
    if served != list(TOOLSETS):
        reasons.append(f"--toolsets {','.join(served)}")
    server = HealthImagingServer(
        SERVER_NAME,
        instructions=_engine.instructions(served),
        version=__version__,
        log_level=log_level,  # type: ignore[arg-type]
        specs=specs,
        registry={s["name"] for s in every},
        why_hidden="; ".join(reasons) or "not served",
        **settings,
    )

    @server.resource(
        "healthimaging://datastores",
        name="datastores",
        description="Every data store (ID, name, status, ARN) in the configured account and region.",
        mime_type="application/json",
    )
    async def datastores_resource() -> str:
        try:
            return json.dumps({"datastores": await _all_datastores()})
        except _engine.HealthImagingError as e:
            raise _resource_error(e) from None

    @server.resource(
        "healthimaging://datastores/{datastore_id}",
        name="datastore",
        description="One data store's properties.",
        mime_type="application/json",
    )
    async def datastore_resource(datastore_id: str) -> str:
        try:
            return json.dumps(await engine.get_datastore(datastore_id=datastore_id))
        except _engine.HealthImagingError as e:
            raise _resource_error(e) from None

    return server
