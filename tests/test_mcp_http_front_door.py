"""The streamable-HTTP front door, through the SDK's streamable HTTP client: a network address
needs authentication (a bearer token, or OAuth tokens checked by introspection with a local
authorization server run here), `--allow-unauthenticated` opens it with a warning, loopback
without authentication works as before."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import httpx2
import pytest
from conftest import MCP_CALL_TIMEOUT, MCP_MODULE, mcp_env, run_async, wait_until
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

TOKEN = "s3cret-token-for-the-front-door"
REFUSAL = "refusing to serve on 0.0.0.0 without authentication"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def http_server(env: dict[str, str], *args: str, host: str = "0.0.0.0") -> Iterator[tuple[str, list[str]]]:
    """The MCP server on streamable HTTP; yields its URL (via 127.0.0.1) and, after exit, its stderr lines."""
    port = free_port()
    argv = [sys.executable, "-m", MCP_MODULE, "--transport", "streamable-http", "--host", host, "--port", str(port)]
    proc = subprocess.Popen([*argv, *args], env=env, stderr=subprocess.PIPE, text=True)
    stderr: list[str] = []
    # Drained as it comes: at debug level the server logs more than a pipe holds, and a full pipe
    # would block the server's next log line (and with it the request being served).
    drain = threading.Thread(target=lambda: stderr.extend(line.rstrip("\n") for line in proc.stderr), daemon=True)
    drain.start()
    try:
        wait_until(lambda: listening(port) or proc.poll() is not None, bool, timeout=MCP_CALL_TIMEOUT, what="listen")
        if proc.poll() is not None:
            drain.join(timeout=MCP_CALL_TIMEOUT)
            raise AssertionError("\n".join(stderr))
        yield f"http://127.0.0.1:{port}/mcp", stderr
    finally:
        proc.terminate()
        proc.wait(timeout=MCP_CALL_TIMEOUT)
        drain.join(timeout=MCP_CALL_TIMEOUT)


async def _tools_and_datastores(url: str, token: str | None) -> tuple[set[str], dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=MCP_CALL_TIMEOUT) as http,
        streamable_http_client(url, http_client=http) as (read, write, *_),
        ClientSession(read, write) as s,
    ):
        await s.initialize()
        names = {t.name for t in (await s.list_tools()).tools}
        listed = await s.call_tool("list_datastores", {})
        assert not listed.is_error, listed
        return names, listed.structured_content


def connect(url: str, token: str | None = None) -> tuple[set[str], dict]:
    """Tool names and a list_datastores result, through the SDK's streamable HTTP client."""
    return run_async(_tools_and_datastores(url, token))


def refused(url: str, token: str | None) -> None:
    with pytest.raises(MCPError):
        connect(url, token)


def post_status(url: str, token: str | None) -> httpx2.Response:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    return httpx2.post(url, headers=headers, content=json.dumps(body), timeout=MCP_CALL_TIMEOUT)


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", MCP_MODULE, "--transport", "streamable-http", "--port", str(free_port()), *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=MCP_CALL_TIMEOUT)


# ---- refusals ------------------------------------------------------------------------------------


def test_network_address_without_authentication_refuses_to_start(server, tmp_path: Path):
    env = mcp_env(server.endpoint_url)
    for host in ("0.0.0.0", "::", "192.0.2.10"):
        proc = run_cli(env, "--host", host)
        assert proc.returncode == 2, (host, proc.stderr)
        assert f"refusing to serve on {host} without authentication" in proc.stderr
        assert "--allow-unauthenticated" in proc.stderr and "HEALTHIMAGING_MCP_AUTH_TOKEN" in proc.stderr
    short = run_cli(mcp_env(server.endpoint_url, HEALTHIMAGING_MCP_AUTH_TOKEN="short"), "--host", "0.0.0.0")
    assert short.returncode == 2 and "at least 16 characters" in short.stderr
    half_oauth = run_cli(env, "--host", "0.0.0.0", "--auth-issuer-url", "http://127.0.0.1:1")
    assert half_oauth.returncode == 2
    assert "missing --auth-resource-url, --auth-introspection-url" in half_oauth.stderr
    missing_file = run_cli(env, "--host", "0.0.0.0", "--auth-token-file", str(tmp_path / "absent"))
    assert missing_file.returncode == 2 and "cannot read --auth-token-file" in missing_file.stderr


def test_loopback_without_authentication_works_as_before(server):
    with http_server(mcp_env(server.endpoint_url), host="127.0.0.1") as (url, _):
        names, listed = connect(url)
    assert "delete_patient_studies" in names
    assert "datastore_summaries" in listed


def test_allow_unauthenticated_serves_the_network_address_and_warns(server):
    with http_server(mcp_env(server.endpoint_url), "--allow-unauthenticated") as (url, stderr):
        names, _ = connect(url)
    assert "delete_patient_studies" in names
    assert any("WITHOUT authentication" in line and "0.0.0.0" in line for line in stderr), stderr


# ---- bearer token ------------------------------------------------------------------------------


def test_bearer_token_from_the_environment_is_required(server):
    with http_server(mcp_env(server.endpoint_url, HEALTHIMAGING_MCP_AUTH_TOKEN=TOKEN)) as (url, stderr):
        refused(url, None)
        refused(url, "wrong-token-of-some-length")
        refused(url, TOKEN[:-1])
        missing, wrong = post_status(url, None), post_status(url, TOKEN + "x")
        names, listed = connect(url, TOKEN)
    assert missing.status_code == 401 and wrong.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
    assert "delete_patient_studies" in names and "datastore_summaries" in listed
    assert not any(TOKEN in line for line in stderr)  # the secret is never logged


def test_bearer_token_from_a_file(server, tmp_path: Path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    with http_server(mcp_env(server.endpoint_url), "--auth-token-file", str(token_file)) as (url, _):
        refused(url, None)
        names, _ = connect(url, TOKEN)
    assert "delete_patient_studies" in names


# ---- OAuth: tokens introspected at a local authorization server ---------------------------------


class AuthorizationServer:
    """A minimal RFC 7662 introspection endpoint; only the resource server's client may ask."""

    CLIENT = ("healthimaging-mcp", "rs-secret")

    def __init__(self, resource: str) -> None:
        self.asked: list[str] = []
        self.tokens = {
            "good-token": {"active": True, "aud": resource, "client_id": "app", "scope": "mcp", "sub": "u1"},
            "listed-audience": {"active": True, "aud": ["other", resource], "client_id": "app", "scope": "mcp"},
            "other-audience": {"active": True, "aud": "https://elsewhere.example/mcp", "client_id": "app"},
            "expired": {"active": True, "aud": resource, "client_id": "app", "exp": int(time.time()) - 60},
            "revoked": {"active": False},
        }
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                expected = "Basic " + base64.b64encode(":".join(outer.CLIENT).encode()).decode()
                form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
                token = form.get("token", [""])[0]
                outer.asked.append(token)
                if self.path != "/introspect" or self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                claims = outer.tokens.get(token, {"active": False})
                body = json.dumps({**claims, "iss": outer.issuer} if claims["active"] else claims).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self._http.server_address[1]}"
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._http.shutdown()
        self._http.server_close()


@contextmanager
def oauth_server(server, *extra: str) -> Iterator[tuple[str, AuthorizationServer]]:
    """The MCP server on 0.0.0.0 as an OAuth resource server of a local authorization server."""
    port = free_port()
    resource = f"http://127.0.0.1:{port}/mcp"
    issuer = AuthorizationServer(resource)
    env = mcp_env(
        server.endpoint_url,
        HEALTHIMAGING_MCP_INTROSPECTION_CLIENT_ID=issuer.CLIENT[0],
        HEALTHIMAGING_MCP_INTROSPECTION_CLIENT_SECRET=issuer.CLIENT[1],
    )
    argv = [sys.executable, "-m", MCP_MODULE, "--transport", "streamable-http", "--host", "0.0.0.0"]
    argv += ["--port", str(port), "--auth-issuer-url", issuer.issuer, "--auth-resource-url", resource]
    argv += ["--auth-introspection-url", f"{issuer.issuer}/introspect", *extra]
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: listening(port) or proc.poll() is not None, bool, timeout=MCP_CALL_TIMEOUT, what="listen")
        assert proc.poll() is None
        yield resource, issuer
    finally:
        proc.terminate()
        proc.wait(timeout=MCP_CALL_TIMEOUT)
        issuer.close()


def test_oauth_tokens_are_checked_by_introspection_for_this_resource(server):
    with oauth_server(server) as (resource, issuer):
        missing = post_status(resource, None)
        metadata_url = resource.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
        metadata = httpx2.get(metadata_url, timeout=MCP_CALL_TIMEOUT).json()
        for token in ("other-audience", "expired", "revoked", "never-issued"):
            refused(resource, token)
        names, listed = connect(resource, "good-token")
        connect(resource, "listed-audience")
    assert missing.status_code == 401
    assert f'resource_metadata="{metadata_url}"' in missing.headers["www-authenticate"]
    assert metadata["resource"] == resource and metadata["authorization_servers"] == [issuer.issuer]
    assert "delete_patient_studies" in names and "datastore_summaries" in listed
    assert {"good-token", "other-audience", "expired", "revoked", "never-issued"} <= set(issuer.asked)


def test_oauth_required_scope(server):
    with oauth_server(server, "--auth-required-scope", "healthimaging:write") as (resource, issuer):
        issuer.tokens["writer-token"] = {**issuer.tokens["good-token"], "scope": "mcp healthimaging:write"}
        without_scope = post_status(resource, "good-token")
        refused(resource, "good-token")
        names, _ = connect(resource, "writer-token")
    assert without_scope.status_code == 403
    assert "insufficient_scope" in without_scope.headers["www-authenticate"]
    assert "delete_patient_studies" in names
