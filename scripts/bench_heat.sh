#!/usr/bin/env bash
# Partition heat (issue 8): the named scenarios of bench/heat.py replayed through the
# release function, against moto behind the capturing proxy bench/heat_proxy.py; prints
# the peak units per second on one partition key of the table and of each GSI, next to
# the committed baseline (bench/heat-baseline.json). Run by scripts/bench.sh after its
# timing part, or alone:
#   BENCH_HEAT_ONLY=1 scripts/bench.sh               # (or scripts/bench_heat.sh)
#   BENCH_QUICK=1 BENCH_HEAT_ONLY=1 scripts/bench.sh # small samples (~30 s; ~2.5 min without)
#   BENCH_HEAT_BASELINE_REV=d764b35 BENCH_HEAT_ONLY=1 scripts/bench.sh
#       # rebuild the baseline from that revision: a temporary git worktree, its release
#       # build (skipped when its function sources equal this checkout's), its
#       # template.yaml's table, the same scenarios; rewrites bench/heat-baseline.json
#       # (bench/results/heat-baseline.json with BENCH_QUICK)
#   BENCH_DOCS=1 ...                                 # also the Partition heat section of docs/benchmarks.md
# Results: bench/results/heat.{json,md}; the proxy's per-request log in bench/results/heat-raw/.
# Every server started here is stopped on exit (lib.sh), and the temporary worktree removed.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

RESULTS="$ROOT/bench/results"
RAW="$RESULTS/heat-raw"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
quick=${BENCH_QUICK:-}

# --measure BIN TEMPLATE OUT GIT: one layout measured, in a process of its own so that
# its moto, proxy and function stop when it ends (lib.sh's trap) before the next starts.
if [[ ${1:-} == --measure ]]; then
  bin=$2 template=$3 out=$4 git=$5
  label=$(basename "$out" .json)
  start_dynamodb ""
  moto=$AWS_ENDPOINT_URL_DYNAMODB
  while read -r name; do unset "$name"; done < <(compgen -e | grep '^JOBS_' || true)
  JOBS_TABLE_NAME="heat-$(python3 -c 'import secrets; print(secrets.token_hex(4))')"
  JOBS_JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
  export JOBS_TABLE_NAME JOBS_JWT_SECRET
  # The table as that revision's template.yaml defines it.
  "$VENV/bin/python" scripts/create_table.py --table-name "$JOBS_TABLE_NAME" --template "$template" >/dev/null
  port=$(free_port)
  proxy_log="$RAW/$label.proxy.jsonl"
  : >"$proxy_log"
  spawn "$RAW/$label.proxy.log" python3 bench/heat_proxy.py --port "$port" --upstream "$moto" --log "$proxy_log"
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
  wait_http "$AWS_ENDPOINT_URL_DYNAMODB/" 10 "$SPAWNED_PID"
  start_watch "" "$bin"
  python3 bench/heat.py run --log "$proxy_log" --out "$out" --git "$git" ${quick:+--quick}
  exit 0
fi

mkdir -p "$RAW"
bash scripts/tools.sh
log "heat: release build"
cargo build --release --bin jobs-api
BIN="$TARGET/release/jobs-api"
started=$SECONDS

baseline="$ROOT/bench/heat-baseline.json"
if [[ -n ${BENCH_HEAT_BASELINE_REV:-} ]]; then
  rev=$(git rev-parse --short "${BENCH_HEAT_BASELINE_REV}^{commit}")
  [[ -z $quick ]] || baseline="$RESULTS/heat-baseline.json"
  worktree="$LOCAL_DIR/heat-baseline-$rev"
  remove_worktree() { git worktree remove --force "$worktree" 2>/dev/null || rm -rf "$worktree"; }
  remove_worktree
  on_exit remove_worktree
  git worktree add --detach --quiet "$worktree" "$rev"
  base_bin="$RAW/jobs-api-$rev"
  function_sources=(src Cargo.toml Cargo.lock build.rs)
  if git diff --quiet "$rev" -- "${function_sources[@]}"; then
    log "heat: $rev builds the same function as this checkout; its binary is this one"
    cp "$BIN" "$base_bin"
  else
    # The same target directory: dependencies already built are reused; then this
    # checkout's build again, so target/release/jobs-api is this checkout's after the run.
    log "heat: release build of $rev (a temporary worktree)"
    (cd "$worktree" && CARGO_TARGET_DIR="$TARGET" cargo build --release --bin jobs-api)
    cp "$TARGET/release/jobs-api" "$base_bin"
    cargo build --release --bin jobs-api
  fi
  log "heat: scenarios against $rev (the baseline)"
  bash scripts/bench_heat.sh --measure "$base_bin" "$worktree/template.yaml" "$baseline" "$rev"
fi

log "heat: scenarios against this checkout"
bash scripts/bench_heat.sh --measure "$BIN" "$ROOT/template.yaml" "$RESULTS/heat.json" \
  "$(git rev-parse --short HEAD)$(git status --porcelain -- src template.yaml | grep -q . && echo ' + uncommitted changes' || true)"
log "heat: $((SECONDS - started)) s"
python3 bench/heat.py report "$RESULTS/heat.json" --baseline "$baseline" --out "$RESULTS/heat.md" \
  ${BENCH_DOCS:+--docs docs/benchmarks.md}
