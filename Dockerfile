# syntax=docker/dockerfile:1
# The image is built from the same portable wheel as CI and the release (scripts/build_wheel.sh).
#   docker build -t healthimaging-mcp .
#   stdio (MCP clients start it):  docker run -i --rm -e AWS_REGION -e AWS_ACCESS_KEY_ID ... healthimaging-mcp
#   HTTP:  docker run -p 8000:8000 healthimaging-mcp --transport streamable-http --host 0.0.0.0 ...

# Build stage: Rust + maturin + zig produce the manylinux2014 abi3 wheel.
FROM rust:1.95-slim-bookworm AS build
# Debian's own python3 only drives maturin here; its version does not matter (abi3).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/build-venv
ENV PATH="/opt/build-venv/bin:${PATH}"
WORKDIR /src
COPY Cargo.toml Cargo.lock pyproject.toml README.md LICENSE ./
COPY src ./src
COPY python ./python
COPY scripts/build_wheel.sh ./scripts/
RUN bash scripts/build_wheel.sh /dist

# Runtime stage: Python and the wheel (with its Python dependencies), nothing else; non-root.
FROM python:3.12-slim-bookworm
COPY --from=build /dist/ /tmp/wheels/
COPY docker/healthcheck.py /usr/local/lib/healthcheck.py
RUN pip install --no-cache-dir --only-binary :all: /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels \
    && useradd --create-home --uid 10001 mcp
USER 10001
WORKDIR /home/mcp
ENV FASTMCP_LOG_LEVEL=WARNING \
    PYTHONUNBUFFERED=1
# HTTP mode: healthy while /mcp answers. stdio mode: there is nothing to probe (the client owns
# the pipes), so the check reports healthy whenever the process runs.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "/usr/local/lib/healthcheck.py"]
# stdio by default, as MCP clients expect.
ENTRYPOINT ["awslabs.healthimaging-mcp-server"]
