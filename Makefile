# Two commands for a fresh machine with Python 3.11, pip and make: `make run`, `make test`.
PYTHON ?= python3.11
VENV := .venv
UV := .tools/bin/uv
STAMP := $(VENV)/.synced

.PHONY: run test lint bench dagster-ui mlflow-ui clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==0.13.9

# Re-syncs only when the lock or project metadata changed.
$(STAMP): $(UV) pyproject.toml uv.lock
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --frozen --quiet
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/python -m pipelines.run

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(VENV)/bin/python benchmarks/pipeline_throughput.py
	$(VENV)/bin/python benchmarks/training_time.py
	$(VENV)/bin/python benchmarks/scoring_throughput.py

dagster-ui: $(STAMP)
	DAGSTER_HOME=$${DAGSTER_HOME:-$(CURDIR)/output/dagster_home} $(VENV)/bin/dagster dev -m pipelines.definitions

mlflow-ui: $(STAMP)
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/output/mlflow/mlflow.db --port 5000

clean:
	rm -rf output
