# The two commands: `make up` (set up and run the mesh) and `make test` (set up and run the
# tests). Each installs what it needs into .venv, so both work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: up test gen lint check bench clean browser simulate

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

up: $(STAMP)
	$(BIN)/clearmesh up

# buf needs the googleapis protos beside ours (it cannot reach its registry from here).
# `buf breaking` compares the contracts with the released v1 image (protos/released/).
lint: $(STAMP)
	$(BIN)/python scripts/protogen.py --deps-only
	$(BIN)/buf lint
	$(BIN)/buf build -o build/contracts.binpb
	$(BIN)/buf breaking build/contracts.binpb --against protos/released/v1.binpb

# Headless Chromium checks the /docs page. Run as root on a machine with apt-get, this
# installs Debian's chromium package system-wide — and says so first, since it changes the
# machine beyond this clone. Not root: nothing is installed and the browser test skips.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
	  && echo "make browser: running as root, installing chromium system-wide with apt-get (for the /docs browser test)" \
	  && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
	  && echo "make browser: installed $$(command -v chromium)"; } \
	  || echo "chromium is not installed: the /docs browser test will skip (CI fails instead)"

# Static checks: ruff and mypy, configured in pyproject.toml (mypy's files and strictness too).
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint check browser
	$(BIN)/pytest

# The deterministic simulation of the trading path, many seeds (docs/simulation.md).
SEEDS ?= 1000
simulate: $(STAMP)
	PYTHONPATH=.:protos/gen/python $(BIN)/python -m tests.testkit.simulation --seeds $(SEEDS)

# Regenerate Python code and the descriptor set after changing protos/.
gen: $(STAMP)
	$(BIN)/python scripts/protogen.py

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[bench]'
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build .clearmesh
