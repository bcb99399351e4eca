# HeyHi: `make demo` runs the demo training locally (no daemon needed); `make test` runs the tests.
# Both install everything they need first (a .venv; apt packages where tests need them).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
UV_VERSION := 0.13.9

.PHONY: install demo test bench lock cluster-up cluster-down clean

install: $(VENV)/.installed

# Installs go through the committed lock (exact versions, hashes); `make lock` refreshes it.
$(VENV)/.installed: pyproject.toml $(LOCK)
	@$(PY) -m venv $(VENV) 2>/dev/null || { apt-get update -qq && apt-get install -y -qq python3-venv python3-pip && $(PY) -m venv $(VENV); }
	$(BIN)/pip install -q --require-hashes -r $(LOCK)
	$(BIN)/pip install -q --no-deps --no-build-isolation -e .
	$(BIN)/python scripts/editable.py  # a plain .pth path instead of setuptools' import hook
	@$(BIN)/python -m compileall -q shared heyhi_daemon heyhi_tui run.py >/dev/null || true
	@touch $@

demo: install
	$(BIN)/heyhi run -c conf/c02_sup_train/sl.prototxt --wait

test: install
	$(BIN)/python -m pytest -q

bench: install
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Refresh the lock to the newest versions the registry serves, reinstall from it, run the tests.
lock:
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q uv==$(UV_VERSION)
	$(BIN)/python scripts/relock.py
	rm -f $(VENV)/.installed
	$(MAKE) test

cluster-up:
	bash tests/cluster/up.sh

cluster-down:
	bash tests/cluster/down.sh

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
