#!/usr/bin/env bash
# The project's test command: lints, then the whole suite against a throwaway local
# DynamoDB (moto) and the function running under `cargo lambda watch`.
#   scripts/test.sh                   # everything
#   scripts/test.sh -- create_job     # arguments after -- go to `cargo test`
# Exits with cargo test's status; moto and the watch are stopped on any exit (lib.sh).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
[[ ${1:-} == -- ]] && shift

log "tools (.tools/venv, .tools/sam-venv, .tools/node, chromium, valgrind)"
bash scripts/tools.sh --browser --sam --dynalite --valgrind

log "cargo fmt --check"
cargo fmt --check
log "imports run downhill: no circles between modules (scripts/layers.py)"
python3 scripts/layers.py
log "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets -- -D warnings
# The deployed build leaves the default feature `standard-chain` out (Cargo.toml,
# [package.metadata.lambda.build]): its code must stay clean too.
log "cargo clippy -p jobs-api --no-default-features -- -D warnings (the deployed build)"
cargo clippy -p jobs-api --no-default-features -- -D warnings
log "cfn-lint template.yaml"
"$VENV/bin/cfn-lint" template.yaml
# The check as the SAM CLI runs it (cfn-lint and the SAM transform as pinned by
# aws-sam-cli, in .tools/sam-venv). Offline, no AWS account needed; dummy credentials
# so that a developer's real ones are never picked up.
log "sam validate --lint"
env -u AWS_PROFILE -u AWS_SESSION_TOKEN AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
  AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 \
  "$ROOT/.tools/sam-venv/bin/sam" validate --lint --template-file template.yaml
log "template.yaml, each deployment mode resolved"
"$VENV/bin/python" scripts/template_modes.py
log "metrics: template's alarms and dashboard vs the code (scripts/check_metrics.py)"
"$VENV/bin/python" scripts/check_metrics.py template
log "partition-heat model rules (bench/test_heat_model.py)"
"$VENV/bin/python" -m unittest discover -s bench -p 'test_heat_model.py'
log "links in README.md and docs/ (scripts/check_doc_links.py)"
"$VENV/bin/python" scripts/check_doc_links.py

log "the local DynamoDB refuses what DynamoDB refuses (tests/test_dynamodb_server.py)"
"$VENV/bin/python" -m pytest tests/test_dynamodb_server.py -q -p no:cacheprovider
# The same rules against dynalite, a stricter emulator, for those it implements (it has no
# transactions): where both refuse, they must agree with each other and with DynamoDB.
if [[ -x $ROOT/.tools/node/node_modules/.bin/dynalite ]]; then
  log "the same rules against dynalite"
  port=$(free_port)
  spawn "$LOCAL_DIR/$LOG_PREFIX-dynalite.log" node "$ROOT/.tools/node/node_modules/.bin/dynalite" \
    --port "$port" --createTableMs 0 --deleteTableMs 0 --updateTableMs 0
  wait_port "$port" 30 "$SPAWNED_PID" || { tail -n 20 "$LOCAL_DIR/$LOG_PREFIX-dynalite.log" >&2; exit 1; }
  STRICT_DYNAMODB_TARGET=dynalite STRICT_DYNAMODB_URL="http://127.0.0.1:$port" \
    "$VENV/bin/python" -m pytest tests/test_dynamodb_server.py -q -p no:cacheprovider
fi

log "local DynamoDB (moto)"
start_dynamodb ""   # "" = any free port
# A fresh table name and JWT secret per run: nothing leaks between runs.
rand() { python3 -c "import secrets; print(secrets.token_hex($1))"; }
JOBS_TABLE_NAME="jobs-test-$(rand 4)"
export JOBS_TABLE_NAME
"$VENV/bin/python" scripts/create_table.py --table-name "$JOBS_TABLE_NAME"
export JOBS_JWT_ALGORITHM=HS256
JOBS_JWT_SECRET="$(rand 32)"
export JOBS_JWT_SECRET

# Build everything once; `cargo test` and the function under the watch reuse it.
log "cargo build --all-targets"
cargo build --all-targets

# The instruction gate's release-like build (scripts/instructions.sh, last below) in the
# background from here, so that its minutes overlap the tests: it has its own profile
# directory (target/gate) and never waits on the debug build's lock.
if [[ $# -eq 0 ]]; then
  log "cargo build --profile gate --bin jobs-api (in the background, for the instruction gate)"
  # Niced: the timing-sensitive tests (deadlines of 1-4 s, the load check) come first.
  spawn "$LOCAL_DIR/$LOG_PREFIX-gate-build.log" nice -n 19 cargo build --profile gate --bin jobs-api
  GATE_BUILD_PID=$SPAWNED_PID
fi

log "cargo lambda watch"
# The binary just built, run against the watch's runtime API: no second build with
# other features, and no reload if a file changes mid-run (see start_watch).
start_watch "" "${CARGO_TARGET_DIR:-$ROOT/target}/debug/jobs-api"
log "function up at $JOBS_TEST_WATCH_URL (table $JOBS_TABLE_NAME at $AWS_ENDPOINT_URL_DYNAMODB)"

log "cargo test $*"
cargo test "$@"

# Every response of a full scenario against openapi.yaml (only for a full run: a
# `cargo test` filter means someone is iterating on one test).
if [[ $# -eq 0 ]]; then
  log "OpenAPI conformance"
  "$VENV/bin/python" tests/openapi_conformance.py
fi

# The jobs page (GET /) in headless Chromium against the same watch: what a person sees
# and does, and what another site cannot make it do. Screenshots: .local/browser/.
if [[ $# -eq 0 ]]; then
  log "the jobs page in a real browser (tests/browser, screenshots in .local/browser/)"
  "$VENV/bin/python" -m pytest tests/browser -q -p no:cacheprovider
fi

# A bounded load through the watch, served by two function instances as by two Lambda
# instances: a second process of the same binary polls the same runtime API (the watch
# hands each request to whichever instance asks first). Then schemathesis: requests
# generated from openapi.yaml, every response checked against it (scripts/schemathesis.sh).
if [[ $# -eq 0 ]]; then
  log "load check (two function instances)"
  spawn "$LOCAL_DIR/$LOG_PREFIX-function-2.log" env JOBS_JWT_ALGORITHM=HS256 "RUST_LOG=${RUST_LOG:-info}" \
    AWS_LAMBDA_RUNTIME_API="$JOBS_TEST_WATCH_URL/.rt" AWS_LAMBDA_FUNCTION_NAME=_ \
    AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 \
    "${CARGO_TARGET_DIR:-$ROOT/target}/debug/jobs-api"
  cargo test --test it -- --ignored --nocapture load::
  log "schemathesis"
  bash scripts/schemathesis.sh
  log "metrics: every request line of this run is valid EMF"
  "$VENV/bin/python" scripts/check_metrics.py log "$LOCAL_DIR/$LOG_PREFIX-function.log"
fi

# The instruction gate (issue 26): each route's instructions per warm invocation against
# bench/instructions-baseline.json; more than 3 % dearer fails, unless the change
# re-records the baseline (bash scripts/instructions.sh --record).
if [[ $# -eq 0 ]]; then
  log "instructions per route against the baseline (scripts/instructions.sh)"
  wait "$GATE_BUILD_PID" || {
    cat "$LOCAL_DIR/$LOG_PREFIX-gate-build.log" >&2
    die "cargo build --profile gate failed (output above)"
  }
  bash scripts/instructions.sh
fi
