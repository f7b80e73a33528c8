"""Answers stdio frames the SDK cannot parse, so a client never waits on a frame nobody read.

The SDK's stdio reader hands a frame that is not a JSON-RPC message to the server as an
exception, and the server drops it without a reply. JSON-RPC 2.0 asks for an error response
with ``id: null``: -32700 when the frame is not JSON (truncated, not JSON at all, nested past
the parser's limit, a lone surrogate escape), -32600 when it is JSON but not a message.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Any

from anyio import EndOfStream
from mcp.shared.message import SessionMessage
from mcp_types import INVALID_REQUEST, PARSE_ERROR, ErrorData, JSONRPCError
from pydantic import ValidationError

log = logging.getLogger(__name__)


def error_for(exc: Exception) -> JSONRPCError | None:
    """The JSON-RPC error answering an unreadable frame (None for a blank line, which asks nothing)."""
    errors = exc.errors() if isinstance(exc, ValidationError) else []
    if errors and errors[0]["type"] == "json_invalid":
        if not str(errors[0].get("input", "x")).strip():
            return None
        error = ErrorData(code=PARSE_ERROR, message="Parse error: the frame is not valid JSON")
    elif errors:
        error = ErrorData(code=INVALID_REQUEST, message="Invalid request: the frame is not a JSON-RPC 2.0 message")
    else:
        error = ErrorData(code=PARSE_ERROR, message="Parse error")
    return JSONRPCError(jsonrpc="2.0", id=None, error=error)


class AnsweringUnparseable:
    """The SDK's stdio read stream, minus the frames it could not parse, each answered on `write`."""

    def __init__(self, read: Any, write: Any) -> None:
        self._read = read
        self._write = write

    @property
    def last_context(self) -> Any:
        # The SDK restores each message's sender context from this attribute when present.
        return getattr(self._read, "last_context", None)

    async def receive(self) -> Any:
        while True:
            item = await self._read.receive()
            if not isinstance(item, Exception):
                return item
            reply = error_for(item)
            if reply is not None:
                log.info("answered an unreadable frame with JSON-RPC error %d", reply.error.code)
                await self._write.send(SessionMessage(reply))

    async def aclose(self) -> None:
        await self._read.aclose()

    def __aiter__(self) -> AnsweringUnparseable:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> AnsweringUnparseable:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        await self.aclose()
        return None
