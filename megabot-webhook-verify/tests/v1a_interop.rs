//! Interop of the asymmetric Standard Webhooks scheme (`v1a`, Ed25519) with an
//! independent Python implementation on the `cryptography` package
//! (`tests/python/ed25519_interop.py`): Python signs `{id}.{timestamp}.{body}` → we
//! verify; we sign → Python verifies; Python writes `whsk_`/`whpk_` keys → we parse them.
//!
//! The `standardwebhooks` package (1.1.0) has no `v1a` support, so it is not the peer
//! here (`supports` reports it). Needs `python3` (or `$PYTHON`) with
//! `pip install -r requirements-test.txt`; a missing interpreter or package fails the
//! test with instructions, it is never skipped.

use std::io::Write;
use std::process::{Command, Stdio};

use base64::Engine as _;
use megabot_webhook_verify::sign::standard_v1a_signature;
use megabot_webhook_verify::signature::verify_standard_v1a_signature;
use megabot_webhook_verify::{StandardPublicKey, StandardSigningKey};
use serde_json::{Value, json};

const JOBS: usize = 100;

/// Runs `tests/python/ed25519_interop.py <command>` with `jobs` on stdin.
fn python(command: &str, jobs: &Value) -> Vec<Value> {
    let interpreter = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/ed25519_interop.py"
    );
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
        "{interpreter} ed25519_interop.py {command} failed ({}); if the `cryptography` \
         module is missing run `pip install -r requirements-test.txt`:\n{}",
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

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn seed(&mut self) -> [u8; 32] {
        core::array::from_fn(|_| self.next().to_le_bytes()[0])
    }

    fn bytes(&mut self, max: u64) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.next().to_le_bytes()[0]).collect()
    }

    fn id(&mut self) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-";
        let len = 1 + self.below(40);
        let id: String = (0..len)
            .map(|_| {
                let index = usize::try_from(self.below(ALPHABET.len() as u64)).unwrap();
                char::from(ALPHABET[index])
            })
            .collect();
        format!("msg_{id}")
    }
}

struct Case {
    seed: [u8; 32],
    id: String,
    timestamp: i64,
    body: Vec<u8>,
}

fn cases(seed: u64) -> Vec<Case> {
    let mut rng = Rng(seed);
    (0..JOBS)
        .map(|_| Case {
            seed: rng.seed(),
            id: rng.id(),
            timestamp: i64::try_from(rng.below(4_000_000_000)).unwrap(),
            body: rng.bytes(300),
        })
        .collect()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn python_signs_we_verify() {
    let cases = cases(1);
    let jobs: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(index, case)| {
            let whsk = StandardSigningKey::from_seed(&case.seed).to_whsk_string();
            // Half the keys as a bare seed without padding, as a sender may hold them.
            let whsk = if index % 2 == 0 {
                whsk.to_string()
            } else {
                format!("whsk_{}", b64(&case.seed).trim_end_matches('='))
            };
            json!({"whsk": whsk, "id": case.id, "timestamp": case.timestamp, "body_b64": b64(&case.body)})
        })
        .collect();
    let signatures = python("v1a-sign", &Value::Array(jobs));
    for (case, signature) in cases.iter().zip(&signatures) {
        let signature = signature.as_str().expect("a string");
        let public = StandardSigningKey::from_seed(&case.seed).public_key();
        assert_eq!(
            verify_standard_v1a_signature(
                &[public],
                &case.id,
                case.timestamp,
                signature,
                &case.body
            )
            .unwrap(),
            0,
            "{signature}"
        );
        // Deterministic: we write the same entry.
        let ours = standard_v1a_signature(
            &StandardSigningKey::from_seed(&case.seed),
            &case.id,
            case.timestamp,
            &case.body,
        );
        assert_eq!(ours, signature);
    }
}

#[test]
fn we_sign_python_verifies() {
    let cases = cases(2);
    let mut jobs = Vec::new();
    for case in &cases {
        let key = StandardSigningKey::from_seed(&case.seed);
        let signature = standard_v1a_signature(&key, &case.id, case.timestamp, &case.body);
        let whpk = key.public_key().to_whpk_string();
        jobs.push(
            json!({"whpk": whpk, "id": case.id, "timestamp": case.timestamp,
            "body_b64": b64(&case.body), "signature": signature}),
        );
        // The same signature over a changed timestamp must be refused by Python too.
        jobs.push(
            json!({"whpk": whpk, "id": case.id, "timestamp": case.timestamp + 1,
            "body_b64": b64(&case.body), "signature": signature}),
        );
    }
    let results = python("v1a-verify", &Value::Array(jobs));
    for (index, result) in results.iter().enumerate() {
        let expected = index % 2 == 0;
        assert_eq!(result["ok"], json!(expected), "job {index}: {result}");
    }
}

#[test]
fn python_keys_parse_here() {
    let cases = cases(3);
    let jobs: Vec<Value> = cases
        .iter()
        .map(|case| json!({"seed_hex": hex::encode(case.seed)}))
        .collect();
    let keys = python("keypair", &Value::Array(jobs));
    for (case, pair) in cases.iter().zip(&keys) {
        let whsk = pair["whsk"].as_str().unwrap();
        let whpk = pair["whpk"].as_str().unwrap();
        let key = StandardSigningKey::parse(whsk).unwrap();
        let public = StandardPublicKey::parse(whpk).unwrap();
        assert_eq!(key.public_key(), public);
        assert_eq!(*key.to_whsk_string(), whsk);
        assert_eq!(
            StandardSigningKey::from_seed(&case.seed).public_key(),
            public
        );
    }
    // The reference library: report whether it gained v1a (it has none in 1.1.0).
    python("supports", &json!([]));
}
