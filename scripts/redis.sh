#!/usr/bin/env bash
# Redis for the replay-guard tests. The tests start their own throw-away
# redis-server (free loopback port, no persistence) and stop it; this script only
# makes sure the binary is there.
#   bash scripts/redis.sh ensure   installs redis-server with apt-get when missing
#   bash scripts/redis.sh check    fails with a message when redis-server is missing
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

case "${1:-ensure}" in
  ensure)
    if ! command -v redis-server >/dev/null; then
      echo "installing: redis-server"
      as_root apt-get update -q
      as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server
    fi
    redis-server --version
    ;;
  check)
    if ! command -v redis-server >/dev/null; then
      echo "redis-server is missing: run 'bash scripts/redis.sh ensure'" >&2
      exit 1
    fi
    redis-server --version
    ;;
  *)
    echo "usage: $0 [ensure|check]" >&2
    exit 2
    ;;
esac
