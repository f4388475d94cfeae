# Tweestap: `make run` starts everything locally, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast test-faults test-browser lint bench clean system-packages docs peers dezi

# setuptools prints a warning box for each editable install ("Editable installation", and
# "Compat editable installs" for the SDK, in compat mode so that mypy sees it from anywhere):
# known, nothing to act on.
QUIET_BUILD := PYTHONWARNINGS='ignore:Editable installation,ignore:Compat editable installs'

$(STAMP): pyproject.toml
	@scripts/check-python.sh $(PYTHON) $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(QUIET_BUILD) $(BIN)/pip install -q -e '.[dev,local]'
	$(QUIET_BUILD) $(BIN)/pip install -q -e ./client --config-settings editable_mode=compat
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/tweestap dev

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The Debian packages the tests use (oathtool, promtool, chromium): installed when missing.
system-packages:
	scripts/system-packages.sh

# Peers the tests start that Tweestap did not write (tests/peers: panva's oidc-provider as a
# test Dezi; axe-core, the accessibility check the browser tests inject), installed from the
# lock file with Node.js's npm.
peers: tests/peers/node_modules/.package-lock.json

tests/peers/node_modules/.package-lock.json: tests/peers/package-lock.json
	cd tests/peers && npm ci --no-audit --no-fund

# A test Dezi on http://localhost:8900 for `tweestap dev` (README: trying a Dezi login).
dezi: peers
	node tests/peers/dezi-provider.mjs

# The whole suite: lint, the in-process tests, then the fault tests (OS processes) and the
# browser tests side by side: both mostly wait, and each starts processes of its own. Each
# one's output is printed whole when it ends (--output-sync). Each has a temporary folder of
# its own, outside the checkout: two pytest runs in the default one clean each other's away.
test: system-packages peers lint test-fast
	$(MAKE) --no-print-directory -j2 --output-sync=target test-faults test-browser

# Four processes on two cores: the tests mostly wait (brokers, timers), each process has its
# own PostgreSQL and broker (three took 15 min 49 s in CI, four 11 min 42 s on the same machine).
test-fast: $(STAMP) peers
	$(BIN)/pytest --ignore=tests/faults --ignore=tests/browser -n 4

# $(call pytest_own_tmp,ARGS): pytest ARGS in a temporary folder of its own outside the
# checkout, removed afterwards (for the runs that go side by side in `make test`).
pytest_own_tmp = tmp=$$(mktemp -d) && $(BIN)/pytest $(1) --basetemp=$$tmp/pytest; \
	code=$$?; rm -rf $$tmp; exit $$code

# Services as real OS processes in both zones: killed, held down, cut off from the broker.
test-faults: $(STAMP)
	$(call pytest_own_tmp,tests/faults)

test-browser: $(STAMP) peers
	$(call pytest_own_tmp,tests/browser)

# Reference made from code: docs/settings.md from the settings classes (tests/docs checks it).
docs: $(STAMP)
	$(BIN)/python -m services.settings_reference

bench: $(STAMP)
	$(BIN)/tweestap bench login
	$(BIN)/tweestap bench renew
	$(BIN)/tweestap bench introspect
	$(BIN)/tweestap bench oidc
	$(BIN)/tweestap bench notify
	$(BIN)/tweestap bench failover
	$(BIN)/tweestap bench startup

clean:
	rm -rf $(VENV) var .mypy_cache .pytest_cache .ruff_cache
