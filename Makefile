# Two commands for a fresh machine with Python 3.11, pip and make: `make run`, `make test`.
PYTHON ?= python3.11
VENV := .venv
UV := .tools/bin/uv
STAMP := $(VENV)/.synced
COMPOSE_SCHEMA := .tools/compose-spec.json

.PHONY: run test test-fast lint bench bench-engines bench-daily-200k dagster-ui mlflow-ui clean chromium

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

# Re-syncs only when the lock, project metadata or this file changed. Bytecode is compiled
# at install: where PYTHONDONTWRITEBYTECODE is set (CI machines), every process would
# otherwise compile its imports from source, about 4 s of each daily run.
$(STAMP): $(UV) pyproject.toml uv.lock Makefile
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --quiet --compile-bytecode
	touch $(STAMP)

# The Compose specification's JSON schema for tests/test_compose.py, taken from a pinned,
# hash-checked wheel on PyPI (no Docker engine is needed or used).
$(COMPOSE_SCHEMA): $(UV) tests/compose_schema_requirements.txt
	.tools/bin/pip download --quiet --disable-pip-version-check --no-deps --require-hashes \
		--dest .tools/wheels -r tests/compose_schema_requirements.txt
	.tools/bin/python -c "import zipfile; zipfile.ZipFile('.tools/wheels/docker_compose-1.29.2-py2.py3-none-any.whl').extract('compose/config/compose_spec.json', '.tools/wheels')"
	cp .tools/wheels/compose/config/compose_spec.json $@

# Debian's Chromium for the report's browser test (tests/test_daily_run.py); installed when
# missing and apt-get is usable, otherwise that test skips (and fails under CI=true).
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends chromium >/dev/null 2>&1; } || echo "chromium not installed"

run: $(STAMP)
	$(VENV)/bin/python -m account_health.run

test: $(STAMP) $(COMPOSE_SCHEMA) chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest

# The quick loop: everything but the end-to-end runs, Spark, the browser and the services
# (markers in pyproject.toml); under two minutes on 2 cores. `make test` runs them all.
test-fast: $(STAMP) $(COMPOSE_SCHEMA)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest -m "not (slow or spark or browser or integration)"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

# Each benchmark writes its table into benchmarks/README.md (--readme).
bench: $(STAMP)
	$(VENV)/bin/python benchmarks/run.py --accounts 20000 --history-ratio --readme
	$(VENV)/bin/python benchmarks/scoring_throughput.py --readme

# The local and the spark engine side by side at 20k accounts (about 15 minutes on 2 cores).
bench-engines: $(STAMP)
	$(VENV)/bin/python benchmarks/engines.py --accounts 20000 --readme

# The daily run at 200k accounts × 18 months (about 25 minutes on 2 cores, 8 GB of disk).
bench-daily-200k: $(STAMP)
	$(VENV)/bin/python benchmarks/run.py --accounts 200000 --daily-only --history-ratio --readme

dagster-ui: $(STAMP)
	DAGSTER_HOME=$${DAGSTER_HOME:-$(CURDIR)/output/dagster_home} \
	DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=$${DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS:-true} \
	DAGSTER_EVENT_BATCH_SIZE=$${DAGSTER_EVENT_BATCH_SIZE:-1000} \
	$(VENV)/bin/dagster dev -m pipelines.definitions

mlflow-ui: $(STAMP)
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/output/mlflow/mlflow.db --port 5000

clean:
	rm -rf output
