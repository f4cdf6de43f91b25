# The ccpulse worker image. Runs as an unprivileged user.
FROM python:3.11.11-slim-bookworm

WORKDIR /app
COPY pyproject.toml README.md ./
COPY processor ./processor
RUN pip install --no-cache-dir . && useradd --system --uid 10001 ccpulse \
    && mkdir /data && chown ccpulse /data

USER ccpulse
ENV CCPULSE_DATA_DIR=/data \
    CCPULSE_METRICS_HOST=0.0.0.0
EXPOSE 9464
ENTRYPOINT ["ccpulse"]
CMD ["worker"]
