# ContentLab: `make report` runs the whole pipeline on the demo data; `make test` runs the tests.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROFILE ?= demo
ARGS ?=

.PHONY: setup report test test-fast lab clean-reports benchmarks

setup: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: ContentLab needs Python 3.11 (set PYTHON=/path/to/python3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	# torch first and pinned, so the resolver never reaches for a CUDA build
	$(BIN)/python -m pip install torch==2.13.0
	$(BIN)/python -m pip install -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name contentlab --display-name "ContentLab (Python 3.11)"
	touch $(STAMP)

report: setup
	$(BIN)/contentlab run --profile $(PROFILE) $(ARGS)

test: setup
	$(BIN)/python -m pytest -n 2 --dist loadfile $(ARGS)

test-fast: setup
	$(BIN)/python -m pytest -m "not slow" $(ARGS)

lab: setup
	$(BIN)/jupyter lab notebooks/

benchmarks: setup
	for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean-reports:
	rm -rf reports/2* reports/latest data/processed/2*
