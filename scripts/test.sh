#!/usr/bin/env bash
# The test half of `make test`: migrations are in sync, then the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG="${DEBUG:-0}"
export SECRET_KEY="${SECRET_KEY:-test-only-secret-key-not-for-production}"
export FACEPASS_PRIVATE_MEDIA_ROOT="${FACEPASS_PRIVATE_MEDIA_ROOT:-$(mktemp -d /tmp/facepass-test-private.XXXXXX)}"
export MEDIA_ROOT="${MEDIA_ROOT:-$(mktemp -d /tmp/facepass-test-media.XXXXXX)}"
export REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
.venv/bin/python manage.py makemigrations --check --dry-run
.venv/bin/python -m pytest "$@"
