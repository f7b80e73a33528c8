"""Smoke test of a built wheel the way a user without Rust meets it.

    python scripts/smoke_wheel.py dist/awslabs_healthimaging_mcp_server-*.whl

In a fresh virtual environment, with a PATH that holds no Rust toolchain: pip installs the wheel
(binary packages only, so nothing can be compiled), a real MCP client (the `mcp` SDK's stdio client)
starts `awslabs.healthimaging-mcp-server --local`, lists the tools, calls reads and a write and
reads the write back; then `uvx --from <wheel>` runs the console script. Prints the wheel's size
and the install time. Exits non-zero on any failure.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Runs inside the fresh environment: only the wheel and its dependencies are importable there.
CLIENT = r"""
import asyncio, json, sys
from mcp import ClientSession, StdioServerParameters, stdio_client

def body(result):
    assert not result.is_error, result.content
    return result.structured_content or json.loads(result.content[0].text)

async def main(command, data_dir):
    params = StdioServerParameters(command=command, args=["--local", "--local-data-dir", data_dir], env=None)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as s:
        await s.initialize()
        tools = {t.name for t in (await s.list_tools()).tools}
        assert {"list_datastores", "search_image_sets", "create_datastore"} <= tools, sorted(tools)
        stores = body(await s.call_tool("list_datastores", {}))["datastore_summaries"]
        assert stores, "--local seeds a data store"
        found = body(await s.call_tool("search_image_sets", {"datastore_id": stores[0]["datastore_id"]}))
        assert found["image_sets_metadata_summaries"], "the seeded data store holds image sets"
        created = body(await s.call_tool("create_datastore", {"datastore_name": "smoke-test"}))
        new_id = created["datastore_id"]
        after = body(await s.call_tool("list_datastores", {}))["datastore_summaries"]
        assert new_id in {d["datastore_id"] for d in after}, after
        print(f"  MCP over stdio: {len(tools)} tools; read {len(stores)} data store(s) and "
              f"{len(found['image_sets_metadata_summaries'])} image set(s); created and read back {new_id}")

asyncio.run(asyncio.wait_for(main(sys.argv[1], sys.argv[2]), 120))
"""

SCRIPT = "awslabs.healthimaging-mcp-server"
# What pip needs to reach the package registry from this machine; nothing else is passed on.
NETWORK_VARS = ("PIP_CERT", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_DEFAULT_TIMEOUT")
NETWORK_VARS += ("SSL_CERT_FILE", "SSL_CERT_DIR", "HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY")
NETWORK_VARS += ("https_proxy", "http_proxy", "no_proxy", "UV_INDEX_URL", "UV_CACHE_DIR")


def clean_env(home: Path, venv: Path | None = None) -> dict[str, str]:
    """Like `env -i PATH=/usr/bin:/bin`: a user's machine without Rust (checked, not assumed)."""
    path = ([str(venv / "bin")] if venv else []) + ["/usr/bin", "/bin"]
    env = {"PATH": os.pathsep.join(path), "HOME": str(home), "LANG": "C.UTF-8"}
    env.update({k: os.environ[k] for k in NETWORK_VARS if k in os.environ})
    for tool in ("cargo", "rustc"):
        found = shutil.which(tool, path=env["PATH"])
        if found:
            raise SystemExit(f"smoke test: {tool} is on the clean PATH ({found}); it must run without Rust")
    return env


def run(cmd: list[str], env: dict[str, str], **kw) -> subprocess.CompletedProcess:
    print("$ " + " ".join(a if len(a) < 200 else "<mcp client>" for a in cmd), flush=True)
    return subprocess.run(cmd, env=env, check=True, **kw)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("wheel", type=Path)
    p.add_argument("--uvx", default=shutil.which("uvx"), help="uvx to run the wheel with (default: on PATH)")
    args = p.parse_args()
    wheel = args.wheel.resolve()
    print(f"wheel {wheel.name}: {wheel.stat().st_size / 1e6:.1f} MB")
    # The interpreter this one was made from, by absolute path: a virtual environment's python
    # would carry that environment's packages along.
    base_python = getattr(sys, "_base_executable", sys.executable)

    with tempfile.TemporaryDirectory(prefix="wheel-smoke-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        venv = Path(tmp) / "venv"
        run([base_python, "-m", "venv", str(venv)], clean_env(home))
        env = clean_env(home, venv)
        start = time.monotonic()
        run([str(venv / "bin/python"), "-m", "pip", "install", "-q", "--only-binary", ":all:", str(wheel)], env)
        print(f"installed in a fresh venv in {time.monotonic() - start:.1f} s (no Rust on PATH)")

        installed = subprocess.run(
            [str(venv / "bin/python"), "-c", "import awslabs.healthimaging_mcp_server._engine as e; print(e.__file__)"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        assert installed.startswith(str(venv)), f"the extension was imported from {installed}, not the fresh venv"

        run([str(venv / "bin/python"), "-c", CLIENT, str(venv / "bin" / SCRIPT), str(Path(tmp) / "local")], env)

        if not args.uvx:
            raise SystemExit("smoke test: uvx not found (pip install uv)")
        help_text = run([args.uvx, "--from", str(wheel), SCRIPT, "--help"], env, capture_output=True, text=True).stdout
        assert "--local" in help_text, help_text
        print("  uvx --from <wheel> runs the console script")
    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
