#!/usr/bin/env bash
# Installs the pinned dev tools (cargo-lambda, moto, cfn-lint, schemathesis and their exact dependency
# set from tools/requirements.lock) into the project-local .tools/venv.
# Idempotent: a stamp holding the lock's hash skips the work when the venv is current.
# Quiet on success (one line when it installs); on failure prints pip's whole output.
#   scripts/tools.sh              # the venv
#   scripts/tools.sh --browser    # and Debian's chromium + chromium-driver (browser_tools.sh)
#   scripts/tools.sh --sam        # and the AWS SAM CLI in .tools/sam-venv, from
#                                 # tools/sam-requirements.lock (its pins clash with the venv's)
#   scripts/tools.sh --valgrind   # and Debian's valgrind (valgrind_tools.sh): the
#                                 # instruction gate (scripts/instructions.sh)
# The flags combine.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sam=false
for arg; do
  case $arg in
    --browser) bash "$ROOT/scripts/browser_tools.sh" ;;
    --sam) sam=true ;;
    --valgrind) bash "$ROOT/scripts/valgrind_tools.sh" ;;
    *) echo "error: tools.sh: unknown argument $arg (--browser, --sam, --valgrind)" >&2; exit 2 ;;
  esac
done

# install_venv VENV LOCK: VENV holds exactly LOCK's pins (a no-op when it already does).
install_venv() {
  local VENV=$1 LOCK=$2
  local STAMP="$VENV/.installed-from-lock" want name="${1#"$ROOT/"}" lockname="${2#"$ROOT/"}" out

  # The hash covers the pins only (not comments), plus the interpreter version: a venv
  # belongs to the python3 that made it.
  want="$(python3 - "$LOCK" <<'PY'
import hashlib, sys
pins = [l.strip() for l in open(sys.argv[1]) if l.strip() and not l.lstrip().startswith("#")]
print(hashlib.sha256("\n".join(pins).encode()).hexdigest(), sys.version.split()[0])
PY
  )"
  current() { [[ -f $STAMP && "$(<"$STAMP")" == "$want" ]] && "$VENV/bin/python" -c '' 2>/dev/null; }

  current && return 0

  # test.sh and run.sh may both start on a fresh checkout: one installs, the other waits.
  mkdir -p "$ROOT/.tools"
  exec 9>"$ROOT/.tools/.install.lock"
  flock 9
  current && { exec 9>&-; return 0; }

  echo "tools.sh: installing pinned tools into $name (first run: 20-60 s)" >&2
  out="$(mktemp)"
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
    rm -f "$out"
    echo "error: tools.sh: installing $lockname into $name failed (output above)" >&2
    exit 1
  fi
  rm -f "$out"
  printf '%s\n' "$want" >"$STAMP"
  exec 9>&-
}

install_venv "$ROOT/.tools/venv" "$ROOT/tools/requirements.lock"
if $sam; then
  install_venv "$ROOT/.tools/sam-venv" "$ROOT/tools/sam-requirements.lock"
fi
