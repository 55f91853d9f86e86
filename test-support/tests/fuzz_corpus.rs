//! Replays every file of `fuzz/corpus/<target>/` through the function its fuzz target
//! calls, so the minimized corpus (and every past crash kept there) is checked on
//! stable, in CI, as an ordinary test.

use std::path::PathBuf;

use megabot_webhook_test_support::fuzz::TARGETS;

fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

fn replay(target: &str) {
    let (_, check) = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a known target");
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    for file in files {
        let data = std::fs::read(&file).expect("corpus file");
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{target}: {} fails", file.display());
    }
}

#[test]
fn every_target_has_a_replay_test() {
    let tested = [
        "megabot_signature_header",
        "standard_headers",
        "verify_request",
        "event_parse",
        "guide_json",
        "config_load",
        "dead_letter_record",
        "standard_v1a_keys",
        "standard_v1a_header",
    ];
    for (name, _) in TARGETS {
        assert!(tested.contains(name), "{name} has no replay test");
    }
}

#[test]
fn megabot_signature_header() {
    replay("megabot_signature_header");
}

#[test]
fn standard_headers() {
    replay("standard_headers");
}

#[test]
fn verify_request() {
    replay("verify_request");
}

#[test]
fn event_parse() {
    replay("event_parse");
}

#[test]
fn guide_json() {
    replay("guide_json");
}

#[test]
fn config_load() {
    replay("config_load");
}

#[test]
fn dead_letter_record() {
    replay("dead_letter_record");
}

#[test]
fn the_dead_letter_record_corpus_reaches_authentic_records() {
    // The seeds were sealed outside Rust (fuzz/README.md): this also checks
    // that the record format is implemented as documented.
    let dir = corpus_dir("dead_letter_record");
    let authentic = std::fs::read_dir(&dir)
        .expect("corpus")
        .map(|entry| std::fs::read(entry.expect("entry").path()).expect("file"))
        .filter(|data| megabot_webhook_test_support::fuzz::dead_letter_record_authentic(data))
        .count();
    assert!(
        authentic >= 3,
        "only {authentic} authentic records in {}",
        dir.display()
    );
}

#[test]
fn standard_v1a_keys() {
    replay("standard_v1a_keys");
}

#[test]
fn standard_v1a_header() {
    replay("standard_v1a_header");
}

#[test]
fn the_verify_request_corpus_reaches_acceptance() {
    // Guards against a corpus (or a clock constant) that only exercises refusals.
    let dir = corpus_dir("verify_request");
    let accepted = std::fs::read_dir(&dir)
        .expect("corpus")
        .map(|entry| std::fs::read(entry.expect("entry").path()).expect("file"))
        .filter(|data| megabot_webhook_test_support::fuzz::verify_request_accepts(data))
        .count();
    assert!(
        accepted >= 5,
        "only {accepted} accepted deliveries in {}",
        dir.display()
    );
}

#[test]
fn the_v1a_header_corpus_reaches_v1a_acceptance() {
    let dir = corpus_dir("standard_v1a_header");
    let accepted = std::fs::read_dir(&dir)
        .expect("corpus")
        .map(|entry| std::fs::read(entry.expect("entry").path()).expect("file"))
        .filter(|data| megabot_webhook_test_support::fuzz::standard_v1a_header_accepts(data))
        .count();
    assert!(
        accepted >= 3,
        "only {accepted} deliveries accepted through v1a in {}",
        dir.display()
    );
}
