"""The image's HEALTHCHECK: probes `/mcp` when the server (PID 1) serves streamable HTTP.

Any HTTP answer (even 401/405/406: the probe sends no session or token) means the server is up;
a refused or timed-out connection means it is not. Over stdio there is nothing to probe.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from pathlib import Path


def option(argv: list[str], name: str, default: str) -> str:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


def probe(argv: list[str]) -> int:
    """0 when the server started with `argv` is healthy, 1 when it is not."""
    if option(argv, "--transport", "stdio") != "streamable-http":
        return 0
    host = option(argv, "--host", "127.0.0.1")
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://{host}:{option(argv, '--port', '8000')}/mcp"
    try:
        with urllib.request.urlopen(url, timeout=4):
            pass
    except urllib.error.HTTPError:
        pass  # answered
    except OSError as e:
        print(f"{url}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(probe(Path("/proc/1/cmdline").read_bytes().decode().split("\0")))
