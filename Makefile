# Two commands: `make dev` runs the backend and the WeChat simulator; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: dev test setup lint clean translations messages

setup: $(VENV)/.installed node_modules/.installed translations

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# The console's languages (server/console/i18n.py): the .po catalogues are the source, the .mo
# files pybabel compiles from them are build output (git-ignored), made wherever the app runs.
TRANSLATIONS := server/console/translations
CATALOGUES := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
translations: $(CATALOGUES:.po=.mo)

$(TRANSLATIONS)/%/LC_MESSAGES/messages.mo: $(TRANSLATIONS)/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -l $* -i $< -o $@

# After adding or changing a console text: extract every marked string from the console's code
# and templates (babel.cfg), merge them into each language's .po, then translate the new
# entries (msgstr "") in zh_Hans. tests/console/test_translations.py fails until that is done.
messages: $(VENV)/.installed
	$(BIN)/pybabel -q extract -F babel.cfg -k _l -k lazy_gettext --no-location --no-wrap \
		--sort-output --project=console -o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel -q update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --no-wrap \
		--no-fuzzy-matching --ignore-pot-creation-date --ignore-obsolete
	rm $(TRANSLATIONS)/messages.pot

# Development keys and .env on first run, SQLite schema, demo catalogue, then both servers.
# Other ports: make dev BACKEND_PORT=8100 SANDBOX_PORT=8101. Ctrl-C stops both servers.
BACKEND_PORT ?= 8000
SANDBOX_PORT ?= 8001
# make dev PROVIDER=1: a service provider's deployment with two demo stores (docs/provider.md).
PROVIDER ?=
dev: $(VENV)/.installed translations
	$(BIN)/python scripts/devstack.py --backend-port $(BACKEND_PORT) --sandbox-port $(SANDBOX_PORT) \
		$(if $(PROVIDER),--provider)

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
