#!/usr/bin/env bash
# The test half of `make test`: migrations are in sync, then the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG="${DEBUG:-0}"
export SECRET_KEY="${SECRET_KEY:-test-only-secret-key-not-for-production}"
export FACEPASS_PRIVATE_MEDIA_ROOT="${FACEPASS_PRIVATE_MEDIA_ROOT:-$(mktemp -d /tmp/facepass-test-private.XXXXXX)}"
export MEDIA_ROOT="${MEDIA_ROOT:-$(mktemp -d /tmp/facepass-test-media.XXXXXX)}"
export REDIS_URL="${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
# The same model stand-ins the Makefile exports, so running this script directly tests the
# same detector as `make test` (without them YuNet falls back to dlib-hog).
export FACEPASS_SHARED_DIR="${FACEPASS_SHARED_DIR:-$(cd .. && pwd)/shared}"
if [ -f "$FACEPASS_SHARED_DIR/models/face_detection_yunet_2026may.onnx" ]; then
  export FACEPASS_YUNET_MODEL="${FACEPASS_YUNET_MODEL:-$FACEPASS_SHARED_DIR/models/face_detection_yunet_2026may.onnx}"
  export FACEPASS_BACKBONE_HANDLE="${FACEPASS_BACKBONE_HANDLE:-$FACEPASS_SHARED_DIR/models/mobilenet_v2_100_224_feature_vector}"
fi
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
.venv/bin/python manage.py makemigrations --check --dry-run
# tests/browser drive Debian's Chromium: installed here when missing (no `playwright install`).
bash scripts/browser.sh
.venv/bin/python -m pytest "$@"
