"""What the benchmark runs against: the servers under test (this one, the original from PyPI in its
own virtual environment, and the SDK floor), started as an MCP host starts them, each driven by
the same MCP client; and their peak memory."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mcp import ClientSession, StdioServerParameters, stdio_client

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / ".bench"
"""Cache of the original's virtual environment, and the servers' stderr logs."""
EXPORT_ROOT = BENCH_DIR / "export"
"""Where export scenarios write (this server's file root in the benchmark)."""
STATE_DIR = BENCH_DIR / "state"
"""This server's job records in the benchmark."""
ORIGINAL = "awslabs.healthimaging-mcp-server==0.1.1"
REGION = "us-east-1"
ACCESS_KEY_ID = "test"
SECRET_ACCESS_KEY = "test"


def original_executable() -> Path:
    """The original's console script, installed from PyPI into .bench/ on first use."""
    venv = BENCH_DIR / "original-0.1.1"
    exe = venv / "bin" / "awslabs.healthimaging-mcp-server"
    if not exe.exists():
        print(f"installing {ORIGINAL} into {venv} (once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", ORIGINAL], check=True)
    return exe


def aws_env(endpoint_url: str) -> dict[str, str]:
    """The same environment for every server: the local HealthImaging's endpoint and credentials,
    nothing from the developer's AWS set-up. The original reads AWS_DEFAULT_REGION only."""
    missing = str(BENCH_DIR / "no-aws-config")
    return {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL_MEDICAL_IMAGING": endpoint_url,
        "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
        "AWS_CONFIG_FILE": missing,
        "AWS_SHARED_CREDENTIALS_FILE": missing,
        "HEALTHIMAGING_MCP_FILE_ROOTS": str(EXPORT_ROOT),
        "HEALTHIMAGING_MCP_STATE_DIR": str(STATE_DIR),
    }


@dataclass(frozen=True)
class Target:
    """A server under test: how to start it over stdio."""

    key: str
    label: str
    command: str
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


def targets(endpoint_url: str) -> dict[str, Target]:
    EXPORT_ROOT.mkdir(parents=True, exist_ok=True)
    env = aws_env(endpoint_url)
    return {
        "ours": Target("ours", "this server", sys.executable, ("-m", "awslabs.healthimaging_mcp_server.cli"), env),
        "original": Target("original", "original 0.1.1", str(original_executable()), (), env),
        "floor": Target(
            "floor", "no-op tool, same SDK", sys.executable, (str(Path(__file__).with_name("noop_server.py")),), env
        ),
    }


# ---- processes and memory ------------------------------------------------------------------------


def _children(pid: int) -> set[int]:
    out = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses; the fields after the last ")" do not.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.add(int(entry.name))
    return out


def _tree(pids: set[int]) -> set[int]:
    out = set(pids)
    for pid in pids:
        out |= _tree(_children(pid))
    return out


def peak_rss_mib(pids: set[int]) -> float | None:
    """Peak resident memory (VmHWM) of these processes and their descendants, summed; None where
    /proc is not available."""
    total, seen = 0, False
    for pid in _tree(pids):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
                seen = True
    return total / 1024 if seen else None


@dataclass
class Live:
    """A started server: the initialized MCP session and the server's processes."""

    session: ClientSession
    pids: set[int]
    log: Path
    log_start: int

    def peak_rss_mib(self) -> float | None:
        return peak_rss_mib(self.pids)

    def stderr(self) -> str:
        """What the server wrote to stderr since it started."""
        with self.log.open("rb") as f:
            f.seek(self.log_start)
            return f.read().decode(errors="replace")


@asynccontextmanager
async def started(target: Target, extra_env: dict[str, str] | None = None) -> AsyncIterator[Live]:
    """Starts `target` as an MCP host does (a subprocess speaking MCP over stdio) and initializes
    a session with the SDK's client; the server's stderr goes to .bench/logs/<key>.log."""
    logs = BENCH_DIR / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    have_proc = Path("/proc").is_dir()
    before = _children(os.getpid()) if have_proc else set()
    params = StdioServerParameters(
        command=target.command, args=list(target.args), env={**target.env, **(extra_env or {})}
    )
    log = logs / f"{target.key}.log"
    with log.open("a") as errlog:
        start = errlog.tell()
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            pids = _children(os.getpid()) - before if have_proc else set()
            yield Live(session, pids, log, start)
