//! Runs one workload a fixed number of times, for instruction counts under
//! `valgrind --tool=callgrind` (this machine has no hardware counters for `perf stat`):
//!
//! ```text
//! cargo build --release -p megabot-webhook-benches --example workload
//! valgrind --tool=callgrind target/release/examples/workload typed:chat_message_received 10000
//! ```
//!
//! Workloads: `typed:<event>`, `value:<event>` (the built-in examples), `hmac:<bytes>`,
//! `signature:<bytes>`, `authenticate:<bytes>`, `verify:<bytes>` (MegaBot scheme, full `verify_at`).

use std::hint::black_box;

use chrono::DateTime;
use hmac::{Hmac, KeyInit, Mac};
use megabot_webhook_types::{Event, EventName, examples};
use megabot_webhook_verify::sign::megabot_signature;
use megabot_webhook_verify::signature::verify_megabot_signature;
use megabot_webhook_verify::{Secret, Verifier};
use sha2::Sha256;

const SECRET: &str = "your_webhook_secret";
const TIMESTAMP: i64 = 1_640_995_200;

fn event_body(len: usize) -> Vec<u8> {
    let head = format!(
        r#"{{"event":"error_occurred","id":"evt_123462","timestamp":{TIMESTAMP},"data":{{"error_id":"err_789","type":"LLMProviderError","message":""#
    );
    let tail = r#"","severity":"error"}}"#;
    let mut body = head.into_bytes();
    body.extend(std::iter::repeat_n(b'x', len - body.len() - tail.len()));
    body.extend_from_slice(tail.as_bytes());
    body
}

fn main() {
    let mut args = std::env::args().skip(1);
    let workload = args.next().expect("workload");
    let iterations: u64 = args.next().map_or(10_000, |n| n.parse().expect("count"));
    let (kind, arg) = workload.split_once(':').expect("kind:arg");
    let secret = Secret::new(SECRET).expect("secret");
    let now = DateTime::from_timestamp(TIMESTAMP, 0).expect("time");
    match kind {
        "typed" | "value" => {
            let name = EventName::from_name(arg).expect("event name");
            let body = examples::example(name).to_guide_json();
            for _ in 0..iterations {
                if kind == "typed" {
                    black_box(Event::from_slice(black_box(&body)).expect("parses"));
                } else {
                    black_box(
                        serde_json::from_slice::<serde_json::Value>(black_box(&body))
                            .expect("parses"),
                    );
                }
            }
        }
        "hmac" | "signature" | "authenticate" | "verify" => {
            let body = event_body(arg.parse().expect("size"));
            let header = megabot_signature(&secret, &body);
            let secrets = [secret.clone()];
            let verifier = Verifier::builder()
                .megabot_secret(secret)
                .build()
                .expect("verifier");
            let headers = [("X-MegaBot-Signature", header.as_str())];
            for _ in 0..iterations {
                match kind {
                    "hmac" => {
                        let mut mac =
                            Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
                        mac.update(black_box(&body));
                        black_box(mac.finalize());
                    }
                    "authenticate" => {
                        black_box(
                            verifier
                                .authenticate_at(&headers, black_box(&body), now)
                                .expect("valid"),
                        );
                    }
                    "signature" => {
                        black_box(
                            verify_megabot_signature(&secrets, &header, black_box(&body))
                                .expect("valid"),
                        );
                    }
                    _ => {
                        black_box(
                            verifier
                                .verify_at(&headers, black_box(&body), now)
                                .expect("valid"),
                        );
                    }
                }
            }
        }
        other => panic!("unknown workload {other}"),
    }
}
