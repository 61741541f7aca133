#!/usr/bin/env bash
# `make bench`: every benchmark of the scale work, each beside its baseline, on the benchmark
# database (benchmarks/stack.py: facepass_bench, Redis db 14, var/bench/; never the dev or test
# database), JSON under benchmarks/results/ (results/small/ for the small default sizes), then
# that run's results section of benchmarks/README.md.
#
# Small sizes by default (the whole run stays under 10 minutes on a 2-core machine); FULL=1 for
# the issue's sizes (hours on 2 cores). Any size can be set on its own:
#   BENCH_HOLDERS         holders in the gate events (gate latency, concurrency)
#   BENCH_REQUESTS        timed requests per lane (gate latency)
#   BENCH_ROWS            holders in search_scale's big event; BENCH_TOTAL_ROWS rows in the table
#   BENCH_QUERIES         probes per event (search scale)
#   BENCH_SECONDS         measured window per model (concurrency); BENCH_CLIENTS clients
#   BENCH_PHOTOS          queued photos per run (bulk enrollment)
#   BENCH_MEMORY_PHOTOS   photos a worker enrolls before its memory is read
#   BENCH_RECALL_PROBES   real photos whose HNSW top-1 is checked against exact (gate latency)
#   BENCH_STRANGER_SIZES  gallery sizes of the stranger benchmark (face-only FPIR / TPIR)
#   BENCH_ONLY            subset of: gate_latency strangers search_scale concurrency
#                         bulk_enrollment memory
#   BENCH_MODELS          comma-separated model specs (default: the default model + baselines)
#   BENCH_GATE_MODELS     models of the gate latency run (default: all compared ones with FULL=1,
#                         plus default+dlib-runtime: dlib-resnet on dlib's own code, the baseline;
#                         else the default and dlib-resnet: the MobileNetV2 gate path is timed by
#                         the concurrency run, and a TensorFlow model's first gate frame can run
#                         past the gate task's time limit on a busy machine, see concurrency.json)
#   BENCH_TRAIN_IMAGES    real train embeddings behind search_scale's synthetic gallery
#   BENCH_SEARCH_DATABASE search_scale's database (default facepass_bench_search[_small])
#   BENCH_MOBILENET_ARTIFACT  a trained MobileNetV2 artifact (default: an untrained one, for speed)
#   BENCH_NICE            nice level of every benchmark process (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
RUN=(nice -n "${BENCH_NICE:-5}" "$PY")
FULL="${FULL:-0}"
# The small run keeps its own results (and README section): it never overwrites a full run's.
RESULTS="${BENCH_RESULTS:-benchmarks/results$([ "$FULL" = 1 ] || echo /small)}"
export BENCH_RESULTS="$RESULTS"
if [ "$FULL" = 1 ]; then
  : "${BENCH_HOLDERS:=100000}" "${BENCH_REQUESTS:=200}" "${BENCH_ROWS:=100000}"
  : "${BENCH_TOTAL_ROWS:=1000000}" "${BENCH_QUERIES:=1000}" "${BENCH_SECONDS:=60}"
  : "${BENCH_PHOTOS:=10000}" "${BENCH_MEMORY_PHOTOS:=64}" "${BENCH_TRAIN_IMAGES:=}"
  : "${BENCH_RECALL_PROBES:=3500}" "${BENCH_STRANGER_SIZES:=50,1000,10000,100000}"
else
  : "${BENCH_HOLDERS:=1000}" "${BENCH_REQUESTS:=20}" "${BENCH_ROWS:=5000}"
  : "${BENCH_TOTAL_ROWS:=20000}" "${BENCH_QUERIES:=100}" "${BENCH_SECONDS:=15}"
  : "${BENCH_PHOTOS:=96}" "${BENCH_MEMORY_PHOTOS:=16}" "${BENCH_TRAIN_IMAGES:=600}"
  : "${BENCH_RECALL_PROBES:=200}" "${BENCH_STRANGER_SIZES:=50,1000}"
fi
: "${BENCH_CLIENTS:=8}"
BENCH_ONLY="${BENCH_ONLY:-gate_latency strangers search_scale concurrency bulk_enrollment memory}"
wanted() { [[ " $BENCH_ONLY " == *" $1 "* ]]; }
say() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }

# The benchmark database, Redis db and media for this shell and everything it starts.
eval "$("$PY" benchmarks/stack.py env)"
export BENCH_MODELS="${BENCH_MODELS:-}"
mkdir -p "$RESULTS" var/bench/logs
started=$(date +%s)
"$PY" benchmarks/stack.py machine >var/bench/machine.json
"${RUN[@]}" benchmarks/stack.py setup
read -r -a MODELS <<<"$("$PY" benchmarks/stack.py models)"
say "models compared: ${MODELS[*]}"
if [ -n "${BENCH_GATE_MODELS:-}" ]; then
  read -r -a GATE_MODELS <<<"${BENCH_GATE_MODELS//,/ }"
elif [ "$FULL" = 1 ]; then
  GATE_MODELS=("${MODELS[@]}")
  [[ " ${MODELS[*]} " == *" default "* ]] && GATE_MODELS+=("default+dlib-runtime")
else
  GATE_MODELS=(default)
  [[ " ${MODELS[*]} " == *" dlib-resnet "* ]] && GATE_MODELS+=(dlib-resnet)
fi
declare -A took=()
failed=()

step() {  # step NAME COMMAND...: run and time it; a failure is reported at the end
  local name=$1 t0
  shift
  t0=$(date +%s)
  say "$name: $*"
  if "$@"; then
    took[$name]=$(( $(date +%s) - t0 ))
    say "$name done in ${took[$name]}s"
  else
    took[$name]=$(( $(date +%s) - t0 ))
    failed+=("$name")
    say "$name FAILED after ${took[$name]}s (the other benchmarks go on)"
  fi
}

if wanted gate_latency; then
  rm -f "$RESULTS"/gate_latency-*.json
  for spec in "${GATE_MODELS[@]}"; do
    # SPEC+dlib-runtime: the same model with dlib's own network code (the baseline of the
    # onnxruntime one); the gate worker inherits the variable.
    runtime=()
    [[ "$spec" == *+dlib-runtime ]] && runtime=(env FACEPASS_DLIB_RUNTIME=dlib)
    "$PY" benchmarks/stack.py activate "${spec%%+*}" >/dev/null
    # The index's recall on real faces is a property of the default model's embeddings: checked
    # once (the dlib-runtime run has the same embeddings).
    recall=(--recall-probes "$BENCH_RECALL_PROBES")
    [ "$spec" = default ] || recall=(--recall-probes 0)
    step "gate_latency-$spec" "${runtime[@]}" "${RUN[@]}" benchmarks/gate_latency.py \
      --holders "$BENCH_HOLDERS" --requests "$BENCH_REQUESTS" "${recall[@]}" \
      --out "$RESULTS/gate_latency-$spec.json" >var/bench/logs/gate_latency-"$spec".out
  done
  "$PY" benchmarks/stack.py activate default >/dev/null
fi

if wanted strangers; then
  step strangers "${RUN[@]}" benchmarks/strangers.py --sizes "$BENCH_STRANGER_SIZES" \
    --out "$RESULTS/strangers.json" >var/bench/logs/strangers.out
fi

if wanted search_scale; then
  if [ -f benchmarks/search_scale.py ]; then
    # Its own database (facepass_bench_search, on the benchmark server); exact search is the
    # baseline of every index figure, measured in the same run.
    train=()
    [ -n "$BENCH_TRAIN_IMAGES" ] && train=(--max-train-images "$BENCH_TRAIN_IMAGES")
    ladder=()
    [ "$FULL" = 1 ] || ladder=(--ladder "$(( BENCH_ROWS / 5 ))")
    # Full size: the former build settings beside the current ones, at the product's ef_search.
    builds=()
    [ "$FULL" = 1 ] && builds=(--build 16:64,32:200 --ef-search 200,400,800)
    # A database of its own per size, so the small run never rebuilds the full-size gallery.
    search_db="${BENCH_SEARCH_DATABASE:-facepass_bench_search$([ "$FULL" = 1 ] || echo _small)}"
    step search_scale "${RUN[@]}" benchmarks/search_scale.py "${train[@]}" "${ladder[@]}" "${builds[@]}" \
      --database "$search_db" \
      --event-size "$BENCH_ROWS" --total-rows "$BENCH_TOTAL_ROWS" --queries "$BENCH_QUERIES" \
      --out "$RESULTS/search_scale.json" >var/bench/logs/search_scale.out
  else
    say "search_scale: benchmarks/search_scale.py not present; skipped"
  fi
fi

model_opt=()
[ -n "$BENCH_MODELS" ] && model_opt=(--models "$BENCH_MODELS")
if wanted concurrency; then
  step concurrency "${RUN[@]}" benchmarks/concurrency.py "${model_opt[@]}" \
    --clients "$BENCH_CLIENTS" --seconds "$BENCH_SECONDS" --holders "$BENCH_HOLDERS"
fi
if wanted bulk_enrollment; then
  step bulk_enrollment "${RUN[@]}" benchmarks/bulk_enrollment.py "${model_opt[@]}" \
    --photos "$BENCH_PHOTOS"
fi
if wanted memory; then
  step memory "${RUN[@]}" benchmarks/memory.py "${model_opt[@]}" --photos "$BENCH_MEMORY_PHOTOS"
fi

seconds=$(( $(date +%s) - started ))
steps_json=$(for k in "${!took[@]}"; do printf '"%s": %s\n' "$k" "${took[$k]}"; done | paste -sd, -)
sizes="\"FULL\": $FULL, \"BENCH_HOLDERS\": $BENCH_HOLDERS, \"BENCH_REQUESTS\": $BENCH_REQUESTS,"
sizes+=" \"BENCH_ROWS\": $BENCH_ROWS, \"BENCH_TOTAL_ROWS\": $BENCH_TOTAL_ROWS,"
sizes+=" \"BENCH_QUERIES\": $BENCH_QUERIES, \"BENCH_SECONDS\": $BENCH_SECONDS,"
sizes+=" \"BENCH_CLIENTS\": $BENCH_CLIENTS, \"BENCH_PHOTOS\": $BENCH_PHOTOS,"
sizes+=" \"BENCH_MEMORY_PHOTOS\": $BENCH_MEMORY_PHOTOS, \"BENCH_TRAIN_IMAGES\": \"$BENCH_TRAIN_IMAGES\","
sizes+=" \"BENCH_STRANGER_SIZES\": \"$BENCH_STRANGER_SIZES\""
command="make bench"
[ "$FULL" = 1 ] && command="make bench FULL=1"
cat >"$RESULTS/bench_run.json" <<EOF
{
  "benchmark": "bench_run",
  "command": "$command",
  "only": "$BENCH_ONLY",
  "models": "${MODELS[*]}",
  "gate_latency_models": "${GATE_MODELS[*]:-}",
  "sizes": {$sizes},
  "step_seconds": {$steps_json},
  "seconds": $seconds,
  "failed": "${failed[*]:-}",
  "machine": $(cat var/bench/machine.json)
}
EOF
readme_opts=(--results "$RESULTS")
[ "$FULL" = 1 ] || readme_opts+=(--small)
"$PY" benchmarks/update_readme.py "${readme_opts[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  say "FAILED: ${failed[*]} (logs in var/bench/logs/); the others are in $RESULTS/"
  exit 1
fi
say "all done in ${seconds}s: $RESULTS/*.json, benchmarks/README.md"
