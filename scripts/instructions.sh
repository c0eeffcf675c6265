#!/usr/bin/env bash
# The instruction gate (issue 26): each route's instructions per warm invocation, counted
# by callgrind (bench/profile.sh: exact, and the same however loaded the machine is),
# against the baseline committed in bench/instructions-baseline.json. Fails when a route
# costs more than 3 % above its baseline: a change that makes requests dearer must say so
# in its diff, by re-recording the baseline in the same change.
#   bash scripts/instructions.sh            # check (scripts/test.sh runs it)
#   bash scripts/instructions.sh --record   # measure and rewrite the baseline; commit it
# The build is `--profile gate` (Cargo.toml: release without LTO, 16 codegen units: a few
# minutes cheaper than the LTO release build, whose counts it tracks; docs/benchmarks.md).
# The baseline holds counts of that build only; a new rustc moves them, and the check
# says so next to a failure. Knobs: INSTRUCTIONS_TOLERANCE (percent, default 3),
# INSTRUCTIONS_LOW / INSTRUCTIONS_HIGH (warm invocations of the two runs, default 5 / 45).
# Needs valgrind (scripts/tools.sh --valgrind) and the debug bench_runtime and
# bench_null_dynamodb (built here if `cargo build --all-targets` has not).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

mode=check
case ${1:-} in
  "") ;;
  --record) mode=record ;;
  *) die "usage: scripts/instructions.sh [--record]" ;;
esac
command -v valgrind >/dev/null || die "valgrind is needed (bash scripts/tools.sh --valgrind)"

baseline="$ROOT/bench/instructions-baseline.json"
# A get (a job with a 20-error history), both forms of a report, a create and a list.
events="create-job get-job report-progress-increment report-progress-minimal list-jobs"
low=${INSTRUCTIONS_LOW:-5} high=${INSTRUCTIONS_HIGH:-45}
target="${CARGO_TARGET_DIR:-$ROOT/target}"

log "instructions: cargo build --profile gate --bin jobs-api"
cargo build --profile gate --bin jobs-api
# The runner and the null DynamoDB are not counted: the debug builds of the test run serve.
if [[ ! -x $target/debug/examples/bench_runtime || ! -x $target/debug/examples/bench_null_dynamodb ]]; then
  cargo build --example bench_runtime --example bench_null_dynamodb
fi

measured="$ROOT/bench/results/gate/measured.json"
mkdir -p "$(dirname "$measured")"
log "instructions: callgrind, $low and $high warm invocations of each route"
PROFILE_BINARY="$target/gate/jobs-api" PROFILE_EXAMPLES="$target/debug/examples" \
  PROFILE_FLOORS=0 PROFILE_OUT="$ROOT/bench/results/gate" PROFILE_JSON="$measured" \
  PROFILE_LOW=$low PROFILE_HIGH=$high bash bench/profile.sh $events >/dev/null

python3 - "$mode" "$baseline" "$measured" "${INSTRUCTIONS_TOLERANCE:-3}" "$low" "$high" <<'PY'
import json, subprocess, sys, time

mode, baseline_path, measured_path, tolerance, low, high = sys.argv[1:]
tolerance = float(tolerance)
measured = json.load(open(measured_path))
def out(*args):
    return subprocess.run(args, capture_output=True, text=True).stdout.strip()
build = {
    "profile": "gate",
    "rustc": out("rustc", "--version"),
    "valgrind": out("valgrind", "--version"),
    "git": out("git", "describe", "--always", "--dirty", "--abbrev=10"),
    "recorded": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    "invocations": f"{low} and {high} warm (the difference over {int(high) - int(low)})",
}
if mode == "record":
    json.dump({
        "about": "Instructions per warm invocation of each route (scripts/instructions.sh, "
                 "callgrind, the `gate` build, the null DynamoDB). scripts/test.sh fails when a "
                 "route grows more than the tolerance above this; re-record with "
                 "`bash scripts/instructions.sh --record` in the change that explains it.",
        "tolerance_percent": tolerance,
        "build": build,
        "routes": measured,
    }, open(baseline_path, "w"), indent=2)
    open(baseline_path, "a").write("\n")
    for route, n in measured.items():
        print(f"instructions: {route}: {n:,} recorded")
    print(f"instructions: baseline written to {baseline_path}; commit it")
    sys.exit(0)

try:
    baseline = json.load(open(baseline_path))
except FileNotFoundError:
    sys.exit(f"error: instructions: no {baseline_path}; record one: bash scripts/instructions.sh --record")
failures, lower = [], []
print("| route | baseline | now | change | within +{:g} %? |".format(tolerance))
print("|---|---|---|---|---|")
for route, now in measured.items():
    then = baseline["routes"].get(route)
    if then is None:
        failures.append(f"{route}: not in the baseline")
        print(f"| {route} | — | {now:,} | new | no baseline |")
        continue
    change = (now - then) / then * 100
    ok = change <= tolerance
    if not ok:
        failures.append(f"{route}: {then:,} -> {now:,} instructions ({change:+.1f} %)")
    if change < -tolerance:
        lower.append(route)
    print(f"| {route} | {then:,} | {now:,} | {change:+.1f} % | {'yes' if ok else '**NO**'} |")
if lower:
    print(f"instructions: cheaper than the baseline by more than {tolerance:g} %: "
          f"{', '.join(lower)}; re-record it to keep the gain: bash scripts/instructions.sh --record")
if failures:
    then = baseline.get("build", {})
    for key in ("rustc", "valgrind"):
        if then.get(key) != build[key]:
            print(f"note: baseline measured with {then.get(key)!r}, this run with {build[key]!r}: "
                  f"counts of another toolchain differ; re-record if that is the whole change")
    for failure in failures:
        print(f"FAIL instructions: {failure}", file=sys.stderr)
    print("error: instructions: a route got dearer than bench/instructions-baseline.json allows. "
          "Make it cheaper again, or, if the cost is wanted, re-record the baseline in this "
          "change (bash scripts/instructions.sh --record) and say why in its message.",
          file=sys.stderr)
    sys.exit(1)
print(f"instructions: every route within +{tolerance:g} % of bench/instructions-baseline.json "
      f"(recorded at {baseline.get('build', {}).get('git', '?')})")
PY
