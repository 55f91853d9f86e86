#!/usr/bin/env python3
"""Prints the ratios of issue 9 from criterion's estimates (target/criterion) and the
lines the custom benches printed (target/bench-results.txt). Used by benches/run.sh."""
import json, os, re, sys

CRITERION, RESULTS = sys.argv[1], sys.argv[2]
SIZES = [256, 1024, 16384, 1048576]


def median_ns(*path):
    file = os.path.join(CRITERION, *map(str, path), "new", "estimates.json")
    try:
        with open(file) as f:
            return json.load(f)["median"]["point_estimate"]
    except FileNotFoundError:
        return None


def row(what, value, target, ok):
    mark = "n/a" if value is None else ("yes" if ok else "NO")
    shown = "-" if value is None else value
    print(f"| {what} | {shown} | {target} | {mark} |")


def size_name(size):
    return {256: "256 B", 1024: "1 KiB", 16384: "16 KiB", 1048576: "1 MiB"}[size]


print()
print("| measure | measured | target | met |")
print("|---|---|---|---|")
for scheme in ["megabot", "standard"]:
    for size in SIZES:
        raw = median_ns(scheme, "raw_hmac", size)
        for fn, label in [("authenticate", "signature + freshness"), ("verify", "verify_at (+ typed event)")]:
            ours = median_ns(scheme, fn, size)
            if raw is None or ours is None:
                continue
            if size <= 1024:
                r = ours / raw
                if fn == "authenticate":
                    row(f"{scheme} {label} time / raw HMAC time, {size_name(size)}", f"{r:.2f}x ({ours/1000:.2f} vs {raw/1000:.2f} us)", "<= 1.2x", r <= 1.2)
                else:
                    row(f"{scheme} {label} time / raw HMAC time, {size_name(size)}", f"{r:.2f}x ({ours/1000:.2f} vs {raw/1000:.2f} us)", "-", True)
            else:
                r = raw / ours
                mbs = size / ours * 1e9 / 1e6
                target = 0.9 if fn == "authenticate" else 0.8
                row(f"{scheme} {label} throughput / raw HMAC, {size_name(size)}", f"{r:.2f}x ({mbs:.0f} MB/s)", f">= {target}x", r >= target)
for size in SIZES:
    for peer in ["svix", "standardwebhooks"]:
        theirs = median_ns("standard", peer, size)
        for fn, label in [("authenticate", "signature + freshness"), ("verify", "verify_at (+ typed event)")]:
            ours = median_ns("standard", fn, size)
            if theirs is None or ours is None:
                continue
            r = theirs / ours
            row(f"{peer} verify time / ours ({label}), {size_name(size)}", f"{r:.1f}x ({theirs/1000:.2f} vs {ours/1000:.2f} us)", ">= 6x", r >= 6)
parse_dir = os.path.join(CRITERION, "parse", "typed")
if os.path.isdir(parse_dir):
    for event in sorted(os.listdir(parse_dir)):
        typed, value = median_ns("parse", "typed", event), median_ns("parse", "value", event)
        if typed and value:
            r = value / typed
            row(f"Value parse time / typed parse time, {event}", f"{r:.2f}x ({typed/1000:.2f} vs {value/1000:.2f} us)", ">= 1.5x", r >= 1.5)
for fn, label in [("claim_new", "claim of a new id"), ("claim_held", "claim of a held id")]:
    t = median_ns("replay_1m", fn)
    if t is not None:
        row(f"replay guard, {label}, 1M live ids", f"{t:.0f} ns", "<= 1 us", t <= 1000)
text = open(RESULTS).read() if os.path.exists(RESULTS) else ""
m = re.search(r"replay_memory/bytes_per_live_id_at_1m: ([0-9.]+)", text)
if m:
    row("replay guard memory per live id, 1M ids", f"{m.group(1)} B", "<= 128 B", float(m.group(1)) <= 128)
for fw in ["axum", "actix-web", "warp"]:
    m = re.search(rf"http/{fw}/ratio: ([0-9.]+)", text)
    b = re.search(rf"http/{fw}/bare: (.*)", text)
    w = re.search(rf"http/{fw}/webhook: (.*)", text)
    if m:
        row(f"{fw}: verify + typed extract req/s / bare Bytes req/s, 1 KiB", f"{float(m.group(1)):.2f}x (bare: {b.group(1)}; webhook: {w.group(1)})", ">= 0.85x", float(m.group(1)) >= 0.85)
m = re.search(r"sender/deliveries_per_second: ([0-9.]+)", text)
if m:
    row("sender signed deliveries/s to a loopback receiver", m.group(1), ">= 5000", float(m.group(1)) >= 5000)
m = re.search(r"sender/rss_growth_after_first_10k: ([0-9.-]+) MiB", text)
if m:
    row("sender resident set growth, deliveries 10k..100k", f"{m.group(1)} MiB", "flat", abs(float(m.group(1))) < 2)
verify, claim = median_ns("core_1k", "verify"), median_ns("core_1k", "claim")
for fw in ["axum", "actix", "warp"]:
    bare, hook = median_ns(f"{fw}_in_process_1k", "bare"), median_ns(f"{fw}_in_process_1k", "webhook")
    if bare and hook and verify and claim:
        own = hook - bare - verify - claim
        row(f"{fw}: the adapters' own work per request, in process, 1 KiB (webhook - bare - verify - claim)",
            f"{own/1000:.2f} us ({hook/1000:.2f} - {bare/1000:.2f} - {verify/1000:.2f} - {claim/1000:.2f})",
            "<= 0.7 us" if fw == "axum" else "measured", own <= 700 if fw == "axum" else True)
