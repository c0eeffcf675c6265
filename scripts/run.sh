#!/usr/bin/env bash
# The project's run command: a local DynamoDB (moto, port 8000 if free) with the `jobs`
# table from template.yaml, the function under `cargo lambda watch` (port 9000 if
# free), reloading on code changes, and the timeout sweep every minute. The events path
# too: moto's EventBridge bus `jobs` with a queue subscribed to it, and
# scripts/stream_poller.py playing Lambda's stream mapping, handing the table's stream to
# `jobs-events` under the same watch. Prints the jobs page's address with a development
# token to sign in with, and ready-to-paste commands, then serves until
# Ctrl-C; the trap in lib.sh stops moto and the watch. Reads no input, so it never
# hangs on a prompt under CI=true or without a TTY.
#   scripts/run.sh            # serve until Ctrl-C
#   scripts/run.sh --smoke    # start, send one create request, print the answer, load the page, stop
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
smoke=false
[[ ${1:-} == --smoke ]] && smoke=true

log "tools (.tools/venv)"
bash scripts/tools.sh

db_port=8000
port_is_free "$db_port" || db_port=$(free_port)
log "local DynamoDB (moto) on port $db_port"
start_dynamodb "$db_port"
export JOBS_TABLE_NAME=jobs
"$VENV/bin/python" scripts/create_table.py --table-name "$JOBS_TABLE_NAME"
# The bus jobs-events publishes to (moto's), a queue subscribed to it, the failure queue.
export JOBS_EVENT_BUS_NAME=jobs
queues="$("$VENV/bin/python" scripts/events_local.py setup --bus "$JOBS_EVENT_BUS_NAME")"
events_queue="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["queue_url"])' <<<"$queues")"
failure_queue="$(python3 -c 'import json, sys; print(json.load(sys.stdin)["failure_queue_url"])' <<<"$queues")"

# One dev secret per checkout, so tokens minted earlier keep working across restarts.
secret_file="$LOCAL_DIR/dev-jwt-secret"
if [[ ! -s $secret_file ]]; then
  (umask 077; python3 -c 'import secrets; print(secrets.token_hex(32))' >"$secret_file")
fi
JOBS_JWT_SECRET="$(<"$secret_file")"
export JOBS_JWT_SECRET JOBS_JWT_ALGORITHM=HS256

# Build in the foreground (visible progress); the watch's `cargo run` then starts at once.
log "cargo build"
cargo build

fn_port=9000
port_is_free "$fn_port" || fn_port=$(free_port)
log "cargo lambda watch on port $fn_port (logs: .local/$LOG_PREFIX-watch.log)"
start_watch "$fn_port"
watch_pid=$SPAWNED_PID

# The sweep, as the deployed schedule runs it: every minute it ends the jobs whose
# heartbeat or overall deadline passed (the binary `cargo build` just built).
log "jobs-sweep every 60 s (logs: .local/$LOG_PREFIX-sweep.log)"
spawn "$LOCAL_DIR/$LOG_PREFIX-sweep.log" "${CARGO_TARGET_DIR:-$ROOT/target}/debug/jobs-sweep" --every 60
log "stream poller: the table's stream → jobs-events (logs: .local/$LOG_PREFIX-poller.log)"
spawn "$LOCAL_DIR/$LOG_PREFIX-poller.log" "$VENV/bin/python" scripts/stream_poller.py \
  --table-name "$JOBS_TABLE_NAME" --failure-queue-url "$failure_queue" \
  --invoke-url "http://127.0.0.1:$fn_port/2015-03-31/functions/jobs-events/invocations"

token="$(python3 scripts/dev_token.py --org org-dev --sub dev-user --ttl 86400)"
body='{"job_type":"enrichment","total_items":10}'
cat <<EOT

Ready. The jobs page: $JOBS_TEST_WATCH_URL/
  Sign in as the development user (org-dev / dev-user): paste this token into the page's
  "API token" field (kept for that tab only), or sign in with the session cookie instead by
  running this in the browser's console on that page, then reloading:
    document.cookie = "stytch_session_jwt=$token; path=/; SameSite=Strict"
  Token: $token

From the repo root:

  # the \`jobsctl\` command line and the Rust client read these (cargo install --path crates/cli)
  export JOBS_API_URL=$JOBS_TEST_WATCH_URL JOBS_TOKEN=$token

  # create a job (token: org-dev / dev-user, valid 24 h)
  curl -i -X POST $JOBS_TEST_WATCH_URL/api/jobs/ -H 'Content-Type: application/json' -H "Authorization: Bearer $token" -d '$body'

  # send a raw API Gateway event instead
  .tools/venv/bin/cargo-lambda lambda invoke jobs-api --invoke-address 127.0.0.1 --invoke-port $fn_port --data-file events/create-job.http-api.json

  # look at the table
  .tools/venv/bin/python -c "import boto3, json; c = boto3.client('dynamodb', endpoint_url='$AWS_ENDPOINT_URL_DYNAMODB', region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test'); print(json.dumps(c.scan(TableName='$JOBS_TABLE_NAME')['Items'], indent=2))"

  # watch the Job Status Changed events go by (each job's creation, start and end)
  AWS_ENDPOINT_URL_SQS=$AWS_ENDPOINT_URL_SQS .tools/venv/bin/python scripts/events_local.py watch --queue-url $events_queue

  # another token: python3 scripts/dev_token.py --secret "\$(cat .local/dev-jwt-secret)" --org org-dev
EOT

if $smoke; then
  python3 - "$JOBS_TEST_WATCH_URL/api/jobs/" "$token" "$body" <<'PY'
import sys, urllib.error, urllib.request
url, token, body = sys.argv[1:]
req = urllib.request.Request(url, data=body.encode(), method="POST", headers={
    "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
try:
    resp = urllib.request.urlopen(req, timeout=60)
except urllib.error.HTTPError as err:
    resp = err
print(f"smoke: POST {url} -> {resp.status}\n{resp.read().decode()}")
page_url = url.removesuffix("api/jobs/")
with urllib.request.urlopen(page_url, timeout=60) as page:
    page_type = page.headers.get("Content-Type", "")
    print(f"smoke: GET {page_url} -> {page.status} {page_type}")
sys.exit(0 if 200 <= resp.status < 300 and page.status == 200 and page_type.startswith("text/html") else 1)
PY
  # The creation's event, through the stream, jobs-events, the bus and the queue.
  "$VENV/bin/python" scripts/events_local.py watch --queue-url "$events_queue" --count 1 --seconds 300
  exit
fi

echo "Serving; Ctrl-C stops moto and the watch."
# Returns when the watch exits on its own, or at once on Ctrl-C (the trap cleans up).
wait "$watch_pid"
