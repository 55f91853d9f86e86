#!/usr/bin/env bash
# Prints one Markdown table row per fuzz log: target, time, executions, speed, edges,
# features, working corpus (from libFuzzer's final "DONE" line).
#   bash fuzz/stats.sh fuzz/logs/*.log
for log in "$@"; do
  target=$(basename "$log" .log)
  done_line=$(grep -E '^#[0-9]+\s+DONE' "$log" | tail -1)
  if [ -z "$done_line" ]; then echo "| $target | (no DONE line: still running or crashed) |"; continue; fi
  execs=$(sed -E 's/^#([0-9]+).*/\1/' <<<"$done_line")
  cov=$(grep -oE 'cov: [0-9]+' <<<"$done_line" | cut -d' ' -f2)
  ft=$(grep -oE 'ft: [0-9]+' <<<"$done_line" | cut -d' ' -f2)
  corp=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]+' <<<"$done_line" | cut -d' ' -f2)
  speed=$(grep -oE 'exec/s: [0-9]+' <<<"$done_line" | cut -d' ' -f2)
  secs=$(grep -oE 'max_total_time=[0-9]+' "$log" | head -1 | cut -d= -f2)
  echo "| \`$target\` | ${secs:-?} s | $execs | $speed /s | $cov | $ft | $corp |"
done
