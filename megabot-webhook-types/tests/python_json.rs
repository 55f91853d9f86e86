//! `guide_json` against `python3` itself: the guide's signer writes
//! `json.dumps(payload, separators=(',', ':'))`, and our bytes must be exactly
//! those.
//!
//! Every comparison sends one batch to one Python process
//! (`tests/python/guide_dumps.py`). `python3` must be on `PATH` (or named by
//! the `PYTHON3` environment variable); without it these tests fail, they are
//! never skipped.
//!
//! The generated values come from a deterministic proptest RNG; set
//! `GUIDE_JSON_SEED=<u64>` to explore another seed and `GUIDE_JSON_CASES=<n>`
//! to change the batch size.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use megabot_webhook_types::guide_json;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde::Serialize;
use serde_json::{Map, Number, Value};

// ---------------------------------------------------------------------------
// Talking to Python
// ---------------------------------------------------------------------------

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn script() -> PathBuf {
    manifest_dir().join("tests/python/guide_dumps.py")
}

/// Runs the reference script and returns its output lines.
fn run_python(args: &[&str], stdin: Vec<u8>) -> Vec<Vec<u8>> {
    let python = std::env::var("PYTHON3").unwrap_or_else(|_| "python3".to_owned());
    let mut child = Command::new(&python)
        .arg(script())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "could not start `{python}` ({e}). These tests compare the guide-compatible \
                 JSON writer with Python's json.dumps and need python3 on PATH (or set \
                 PYTHON3=/path/to/python3); they are never skipped."
            )
        });
    let mut input = child.stdin.take().expect("piped stdin");
    let feeder = std::thread::spawn(move || input.write_all(&stdin));
    let output = child.wait_with_output().expect("waiting for python3");
    feeder
        .join()
        .expect("stdin feeder thread")
        .expect("writing to python3's stdin");
    assert!(
        output.status.success(),
        "python3 {} failed ({}):\n{}",
        script().display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let mut lines: Vec<Vec<u8>> = output
        .stdout
        .split(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    if lines.last().is_some_and(Vec::is_empty) {
        lines.pop();
    }
    lines
}

/// Python's `json.dumps(json.loads(line), separators=(',', ':'))` for each
/// input line.
fn python_redump(inputs: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut stdin = Vec::with_capacity(inputs.iter().map(|l| l.len() + 1).sum());
    for line in inputs {
        assert!(!line.contains(&b'\n'), "a JSON line holds a raw newline");
        stdin.extend_from_slice(line);
        stdin.push(b'\n');
    }
    let lines = run_python(&["lines"], stdin);
    assert_eq!(
        lines.len(),
        inputs.len(),
        "python3 answered a different number of lines"
    );
    lines
}

fn show(bytes: &[u8]) -> String {
    const LIMIT: usize = 2000;
    let text = String::from_utf8_lossy(bytes);
    if text.chars().count() > LIMIT {
        format!(
            "{}… ({} bytes)",
            text.chars().take(LIMIT).collect::<String>(),
            bytes.len()
        )
    } else {
        text.into_owned()
    }
}

/// Fails on the first pair that differs, naming the value and the first
/// differing byte.
fn assert_same_lines(what: &str, inputs: &[Vec<u8>], ours: &[Vec<u8>], python: &[Vec<u8>]) {
    for (i, ((input, ours), python)) in inputs.iter().zip(ours).zip(python).enumerate() {
        if ours != python {
            let at = ours
                .iter()
                .zip(python.iter())
                .take_while(|(a, b)| a == b)
                .count();
            panic!(
                "{what} #{i}: guide_json differs from python3 json.dumps at byte {at}\n\
                 input : {}\nours  : {}\npython: {}",
                show(input),
                show(ours),
                show(python)
            );
        }
    }
}

// ---------------------------------------------------------------------------
// (1) The guide's example events
// ---------------------------------------------------------------------------

fn fixture_paths() -> Vec<PathBuf> {
    let dir = manifest_dir().join("tests/data/events");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no fixtures in {}", dir.display());
    paths
}

#[test]
fn every_fixture_matches_python_byte_for_byte() {
    let paths = fixture_paths();
    let args: Vec<&str> = std::iter::once("files")
        .chain(
            paths
                .iter()
                .map(|p| p.to_str().expect("UTF-8 fixture path")),
        )
        .collect();
    let python = run_python(&args, Vec::new());
    assert_eq!(python.len(), paths.len());
    for (path, expected) in paths.iter().zip(&python) {
        let bytes = std::fs::read(path).expect("reading fixture");
        let value: Value =
            serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let ours = guide_json::to_vec(&value).expect("serialising a Value");
        assert!(
            ours == *expected,
            "{}: guide_json differs from python3\nours  : {}\npython: {}",
            name(path),
            show(&ours),
            show(expected)
        );
        assert_eq!(
            serde_json::from_slice::<Value>(&ours).expect("our bytes parse"),
            value,
            "{}",
            name(path)
        );
    }
}

fn name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

fn runner() -> TestRunner {
    match std::env::var("GUIDE_JSON_SEED") {
        Ok(seed) => {
            let seed: u64 = seed.parse().expect("GUIDE_JSON_SEED must be a u64");
            eprintln!("GUIDE_JSON_SEED={seed}");
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&seed.to_le_bytes());
            TestRunner::new_with_rng(
                Config::default(),
                TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
            )
        }
        Err(_) => TestRunner::deterministic(),
    }
}

fn cases(default: usize) -> usize {
    std::env::var("GUIDE_JSON_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn sample<S: Strategy>(strategy: &S, runner: &mut TestRunner, n: usize) -> Vec<S::Value> {
    (0..n)
        .map(|_| {
            strategy
                .new_tree(runner)
                .expect("generating a value")
                .current()
        })
        .collect()
}

/// Characters that exercise every escaping rule: plain ASCII, C0 controls,
/// DEL, quotes, backslashes, `/`, two- and three-byte UTF-8, line separators,
/// BOM, the BMP's edges and astral characters.
fn json_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => (0x20u8..0x7f).prop_map(char::from),
        2 => (0u8..0x20).prop_map(char::from),
        1 => prop::sample::select(vec!['\u{7f}', '"', '\\', '/', '\'', ' ']),
        2 => (0x80u32..0x800).prop_filter_map("not a char", char::from_u32),
        2 => (0x800u32..0x1_0000).prop_filter_map("surrogate", char::from_u32),
        2 => (0x1_0000u32..=0x10_ffff).prop_filter_map("not a char", char::from_u32),
        1 => prop::sample::select(vec![
            '\u{80}', '\u{85}', '\u{a0}', '\u{ff}', '\u{100}', '\u{2028}', '\u{2029}',
            '\u{d7ff}', '\u{e000}', '\u{feff}', '\u{fffd}', '\u{ffff}', '\u{1_0000}',
            '😀', '🎉', '𝄞', '\u{10_ffff}', 'é', 'ß', '日',
        ]),
    ]
}

fn json_string() -> impl Strategy<Value = String> {
    prop::collection::vec(json_char(), 0..24).prop_map(|chars| chars.into_iter().collect())
}

/// Values Python's `repr` has rules for: every bit pattern (so every binade
/// from subnormals to 1.8e308), short decimals at every magnitude
/// (`28.5`, `1e-05`, `3e+300`), integers as floats around the 1e16 switch to
/// scientific notation, and the edge cases by name.
fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => any::<u64>()
            .prop_map(f64::from_bits)
            .prop_filter("finite", |f| f.is_finite()),
        3 => (1u64..100_000, -330i32..=308, any::<bool>()).prop_filter_map(
            "out of range",
            |(m, e, neg)| {
                let f: f64 = format!("{}{m}e{e}", if neg { "-" } else { "" }).parse().ok()?;
                f.is_finite().then_some(f)
            },
        ),
        1 => (1u64..1_000_000_000_000_000_000, -330i32..=290).prop_filter_map(
            "out of range",
            |(m, e)| {
                let f: f64 = format!("{m}e{e}").parse().ok()?;
                f.is_finite().then_some(f)
            },
        ),
        2 => (-(1i64 << 62)..(1i64 << 62)).prop_map(|i| i as f64),
        2 => (0i32..=22, 1u64..100, any::<bool>()).prop_map(|(e, m, neg)| {
            let f = m as f64 * 10f64.powi(e);
            if neg { -f } else { f }
        }),
        1 => (1u64..(1 << 52)).prop_map(f64::from_bits),
        1 => prop::sample::select(vec![
            0.0, -0.0, 1.0, -1.0, 0.1, 0.2, 0.1 + 0.2, 100.0, 28.5, 1e-4, 1e-5, 9.999e-5,
            0.00012, 1e15, 1e16, 1e17, 9999999999999998.0, 10_000_000_000_000_000.0,
            1234567890123456.0, 12_345_678_901_234_568.0, 2f64.powi(53), 2f64.powi(53) + 2.0,
            1e21, 1e22, 1e23, 5e-324, -5e-324, 1e-320, 2.225073858507201e-308,
            f64::MIN_POSITIVE, f64::MAX, f64::MIN, f64::EPSILON, 1.5e300, 1e308,
            1640995210.0, 0.5, 2.5, 1.0 / 3.0, 2.0 / 3.0,
        ]),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        4 => finite_f64().prop_map(|f| Value::Number(Number::from_f64(f).expect("finite"))),
        4 => json_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((json_string(), inner), 0..6).prop_map(|entries| {
                // `preserve_order`: keys stay in insertion order.
                Value::Object(entries.into_iter().collect::<Map<String, Value>>())
            }),
        ]
    })
}

// ---------------------------------------------------------------------------
// (2) Generated values against Python, (3) round trip
// ---------------------------------------------------------------------------

/// Sends each value, as `serde_json`'s own compact JSON, through Python's
/// `json.loads` + `json.dumps`, and compares with `guide_json` on the same
/// value. Python parses every float to the same `f64` (`float_roundtrip`
/// makes ours exact too), so this compares the writers alone.
fn compare_values_with_python(what: &str, values: &[Value]) -> Vec<Vec<u8>> {
    let inputs: Vec<Vec<u8>> = values
        .iter()
        .map(|v| serde_json::to_vec(v).expect("serde_json writes the value"))
        .collect();
    let ours: Vec<Vec<u8>> = values
        .iter()
        .map(|v| guide_json::to_vec(v).expect("guide_json writes the value"))
        .collect();
    let python = python_redump(&inputs);
    assert_same_lines(what, &inputs, &ours, &python);

    for (i, (value, bytes)) in values.iter().zip(&ours).enumerate() {
        assert!(
            bytes.is_ascii(),
            "{what} #{i}: output is not ASCII: {}",
            show(bytes)
        );
        let back: Value = serde_json::from_slice(bytes).unwrap_or_else(|e| {
            panic!("{what} #{i}: output does not parse ({e}): {}", show(bytes))
        });
        assert_eq!(&back, value, "{what} #{i}: round trip changed the value");
        // Key order survives too (Value's == ignores it).
        assert_eq!(
            serde_json::to_vec(&back).expect("rewrite"),
            serde_json::to_vec(value).expect("rewrite"),
            "{what} #{i}: round trip changed the key order"
        );
    }
    ours
}

#[test]
fn generated_values_match_python() {
    let mut runner = runner();
    let values = sample(&json_value(), &mut runner, cases(2000));
    let ours = compare_values_with_python("value", &values);

    // The batch really exercised the interesting paths.
    let all = String::from_utf8(ours.concat()).expect("ASCII output");
    let has = |needle: &str| all.contains(needle);
    for needle in [
        "e+", "e-", "e-3", ".0,", "-0.0", r"\ud8", r"\udb", r"\u007f", r"\u0000", r"\u00e9",
        r#"\""#, r"\\", r"\n", r"\b", "/", "{}", "[]",
    ] {
        assert!(has(needle), "no generated output contains {needle:?}");
    }
}

#[test]
fn floats_across_magnitudes_match_python() {
    let mut runner = runner();
    // One array per value keeps each line tiny and the failure message clear.
    let floats = sample(&finite_f64(), &mut runner, cases(3000) * 8);
    let values: Vec<Value> = floats
        .iter()
        .map(|&f| Value::Array(vec![Value::Number(Number::from_f64(f).expect("finite"))]))
        .collect();
    compare_values_with_python("float", &values);

    // Every decade from subnormals to the top of the range, exactly.
    let decades: Vec<Value> = (-324..=308)
        .flat_map(|e| {
            [
                "1",
                "-1",
                "1.5",
                "9.999999999999999",
                "2.2250738585072014",
                "7",
            ]
            .into_iter()
            .filter_map(move |m| format!("{m}e{e}").parse::<f64>().ok())
        })
        .filter(|f| f.is_finite())
        .map(|f| Value::Array(vec![Value::Number(Number::from_f64(f).expect("finite"))]))
        .collect();
    compare_values_with_python("decade", &decades);
}

#[test]
fn strings_match_python() {
    let mut runner = runner();
    let strings = sample(&json_string(), &mut runner, cases(3000) * 2);
    let mut values: Vec<Value> = strings.into_iter().map(Value::String).collect();
    // Every BMP code point that is a char, and the astral edges, in one go.
    let bmp: String = (0u32..0x1_0000).filter_map(char::from_u32).collect();
    values.push(Value::String(bmp));
    values.push(Value::String(
        [
            '\u{1_0000}',
            '\u{1_ffff}',
            '\u{2_0000}',
            '\u{e_0000}',
            '\u{10_ffff}',
        ]
        .iter()
        .collect(),
    ));
    compare_values_with_python("string", &values);
}

// ---------------------------------------------------------------------------
// Typed values and Python's fixed point
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
enum Kind {
    Plain,
    Wrapped(f64),
    Pair(i8, String),
    Fields { x: f32, note: Option<String> },
}

#[derive(Debug, Clone, Serialize)]
struct Typed {
    id: u128,
    delta: i128,
    ratio: f64,
    single: f32,
    letter: char,
    label: String,
    missing: Option<u8>,
    kinds: Vec<Kind>,
    by_number: std::collections::BTreeMap<i32, bool>,
    unit: (),
}

fn typed() -> impl Strategy<Value = Typed> {
    let kind = prop_oneof![
        Just(Kind::Plain),
        finite_f64().prop_map(Kind::Wrapped),
        (any::<i8>(), json_string()).prop_map(|(a, b)| Kind::Pair(a, b)),
        (
            any::<f32>().prop_filter("finite", |f| f.is_finite()),
            prop::option::of(json_string())
        )
            .prop_map(|(x, note)| Kind::Fields { x, note }),
    ];
    (
        any::<u128>(),
        any::<i128>(),
        finite_f64(),
        any::<f32>().prop_filter("finite", |f| f.is_finite()),
        json_char(),
        json_string(),
        prop::option::of(any::<u8>()),
        prop::collection::vec(kind, 0..4),
        prop::collection::btree_map(any::<i32>(), any::<bool>(), 0..4),
    )
        .prop_map(
            |(id, delta, ratio, single, letter, label, missing, kinds, by_number)| Typed {
                id,
                delta,
                ratio,
                single,
                letter,
                label,
                missing,
                kinds,
                by_number,
                unit: (),
            },
        )
}

/// Typed structs (wide integers, `f32`, `char`, enums, integer map keys):
/// Python re-dumping `serde_json`'s bytes for the struct must give ours.
#[test]
fn typed_structs_match_python() {
    let mut runner = runner();
    let values = sample(&typed(), &mut runner, cases(3000) / 3);
    let inputs: Vec<Vec<u8>> = values
        .iter()
        .map(|v| serde_json::to_vec(v).expect("serde_json writes the struct"))
        .collect();
    let ours: Vec<Vec<u8>> = values
        .iter()
        .map(|v| guide_json::to_vec(v).expect("guide_json writes the struct"))
        .collect();
    let python = python_redump(&inputs);
    assert_same_lines("typed", &inputs, &ours, &python);
}

/// Our bytes are a fixed point of the guide receiver's re-serialisation:
/// `json.dumps(json.loads(ours), separators=(',', ':')) == ours`. NaN and the
/// infinities, which Python would write as `NaN`/`Infinity` (not JSON), go
/// out as `null`; an event cannot hold them at all (`FiniteF64`).
#[test]
fn output_is_a_fixed_point_of_python() {
    let mut runner = runner();
    let mut ours: Vec<Vec<u8>> = sample(&json_value(), &mut runner, cases(3000) / 3)
        .iter()
        .map(|v| guide_json::to_vec(v).expect("guide_json writes the value"))
        .collect();
    ours.extend(
        sample(&typed(), &mut runner, cases(3000) / 6)
            .iter()
            .map(|v| guide_json::to_vec(v).expect("guide_json writes the struct")),
    );
    let non_finite = (
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        [f32::NAN, f32::INFINITY, f32::NEG_INFINITY],
        Kind::Wrapped(f64::NAN),
    );
    let written = guide_json::to_vec(&non_finite).expect("guide_json writes non-finite floats");
    assert_eq!(
        written,
        br#"[null,null,null,[null,null,null],{"Wrapped":null}]"#
    );
    ours.push(written);
    let python = python_redump(&ours);
    assert_same_lines("fixed point", &ours, &ours, &python);
}
