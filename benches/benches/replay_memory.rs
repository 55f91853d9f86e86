//! Memory per live id of the in-memory replay guard at a million ids, measured as the
//! growth of the resident set (`/proc/self/statm`, Linux) while the ids are claimed:
//! no allocator hook, so no `unsafe`. Alone in its binary so that nothing else
//! allocates meanwhile. Run with `cargo bench -p megabot-webhook-benches --bench replay_memory`.

use chrono::DateTime;
use megabot_webhook_verify::{ClaimOutcome, MemoryReplayGuard, ReplayGuard};

const IDS: usize = 1_000_000;

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm (Linux)");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|pages| pages.parse().ok())
        .expect("resident pages");
    pages * 4096
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that names another bench skips this one.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !args.is_empty() && !args.iter().any(|a| "replay_memory".contains(a.as_str())) {
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let now = DateTime::from_timestamp(1_000, 0).expect("time");
    let expires = DateTime::from_timestamp(2_000, 0).expect("time");
    let guard = MemoryReplayGuard::new(IDS);
    let mut id = String::with_capacity(48);
    let before = resident_bytes();
    runtime.block_on(async {
        for i in 0..IDS {
            use std::fmt::Write as _;
            id.clear();
            // 36-byte ids; the guard keeps a 128-bit hash, so the length does not matter.
            write!(id, "evt_{i:08}_0123456789abcdefghijklm").expect("write");
            let outcome = guard.claim(&id, expires, now).await.expect("claim");
            assert!(matches!(outcome, ClaimOutcome::Claimed(_)));
        }
    });
    let after = resident_bytes();
    assert_eq!(guard.len(), IDS);
    let per_id = (after - before) as f64 / IDS as f64;
    println!("replay_memory/bytes_per_live_id_at_1m: {per_id:.1} (target <= 128)");
}
