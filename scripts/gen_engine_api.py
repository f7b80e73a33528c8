"""Generates the notebook API, ``awslabs.healthimaging_mcp_server.engine`` (``engine.py`` and its
stub ``engine.pyi``), from the Rust tool registry (``_engine.tools()``): one async function per
tool, with the tool's parameters as keyword arguments.

    python scripts/gen_engine_api.py          # rewrite both files
    python scripts/gen_engine_api.py --check  # exit 1 (and show the diff) if either is stale
"""

from __future__ import annotations

import argparse
import difflib
import sys
import textwrap
from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parent.parent / "python" / "awslabs" / "healthimaging_mcp_server"
WIDTH = 100

HEADER = '''\
"""The notebook API: every tool of the MCP server as an async function with keyword arguments.
Results are plain dicts (the tools' structured results); a tool that answers images (such as
``render_image_frame``) adds ``"images": [{"mime_type": "image/png", "data": b"..."}]`` (show one
in Jupyter with ``IPython.display.Image(data=r["images"][0]["data"])``, or write its bytes to a
file). Failures raise ``HealthImagingError``
with ``type``, ``message``, ``code`` and ``status``. Cancelling the awaiting task cancels the
call (a workflow starts no new image set).

    from awslabs.healthimaging_mcp_server import engine
    stores = await engine.list_datastores(max_results=10)

Generated from the Rust tool registry by scripts/gen_engine_api.py; do not edit.
"""

'''


def py_type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if kind == "string":
        return "str"
    if kind == "integer":
        return "int"
    if kind == "boolean":
        return "bool"
    if kind == "array":
        return f"list[{py_type(schema.get('items', {}))}]"
    if kind == "object":
        values = schema.get("additionalProperties")
        return f"dict[str, {py_type(values)}]" if isinstance(values, dict) and values.get("type") else "dict[str, Any]"
    return "Any"


def parameters(tool: dict[str, Any]) -> list[tuple[str, str, str | None, str]]:
    """(name, annotation, default or None if required, description) per parameter."""
    schema = tool["inputSchema"]
    required = set(schema.get("required", []))
    out = []
    for name, prop in schema["properties"].items():
        annotation = py_type(prop)
        if name in required:
            default = None
        elif "default" in prop:
            default = repr(prop["default"])
        else:
            annotation, default = f"{annotation} | None", "None"
        out.append((name, annotation, default, prop.get("description", "")))
    if tool["progress"]:
        out.append(("progress", "Callable[[int, int, str], None] | None", "None", "called with (done, total, message)"))
    return out


def docstring(tool: dict[str, Any], params: list[tuple[str, str, str | None, str]]) -> str:
    lines = textwrap.wrap(tool["description"], WIDTH - 4)
    described = [(n, d) for n, _, _, d in params if d]
    if described:
        lines.append("")
        for name, text in described:
            lines += textwrap.wrap(f"{name}: {text}", WIDTH - 4, subsequent_indent="    ")
    if len(lines) == 1:
        return f'    """{lines[0]}"""\n'
    body = "\n".join(f"    {line}" if line else "" for line in lines)
    return f'    """{body.lstrip()}\n    """\n'


def signature(tool: dict[str, Any], params: list[tuple[str, str, str | None, str]]) -> str:
    args = "".join(
        f"    {name}: {annotation}{'' if default is None else f' = {default}'},\n"
        for name, annotation, default, _ in params
    )
    return f"async def {tool['name']}(\n    *,\n{args}) -> dict[str, Any]:\n"


def body(tool: dict[str, Any], params: list[tuple[str, str, str | None, str]]) -> str:
    names = [n for n, *_ in params if n != "progress"]
    args = "".join(f'            "{n}": {n},\n' for n in names)
    progress = "\n        progress," if tool["progress"] else ""
    return f'    return await _run(\n        "{tool["name"]}",\n        {{\n{args}        }},{progress}\n    )\n'


def module(tools: list[dict[str, Any]]) -> str:
    names = sorted(t["name"] for t in tools)
    exports = "".join(
        f'    "{n}",\n' for n in ["HealthImagingError", *names, "rate_limits", "recent_runs", "reset_client"]
    )
    out = [
        HEADER,
        "from __future__ import annotations\n\n",
        "import json\n",
        "from collections.abc import Callable\n",
        "from typing import Any\n\n",
        "from ._engine import HealthImagingError, rate_limits, recent_runs, reset_client\n",
        "from ._engine import call as _call\n\n",
        f"__all__ = [\n{exports}]\n\n\n",
        "async def _run(name: str, arguments: dict[str, Any], progress: Callable[..., None] | None = None) -> Any:\n",
        "    # None means absent; the registry checks the rest (unknown names, types, ranges).\n",
        "    answer = await _call(name, json.dumps({k: v for k, v in arguments.items() if v is not None}), progress)\n",
        "    if isinstance(answer, tuple):\n",
        "        # A tool that answers images: the JSON result plus the images' bytes.\n",
        "        text, images = answer\n",
        "        result = json.loads(text)\n",
        '        result["images"] = [{"mime_type": mime, "data": data} for mime, data in images]\n',
        "        return result\n",
        "    return json.loads(answer)\n",
    ]
    for tool in tools:
        params = parameters(tool)
        out.append("\n\n" + signature(tool, params) + docstring(tool, params) + body(tool, params))
    return "".join(out)


def stub(tools: list[dict[str, Any]]) -> str:
    out = [
        '"""Signatures of ``awslabs.healthimaging_mcp_server.engine`` (generated by scripts/gen_engine_api.py).\n\n'
        "A tool that answers images (render_image_frame) returns its result dict plus\n"
        '``"images": [{"mime_type": "image/png" | "image/jpeg", "data": bytes}]``.\n'
        '"""\n\n',
        "from collections.abc import Callable\n",
        "from typing import Any\n\n",
        "from ._engine import HealthImagingError as HealthImagingError\n",
        "from ._engine import rate_limits as rate_limits\n",
        "from ._engine import recent_runs as recent_runs\n",
        "from ._engine import reset_client as reset_client\n",
    ]
    for tool in tools:
        params = parameters(tool)
        out.append("\n" + signature(tool, params) + docstring(tool, params))
    return "".join(out)


def generated() -> dict[Path, str]:
    # The installed package first (CI installs the built wheel, whose extension the source tree
    # lacks); the source tree only when nothing is installed (an in-place build).
    try:
        from awslabs.healthimaging_mcp_server import _engine
    except ImportError:
        sys.path.insert(0, str(PACKAGE.parent.parent))
        from awslabs.healthimaging_mcp_server import _engine

    tools = _engine.tools()
    return {PACKAGE / "engine.py": module(tools), PACKAGE / "engine.pyi": stub(tools)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a committed file differs from a fresh one")
    args = parser.parse_args()
    stale = False
    for path, text in generated().items():
        current = path.read_text() if path.exists() else ""
        if current == text:
            continue
        if args.check:
            stale = True
            sys.stdout.writelines(
                difflib.unified_diff(current.splitlines(True), text.splitlines(True), str(path), "generated")
            )
        else:
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print("\nstale: run python scripts/gen_engine_api.py and commit the result", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
