# shellcheck shell=bash
# Shared helpers, sourced by the scripts in scripts/ (not run on its own).
#
# Every long-running server is started by `spawn`: with setsid, so it leads a process
# group of its own, recorded in _PGIDS. On EXIT/INT/TERM the trap stops exactly those
# groups and their descendants (cargo-lambda puts its function in yet another session);
# nothing is ever killed by name, so a developer's other moto or watch keeps running.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.tools/venv"
LOCAL_DIR="$ROOT/.local"           # logs, env files, the dev JWT secret (gitignored)
LOG_PREFIX="$(basename "$0" .sh)"  # test-moto.log vs run-moto.log: the two may run at once
mkdir -p "$LOCAL_DIR"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# A free loopback port, chosen by the OS. (Racy in theory, as every such trick is; the
# servers bind within a second of asking.)
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# port_is_free PORT: true when nothing listens on 127.0.0.1:PORT. SO_REUSEADDR as the
# servers use it, so a port merely in TIME_WAIT from a previous run counts as free.
port_is_free() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

# ---- process registry and cleanup ------------------------------------------------------

_PGIDS=()
_ON_EXIT=()

# on_exit FUNCTION: call FUNCTION on exit, after every spawned server has stopped (e.g.
# to remove a temporary git worktree those servers ran from).
on_exit() { _ON_EXIT+=("$1"); }

# spawn LOGFILE CMD...: start CMD in a new session (its own process group) in the
# background, output to LOGFILE, and register it. Sets SPAWNED_PID.
# Without job control a background child is not a group leader, so setsid does not
# fork: $! is the new session's leader, and its PID is the PGID. The python3 shim sets
# PR_SET_PDEATHSIG before exec'ing CMD: if this script is SIGKILLed (no trap can run),
# the kernel still sends the server SIGTERM.
spawn() {
  local logfile=$1; shift
  setsid python3 -c '
import ctypes, os, signal, sys
ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
if os.getppid() != int(sys.argv[1]):
    sys.exit("parent already gone")
os.execvp(sys.argv[2], sys.argv[2:])' "$$" "$@" >"$logfile" 2>&1 </dev/null &
  SPAWNED_PID=$!
  _PGIDS+=("$SPAWNED_PID")
}

# _tree PID...: those PIDs and all their descendants. cargo-lambda starts the function in
# a session of its own, so the watch's process group alone does not cover it.
_tree() {
  python3 - "$@" <<'PY'
import os, sys
kids = {}
for p in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{p}/stat") as f:
            kids.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(p)
    except (OSError, IndexError, ValueError):
        pass
todo, seen = list(sys.argv[1:]), []
while todo:
    seen.append(todo.pop())
    todo += kids.get(int(seen[-1]), [])
print(*seen)
PY
}

_running() {  # true while any of the PIDs is alive and not a zombie
  local pid stat
  for pid; do
    read -r stat 2>/dev/null <"/proc/$pid/stat" || continue
    stat=${stat##*) }
    [[ ${stat%% *} == Z ]] || return 0
  done
  return 1
}

_cleanup() {
  local rc=$? pg pids=()
  trap - EXIT INT TERM
  if ((${#_PGIDS[@]})); then
    read -ra pids <<<"$(_tree "${_PGIDS[@]}")"  # before signalling: orphans get re-parented
    for pg in "${_PGIDS[@]}"; do kill -TERM -- "-$pg" 2>/dev/null || true; done
    # Up to 5 s for a clean exit (cargo-lambda stops its function on TERM), then SIGKILL
    # whatever is left of those groups and trees.
    for _ in $(seq 50); do _running "${pids[@]}" || break; sleep 0.1; done
    for pg in "${_PGIDS[@]}"; do kill -KILL -- "-$pg" 2>/dev/null || true; done
    for pg in "${pids[@]}"; do
      if _running "$pg"; then kill -KILL "$pg" 2>/dev/null || true; fi
    done
    for pg in "${_PGIDS[@]}"; do wait "$pg" 2>/dev/null || true; done
  fi
  local hook
  for hook in "${_ON_EXIT[@]}"; do "$hook" || true; done
  exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT   # exit runs the EXIT trap, so every path goes through _cleanup
trap 'exit 143' TERM

# ---- readiness ------------------------------------------------------------------------

# wait_http URL TIMEOUT [PID]: poll until URL gives any HTTP answer (a 4xx/5xx counts:
# the server is up). Fails after TIMEOUT seconds, or at once if PID has died.
# An attempt may block for the rest of the timeout: cargo lambda watch holds a request
# until its function is built and started, and re-sending would only queue more.
wait_http() { _wait http "$@"; }

# wait_port PORT TIMEOUT [PID]: the same, for anything accepting TCP on 127.0.0.1:PORT
# (the emulator before its function is attached blocks every HTTP request).
wait_port() { _wait tcp "$@"; }

_wait() {
  python3 - "$@" <<'PY'
import http.client, socket, sys, time, urllib.error, urllib.request
mode, target, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
pid = sys.argv[4] if len(sys.argv) > 4 else ""
deadline = time.monotonic() + timeout

def dead():  # gone, or a zombie
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True

def answers(left):
    try:
        if mode == "tcp":
            socket.create_connection(("127.0.0.1", int(target)), timeout=1).close()
        else:
            urllib.request.urlopen(target, timeout=max(left, 1)).close()
        return True
    except urllib.error.HTTPError:
        return True
    except (OSError, http.client.HTTPException):
        return False

while True:
    left = deadline - time.monotonic()
    if left <= 0:
        sys.exit(f"error: {target} did not answer within {timeout:.0f}s")
    if pid and dead():
        sys.exit(f"error: the server for {target} exited (pid {pid}); see its log")
    if answers(left):
        sys.exit(0)
    time.sleep(0.2)
PY
}

# ---- servers ------------------------------------------------------------------------

# start_dynamodb [PORT]: moto's DynamoDB on 127.0.0.1 (a free port unless given), and the
# AWS_* variables the SDKs need to reach it. Dummy credentials: moto accepts any, and
# real ones must never be used against it.
# Plain moto_server loses updates under concurrent clients (seen: 499 of 500 concurrent
# ADDs); scripts/dynamodb_server.py, where present, is moto made safe for that.
start_dynamodb() {
  local port=${1:-$(free_port)} logfile="$LOCAL_DIR/$LOG_PREFIX-moto.log"
  local server=("$VENV/bin/moto_server" -H 127.0.0.1 -p "$port")
  if [[ -f $ROOT/scripts/dynamodb_server.py ]]; then
    server=("$VENV/bin/python" "$ROOT/scripts/dynamodb_server.py" --host 127.0.0.1 --port "$port")
  fi
  spawn "$logfile" "${server[@]}"
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
  # moto serves every service on the one port: the events path's EventBridge and SQS.
  export AWS_ENDPOINT_URL_EVENTBRIDGE="$AWS_ENDPOINT_URL_DYNAMODB" AWS_ENDPOINT_URL_SQS="$AWS_ENDPOINT_URL_DYNAMODB"
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
  export AWS_DEFAULT_REGION=us-east-1   # boto3 reads this one, not AWS_REGION
  unset AWS_SESSION_TOKEN AWS_PROFILE
  wait_http "$AWS_ENDPOINT_URL_DYNAMODB/" 30 "$SPAWNED_PID" || { tail -n 20 "$logfile" >&2; exit 1; }
}

# start_watch [PORT] [BINARY]: `cargo lambda watch` on 127.0.0.1:PORT (a free port if
# empty): the Lambda runtime emulator, which turns plain HTTP requests into HTTP API (v2)
# events, path and query preserved. Needs JOBS_TABLE_NAME, JOBS_JWT_SECRET and
# start_dynamodb's AWS_* variables. Exports JOBS_TEST_WATCH_URL and returns once the
# function itself has answered a request.
#  - Without BINARY the watch builds and runs the function itself (`cargo run`: dev
#    profile, no dev-dependencies) and rebuilds it on every change. A prior plain
#    `cargo build` makes that start at once.
#  - With BINARY (test.sh: target/debug/jobs-api from `cargo build --all-targets`) the
#    watch only serves the runtime API (--only-lambda-apis) and BINARY is run against it.
#    Nothing is rebuilt: `cargo run` would rebuild every crate whose features the
#    dev-dependencies change (hyper's "server" today, and with it the AWS SDK).
# --disable-cors: else the watch answers CORS preflights (OPTIONS) itself and adds CORS
# headers; the deployed HTTP API has no CORS config, so the function must see everything.
start_watch() {
  local port=${1:-} bin=${2:-} name
  [[ -n $port ]] || port=$(free_port)
  local log="$LOCAL_DIR/$LOG_PREFIX-watch.log" fnlog="$LOCAL_DIR/$LOG_PREFIX-function.log"
  local envfile="$LOCAL_DIR/$LOG_PREFIX-watch.env"
  for name in JOBS_TABLE_NAME JOBS_JWT_SECRET AWS_ENDPOINT_URL_DYNAMODB AWS_REGION \
              AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; do
    [[ -n ${!name:-} ]] || die "start_watch: $name is not set"
  done
  # The function's environment (it also inherits this shell's exported variables).
  local fn_env=(JOBS_JWT_ALGORITHM=HS256 "RUST_LOG=${RUST_LOG:-info}")
  for name in JOBS_TABLE_NAME JOBS_JWT_SECRET AWS_ENDPOINT_URL_DYNAMODB AWS_REGION \
              AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY JOBS_JOB_TYPES JOBS_ALLOWED_ORIGINS; do
    [[ -z ${!name:-} ]] || fn_env+=("$name=${!name}")
  done
  # PATH: cargo-lambda runs `cargo`, and `cargo lambda` must find the venv's cargo-lambda.
  local watch=(env "PATH=$VENV/bin:$PATH" "$VENV/bin/cargo-lambda" lambda watch
               --invoke-address 127.0.0.1 --invoke-port "$port" --disable-cors)
  local check_pid
  if [[ -z $bin ]]; then
    # --env-file, not --env-var: --env-var splits values on commas. In the file a value
    # holding '=' must be quoted, hence KEY='value'.
    (umask 077; : >"$envfile")
    for name in "${fn_env[@]}"; do
      [[ $name != *[\'$'\n']* ]] || die "start_watch: ${name%%=*} holds a quote or newline"
      printf "%s='%s'\n" "${name%%=*}" "${name#*=}" >>"$envfile"
    done
    spawn "$log" "${watch[@]}" --env-file "$envfile"
    check_pid=$SPAWNED_PID
  else
    [[ -x $bin ]] || die "start_watch: $bin is not built"
    spawn "$log" "${watch[@]}" --only-lambda-apis
    wait_port "$port" 30 "$SPAWNED_PID" || { tail -n 20 "$log" >&2; exit 1; }
    # The variables the emulator prints for --only-lambda-apis; memory as in template.yaml.
    spawn "$fnlog" env "${fn_env[@]}" AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$port/.rt" \
      AWS_LAMBDA_FUNCTION_NAME=_ AWS_LAMBDA_FUNCTION_VERSION=1 \
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 "$bin"
    check_pid=$SPAWNED_PID log=$fnlog
  fi
  export JOBS_TEST_WATCH_URL="http://127.0.0.1:$port"
  # Serving every binary of the package (jobs-api, jobs-events, jobs-sweep), the watch
  # has no default function: each answers plain HTTP under /lambda-url/NAME (the prefix
  # is cut from the path the function sees) and is invoked at
  # /2015-03-31/functions/NAME/invocations.
  [[ -n $bin ]] || JOBS_TEST_WATCH_URL+="/lambda-url/jobs-api"
  # GET /api/jobs/ is answered by the function (401 without a token): once it answers,
  # the function is built and running. The first request waits for the build, if any.
  wait_http "$JOBS_TEST_WATCH_URL/api/jobs/" "${WATCH_TIMEOUT:-900}" "$check_pid" \
    || { tail -n 30 "$log" >&2; exit 1; }
}
