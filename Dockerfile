# One image for every account-health service: the Dagster code location, webserver and
# daemon, the MLflow server and the Feast UI all run from it, so they share uv.lock's versions.
FROM python:3.11-slim

# libgomp1: XGBoost's OpenMP runtime, which the slim image lacks. A Java 17 runtime: the
# spark engine's driver (a run of the code location) and the Spark worker run on it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 openjdk-17-jre-headless \
    && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir uv==0.13.9 \
    && useradd --create-home --uid 10001 account_health

ENV PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_COMPILE_BYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/home \
    DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=true

WORKDIR /app
# Dependencies first, so code changes do not re-install them.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY account_health ./account_health
COPY features ./features
COPY feature_repo ./feature_repo
COPY models ./models
COPY pipelines ./pipelines
RUN uv sync --frozen --no-dev

COPY deploy/dagster.yaml deploy/workspace.yaml /opt/dagster/home/
COPY deploy/spark ./deploy/spark
# Mount points of the named volumes, owned by the service user so the volumes are too.
RUN mkdir -p /data/input /data/output /opt/dagster/storage /mlartifacts \
    && chown -R account_health /data /opt/dagster /mlartifacts
USER account_health
