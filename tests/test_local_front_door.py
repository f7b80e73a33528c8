"""The local HealthImaging's front door, through real sockets: Host checks (DNS rebinding), the
signature judged before the body is read, the body limit from the service model with a JSON 413,
default credentials refused off loopback, and connection timeouts and a shutdown that never waits
for idle or half-sent requests."""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import subprocess
import sys
import threading
import uuid

import pytest
from awslabs.healthimaging_mcp_server import local
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from conftest import (
    ACCESS_KEY_ID,
    REGION,
    ROLE_ARN,
    SECRET_ACCESS_KEY,
    create_datastore,
    make_client,
    start_server,
    wait_datastore_status,
    wait_until,
)

MAX_BODY = 4 * 1024 * 1024
# Guards against a hang only; no assertion depends on how long anything takes.
HANG_GUARD = 60


def port_of(server) -> int:
    return int(server.endpoint_url.rsplit(":", 1)[1])


def signed(
    method: str,
    host: str,
    path: str,
    body: bytes = b"",
    *,
    key: str = ACCESS_KEY_ID,
    secret: str = SECRET_ACCESS_KEY,
    declare_hash: bool = False,
) -> dict[str, str]:
    """SigV4 headers (botocore's signer) for a request addressed to `host`."""
    req = AWSRequest(method=method, url=f"http://{host}{path}", data=body, headers={"Content-Type": "application/json"})
    if declare_hash:
        req.headers["X-Amz-Content-SHA256"] = hashlib.sha256(body).hexdigest()
    SigV4Auth(Credentials(key, secret), "medical-imaging", REGION).add_auth(req)
    headers = dict(req.headers.items())
    headers["Host"] = host
    return headers


def open_request(port: int, method: str, path: str, headers: dict[str, str], body: bytes = b"", length=None):
    """Sends the request head (and `body`, possibly only part of it); returns the socket."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)
    head = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    head.append(f"Content-Length: {len(body) if length is None else length}")
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    return sock


def response_of(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    resp = http.client.HTTPResponse(sock)
    resp.begin()
    body = resp.read()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


def assert_error(resp, status: int, code: str) -> dict:
    got_status, headers, body = resp
    assert got_status == status, (got_status, body)
    assert headers["content-type"] == "application/json"
    assert headers["x-amzn-errortype"] == code
    doc = json.loads(body)
    assert doc["__type"] == code and doc["message"], doc
    return doc


def datastore_names(client) -> list[str]:
    return [d["datastoreName"] for d in client.list_datastores()["datastoreSummaries"]]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with start_server(tmp_path_factory.mktemp("front-door")) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    return make_client(server.endpoint_url)


# ---- Host header -------------------------------------------------------------------------------


def test_foreign_host_is_refused_even_when_correctly_signed(server, client):
    """A page whose DNS name was rebound to 127.0.0.1 sends its own name as Host."""
    port = port_of(server)
    body = json.dumps({"datastoreName": "rebound", "clientToken": uuid.uuid4().hex}).encode()
    evil = f"evil.example:{port}"
    doc = assert_error(
        response_of(open_request(port, "POST", "/datastore", signed("POST", evil, "/datastore", body), body)),
        403,
        "AccessDeniedException",
    )
    assert evil in doc["message"]
    assert "rebound" not in datastore_names(client)
    # The same request addressed to the bound address is served.
    for host in (f"127.0.0.1:{port}", f"localhost:{port}"):
        status, _, _ = response_of(open_request(port, "GET", "/datastore", signed("GET", host, "/datastore")))
        assert status == 200
    # boto3 through a loopback name works as usual.
    assert make_client(f"http://localhost:{port}").list_datastores()["datastoreSummaries"] is not None


def test_allow_host_admits_a_proxy_name(tmp_path):
    with start_server(tmp_path, allow_hosts=["proxy.example", "gw.example:8443"]) as srv:
        port = port_of(srv)
        for host, status in [
            ("proxy.example", 200),
            ("proxy.example:9000", 200),
            ("gw.example:8443", 200),
            ("gw.example:8444", 403),
            ("other.example", 403),
        ]:
            got = response_of(open_request(port, "GET", "/datastore", signed("GET", host, "/datastore")))
            assert got[0] == status, (host, got)


def test_invalid_allow_host_refuses_to_start(tmp_path):
    with pytest.raises(local.EngineError, match="allow-host"):
        start_server(tmp_path, allow_hosts=["not a host"])


# ---- signature before body, body limit ---------------------------------------------------------


def test_signature_is_judged_before_the_body_is_read(server):
    """Each request announces a body and never sends it: the answer must come anyway."""
    port = port_of(server)
    host = f"127.0.0.1:{port}"
    unknown = signed("POST", host, "/datastore", b"{}", key="AKIDUNKNOWN")
    assert_error(
        response_of(open_request(port, "POST", "/datastore", unknown, length=1000)),
        403,
        "UnrecognizedClientException",
    )
    forged = signed("POST", host, "/datastore", b"x" * 1000, secret="not-the-secret", declare_hash=True)
    assert_error(
        response_of(open_request(port, "POST", "/datastore", forged, length=1000)),
        403,
        "InvalidSignatureException",
    )
    no_auth = {"Host": host, "Content-Type": "application/json"}
    assert_error(
        response_of(open_request(port, "POST", "/datastore", no_auth, length=1000)),
        403,
        "MissingAuthenticationTokenException",
    )


def test_body_over_the_model_limit_is_a_json_413_before_it_is_read(server):
    port = port_of(server)
    headers = signed("POST", f"127.0.0.1:{port}", "/datastore", b"{}")
    doc = assert_error(
        response_of(open_request(port, "POST", "/datastore", headers, length=MAX_BODY + 1)),
        413,
        "RequestEntityTooLargeException",
    )
    assert str(MAX_BODY) in doc["message"]


def test_payload_hash_is_checked_once_the_body_is_in(server, client):
    port = port_of(server)
    host = f"127.0.0.1:{port}"
    name = f"payload-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"datastoreName": name, "clientToken": "a" * 32}).encode()
    swapped = body.replace(b"a" * 32, b"b" * 32)
    # Signed for one body, sent with another of the same size.
    assert_error(
        response_of(open_request(port, "POST", "/datastore", signed("POST", host, "/datastore", body), swapped)),
        403,
        "InvalidSignatureException",
    )
    # A declared hash that is not the body's.
    lying = signed("POST", host, "/datastore", body, declare_hash=True)
    doc = assert_error(
        response_of(open_request(port, "POST", "/datastore", lying, swapped)), 403, "InvalidSignatureException"
    )
    assert "x-amz-content-sha256" in doc["message"]
    assert name not in datastore_names(client)
    # Declared and matching: served.
    status, _, _ = response_of(open_request(port, "POST", "/datastore", lying, body))
    assert status == 200
    assert name in datastore_names(client)


def test_bodies_up_to_the_model_limit_reach_the_operation(server, client):
    """1,000 metadata mappings at their length limits (over 2 MB) are a valid StartDICOMImportJob."""
    ds = create_datastore(client, f"big-{uuid.uuid4().hex[:8]}")
    wait_datastore_status(client, ds, "ACTIVE")
    mappings = [
        {"studyInstanceUID": "1." + "2" * 510, "seriesInstanceUID": "1." + "3" * 510, "metadataFilePath": "m" * 1024}
        for _ in range(1000)
    ]
    started = client.start_dicom_import_job(
        datastoreId=ds,
        dataAccessRoleArn=ROLE_ARN,
        clientToken=uuid.uuid4().hex,
        inputS3Uri="s3://no-such-bucket/in/",
        outputS3Uri="s3://no-such-bucket/out/",
        importConfiguration={"dicomJsonMetadataImportConfiguration": {"dicomMetadataMappings": mappings}},
    )
    assert started["jobStatus"] == "SUBMITTED"


# ---- credentials off loopback ------------------------------------------------------------------


def test_non_loopback_host_refuses_the_default_credentials(tmp_path):
    with pytest.raises(local.EngineError, match="test/test"):
        local.start(host="0.0.0.0", s3_root=tmp_path / "s3")
    with local.start(
        host="0.0.0.0", s3_root=tmp_path / "s3", access_key_id="AKIDOWN", secret_access_key="own-secret"
    ) as srv:
        port = port_of(srv)
        c = make_client(f"http://127.0.0.1:{port}", access_key_id="AKIDOWN", secret_access_key="own-secret")
        assert c.list_datastores()["datastoreSummaries"] == []


def test_cli_refuses_non_loopback_host_with_default_credentials(tmp_path):
    env = {"PATH": "", "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "awslabs.healthimaging_mcp_server.local_cli", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        env=env,
    )
    assert done.returncode == 1, done
    assert "test/test" in done.stderr and done.stdout == ""


# ---- timeouts and shutdown ---------------------------------------------------------------------


def closed_by_server(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def test_idle_timeout_closes_half_open_connections(tmp_path):
    with start_server(tmp_path, idle_timeout=0.5) as srv:
        port = port_of(srv)
        half_head = socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)
        half_head.sendall(b"POST /datastore HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        assert not closed_by_server(half_head).startswith(b"HTTP/1.1 2")
        silent = socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)
        closed_by_server(silent)
        body = b'{"datastoreName": "slow", "clientToken": "slow"}'
        headers = signed("POST", f"127.0.0.1:{port}", "/datastore", body)
        half_body = open_request(port, "POST", "/datastore", headers, body[:10], length=len(body))
        assert_error(response_of(half_body), 408, "RequestTimeoutException")
        # The server is still serving, and the slow request changed nothing.
        assert "slow" not in datastore_names(make_client(srv.endpoint_url))


def test_stop_never_waits_for_idle_or_half_sent_requests(tmp_path):
    srv = start_server(tmp_path, latency_ms=1000)
    port = port_of(srv)
    make_client(srv.endpoint_url).list_datastores()  # leaves a kept-alive, now idle connection
    # A request being handled when the stop comes still gets its answer.
    answered: list[int] = []
    in_flight = threading.Thread(
        target=lambda: answered.append(len(make_client(srv.endpoint_url).list_datastores()["datastoreSummaries"]))
    )
    in_flight.start()
    wait_until(srv.stats, lambda s: s["in_flight"] >= 1, what="a request in flight")
    silent = socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)
    half_head = socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)
    half_head.sendall(b"POST /datastore HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
    body = b'{"datastoreName": "never", "clientToken": "never"}'
    headers = signed("POST", f"127.0.0.1:{port}", "/datastore", body)
    half_body = open_request(port, "POST", "/datastore", headers, body[:5], length=len(body))

    stopper = threading.Thread(target=srv.stop)
    stopper.start()
    stopper.join(HANG_GUARD)
    assert not stopper.is_alive(), "stop() is waiting for idle or half-sent requests"
    in_flight.join(HANG_GUARD)
    assert answered == [0]
    assert not srv.running
    for sock in (silent, half_head, half_body):
        assert closed_by_server(sock) == b""
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)


def test_cli_allow_host_and_idle_timeout_flags(tmp_path):
    env = {"PATH": "", "HOME": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    cli = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "awslabs.healthimaging_mcp_server.local_cli",
            "--port=0",
            "--allow-host=proxy.example",
            "--idle-timeout=0.5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert cli.stdout is not None
        url = cli.stdout.readline().strip()
        port = int(url.rsplit(":", 1)[1])
        for host, status in [("proxy.example", 200), ("other.example", 403)]:
            got = response_of(open_request(port, "GET", "/datastore", signed("GET", host, "/datastore")))
            assert got[0] == status, (host, got)
        half_head = socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)
        half_head.sendall(b"GET /datastore HTTP/1.1\r\nHost: 127.0.0.1")
        assert not closed_by_server(half_head).startswith(b"HTTP/1.1 2")
    finally:
        cli.terminate()
        cli.wait(HANG_GUARD)
    bad = subprocess.run(
        [sys.executable, "-m", "awslabs.healthimaging_mcp_server.local_cli", "--idle-timeout=0"],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        env=env,
    )
    assert bad.returncode == 2 and "--idle-timeout" in bad.stderr
