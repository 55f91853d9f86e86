#!/usr/bin/env bash
# The README is a contract: every receiver example builds, as written, in a fresh cargo
# project whose [dependencies] are exactly the block the README shows for it.
#
# For each `<!-- readme-project: NAME deps -->` / `<!-- readme-project: NAME main -->`
# marker pair in README.md and adapters/README.md (the fenced block right after each
# marker), this creates target/readme-projects/<readme>-<NAME>/ with
#   - Cargo.toml: that [dependencies] block verbatim, plus [patch.crates-io] pointing the
#     SDK crates it names at this workspace (they are not on crates.io yet);
#   - src/main.rs: the README's Rust block verbatim (it must be a complete program);
#   - Cargo.lock: a copy of the workspace's, so the versions CI tests are the ones used;
# resolves offline (online only when the workspace lock and the local cache lack a crate),
# and builds it with `cargo build` into the workspace's target dir to share artifacts.
# Exits non-zero, naming each example that does not build.
#
# Usage: bash scripts/readme_projects.sh [README ...]   (default: README.md adapters/README.md)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
case "$CARGO_TARGET_DIR" in /*) ;; *) CARGO_TARGET_DIR="$root/$CARGO_TARGET_DIR" ;; esac
projects="$CARGO_TARGET_DIR/readme-projects"

if [ "$#" -gt 0 ]; then readmes=("$@"); else readmes=(README.md adapters/README.md); fi
# Examples the root README must keep: one per framework adapter.
required_root=(axum actix-web warp)
# The SDK crates of this workspace: (crate name, path).
sdk_crates=()
for dir in megabot-webhook-types megabot-webhook-verify sender adapters forward; do
  name="$(sed -n 's/^name = "\(.*\)"$/\1/p' "$dir/Cargo.toml" | head -n 1)"
  sdk_crates+=("$name=$root/$dir")
done

die() { echo "readme_projects: error: $*" >&2; exit 1; }

# Prints the fenced block that follows `<!-- readme-project: $2 $3 -->` in README $1.
block() {
  awk -v marker="<!-- readme-project: $2 $3 -->" '
    $0 == marker { found = 1; next }
    found && !open && /^```/ { open = 1; next }
    found && !open && NF > 0 { exit 2 }   # text between the marker and its block
    open && /^```/ { done = 1; exit }
    open { print }
    END { if (!done) exit 3 }
  ' "$1" || die "$1: no fenced block right after <!-- readme-project: $2 $3 -->"
}

failed=()
built=()
for readme in "${readmes[@]}"; do
  [ -f "$readme" ] || die "$readme not found"
  slug="$(dirname "$readme")"; [ "$slug" = "." ] && slug=root; slug="${slug//\//-}"
  names="$(sed -n 's/^<!-- readme-project: \([A-Za-z0-9_-]*\) deps -->$/\1/p' "$readme")"
  [ -n "$names" ] || die "$readme has no <!-- readme-project: NAME deps --> markers"
  if [ "$readme" = README.md ]; then
    for want in "${required_root[@]}"; do
      grep -qx "$want" <<<"$names" || die "README.md lost its '$want' example (marker readme-project: $want deps)"
    done
  fi
  for name in $names; do
    project="$projects/$slug-$name"
    echo "== $readme: $name -> $project"
    deps="$(block "$readme" "$name" deps)"
    main="$(block "$readme" "$name" main)"
    grep -q '^\[dependencies\]$' <<<"$deps" || die "$readme ($name): the deps block has no [dependencies] table"
    grep -Eq '^(async )?fn main\(' <<<"$main" \
      || die "$readme ($name): the Rust block is not a complete program (no fn main)"
    rm -rf "$project"
    mkdir -p "$project/src"
    {
      printf '[package]\nname = "readme-%s-%s"\nversion = "0.0.0"\nedition = "2024"\npublish = false\n\n' "$slug" "$name"
      printf '%s\n' "$deps"
      patch=""
      for entry in "${sdk_crates[@]}"; do
        crate="${entry%%=*}"; path="${entry#*=}"
        if grep -Eq "^$crate[[:space:]]*=" <<<"$deps"; then
          patch+="$crate = { path = \"$path\" }"$'\n'
        fi
      done
      if [ -n "$patch" ]; then printf '\n[patch.crates-io]\n%s' "$patch"; fi
      # Its own workspace: target/ lies inside this repository's workspace.
      printf '\n[workspace]\n'
    } >"$project/Cargo.toml"
    printf '%s\n' "$main" >"$project/src/main.rs"
    cp Cargo.lock "$project/Cargo.lock"
    manifest=(--manifest-path "$project/Cargo.toml")
    # Resolve against the workspace's lock offline; go online only for what is missing.
    if ! cargo metadata "${manifest[@]}" --offline --format-version 1 >/dev/null 2>"$project/resolve.log"; then
      echo "   (offline resolution failed; resolving online)"
      cargo fetch "${manifest[@]}" || die "$readme ($name): its dependencies do not resolve"
    fi
    if cargo build "${manifest[@]}" --offline; then
      built+=("$readme: $name")
    else
      echo "readme_projects: FAILED: the '$name' example of $readme does not build with its [dependencies]" >&2
      failed+=("$readme: $name ($project)")
    fi
  done
done

echo
for ok in "${built[@]}"; do echo "ok      $ok"; done
if [ "${#failed[@]}" -gt 0 ]; then
  for bad in "${failed[@]}"; do echo "FAILED  $bad" >&2; done
  exit 1
fi
echo "readme_projects: all ${#built[@]} README examples build as written"
