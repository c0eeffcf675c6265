#!/usr/bin/env python3
"""Turns the raw runs of scripts/bench.sh into the tables of docs/benchmarks.md.

    python3 bench/report.py RAW_DIR RESULTS_DIR [--docs docs/benchmarks.md]

Writes RESULTS_DIR/latest.md and RESULTS_DIR/latest.json and prints the markdown, then
the targets as PASS / FAIL lines. With --docs, replaces the parts of that file between
the bench:results markers (the tables) and the bench:summary markers (the short table at
its top: each route against its goal, issue 26). Standard library only: it runs with any
python3.
"""

import argparse
import json
import math
import os
import platform
import re
import subprocess
from pathlib import Path

from heat_model import item_size  # bench/ is on the path: this script's directory

# Prices used for the cost estimate (us-east-1).
WRU_PER_MILLION = 1.25  # on-demand write request units
RRU_PER_MILLION = 0.25  # on-demand read request units
LAMBDA_GB_SECOND_ARM = 0.0000133334
LAMBDA_REQUESTS_PER_MILLION = 0.20
# Lambda gives a function CPU in proportion to its memory, one vCPU at 1,769 MB.
MB_PER_VCPU = 1769
# Assumed in-region DynamoDB latency of one call, for the billed-duration estimate only.
ASSUMED_DYNAMODB_MS = 5.0

# Which bare-SDK operation is the floor of which event.
SDK_FLOOR = {"create-job": "put", "get-job": "get", "report-progress": "update",
             "report-progress-increment": "update", "report-progress-minimal": "update"}
# The capacity routes, the event that measures each, and how the tables name them. The
# full and the minimal report are the same report (an increment), answered either way.
ROUTES = {
    "create": ("create-job", "create"),
    "get": ("get-job", "get (a job with errors)"),
    "progress": ("report-progress-increment", "full report (an increment)"),
    "progress_minimal": ("report-progress-minimal", "minimal report (the same, `Prefer: return=minimal`)"),
    "progress_error": ("report-progress", "full report recording an error"),
}


def pct(values, p):
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def ms(us):
    return None if us is None else us / 1000


def fmt(value, digits=2, suffix=""):
    if value is None:
        return "–"
    return f"{value:.{digits}f}{suffix}"


def ratio(a, b):
    return None if a is None or not b else a / b


def load(raw, name):
    path = raw / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def load_runs(raw, name):
    """A program's runs: its warm run and its rounds of cold starts, merged."""
    run = load(raw, f"{name}.warm")
    cold = [row for path in sorted(raw.glob(f"{name}.cold*.json")) for row in json.loads(path.read_text())["cold"]]
    if run is None and not cold:
        return None
    run = run or json.loads(next(iter(sorted(raw.glob(f"{name}.cold*.json")))).read_text())
    return {**run, "cold": cold}


def memory_mb():
    text = Path("template.yaml").read_text() if Path("template.yaml").exists() else ""
    match = re.search(r"^\s*MemorySize:\s*(\d+)", text, re.M)
    return int(match.group(1)) if match else 256


def machine():
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
        platform.processor(),
    )
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "src"], capture_output=True, text=True).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "git": rev + (" + uncommitted src changes" if dirty else ""),
    }


# ---- DynamoDB capacity (item sizes: bench/heat_model.py) ---------------------------------


def index_writes(item, table, changed=None):
    """Write units the table's GSIs add to a write of `item`: one write per KB of index
    entry for each index whose keys the item has. With `changed` (the attribute names an
    update sets), only indexes whose keys or projection include one of them."""
    key_names = [k["AttributeName"] for k in table.get("KeySchema") or []]
    units = 0
    for gsi in table.get("GlobalSecondaryIndexes") or []:
        keys = [k["AttributeName"] for k in gsi["KeySchema"]]
        if not all(k in item for k in keys):
            continue
        projection = gsi.get("Projection", {})
        kind = projection.get("ProjectionType", "ALL")
        projected = list(item) if kind == "ALL" else projection.get("NonKeyAttributes", [])
        if changed is not None and not set(changed) & set(keys + projected):
            continue
        entry = {n: item[n] for n in {*keys, *key_names, *projected} if n in item}
        units += math.ceil(item_size(entry) / 1024)
    return units


def capacity(raw, sdk_moto):
    """Units per request of each route, from the requests the function really sent the
    null DynamoDB and the history page it answered (bench/results/raw/capture), and the
    table's indexes, by DynamoDB's published rules (1 KB per write unit, 4 KB per strongly
    consistent read unit, summed over a Query's items; transactional writes count double;
    `ReturnValues` costs no read)."""
    capture = raw / "capture"
    put = capture / "PutItem.json"
    if not put.exists():
        return None
    table_path = raw / "table.json"
    table = json.loads(table_path.read_text()) if table_path.exists() else {}
    job = json.loads(put.read_text())["Item"]
    size = item_size(job)
    read_job = math.ceil(size / 4096)
    # The job after a report: a few attributes more than when created.
    after = math.ceil((size + 64) / 1024)
    # The history page the null DynamoDB answers, as stored (a read is billed by the items'
    # whole size, whatever the projection).
    stored = capture / "history-page.json"
    page = json.loads(stored.read_text()) if stored.exists() else []
    page_bytes = sum(item_size(item) for item in page)
    history = math.ceil(page_bytes / 4096)
    query = f" + Query ({len(page)} recent errors)" if page else ""
    out = {
        "job_item_bytes": size,
        "history_page_items": len(page),
        "history_page_bytes": page_bytes,
        "gsis": [g["IndexName"] for g in table.get("GlobalSecondaryIndexes") or []],
        "create": {"wru": math.ceil(size / 1024) + index_writes(job, table), "rru": 0,
                   "calls": "PutItem"},
        # A strongly consistent GetItem; a job with errors (or warnings) adds a Query each.
        "get": {"wru": 0, "rru": read_job + history, "calls": "GetItem" + query},
        # One UpdateItem whose ALL_NEW answer is the job (no read unit), then the history.
        "progress": {"wru": after, "rru": history, "calls": "UpdateItem" + query},
        "progress_minimal": {"wru": after, "rru": 0, "calls": "UpdateItem"},
    }
    # The first report also moves the job in the by-status index: delete + put.
    status_index = any(k["KeySchema"][0]["AttributeName"] == "status_key"
                       for k in table.get("GlobalSecondaryIndexes") or [])
    for route in ("progress", "progress_minimal"):
        out[route]["first_report_extra_wru"] = 2 if status_index else 0
    tx = capture / "TransactWriteItems.json"
    if tx.exists():
        items = json.loads(tx.read_text())["TransactItems"]
        issue = next((i["Put"]["Item"] for i in items if "Put" in i), None)
        issue_size = item_size(issue) if issue else 0
        wru = 2 * after + (2 * math.ceil(issue_size / 1024) if issue else 0)
        # Then the job is read back (GetItem) with its most recent errors (Query).
        out["progress_error"] = {
            "wru": wru,
            "first_report_extra_wru": 2 if status_index else 0,
            "rru": read_job + history,
            "issue_item_bytes": issue_size,
            "calls": "TransactWriteItems [Update job, Put error] + GetItem" + query,
        }
        # The same report answered minimal: the job read back, no history.
        out["progress_minimal_with_error"] = {**out["progress_error"], "rru": read_job,
                                              "calls": "TransactWriteItems [Update job, Put error] + GetItem"}
    if sdk_moto:
        out["moto_reported"] = sdk_moto.get("consumed_capacity")
    return out


# ---- the tables -----------------------------------------------------------------------


def cold_stats(run):
    if not run or not run.get("cold"):
        return None
    rows = run["cold"]
    pick = lambda key: [r[key] for r in rows if r.get(key) is not None]  # noqa: E731
    return {
        "runs": len(rows),
        "init_ms_p50": ms(pct(pick("init_us"), 50)),
        "init_ms_p90": ms(pct(pick("init_us"), 90)),
        "first_ms_p50": ms(pct(pick("first_response_us"), 50)),
        "first_ms_p90": ms(pct(pick("first_response_us"), 90)),
        "init_cpu_ms_p50": ms(pct(pick("init_cpu_us"), 50)),
        "first_cpu_ms_p50": ms(pct(pick("first_response_cpu_us"), 50)),
        "rss_mb_p50": (pct(pick("peak_rss_kb"), 50) or 0) / 1024 or None,
    }


def warm_stats(latencies_us, n, wall_s, cpu_ns):
    return {
        "n": n,
        "p50_ms": ms(pct(latencies_us, 50)),
        "p99_ms": ms(pct(latencies_us, 99)),
        "per_s": n / wall_s if wall_s else None,
        "cpu_us": cpu_ns / n / 1000 if n else None,
    }


def warm_of(run):
    if not run:
        return {}
    return {
        w["name"]: {"error": w["error"]} if "error" in w else warm_stats(w["latencies_us"], w["n"], w["wall_s"], w["cpu_ns"])
        for w in run["warm"]
    }


def sdk_of(run):
    if not run:
        return {}
    return {op: warm_stats(o["latencies_us"], o["n"], o["wall_s"], o["cpu_ns"]) for op, o in run["ops"].items()}


def build(raw):
    meta = json.loads((raw / "meta.json").read_text())
    noop = load_runs(raw, "floor_noop")
    summary = {"meta": meta, "machine": machine(), "targets": {}}
    for target in ("null", "moto"):
        function, floor, floor_update = (load_runs(raw, f"{n}.{target}") for n in ("function", "floor_sdk", "floor_update"))
        sdk = load(raw, f"sdk_loop.{target}")
        summary["targets"][target] = {
            "cold": {
                "function": cold_stats(function),
                "function_verify": cold_stats(load_runs(raw, f"function_verify.{target}")),
                "floor_sdk": cold_stats(floor),
                "floor_noop": cold_stats(noop),
            },
            "warm": {
                "function": warm_of(function),
                "floor_sdk": warm_of(floor),
                "floor_update": warm_of(floor_update),
                "floor_noop": warm_of(noop),
                "sdk": sdk_of(sdk),
            },
            "peak_rss_mb": {
                "function": (function or {}).get("warm_peak_rss_kb", 0) / 1024 if function else None,
                "floor_sdk": (floor or {}).get("warm_peak_rss_kb", 0) / 1024 if floor else None,
                "floor_update": (floor_update or {}).get("warm_peak_rss_kb", 0) / 1024 if floor_update else None,
                "floor_noop": (noop or {}).get("warm_peak_rss_kb", 0) / 1024 if noop else None,
                "sdk_loop": (sdk or {}).get("peak_rss_kb", 0) / 1024 if sdk else None,
            },
            "skipped": (function or {}).get("skipped", []),
        }
    summary["sizes"] = sizes(raw, load_runs(raw, "function.null"), load_runs(raw, "floor_sdk.null"), noop)
    summary["capacity"] = capacity(raw, load(raw, "sdk_loop.moto"))
    summary["cost"] = cost(summary)
    # Instructions per warm invocation (bench/profile.sh, callgrind), when valgrind was there.
    summary["instructions"] = load(raw, "instructions")
    summary["goals"] = goals(summary)
    return summary


def sizes(raw, function, floor, noop):
    out = {
        "bootstrap_bytes": function and function["program_bytes"],
        "floor_sdk_bytes": floor and floor["program_bytes"],
        "floor_noop_bytes": noop and noop["program_bytes"],
        "native_zip_bytes": (raw / "zip/native.zip").stat().st_size if (raw / "zip/native.zip").exists() else None,
        "arm64_zip_bytes": None,
        "arm64_bootstrap_bytes": None,
    }
    arm = raw / "lambda" / "jobs-api" / "bootstrap.zip"
    if arm.exists():
        out["arm64_zip_bytes"] = arm.stat().st_size
        target = Path(os.environ.get("CARGO_TARGET_DIR", "target"))
        binary = target / "aarch64-unknown-linux-gnu/release/jobs-api"
        out["arm64_bootstrap_bytes"] = binary.stat().st_size if binary.exists() else None
    return out


def cost(summary):
    """Dollars per million calls of each route: DynamoDB units, Lambda requests, and Lambda
    compute billed for the function's own CPU (measured against the null DynamoDB, slowed
    to the share of a vCPU its memory buys) plus an assumed round trip per DynamoDB call,
    rounded up to a whole millisecond."""
    cap = summary["capacity"]
    warm = summary["targets"]["null"]["warm"]["function"]
    if not cap:
        return None
    mem = memory_mb()
    routes = {}
    for route, (event, _) in ROUTES.items():
        measured = warm.get(event)
        if route not in cap or not measured or "error" in measured:
            continue
        calls = cap[route]["calls"].count("+") + 1
        cpu_ms_lambda = measured["cpu_us"] / 1000 * MB_PER_VCPU / mem
        billed_ms = math.ceil(cpu_ms_lambda + calls * ASSUMED_DYNAMODB_MS)
        dynamodb = cap[route]["wru"] * WRU_PER_MILLION + cap[route]["rru"] * RRU_PER_MILLION
        compute = 1e6 * billed_ms / 1000 * mem / 1024 * LAMBDA_GB_SECOND_ARM
        routes[route] = {
            "cpu_us": measured["cpu_us"],
            "cpu_ms_at_memory": cpu_ms_lambda,
            "billed_ms": billed_ms,
            "dynamodb": dynamodb,
            "lambda_requests": LAMBDA_REQUESTS_PER_MILLION,
            "lambda_compute": compute,
            "total": dynamodb + LAMBDA_REQUESTS_PER_MILLION + compute,
        }
    return {"memory_mb": mem, "assumed_dynamodb_ms": ASSUMED_DYNAMODB_MS, "per_million": routes}


def markdown(s):
    m, meta = s["machine"], s["meta"]
    lines = [
        f"Command `{meta['command'].strip()}`, {meta['started']}; git {m['git']}.",
        f"Machine: {m['nproc']} CPUs, {m['cpu']}, Linux {m['kernel']}; load average "
        f"{' '.join(meta['loadavg_start'])} at start, {' '.join(meta.get('loadavg_end', ['?']))} at end.",
        "",
    ]
    for target, t in s["targets"].items():
        name = {"null": "null DynamoDB (the function's own cost)", "moto": "moto (local DynamoDB)"}[target]
        c = t["cold"]
        lines += [
            f"#### Cold start against {name}",
            "",
            "| program | runs | init p50 / p90 ms | first response p50 / p90 ms | CPU to first response ms | peak RSS MB |",
            "|---|---|---|---|---|---|",
        ]
        for label, key in (
            ("jobs-api", "function"),
            ("jobs-api, tokens verified in the function (JWKS unreachable: nothing fetched)", "function_verify"),
            ("floor: SDK PutItem", "floor_sdk"),
            ("floor: no AWS", "floor_noop"),
        ):
            r = c.get(key)
            if r:
                lines.append(
                    f"| {label} | {r['runs']} | {fmt(r['init_ms_p50'])} / {fmt(r['init_ms_p90'])} | "
                    f"{fmt(r['first_ms_p50'])} / {fmt(r['first_ms_p90'])} | {fmt(r['first_cpu_ms_p50'])} | {fmt(r['rss_mb_p50'], 1)} |"
                )
        f, fl, no = c["function"], c["floor_sdk"], c["floor_noop"]
        if f and fl and no:
            lines += [
                "",
                f"jobs-api first response: {fmt(ratio(f['first_ms_p50'], fl['first_ms_p50']))}× the SDK floor, "
                f"{fmt(f['first_ms_p50'] - no['first_ms_p50'])} ms above the no-AWS floor "
                f"(init alone: {fmt(ratio(f['init_ms_p50'], fl['init_ms_p50']))}×, "
                f"{fmt(f['init_ms_p50'] - no['init_ms_p50'])} ms above). In CPU time, which other work on the "
                f"machine barely moves: {fmt(f['first_cpu_ms_p50'])} ms against {fmt(fl['first_cpu_ms_p50'])} (SDK floor) "
                f"and {fmt(no['first_cpu_ms_p50'])} (no-AWS floor).",
            ]
        w = t["warm"]
        lines += [
            "",
            f"#### Warm invocations against {name}",
            "",
            "| event | n | p50 ms | p99 ms | invocations/s | function CPU µs/inv | floor (bare SDK) p50 / p99 ms | p50 ratio to floor |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for event, r in w["function"].items():
            if "error" in r:
                lines.append(f"| {event} | failed: {r['error'].splitlines()[0][:200]} | | | | | | |")
                continue
            floor = w["sdk"].get(SDK_FLOOR.get(event, ""))
            lines.append(
                f"| {event} | {r['n']} | {fmt(r['p50_ms'], 3)} | {fmt(r['p99_ms'], 3)} | {fmt(r['per_s'], 0)} | "
                f"{fmt(r['cpu_us'], 0)} | {fmt(floor and floor['p50_ms'], 3)} / {fmt(floor and floor['p99_ms'], 3)} | "
                f"{fmt(ratio(r['p50_ms'], floor and floor['p50_ms']))}× |"
            )
        for label, key, event in (("floor: SDK PutItem Lambda", "floor_sdk", "create-job"),
                                  ("floor: SDK UpdateItem Lambda", "floor_update", "report-progress-minimal"),
                                  ("floor: no-AWS Lambda", "floor_noop", "create-job")):
            r = w[key].get(event)
            if r and "error" in r:
                lines.append(f"| {label} | failed: {r['error'].splitlines()[0][:200]} | | | | | | |")
            elif r:
                lines.append(
                    f"| {label} | {r['n']} | {fmt(r['p50_ms'], 3)} | {fmt(r['p99_ms'], 3)} | {fmt(r['per_s'], 0)} | "
                    f"{fmt(r['cpu_us'], 0)} | | |"
                )
        for op, r in w["sdk"].items():
            lines.append(
                f"| bare SDK {op} (no Lambda) | {r['n']} | {fmt(r['p50_ms'], 3)} | {fmt(r['p99_ms'], 3)} | "
                f"{fmt(r['per_s'], 0)} | {fmt(r['cpu_us'], 0)} | | |"
            )
        lines += reports_against_targets(w)
        rss = t["peak_rss_mb"]
        lines += [
            "",
            "Peak RSS after the warm run (VmHWM): "
            + ", ".join(f"{k} {fmt(v, 1)} MB" for k, v in rss.items() if v),
        ]
        if t["skipped"]:
            lines.append(f"Skipped (event file not there yet): {', '.join(t['skipped'])}.")
        lines.append("")

    z = s["sizes"]
    mb = lambda b: fmt(b and b / 1e6, 2, " MB")  # noqa: E731
    lines += [
        "#### Size",
        "",
        f"- `target/release/jobs-api` (x86_64, the binary benchmarked): {mb(z['bootstrap_bytes'])}; "
        f"zipped as `bootstrap`: {mb(z['native_zip_bytes'])}",
        f"- floors: SDK PutItem {mb(z['floor_sdk_bytes'])}, no AWS {mb(z['floor_noop_bytes'])}",
    ]
    if z["arm64_zip_bytes"]:
        lines.append(
            f"- `cargo lambda build --release --arm64 --output-format zip`: bootstrap.zip {mb(z['arm64_zip_bytes'])} "
            f"(binary {mb(z['arm64_bootstrap_bytes'])})"
        )
    else:
        lines.append("- arm64 zip: not built in this run (see docs/benchmarks.md)")
    cap, cost_ = s["capacity"], s["cost"]
    if cap:
        lines += [
            "",
            "#### Capacity and cost",
            "",
            f"Job item as the function writes it: {cap['job_item_bytes']} bytes; table indexes: "
            f"{', '.join(cap['gsis']) or 'none'}. Units by DynamoDB's size rules, from the requests the "
            "function sent (moto's `ReturnConsumedCapacity` answers are fixed constants"
            + (f", {cap['moto_reported']}" if cap.get("moto_reported") else "")
            + ", not sizes):",
            "",
            "| route | DynamoDB calls | write units | read units | function CPU µs | billed ms | "
            "DynamoDB $/M | Lambda $/M | **total $ per million** |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        priced = (cost_ or {}).get("per_million", {})
        for route, (_, label) in ROUTES.items():
            if route not in cap:
                continue
            c, p = cap[route], priced.get(route)
            extra = f" (+{c['first_report_extra_wru']} on the first report)" if c.get("first_report_extra_wru") else ""
            lambda_dollars = p and p["lambda_requests"] + p["lambda_compute"]
            lines.append(
                f"| {label} | {c['calls']} | {c['wru']}{extra} | {c['rru']} | {fmt(p and p['cpu_us'], 0)} | "
                f"{p['billed_ms'] if p else '–'} | {fmt(p and p['dynamodb'])} | {fmt(lambda_dollars, 3)} | "
                f"**{fmt(p and p['total'])}** |"
            )
        lines += [
            "",
            f"History page read by get and by a full report: {cap['history_page_items']} items, "
            f"{cap['history_page_bytes']} bytes. A minimal report that records an error is "
            + (f"{cap['progress_minimal_with_error']['calls']}: {cap['progress_minimal_with_error']['wru']} write "
               f"and {cap['progress_minimal_with_error']['rru']} read units." if "progress_minimal_with_error" in cap
               else "not measured in this run."),
        ]
    if cost_:
        lines += [
            "",
            f"$ per million calls, on-demand DynamoDB + Lambda arm64 at {cost_['memory_mb']} MB: Lambda bills the "
            f"function's CPU on this machine scaled to {cost_['memory_mb']}/{MB_PER_VCPU} of a vCPU, plus "
            f"{cost_['assumed_dynamodb_ms']:.0f} ms assumed per DynamoDB call, rounded up to a millisecond, "
            f"and ${LAMBDA_REQUESTS_PER_MILLION:.2f} per million requests.",
        ]
    return "\n".join(lines) + "\n"


def reports_against_targets(warm):
    """The issue-16 targets, read off one warm run: a minimal report within 1.2x the CPU of
    the Lambda+UpdateItem floor, a full report within 2x a create's CPU."""
    function = warm["function"]
    cpu = lambda runs, event: (runs.get(event) or {}).get("cpu_us")  # noqa: E731
    minimal, full, create = (cpu(function, e) for e in ("report-progress-minimal", "report-progress-increment", "create-job"))
    floor = cpu(warm["floor_update"], "report-progress-minimal")
    if not (minimal and floor) and not (full and create):
        return []
    parts = []
    if minimal and floor:
        parts.append(f"minimal report {fmt(minimal, 0)} µs of CPU = **{fmt(ratio(minimal, floor))}×** the "
                     f"Lambda+UpdateItem floor ({fmt(floor, 0)} µs; target ≤ 1.2×)")
    if full and create:
        parts.append(f"the same report answered in full, with a 20-item history, {fmt(full, 0)} µs = "
                     f"**{fmt(ratio(full, create))}×** a create "
                     f"({fmt(create, 0)} µs; target ≤ 2×)")
    return ["", "Reports: " + "; ".join(parts) + "."]


# ---- the goals (issues 5, 16, 26) ---------------------------------------------------------

# The cold start: CPU to the first response within this much of the no-AWS floor's, and
# peak RSS at most this, for each binary measured.
COLD_CPU_ABOVE_NOOP_MS = 1.0
PEAK_RSS_MB = 10.0
# Warm, in instructions (exact): a create and a minimal report against their Lambda
# floors, a full report against a create.
CREATE_OVER_PUT_FLOOR = 1.10
MINIMAL_OVER_UPDATE_FLOOR = 1.20
FULL_OVER_CREATE = 2.0


def goals(s):
    """Every goal with its figure: [{"name", "figure", "goal", "met"}] (met None: not
    measured in this run)."""
    out = []
    null = s["targets"]["null"]
    noop = (null["cold"].get("floor_noop") or {}).get("first_cpu_ms_p50")
    for label, key in (("jobs-api", "function"), ("jobs-api, tokens verified in the function", "function_verify")):
        cold = null["cold"].get(key)
        if not cold:
            continue
        cpu = cold["first_cpu_ms_p50"]
        out.append({
            "name": f"{label}: cold start, CPU to the first response",
            "figure": f"{fmt(cpu)} ms, {fmt(cpu - noop if cpu and noop else None)} ms above the no-AWS floor ({fmt(noop)} ms)",
            "goal": f"within {COLD_CPU_ABOVE_NOOP_MS:g} ms of the no-AWS floor",
            "met": None if cpu is None or noop is None else cpu - noop <= COLD_CPU_ABOVE_NOOP_MS,
        })
        rss = [cold.get("rss_mb_p50")]
        if key == "function":
            rss.append(null["peak_rss_mb"].get("function"))
        rss = [r for r in rss if r]
        out.append({
            "name": f"{label}: peak RSS" + (" (cold start, and after the warm run)" if len(rss) > 1 else " (cold start)"),
            "figure": " / ".join(f"{fmt(r, 1)} MB" for r in rss) or "–",
            "goal": f"≤ {PEAK_RSS_MB:g} MB",
            "met": max(rss) <= PEAK_RSS_MB if rss else None,
        })
    n = s.get("instructions") or {}
    for name, event, floor, factor, floor_label in (
        ("create", "create-job", "floor_sdk", CREATE_OVER_PUT_FLOOR, "the PutItem Lambda floor"),
        ("minimal report", "report-progress-minimal", "floor_update", MINIMAL_OVER_UPDATE_FLOOR, "the UpdateItem Lambda floor"),
        ("full report", "report-progress-increment", "create-job", FULL_OVER_CREATE, "a create"),
    ):
        a, b = n.get(event), n.get(floor)
        out.append({
            "name": f"{name}: instructions",
            "figure": f"{a:,} = {a / b:.2f}× {floor_label} ({b:,})" if a and b else "not measured (valgrind missing?)",
            "goal": f"≤ {factor:.2f}× {floor_label}",
            "met": a / b <= factor if a and b else None,
            "ratio": f"{a / b:.2f}×" if a and b else None,
        })
    return out


def target_lines(s):
    verdict = {True: "PASS", False: "FAIL", None: "SKIP"}
    return [f"{verdict[t['met']]} {t['name']}: {t['figure']} (goal: {t['goal']})" for t in s["goals"]]


def summary_table(s):
    """The short table at the top of docs/benchmarks.md: each route's instructions, CPU,
    units and cost, with its goal and whether it is met; then the cold start's."""
    m, meta = s["machine"], s["meta"]
    n = s.get("instructions") or {}
    warm = s["targets"]["null"]["warm"]["function"]
    cap, priced = s["capacity"] or {}, (s["cost"] or {}).get("per_million", {})
    goals = {t["name"].split(":")[0]: t for t in s["goals"] if t["name"].endswith(": instructions")}
    yes = {True: "**yes**", False: "**no**", None: "–"}
    lines = [
        f"`scripts/bench.sh`, {meta['started']}, git {m['git']} ({m['nproc']} CPUs, load "
        f"{' '.join(meta['loadavg_start'])}). Instructions: callgrind, per warm invocation "
        "(exact); CPU: the function's, per warm invocation against the null DynamoDB; units "
        "and $ per million: [Capacity and cost](#capacity-and-cost).",
        "",
        "| route | instructions | CPU µs | write / read units | $ per million | goal | met? |",
        "|---|---|---|---|---|---|---|",
    ]
    for route, (event, label) in ROUTES.items():
        short = {"create": "create", "progress": "full report", "progress_minimal": "minimal report"}.get(route)
        goal = goals.get(short)
        c, p, w = cap.get(route), priced.get(route), warm.get(event) or {}
        units = f"{c['wru']} / {c['rru']}" if c else "–"
        count = f"{n[event]:,}" if event in n else "–"
        lines.append(
            f"| {label.split(' (')[0]} | {count} | {fmt(w.get('cpu_us'), 0)} | {units} | {fmt(p and p['total'])} | "
            f"{goal['goal'] if goal else '—'} | "
            f"{yes[goal['met']] + (' (' + goal['ratio'] + ')' if goal.get('ratio') else '') if goal else '—'} |"
        )
    for floor, label in (("floor_sdk", "floor: PutItem Lambda"), ("floor_update", "floor: UpdateItem Lambda")):
        if floor in n:
            lines.append(f"| {label} | {n[floor]:,} | | | | | |")
    lines += ["", "| start-up | figure | goal | met? |", "|---|---|---|---|"]
    for t in s["goals"]:
        if not t["name"].endswith(": instructions"):
            lines.append(f"| {t['name']} | {t['figure']} | {t['goal']} | {yes[t['met']]} |")
    return "\n".join(lines) + "\n"


BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
SUMMARY_BEGIN, SUMMARY_END = "<!-- bench:summary:begin -->", "<!-- bench:summary:end -->"


def replace_between(doc, begin, end, text, path):
    if begin not in doc or end not in doc:
        raise SystemExit(f"{path}: no {begin} ... {end} markers")
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{text}{end}{tail}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("raw", type=Path)
    parser.add_argument("results", type=Path)
    parser.add_argument("--docs", type=Path)
    opts = parser.parse_args()
    summary = build(opts.raw)
    text = markdown(summary)
    (opts.results / "latest.json").write_text(json.dumps(summary, indent=1) + "\n")
    (opts.results / "latest.md").write_text(text)
    (opts.results / "summary.md").write_text(summary_table(summary))
    print(text)
    print(summary_table(summary))
    print("\n".join(target_lines(summary)))
    if opts.docs:
        doc = opts.docs.read_text()
        doc = replace_between(doc, BEGIN, END, text, opts.docs)
        doc = replace_between(doc, SUMMARY_BEGIN, SUMMARY_END, summary_table(summary), opts.docs)
        opts.docs.write_text(doc)


if __name__ == "__main__":
    main()
