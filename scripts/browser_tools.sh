#!/usr/bin/env bash
# Installs the browser the page's tests drive: Debian's chromium and chromium-driver
# (/usr/bin/chromium, /usr/bin/chromedriver), with apt-get, when either is missing.
# Called by scripts/tools.sh --browser (test.sh). Quiet on success, silent when both are
# present; on failure prints apt-get's whole output. Needs root (CI runs as root) or sudo.
set -euo pipefail

have() { [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; }
have && exit 0

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || {
    echo "error: browser_tools.sh: chromium and chromium-driver are missing and this is not root; install them: apt-get install chromium chromium-driver" >&2
    exit 1
  }
  sudo=(sudo -n)
fi

echo "browser_tools.sh: installing chromium and chromium-driver (apt-get; first run: 1-3 min)" >&2
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
export DEBIAN_FRONTEND=noninteractive
install() {
  "${sudo[@]}" apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-dejavu-core
}
# A fresh machine may have no package lists yet (or stale ones): update once, then retry.
if ! install >"$out" 2>&1; then
  if ! { "${sudo[@]}" apt-get update -q && install; } >"$out" 2>&1; then
    cat "$out" >&2
    echo "error: browser_tools.sh: apt-get could not install chromium chromium-driver (output above)" >&2
    exit 1
  fi
fi
have || { cat "$out" >&2; echo "error: browser_tools.sh: /usr/bin/chromium or /usr/bin/chromedriver still missing" >&2; exit 1; }
