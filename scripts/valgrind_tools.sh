#!/usr/bin/env bash
# Installs valgrind (Debian's package, /usr/bin/valgrind) with apt-get when it is missing:
# the instruction gate (scripts/instructions.sh) counts with callgrind. Called by
# scripts/tools.sh --valgrind (test.sh). Quiet on success, silent when present; on
# failure prints apt-get's whole output. Needs root (CI runs as root) or sudo.
set -euo pipefail

have() { [[ -x /usr/bin/valgrind ]]; }
have && exit 0

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || {
    echo "error: valgrind_tools.sh: valgrind is missing and this is not root; install it: apt-get install valgrind" >&2
    exit 1
  }
  sudo=(sudo -n)
fi

echo "valgrind_tools.sh: installing valgrind (apt-get; first run: under a minute)" >&2
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
export DEBIAN_FRONTEND=noninteractive
install() { "${sudo[@]}" apt-get install -y -q --no-install-recommends valgrind; }
# A fresh machine may have no package lists yet (or stale ones): update once, then retry.
if ! install >"$out" 2>&1; then
  if ! { "${sudo[@]}" apt-get update -q && install; } >"$out" 2>&1; then
    cat "$out" >&2
    echo "error: valgrind_tools.sh: apt-get could not install valgrind (output above)" >&2
    exit 1
  fi
fi
have || { cat "$out" >&2; echo "error: valgrind_tools.sh: /usr/bin/valgrind still missing" >&2; exit 1; }
