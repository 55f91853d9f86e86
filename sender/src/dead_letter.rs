//! Deliveries that failed for good, kept so that nothing is lost.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::config::{EndpointConfig, Headers, RetryPolicy};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::delivery::Delivery;
use crate::Error;

/// The version of the dead-letter record format.
pub const DEAD_LETTER_VERSION: u32 = 1;

/// A delivery that exhausted its attempts or got a final answer, with
/// everything needed to send it again except the signing secrets (those come
/// from the sender that redelivers it).
///
/// In a JSON Lines file each record is one line:
/// `{"version":1,"failed_at":...,"url":...,"headers":{...},"event":...,"id":...,
/// "timestamp":...,"body":"<the exact body>",...,"last_error":...}`.
/// A body that is not UTF-8 is kept in `body_base64` instead of `body`.
///
/// `headers` holds the endpoint's configured header values (often
/// credentials): the file is created readable by its owner only, and `Debug`
/// shows header names only.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The record format version ([`DEAD_LETTER_VERSION`]).
    pub version: u32,
    /// When the delivery was given up, unix seconds.
    pub failed_at: i64,
    /// The endpoint's URL.
    pub url: String,
    /// The endpoint's configured extra headers.
    #[serde(default)]
    pub headers: Headers,
    /// Whether the endpoint allowed `http://` to a host that is not loopback.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// Whether the endpoint signed with Standard Webhooks too.
    #[serde(default)]
    pub standard_webhooks: bool,
    /// The endpoint's per-attempt timeout in seconds.
    pub timeout: f64,
    /// The endpoint's retry policy.
    pub retry_policy: RetryPolicy,
    /// The event name.
    pub event: String,
    /// The event id.
    pub id: String,
    /// The event's unix seconds.
    pub timestamp: i64,
    /// The exact body, when it is UTF-8 (always, for events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// The exact body in base64, when it is not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// Attempts made before it was given up.
    pub attempts: u32,
    /// The status of the last attempt, when the endpoint answered it.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: String,
}

impl DeadLetter {
    /// A record of `delivery` to `endpoint`, given up at `failed_at`.
    pub(crate) fn new(
        endpoint: &EndpointConfig,
        delivery: &Delivery,
        failed_at: i64,
        attempts: u32,
        last_status: Option<u16>,
        last_error: String,
    ) -> DeadLetter {
        let (body, body_base64) = match std::str::from_utf8(delivery.body()) {
            Ok(text) => (Some(text.to_owned()), None),
            Err(_) => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(delivery.body())),
            ),
        };
        DeadLetter {
            version: DEAD_LETTER_VERSION,
            failed_at,
            url: endpoint.url.clone(),
            headers: endpoint.headers.clone(),
            allow_insecure_http: endpoint.allow_insecure_http,
            standard_webhooks: endpoint
                .standard_webhooks
                .as_ref()
                .is_some_and(|s| s.enabled),
            timeout: endpoint.timeout,
            retry_policy: endpoint.retry_policy,
            event: delivery.event().to_owned(),
            id: delivery.id().to_owned(),
            timestamp: delivery.timestamp(),
            body,
            body_base64,
            attempts,
            last_status,
            last_error,
        }
    }

    /// The delivery to make again: the same name, id, timestamp and body bytes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDelivery`] when the record has no body or an invalid one.
    pub fn delivery(&self) -> Result<Delivery, Error> {
        let body = match (&self.body, &self.body_base64) {
            (Some(text), _) => text.as_bytes().to_vec(),
            (None, Some(encoded)) => base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| Error::InvalidDelivery {
                    message: "dead letter's body_base64 is not valid base64".to_owned(),
                })?,
            (None, None) => {
                return Err(Error::InvalidDelivery {
                    message: "dead letter has no body".to_owned(),
                });
            }
        };
        Delivery::new(self.event.clone(), self.id.clone(), self.timestamp, body)
    }

    /// The endpoint as recorded, signing with the redelivering sender's
    /// `secret_key` (secrets are never written to the file).
    pub fn endpoint_config(&self) -> EndpointConfig {
        let mut endpoint = EndpointConfig::new(self.url.clone());
        endpoint.headers = self.headers.clone();
        endpoint.allow_insecure_http = self.allow_insecure_http;
        endpoint.timeout = self.timeout;
        endpoint.retry_policy = self.retry_policy;
        endpoint
    }
}

impl fmt::Debug for DeadLetter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadLetter")
            .field("failed_at", &self.failed_at)
            .field("url", &self.url)
            .field("headers", &self.headers)
            .field("event", &self.event)
            .field("id", &self.id)
            .field("timestamp", &self.timestamp)
            .field("attempts", &self.attempts)
            .field("last_status", &self.last_status)
            .field("last_error", &self.last_error)
            .finish_non_exhaustive()
    }
}

/// Where failed deliveries go.
pub trait DeadLetterSink: Send + Sync + fmt::Debug {
    /// Keeps `letter`.
    ///
    /// # Errors
    ///
    /// When it could not be kept; the delivery report then carries the error.
    fn store(&self, letter: &DeadLetter) -> Result<(), Error>;
}

/// Keeps dead letters in memory (the default sink).
#[derive(Debug, Default)]
pub struct MemoryDeadLetters {
    letters: Mutex<Vec<DeadLetter>>,
}

impl MemoryDeadLetters {
    /// An empty sink.
    pub fn new() -> MemoryDeadLetters {
        MemoryDeadLetters::default()
    }

    /// A copy of the letters kept so far.
    pub fn letters(&self) -> Vec<DeadLetter> {
        self.lock().clone()
    }

    /// Takes the letters kept so far, leaving the sink empty.
    pub fn take(&self) -> Vec<DeadLetter> {
        std::mem::take(&mut *self.lock())
    }

    /// How many letters are kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether no letter is kept.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<DeadLetter>> {
        self.letters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl DeadLetterSink for MemoryDeadLetters {
    fn store(&self, letter: &DeadLetter) -> Result<(), Error> {
        self.lock().push(letter.clone());
        Ok(())
    }
}

/// Appends dead letters to a JSON Lines file, one record per line, synced to
/// disk before the delivery is reported. The file is created readable and
/// writable by its owner only (on Unix) and opened for each record, so it
/// may be moved away at any time (as [`Sender::redeliver`](super::Sender::redeliver) does).
#[derive(Debug)]
pub struct JsonlDeadLetters {
    path: PathBuf,
    lock: Mutex<()>,
}

impl JsonlDeadLetters {
    /// A sink appending to `path`.
    pub fn new(path: impl Into<PathBuf>) -> JsonlDeadLetters {
        JsonlDeadLetters {
            path: path.into(),
            lock: Mutex::new(()),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl DeadLetterSink for JsonlDeadLetters {
    fn store(&self, letter: &DeadLetter) -> Result<(), Error> {
        let mut line = serde_json::to_string(letter).map_err(|e| file_error(&self.path, e))?;
        line.push('\n');
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut file = open_append(&self.path).map_err(|e| file_error(&self.path, e))?;
        file.write_all(line.as_bytes())
            .map_err(|e| file_error(&self.path, e))?;
        file.sync_data().map_err(|e| file_error(&self.path, e))
    }
}

pub(crate) fn open_append(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Reads every record of a JSON Lines dead-letter file (blank lines are skipped).
///
/// # Errors
///
/// [`Error::DeadLetter`] when the file cannot be read or a line is not a
/// record; the message names the line.
pub fn read_dead_letters(path: impl AsRef<Path>) -> Result<Vec<DeadLetter>, Error> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| file_error(path, e))?;
    let mut letters = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| file_error(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let letter: DeadLetter = serde_json::from_str(&line)
            .map_err(|e| file_error(path, format_args!("line {}: {e}", index + 1)))?;
        letters.push(letter);
    }
    Ok(letters)
}

pub(crate) fn file_error(path: &Path, error: impl fmt::Display) -> Error {
    let message = error.to_string();
    let mut chars = message.chars();
    let message = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => message,
    };
    Error::DeadLetter {
        path: path.display().to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(id: &str, body: &[u8]) -> DeadLetter {
        let mut endpoint = EndpointConfig::new("https://example.com/hook");
        endpoint.headers.insert("Authorization", "token t0ps3cret");
        let delivery = Delivery::new("error_occurred", id, 1_640_995_205, body.to_vec()).unwrap();
        DeadLetter::new(
            &endpoint,
            &delivery,
            1_700_000_000,
            5,
            Some(503),
            "endpoint answered 503".into(),
        )
    }

    #[test]
    fn jsonl_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dead.jsonl");
        let sink = JsonlDeadLetters::new(&path);
        let text = letter(
            "evt_1",
            br#"{"event":"error_occurred","data":{"m":"\u00e9"}}"#,
        );
        let binary = letter("evt_2", &[0xff, 0x00, 0x80]);
        sink.store(&text).unwrap();
        sink.store(&binary).unwrap();
        let contents = std::fs::read_to_string(&path).unwrap();
        assert_eq!(contents.lines().count(), 2);
        assert!(
            contents.contains(
                r#""body":"{\"event\":\"error_occurred\",\"data\":{\"m\":\"\\u00e9\"}}""#
            ),
            "{contents}"
        );
        let read = read_dead_letters(&path).unwrap();
        assert_eq!(read, [text.clone(), binary.clone()]);
        assert_eq!(read[1].delivery().unwrap().body(), [0xff, 0x00, 0x80]);
        assert_eq!(
            read[0].endpoint_config().headers.get("authorization"),
            Some("token t0ps3cret")
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
        assert!(!format!("{text:?}").contains("t0ps3cret"));
    }

    #[test]
    fn bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dead.jsonl");
        let good = serde_json::to_string(&letter("evt_1", b"{}")).unwrap();
        std::fs::write(&path, format!("{good}\n\n{{\"version\":1}}\n")).unwrap();
        let error = read_dead_letters(&path).unwrap_err();
        assert!(
            error.to_string().contains("line 3: missing field"),
            "{error}"
        );
        let missing = read_dead_letters(dir.path().join("nope.jsonl")).unwrap_err();
        assert_eq!(missing.code(), "dead_letter");
    }

    #[test]
    fn memory_sink() {
        let sink = MemoryDeadLetters::new();
        sink.store(&letter("evt_1", b"{}")).unwrap();
        assert_eq!(sink.len(), 1);
        assert_eq!(sink.take().len(), 1);
        assert!(sink.is_empty());
    }
}
