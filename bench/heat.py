#!/usr/bin/env python3
"""Partition heat (issue 8): replays named scenarios through the real function, at a
scaled-down rate, and extrapolates the write and read units per second that the
hottest partition key of the table and of each GSI would take at full scale.

    heat.py run --log PROXY_LOG --out heat.json [--quick]     # needs the servers below
    heat.py report CURRENT.json [--baseline BASELINE.json] [--docs docs/benchmarks.md]

`run` needs what scripts/bench.sh starts: the function under `cargo lambda watch` at
JOBS_TEST_WATCH_URL (with JOBS_JWT_SECRET), its DynamoDB endpoint the capturing proxy
bench/heat_proxy.py (AWS_ENDPOINT_URL_DYNAMODB), which logs to PROXY_LOG what every
request cost on which partition, and JOBS_TABLE_NAME. Requests are sent one at a time,
so the proxy's lines between two answers belong to the API call in between: each call is
attributed to the sampled entity (a job, an organization) it acts for.

The table's keys and indexes come from DescribeTable; nothing here knows the key layout.
Ids (organizations, jobs, users, idempotency keys) are replaced by placeholders in the
keys reported. Standard library only; tokens are minted here and never printed.
"""

import argparse
import http.client
import json
import os
import secrets
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "scripts"))
import heat_model as model  # noqa: E402
from dev_token import mint  # noqa: E402
from heat_proxy import Upstream  # noqa: E402

WRITE_LIMIT, READ_LIMIT = 1000, 3000  # DynamoDB's per-partition caps, units per second

EXTRAPOLATION = (
    "Units observed on each partition key during a scenario's measured phase are divided "
    "by the operations replayed. A key touched by exactly one sampled entity (a job; an "
    "organization in (c)) is private to it and scales with that entity's own rate; a key "
    "touched by several is shared and scales with the whole population's rate "
    "(population / sample × the sample's rate). Figures are steady-state units per second "
    "on that one key."
)


class Api:
    """The function over HTTP, one request at a time, each charged to an entity."""

    def __init__(self, url, secret, log_path):
        parsed = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        self.secret = secret
        self.tokens = {}
        self.log = open(log_path)
        self.log.seek(0, os.SEEK_END)  # only what this run causes
        self.requests = 0

    def token(self, org, user):
        if (org, user) not in self.tokens:
            claims = {"sub": user, "organizations": [org], "iat": int(time.time()), "exp": int(time.time()) + 7200}
            self.tokens[org, user] = mint(self.secret, claims)
        return self.tokens[org, user]

    def call(self, method, path, org, user, body=None, headers=None):
        """(status, JSON answer, [Charge] the call caused)."""
        head = {"Authorization": f"Bearer {self.token(org, user)}", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            head["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=head)
        response = self.conn.getresponse()
        answer = response.read()
        self.requests += 1
        charges = []
        # The proxy writes a request's line before answering it, and the function answers
        # only after its last DynamoDB call: every line of this call is there now.
        for line in self.log.readlines():
            charges += [model.Charge(**c) for c in json.loads(line)["charges"]]
        if response.status >= 300:
            raise SystemExit(f"heat.py: {method} {path} answered {response.status}: {answer[:300]!r}")
        return json.loads(answer or b"null"), charges

    def create(self, org, user, headers=None):
        job, charges = self.call(
            "POST", "/api/jobs/", org, user,
            {"job_type": "import", "total_items": 1000, "metadata": {"source": "s3://bucket/batch.csv"}},
            headers,
        )
        return job["job_id"], charges

    def report(self, org, user, job_id, body):
        return self.call("POST", f"/api/jobs/{job_id}/progress", org, user, body)[1]


def new_id(prefix):
    return f"{prefix}-{secrets.token_hex(4)}"


# ---- the scenarios ----------------------------------------------------------------------
# Each returns the measured calls [(entity, [Charge])] and the ids to hide in key names.


def running_jobs(api, org, user, count):
    """Setup, not measured: `count` jobs of `org`, each marked started."""
    ids = [api.create(org, user)[0] for _ in range(count)]
    for job_id in ids:
        api.report(org, user, job_id, {"mark_started": True})
    return ids


def one_org_reporting(api, state, jobs, rounds):
    """(a) one organization, `jobs` running jobs, `rounds` progress reports each."""
    org, user = new_id("heat-org"), "heat-user"
    ids = running_jobs(api, org, user, jobs)
    state["a"] = org, user, ids
    calls = [
        (job_id, api.report(org, user, job_id, {"processed_items_increment": 10}))
        for _ in range(rounds)
        for job_id in ids
    ]
    return calls, {"{org}": [org], "{user}": [user], "{job}": ids}


def one_org_polling(api, state):
    """(a-poll) the jobs of (a), each polled once (GET /status)."""
    org, user, ids = state["a"]
    calls = [(job_id, api.call("GET", f"/api/jobs/{job_id}/status", org, user)[1]) for job_id in ids]
    return calls, {"{org}": [org], "{user}": [user], "{job}": ids}


def bulk_import(api, state, jobs):
    """(b) one organization creating `jobs` jobs, each with its own Idempotency-Key (an
    import retries safely)."""
    org, user = new_id("heat-org"), "heat-user"
    calls, ids, keys = [], [], []
    for i in range(jobs):
        key = f"import-{secrets.token_hex(6)}-{i}"
        job_id, charges = api.create(org, user, {"Idempotency-Key": key})
        calls.append((job_id, charges))
        ids.append(job_id)
        keys.append(key)
    return calls, {"{org}": [org], "{user}": [user], "{job}": ids, "{key}": keys}


def many_orgs(api, state, orgs, jobs_per_org):
    """(c) `orgs` organizations with `jobs_per_org` running jobs each, then one progress
    report per job; the entity is the organization."""
    names, users, ids, jobs = [], [], [], []
    for _ in range(orgs):
        org, user = new_id("heat-org"), new_id("heat-user")
        names.append(org)
        users.append(user)
        for job_id in running_jobs(api, org, user, jobs_per_org):
            ids.append(job_id)
            jobs.append((org, user, job_id))
    calls = [(org, api.report(org, user, job_id, {"processed_items_increment": 10})) for org, user, job_id in jobs]
    return calls, {"{org}": names, "{user}": users, "{job}": ids}


def scenarios(quick):
    """(name, title, driver, sample, entity rate/s, population rate/s, how it scales).
    Samples are sized for moto behind the proxy (~2,000 requests, tens of ms each); the
    extrapolation does not depend on the sample size beyond the note in the docs."""
    k, rounds, n, orgs = (20, 2, 40, 5) if quick else (200, 2, 400, 20)
    return [
        ("a", "one organization, 5,000 running jobs, each reported every second",
         lambda api, st: one_org_reporting(api, st, k, rounds),
         f"{k} running jobs × {rounds} progress reports (`processed_items_increment`)", 1, 5000,
         "entity = a job, 1 report/s; population 5,000 reports/s"),
        ("a-poll", "the same 5,000 jobs, each one's status polled every second",
         lambda api, st: one_org_polling(api, st),
         f"the {k} jobs of (a) × 1 `GET /status`", 1, 5000, "entity = a job, 1 poll/s; population 5,000 polls/s"),
        ("b", "one organization creating 2,000 jobs per second (bulk import, an Idempotency-Key on each)",
         lambda api, st: bulk_import(api, st, n),
         f"{n} creates", 1, 2000, "entity = a job, created once; population 2,000 creates/s"),
        ("c", "10,000 organizations with 10 running jobs each, each job reported every 10 s",
         lambda api, st: many_orgs(api, st, orgs, 10),
         f"{orgs} organizations × 10 running jobs × 1 report", 1, 10000,
         "entity = an organization: 10 jobs × 0.1 report/s = 1 report/s; population 10,000 reports/s"),
    ]


def hide_ids(key, ids):
    for placeholder, values in ids.items():
        for value in values:
            if value in key:
                key = key.replace(value, placeholder)
    return key


def run(opts):
    url = os.environ["JOBS_TEST_WATCH_URL"]
    secret = os.environ["JOBS_JWT_SECRET"]
    table_name = os.environ["JOBS_TABLE_NAME"]
    endpoint = os.environ["AWS_ENDPOINT_URL_DYNAMODB"]
    status, description = Upstream(endpoint, os.environ.get("AWS_REGION", "us-east-1")).call(
        "DescribeTable", {"TableName": table_name}
    )
    if status != 200:
        raise SystemExit(f"heat.py: DescribeTable {table_name}: {description}")
    schema = model.TableSchema.from_description(description["Table"])
    api = Api(url, secret, opts.log)
    out = {
        "git": opts.git or git_rev(),
        "measured": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "quick": bool(opts.quick),
        "table": {
            "keys": list(schema.keys),
            "indexes": [
                {"name": i.name, "keys": list(i.keys), "projection": i.projection, "non_key": list(i.non_key)}
                for i in schema.indexes
            ],
        },
        "extrapolation": EXTRAPOLATION,
        "scenarios": [],
    }
    started = time.monotonic()
    state = {}
    for name, title, drive, sample, entity_rate, population_rate, rates in scenarios(opts.quick):
        t0, r0 = time.monotonic(), api.requests
        calls, ids = drive(api, state)
        heat = model.extrapolate(calls, entity_rate, population_rate)
        targets = []
        for target, peak in model.peaks(heat, [i.name for i in schema.indexes]).items():
            row = {"target": target or "table"}
            for kind, limit in (("wcu", WRITE_LIMIT), ("rcu", READ_LIMIT)):
                h = peak[kind]
                row[kind] = h and {
                    "per_s": round(h.wcu_per_s if kind == "wcu" else h.rcu_per_s, 2),
                    "key": hide_ids(h.key, ids),
                    "shared": h.shared,
                    "entities": h.entities,
                    "over": (h.wcu_per_s if kind == "wcu" else h.rcu_per_s) > limit,
                }
            targets.append(row)
        out["scenarios"].append({
            "name": name, "title": title, "sample": sample, "rates": rates,
            "measured_ops": len(calls), "requests": api.requests - r0,
            "seconds": round(time.monotonic() - t0, 1), "targets": targets,
        })
        print(f"heat: ({name}) {len(calls)} measured operations, {api.requests - r0} requests, "
              f"{time.monotonic() - t0:.1f} s", file=sys.stderr)
    out["seconds"] = round(time.monotonic() - started, 1)
    Path(opts.out).write_text(json.dumps(out, indent=1) + "\n")


def git_rev():
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "src", "template.yaml"], capture_output=True, text=True, cwd=HERE.parent).stdout.strip()
    return rev + (" + uncommitted changes" if dirty else "")


# ---- the report -------------------------------------------------------------------------


def cell(peak):
    if not peak:
        return "0", "–"
    flag = " **over**" if peak["over"] else ""
    share = f"shared by {peak['entities']}" if peak["shared"] else "private"
    return f"{peak['per_s']:,.1f}{flag}", f"`{peak['key']}` ({share})"


def table_of(result):
    lines = [
        "| scenario | table / index | peak WCU/s | on key | peak RCU/s | on key |",
        "|---|---|---|---|---|---|",
    ]
    for s in result["scenarios"]:
        for t in s["targets"]:
            w, wk = cell(t["wcu"])
            r, rk = cell(t["rcu"])
            lines.append(f"| ({s['name']}) | {t['target']} | {w} | {wk} | {r} | {rk} |")
    return lines


def summary_of(current, baseline):
    """One line per scenario: the hottest key anywhere, before and after."""
    def worst(result, name, kind):
        s = next((s for s in result["scenarios"] if s["name"] == name), None)
        peaks = [t[kind] for t in (s or {}).get("targets", []) if t[kind]]
        return max((p["per_s"] for p in peaks), default=0.0) if s else None

    lines = [
        "| scenario | before: max WCU/s / RCU/s on one key | after: max WCU/s / RCU/s on one key | within 1,000 / 3,000 after? |",
        "|---|---|---|---|",
    ]
    for s in current["scenarios"]:
        fmt = lambda v: "–" if v is None else f"{v:,.1f}"  # noqa: E731
        bw, br = (worst(baseline, s["name"], k) for k in ("wcu", "rcu")) if baseline else (None, None)
        aw, ar = worst(current, s["name"], "wcu"), worst(current, s["name"], "rcu")
        ok = "yes" if aw <= WRITE_LIMIT and ar <= READ_LIMIT else "**no**"
        lines.append(f"| ({s['name']}) {s['title']} | {fmt(bw)} / {fmt(br)} | {fmt(aw)} / {fmt(ar)} | {ok} |")
    return lines


def layout_of(result):
    idx = ", ".join(
        f"`{i['name']}` ({' + '.join(i['keys'])}, {i['projection']}{': ' + ', '.join(i['non_key']) if i['non_key'] else ''})"
        for i in result["table"]["indexes"]
    ) or "none"
    return f"table keys {' + '.join(result['table']['keys'])}; GSIs: {idx}"


def markdown(current, baseline):
    lines = [
        f"Scenarios replayed through the release function under `cargo lambda watch`, against moto "
        f"behind bench/heat_proxy.py; git {current['git']}, {current['measured']}"
        f"{' (BENCH_QUICK: small samples)' if current.get('quick') else ''}; "
        f"{current['seconds']} s. Limits: {WRITE_LIMIT:,} WCU/s and {READ_LIMIT:,} RCU/s per partition.",
        "",
        "| scenario | sample replayed | scaled to |",
        "|---|---|---|",
    ]
    lines += [f"| ({s['name']}) {s['title']} | {s['sample']} | {s['rates']} |" for s in current["scenarios"]]
    lines += ["", f"Extrapolation: {current['extrapolation']}", ""]
    if baseline:
        lines += [f"Before = git {baseline['git']}, after = git {current['git']}.", ""]
    lines += summary_of(current, baseline) + [""]
    if baseline:
        lines += [f"#### Before: git {baseline['git']} ({layout_of(baseline)})", ""] + table_of(baseline) + [""]
    lines += [f"#### This run: git {current['git']} ({layout_of(current)})", ""] + table_of(current)
    return "\n".join(lines) + "\n"


BEGIN, END = "<!-- bench:heat:begin -->", "<!-- bench:heat:end -->"


def report(opts):
    current = json.loads(Path(opts.current).read_text())
    baseline = json.loads(Path(opts.baseline).read_text()) if opts.baseline and Path(opts.baseline).exists() else None
    text = markdown(current, baseline)
    if opts.out:
        Path(opts.out).write_text(text)
    print(text)
    if opts.docs:
        doc = Path(opts.docs).read_text()
        if BEGIN not in doc or END not in doc:
            raise SystemExit(f"{opts.docs}: no {BEGIN} ... {END} markers")
        head, rest = doc.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        Path(opts.docs).write_text(f"{head}{BEGIN}\n{text}{END}{tail}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="drive the scenarios, write the figures as JSON")
    r.add_argument("--log", required=True, help="the proxy's log (JSON lines)")
    r.add_argument("--out", required=True)
    r.add_argument("--quick", action="store_true", help="small samples (BENCH_QUICK)")
    r.add_argument("--git", help="the revision measured (default: this checkout's)")
    p = sub.add_parser("report", help="render a run (and a baseline) as markdown")
    p.add_argument("current")
    p.add_argument("--baseline")
    p.add_argument("--out", help="also write the markdown here")
    p.add_argument("--docs", help="replace the bench:heat section of this file")
    opts = parser.parse_args()
    run(opts) if opts.command == "run" else report(opts)


if __name__ == "__main__":
    main()
