# EventTix: `make run` serves the site, `make test` runs the tests. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: run dev test lint format bench setup clean vendor tour

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

.env:
	cp .env.example .env

# The site's secret key, made once and kept (the environment's SECRET_KEY wins over it).
var/secret-key: | $(BIN)/python
	$(BIN)/python -m eventtix.secret_key $@

# The translations: each committed catalogue (.po) compiled to the .mo Django reads, with Babel
# (no GNU gettext needed), whenever its .po is newer.
MO_FILES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/*.po))

locale/%.mo: locale/%.po | $(VENV)/.runtime
	$(BIN)/pybabel -q compile -i $< -o $@

setup: $(VENV)/.runtime .env var/secret-key $(MO_FILES)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v 0
	$(BIN)/python manage.py seed_demo

# Production settings (DEBUG off) on this machine's loopback address, web and task cluster together.
run: setup
	$(BIN)/python manage.py serve --port $(PORT)

# Development: DEBUG on (Django's error pages) and runserver reloading on every code change.
dev: setup
	DEBUG=true $(BIN)/python manage.py serve --dev --reload --port $(PORT)

test: $(VENV)/.dev $(MO_FILES)
	$(BIN)/pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.dev
	$(BIN)/python -m bench $(BENCH_ARGS)

# The README's organiser tour: its browser test walks it and writes the screenshots to docs/tour/.
tour: $(VENV)/.dev $(MO_FILES)
	TOUR_SHOTS=docs/tour $(BIN)/pytest -q ticketing/tests/test_browser_tour.py

clean:
	rm -rf var/test var/cache

# Browser assets come from npm (package.json) and are committed under static/vendor/,
# so running the site needs no npm and no other host. axe-core serves only the browser
# tests' accessibility check, so it goes beside them rather than into static/.
vendor:
	npm ci --no-audit --no-fund
	mkdir -p static/vendor/jsqr
	cp node_modules/jsqr/dist/jsQR.js node_modules/jsqr/LICENSE static/vendor/jsqr/
	mkdir -p ticketing/tests/assets
	cp node_modules/axe-core/axe.min.js node_modules/axe-core/LICENSE ticketing/tests/assets/
