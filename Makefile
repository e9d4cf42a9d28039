# The two commands: `make run` (set up and run the main job) and `make test` (set up and pass the tests).
# Both bootstrap from a fresh clone; a second run with nothing changed installs nothing.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.dda-installed
WEB_STAMP := web/dist/.built

.PHONY: run test lint web web-test bench clean services

# The demo: the whole system (portal + enrolled station; model trained by a portal job, reused on
# later runs, deployed to the station; its synthetic camera inspecting). See docs/deploy.md for production.
run: $(STAMP) web
	$(BIN)/dda demo

# Two pytest workers, one test file each at a time (module fixtures stay in one process): most
# tests wait on servers, browsers and subprocesses, so two workers on two cores took 22.5 min
# for what one worker would need ~35 (the last serial CI run took 25 min with ~10 fewer heavy tests).
# Every test keeps its own ports, databases and queue names.
test: $(STAMP) web services lint web-test
	$(BIN)/pytest -n 2 --dist loadfile

web-test: web
	cd web && npm test --silent

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

$(STAMP): pyproject.toml scripts/bootstrap.sh scripts/system-deps.sh
	PYTHON=$(PYTHON) bash scripts/bootstrap.sh
	touch $@

# The station's web UI (React + Vite). Rebuilt only when its sources change.
web: $(WEB_STAMP)
$(WEB_STAMP): $(shell find web -path web/node_modules -prune -o -path web/dist -prune -o -type f -print 2>/dev/null)
	bash scripts/build-web.sh
	@mkdir -p web/dist && touch $@

services:
	bash scripts/services.sh

# Benchmarks print figures and ratios measured side by side; none of them is a pass/fail test.
bench: $(STAMP) web
	$(BIN)/python bench/bench_runtime.py
	$(BIN)/python bench/bench_training.py
	$(BIN)/python bench/bench_quality.py
	$(BIN)/python bench/bench_demo_model.py
	$(BIN)/dda demo --station-only --no-serve
	$(BIN)/python bench/bench_station.py
	$(BIN)/python bench/bench_portal_auth.py
	$(BIN)/python bench/bench_portal_audit.py
	$(BIN)/python bench/bench_portal_data.py
	$(BIN)/python bench/bench_portal_ui.py
	$(BIN)/python bench/bench_labeling_ui.py

clean:
	rm -rf $(VENV) web/node_modules web/dist .pytest_cache .mypy_cache .ruff_cache
