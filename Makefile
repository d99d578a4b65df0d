# The README's commands. `make run` and `make test` do every set-up step on a fresh machine.
VENV   := .venv
PY     := $(VENV)/bin/python
SUM    := $(shell cksum pyproject.toml | cut -d' ' -f1)
# What running needs (`make run`), and that plus the test tools (`make test`, `make venv`).
RUN_STAMP  := $(VENV)/.installed-run-$(SUM)
TEST_STAMP := $(VENV)/.installed-test-$(SUM)
PYTEST_ARGS ?=

.PHONY: run test lint format venv system-deps bench clean

venv: $(TEST_STAMP)

$(RUN_STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e .
	@rm -f $(VENV)/.installed-run-* && touch $@

# The test extras include everything running needs, so this stamp stands for both.
$(TEST_STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $@ $(RUN_STAMP)

# Debian packages the tests use: a real redis-server (locks, crashes, races) and Chromium (the
# connect page). Installed only when missing, and only as root; otherwise the tests that need
# them say what to install.
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages:$$missing (sudo apt-get install$$missing)"; \
	  fi; \
	fi

test: venv system-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format:
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

run: $(RUN_STAMP)
	$(PY) -m dev.launcher

bench: venv
	$(PY) bench/reconcile.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
