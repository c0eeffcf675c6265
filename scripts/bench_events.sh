#!/usr/bin/env bash
# The events function's benchmark (issue 9): the release `jobs-events` bootstrap driven
# through the loopback Lambda Runtime API (examples/bench_runtime.rs) with a batch of 100
# stream records, against null endpoints (examples/bench_null_dynamodb.rs answers
# PutEvents at once), so the figures are the function's own cost. docs/benchmarks.md,
# "Events", says what each figure means and what the event path costs.
#   scripts/bench_events.sh                 # cold starts and warm batches
#   BENCH_COLD=20 BENCH_WARM=200 scripts/bench_events.sh
# Results: bench/results/events.json and a summary on stdout. Loopback only; what it
# starts is stopped on exit (lib.sh).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
COLD=${BENCH_COLD:-20}
WARM=${BENCH_WARM:-200}
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
RESULTS="$ROOT/bench/results"
mkdir -p "$RESULTS"

# The function as deployed (release, its own features); the runner and the null endpoint
# as the test build has them (their speed is not measured: the function's CPU is read
# from /proc).
log "cargo build --release --bin jobs-events"
cargo build --release --bin jobs-events
log "cargo build --example bench_runtime --example bench_null_dynamodb"
cargo build --example bench_runtime --example bench_null_dynamodb

# A batch of 100 records: 25 jobs, each created, started, reported (counts only) and
# completed: 75 transitions, 25 records that publish nothing; 9 PutEvents calls. Then
# batches of one record (a creation, a counts-only report): a quiet stream's invocations.
batch="$RESULTS/events-batch-100.json"
python3 - "$batch" <<'PY'
import copy, json, sys
base = json.load(open("events/stream-mixed-batch.json"))["Records"]
created = base[1]                  # INSERT of a pending job
done = base[2]                     # MODIFY in_progress -> completed
def job(record, jid, seq, status=None, processed=None, started=None):
    r = copy.deepcopy(record)
    for image in ("NewImage", "OldImage", "Keys"):
        img = r["dynamodb"].get(image)
        if not img:
            continue
        img["pk"]["S"] = img["pk"]["S"].rsplit("#", 1)[0] + "#" + jid
        if "job_id" in img:
            img["job_id"]["S"] = jid
    r["dynamodb"]["SequenceNumber"] = str(seq)
    return r
records, seq = [], 4300000000000000000000
for n in range(25):
    jid = f"01938f5e-2b1c-7a3e-9c41-{n:012x}"
    c = job(created, jid, seq); seq += 1
    s = job(done, jid, seq); seq += 1
    s["dynamodb"]["OldImage"] = copy.deepcopy(c["dynamodb"]["NewImage"])
    new = s["dynamodb"]["NewImage"]; new["status"]["S"] = "in_progress"; new["processed_items"]["N"] = "0"
    new.pop("completed_at", None)
    p = job(done, jid, seq); seq += 1
    p["dynamodb"]["OldImage"] = copy.deepcopy(new)
    pn = p["dynamodb"]["NewImage"]; pn["status"]["S"] = "in_progress"; pn["processed_items"]["N"] = "4"
    pn.pop("completed_at", None)
    f = job(done, jid, seq); seq += 1
    f["dynamodb"]["OldImage"] = copy.deepcopy(pn)
    records += [c, s, p, f]
json.dump({"Records": records}, open(sys.argv[1], "w"))
PY

port=$(free_port)
spawn "$LOCAL_DIR/bench-events-null.log" "$TARGET/debug/examples/bench_null_dynamodb" --port "$port"
wait_port "$port" 30 "$SPAWNED_PID"
null="http://127.0.0.1:$port"
cpu_args=()
if (($(nproc) >= 2)) && command -v taskset >/dev/null; then
  cpu_args=(--cpu 0 --runner-cpu 1)
  taskset -a -p -c 1 "$SPAWNED_PID" >/dev/null
fi
# What Lambda sets (dummy credentials: nothing here reaches AWS); the log level of template.yaml.
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench RUST_LOG=info
log "bench: $COLD cold starts, $WARM warm batches of 100 records"
AWS_ENDPOINT_URL_EVENTBRIDGE=$null AWS_ENDPOINT_URL_DYNAMODB=$null \
  "$TARGET/debug/examples/bench_runtime" --label jobs-events --program "$TARGET/release/jobs-events" \
  --event "$batch" --event events/stream-job-created.json --event events/stream-job-counts-only.json \
  --cold "$COLD" --warm "$WARM" --warmup 5 --out "$RESULTS/events.json" \
  --env JOBS_EVENT_BUS_NAME=bench --env "AWS_ENDPOINT_URL_EVENTBRIDGE=$null" "${cpu_args[@]}"
entries=$(curl -s "$null/put-events-count")

python3 - "$RESULTS/events.json" "$entries" "$COLD" "$WARM" <<'PY'
import json, statistics as st, sys
r = json.load(open(sys.argv[1])); entries = int(sys.argv[2]); cold_n, warm_n = int(sys.argv[3]), int(sys.argv[4])
cold, warm = r["cold"], r["warm"][0]
assert "error" not in warm, warm
assert all(c["status"] == 200 for c in cold) and warm["statuses"] == {"200": warm_n}, (cold, warm["statuses"])
batches = cold_n + 5 + warm_n
singles = {w["name"]: w for w in r["warm"][1:]}
for w in r["warm"]:
    assert "error" not in w and w["statuses"] == {"200": warm_n}, w
# 75 events per batch of 100, one per lone creation, none for a counts-only report.
expected = 75 * batches + (5 + warm_n)
assert entries == expected, f"{entries} PutEvents entries, {expected} expected"
q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(p * len(xs)))]
ms = lambda us: f"{us / 1000:.1f} ms"
init = [c["init_us"] for c in cold]; first = [c["first_response_us"] for c in cold]
init_cpu = [c["init_cpu_us"] for c in cold]; first_cpu = [c["first_response_cpu_us"] for c in cold]
lat = warm["latencies_us"]
print(f"binary: {r['program_bytes'] / 1e6:.1f} MB")
print(f"cold start (n={cold_n}): init p50 {ms(st.median(init))} p90 {ms(q(init, .9))}; first batch answered p50 {ms(st.median(first))} p90 {ms(q(first, .9))}")
print(f"cold CPU: init p50 {ms(st.median(init_cpu))}; to the first answer p50 {ms(st.median(first_cpu))}; peak RSS {max(c['peak_rss_kb'] for c in cold) / 1024:.1f} MiB")
print(f"warm batch of 100 records (n={warm_n}): latency p50 {ms(st.median(lat))} p90 {ms(q(lat, .9))} p99 {ms(q(lat, .99))}; CPU {warm['cpu_ns'] / warm_n / 1e6:.2f} ms per batch")
for name, w in singles.items():
    l = w["latencies_us"]
    print(f"warm batch of 1 record, {name} (n={warm_n}): latency p50 {ms(st.median(l))}; CPU {w['cpu_ns'] / warm_n / 1e6:.3f} ms")
print(f"PutEvents entries received: {entries} (75 per batch, in calls of at most 10)")
PY
