#!/usr/bin/env bash
# API conformance from outside: schemathesis generates requests from openapi.yaml and
# sends them to the function under `cargo lambda watch`; every response must be documented
# (status, Content-Type, headers, body schema) and none may be a 5xx.
#   scripts/schemathesis.sh            # needs JOBS_TEST_WATCH_URL and JOBS_JWT_SECRET (test.sh)
# Environment: SCHEMATHESIS_SEED (default 2: the same cases every run; change it to explore),
# SCHEMATHESIS_MAX_EXAMPLES (default 30 per operation), SCHEMATHESIS_TIMEOUT (default 300 s,
# a hard cap on the whole run).
#
# One caller, in a fresh organization, with a valid token (scripts/dev_token.py) and its
# X-Organization-ID fixed: generated organization ids would only ever test the 403 path
# (tests/it/hostile.rs covers those), while this way the bodies and queries reach the
# handlers. Every other header, the path ids, the queries and the bodies are generated,
# valid and invalid.
#
# One exception is filtered out, and each is printed: `cargo lambda watch` itself answers
# 500 (text/plain, "https://httpstatuses.com/500") to a request whose header values or
# body are not UTF-8, which it cannot put into an API Gateway event; the function never
# sees it (tests/it/hostile.rs sends such bodies to the handler directly).
#
# One worker: the machine has 2 cores and the function one process, and with several
# workers hypothesis (under CPython 3.11) fails at random in ast.parse ("AST constructor
# recursion depth mismatch"), reported as schemathesis runtime errors.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.tools/venv"
: "${JOBS_TEST_WATCH_URL:?run under scripts/test.sh (or export the watch URL)}"
: "${JOBS_JWT_SECRET:?the HS256 secret of the function}"
seed=${SCHEMATHESIS_SEED:-2}
examples=${SCHEMATHESIS_MAX_EXAMPLES:-30}

# Run in a scratch directory: schemathesis and hypothesis keep caches in the working
# directory, and a repeat run must not replay an earlier run's examples.
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
org="schemathesis-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
token="$(python3 "$ROOT/scripts/dev_token.py" --org "$org" --ttl 900)"

cat >"$work/hooks.py" <<'PY'
import schemathesis

EMULATOR_500 = b"https://httpstatuses.com/500"


def _utf8(value):
    if value is None:
        return True
    if isinstance(value, str):
        try:
            value = value.encode("latin-1")  # how requests puts a str header on the wire
        except UnicodeEncodeError:
            return True  # sent as UTF-8
    try:
        value.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


@schemathesis.hook
def filter_failure(context, failure, case, response):
    request = response.request
    not_utf8 = not _utf8(request.body) or not all(_utf8(v) for v in request.headers.values())
    emulator = response.status_code == 500 and EMULATOR_500 in (response.content or b"")
    if emulator and not_utf8:
        print(f"schemathesis.sh: cargo lambda watch's own 500 for a non-UTF-8 request, "
              f"not the function's: {request.method} {request.path_url}")
        return False
    return True
PY

echo "schemathesis.sh: seed $seed, $examples examples per operation, organization $org" >&2
cd "$work"
SCHEMATHESIS_HOOKS="$work/hooks.py" timeout "${SCHEMATHESIS_TIMEOUT:-300}" \
  "$VENV/bin/schemathesis" run "$ROOT/openapi.yaml" \
  --url "$JOBS_TEST_WATCH_URL" \
  --header "Authorization: Bearer $token" \
  --header "X-Organization-ID: $org" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
  --max-examples "$examples" \
  --seed "$seed" \
  --workers 1 \
  --request-timeout 30 \
  --generation-database none \
  --no-color
