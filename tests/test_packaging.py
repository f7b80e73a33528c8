"""What a user installing the package (wheel, PyPI page, Docker image) relies on: one version
everywhere, complete metadata, typed package, and a Dockerfile that builds the image from the wheel
and runs it as a non-root user with a working health check."""

from __future__ import annotations

import importlib.util
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib import metadata
from pathlib import Path

import awslabs.healthimaging_mcp_server as package
import pytest

ROOT = Path(__file__).resolve().parent.parent
DIST = "awslabs.healthimaging-mcp-server"


def toml_section(path: Path, section: str) -> str:
    """The text of one `[section]` of a TOML file (tomllib is not in Python 3.10)."""
    text = path.read_text()
    start = text.index(f"[{section}]\n")
    end = text.find("\n[", start + 1)
    return text[start : end if end != -1 else len(text)]


def cargo_version() -> str:
    return re.search(r'^version = "([^"]+)"$', toml_section(ROOT / "Cargo.toml", "package"), re.M).group(1)


def test_the_version_is_defined_once_in_cargo_toml_and_agrees_everywhere():
    project = toml_section(ROOT / "pyproject.toml", "project")
    assert not re.search(r"^version\s*=", project, re.M), "pyproject.toml must not repeat the version"
    assert re.search(r'^dynamic = \[.*"version".*\]$', project, re.M), "maturin takes the version from Cargo.toml"
    assert package.__version__ == cargo_version()
    assert metadata.version(DIST) == cargo_version()


def test_the_installed_distribution_carries_the_metadata_a_pypi_page_shows():
    meta = metadata.metadata(DIST)
    assert meta["License-Expression"] == "Apache-2.0"
    assert "LICENSE" in {Path(f).name for f in meta.get_all("License-File") or []}
    assert meta["Description-Content-Type"].startswith("text/markdown")
    assert "AWS HealthImaging" in (meta.get_payload() or meta["Description"] or ""), "the README is the description"
    classifiers = set(meta.get_all("Classifier"))
    for version in ("3.10", "3.11", "3.12", "3.13"):
        assert f"Programming Language :: Python :: {version}" in classifiers
    assert {"Typing :: Typed", "Operating System :: POSIX :: Linux", "Operating System :: MacOS"} <= classifiers
    assert "Topic :: Scientific/Engineering :: Medical Science Apps." in classifiers
    assert {"healthimaging", "mcp", "dicom"} <= set(re.split(r"[,\s]+", meta["Keywords"]))
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL"))
    assert {"Homepage", "Repository", "Issues", "Documentation"} <= set(urls)
    assert meta["Requires-Python"] == ">=3.10"


def test_the_package_is_marked_typed():
    # Next to the imported package: in CI that is the installed wheel, not the source tree.
    assert (Path(package.__file__).parent / "py.typed").is_file()


# ---- Docker ------------------------------------------------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile as stages of (INSTRUCTION, arguments), continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), " ".join(args.split())))
    return stages


def test_the_image_is_built_from_the_portable_wheel_and_runs_as_non_root():
    build, runtime = dockerfile_stages()
    assert build[0][1].endswith(" AS build")
    assert ("RUN", "bash scripts/build_wheel.sh /dist") in build, "the build stage runs the CI wheel build"
    copies = [args for op, args in runtime if op == "COPY"]
    assert "--from=build /dist/ /tmp/wheels/" in copies
    assert all(c.startswith("--from=build /dist/") or c.startswith("docker/") for c in copies), copies
    installs = [args for op, args in runtime if op == "RUN" and "pip install" in args]
    assert len(installs) == 1 and re.search(r"pip install .*/tmp/wheels/\*\.whl( |$)", installs[0]), installs
    assert not any("cargo" in args or "rustup" in args for _, args in runtime)
    users = [args for op, args in runtime if op == "USER"]
    assert users and users[-1] not in ("0", "root"), "the runtime runs as a non-root user"
    assert any(op == "HEALTHCHECK" and "healthcheck.py" in args for op, args in runtime)
    assert ("ENTRYPOINT", '["awslabs.healthimaging-mcp-server"]') in runtime


def test_the_docker_build_context_holds_every_file_the_build_copies():
    rules = [r for r in (ROOT / ".dockerignore").read_text().splitlines() if r and not r.startswith("#")]
    allowed = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    assert rules[0] == "*", "everything else (target/, .venv/, tests) stays out of the context"
    for stage in dockerfile_stages():
        for op, args in stage:
            if op == "COPY" and not args.startswith("--from="):
                for source in args.split()[:-1]:
                    assert source.rstrip("/") in allowed, f"{source} is not in the build context"
                    assert (ROOT / source).exists(), source


def load_healthcheck():
    spec = importlib.util.spec_from_file_location("healthcheck", ROOT / "docker" / "healthcheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _McpLike(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server API
        # What /mcp answers a GET without a session: an HTTP error, which still means "up".
        self.send_response(406 if self.path == "/mcp" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def answering_port():
    server = HTTPServer(("127.0.0.1", 0), _McpLike)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_the_healthcheck_probes_mcp_over_http_and_passes_over_stdio(answering_port):
    check = load_healthcheck()
    server = ["python", "/usr/local/bin/awslabs.healthimaging-mcp-server"]
    assert check.probe(server) == 0, "stdio: nothing to probe"
    assert check.probe([*server, "--local"]) == 0
    http = [*server, "--transport", "streamable-http", "--host", "0.0.0.0"]
    assert check.probe([*http, "--port", str(answering_port)]) == 0
    assert check.probe([*http, f"--port={answering_port}"]) == 0
    assert check.probe([*http, "--port", str(free_port())]) == 1, "nothing listens: unhealthy"
