//! Memory budget of the in-memory replay guard: at most 128 bytes per live id with a
//! million ids. Alone in its test binary so that nothing else allocates meanwhile.
//! Run with `cargo test -p megabot-webhook-verify --release --test perf_memory -- --ignored`
//! (Linux: reads the resident set size from `/proc/self/statm`).

use std::time::Duration;

use chrono::DateTime;
use megabot_webhook_verify::{ClaimOutcome, MemoryReplayGuard, ReplayGuard};

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm (Linux)");
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[tokio::test(flavor = "current_thread")]
#[ignore = "measures the process: run with --release -- --ignored"]
async fn a_million_live_ids_take_at_most_128_bytes_each() {
    const IDS: usize = 1_000_000;
    let now = DateTime::from_timestamp(1_000, 0).unwrap();
    let expires = DateTime::from_timestamp(2_000, 0).unwrap();
    let guard = MemoryReplayGuard::new(IDS);
    let mut id = String::with_capacity(32);
    let before = resident_bytes();
    for i in 0..IDS {
        use std::fmt::Write as _;
        id.clear();
        write!(id, "evt_{i:08}_with_a_rather_long_suffix").unwrap();
        let outcome = guard.claim(&id, expires, now).await.unwrap();
        assert!(matches!(outcome, ClaimOutcome::Claimed(_)));
    }
    std::thread::sleep(Duration::from_millis(10));
    let per_id = (resident_bytes() - before) as f64 / IDS as f64;
    println!("{per_id:.1} bytes per live id");
    assert_eq!(guard.len(), IDS);
    assert!(per_id <= 128.0, "{per_id:.1} bytes per live id");
}
