#!/usr/bin/env python3
"""Cold-start A/B of bootstrap variants, against the null DynamoDB, interleaved.

    python3 bench/ab.py [--rounds 8] [--runs 5] NAME=PROGRAM[@KEY=VALUE,...] ...
    python3 bench/ab.py --warm 2000 [--events "create-job get-job ..."] NAME=PROGRAM ...

With --warm N, each round runs N warm invocations of each event (events/NAME.http-api.json,
the first one the create that makes the others' job) in one process per variant, and the
table is the function's CPU per invocation, median of the rounds, per event.

e.g. python3 bench/ab.py base=target/release/jobs-api \\
         certs=target/release/jobs-api@SSL_CERT_FILE=/tmp/amazon-roots.pem

Each round runs every variant --runs times, so a noisy neighbour slows all variants
alike instead of whichever happened to run during it. Needs the release examples
(scripts/bench.sh builds them). Starts its own null DynamoDB and stops it on exit.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "examples"
EVENT = ROOT / "events" / "create-job.http-api.json"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, p):
    ordered = sorted(values)
    return ordered[max(0, -(-p * len(ordered) // 100) - 1)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warm", type=int, default=0)
    parser.add_argument("--events", default="create-job get-job report-progress-increment report-progress-minimal")
    parser.add_argument("variants", nargs="+")
    opts = parser.parse_args()
    variants = []
    for spec in opts.variants:
        name, rest = spec.split("=", 1)
        program, _, env = rest.partition("@")
        variants.append((name, program, [e for e in env.split(",") if e]))

    two_cpus = (os.cpu_count() or 1) >= 2
    port = free_port()
    null = subprocess.Popen(
        [*(["taskset", "-c", "1"] if two_cpus else []), str(EXAMPLES / "bench_null_dynamodb"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    env = dict(os.environ, AWS_ENDPOINT_URL_DYNAMODB=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="test",
               AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1", RUST_LOG="info",
               JOBS_TABLE_NAME=os.environ.get("JOBS_TABLE_NAME", "bench-jobs"))
    results = {name: [] for name, _, _ in variants}
    try:
        time.sleep(0.3)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "run.json"
            for _ in range(opts.rounds):
                for name, program, extra in variants:
                    cmd = [str(EXAMPLES / "bench_runtime"), "--program", program, "--label", name,
                           "--out", str(out)]
                    if opts.warm:
                        cmd += ["--cold", "0", "--warm", str(opts.warm)]
                        for event in opts.events.split():
                            cmd += ["--event", str(ROOT / "events" / f"{event}.http-api.json")]
                    else:
                        cmd += ["--event", str(EVENT), "--cold", str(opts.runs)]
                    cmd += ["--cpu", "0", "--runner-cpu", "1"] if two_cpus else []
                    for e in extra:
                        cmd += ["--env", e]
                    subprocess.run(cmd, env=env, check=True)
                    run = json.loads(out.read_text())
                    if opts.warm:
                        results[name].append({w["name"]: w["cpu_ns"] / opts.warm / 1000
                                              for w in run["warm"] if "cpu_ns" in w})
                    else:
                        results[name] += run["cold"]
    finally:
        null.terminate()
        null.wait()

    if opts.warm:
        events = opts.events.split()
        print(f"function CPU µs per warm invocation, median of {opts.rounds} rounds of {opts.warm}")
        print(f"{'variant':<14} " + " ".join(f"{e:>26}" for e in events))
        for name, rounds in results.items():
            medians = [pct([r[e] for r in rounds if e in r] or [float("nan")], 50) for e in events]
            print(f"{name:<14} " + " ".join(f"{m:>26.1f}" for m in medians))
            print(f"{'  ÷ ' + events[0]:<14} " + " ".join(f"{m / medians[0]:>26.2f}" for m in medians))
        print(f"load average now: {open('/proc/loadavg').read().split()[:3]}", file=sys.stderr)
        return
    print(f"{'variant':<14} {'runs':>4} {'init p50':>9} {'init p90':>9} {'first p50':>10} {'first p90':>10} "
          f"{'CPU→1st p50':>12} {'RSS MB':>7}   (ms)")
    for name, rows in results.items():
        col = lambda k: [r[k] / 1000 for r in rows]  # noqa: E731
        rss = pct([r["peak_rss_kb"] for r in rows], 50) / 1024
        print(f"{name:<14} {len(rows):>4} {pct(col('init_us'), 50):>9.2f} {pct(col('init_us'), 90):>9.2f} "
              f"{pct(col('first_response_us'), 50):>10.2f} {pct(col('first_response_us'), 90):>10.2f} "
              f"{pct(col('first_response_cpu_us'), 50):>12.2f} {rss:>7.1f}")
    print(f"load average now: {open('/proc/loadavg').read().split()[:3]}", file=sys.stderr)


if __name__ == "__main__":
    main()
