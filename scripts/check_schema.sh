#!/usr/bin/env bash
# The generated files under schema/ (docs/design.md 9.10) are up to date: regenerates them
# with `megabot-webhook schema [--openapi]` into a temporary directory and fails, showing
# the difference, when a committed file differs. `--write` updates schema/ instead.
set -euo pipefail
cd "$(dirname "$0")/.."

write=false
if [ "${1:-}" = "--write" ]; then write=true; fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cargo build --quiet -p megabot-webhook-cli --bin megabot-webhook
bin="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/megabot-webhook"
"$bin" schema > "$tmp/megabot-webhook.schema.json"
"$bin" schema --openapi > "$tmp/openapi.json"

if $write; then
  mkdir -p schema
  cp "$tmp/megabot-webhook.schema.json" "$tmp/openapi.json" schema/
  echo "schema/ updated"
  exit 0
fi

stale=0
for file in megabot-webhook.schema.json openapi.json; do
  if ! diff -u "schema/$file" "$tmp/$file"; then
    stale=1
  fi
done
if [ "$stale" -ne 0 ]; then
  echo "error: schema/ is stale (the types or the API changed): run \`bash scripts/check_schema.sh --write\` and commit schema/" >&2
  exit 1
fi
echo "schema/ is up to date"
