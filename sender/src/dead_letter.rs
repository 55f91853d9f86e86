// Over 600 lines: 555 lines of code; the rest is its unit tests, kept beside it.
//! Deliveries that failed for good, kept so that nothing is lost.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::config::{ExtraHeaders, RetryPolicy};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::delivery::Delivery;
use super::endpoint::CompiledEndpoint;
use crate::Error;

/// The version of the dead-letter record format that is written (design 9.14).
pub const DEAD_LETTER_VERSION: u32 = 2;

/// The HKDF `info` of the key that authenticates dead-letter records.
const MAC_INFO: &[u8] = b"megabot dead letter v2";

/// The first bytes of what a record's MAC covers (domain separation).
const MAC_DOMAIN: &[u8] = b"megabot-dead-letter-v2\0";

/// The key that seals and checks dead-letter records v2: HKDF-SHA256 of a
/// MegaBot-scheme signing secret (no salt, info `"megabot dead letter v2"`).
///
/// `Debug` never shows it; it is zeroized on drop.
#[derive(Clone)]
pub struct DeadLetterKey(Zeroizing<[u8; 32]>);

impl DeadLetterKey {
    /// The key derived from the signing secret `secret` (its UTF-8 bytes).
    pub fn derive(secret: &str) -> DeadLetterKey {
        let hkdf = hkdf::Hkdf::<Sha256>::new(None, secret.as_bytes());
        let mut okm = Zeroizing::new([0u8; 32]);
        // 32 bytes is far below HKDF-SHA256's limit of 255 * 32.
        if hkdf.expand(MAC_INFO, okm.as_mut_slice()).is_err() {
            unreachable!("32 bytes is a valid hkdf-sha256 output length");
        }
        DeadLetterKey(okm)
    }

    fn mac(&self) -> Hmac<Sha256> {
        match <Hmac<Sha256> as KeyInit>::new_from_slice(self.0.as_slice()) {
            Ok(mac) => mac,
            Err(_) => unreachable!("hmac takes keys of any length"),
        }
    }
}

impl fmt::Debug for DeadLetterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeadLetterKey([redacted])")
    }
}

/// Whether a record is what a sender holding one of the given secrets wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Authenticity {
    /// A version-2 record whose MAC matches one of the keys.
    Authentic,
    /// A version-2 record whose MAC is missing, malformed or matches none of
    /// the keys: it was changed, or written with other secrets.
    Tampered,
    /// A version-1 record: it carries no MAC.
    Unauthenticated,
}

impl Authenticity {
    /// A stable snake_case code: `authentic`, `tampered`, `unauthenticated`.
    pub fn code(self) -> &'static str {
        match self {
            Authenticity::Authentic => "authentic",
            Authenticity::Tampered => "tampered",
            Authenticity::Unauthenticated => "unauthenticated",
        }
    }
}

/// A delivery that exhausted its attempts or got a final answer, with
/// everything needed to send it again except the signing secrets (those come
/// from the sender that redelivers it).
///
/// In a JSON Lines file each record is one line (format version 2, design 9.14):
/// `{"v":2,"failed_at":...,"url":...,"headers":{...},"event":...,"id":...,
/// "timestamp":...,"body":"<the exact body>",...,"last_error":...,"mac":"<64 hex>"}`.
/// A body that is not UTF-8 is kept in `body_base64` instead of `body`.
///
/// `mac` is HMAC-SHA256, keyed with a [`DeadLetterKey`] derived from the
/// endpoint's first signing secret, over a length-prefixed encoding of the
/// URL, event name, event id, timestamp, `allow_insecure_http`,
/// `standard_webhooks`, headers and body bytes (see [`DeadLetter::mac_input`]).
/// Version-1 records (`"version":1`, no `mac`) are still read; they are
/// [`Authenticity::Unauthenticated`].
///
/// `headers` holds the endpoint's configured header values (often
/// credentials): the file is created readable by its owner only, and `Debug`
/// shows header names only (and URLs without their password).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The record format version ([`DEAD_LETTER_VERSION`] when written).
    #[serde(rename = "v", alias = "version")]
    pub version: u32,
    /// When the delivery was given up, unix seconds.
    pub failed_at: i64,
    /// The endpoint's URL.
    pub url: String,
    /// The endpoint's configured extra headers.
    #[serde(default)]
    pub headers: ExtraHeaders,
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
    /// The record's MAC, 64 lowercase hex digits (version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

impl DeadLetter {
    /// A record of `delivery` to `endpoint`, given up at `failed_at`.
    pub(crate) fn new(
        compiled: &CompiledEndpoint,
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
        let endpoint = &compiled.config;
        let mut letter = DeadLetter {
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
            mac: None,
        };
        // compiling an endpoint guarantees a signing secret, hence a key;
        // without one the record stays unsealed (and reads as tampered)
        if let Some(key) = compiled.dead_letter_keys.first() {
            letter.seal(key);
        }
        letter
    }

    /// Parses one JSON Lines record.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDelivery`] when `line` is not a record.
    pub fn from_json_line(line: &str) -> Result<DeadLetter, Error> {
        serde_json::from_str(line).map_err(|e| Error::InvalidDelivery {
            message: format!("not a dead-letter record: {}", parse_message(&e)),
        })
    }

    /// The record as one JSON line (without the line break).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDelivery`] when it cannot be written (a non-finite timeout).
    pub fn to_json_line(&self) -> Result<String, Error> {
        serde_json::to_string(self).map_err(|e| Error::InvalidDelivery {
            message: format!("cannot write the dead-letter record: {e}"),
        })
    }

    /// The bytes the MAC covers: `megabot-dead-letter-v2\0`, then the URL,
    /// event name and event id (each as a u64 big-endian length and its
    /// bytes), the timestamp (i64 big-endian), `allow_insecure_http` and
    /// `standard_webhooks` (one byte each), the header count (u64) and each
    /// header's name and value (length-prefixed), and the body bytes
    /// (length-prefixed). `None` when `body_base64` is not valid base64.
    pub fn mac_input(&self) -> Option<Vec<u8>> {
        fn field(out: &mut Vec<u8>, bytes: &[u8]) {
            out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
            out.extend_from_slice(bytes);
        }
        let body = self.body_bytes().ok()?;
        let mut out = Vec::with_capacity(128 + self.url.len() + body.len());
        out.extend_from_slice(MAC_DOMAIN);
        field(&mut out, self.url.as_bytes());
        field(&mut out, self.event.as_bytes());
        field(&mut out, self.id.as_bytes());
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.push(u8::from(self.allow_insecure_http));
        out.push(u8::from(self.standard_webhooks));
        out.extend_from_slice(&(self.headers.len() as u64).to_be_bytes());
        for (name, value) in self.headers.iter() {
            field(&mut out, name.as_bytes());
            field(&mut out, value.as_bytes());
        }
        // the record holds either form of the body; say which, so that
        // moving it from one to the other is a change
        out.push(u8::from(self.body.is_none()));
        field(&mut out, &body);
        Some(out)
    }

    /// Makes this a version-2 record sealed with `key`.
    pub fn seal(&mut self, key: &DeadLetterKey) {
        self.version = DEAD_LETTER_VERSION;
        self.mac = self.mac_input().map(|input| {
            let mut mac = key.mac();
            mac.update(&input);
            hex::encode(mac.finalize().into_bytes())
        });
    }

    /// Checks the record against `keys` (the secrets a redelivering sender
    /// holds), in constant time per key.
    pub fn authenticity(&self, keys: &[DeadLetterKey]) -> Authenticity {
        if self.version < 2 {
            return Authenticity::Unauthenticated;
        }
        if self.version != DEAD_LETTER_VERSION {
            return Authenticity::Tampered;
        }
        let (Some(mac), Some(input)) = (&self.mac, self.mac_input()) else {
            return Authenticity::Tampered;
        };
        let Ok(tag) = hex::decode(mac) else {
            return Authenticity::Tampered;
        };
        for key in keys {
            let mut check = key.mac();
            check.update(&input);
            if check.verify_slice(&tag).is_ok() {
                return Authenticity::Authentic;
            }
        }
        Authenticity::Tampered
    }

    /// The delivery to make again: the same name, id, timestamp and body bytes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidDelivery`] when the record has no body or an invalid one.
    pub fn delivery(&self) -> Result<Delivery, Error> {
        let body = self.body_bytes()?;
        Delivery::new(self.event.clone(), self.id.clone(), self.timestamp, body)
    }

    fn body_bytes(&self) -> Result<Vec<u8>, Error> {
        Ok(match (&self.body, &self.body_base64) {
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
        })
    }

    /// The endpoint as recorded, signing with the redelivering sender's
    /// `secret_key` (secrets are never written to the file).
    pub fn endpoint_config(&self) -> crate::config::EndpointConfig {
        let mut endpoint = crate::config::EndpointConfig::new(self.url.clone());
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
            .field("version", &self.version)
            .field("failed_at", &self.failed_at)
            .field("url", &crate::redact::redact_url(&self.url))
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

impl JsonlDeadLetters {
    /// Appends `line` (one record, without its line break) as it is.
    pub(crate) fn store_line(&self, line: &str) -> Result<(), Error> {
        let mut line = line.to_owned();
        line.push('\n');
        let _guard = self
            .lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(warning) = dead_letter_file_warning(&self.path) {
            tracing::warn!("{warning}");
        }
        let mut file = open_append(&self.path).map_err(|e| file_error(&self.path, e))?;
        file.write_all(line.as_bytes())
            .map_err(|e| file_error(&self.path, e))?;
        file.sync_data().map_err(|e| file_error(&self.path, e))
    }
}

impl DeadLetterSink for JsonlDeadLetters {
    fn store(&self, letter: &DeadLetter) -> Result<(), Error> {
        let line = letter
            .to_json_line()
            .map_err(|e| file_error(&self.path, e))?;
        self.store_line(&line)
    }
}

/// A warning when the dead-letter file at `path` exists and is readable or
/// writable by others than its owner (records hold header values, often
/// credentials); `None` when it does not exist, or is owner-only, or on
/// systems without Unix permissions.
pub fn dead_letter_file_warning(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        (mode & 0o077 != 0).then(|| {
            format!(
                "dead-letter file {} has mode {:o}: its records hold endpoint header values; make it readable by its owner only (chmod 600)",
                path.display(),
                mode & 0o777
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
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
    Ok(read_dead_letter_lines(path.as_ref())?
        .into_iter()
        .map(|(letter, _)| letter)
        .collect())
}

/// As [`read_dead_letters`], with each record's line as it is in the file.
pub(crate) fn read_dead_letter_lines(path: &Path) -> Result<Vec<(DeadLetter, String)>, Error> {
    let file = File::open(path).map_err(|e| file_error(path, e))?;
    let mut letters = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| file_error(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let letter: DeadLetter = serde_json::from_str(&line).map_err(|e| {
            file_error(
                path,
                format_args!("line {}: {}", index + 1, parse_message(&e)),
            )
        })?;
        letters.push((letter, line));
    }
    Ok(letters)
}

/// A record's parse error without the record's string values (a header
/// value, often a credential, can be the value of the wrong type): serde's
/// `string "..."` becomes `string "[redacted]"`.
fn parse_message(error: &serde_json::Error) -> String {
    let message = error.to_string();
    let mut out = String::with_capacity(message.len());
    let mut rest = message.as_str();
    while let Some(at) = rest.find("string \"") {
        let start = at + "string \"".len();
        out.push_str(&rest[..start]);
        // serde quotes the value with Debug-like escapes: its end is the
        // last `"` before the `, expected` serde appends
        let tail = &rest[start..];
        let end = tail
            .rfind("\", expected")
            .or_else(|| tail.rfind('"'))
            .unwrap_or(tail.len());
        out.push_str("[redacted]");
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
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

    fn compiled() -> CompiledEndpoint {
        let mut endpoint =
            crate::config::EndpointConfig::new("https://u:pa55w0rd@example.com/hook");
        endpoint.headers.insert("Authorization", "token t0ps3cret");
        endpoint.secret = Some(crate::config::SecretKeys::one("s3cret"));
        crate::endpoint::compile_endpoint(&endpoint, &[], &[], "e", "d")
            .unwrap()
            .0
    }

    fn letter(id: &str, body: &[u8]) -> DeadLetter {
        let delivery = Delivery::new("error_occurred", id, 1_640_995_205, body.to_vec()).unwrap();
        DeadLetter::new(
            &compiled(),
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
        let debug = format!("{text:?}");
        assert!(!debug.contains("t0ps3cret"), "{debug}");
        assert!(!debug.contains("pa55w0rd"), "{debug}");
        assert!(debug.contains("https://u:***@example.com/hook"), "{debug}");
    }

    #[test]
    fn v2_records_are_sealed_and_every_covered_field_is_checked() {
        let key = DeadLetterKey::derive("s3cret");
        let original = letter("evt_1", br#"{"event":"error_occurred"}"#);
        let line = original.to_json_line().unwrap();
        assert!(line.starts_with(r#"{"v":2,"#), "{line}");
        assert!(line.contains(r#","mac":""#), "{line}");
        assert_eq!(
            original.authenticity(std::slice::from_ref(&key)),
            Authenticity::Authentic
        );
        assert_eq!(
            original.authenticity(&[DeadLetterKey::derive("other")]),
            Authenticity::Tampered
        );
        let changes: [fn(&mut DeadLetter); 7] = [
            |l| l.url.push('x'),
            |l| l.id.push('x'),
            |l| l.event.push('x'),
            |l| l.timestamp += 1,
            |l| l.body = Some("{}".into()),
            |l| l.headers.insert("X-Extra", "1"),
            |l| l.allow_insecure_http = true,
        ];
        for change in changes {
            let mut changed = original.clone();
            change(&mut changed);
            assert_eq!(
                changed.authenticity(std::slice::from_ref(&key)),
                Authenticity::Tampered,
                "{changed:?}"
            );
        }
        let mut v1: serde_json::Value = serde_json::from_str(&line).unwrap();
        let object = v1.as_object_mut().unwrap();
        object.remove("v");
        object.remove("mac");
        object.insert("version".into(), 1.into());
        let v1 = DeadLetter::from_json_line(&v1.to_string()).unwrap();
        assert_eq!(v1.version, 1);
        assert_eq!(v1.authenticity(&[key]), Authenticity::Unauthenticated);
    }

    #[test]
    fn bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dead.jsonl");
        let good = serde_json::to_string(&letter("evt_1", b"{}")).unwrap();
        std::fs::write(&path, format!("{good}\n\n{{\"v\":2}}\n")).unwrap();
        let error = read_dead_letters(&path).unwrap_err();
        assert!(
            error.to_string().contains("line 3: missing field"),
            "{error}"
        );
        let leaky = good.replace(r#""attempts":5"#, r#""attempts":"token s3cr3t-value""#);
        std::fs::write(&path, format!("{leaky}\n")).unwrap();
        let error = read_dead_letters(&path).unwrap_err().to_string();
        assert!(error.contains("line 1: invalid type: string"), "{error}");
        assert!(!error.contains("s3cr3t"), "{error}");
        let error = DeadLetter::from_json_line(&leaky).unwrap_err().to_string();
        assert!(!error.contains("s3cr3t"), "{error}");
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
