# Sitter: `make run` serves the site and its queue workers, `make test` runs lint and the tests,
# `make demo` runs one person's whole flow headless. Each sets up what it needs on first use.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# A CPU build of torch; on a GPU worker host set TORCH to the build for its CUDA version.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.installed
DEMO_DIR ?= var/demo
DEMO_OUT ?= demo-out

.PHONY: install run setup test lint demo messages

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

setup: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py sitter_setup
	$(PY) manage.py collectstatic --noinput --verbosity 0

run: setup
	$(PY) manage.py sitter_run

lint: install
	$(PY) -m ruff check .

test: lint
	$(PY) -m pytest

# The demo's 20 photos are variants of ONE portrait, so the upload checks rightly refuse all
# but the first as near-duplicates; the demo therefore trains on one photo.
demo: setup
	$(PY) manage.py make_demo_photos $(DEMO_DIR)
	SITTER_MIN_PHOTOS=1 $(PY) manage.py sitter_demo --photos $(DEMO_DIR)/set \
		--selfie $(DEMO_DIR)/selfie.jpg --out $(DEMO_OUT)

messages: install
	$(PY) manage.py makemessages --locale zh_Hans --ignore ".venv/*" --ignore "var/*"
	$(PY) manage.py compilemessages --locale zh_Hans --ignore ".venv/*"
