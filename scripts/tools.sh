#!/usr/bin/env bash
# Installs the pinned dev tools (cargo-lambda, moto, cfn-lint, schemathesis and their exact dependency
# set from tools/requirements.lock) into the project-local .tools/venv.
# Idempotent: a stamp holding the lock's hash skips the work when the venv is current.
# Quiet on success (one line when it installs); on failure prints pip's whole output.
#   scripts/tools.sh              # the venv
#   scripts/tools.sh --browser    # and Debian's chromium + chromium-driver (browser_tools.sh)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ ${1:-} == --browser ]]; then
  bash "$ROOT/scripts/browser_tools.sh"
fi
VENV="$ROOT/.tools/venv"
LOCK="$ROOT/tools/requirements.lock"
STAMP="$VENV/.installed-from-lock"

# The hash covers the pins only (not comments), plus the interpreter version: a venv
# belongs to the python3 that made it.
want="$(python3 - "$LOCK" <<'PY'
import hashlib, sys
pins = [l.strip() for l in open(sys.argv[1]) if l.strip() and not l.lstrip().startswith("#")]
print(hashlib.sha256("\n".join(pins).encode()).hexdigest(), sys.version.split()[0])
PY
)"
current() { [[ -f $STAMP && "$(<"$STAMP")" == "$want" ]] && "$VENV/bin/python" -c '' 2>/dev/null; }

current && exit 0

# test.sh and run.sh may both start on a fresh checkout: one installs, the other waits.
mkdir -p "$ROOT/.tools"
exec 9>"$ROOT/.tools/.install.lock"
flock 9
current && exit 0

echo "tools.sh: installing pinned tools into .tools/venv (first run: 20-60 s)" >&2
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
# A fresh venv every time the lock changes: with --no-deps nothing but the lock is
# installed, and nothing from an older lock lingers. pip check then proves the lock is
# complete and consistent.
if ! {
  rm -rf "$VENV" &&
  python3 -m venv "$VENV" &&
  "$VENV/bin/pip" install --disable-pip-version-check --no-input --no-deps -r "$LOCK" &&
  "$VENV/bin/pip" check
} >"$out" 2>&1; then
  cat "$out" >&2
  echo "error: tools.sh: installing tools/requirements.lock into .tools/venv failed (output above)" >&2
  exit 1
fi
printf '%s\n' "$want" >"$STAMP"
