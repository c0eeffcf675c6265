"""Renders template.yaml for each deployment mode and checks each one.

cfn-lint checks the template with its conditions unresolved; it does not tell whether
each mode, once CloudFormation has resolved them, is a valid and sensible stack. This
resolves the conditions for a set of parameter values (Fn::If, Condition on resources,
AWS::NoValue), runs cfn-lint on the result, and asserts what each mode must hold:

  gateway:  a JWT authorizer on every API route (/api/...), no token settings in the function
  either:   the jobs page (GET / and GET /app/{file}) routed, never with an authorizer
  function: no authorizer, the function holds JWKS, issuer and audience settings
  either:   CORS only with named origins (credentials, never *), preflight routes
            without an authorizer, JOBS_ALLOWED_ORIGINS equal to the CORS origins
  events:   jobs-events publishes to the stack's bus or the one named, and may PutEvents
            there only; the stream mapping filters, bisects, retries a bounded number of
            times and has an on-failure destination; webhook resources only with a URL

Usage: python scripts/template_modes.py  (exit status 1 on any failure)
"""

import json
import os
import subprocess
import sys
import tempfile

from cfnlint.decode import decode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE = os.path.join(ROOT, "template.yaml")
NO_VALUE = object()
PAGE_ROUTES = ("GET /", "GET /app/{file}")

COMMON = {"JwtIssuer": "https://auth.example.com", "JwtAudience": "jobs-api"}
MODES = {
    "gateway": {"TokenVerification": "gateway"},
    "gateway with CORS": {"TokenVerification": "gateway", "AllowedOrigins": "https://app.example.com"},
    "function": {
        "TokenVerification": "function",
        "JwksUrl": "https://auth.example.com/.well-known/jwks.json",
    },
    "function with CORS and introspection": {
        "TokenVerification": "function",
        "JwksUrl": "https://auth.example.com/.well-known/jwks.json",
        "AllowedOrigins": "https://app.example.com,http://localhost:5173",
        "IntrospectionUrl": "https://auth.example.com/oauth2/introspect",
        "IntrospectionClientId": "jobs",
        "IntrospectionClientSecret": "secret",
    },
    "events to an existing bus, with a webhook": {
        "TokenVerification": "gateway",
        "EventBusName": "shared-bus",
        "WebhookUrl": "https://hooks.example.com/jobs",
        "WebhookSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:jobs-webhook-AbCdEf",
    },
}


def resolve(node, params, conditions):
    """The node with Ref to parameters, Fn::Equals/Not/If and AWS::NoValue resolved."""
    if isinstance(node, list):
        items = [resolve(item, params, conditions) for item in node]
        return [item for item in items if item is not NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (key, value), = node.items()
        if key == "Ref" and value == "AWS::NoValue":
            return NO_VALUE
        if key == "Ref" and value in params:
            return params[value]
        if key == "Fn::Equals":
            left, right = (resolve(v, params, conditions) for v in value)
            return left == right
        if key == "Fn::Not":
            return not resolve(value[0], params, conditions)
        if key == "Condition":
            return conditions[value]
        if key == "Fn::If":
            name, then, otherwise = value
            return resolve(then if conditions[name] else otherwise, params, conditions)
        if key == "Fn::Split" and isinstance(resolve(value[1], params, conditions), str):
            return resolve(value[1], params, conditions).split(value[0])
    out = {}
    for key, value in node.items():
        value = resolve(value, params, conditions)
        if value is not NO_VALUE:
            out[key] = value
    return out


def render(template, values):
    params = {
        name: values.get(name, spec.get("Default", ""))
        for name, spec in template["Parameters"].items()
    }
    conditions = {}
    for name, expression in template.get("Conditions", {}).items():
        conditions[name] = resolve(expression, params, conditions)
    rendered = {k: v for k, v in template.items() if k not in ("Conditions", "Rules")}
    rendered["Parameters"] = {
        name: dict(spec, Default=params[name]) for name, spec in template["Parameters"].items()
    }
    rendered["Resources"] = {
        name: resolve({k: v for k, v in spec.items() if k != "Condition"}, params, conditions)
        for name, spec in template["Resources"].items()
        if conditions.get(spec.get("Condition"), True)
    }
    rendered["Outputs"] = {
        name: resolve({k: v for k, v in spec.items() if k != "Condition"}, params, conditions)
        for name, spec in template.get("Outputs", {}).items()
        if conditions.get(spec.get("Condition"), True)
    }
    return rendered


def check_events(values, resources):
    """The events path: bus, permissions, the stream mapping, the optional webhook."""
    problems = []
    function = resources["JobsEventsFunction"]["Properties"]
    bus = function["Environment"]["Variables"]["JOBS_EVENT_BUS_NAME"]
    own_bus = not values.get("EventBusName")
    if own_bus != ("JobsEventBus" in resources):
        problems.append("a bus of the stack's own exactly when EventBusName is empty")
    want_bus = {"Ref": "JobsEventBus"} if own_bus else values["EventBusName"]
    if bus != want_bus:
        problems.append(f"JOBS_EVENT_BUS_NAME {bus!r}, want {want_bus!r}")
    statements = [st for policy in function["Policies"] for st in policy["Statement"]]
    put = [st for st in statements if "events:PutEvents" in st["Action"]]
    if len(put) != 1 or put[0]["Action"] != ["events:PutEvents"] or "*" in json.dumps(put[0]["Resource"]):
        problems.append(f"PutEvents must be granted on the one bus only: {put}")
    mapping = resources["JobsEventsStreamMapping"]["Properties"]
    if not mapping.get("BisectBatchOnFunctionError"):
        problems.append("the stream mapping does not bisect")
    if not 0 <= mapping.get("MaximumRetryAttempts", -1) <= 10:
        problems.append("the stream mapping's retries are not bounded")
    if mapping.get("FunctionResponseTypes") != ["ReportBatchItemFailures"]:
        problems.append("the stream mapping ignores batchItemFailures")
    if "OnFailure" not in mapping.get("DestinationConfig", {}):
        problems.append("the stream mapping has no on-failure destination")
    pattern = json.loads(mapping["FilterCriteria"]["Filters"][0]["Pattern"])
    if pattern != {"eventName": ["INSERT", "MODIFY"], "dynamodb": {"Keys": {"sk": {"S": ["JOB"]}}}}:
        problems.append(f"the stream filter is {pattern}")
    webhook = {n for n in resources if n.startswith("JobsWebhook")}
    if bool(values.get("WebhookUrl")) != bool(webhook):
        problems.append(f"webhook resources {sorted(webhook)} with WebhookUrl {values.get('WebhookUrl')!r}")
    if webhook:
        target = resources["JobsWebhookRule"]["Properties"]["Targets"][0]
        if "DeadLetterConfig" not in target or "RetryPolicy" not in target:
            problems.append("the webhook target has no retry policy or dead-letter queue")
    return problems


def check(mode, values, rendered):
    problems = []
    resources = rendered["Resources"]
    routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in resources.values()
              if r["Type"] == "AWS::ApiGatewayV2::Route"}
    env = resources["JobsFunction"]["Properties"]["Environment"]["Variables"]
    api = resources["JobsHttpApi"]["Properties"]
    gateway = values["TokenVerification"] == "gateway"
    authorizers = [n for n, r in resources.items() if r["Type"] == "AWS::ApiGatewayV2::Authorizer"]
    for page_route in PAGE_ROUTES:
        if page_route not in routes:
            problems.append(f"the jobs page route {page_route} is missing")
    for key, route in routes.items():
        preflight = key.startswith("OPTIONS ")
        # The page's files hold no caller data; a browser fetches them with no token.
        page = key in PAGE_ROUTES
        if not page and not key.split(" ", 1)[-1].startswith("/api/"):
            problems.append(f"route {key}: neither the API nor the page")
        want = "JWT" if gateway and not preflight and not page else "NONE"
        if route.get("AuthorizationType") != want:
            problems.append(f"route {key}: AuthorizationType {route.get('AuthorizationType')}, want {want}")
        if (want == "JWT") != ("AuthorizerId" in route):
            problems.append(f"route {key}: AuthorizerId present only with a JWT authorizer")
    if gateway != bool(authorizers):
        problems.append(f"authorizers {authorizers} in {mode} mode")
    token_settings = {"JOBS_JWKS_URL", "JOBS_JWT_ISSUER", "JOBS_JWT_AUDIENCE"}
    if gateway and token_settings & env.keys():
        problems.append(f"gateway mode sets {sorted(token_settings & env.keys())}")
    if not gateway and not token_settings <= env.keys():
        problems.append(f"function mode lacks {sorted(token_settings - env.keys())}")
    origins = values.get("AllowedOrigins", "")
    cors = api.get("CorsConfiguration")
    if bool(origins) != bool(cors):
        problems.append(f"CORS configured {bool(cors)} with origins {origins!r}")
    if cors:
        if "*" in cors["AllowOrigins"] or cors["AllowOrigins"] != origins.split(","):
            problems.append(f"CORS origins {cors['AllowOrigins']}")
        if not cors.get("AllowCredentials"):
            problems.append("CORS without credentials: cookies and tokens would not be sent")
        if not any(k.startswith("OPTIONS ") for k in routes):
            problems.append("CORS without preflight routes")
    if env.get("JOBS_ALLOWED_ORIGINS") != origins:
        problems.append(f"JOBS_ALLOWED_ORIGINS {env.get('JOBS_ALLOWED_ORIGINS')!r} != {origins!r}")
    if bool(values.get("IntrospectionUrl")) != ("JOBS_INTROSPECTION_URL" in env):
        problems.append("JOBS_INTROSPECTION_URL set without IntrospectionUrl, or missing with it")
    return problems


def main():
    template, matches = decode(TEMPLATE)
    if matches:
        print("\n".join(str(m) for m in matches))
        return 1
    failed = False
    cfn_lint = os.path.join(os.path.dirname(sys.executable), "cfn-lint")
    for mode, values in MODES.items():
        values = dict(COMMON, **values)
        rendered = render(template, values)
        problems = check(mode, values, rendered) + check_events(values, rendered["Resources"])
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
            json.dump(rendered, out, indent=1, default=str)
        lint = subprocess.run([cfn_lint, out.name], capture_output=True, text=True)
        os.unlink(out.name)
        if lint.returncode != 0:
            problems.append("cfn-lint:\n" + lint.stdout + lint.stderr)
        print(f"template mode {mode!r}: {'ok' if not problems else 'FAILED'}")
        for problem in problems:
            print(f"  {problem}")
        failed |= bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
