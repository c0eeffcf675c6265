#!/usr/bin/env bash
# Installs Debian packages with apt-get when a file they provide is missing: the browser the
# page's tests drive, valgrind for the instruction gate. Called by scripts/tools.sh
# (--browser, --valgrind). Quiet on success, silent when every file is there; on failure
# prints apt-get's whole output. Needs root (CI runs as root) or sudo.
#   scripts/debian_packages.sh FILE... -- PACKAGE...
#   e.g. scripts/debian_packages.sh /usr/bin/valgrind -- valgrind
set -euo pipefail

files=()
while [[ $# -gt 0 && $1 != -- ]]; do files+=("$1"); shift; done
[[ ${1:-} == -- && $# -gt 1 && ${#files[@]} -gt 0 ]] || {
  echo "usage: scripts/debian_packages.sh FILE... -- PACKAGE..." >&2
  exit 2
}
shift
packages=("$@")

have() {
  local file
  for file in "${files[@]}"; do [[ -x $file ]] || return 1; done
}
have && exit 0

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || {
    echo "error: debian_packages.sh: ${files[*]} missing and this is not root; install them: apt-get install ${packages[*]}" >&2
    exit 1
  }
  sudo=(sudo -n)
fi

echo "debian_packages.sh: installing ${packages[*]} (apt-get; first run: 1-3 min)" >&2
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
export DEBIAN_FRONTEND=noninteractive
install() { "${sudo[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}"; }
# A fresh machine may have no package lists yet (or stale ones): update once, then retry.
if ! install >"$out" 2>&1; then
  if ! { "${sudo[@]}" apt-get update -q && install; } >"$out" 2>&1; then
    cat "$out" >&2
    echo "error: debian_packages.sh: apt-get could not install ${packages[*]} (output above)" >&2
    exit 1
  fi
fi
have || { cat "$out" >&2; echo "error: debian_packages.sh: ${files[*]}: still missing after installing ${packages[*]}" >&2; exit 1; }
