# syntax=docker/dockerfile:1
# The Mastra EE server (`mastra-ee serve`) with every provider package, PostgreSQL driver
# and Prometheus client. Build: `docker build -t mastra-ee .`; run with compose.yaml.
ARG PYTHON_VERSION=3.12
ARG UV_VERSION=0.13.9

FROM ghcr.io/astral-sh/uv:${UV_VERSION} AS uv

# -- build: the locked dependencies and the workspace packages, installed (not editable)
#    into /opt/mastra. Nothing of the build (uv, sources, caches) reaches the final image.
FROM python:${PYTHON_VERSION}-slim AS build
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/mastra
WORKDIR /src
# Dependencies first (cached while only our sources change), then the packages.
COPY pyproject.toml uv.lock ./
COPY packages/core/pyproject.toml packages/core/
COPY packages/auth-better/pyproject.toml packages/auth-better/
COPY packages/auth-workos/pyproject.toml packages/auth-workos/
COPY packages/auth-cloud/pyproject.toml packages/auth-cloud/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages --no-install-workspace --extra postgres --extra metrics
COPY packages packages
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages --no-editable --extra postgres --extra metrics

# -- runtime: the venv and an unprivileged user; state (secret, SQLite) on a volume.
FROM python:${PYTHON_VERSION}-slim
RUN groupadd --system --gid 10001 mastra \
 && useradd --system --uid 10001 --gid mastra --home-dir /data --shell /usr/sbin/nologin mastra \
 && mkdir -p /data && chown mastra:mastra /data
COPY --from=build /opt/mastra /opt/mastra
ENV PATH=/opt/mastra/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MASTRA_HOST=0.0.0.0
# `./.mastra/` (generated secret, SQLite database) lives in the working directory.
WORKDIR /data
VOLUME ["/data"]
USER mastra:mastra
EXPOSE 4111
# Liveness only (no database): `GET <prefix>/system/health` (the probes answer any Host).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request as r; prefix = '/' + os.environ.get('MASTRA_API_PREFIX', '/api').strip('/'); r.urlopen('http://127.0.0.1:4111' + prefix.rstrip('/') + '/system/health', timeout=4)"]
ENTRYPOINT ["mastra-ee", "serve"]
# Bind every interface of the container (the port is published by `docker run -p`/compose).
CMD ["--host", "0.0.0.0", "--port", "4111"]
