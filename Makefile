# Two commands: `make dev` runs the backend and the WeChat simulator; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: dev test setup lint clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Development keys and .env on first run, SQLite schema, demo catalogue, then both servers.
# Other ports: make dev BACKEND_PORT=8100 SANDBOX_PORT=8101. Ctrl-C stops both servers.
BACKEND_PORT ?= 8000
SANDBOX_PORT ?= 8001
dev: $(VENV)/.installed
	$(BIN)/python scripts/devstack.py --backend-port $(BACKEND_PORT) --sandbox-port $(SANDBOX_PORT)

# pytest runs on SQLite, and on PostgreSQL too when TEST_DATABASE_URL is set (CI sets it);
# then the mini program's tests in Node against a real backend and simulator.
# pytest runs in TEST_WORKERS processes (pytest-xdist), each test module whole in one of them.
# 3 on a 2-core machine: the tests mostly wait (sockets, child processes, timeouts), so a third
# process keeps both cores busy (measured: 2 workers 5.3 min, 3 workers 3.9 min, 4 workers 3.7).
TEST_WORKERS ?= 3
test: setup lint
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile
	npm test

# ruff: lint rules and the formatter's style are in pyproject.toml; `ruff format .` fixes the form.
lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) node_modules .pytest_cache
