#!/usr/bin/env bash
# Runs every benchmark of issue 9 and prints the table of ratios against the targets.
#   bash benches/run.sh            # everything, about 6 minutes
#   bash benches/run.sh verify     # only the benches whose name contains "verify"
# The output is also kept in target/bench-results.txt; criterion's raw estimates are
# in target/criterion/. Run it on an otherwise idle machine: every ratio is measured
# side by side in this one run, but load from other processes adds noise.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/bench-results.txt
mkdir -p target
{
  echo "== machine"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  if grep -qw sha_ni /proc/cpuinfo; then echo "sha_ni: yes"; else echo "sha_ni: no"; fi
  echo "rustc: $(rustc -V)"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out"
filter="${1:-}"
for bench in verify parse replay replay_memory extract http sender; do
  if [ -n "$filter" ] && [[ "$bench" != *"$filter"* ]]; then continue; fi
  echo "== $bench" | tee -a "$out"
  cargo bench -q -p megabot-webhook-benches --bench "$bench" 2>&1 | tee -a "$out" | grep -E '^(http|sender|replay_memory)/' || true
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out"
python3 benches/summary.py target/criterion "$out"
