# The ccpulse image: `ccpulse worker` by default, any other ccpulse command as arguments
# (`docker run IMAGE traffic --broker kafka:9092`). Runs as an unprivileged user.
FROM python:3.11.11-slim-bookworm

# Log lines reach `docker compose logs` as they are written.
ENV PYTHONUNBUFFERED=1

WORKDIR /app
# The runtime packages exactly as locked, each checked against its hash; then ccpulse alone,
# built with the locked setuptools.
COPY requirements/lock-runtime.txt ./requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/lock-runtime.txt
COPY pyproject.toml README.md ./
COPY processor ./processor
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
    && useradd --system --uid 10001 ccpulse \
    && mkdir /data && chown ccpulse /data

USER ccpulse
ENV CCPULSE_DATA_DIR=/data \
    CCPULSE_METRICS_HOST=0.0.0.0
EXPOSE 9464
# A worker serves /metrics (and /healthz, /readyz) from its start, also while it waits for the broker.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/metrics' % os.environ.get('CCPULSE_METRICS_PORT', '9464'), timeout=4)"]
ENTRYPOINT ["ccpulse"]
CMD ["worker"]
