# monitor: the daemon (`monitor db upgrade`, then `monitor run`) on a slim Python image.
# docker-compose.yml runs it with PostgreSQL and a mail catcher; see README, "Production".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The locked dependencies first (pinned with hashes: every build installs the same files, and a
# file changed on the index fails the build; `make lock` refreshes them), then the package
# without resolving anything (its layer is rebuilt only when the code changes), then the
# definitions, which compose mounts from the repository anyway so that edits need no rebuild.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY monitor ./monitor
RUN pip install --no-deps --no-build-isolation . \
    && useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin monitor \
    && mkdir -p /app/data \
    && chown monitor:monitor /app/data
COPY indicators ./indicators
COPY config ./config

USER monitor

# Inside the container the endpoint must listen on every interface to be published.
ENV MONITOR_HTTP_HOST=0.0.0.0 \
    MONITOR_HTTP_PORT=8000 \
    MONITOR_DATABASE_URL=sqlite:////app/data/monitor.db
VOLUME ["/app/data"]
EXPOSE 8000

# The health check asks the port the daemon listens on: MONITOR_HTTP_PORT as the ENV above,
# compose or `docker run -e` set it. In the shell form, so that the shell expands it at each
# check (8000, the setting's default, when it is unset or empty).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=4)" \
        "http://127.0.0.1:${MONITOR_HTTP_PORT:-8000}/healthz"

# Migrate (safe to run twice, and from several containers at once), then serve until SIGTERM.
CMD ["sh", "-c", "monitor db upgrade && exec monitor run"]
