#!/usr/bin/env bash
# Instructions per warm invocation of each event, counted by callgrind (exact, and the
# same however loaded the machine is), with a profile of each to read where they go.
#   bash bench/profile.sh [EVENT...]     # default: the five events scripts/bench.sh times,
#                                        # and the Lambda floors of a create and a report
# Builds the release binary with its symbols (CARGO_PROFILE_RELEASE_STRIP=false) into its
# own target directory (target/profile: the stripped build scripts/bench.sh times is left
# alone), starts the null DynamoDB, and drives the binary under valgrind with
# examples/bench_runtime.rs twice per event: LOW and HIGH warm invocations. The difference
# divided by HIGH-LOW is one invocation, start-up and warm-up cancelled out. (The null
# DynamoDB has every job, so each event is its own first event: no create is needed.)
# Knobs: PROFILE_LOW / PROFILE_HIGH (default 40 / 240), PROFILE_BINARY (a prebuilt binary
# to profile instead), PROFILE_EXAMPLES (a directory with prebuilt bench_runtime and
# bench_null_dynamodb, any build: they are not counted), PROFILE_FLOORS=0 (skip the
# floors), PROFILE_OUT (where the profiles go), PROFILE_JSON (also write {event:
# instructions} there; scripts/instructions.sh, the CI gate, reads it). Output:
# bench/results/profile/NAME.callgrind (the HIGH run; read it with
# `callgrind_annotate --inclusive=yes`) and a table on stdout.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$ROOT"
command -v valgrind >/dev/null || die "valgrind is needed (apt-get install valgrind)"

default_events="create-job get-job report-progress report-progress-increment report-progress-minimal"
read -r -a events <<<"${*:-$default_events}"
low=${PROFILE_LOW:-40} high=${PROFILE_HIGH:-240}
out="${PROFILE_OUT:-$ROOT/bench/results/profile}"
mkdir -p "$out"

target="$ROOT/target/profile"
binary=${PROFILE_BINARY:-}
if [[ -z $binary ]]; then
  log "release build with symbols ($target)"
  CARGO_TARGET_DIR=$target CARGO_PROFILE_RELEASE_STRIP=false \
    cargo build --release --bin jobs-api
  binary="$target/release/jobs-api"
fi
examples="${PROFILE_EXAMPLES:-${CARGO_TARGET_DIR:-$ROOT/target}/release/examples}"
# The runner and the null DynamoDB use none of the function's code: any build of them
# serves (a rebuild would relink them for every change to src/).
if [[ -z ${PROFILE_EXAMPLES:-} ]] &&
   [[ ! -x $examples/bench_runtime || ! -x $examples/bench_null_dynamodb ]]; then
  cargo build --release --example bench_runtime --example bench_null_dynamodb
fi

port=$(free_port)
spawn "$out/null-dynamodb.log" "$examples/bench_null_dynamodb" --port "$port"
wait_http "http://127.0.0.1:$port/" 10 "$SPAWNED_PID"

# The function's settings, as scripts/bench.sh gives them (template.yaml's).
while read -r name; do unset "$name"; done < <(compgen -e | grep '^JOBS_' || true)
export JOBS_TABLE_NAME=profile-jobs JOBS_ORGANIZATIONS_CLAIM=organizations
export JOBS_USER_ID_CLAIM=sub JOBS_PERMISSIONS_CLAIM=permissions RUST_LOG=info
export JOBS_JOB_TYPES=enrichment,crawl,import,export,document_ingestion
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port" AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=profile AWS_SECRET_ACCESS_KEY=profile

# run NAME PROGRAM EVENT N: total instructions of PROGRAM serving N warm invocations of
# EVENT. (SIGTERM at the end, from bench_runtime, lets valgrind write them.)
run() {
  local name=$1 program=$2 event=$3 n=$4 file="$out/$1.$4.callgrind"
  local wrapper="$out/valgrind-$name-$n.sh"
  printf '#!/bin/sh\nexec valgrind --tool=callgrind --callgrind-out-file=%s %s\n' \
    "$file" "$program" >"$wrapper"
  chmod +x "$wrapper"
  "$examples/bench_runtime" --program "$wrapper" --label "profile-$name" \
    --out "$out/$name.$n.json" --event "events/$event.http-api.json" --warm "$n" >/dev/null
  rm -f "$wrapper" "$out/$name.$n.json"
  sed -n 's/^totals: \([0-9]*\).*/\1/p' "$file"
}

# per_invocation NAME PROGRAM EVENT: one table row; keeps the HIGH run's profile.
per_invocation() {
  local a b
  a=$(run "$1" "$2" "$3" "$low")
  b=$(run "$1" "$2" "$3" "$high")
  mv "$out/$1.$high.callgrind" "$out/$1.callgrind"
  rm -f "$out/$1.$low.callgrind"
  local per=$(( (b - a) / (high - low) ))
  printf '| %s | %s |\n' "$1" "$per"
  [[ -z ${PROFILE_JSON:-} ]] || printf '%s %s\n' "$1" "$per" >>"$PROFILE_JSON.tmp"
}

[[ -z ${PROFILE_JSON:-} ]] || rm -f "$PROFILE_JSON.tmp"
printf '| event | instructions per invocation |\n|---|---|\n'
for event in "${events[@]}"; do
  per_invocation "$event" "$binary" "$event"
done
# The Lambda floors of a create and of a minimal report, when built (scripts/bench.sh).
floors=(floor_sdk:create-job floor_update:report-progress-minimal)
[[ ${PROFILE_FLOORS:-1} == 0 ]] && floors=()
for floor in "${floors[@]}"; do
  program="$examples/bench_${floor%%:*}"
  if [[ -x $program ]]; then per_invocation "${floor%%:*}" "$program" "${floor#*:}"; fi
done
if [[ -n ${PROFILE_JSON:-} ]]; then
  python3 - "$PROFILE_JSON.tmp" "$PROFILE_JSON" <<'PY'
import json, sys
rows = dict(line.split() for line in open(sys.argv[1]))
json.dump({name: int(n) for name, n in rows.items()}, open(sys.argv[2], "w"), indent=2)
PY
  rm -f "$PROFILE_JSON.tmp"
fi
