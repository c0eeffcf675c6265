#!/usr/bin/env bash
# The benchmark (issue 5): the release `bootstrap` driven through a loopback Lambda Runtime
# API (examples/bench_runtime.rs), against moto and against a null DynamoDB, next to its
# floors (examples/bench_floor_*.rs, examples/bench_sdk_loop.rs). docs/benchmarks.md says
# what each figure means.
#   scripts/bench.sh                  # the full run: ~1 min once built (first build: minutes)
#   BENCH_QUICK=1 scripts/bench.sh    # smoke run: a few iterations of everything
#   BENCH_DOCS=1 scripts/bench.sh     # also write the results into docs/benchmarks.md
#   BENCH_HEAT_ONLY=1 scripts/bench.sh  # only the partition heat (scripts/bench_heat.sh, issue 8)
# Ends with the goals as PASS / FAIL lines (cold-start CPU within 1 ms of the no-AWS floor,
# peak RSS <= 10 MB, each route's instructions against its floor; bench/report.py).
# Knobs: BENCH_COLD (runs), BENCH_WARM / BENCH_WARM_MOTO (invocations per event),
# BENCH_PROFILE_LOW / BENCH_PROFILE_HIGH (the two callgrind runs, default 10 / 60),
# BENCH_EVENTS (names of events/NAME.http-api.json, or paths), BENCH_ARM64=0 (skip the
# cargo-lambda arm64 zip), BENCH_HEAT=0 (skip the partition heat that follows the timing part),
# BENCH_HEAT_BASELINE_REV (see scripts/bench_heat.sh). Results: bench/results/latest.{md,json}, raw runs in
# bench/results/raw/. Loopback only; every server and function started here is stopped on
# exit (lib.sh's process-group registry).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

# Partition heat alone: its own script, which builds only the function.
[[ -z ${BENCH_HEAT_ONLY:-} ]] || exec bash scripts/bench_heat.sh

quick=${BENCH_QUICK:-}
COLD=${BENCH_COLD:-$([[ -n $quick ]] && echo 3 || echo 40)}
WARM=${BENCH_WARM:-$([[ -n $quick ]] && echo 30 || echo 3000)}
WARM_MOTO=${BENCH_WARM_MOTO:-$([[ -n $quick ]] && echo 30 || echo 1000)}
# The report that records errors runs first: with --one-job, get and the reports after it
# read the history it wrote (moto; the null DynamoDB gives every job one).
default_events="create-job report-progress get-job report-progress-increment report-progress-minimal"
read -r -a EVENT_NAMES <<<"${BENCH_EVENTS:-$default_events}"
RESULTS="$ROOT/bench/results"
RAW="$RESULTS/raw"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
EXAMPLES=(bench_runtime bench_null_dynamodb bench_sdk_loop bench_floor_sdk bench_floor_update
  bench_floor_noop)

rm -rf "$RAW"
mkdir -p "$RAW/capture"
python3 - "$RAW/meta.json" "$*" <<'PY'
import json, os, sys, time
json.dump({"command": "scripts/bench.sh " + sys.argv[2],
           "env": {k: v for k, v in os.environ.items() if k.startswith("BENCH_")},
           "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
           "loadavg_start": open("/proc/loadavg").read().split()[:3]}, open(sys.argv[1], "w"))
PY
read -r load _ </proc/loadavg
[[ ${load%%.*} -ge 1 ]] && log "note: load average $load: other work is running, timings will be noisy"

# run_group CMD...: CMD in its own registered process group, waited for: an interrupted
# bench then stops it, and every function process it spawned, through lib.sh's trap.
run_group() {
  setsid "$@" &
  _PGIDS+=("$!")
  wait "$!"
}

log "tools (.tools/venv)"
bash scripts/tools.sh

log "release build"
# The function on its own: built together with the examples, it would get the features the
# dev-dependencies turn on, and the bench must time the binary Lambda runs: built as
# `cargo lambda build` builds it (Cargo.toml's [package.metadata.lambda.build]), without
# the off-Lambda credential chain.
cargo build --release -p jobs-api --bin jobs-api --no-default-features
cargo build --release "${EXAMPLES[@]/#/--example=}"
BIN="$TARGET/release/jobs-api"
EX="$TARGET/release/examples"

# The function on CPU 0, everything else (runner, DynamoDB) on CPU 1, when there are two.
CPU_ARGS=()
PIN=()
PIN_FUNCTION=()
if (($(nproc) >= 2)) && command -v taskset >/dev/null; then
  CPU_ARGS=(--cpu 0 --runner-cpu 1)
  PIN=(taskset -c 1)
  PIN_FUNCTION=(taskset -c 0)
fi

log "DynamoDB: moto and the null server"
start_dynamodb
MOTO_URL=$AWS_ENDPOINT_URL_DYNAMODB
((${#PIN[@]})) && taskset -a -p -c 1 "$SPAWNED_PID" >/dev/null
null_port=$(free_port)
spawn "$RAW/null-dynamodb.log" "${PIN[@]}" "$EX/bench_null_dynamodb" --port "$null_port" \
  --capture "$RAW/capture"
NULL_URL="http://127.0.0.1:$null_port"
wait_http "$NULL_URL/" 10 "$SPAWNED_PID"

# The function's settings are template.yaml's, whatever this shell holds.
while read -r name; do unset "$name"; done < <(compgen -e | grep '^JOBS_' || true)
JOBS_TABLE_NAME="bench-jobs-$(python3 -c 'import secrets; print(secrets.token_hex(4))')"
export JOBS_TABLE_NAME
export JOBS_ORGANIZATIONS_CLAIM=organizations JOBS_USER_ID_CLAIM=sub
export JOBS_PERMISSIONS_CLAIM=permissions
export JOBS_JOB_TYPES=enrichment,crawl,import,export,document_ingestion RUST_LOG=info
"$VENV/bin/python" scripts/create_table.py --table-name "$JOBS_TABLE_NAME" >/dev/null
# Its indexes, for the capacity estimate (each index an item lands in costs a write).
"$VENV/bin/python" - "$JOBS_TABLE_NAME" >"$RAW/table.json" <<'PY'
import json, sys, boto3
table = boto3.client("dynamodb").describe_table(TableName=sys.argv[1])["Table"]
json.dump({k: table.get(k) for k in ("KeySchema", "GlobalSecondaryIndexes")}, sys.stdout, default=str)
PY

EVENTS=()
for name in "${EVENT_NAMES[@]}"; do
  [[ $name == */* ]] || name="events/$name.http-api.json"   # a name, or a path
  EVENTS+=(--event "$name")
done

# bench LABEL ENDPOINT PROGRAM COLD WARM [EVENT ARGS]: one bench_runtime run -> RAW/LABEL.json
bench() {
  local label=$1 endpoint=$2 program=$3 cold=$4 warm=$5; shift 5
  AWS_ENDPOINT_URL_DYNAMODB=$endpoint run_group "$EX/bench_runtime" --label "$label" \
    --program "$program" --cold "$cold" --warm "$warm" --out "$RAW/$label.json" \
    "${CPU_ARGS[@]}" "$@"
}
create_only=(--event events/create-job.http-api.json)
report_only=(--event events/report-progress-minimal.http-api.json)

# Cold starts in rounds, every program in each: a burst of other work on the machine then
# slows all of them alike instead of whichever happened to run during it.
rounds=$(( COLD >= 4 ? 4 : 1 ))
for round in $(seq "$rounds"); do
  log "cold starts, round $round of $rounds ($((COLD / rounds)) per program)"
  for target in null moto; do
    url=$NULL_URL
    [[ $target == moto ]] && url=$MOTO_URL
    bench "function.$target.cold$round" "$url" "$BIN" $((COLD / rounds)) 0 "${EVENTS[@]}"
    bench "floor_sdk.$target.cold$round" "$url" "$EX/bench_floor_sdk" $((COLD / rounds)) 0 \
      "${create_only[@]}"
  done
  bench "floor_noop.cold$round" "$NULL_URL" "$EX/bench_floor_noop" $((COLD / rounds)) 0 \
    "${create_only[@]}"
  # Function mode (template.yaml TokenVerification=function) with a JWKS on a port where
  # nothing listens: the events carry authorizer claims, so a cold start that fetched
  # keys anyway would fail its first answer (503) and stop the run.
  bench "function_verify.null.cold$round" "$NULL_URL" "$BIN" $((COLD / rounds)) 0 \
    "${create_only[@]}" --env JOBS_JWKS_URL=http://127.0.0.1:9/.well-known/jwks.json \
    --env JOBS_JWT_ISSUER=https://auth.example.com --env JOBS_JWT_AUDIENCE=jobs-api \
    --env JOBS_ALLOWED_ORIGINS=https://app.example.com
done

for target in null moto; do
  url=$NULL_URL warm=$WARM
  [[ $target == moto ]] && url=$MOTO_URL warm=$WARM_MOTO
  log "warm against $target: the function, its floors ($warm invocations each)"
  bench "function.$target.warm" "$url" "$BIN" 0 "$warm" "${EVENTS[@]}" --one-job true
  bench "floor_sdk.$target.warm" "$url" "$EX/bench_floor_sdk" 0 "$warm" "${create_only[@]}"
  bench "floor_update.$target.warm" "$url" "$EX/bench_floor_update" 0 "$warm" "${report_only[@]}"
  AWS_ENDPOINT_URL_DYNAMODB=$url run_group "${PIN_FUNCTION[@]}" "$EX/bench_sdk_loop" \
    --n "$warm" --out "$RAW/sdk_loop.$target.json"
done
bench floor_noop.warm "$NULL_URL" "$EX/bench_floor_noop" 0 "$WARM" "${create_only[@]}"

# Instructions per warm invocation, exact (callgrind; the stripped binary counts the same):
# the routes and their Lambda floors, for the goals at the top of docs/benchmarks.md.
profiled=()
for name in "${EVENT_NAMES[@]}"; do [[ $name == */* ]] || profiled+=("$name"); done
if command -v valgrind >/dev/null && ((${#profiled[@]})); then
  log "instructions per warm invocation (callgrind, bench/profile.sh)"
  PROFILE_BINARY="$BIN" PROFILE_EXAMPLES="$EX" PROFILE_JSON="$RAW/instructions.json" \
    PROFILE_LOW="${BENCH_PROFILE_LOW:-10}" PROFILE_HIGH="${BENCH_PROFILE_HIGH:-60}" \
    bash bench/profile.sh "${profiled[@]}"
else
  log "no valgrind: instructions not counted (bash scripts/tools.sh --valgrind)"
fi

log "package size"
mkdir -p "$RAW/zip"
cp "$BIN" "$RAW/zip/bootstrap"
(cd "$RAW/zip" && zip -q -9 -X native.zip bootstrap)
# The deployed build: cargo-lambda cross-compiles for arm64 with zig (the venv's ziglang).
# It needs the aarch64-unknown-linux-gnu standard library (`rustup target add`); without
# it the zip above, of the native binary, is all there is, and the report says so.
# `--no-default-features -p jobs-api` come from Cargo.toml, as for `sam build`.
if [[ ${BENCH_ARM64:-1} != 0 && -z $quick ]] &&
   rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  PATH="$VENV/bin:$PATH" "$VENV/bin/cargo-lambda" lambda build --release --arm64 \
    --bin jobs-api --output-format zip --lambda-dir "$RAW/lambda" >"$RAW/cargo-lambda.log" 2>&1 ||
    log "cargo lambda build failed (see $RAW/cargo-lambda.log); reporting the native zip only"
fi

python3 - "$RAW/meta.json" <<'PY'
import json, sys
meta = json.load(open(sys.argv[1]))
meta["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
json.dump(meta, open(sys.argv[1], "w"))
PY
python3 bench/report.py "$RAW" "$RESULTS" ${BENCH_DOCS:+--docs docs/benchmarks.md}

# Partition heat (issue 8): the named scenarios, before (bench/heat-baseline.json) and now.
if [[ ${BENCH_HEAT:-1} != 0 ]]; then
  log "partition heat"
  bash scripts/bench_heat.sh
fi
