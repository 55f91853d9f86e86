//! Interop with real Python peers: the `standardwebhooks` reference library from PyPI
//! (it signs → we verify; we sign → it verifies) and the guide's own `WebhookSigner`
//! (it signs → we verify), over generated bodies, ids, secrets and timestamps.
//!
//! Needs `python3` (or `$PYTHON`) with `pip install -r requirements-test.txt`; a
//! missing interpreter or package fails the test with instructions, it is never
//! skipped.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::at;
use megabot_webhook_verify::sign::{megabot_signature, standard_signature};
use megabot_webhook_verify::signature::verify_standard_signature;
use megabot_webhook_verify::{Scheme, Secret, StandardSecret, Verifier};
use serde_json::{Value, json};

const JOBS: usize = 200;

/// Runs `tests/python/interop.py <command>` with `jobs` on stdin.
fn python(command: &str, jobs: &Value) -> Vec<Value> {
    let interpreter = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/interop.py");
    let mut child = Command::new(&interpreter)
        .arg(script)
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run {interpreter:?} ({error}): install Python 3 and \
                 `pip install -r requirements-test.txt`, or set PYTHON"
            )
        });
    let input = serde_json::to_vec(jobs).unwrap();
    child
        .stdin
        .take()
        .expect("stdin piped")
        .write_all(&input)
        .expect("write jobs to python");
    let output = child.wait_with_output().expect("python finished");
    assert!(
        output.status.success(),
        "{interpreter} interop.py {command} failed ({}); if the `standardwebhooks` module \
         is missing run `pip install -r requirements-test.txt`:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Value = serde_json::from_slice(&output.stdout).expect("python wrote JSON");
    let results = results.as_array().expect("a JSON array").clone();
    assert_eq!(
        results.len(),
        jobs.as_array().map_or(0, Vec::len),
        "one result per job"
    );
    results
}

/// SplitMix64: deterministic test data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, min: usize, max: usize) -> Vec<u8> {
        let len = min + self.below(max - min + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }

    fn text(&mut self, max: usize) -> String {
        const POOL: &[&str] = &[
            "a", "Z", "0", "9", " ", ".", ",", "\"", "\\", "/", "{", "}", "\n", "\t", "é", "€",
            "中", "😀", "\u{2028}", "ß", "'", "=", "+", "_",
        ];
        let len = self.below(max + 1);
        (0..len).map(|_| POOL[self.below(POOL.len())]).collect()
    }

    fn id(&mut self) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
        let len = 1 + self.below(40);
        let id: String = (0..len)
            .map(|_| char::from(ALPHABET[self.below(ALPHABET.len())]))
            .collect();
        format!("msg_{id}")
    }

    fn whsec(&mut self) -> String {
        let secret = StandardSecret::from_bytes(&self.bytes(16, 64))
            .unwrap()
            .to_whsec_string();
        if self.below(2) == 0 {
            secret.trim_end_matches('=').to_owned()
        } else {
            secret
        }
    }

    fn json_value(&mut self, depth: usize) -> Value {
        match self.below(if depth == 0 { 5 } else { 7 }) {
            0 => Value::Null,
            1 => json!(self.below(2) == 0),
            2 => json!(self.next() as i64 >> self.below(63)),
            3 => {
                let x = (self.next() as f64 / u64::MAX as f64 - 0.5)
                    * 10f64.powi(self.below(40) as i32 - 20);
                json!(x)
            }
            4 => json!(self.text(30)),
            5 => Value::Array(
                (0..self.below(4))
                    .map(|_| self.json_value(depth - 1))
                    .collect(),
            ),
            _ => Value::Object(
                (0..self.below(4))
                    .map(|_| (self.text(8), self.json_value(depth - 1)))
                    .collect(),
            ),
        }
    }
}

#[test]
fn standardwebhooks_signs_we_verify() {
    let mut rng = Rng(0x5EED_0001);
    let mut jobs = Vec::new();
    for i in 0..JOBS {
        // Some bodies are event envelopes, so the full verifier can check them too.
        let body = if i % 4 == 0 {
            json!({"event": "chat_message_received", "id": rng.id(), "timestamp": 1_700_000_000 + i,
                   "data": {"content": rng.text(40)}})
            .to_string()
        } else {
            rng.text(300)
        };
        jobs.push(json!({
            "secret": rng.whsec(),
            "id": rng.id(),
            "timestamp": rng.below(4_000_000_000),
            "body": body,
        }));
    }
    let jobs = Value::Array(jobs);
    let signatures = python("standard-sign", &jobs);
    for (index, (job, signature)) in jobs.as_array().unwrap().iter().zip(&signatures).enumerate() {
        let secret = StandardSecret::parse(job["secret"].as_str().unwrap()).unwrap();
        let id = job["id"].as_str().unwrap();
        let timestamp = job["timestamp"].as_i64().unwrap();
        let body = job["body"].as_str().unwrap();
        let signature = signature.as_str().expect("a signature string");
        assert_eq!(
            verify_standard_signature(
                std::slice::from_ref(&secret),
                id,
                timestamp,
                signature,
                body.as_bytes()
            )
            .ok(),
            Some(0),
            "job {index}: python's signature {signature} does not verify"
        );
        assert_eq!(
            standard_signature(&secret, id, timestamp, body.as_bytes()),
            signature,
            "job {index}: we sign differently"
        );
        let mut tampered = body.as_bytes().to_vec();
        tampered.push(b' ');
        assert!(
            verify_standard_signature(
                std::slice::from_ref(&secret),
                id,
                timestamp,
                signature,
                &tampered
            )
            .is_err(),
            "job {index}: tampered body accepted"
        );
        if index % 4 == 0 {
            let verifier = Verifier::builder().standard_secret(secret).build().unwrap();
            let timestamp_text = timestamp.to_string();
            let headers = [
                ("webhook-id", id),
                ("webhook-timestamp", timestamp_text.as_str()),
                ("webhook-signature", signature),
            ];
            let verified = verifier
                .verify_at(&headers, body.as_bytes(), at(timestamp))
                .unwrap_or_else(|error| panic!("job {index}: {error}"));
            assert_eq!(verified.delivery.scheme, Scheme::StandardWebhooks);
            assert_eq!(verified.delivery.delivery_id, id);
        }
    }
}

#[test]
fn we_sign_standardwebhooks_verifies() {
    let mut rng = Rng(0x5EED_0002);
    let now = chrono::Utc::now().timestamp();
    let mut jobs = Vec::new();
    let mut expected = Vec::new();
    for i in 0..JOBS {
        let whsec = rng.whsec();
        let secret = StandardSecret::parse(&whsec).unwrap();
        let id = rng.id();
        // Python checks against its own clock with a 5 minute tolerance.
        let timestamp = now - 240 + rng.below(480) as i64;
        let body = rng.text(300);
        let mut signature = standard_signature(&secret, &id, timestamp, body.as_bytes());
        // Every fifth job is tampered with, so a verifier that accepts anything fails.
        let tampered = i % 5 == 4;
        let sent_body = if tampered { format!("{body}x") } else { body };
        if i % 7 == 3 {
            // Rotation: an unrelated entry first.
            signature = format!("v1,{} {signature}", "A".repeat(43) + "=");
        }
        jobs.push(json!({
            "secret": whsec,
            "headers": {
                "webhook-id": id,
                "webhook-timestamp": timestamp.to_string(),
                "webhook-signature": signature,
            },
            "body": sent_body,
        }));
        expected.push(!tampered);
    }
    let results = python("standard-verify", &Value::Array(jobs));
    for (index, (result, expected)) in results.iter().zip(expected).enumerate() {
        assert_eq!(
            result["ok"].as_bool(),
            Some(expected),
            "job {index}: python answered {result}"
        );
    }
}

#[test]
fn guide_webhook_signer_signs_we_verify() {
    let mut rng = Rng(0x5EED_0003);
    let mut jobs = Vec::new();
    for i in 0..JOBS {
        let secret = rng.text(30) + "k";
        let timestamp = 1_600_000_000 + rng.below(200_000_000) as i64;
        let mut data = serde_json::Map::new();
        for _ in 0..rng.below(6) {
            let key = rng.text(10);
            let value = rng.json_value(3);
            data.insert(key, value);
        }
        let event = [
            "chat_message_received",
            "error_occurred",
            "tool_execution_failed",
            "brand_new_event",
        ][i % 4];
        let payload = json!({
            "event": event,
            "id": format!("evt_{}", rng.id()),
            "timestamp": timestamp,
            "data": data,
        });
        jobs.push(json!({"secret": secret, "payload": payload}));
    }
    let jobs = Value::Array(jobs);
    let signed = python("guide-sign", &jobs);
    for (index, (job, signed)) in jobs.as_array().unwrap().iter().zip(&signed).enumerate() {
        let secret = Secret::new(job["secret"].as_str().unwrap()).unwrap();
        let body = signed["payload"]
            .as_str()
            .expect("payload string")
            .as_bytes();
        let signature = signed["signature"].as_str().expect("signature string");
        assert!(body.is_ascii(), "job {index}: the guide escapes non-ASCII");
        assert_eq!(
            megabot_signature(&secret, body),
            signature,
            "job {index}: we sign differently"
        );
        let verifier = Verifier::builder().megabot_secret(secret).build().unwrap();
        let timestamp = job["payload"]["timestamp"].as_i64().unwrap();
        let verified = verifier
            .verify_at(&[("X-MegaBot-Signature", signature)], body, at(timestamp))
            .unwrap_or_else(|error| {
                panic!("job {index}: {error} for {}", String::from_utf8_lossy(body))
            });
        assert_eq!(
            verified.delivery.delivery_id,
            job["payload"]["id"].as_str().unwrap(),
            "job {index}"
        );
        assert_eq!(
            verified.event.name(),
            job["payload"]["event"].as_str().unwrap(),
            "job {index}"
        );
        let mut tampered = body.to_vec();
        let last = tampered.len() - 2;
        tampered[last] ^= 0x01;
        assert!(
            verifier
                .verify_at(
                    &[("X-MegaBot-Signature", signature)],
                    &tampered,
                    at(timestamp)
                )
                .is_err(),
            "job {index}: tampered body accepted"
        );
    }
}
