# FacePass: `make run` and `make test` do all set-up themselves on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SHARED ?= $(abspath ../shared)

# Local stand-ins for the downloadable models, when ../shared is present.
ifneq ($(wildcard $(SHARED)/models/face_detection_yunet_2026may.onnx),)
export FACEPASS_YUNET_MODEL ?= $(SHARED)/models/face_detection_yunet_2026may.onnx
export FACEPASS_BACKBONE_HANDLE ?= $(SHARED)/models/mobilenet_v2_100_224_feature_vector
endif
export FACEPASS_SHARED_DIR ?= $(SHARED)

.PHONY: run test lint format services venv bench clean fuzz typecheck

$(STAMP): requirements.txt requirements-dev.txt
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt 2>&1 | grep -v '^WARNING: Location' || true
	@$(PY) -c "import django, celery, tensorflow_hub, cv2, dlib" || { echo "dependency install failed"; exit 1; }
	@touch $@

venv: $(STAMP)

services:
	@bash scripts/services.sh

run: $(STAMP)
	@bash scripts/run.sh

test: $(STAMP) services
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(MAKE) --no-print-directory typecheck
	bash scripts/test.sh

# Layers (import-linter contracts in pyproject.toml) and types (mypy over the face core, the
# services and the decision rules); both run in `make test`.
typecheck: $(STAMP)
	$(VENV)/bin/lint-imports
	DEBUG=1 $(PY) -m mypy

# Every benchmark beside its baseline, small sizes (FULL=1: the issue's sizes); see scripts/bench.sh.
bench: $(STAMP) services
	FULL=$(FULL) bash scripts/bench.sh

# schemathesis against a live server's /api/schema/ (a short in-process run is part of `make test`).
fuzz: $(STAMP) services
	bash scripts/fuzz.sh $(ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
