"""Strict tool arguments: an unknown argument is refused, never dropped.

The SDK builds each tool's argument model from the function signature and ignores keys it does
not know, so a misspelled ``dryRun`` would run a destructive tool for real. Here the model
forbids extra keys (its JSON schema then says ``additionalProperties: false``) and the refusal
names the argument and the parameter it most likely meant.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from mcp.server.mcpserver.tools import Tool
from pydantic import ConfigDict, ValidationError

ECHO_LIMIT = 64
"""Characters of a caller's value repeated in an error message (a 1 MB ID must not make a 1 MB error)."""
PROBLEMS_SHOWN = 5
"""Argument problems listed in one message; the rest are counted."""

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """`value` as text, cut to a short prefix when long."""
    text = str(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def snake_case(name: str) -> str:
    """``dryRun``, ``dry-run``, ``DryRun``, ``dry run`` -> ``dry_run``."""
    return re.sub(r"[-\s.]+", "_", _CAMEL.sub("_", name.strip())).lower()


def suggestion(name: str, known: Iterable[str]) -> str | None:
    """The known parameter `name` most likely meant, if any is close enough."""
    known = sorted(known)
    normal = snake_case(name)
    if normal in known:
        return normal
    close = difflib.get_close_matches(normal, known, n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_argument(name: str, known: Iterable[str]) -> str:
    message = f"unknown argument '{echo(name)}'"
    guess = suggestion(name, known)
    return f"{message}; did you mean '{guess}'?" if guess else f"{message}; known: {', '.join(sorted(known))}"


def strict(tool: Tool) -> Tool:
    """`tool` with an argument model (and input schema) that refuses unknown keys."""
    base = tool.fn_metadata.arg_model
    model = type(base.__name__, (base,), {"model_config": ConfigDict(extra="forbid"), "__module__": base.__module__})
    return tool.model_copy(
        update={
            "fn_metadata": tool.fn_metadata.model_copy(update={"arg_model": model}),
            "parameters": model.model_json_schema(by_alias=True),
        }
    )


def describe_invalid(tool_name: str, error: ValidationError, known: Iterable[str]) -> str:
    """One message for every problem of a tool's arguments, echoing no more than a prefix of any value."""
    known = list(known)
    problems: list[str] = []
    for err in error.errors():
        loc = [str(part) for part in err["loc"]]
        if err["type"] == "extra_forbidden" and len(loc) == 1:
            problems.append(unknown_argument(loc[0], known))
        else:
            problems.append(f"{'.'.join(echo(p) for p in loc)}: {echo(err['msg'], 200)}")
    shown = "; ".join(problems[:PROBLEMS_SHOWN])
    more = len(problems) - PROBLEMS_SHOWN
    return f"Invalid arguments for {tool_name}: {shown}" + (f" (and {more} more)" if more > 0 else "")
