"""The metrics the code emits, the alarms and dashboard that watch them, and the lines
a running function wrote: three places that must agree, checked here.

  template   every JobsApi metric an alarm or the dashboard names is one src/telemetry/metrics.rs
             emits (its METRICS list), with dimensions the code writes; every route an
             alarm names is a route of src/routes/router.rs; every API route has a latency alarm
  log FILE   the function's log (scripts/test.sh's run): every request line is valid
             CloudWatch EMF, with the documented names and dimensions, and the requests
             of a whole test run produced every metric at least once

Usage: python scripts/check_metrics.py template | log FILE  (exit status 1 on failure)
"""

import json
import os
import re
import sys

from cfnlint.decode import decode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIMENSIONS = {"route", "status_class", "job_type", "final_status"}
STATUS_CLASSES = {"1xx", "2xx", "3xx", "4xx", "5xx"}


def source(path):
    with open(os.path.join(ROOT, path)) as f:
        return f.read()


def code_metrics():
    text = source("src/telemetry/metrics.rs")
    namespace = re.search(r'pub const NAMESPACE: &str = "(\w+)";', text).group(1)
    table = re.search(r"pub const METRICS: &\[\(&str, &str\)\] = &\[(.*?)\];", text, re.S)
    metrics = dict(re.findall(r'\("(\w+)", "(\w+)"\)', table.group(1)))
    return namespace, metrics


def code_routes():
    body = source("src/routes/router.rs").split("pub fn name(&self)", 1)[1].split("\n    }\n", 1)[0]
    return set(re.findall(r'=> "([^"]+)"', body))


def walk(node):
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def check_template(failures):
    namespace, metrics = code_metrics()
    routes = code_routes()
    template, matches = decode(os.path.join(ROOT, "template.yaml"))
    if matches:
        failures.append(f"template.yaml does not parse: {matches}")
        return
    alarmed_routes = set()
    for name, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::CloudWatch::Alarm":
            continue
        for node in walk(resource["Properties"]):
            if node.get("Namespace") != namespace:
                continue
            metric = node.get("MetricName")
            if metric not in metrics:
                failures.append(f"{name}: {namespace} metric {metric!r} is not emitted by the code")
            for dimension in node.get("Dimensions", []):
                key, value = dimension["Name"], dimension["Value"]
                if key not in DIMENSIONS:
                    failures.append(f"{name}: dimension {key!r} is not one the code writes")
                if key == "route":
                    alarmed_routes.add(value)
                    if value not in routes:
                        failures.append(f"{name}: route {value!r} is not a route of src/routes/router.rs")
                if key == "status_class" and value not in STATUS_CLASSES:
                    failures.append(f"{name}: status class {value!r}")
            unit = resource["Properties"].get("Unit")
            if unit and metric in metrics and unit != metrics[metric]:
                failures.append(f"{name}: unit {unit} but the code writes {metrics[metric]}")
    # The page's static files (`GET /`, `GET /app/{file}`) answer from memory: no alarm.
    api_routes = {route for route in routes if " /api/" in route}
    for route in sorted(api_routes - alarmed_routes):
        failures.append(f"route {route!r} has no latency alarm")
    dashboards = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"]
    for dashboard in dashboards:
        body = dashboard["Properties"]["DashboardBody"]
        text = body["Fn::Sub"] if isinstance(body, dict) else body
        named = set(re.findall(r'MetricName=\\"(\w+)\\"', text))
        named |= set(re.findall(r'\[\s*"' + namespace + r'",\s*"(\w+)"', text))
        for metric in sorted(named - set(metrics)):
            failures.append(f"dashboard: {namespace} metric {metric!r} is not emitted by the code")
        for metric in sorted(set(metrics) - named):
            failures.append(f"dashboard: metric {metric!r} is shown nowhere")
    print(f"check_metrics: {len(metrics)} metrics, {len(routes)} routes, alarms and dashboard agree"
          if not failures else "check_metrics: template disagrees with the code")


def check_log(path, failures):
    namespace, metrics = code_metrics()
    routes = code_routes() | {"unmatched"}
    seen, lines = set(), 0
    with open(path, errors="replace") as f:
        for number, raw in enumerate(f, 1):
            raw = raw.strip()
            if '"_aws"' not in raw:
                continue
            lines += 1
            where = f"{path}:{number}"
            try:
                line = json.loads(raw)
            except ValueError:
                failures.append(f"{where}: a metrics line that is not JSON")
                continue
            aws = line.get("_aws", {})
            if not isinstance(aws.get("Timestamp"), int):
                failures.append(f"{where}: _aws.Timestamp is not epoch milliseconds")
            if line.get("route") not in routes:
                failures.append(f"{where}: route {line.get('route')!r}")
            for key in ("organization_id", "job_id", "request_id"):
                if key in line and not isinstance(line[key], str):
                    failures.append(f"{where}: {key} is not a string property")
            for directive in aws.get("CloudWatchMetrics", []):
                if directive.get("Namespace") != namespace:
                    failures.append(f"{where}: namespace {directive.get('Namespace')!r}")
                for dimension_set in directive["Dimensions"]:
                    for dimension in dimension_set:
                        if dimension not in DIMENSIONS:
                            failures.append(f"{where}: dimension {dimension!r} (unbounded?)")
                        elif not isinstance(line.get(dimension), str):
                            failures.append(f"{where}: dimension {dimension!r} has no value")
                for metric in directive["Metrics"]:
                    name = metric["Name"]
                    if metrics.get(name) != metric.get("Unit"):
                        failures.append(f"{where}: metric {name!r} unit {metric.get('Unit')!r}")
                    if not isinstance(line.get(name), (int, float)):
                        failures.append(f"{where}: metric {name!r} has no numeric value")
                    seen.add(name)
            if len(failures) > 20:
                break
    if lines == 0:
        failures.append(f"{path}: no metrics line at all")
    for name in sorted(set(metrics) - seen):
        failures.append(f"{path}: metric {name!r} never emitted in the whole run")
    if not failures:
        print(f"check_metrics: {lines} request lines in {os.path.basename(path)} are valid EMF, "
              f"every metric emitted")


def main():
    failures = []
    if sys.argv[1:] == ["template"]:
        check_template(failures)
    elif len(sys.argv) == 3 and sys.argv[1] == "log":
        check_log(sys.argv[2], failures)
    else:
        sys.exit(__doc__)
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
