"""The MCP server: tools registered from the table in `tools.py`, data stores as resources.

Every tool calls one async engine function; every failure becomes an MCP error result whose
text is ``{"error": true, "type": ..., "message": ...}``.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from mcp.server.mcpserver.tools import Tool
from mcp.server.stdio import stdio_server
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field, ValidationError

from . import __version__, _engine
from .arguments import describe_invalid, echo, strict
from .stdio import AnsweringUnparseable
from .tools import TOOLS, ToolSpec

log = logging.getLogger(__name__)

SERVER_NAME = "awslabs.healthimaging-mcp-server"

INSTRUCTIONS = """\
AWS HealthImaging: medical images (DICOM) stored as image sets in data stores.

- Find data stores with list_datastores (also the resource healthimaging://datastores).
- Find image sets with search_image_sets (filters on patient ID, accession number, study ID,
  study/series UID, study date, created/updated time, is_primary; at most 2 filters; 50 results
  per page, follow next_token).
- Read an image set with get_image_set (properties), get_image_set_metadata (the DICOM metadata
  as JSON: Patient, Study, Series, Instances with frame IDs) and get_image_frame (pixel data).
- Changes: update_image_set_metadata and copy_image_set create new versions and need the
  current latest_version_id; on conflict_error read the image set again and retry.
  delete_image_set and delete_datastore cannot be undone.
- Imports: start_dicom_import_job (input and output S3 URIs and an IAM role), then poll
  get_dicom_import_job.
Errors are JSON: {"error": true, "type": validation_error | not_found | auth_error |
conflict_error | throttling_error | service_error | server_error, "message": ...}.
"""


def error_text(kind: str, message: str) -> str:
    return json.dumps({"error": True, "type": kind, "message": message})


def _engine_error(e: _engine.HealthImagingError) -> ToolError:
    body = {"error": True, "type": e.type, "message": e.message}
    if getattr(e, "code", None):
        body["code"] = e.code
    if getattr(e, "status", None):
        body["status"] = e.status
    return ToolError(json.dumps(body))


def _tool_function(spec: ToolSpec) -> Callable[..., Awaitable[Any]]:
    """An async function with the tool's exact signature, calling its engine function."""
    engine_fn = getattr(_engine, spec.function)

    async def call(**kwargs: Any) -> Any:
        ctx: Context | None = kwargs.pop("ctx", None)
        args = {k: v for k, v in kwargs.items() if v is not None}
        reporter = _ProgressReporter(ctx) if ctx is not None else None
        if reporter is not None:
            args["progress"] = reporter.report
        try:
            result = await engine_fn(**args)
        except _engine.HealthImagingError as e:
            raise _engine_error(e) from None
        finally:
            if reporter is not None:
                await reporter.close()
        return _flagged_if_all_failed(result)

    params = [
        inspect.Parameter(
            p.name,
            inspect.Parameter.KEYWORD_ONLY,
            default=inspect.Parameter.empty if p.required else None,
            annotation=Annotated[
                p.type if p.required else p.type | None,
                Field(description=p.description, ge=p.minimum, le=p.maximum),
            ],
        )
        for p in spec.params
    ]
    if spec.progress:
        params.append(inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=Context))
    call.__name__ = spec.name
    call.__qualname__ = spec.name
    call.__doc__ = spec.description
    call.__signature__ = inspect.Signature(params, return_annotation=spec.output)  # type: ignore[attr-defined]
    # The SDK finds the Context parameter through the annotations, the rest through the signature.
    call.__annotations__ = {p.name: p.annotation for p in params} | {"return": spec.output}
    return call


def _structured(text: str) -> bool:
    return text.startswith('{"error": true')


def _flagged_if_all_failed(result: Any) -> Any:
    """A workflow report whose every item failed, as an MCP error result still carrying the report."""
    if isinstance(result, dict) and result.get("total", 0) > 0 and result.get("failed") == result["total"]:
        return CallToolResult(
            content=[TextContent(type="text", text=json.dumps(result, indent=2))],
            structured_content=result,
            is_error=True,
        )
    return result


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
    """Reports argument errors and unexpected failures in the same structured form as engine errors,
    and answers stdio frames it cannot parse."""

    def __init__(self, *args: Any, tools: list[Tool], **kwargs: Any) -> None:
        super().__init__(*args, tools=tools, **kwargs)
        self._parameters = {t.name: tuple(t.parameters.get("properties", {})) for t in tools}

    async def run_stdio_async(self) -> None:
        async with stdio_server() as (read_stream, write_stream):
            await self._lowlevel_server.run(
                AnsweringUnparseable(read_stream, write_stream),
                write_stream,
                self._lowlevel_server.create_initialization_options(),
            )

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context | None = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as e:
            cause = e.__cause__
            if isinstance(cause, ToolError) and _structured(str(cause)):
                raise ToolError(str(cause)) from None
            if _structured(str(e)):
                raise
            if isinstance(cause, ValidationError):
                known = self._parameters.get(name, ())
                raise ToolError(error_text("validation_error", describe_invalid(name, cause, known))) from None
            if cause is None and name not in {t.name for t in await self.list_tools()}:
                raise ToolError(error_text("validation_error", f"Unknown tool: {echo(name)}")) from None
            # A crash: log its type only (its text may carry request data), answer in the same form.
            log.warning("tool %s failed unexpectedly: %s", name, type(cause or e).__name__)
            raise ToolError(
                error_text("server_error", f"{name} failed unexpectedly ({type(cause or e).__name__})")
            ) from None


def _resource_error(e: _engine.HealthImagingError) -> ResourceError:
    """An engine error as the SDK's resource error (logged without traceback, answered with the
    structured error as its message): -32602 for a data store that does not exist or an ID that
    cannot be one, -32603 otherwise."""
    body = str(_engine_error(e))
    return ResourceNotFoundError(body) if e.type in ("not_found", "validation_error") else ResourceError(body)


async def _all_datastores() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    token = None
    while True:
        page = await _engine.list_datastores(max_results=50, next_token=token)
        out.extend(page.get("datastore_summaries", []))
        token = page.get("next_token")
        if not token:
            return out


def create_server(*, readonly: bool = False, log_level: str = "WARNING", **settings: Any) -> MCPServer:
    """The MCP server with every tool of the table (only read-only ones with ``readonly``)."""
    tools = [
        strict(
            Tool.from_function(
                _tool_function(spec),
                name=spec.name,
                description=spec.description,
                annotations=ToolAnnotations(
                    read_only_hint=spec.read_only,
                    destructive_hint=spec.destructive,
                    idempotent_hint=spec.idempotent,
                    open_world_hint=True,
                ),
                structured_output=True,
            )
        )
        for spec in TOOLS
        if spec.read_only or not readonly
    ]
    server = HealthImagingServer(
        SERVER_NAME,
        instructions=INSTRUCTIONS,
        version=__version__,
        log_level=log_level,  # type: ignore[arg-type]
        tools=tools,
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
            return json.dumps(await _engine.get_datastore(datastore_id=datastore_id))
        except _engine.HealthImagingError as e:
            raise _resource_error(e) from None

    return server
