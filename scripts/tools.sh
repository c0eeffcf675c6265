#!/usr/bin/env bash
# Installs the pinned dev tools (cargo-lambda, moto, cfn-lint, schemathesis and their exact dependency
# set from tools/requirements.lock) into the project-local .tools/venv.
# Idempotent: a stamp holding the lock's hash skips the work when the venv is current.
# Quiet on success (one line when it installs); on failure prints pip's whole output.
#   scripts/tools.sh              # the venv
#   scripts/tools.sh --browser    # and Debian's chromium + chromium-driver (debian_packages.sh)
#   scripts/tools.sh --sam        # and the AWS SAM CLI in .tools/sam-venv, from
#                                 # tools/sam-requirements.lock (its pins clash with the venv's)
#   scripts/tools.sh --dynalite   # and dynalite (a stricter DynamoDB emulator) in .tools/node,
#                                 # from tools/package-lock.json; needs node and npm, and
#                                 # says so and skips without them
#   scripts/tools.sh --valgrind   # and Debian's valgrind (debian_packages.sh): the
#                                 # instruction gate (scripts/instructions.sh)
# The flags combine.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sam=false dynalite=false
for arg; do
  case $arg in
    --browser) bash "$ROOT/scripts/debian_packages.sh" /usr/bin/chromium /usr/bin/chromedriver \
      -- chromium chromium-driver fonts-dejavu-core ;;
    --sam) sam=true ;;
    --dynalite) dynalite=true ;;
    --valgrind) bash "$ROOT/scripts/debian_packages.sh" /usr/bin/valgrind -- valgrind ;;
    *) echo "error: tools.sh: unknown argument $arg (--browser, --sam, --dynalite, --valgrind)" >&2; exit 2 ;;
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

# dynalite exactly as tools/package-lock.json pins it (npm ci), stamped like the venvs.
# --ignore-scripts: no native build; dynalite keeps its tables in memory without one.
if $dynalite; then
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "tools.sh: node/npm not found: dynalite not installed (the limit tests run against moto only)" >&2
  else
    NODE_DIR="$ROOT/.tools/node"
    want="$(sha256sum "$ROOT/tools/package-lock.json" | cut -d' ' -f1) $(node --version)"
    if [[ ! -f $NODE_DIR/.installed-from-lock || "$(<"$NODE_DIR/.installed-from-lock")" != "$want" ]]; then
      echo "tools.sh: installing dynalite into .tools/node" >&2
      out="$(mktemp)"
      rm -rf "$NODE_DIR" && mkdir -p "$NODE_DIR"
      cp "$ROOT/tools/package.json" "$ROOT/tools/package-lock.json" "$NODE_DIR/"
      if ! (cd "$NODE_DIR" && npm ci --no-audit --no-fund --ignore-scripts) >"$out" 2>&1; then
        cat "$out" >&2; rm -f "$out"
        echo "error: tools.sh: installing tools/package-lock.json into .tools/node failed (output above)" >&2
        exit 1
      fi
      rm -f "$out"
      printf '%s\n' "$want" >"$NODE_DIR/.installed-from-lock"
    fi
  fi
fi
