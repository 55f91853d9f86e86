#!/usr/bin/env bash
# Fuzzes the given targets (default: all) for SECONDS each (default 600), niced, one
# after the other: release builds with debug assertions and overflow checks (-O -a),
# AddressSanitizer. New inputs go to corpus-work/<target>/; fuzz/minimize.py shrinks
# them into corpus/<target>/.
# Needs cargo-fuzz (`cargo install cargo-fuzz`); only stable Rust is needed: the
# sanitizer flags are unlocked with RUSTC_BOOTSTRAP=1.
#   bash fuzz/run.sh 600 event_parse guide_json
set -euo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
seconds="${1:-600}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi
mkdir -p logs
for target in "${targets[@]}"; do
  mkdir -p "corpus-work/$target" "corpus/$target"
  echo "== $target: ${seconds}s"
  nice -n 19 cargo fuzz run -O -a "$target" "corpus-work/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 -max_len=8192 \
    >"logs/$target.log" 2>&1 || { echo "$target FAILED, see fuzz/logs/$target.log"; tail -40 "logs/$target.log"; exit 1; }
  grep -E '^(#[0-9]+\s+DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "logs/$target.log" || true
done
