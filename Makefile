# HeyHi: `make demo` runs the demo training locally (no daemon needed); `make test` runs the tests.
# Both install everything they need first (a .venv; apt packages where tests need them).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test bench cluster-up cluster-down clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PY) -m venv $(VENV) 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3-venv python3-pip && $(PY) -m venv $(VENV); }
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@$(BIN)/python -m compileall -q shared heyhi_daemon heyhi_tui run.py >/dev/null || true
	@touch $@

demo: install
	$(BIN)/heyhi run -c conf/c02_sup_train/sl.prototxt --wait

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/pip install -q -e '.[dev,bench]'
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

cluster-up:
	bash tests/cluster/up.sh

cluster-down:
	bash tests/cluster/down.sh

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
