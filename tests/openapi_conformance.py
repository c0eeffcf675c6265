#!/usr/bin/env python3
"""Real responses of the running function, checked against openapi.yaml.

Drives one full scenario over HTTP, in a fresh random organization, against the function
under `cargo lambda watch` (scripts/test.sh starts it), and checks EVERY response:

  - its status is the one the scenario expects;
  - its status is documented for the operation the request matches (a request matching
    no operation: the document's `x-unmatched-requests` responses);
  - its Content-Type is application/json, and the document declares that media type;
  - its body validates against the documented schema (JSON Schema 2020-12, `$ref`s
    resolved inside the document, formats checked, and `integer` meaning a JSON integer
    literal: `5.0` is not an integer here);
  - the documented required headers (Location, Allow, WWW-Authenticate, Retry-After) are
    present, and every documented header present (Preference-Applied, Idempotent-Replayed)
    matches its schema;
  - a `200` to a write that asked `Prefer: return=minimal` is the `JobStatusResponse`
    with `Preference-Applied: return=minimal`, and without it the `JobResponse`.

Before the scenario it also checks that the document's own examples match its schemas,
and that the request bodies the scenario sends are valid (or, for the invalid ones, not)
by the documented request schemas.

Environment: JOBS_TEST_WATCH_URL (base URL, plain HTTP), JOBS_JWT_SECRET (HS256 secret),
and optionally OPENAPI_DOCUMENT (default: openapi.yaml at the repository root).
Run with the tool venv: .tools/venv/bin/python tests/openapi_conformance.py
Prints one line per check, then `openapi: N passed, M failed`; exits 1 on any failure.
"""

import json
import os
import re
import secrets
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parent.parent
DOC_URI = "urn:jobs-api:openapi"
TIMEOUT = 30


# ---- tokens (minted by scripts/dev_token.py) ----------------------------------------

sys.path.insert(0, str(ROOT / "scripts"))
from dev_token import mint  # noqa: E402


def token(secret: str, sub: str, organizations: list, **extra) -> str:
    now = int(time.time())
    return mint(secret, {"sub": sub, "organizations": organizations, "iat": now, "exp": now + 3600, **extra})


# ---- the document -----------------------------------------------------------------------


def pointer_escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


class Document:
    def __init__(self, path: Path):
        with open(path, encoding="utf-8") as f:
            self.doc = yaml.safe_load(f)
        resource = Resource.from_contents(self.doc, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(DOC_URI, resource)
        # `integer` is a JSON integer literal: Python's json gives int for `5`, float for
        # `5.0`, and the code must serialize counts as the former.
        checker = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
            "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
        )
        self.validator_class = jsonschema.validators.extend(
            jsonschema.Draft202012Validator, type_checker=checker
        )
        # Operations, as (regex over the path without trailing slash, template, path item).
        self.paths = []
        for template, item in self.doc["paths"].items():
            pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template.rstrip("/")))
            self.paths.append((re.compile(f"^{pattern}$"), template, item))

    def resolve(self, node: dict, pointer: str):
        """A `$ref`-free node and its JSON pointer in the document."""
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise ValueError(f"unsupported $ref {ref}")
            pointer = ref[1:]
            node = self.doc
            for part in ref[2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
        return node, pointer

    def validator(self, pointer: str):
        return self.validator_class(
            {"$ref": f"{DOC_URI}#{pointer}"},
            registry=self.registry,
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        )

    def errors(self, pointer: str, instance) -> list:
        found = sorted(self.validator(pointer).iter_errors(instance), key=lambda e: list(e.absolute_path))
        return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in found]

    def operation(self, method: str, path: str):
        """(label, responses, responses pointer) for a request."""
        trimmed = path.split("?", 1)[0].rstrip("/")
        for regex, template, item in self.paths:
            if regex.match(trimmed):
                op = item.get(method.lower())
                if op is not None:
                    pointer = f"/paths/{pointer_escape(template)}/{method.lower()}/responses"
                    return f"{method} {template}", op["responses"], pointer
                break
        return f"{method} (no operation)", self.doc["x-unmatched-requests"]["responses"], "/x-unmatched-requests/responses"

    def request_schema_pointer(self, method: str, path: str):
        trimmed = path.split("?", 1)[0].rstrip("/")
        for regex, template, item in self.paths:
            if regex.match(trimmed):
                op = item.get(method.lower(), {})
                if "requestBody" in op:
                    return f"/paths/{pointer_escape(template)}/{method.lower()}/requestBody/content/application~1json/schema"
        return None


# ---- checks -----------------------------------------------------------------------------


class Report:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok: bool, what: str, why: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"ok   {what}")
        else:
            self.failed += 1
            print(f"FAIL {what}{': ' + why if why else ''}")
        return ok


class Response:
    def __init__(self, status: int, headers, raw: bytes):
        self.status = status
        self.headers = headers
        self.raw = raw
        try:
            self.body = json.loads(raw)
        except ValueError:
            self.body = None


class Client:
    def __init__(self, base: str, doc: Document, report: Report):
        self.base = base.rstrip("/")
        self.doc = doc
        self.report = report

    def send(self, method, path, *, token=None, body=None, raw=None, content_type="application/json",
             headers=None) -> Response:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None and content_type:
            request.add_header("Content-Type", content_type)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
                return Response(answer.status, answer.headers, answer.read())
        except urllib.error.HTTPError as answer:
            return Response(answer.code, answer.headers, answer.read())

    def call(self, name: str, method: str, path: str, expect: int, **kwargs) -> Response:
        """Sends a request and checks its response against the document."""
        r = self.report
        response = self.send(method, path, **kwargs)
        label, responses, responses_pointer = self.doc.operation(method, path)
        what = f"{name} [{method} {path}]"

        r.check(response.status == expect, f"{what}: status {response.status}", f"expected {expect}; body {response.raw[:300]!r}")

        documented = str(response.status) in responses
        r.check(documented, f"{what}: {response.status} documented for {label}",
                f"documented: {', '.join(sorted(responses))}")

        content_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        r.check(content_type == "application/json", f"{what}: content type application/json", f"got {content_type!r}")

        if not documented:
            return response
        node, pointer = self.doc.resolve(responses[str(response.status)], f"{responses_pointer}/{response.status}")

        media = node.get("content", {}).get("application/json")
        if not r.check(media is not None and "schema" in media, f"{what}: application/json schema documented"):
            return response
        if response.body is None:
            r.check(False, f"{what}: body is JSON", f"body {response.raw[:300]!r}")
        else:
            problems = self.doc.errors(f"{pointer}/content/application~1json/schema", response.body)
            r.check(not problems, f"{what}: body matches the schema of {label} {response.status}", "; ".join(problems[:5]))

        for header, spec in node.get("headers", {}).items():
            spec, header_pointer = self.doc.resolve(spec, f"{pointer}/headers/{pointer_escape(header)}")
            value = response.headers.get(header)
            if not spec.get("required") and value is None:
                continue
            if not r.check(value is not None, f"{what}: header {header} present"):
                continue
            schema_type = spec.get("schema", {}).get("type")
            parsed = value
            if schema_type == "integer":
                try:
                    parsed = int(value)
                except ValueError:
                    pass
            problems = self.doc.errors(f"{header_pointer}/schema", parsed)
            r.check(not problems, f"{what}: header {header} {value!r} matches its schema", "; ".join(problems))
        return response

    def write(self, name: str, path: str, expect_minimal: bool, **kwargs) -> Response:
        """A progress report or cancel answered `200`, in the form `expect_minimal` says:
        the `/status` body with `Preference-Applied: return=minimal`, or the full job."""
        response = self.call(name, "POST", path, 200, **kwargs)
        schema = "JobStatusResponse" if expect_minimal else "JobResponse"
        problems = self.doc.errors(f"/components/schemas/{schema}", response.body)
        self.report.check(not problems, f"{name}: the body is a {schema}", "; ".join(problems[:5]))
        applied = response.headers.get("Preference-Applied")
        expected = "return=minimal" if expect_minimal else "not return=minimal"
        self.report.check((applied == "return=minimal") == expect_minimal, f"{name}: Preference-Applied {expected}",
                          f"got {applied!r}")
        return response

    def request_body(self, name: str, method: str, path: str, body, valid: bool = True):
        """The document says `body` is (or is not) a valid request for the operation."""
        pointer = self.doc.request_schema_pointer(method, path)
        if pointer is None:
            self.report.check(False, f"{name}: request schema documented for {method} {path}")
            return
        problems = self.doc.errors(pointer, body)
        if valid:
            self.report.check(not problems, f"{name}: request body valid by the document", "; ".join(problems))
        else:
            self.report.check(bool(problems), f"{name}: request body invalid by the document", "the document accepts it")


def check_examples(doc: Document, report: Report):
    """Every `example` of a media type in components.responses and in operations matches its schema."""
    def media_types(node, pointer):
        if isinstance(node, dict):
            for key, value in node.items():
                child = f"{pointer}/{pointer_escape(str(key))}"
                if key == "content" and isinstance(value, dict):
                    for media, spec in value.items():
                        if isinstance(spec, dict) and "example" in spec and "schema" in spec:
                            yield f"{child}/{pointer_escape(media)}", spec["example"]
                else:
                    yield from media_types(value, child)

    for pointer, example in media_types(doc.doc, ""):
        problems = doc.errors(f"{pointer}/schema", example)
        report.check(not problems, f"document example {pointer} matches its schema", "; ".join(problems))


# ---- the scenario -----------------------------------------------------------------------


def scenario(c: Client, secret: str):
    report = c.report
    org = f"oapi-{secrets.token_hex(6)}"
    user = f"user-{secrets.token_hex(4)}"
    t = token(secret, user, [org])
    began = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))

    # Create
    create_a = {"job_type": "crawl", "total_items": 10, "metadata": {"source": "openapi", "depth": {"n": 1}}}
    c.request_body("create A", "POST", "/api/jobs/", create_a)
    a = c.call("create A", "POST", "/api/jobs/", 201, token=t, body=create_a)
    job_a = a.body["job_id"]
    report.check(a.headers.get("Location") == f"/api/jobs/{job_a}", "create A: Location names the job",
                 f"Location {a.headers.get('Location')!r}")
    create_b = {"job_type": "export", "total_items": 0, "triggered_by": None}
    c.request_body("create B", "POST", "/api/jobs/", create_b)
    job_b = c.call("create B", "POST", "/api/jobs", 201, token=t, body=create_b).body["job_id"]
    create_c = {"job_type": "crawl", "total_items": 3, "triggered_by": "scheduler", "ignored": True}
    job_c = c.call("create C", "POST", "/api/jobs/", 201, token=t, body=create_c).body["job_id"]

    invalid = {"total_items": -1, "metadata": [], "triggered_by": 7}
    c.request_body("create invalid", "POST", "/api/jobs/", invalid, valid=False)
    bad = c.call("create invalid", "POST", "/api/jobs/", 422, token=t, body=invalid)
    report.check(isinstance(bad.body, dict) and len(bad.body.get("detail", [])) == 4,
                 "create invalid: every problem reported at once", f"body {bad.body}")
    c.call("create with an empty body", "POST", "/api/jobs/", 422, token=t, raw=b"")

    # Heartbeat, overall and stall timeouts: in every job body; out of bounds is a 422. (In an
    # organization of their own: the list checks below count this one's jobs.)
    td = token(secret, user, [f"{org}-timeouts"])
    create_d = {"job_type": "crawl", "total_items": 2, "heartbeat_timeout_seconds": 60, "timeout_seconds": 3600,
                "stall_timeout_seconds": 900}
    c.request_body("create D with timeouts", "POST", "/api/jobs/", create_d)
    d = c.call("create D with timeouts", "POST", "/api/jobs/", 201, token=td, body=create_d)
    report.check(d.body.get("heartbeat_timeout_seconds") == 60 and d.body.get("timeout_seconds") == 3600
                 and d.body.get("stall_timeout_seconds") == 900,
                 "create D: the timeouts as given", f"body {d.body}")
    beat = c.write("report D (empty: a heartbeat)", f"/api/jobs/{d.body['job_id']}/progress", False,
                   token=td, body={})
    report.check(isinstance(beat.body.get("last_heartbeat_at"), str) and beat.body.get("last_progress_at") is None,
                 "report D: last_heartbeat_at set, a heartbeat is no progress", f"body {beat.body}")
    c.call("status D", "GET", f"/api/jobs/{d.body['job_id']}/status", 200, token=td)
    too_short = {"job_type": "crawl", "total_items": 1, "timeout_seconds": 5}
    c.request_body("create with a too short timeout", "POST", "/api/jobs/", too_short, valid=False)
    c.call("create with a too short timeout", "POST", "/api/jobs/", 422, token=td, body=too_short)

    # Credentials and organizations
    c.call("list without a token", "GET", "/api/jobs/", 401)
    c.call("list with a bad token", "GET", "/api/jobs/", 401, token=token("another-secret-another-secret-xx", user, [org]))
    c.call("list for another organization", "GET", "/api/jobs/", 403, token=t,
           headers={"X-Organization-ID": f"other-{secrets.token_hex(4)}"})
    two_orgs = token(secret, user, [org, f"{org}-b"])
    c.call("list, two organizations, no header", "GET", "/api/jobs/", 422, token=two_orgs)
    c.call("list, two organizations, header", "GET", "/api/jobs/", 200, token=two_orgs,
           headers={"X-Organization-ID": org})
    read_only = token(secret, user, [org], permissions=["job:read"])
    c.call("create without job:create", "POST", "/api/jobs/", 403, token=read_only, body=create_a)
    c.call("get with the session cookie", "GET", f"/api/jobs/{job_a}", 200,
           headers={"Cookie": f"stytch_session_jwt={t}"})

    # List: pages and filters
    page1 = c.call("list, page 1", "GET", "/api/jobs/?limit=2", 200, token=t)
    cursor = page1.body.get("next_cursor") if isinstance(page1.body, dict) else None
    report.check(isinstance(cursor, str) and len(page1.body["items"]) == 2, "list, page 1: two items and a cursor",
                 f"body {page1.body}")
    page2 = c.call("list, page 2", "GET", f"/api/jobs/?limit=2&cursor={urllib.parse.quote(cursor or '')}", 200, token=t)
    report.check(isinstance(page2.body, dict) and [j["job_id"] for j in page2.body.get("items", [])] == [job_a],
                 "list, page 2: the oldest job", f"body {page2.body}")
    ends = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 60))
    query = urllib.parse.urlencode({"status": "pending", "job_type": "crawl", "triggered_by": user,
                                    "created_after": began, "created_before": ends, "limit": 100})
    filtered = c.call("list, filtered", "GET", f"/api/jobs/?{query}", 200, token=t)
    report.check(isinstance(filtered.body, dict) and [j["job_id"] for j in filtered.body.get("items", [])] == [job_a],
                 "list, filtered: only job A", f"body {filtered.body}")
    c.call("list, malformed cursor", "GET", "/api/jobs/?cursor=not-a-cursor", 422, token=t)
    c.call("list, bad filters", "GET", "/api/jobs/?limit=0&status=done&created_after=yesterday", 422, token=t)

    # Read
    c.call("get A", "GET", f"/api/jobs/{job_a}", 200, token=t)
    c.call("get A, trailing slash", "GET", f"/api/jobs/{job_a}/", 200, token=t)
    c.call("status A", "GET", f"/api/jobs/{job_a}/status", 200, token=t)

    # Progress on A: start, increments, item errors, a job warning, complete
    progress = f"/api/jobs/{job_a}/progress"
    steps = [
        ("progress: start", {"mark_started": True, "stage": "fetch", "message": "starting"}),
        ("progress: increments", {"processed_items_increment": 3, "metadata_patch": {"batch": 1}}),
        ("progress: an item error", {"error": {"entity_key": "https://example.com/7", "entity_type": "url",
                                                "error_type": "http_404", "message": "Not found",
                                                "details": {"status": 404}, "step": "fetch"}}),
        ("progress: another item error", {"error": {"entity_key": "https://example.com/8", "entity_type": "url",
                                                     "error_type": "timeout", "message": "Timed out"}}),
        ("progress: a job warning", {"warning": {"entity_key": job_a, "error_type": "slow_source",
                                                  "message": "The source is slow", "step": None}}),
        ("progress: set counts", {"processed_items": 5, "failed_items": 2, "total_items": 10, "error": None}),
        ("progress: complete", {"processed_items_increment": 3, "mark_completed": True}),
    ]
    last = None
    for name, body in steps:
        c.request_body(name, "POST", progress, body)
        last = c.call(name, "POST", progress, 200, token=t, body=body)
    report.check(isinstance(last.body, dict) and last.body.get("status") == "partial_success",
                 "progress: complete ends the job as partial_success", f"body {last.body}")
    c.call("progress after the end", "POST", progress, 409, token=t, body={"processed_items_increment": 1})
    invalid_progress = {"mark_started": "yes", "error": {"entity_key": 5}}
    c.request_body("progress invalid", "POST", progress, invalid_progress, valid=False)
    c.call("progress invalid", "POST", f"/api/jobs/{job_c}/progress", 422, token=t, body=invalid_progress)
    c.call("progress: fail C", "POST", f"/api/jobs/{job_c}/progress", 200, token=t,
           body={"mark_started": True, "mark_failed": "the source went away"})
    c.call("get A, ended, with its errors and warnings", "GET", f"/api/jobs/{job_a}", 200, token=t)
    c.call("status A, ended", "GET", f"/api/jobs/{job_a}/status", 200, token=t)

    # Prefer: return=minimal on a report and a cancel (and its idempotent replay)
    job_d = c.call("create D", "POST", "/api/jobs/", 201, token=t, body=create_a).body["job_id"]
    report_d = f"/api/jobs/{job_d}/progress"
    minimal = {"Prefer": "return=minimal"}
    c.write("progress D, minimal", report_d, True, token=t, body={"processed_items_increment": 2}, headers=minimal)
    c.write("progress D, minimal among other preferences", report_d, True, token=t,
            body={"error": {"entity_key": "r1", "error_type": "e", "message": "m"}},
            headers={"Prefer": "respond-async, return=minimal; foo=bar"})
    c.write("progress D, an unknown preference", report_d, False, token=t, body={},
            headers={"Prefer": "return=MINIMAL, wait=5"})
    c.write("progress D, representation", report_d, False, token=t, body={},
            headers={"Prefer": "return=representation"})
    keyed = {"Idempotency-Key": f"oapi-{secrets.token_hex(4)}", **minimal}
    first = c.write("cancel D, minimal, with a key", f"/api/jobs/{job_d}/cancel", True, token=t, headers=keyed)
    replay = c.write("cancel D, replayed without Prefer", f"/api/jobs/{job_d}/cancel", True, token=t,
                     headers={"Idempotency-Key": keyed["Idempotency-Key"]})
    report.check(replay.body == first.body and replay.headers.get("Idempotent-Replayed") == "true",
                 "cancel D, replayed: the original minimal answer", f"body {replay.body}")

    # Cancel
    c.call("cancel B", "POST", f"/api/jobs/{job_b}/cancel", 200, token=t)
    c.call("cancel B again", "POST", f"/api/jobs/{job_b}/cancel", 409, token=t)
    c.call("cancel C, failed", "POST", f"/api/jobs/{job_c}/cancel", 409, token=t)

    # History
    errors1 = c.call("errors, page 1", "GET", f"/api/jobs/{job_a}/errors?limit=1", 200, token=t)
    cursor = errors1.body.get("next_cursor") if isinstance(errors1.body, dict) else None
    report.check(isinstance(cursor, str), "errors, page 1: a cursor", f"body {errors1.body}")
    c.call("errors, page 2", "GET", f"/api/jobs/{job_a}/errors?limit=1&cursor={urllib.parse.quote(cursor or '')}",
           200, token=t)
    c.call("warnings", "GET", f"/api/jobs/{job_a}/warnings", 200, token=t)
    c.call("warnings of a job without any", "GET", f"/api/jobs/{job_b}/warnings/", 200, token=t)
    c.call("errors, malformed cursor", "GET", f"/api/jobs/{job_a}/errors?cursor=abc", 422, token=t)
    c.call("errors, limit too large", "GET", f"/api/jobs/{job_a}/errors?limit=101", 422, token=t)
    c.call("list with a list of everything", "GET", "/api/jobs/?limit=100", 200, token=t)

    # Unknown jobs (another organization's job is unknown too)
    other = token(secret, user, [f"{org}-other"])
    c.call("unknown job", "GET", f"/api/jobs/{uuid.uuid4()}", 404, token=t)
    c.call("job of another organization", "GET", f"/api/jobs/{job_a}", 404, token=other)
    c.call("not a job id", "GET", "/api/jobs/not-a-uuid/status", 404, token=t)
    c.call("progress on an unknown job", "POST", f"/api/jobs/{uuid.uuid4()}/progress", 404, token=t,
           body={"processed_items_increment": 1})
    c.call("cancel an unknown job", "POST", f"/api/jobs/{uuid.uuid4()}/cancel", 404, token=t)
    c.call("errors of an unknown job", "GET", f"/api/jobs/{uuid.uuid4()}/errors", 404, token=t)

    # Routing
    c.call("wrong method on a job", "DELETE", f"/api/jobs/{job_a}", 405, token=t)
    c.call("wrong method on the collection", "PUT", "/api/jobs/", 405, token=t, body={})
    c.call("wrong method on progress", "GET", progress, 405)
    c.call("unknown path", "GET", f"/api/jobs/{job_a}/logs", 404, token=t)
    c.call("unknown path outside the API", "GET", "/api/nothing-here", 404)

    # Bodies
    c.call("create, not JSON", "POST", "/api/jobs/", 415, token=t, raw=b"job_type=crawl", content_type="text/plain")
    c.call("create, malformed JSON", "POST", "/api/jobs/", 400, token=t, raw=b'{"job_type": ')
    c.call("create, too large", "POST", "/api/jobs/", 413, token=t,
           raw=json.dumps({"job_type": "crawl", "total_items": 1, "metadata": {"x": "y" * 70_000}}).encode())
    c.call("progress, malformed JSON", "POST", f"/api/jobs/{job_c}/progress", 400, token=t, raw=b"[1,")
    c.call("progress, not JSON", "POST", f"/api/jobs/{job_c}/progress", 415, token=t, raw=b"<x/>",
           content_type="application/xml")


def main() -> int:
    base = os.environ.get("JOBS_TEST_WATCH_URL")
    secret = os.environ.get("JOBS_JWT_SECRET")
    if not base or not secret:
        print("openapi: JOBS_TEST_WATCH_URL and JOBS_JWT_SECRET must be set", file=sys.stderr)
        return 2
    doc = Document(Path(os.environ.get("OPENAPI_DOCUMENT", ROOT / "openapi.yaml")))
    report = Report()
    check_examples(doc, report)
    try:
        scenario(Client(base, doc, report), secret)
    except Exception as error:  # a crash of the scenario is a failure, not a traceback only
        import traceback
        traceback.print_exc()
        report.check(False, "scenario ran to the end", repr(error))
    print(f"openapi: {report.passed} passed, {report.failed} failed")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
