//! The sender's body bytes are exactly Python's
//! `json.dumps(payload, separators=(",", ":"))`, on every fixture and on
//! generated unicode and float payloads.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use megabot_webhook_sender::Delivery;
use megabot_webhook_types::Event;
use serde_json::{Map, Value, json};

/// Runs Python's `json.dumps(json.loads(line), separators=(",", ":"))` on each
/// input line (split on `\n` only).
fn python_dumps(lines: &[String]) -> Vec<Vec<u8>> {
    const SCRIPT: &str = r#"
import json, sys
out = sys.stdout.buffer
data = sys.stdin.buffer.read().split(b"\n")
if data and data[-1] == b"":
    data.pop()
for line in data:
    out.write(json.dumps(json.loads(line.decode("utf-8")), separators=(",", ":")).encode("ascii") + b"\n")
out.flush()
"#;
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 must be installed (scripts/test.sh installs it)");
    let input = lines.join("\n") + "\n";
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        output.status.success(),
        "python3 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut result: Vec<Vec<u8>> = output
        .stdout
        .split(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    assert_eq!(result.pop(), Some(Vec::new()));
    assert_eq!(result.len(), lines.len());
    result
}

fn fixture_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../megabot-webhook-types/tests/data/events");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 10);
    files
}

#[test]
fn every_fixture_is_sent_as_python_writes_it() {
    let files = fixture_files();
    // Python reads each file as the guide's signer gets its payload.
    let lines: Vec<String> = files
        .iter()
        .map(|path| {
            let value: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
            serde_json::to_string(&value).unwrap()
        })
        .collect();
    let expected = python_dumps(&lines);
    for (path, expected) in files.iter().zip(expected) {
        let bytes = std::fs::read(path).unwrap();
        let from_event = Delivery::from_event(&Event::from_slice(&bytes).unwrap()).unwrap();
        assert_eq!(
            String::from_utf8_lossy(from_event.body()),
            String::from_utf8_lossy(&expected),
            "{}",
            path.display()
        );
        let from_file = Delivery::from_json(&bytes).unwrap();
        assert_eq!(from_file.body(), expected.as_slice(), "{}", path.display());
    }
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn char(&mut self) -> char {
        let ranges: [(u32, u32); 9] = [
            (0x20, 0x7e),
            (0x00, 0x1f),
            (0x7f, 0xa0),
            (0xa1, 0x2ff),
            (0x300, 0x36f),
            (0x2000, 0x206f),
            (0x4e00, 0x9fff),
            (0xe000, 0xfffd),
            (0x1_0000, 0x10_ffff),
        ];
        let (low, high) = ranges[usize::try_from(self.below(ranges.len() as u64)).unwrap()];
        let code = low + u32::try_from(self.below(u64::from(high - low + 1))).unwrap();
        char::from_u32(code).unwrap_or('\u{fffd}')
    }

    fn string(&mut self) -> String {
        let specials = [
            "\"", "\\", "/", "\u{2028}", "\u{2029}", "\u{feff}", "😀", "é", "\u{7f}", "\t\n\r",
        ];
        (0..self.below(12))
            .map(|_| {
                if self.below(4) == 0 {
                    specials[usize::try_from(self.below(specials.len() as u64)).unwrap()].to_owned()
                } else {
                    self.char().to_string()
                }
            })
            .collect()
    }

    fn float(&mut self) -> f64 {
        let specials = [
            0.0,
            -0.0,
            1.0,
            100.0,
            28.5,
            1e16,
            1e-5,
            1e-4,
            0.1 + 0.2,
            5e-324,
            1.797_693_134_862_315_7e308,
            123_456_789.123,
            1e22,
            9_007_199_254_740_992.0,
            0.000_123,
            1.5e300,
            -2.5e-7,
            1e15,
            9.999_999_999_999_998e15,
        ];
        if self.below(3) == 0 {
            return specials[usize::try_from(self.below(specials.len() as u64)).unwrap()];
        }
        loop {
            let value = f64::from_bits(self.next());
            if value.is_finite() {
                return value;
            }
        }
    }

    fn value(&mut self, depth: u32) -> Value {
        match self.below(if depth > 2 { 5 } else { 7 }) {
            0 => Value::String(self.string()),
            1 => json!(self.float()),
            2 => json!(self.next() as i64),
            3 => json!(self.below(2) == 0),
            4 => Value::Null,
            5 => Value::Array((0..self.below(4)).map(|_| self.value(depth + 1)).collect()),
            _ => Value::Object(
                (0..self.below(4))
                    .map(|_| (self.string(), self.value(depth + 1)))
                    .collect::<Map<String, Value>>(),
            ),
        }
    }
}

fn generated(count: u64) -> Vec<Value> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..count)
        .map(|n| {
            let mut data = Map::new();
            data.insert("content".into(), Value::String(rng.string()));
            data.insert("ratio".into(), json!(rng.float()));
            for _ in 0..rng.below(5) {
                data.insert(rng.string(), rng.value(0));
            }
            json!({"event": "generated_event", "id": format!("evt_gen_{n}"), "timestamp": 1_640_995_200 + n, "data": data})
        })
        .collect()
}

#[test]
fn generated_unicode_and_float_payloads_are_sent_as_python_writes_them() {
    let payloads = generated(400);
    let lines: Vec<String> = payloads
        .iter()
        .map(|p| serde_json::to_string(p).unwrap())
        .collect();
    let expected = python_dumps(&lines);
    // The comparison means something: most payloads need Python's escapes or float forms.
    let differing = lines
        .iter()
        .zip(&expected)
        .filter(|(l, e)| l.as_bytes() != e.as_slice())
        .count();
    assert!(
        differing > 300,
        "only {differing} payloads differ from serde_json's output"
    );
    for ((payload, line), expected) in payloads.iter().zip(&lines).zip(expected) {
        let from_json = Delivery::from_json(line.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8_lossy(from_json.body()),
            String::from_utf8_lossy(&expected),
            "input {line}"
        );
        // The same payload as a typed (unknown) event.
        let event = Event::from_slice(line.as_bytes()).unwrap();
        let from_event = Delivery::from_event(&event).unwrap();
        assert_eq!(from_event.body(), expected.as_slice(), "input {line}");
        assert!(from_event.body().is_ascii());
        assert_eq!(from_event.id(), payload["id"]);
    }
}
