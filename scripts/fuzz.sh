#!/usr/bin/env bash
# `make fuzz`: schemathesis against a live server's /api/schema/ with a valid API key.
#
# A throwaway database (facepass_fuzz, dropped and migrated anew), Redis db 14, an organization
# with an event, a gate, a consenting ticket holder and a check-in, and an API key;
# then `manage.py runserver` (DEBUG off: a 500 is a real 500) in the background and
# `schemathesis run` with the checks: no 5xx, documented status codes, content types and
# response bodies. Extra arguments go to schemathesis (e.g. `make fuzz ARGS="-n 500"`).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT="${FACEPASS_FUZZ_PORT:-8765}"
BASE_DB_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/facepass}"
export DATABASE_URL="${BASE_DB_URL%/*}/facepass_fuzz"
export REDIS_URL="${FACEPASS_FUZZ_REDIS_URL:-redis://127.0.0.1:6379/14}"
export DEBUG=0
export SECRET_KEY="fuzz-only-$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export ALLOWED_HOSTS=127.0.0.1,localhost
export FACEPASS_RATE_API_KEY=off  # thousands of requests with one key: nothing to throttle here
export FACEPASS_PRIVATE_MEDIA_ROOT="$(mktemp -d /tmp/facepass-fuzz-private.XXXXXX)"
export MEDIA_ROOT="$(mktemp -d /tmp/facepass-fuzz-media.XXXXXX)"
export TF_CPP_MIN_LOG_LEVEL=2
LOG="${FACEPASS_FUZZ_LOG:-var/log/fuzz-server.log}"
mkdir -p "$(dirname "$LOG")"

say() { echo "[fuzz] $*" >&2; }

psql "${DATABASE_URL%/*}/postgres" -qc "DROP DATABASE IF EXISTS facepass_fuzz" >/dev/null
bash scripts/services.sh  # creates facepass_fuzz with pgvector
$PY manage.py migrate --noinput >/dev/null
KEY=$($PY manage.py shell -c '
from datetime import timedelta
from django.utils import timezone
from api.services import api_key_create
from attendees.services import ticket_holder_create, ticket_holder_record_consent
from events.models import CheckIn, Event, Gate
from events.services import event_create, gate_create, organization_create
org = organization_create(name="Fuzz Org", slug="fuzz")
now = timezone.now()
event = event_create(organization=org, name="Fuzz Fest", slug="fuzz-fest", starts_at=now,
                     ends_at=now + timedelta(hours=6), status=Event.Status.GATES_OPEN)
gate = gate_create(event=event, name="North", mode=Gate.Mode.TICKET_AND_FACE)
holder = ticket_holder_create(event=event, ticket_code="FZ-1", name="Fuzzy", email="f@example.org")
ticket_holder_record_consent(holder=holder, text_version="2026-11")
CheckIn.objects.create(event=event, gate=gate, attendee=holder, decision="deny", mode=gate.mode)
_, plaintext = api_key_create(organization=org, name="fuzz")
print(plaintext)
' | tail -1)
[[ "$KEY" == fp_* ]] || { say "could not create the API key"; exit 1; }

$PY manage.py runserver "127.0.0.1:$PORT" --noreload >"$LOG" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true' EXIT
for _ in $(seq 60); do
  curl -fs "http://127.0.0.1:$PORT/api/schema/" >/dev/null && break
  sleep 0.5
done
say "server on http://127.0.0.1:$PORT (log: $LOG); fuzzing"
status=0
mkdir -p var/fuzz  # schemathesis keeps its cache (crashes seen) in the working directory
(cd var/fuzz && ../../.venv/bin/schemathesis run "http://127.0.0.1:$PORT/api/schema/" \
  -H "Authorization: Bearer $KEY" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "${FACEPASS_FUZZ_EXAMPLES:-100}" \
  --generation-database none \
  --request-timeout 30 \
  "$@") || status=$?
if grep -q "Internal Server Error" "$LOG"; then
  say "the server logged errors: see $LOG"
  status=1
fi
exit "$status"
