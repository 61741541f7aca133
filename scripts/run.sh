#!/usr/bin/env bash
# `make run`: services, migrations, demo data, Celery workers and the web server.
# Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBUG="${DEBUG:-1}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
PY=.venv/bin/python
HOST="${FACEPASS_HOST:-127.0.0.1}"
PORT="${FACEPASS_PORT:-8000}"
LOG_DIR="${FACEPASS_LOG_DIR:-var/log}"
mkdir -p "$LOG_DIR" var

bash scripts/services.sh
$PY manage.py migrate --noinput
$PY manage.py seed_demo
if $PY manage.py help ensure_default_model >/dev/null 2>&1; then
  $PY manage.py ensure_default_model
fi

pids=()
cleanup() {
  trap - INT TERM EXIT
  echo "[run] stopping workers, beat and web server"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The gate gets a worker of its own so enrollment backlogs never delay a turnstile.
.venv/bin/celery -A facepass_site worker -Q gate -c 1 -n gate@%h --loglevel INFO \
  >"$LOG_DIR/worker-gate.log" 2>&1 &
pids+=($!)
.venv/bin/celery -A facepass_site worker -Q recognition -c 1 -n enroll@%h --loglevel INFO \
  >"$LOG_DIR/worker-enroll.log" 2>&1 &
pids+=($!)
# Webhooks, purges and index builds wait on other hosts or take minutes: never in front of
# selfies or turnstiles.
.venv/bin/celery -A facepass_site worker -Q default -c 1 -n default@%h --loglevel INFO \
  >"$LOG_DIR/worker-default.log" 2>&1 &
pids+=($!)
# Beat queues the hourly retention purge (CELERY_BEAT_SCHEDULE) for the default-queue worker.
.venv/bin/celery -A facepass_site beat --loglevel INFO --schedule var/celerybeat-schedule \
  >"$LOG_DIR/beat.log" 2>&1 &
pids+=($!)
echo "[run] workers and beat started (logs in $LOG_DIR/)"
echo "[run] FacePass on http://$HOST:$PORT/  (admin: /admin/, health: /healthz)"
# In the foreground: Ctrl-C reaches it directly (background jobs of a script ignore
# SIGINT), and the EXIT trap then stops the workers.
$PY manage.py runserver "$HOST:$PORT" --noreload
