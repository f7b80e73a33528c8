"""``awslabs.healthimaging-mcp-server``: the MCP server's command line.

With no arguments it serves MCP over stdio, as the original did. Nothing but protocol is
written to stdout on stdio; logs go to stderr at FASTMCP_LOG_LEVEL (default WARNING).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__

LOCAL_ENV = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_REGION": "us-east-1",
    "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
}


def default_local_data_dir() -> Path:
    """Per-user state of ``--local``: $XDG_DATA_HOME (or ~/.local/share)/awslabs-healthimaging-mcp-server/local."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "awslabs-healthimaging-mcp-server" / "local"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="awslabs.healthimaging-mcp-server",
        description="MCP server for AWS HealthImaging (stdio by default).",
    )
    p.add_argument("--transport", choices=["stdio", "streamable-http"], default="stdio")
    p.add_argument("--host", default="127.0.0.1", help="streamable-http bind address")
    p.add_argument("--port", type=int, default=8000, help="streamable-http port")
    p.add_argument(
        "--stateless",
        action="store_true",
        help="streamable-http without sessions, so several instances can sit behind a load balancer",
    )
    auth = p.add_argument_group(
        "streamable-http authentication",
        "required on any address other than loopback (see the README): a bearer token from "
        "$HEALTHIMAGING_MCP_AUTH_TOKEN or --auth-token-file, or OAuth token introspection",
    )
    auth.add_argument("--auth-token-file", metavar="FILE", help="file holding the bearer token clients must send")
    auth.add_argument("--auth-issuer-url", metavar="URL", help="OAuth authorization server issuing the tokens")
    auth.add_argument(
        "--auth-resource-url",
        metavar="URL",
        help="this server's public MCP URL, the audience tokens must be issued for",
    )
    auth.add_argument(
        "--auth-introspection-url",
        metavar="URL",
        help="the authorization server's token introspection endpoint (RFC 7662)",
    )
    auth.add_argument(
        "--auth-required-scope",
        metavar="SCOPE",
        action="append",
        help="a scope every token must carry (repeatable)",
    )
    auth.add_argument(
        "--allow-unauthenticated",
        action="store_true",
        help="serve a non-loopback address without authentication (trusted networks only)",
    )
    p.add_argument(
        "--readonly",
        action="store_true",
        help="register only read-only tools (no writes, no deletes)",
    )
    p.add_argument(
        "--toolsets",
        metavar="NAMES",
        default=os.environ.get("HEALTHIMAGING_MCP_TOOLSETS"),
        help="comma-separated tool groups to serve: api (one tool per API operation), workflows "
        "(patient/study/series tools), or all (default; also $HEALTHIMAGING_MCP_TOOLSETS)",
    )
    p.add_argument(
        "--file-root",
        metavar="DIR",
        action="append",
        help="a folder the dicomweb tools may read and write files in (repeatable; also "
        "$HEALTHIMAGING_MCP_FILE_ROOTS, os.pathsep-separated; default the working directory)",
    )
    p.add_argument(
        "--local",
        action="store_true",
        help="run against an embedded local HealthImaging seeded with sample DICOM (no AWS account)",
    )
    p.add_argument(
        "--local-data-dir",
        metavar="DIR",
        help=f"state of --local (default {default_local_data_dir()})",
    )
    p.add_argument(
        "--state-dir",
        metavar="DIR",
        help="where job records are kept (also $HEALTHIMAGING_MCP_STATE_DIR; default "
        "$XDG_STATE_HOME or ~/.local/state, then awslabs-healthimaging-mcp-server)",
    )
    p.add_argument(
        "--job-deadline",
        metavar="SECONDS",
        type=float,
        help="how long a change workflow's call waits before it answers a job_id and the work goes on "
        "as a job (default 45; also $HEALTHIMAGING_MCP_JOB_DEADLINE_SECONDS)",
    )
    p.add_argument(
        "--demo",
        action="store_true",
        help="start this server over stdio as an MCP client would, call a few tools, print the results, exit",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return p


def start_local(data_dir: str | None):
    """Starts the embedded local HealthImaging and points the engine at it (this process only)."""
    from . import local

    directory = Path(data_dir) if data_dir else default_local_data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    server = local.start(data_dir=directory, seed=True)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(name, None)
    os.environ.update(LOCAL_ENV, AWS_ENDPOINT_URL_MEDICAL_IMAGING=server.endpoint_url)
    return server


def apply_file_roots(roots: list[str]) -> None:
    """--file-root DIR (repeatable): the engine reads the roots from HEALTHIMAGING_MCP_FILE_ROOTS."""
    os.environ["HEALTHIMAGING_MCP_FILE_ROOTS"] = os.pathsep.join(str(Path(r).resolve()) for r in roots)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.demo:
        from .demo import run_demo

        return run_demo(args)
    log_level = os.environ.get("FASTMCP_LOG_LEVEL", "WARNING").upper()
    from .server import parse_toolsets

    try:
        toolsets = parse_toolsets(args.toolsets)
    except ValueError as e:
        print(f"awslabs.healthimaging-mcp-server: --toolsets: {e}", file=sys.stderr, flush=True)
        return 2
    if args.file_root:
        apply_file_roots(args.file_root)
    if args.state_dir:
        os.environ["HEALTHIMAGING_MCP_STATE_DIR"] = str(Path(args.state_dir).resolve())
    if args.job_deadline is not None:
        if not args.job_deadline > 0:
            print("awslabs.healthimaging-mcp-server: --job-deadline must be positive", file=sys.stderr, flush=True)
            return 2
        os.environ["HEALTHIMAGING_MCP_JOB_DEADLINE_SECONDS"] = str(args.job_deadline)
    door = None
    if args.transport == "streamable-http":
        from .http_auth import AuthConfigError, front_door

        try:
            door = front_door(
                token_file=args.auth_token_file,
                issuer_url=args.auth_issuer_url,
                resource_url=args.auth_resource_url,
                introspection_url=args.auth_introspection_url,
                required_scopes=args.auth_required_scope,
                allow_unauthenticated=args.allow_unauthenticated,
            )
            door.check(args.host)
        except AuthConfigError as e:
            print(f"awslabs.healthimaging-mcp-server: {e}", file=sys.stderr, flush=True)
            return 2
    from . import _engine

    try:
        # Before any tool runs: jobs found running at the last stop resume or are interrupted.
        _engine.init_jobs()
    except _engine.HealthImagingError as e:
        print(f"awslabs.healthimaging-mcp-server: {e}", file=sys.stderr, flush=True)
        return 2
    local_server = start_local(args.local_data_dir) if args.local else None
    from .server import create_server

    try:
        if door is None:
            create_server(readonly=args.readonly, toolsets=toolsets, log_level=log_level).run("stdio")
        else:
            server = create_server(
                readonly=args.readonly, toolsets=toolsets, log_level=log_level, **door.server_settings()
            )
            door.warn_if_open(args.host)  # once the server has set up logging
            serve_http(server, door, host=args.host, port=args.port, stateless=args.stateless)
    except KeyboardInterrupt:
        pass
    finally:
        if local_server is not None:
            local_server.stop()
    return 0


def serve_http(server, door, *, host: str, port: int, stateless: bool) -> None:
    """Streamable HTTP on host:port behind the front door (the SDK's own server, wrapped)."""
    import uvicorn

    url = f"http://{host}:{port}/mcp"
    print(f"MCP endpoint (streamable HTTP): {url}", file=sys.stderr, flush=True)
    print(
        '{"mcpServers": {"healthimaging": {"type": "http", "url": "' + url + '"}}}',
        file=sys.stderr,
        flush=True,
    )
    app = door.wrap(server.streamable_http_app(stateless_http=stateless, host=host))
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=server.settings.log_level.lower())).run()


if __name__ == "__main__":
    sys.exit(main())
