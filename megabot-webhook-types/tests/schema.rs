//! The JSON Schema (feature `schema`) against an independent validator, Python's
//! `jsonschema` (installed by scripts/test.sh): every guide fixture and built-in example
//! validates, malformed envelopes are refused by both the validator and the parser, and
//! on a generated corpus the two agree both ways (docs/design.md 9.10).
#![cfg(feature = "schema")]

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};
use megabot_webhook_types::{Event, EventName, EventPayload, examples, schema};
use serde_json::{Map, Value, json};

/// Stands for `u64::MAX + 1` in a generated document (a `Value` cannot hold it).
const BIG: &str = "__BIG__";
/// Stands for `i64::MIN - 1`.
const NEGATIVE_BIG: &str = "__NEGATIVE_BIG__";

/// Whether the parser reads `body` as a typed (or unknown) event: what the schema means.
fn parser_accepts(body: &[u8]) -> bool {
    match Event::from_slice(body) {
        Ok(event) => !matches!(event.payload, EventPayload::Malformed { .. }),
        Err(_) => false,
    }
}

/// Validates every document with `tests/python/validate_schema.py`, in one Python process.
fn validate(test: &str, documents: &[String]) -> Vec<(bool, Option<String>)> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("schema-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let schema_path = dir.join("schema.json");
    let corpus_path = dir.join("corpus.json");
    std::fs::write(
        &schema_path,
        serde_json::to_vec(&schema::json_schema()).unwrap(),
    )
    .unwrap();
    std::fs::write(&corpus_path, serde_json::to_vec(documents).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/validate_schema.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(&schema_path)
        .arg(&corpus_path)
        .output()
        .expect("python3 runs (scripts/test.sh installs it and `jsonschema`)");
    assert!(
        output.status.success(),
        "the validator failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(results.len(), documents.len());
    results
        .into_iter()
        .map(|r| {
            (
                r["valid"].as_bool().unwrap(),
                r["error"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_fixture_and_example_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = json_files(&root.join("tests/data/events"));
    files.extend(json_files(&root.join("src/examples")));
    // The CLI's copy of the guide's fixtures.
    let cli = root.join("../cli/tests/data/events");
    if cli.is_dir() {
        files.extend(json_files(&cli));
    }
    assert!(files.len() >= 11, "{files:?}");
    let mut documents: Vec<String> = files
        .iter()
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect();
    for event in examples::all() {
        documents.push(String::from_utf8(event.to_guide_json()).unwrap());
    }
    for name in EventName::ALL {
        documents.push(examples::example_json(*name).to_owned());
    }
    for (document, (valid, error)) in documents.iter().zip(validate("fixtures", &documents)) {
        assert!(parser_accepts(document.as_bytes()), "{document}");
        assert!(valid, "{error:?}: {document}");
    }
}

#[test]
fn malformed_envelopes_are_refused_by_both() {
    let min = DateTime::<Utc>::MIN_UTC.timestamp();
    let max = DateTime::<Utc>::MAX_UTC.timestamp();
    let documents: Vec<String> = [
        "[]",
        "\"event\"",
        "null",
        "42",
        r#"{}"#,
        r#"{"id":"e","timestamp":1,"data":{}}"#,
        r#"{"event":"x","timestamp":1,"data":{}}"#,
        r#"{"event":"x","id":"e","data":{}}"#,
        r#"{"event":"x","id":"","timestamp":1}"#,
        r#"{"event":null,"id":"e","timestamp":1}"#,
        r#"{"event":7,"id":"e","timestamp":1}"#,
        r#"{"event":"x","id":7,"timestamp":1}"#,
        r#"{"event":"x","id":null,"timestamp":1}"#,
        r#"{"event":"x","id":"e","timestamp":"1640995200"}"#,
        r#"{"event":"x","id":"e","timestamp":1.5}"#,
        r#"{"event":"x","id":"e","timestamp":null}"#,
        &format!(r#"{{"event":"x","id":"e","timestamp":{}}}"#, max + 1),
        &format!(r#"{{"event":"x","id":"e","timestamp":{}}}"#, min - 1),
        r#"{"event":"x","id":"e","timestamp":18446744073709551615}"#,
        r#"{"event":"error_occurred","id":"e","timestamp":1}"#,
        r#"{"event":"error_occurred","id":"e","timestamp":1,"data":null}"#,
        r#"{"event":"error_occurred","id":"e","timestamp":1,"data":[]}"#,
        r#"{"event":"error_occurred","id":"e","timestamp":1,"data":"err"}"#,
        r#"{"event":"error_occurred","id":"e","timestamp":1,"data":{}}"#,
        r#"{"event":"error_occurred","id":"e","timestamp":1,"data":{"error_id":null}}"#,
        r#"{"event":"error_occurred","id":"e","timestamp":1,"data":{"error_id":5}}"#,
        r#"{"event":"error_occurred","id":"e","timestamp":1,"data":{"error_id":"x","severity":3}}"#,
        r#"{"event":"error_occurred","id":"e","timestamp":1,"data":{"error_id":"x","type":[]}}"#,
        r#"{"event":"chat_message_received","id":"e","timestamp":1,"data":{"message_id":"m","platform":{}}}"#,
        r#"{"event":"chat_message_received","id":"e","timestamp":1,"data":{"message_id":"m","attachments":{}}}"#,
        r#"{"event":"loki_execution_started","id":"e","timestamp":1,"data":{"execution_id":"x","estimated_tasks":-1}}"#,
        r#"{"event":"loki_execution_started","id":"e","timestamp":1,"data":{"execution_id":"x","estimated_tasks":2.5}}"#,
        r#"{"event":"loki_execution_started","id":"e","timestamp":1,"data":{"execution_id":"x","estimated_tasks":18446744073709551616}}"#,
        r#"{"event":"loki_execution_completed","id":"e","timestamp":1,"data":{"execution_id":"x","summary":{"code_lines":"many"}}}"#,
        r#"{"event":"loki_execution_completed","id":"e","timestamp":1,"data":{"execution_id":"x","summary":[]}}"#,
        r#"{"event":"tool_execution_failed","id":"e","timestamp":1,"data":{"execution_id":"x"}}"#,
        r#"{"event":"tool_execution_failed","id":"e","timestamp":1,"data":{"execution_id":"x","tool_name":"t","error":"boom"}}"#,
        r#"{"event":"memory_lesson_learned","id":"e","timestamp":1,"data":{"lesson_id":"l","tags":[1]}}"#,
        r#"{"event":"memory_lesson_learned","id":"e","timestamp":1,"data":{"lesson_id":"l","confidence":"high"}}"#,
        r#"{"event":"system_status_changed","id":"e","timestamp":1,"data":{"new_status":false}}"#,
    ]
    .map(str::to_owned)
    .to_vec();
    for (document, (valid, _)) in documents.iter().zip(validate("malformed", &documents)) {
        assert!(!parser_accepts(document.as_bytes()), "parser: {document}");
        assert!(!valid, "validator: {document}");
    }
}

/// Values of every JSON type, of both signs and past the integer limits.
fn replacements() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(""),
        json!("text"),
        json!("telegram"),
        json!([]),
        json!(["a"]),
        json!([1]),
        json!({}),
        json!({"a": 1}),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(BIG),
        json!(NEGATIVE_BIG),
    ]
}

/// The paths to every object member, from the envelope down to `depth` levels.
fn member_paths(value: &Value, prefix: &mut Vec<String>, depth: usize, out: &mut Vec<Vec<String>>) {
    let Value::Object(map) = value else { return };
    for (key, child) in map {
        prefix.push(key.clone());
        out.push(prefix.clone());
        if depth > 1 {
            member_paths(child, prefix, depth - 1, out);
        }
        prefix.pop();
    }
}

fn object_at<'a>(value: &'a mut Value, path: &[String]) -> Option<&'a mut Map<String, Value>> {
    let mut here = value;
    for key in path {
        here = here.as_object_mut()?.get_mut(key)?;
    }
    here.as_object_mut()
}

/// Documents derived from `base`: each member dropped, replaced by a value of each type,
/// each object given an unknown member, the event renamed to every known name and to an
/// unknown one.
fn mutations(base: &Value, out: &mut Vec<Value>) {
    out.push(base.clone());
    let mut paths = Vec::new();
    member_paths(base, &mut Vec::new(), 4, &mut paths);
    for path in &paths {
        let (key, parent) = path.split_last().unwrap();
        let mut dropped = base.clone();
        if let Some(map) = object_at(&mut dropped, parent) {
            map.shift_remove(key);
            out.push(dropped);
        }
        for replacement in replacements() {
            let mut replaced = base.clone();
            if let Some(map) = object_at(&mut replaced, parent) {
                map.insert(key.clone(), replacement);
                out.push(replaced);
            }
        }
    }
    let mut objects = vec![Vec::new()];
    objects.extend(paths.iter().cloned());
    for path in objects {
        let mut extended = base.clone();
        if let Some(map) = object_at(&mut extended, &path) {
            map.insert(
                "added_by_a_newer_megabot".to_owned(),
                json!({"x": [1, "y"]}),
            );
            out.push(extended);
        }
    }
    let mut names: Vec<&str> = EventName::ALL.iter().map(|n| n.as_str()).collect();
    names.extend(["brand_new_event", "", "ERROR_OCCURRED"]);
    for name in names {
        let mut renamed = base.clone();
        renamed["event"] = json!(name);
        out.push(renamed);
    }
}

fn corpus() -> Vec<String> {
    let mut bases: Vec<Value> = examples::all().iter().map(Event::to_value).collect();
    // Minimal known events: only the required fields.
    bases.extend([
        json!({"event": "error_occurred", "id": "e", "timestamp": 0, "data": {"error_id": "x"}}),
        json!({"event": "system_status_changed", "id": "e", "timestamp": 0, "data": {}}),
        json!({"event": "deployment_completed", "id": "e", "timestamp": 0, "data": {}}),
        json!({"event": "brand_new_event", "id": "evt_9", "timestamp": 1700000000,
               "data": {"anything": [1, {"x": null}], "severity": 3}}),
        json!({"event": "brand_new_event", "id": "evt_9", "timestamp": 1700000000}),
    ]);
    let mut documents = Vec::new();
    for base in &bases {
        mutations(base, &mut documents);
    }
    let min = DateTime::<Utc>::MIN_UTC.timestamp();
    let max = DateTime::<Utc>::MAX_UTC.timestamp();
    for timestamp in [min - 1, min, -1, 0, max, max + 1, i64::MAX] {
        documents.push(json!({"event": "x", "id": "e", "timestamp": timestamp}));
    }
    documents
        .iter()
        .map(|document| {
            serde_json::to_string(document)
                .unwrap()
                .replace(&format!("\"{BIG}\""), "18446744073709551616")
                .replace(&format!("\"{NEGATIVE_BIG}\""), "-9223372036854775809")
        })
        .collect()
}

#[test]
fn the_schema_and_the_parser_agree_both_ways_on_a_generated_corpus() {
    let documents = corpus();
    let verdicts = validate("corpus", &documents);
    let mut disagreements = Vec::new();
    let (mut accepted, mut refused) = (0, 0);
    for (document, (valid, error)) in documents.iter().zip(verdicts) {
        let parsed = parser_accepts(document.as_bytes());
        if parsed != valid {
            let parser = match Event::from_slice(document.as_bytes()) {
                Ok(event) => format!("{:?}", event.payload),
                Err(error) => error.to_string(),
            };
            disagreements.push(format!(
                "parser {parsed} ({parser}), validator {valid} ({error:?}): {document}"
            ));
        } else if parsed {
            accepted += 1;
        } else {
            refused += 1;
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} disagree:\n{}",
        disagreements.len(),
        documents.len(),
        disagreements[..disagreements.len().min(20)].join("\n")
    );
    eprintln!(
        "{} documents: {accepted} accepted and {refused} refused by both",
        documents.len()
    );
    // Both verdicts are well represented.
    assert!(accepted > 500 && refused > 500, "{accepted} / {refused}");
}
