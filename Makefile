# ContentLab: `make report` runs the whole pipeline on the demo data; `make test` runs the tests.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PROFILE ?= demo
ARGS ?=

.PHONY: setup report report-incremental loop test test-fast lint lab clean-reports benchmarks lock
LOCK   := requirements/lock.txt

setup: $(STAMP)

# Every install takes its exact version from the lock ($(LOCK)), so a fresh clone gets the versions
# the tests passed with; `make lock` refreshes it.
$(STAMP): pyproject.toml $(LOCK)
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found: ContentLab needs Python 3.11 (set PYTHON=/path/to/python3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -c $(LOCK) pip setuptools wheel
	# torch first and pinned, so the resolver never reaches for a CUDA build
	$(BIN)/python -m pip install -c $(LOCK) torch==2.13.0
	$(BIN)/python -m pip install -c $(LOCK) -e '.[spark,peers,embeddings]'
	$(BIN)/python -m pip check
	$(BIN)/python -m ipykernel install --sys-prefix --name contentlab --display-name "ContentLab (Python 3.11)"
	touch $(STAMP)

report: setup
	$(BIN)/contentlab run --profile $(PROFILE) $(ARGS)

# Like `make report`, but every stage whose input products, parameters and code are unchanged since an earlier
# run is reused from it instead of executed (the same as `make report ARGS=--incremental`).
report-incremental: setup
	$(BIN)/contentlab run --profile $(PROFILE) --incremental $(ARGS)

# the shop run forward: CYCLES cycles of generate, publish, respond, learn (default: the profile's loop.cycles)
loop: setup
	$(BIN)/contentlab loop --profile $(PROFILE) $(if $(CYCLES),--cycles $(CYCLES)) $(ARGS)

test: setup lint
	$(BIN)/python -m pytest -n 2 --dist loadfile $(ARGS)

test-fast: setup
	$(BIN)/python -m pytest -m "not slow" $(ARGS)

# ruff (configured in pyproject.toml) over the package, tests, benchmarks and notebooks
lint: setup
	$(BIN)/ruff check lib tests benchmarks notebooks

lab: setup
	$(BIN)/jupyter lab notebooks/

# Every benchmark runs to the end, each prints its figures against its goals; the ones that fell short (or
# crashed) are listed at the end and make the target fail. BENCHMARKS="benchmarks/bench_topn.py" runs a subset.
BENCHMARKS ?= $(sort $(wildcard benchmarks/bench_*.py))
benchmarks: setup
	@failed=""; \
	for b in $(BENCHMARKS); do \
	  echo "== $$b"; \
	  $(BIN)/python $$b || { echo "== $$b: exit status $$?"; failed="$$failed $$b"; }; \
	done; \
	if [ -n "$$failed" ]; then echo "benchmarks short of their goals or failed:$$failed"; exit 1; fi; \
	echo "all benchmarks met their goals"

# Re-resolve the dependencies of pyproject.toml from scratch in a throw-away environment and write
# their exact versions to the lock. Review the diff, run `make test`, commit both.
lock:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found"; exit 1; }
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --upgrade pip setuptools wheel
	.lock-venv/bin/python -m pip install torch==2.13.0
	.lock-venv/bin/python -m pip install -e '.[spark,peers,embeddings]'
	{ echo "# Exact versions that \`make setup\` and CI install (pip constraints). Refresh with \`make lock\`;"; \
	  echo "# tests/test_packaging.py checks that every installed distribution is listed here at its version."; \
	  .lock-venv/bin/python -m pip freeze --all --exclude-editable | sed -E 's/^(torch==[0-9.]+)\+cpu$$/\1/' | sort -f; } > $(LOCK)
	rm -rf .lock-venv
	@echo "wrote $(LOCK): review with git diff, then make test"

# Keeps the newest run (KEEP=3: the three newest) and the one reports/latest points at; deletes the other runs'
# reports/<run-id>/ and data/processed/<run-id>/ and rewrites reports/index.html to list what is left.
KEEP ?= 1
clean-reports: setup
	$(BIN)/contentlab clean --keep $(KEEP)
