# Build stage: compile the wheel (Rust engine + Python package) with maturin.
FROM python:3.12-slim-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends curl build-essential ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
ENV PATH="/root/.cargo/bin:${PATH}"
RUN pip install --no-cache-dir "maturin>=1.9,<2"
WORKDIR /src
COPY Cargo.toml Cargo.lock pyproject.toml README.md ./
COPY src ./src
COPY python ./python
RUN maturin build --release --out /dist

# Runtime stage: only the wheel and its Python dependencies, run as a non-root user.
FROM python:3.12-slim-bookworm
COPY --from=build /dist/*.whl /tmp/
RUN pip install --no-cache-dir /tmp/*.whl && rm /tmp/*.whl \
    && useradd --create-home --uid 10001 mcp
USER mcp
ENV FASTMCP_LOG_LEVEL=WARNING
# stdio by default, as MCP clients expect; pass --transport streamable-http --host 0.0.0.0 to serve HTTP.
ENTRYPOINT ["awslabs.healthimaging-mcp-server"]
