#!/usr/bin/env bash
# Runs every test of the workspace. Works on a fresh machine: installs what the
# tests need (Debian packages with apt-get, Python packages with pip) first.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian packages the tests run for real: python3 (interop tests), redis-server (Redis replay guard).
missing=()
command -v python3 >/dev/null || missing+=(python3 python3-pip)
command -v redis-server >/dev/null || missing+=(redis-server)  # the Redis replay guard tests start their own
# the dashboard's browser test (cli/tests/dashboard_browser.rs): headless Chromium and its driver
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
fi

# Python peers: the Standard Webhooks reference library and Flask (the guide's receiver).
python3 -m pip install --quiet --disable-pip-version-check -r requirements-test.txt

command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest

cargo nextest run --workspace --all-features --no-fail-fast
cargo test --workspace --all-features --doc
