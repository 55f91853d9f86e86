//! Redelivering a dead-letter file.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::dead_letter::{
    DeadLetterSink, JsonlDeadLetters, file_error, open_append, read_dead_letter_lines,
};
use super::report::EndpointReport;
use super::sender::Sender;
use crate::Error;

/// What a redelivery may do beyond the safe default (design 9.14, 9.5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedeliverOptions {
    /// Send version-1 records, which carry no MAC (the CLI's
    /// `--accept-unauthenticated`). Default `false`: they are refused and kept.
    pub accept_unauthenticated: bool,
    /// Send a record whose URL is no registered endpoint's to that URL as
    /// recorded (the CLI's `--to-recorded-url`). Default `false`: only
    /// configured or registered endpoints are sent to.
    pub to_recorded_url: bool,
    /// Re-stamp the envelope's `timestamp` of a stale MegaBot-scheme-only
    /// letter with now: a new delivery of the same event id (the CLI's
    /// `--restamp`). Default `false`: stale letters are refused and kept.
    pub restamp: bool,
}

impl RedeliverOptions {
    /// The safe default: authenticated records, to known endpoints, as recorded.
    pub fn new() -> RedeliverOptions {
        RedeliverOptions::default()
    }

    /// Sets [`RedeliverOptions::accept_unauthenticated`].
    #[must_use]
    pub fn accept_unauthenticated(mut self, yes: bool) -> RedeliverOptions {
        self.accept_unauthenticated = yes;
        self
    }

    /// Sets [`RedeliverOptions::to_recorded_url`].
    #[must_use]
    pub fn to_recorded_url(mut self, yes: bool) -> RedeliverOptions {
        self.to_recorded_url = yes;
        self
    }

    /// Sets [`RedeliverOptions::restamp`].
    #[must_use]
    pub fn restamp(mut self, yes: bool) -> RedeliverOptions {
        self.restamp = yes;
        self
    }
}

/// Why a dead letter was not sent (it stays in the file).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefusalReason {
    /// Its MAC does not match the secrets the sender holds: it was changed.
    Tampered,
    /// A version-1 record (no MAC) without `accept_unauthenticated`.
    Unauthenticated,
    /// Its URL is no registered endpoint's, and `to_recorded_url` is off.
    UnknownEndpoint,
    /// A MegaBot-scheme-only letter whose body timestamp is further from now
    /// than the receivers' tolerance (300 s): every receiver would refuse it.
    Stale {
        /// The body's timestamp, unix seconds.
        timestamp: i64,
        /// Now minus that timestamp, in seconds.
        age_secs: i64,
    },
    /// It cannot be sent (no usable body, an endpoint that is no longer valid).
    Invalid {
        /// Why.
        message: String,
    },
}

impl RefusalReason {
    /// A stable snake_case code: `tampered`, `unauthenticated`,
    /// `unknown_endpoint`, `stale`, `invalid`.
    pub fn code(&self) -> &'static str {
        match self {
            RefusalReason::Tampered => "tampered",
            RefusalReason::Unauthenticated => "unauthenticated",
            RefusalReason::UnknownEndpoint => "unknown_endpoint",
            RefusalReason::Stale { .. } => "stale",
            RefusalReason::Invalid { .. } => "invalid",
        }
    }
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefusalReason::Tampered => f.write_str(
                "tampered: the record's mac does not match the given secrets; not sent, kept in the file",
            ),
            RefusalReason::Unauthenticated => f.write_str(
                "unauthenticated: a version-1 record carries no mac; not sent, kept (give --accept-unauthenticated to send it)",
            ),
            RefusalReason::UnknownEndpoint => f.write_str(
                "unknown endpoint: the record's url is not a configured endpoint; not sent, kept (give --config, or --to-recorded-url to send to the url as recorded)",
            ),
            RefusalReason::Stale {
                timestamp,
                age_secs,
            } => write!(
                f,
                "stale: its body timestamp {timestamp} is {age_secs} s from now, beyond the receivers' 300 s tolerance, so every receiver would refuse it; not sent, kept (give --restamp to send it as a new delivery of the same event id with a fresh timestamp)"
            ),
            RefusalReason::Invalid { message } => write!(f, "invalid: {message}; kept"),
        }
    }
}

/// What happened to one dead letter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Redelivery {
    /// It was sent (delivered, or failed again and kept).
    Attempted {
        /// The delivery report.
        report: EndpointReport,
        /// The new envelope `timestamp` when the letter was re-stamped
        /// (a new delivery of the same event id).
        restamped: Option<i64>,
    },
    /// It was not sent and stays in the file.
    Refused {
        /// The event id.
        id: String,
        /// The record's URL, its password redacted.
        url: String,
        /// Why.
        reason: RefusalReason,
    },
}

impl Redelivery {
    /// Whether the endpoint accepted it this time.
    pub fn is_delivered(&self) -> bool {
        matches!(self, Redelivery::Attempted { report, .. } if report.is_delivered())
    }

    /// Why it was not sent, if it was not.
    pub fn refusal(&self) -> Option<&RefusalReason> {
        match self {
            Redelivery::Refused { reason, .. } => Some(reason),
            Redelivery::Attempted { .. } => None,
        }
    }
}

/// What a redelivery of a dead-letter file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedeliveryReport {
    /// One entry per record, in file order.
    pub results: Vec<Redelivery>,
    /// How many records failed again or were refused, and are in the file.
    pub still_failed: usize,
    /// How many records were recovered from `<file>.redelivering-*` files
    /// an interrupted redelivery left behind (merged back before this run).
    pub recovered: usize,
    /// The dead-letter file.
    pub file: PathBuf,
}

impl RedeliveryReport {
    /// How many records were delivered this time.
    pub fn delivered(&self) -> usize {
        self.results.iter().filter(|r| r.is_delivered()).count()
    }

    /// How many records were refused with reason `code` (`tampered`, `stale`...).
    pub fn refused(&self, code: &str) -> usize {
        self.results
            .iter()
            .filter(|r| r.refusal().is_some_and(|reason| reason.code() == code))
            .count()
    }
}

impl Sender {
    /// Redelivers every record of the JSON Lines dead-letter file at `path`
    /// with the safe default [`RedeliverOptions`]; see [`Sender::redeliver_with`].
    ///
    /// # Errors
    ///
    /// As [`Sender::redeliver_with`].
    pub async fn redeliver(&self, path: impl AsRef<Path>) -> Result<RedeliveryReport, Error> {
        self.redeliver_with(path, &RedeliverOptions::default())
            .await
    }

    /// Redelivers every record of the JSON Lines dead-letter file at `path`
    /// (the CLI's `redeliver --dead-letters FILE`), one after the other.
    ///
    /// Each record is checked first (design 9.14): its MAC against the
    /// secrets this sender holds (a mismatch is refused as `tampered`), its
    /// version (version 1 needs `accept_unauthenticated`), its destination
    /// (a registered endpoint with its URL, or the URL as recorded with
    /// `to_recorded_url`), and its age (a MegaBot-scheme-only letter older
    /// than the receivers' 300 s tolerance is `stale` unless `restamp`).
    /// A refused record stays in the file as it was.
    ///
    /// Records an interrupted redelivery left in `<name>.redelivering-*`
    /// files beside `path` are merged back into `path` first. Then the file
    /// is moved aside (`<name>.redelivering-<nanos>`), so a sender appending
    /// to it meanwhile starts a fresh file. Records that fail again, or are
    /// refused, are appended back to `path`; then the moved file is removed.
    /// If anything goes wrong, the moved file is kept (and recovered by the
    /// next run): no record is ever lost (at worst one is delivered twice,
    /// which receivers' replay guards absorb). Run one redelivery of a file
    /// at a time.
    ///
    /// Failures go back to this file, not to the sender's own dead-letter sink.
    ///
    /// # Errors
    ///
    /// [`Error::DeadLetter`] when the file cannot be read, moved or written,
    /// or holds a line that is not a record (the file is then left as it was).
    pub async fn redeliver_with(
        &self,
        path: impl AsRef<Path>,
        options: &RedeliverOptions,
    ) -> Result<RedeliveryReport, Error> {
        let path = path.as_ref();
        let recovered = recover_stranded(path)?;
        let working = working_path(path);
        std::fs::rename(path, &working).map_err(|e| file_error(path, e))?;
        let letters = match read_dead_letter_lines(&working) {
            Ok(letters) => letters,
            Err(error) => {
                restore(&working, path);
                return Err(error);
            }
        };
        let sink = JsonlDeadLetters::new(path);
        let mut results = Vec::with_capacity(letters.len());
        let mut still_failed = 0;
        for (letter, line) in &letters {
            let (result, failed) = self.redeliver_one(letter, options).await;
            match (&result, failed) {
                (_, Some(mut failed)) => {
                    failed.attempts = failed.attempts.saturating_add(letter.attempts);
                    sink.store(&failed)?;
                    still_failed += 1;
                }
                // a refused record is kept exactly as it was
                (Redelivery::Refused { .. }, None) => {
                    sink.store_line(line)?;
                    still_failed += 1;
                }
                (Redelivery::Attempted { .. }, None) => {}
            }
            results.push(result);
        }
        std::fs::remove_file(&working).map_err(|e| file_error(&working, e))?;
        Ok(RedeliveryReport {
            results,
            still_failed,
            recovered,
            file: path.to_owned(),
        })
    }
}

/// `<path>.redelivering-<nanos since 1970>`.
fn working_path(path: &Path) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut name = path
        .file_name()
        .map(std::ffi::OsStr::to_os_string)
        .unwrap_or_default();
    name.push(format!(".redelivering-{nanos}"));
    path.with_file_name(name)
}

/// Merges the `<name>.redelivering-*` files an interrupted redelivery left
/// beside `path` back into `path` (oldest first), removing each once its
/// records are synced; returns how many records were recovered.
fn recover_stranded(path: &Path) -> Result<usize, Error> {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Ok(0);
    };
    let prefix = format!("{name}.redelivering-");
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(0);
    };
    let mut stranded: Vec<(u128, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let file_name = entry.file_name().to_string_lossy().into_owned();
            let nanos = file_name.strip_prefix(&prefix)?.parse::<u128>().ok()?;
            Some((nanos, entry.path()))
        })
        .collect();
    stranded.sort();
    let mut recovered = 0;
    for (_, file) in stranded {
        let mut bytes = std::fs::read(&file).map_err(|e| file_error(&file, e))?;
        recovered += bytes
            .split(|b| *b == b'\n')
            .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
            .count();
        if !bytes.is_empty() && !bytes.ends_with(b"\n") {
            bytes.push(b'\n');
        }
        append_whole_lines(path, &bytes).map_err(|e| file_error(path, e))?;
        std::fs::remove_file(&file).map_err(|e| file_error(&file, e))?;
        tracing::warn!(
            file = %file.display(),
            "dead letters recovered from an interrupted redelivery"
        );
    }
    Ok(recovered)
}

/// Appends `bytes` to `path`, starting on a new line, synced.
fn append_whole_lines(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let needs_newline = std::fs::read(path)
        .map(|existing| !existing.is_empty() && !existing.ends_with(b"\n"))
        .unwrap_or(false);
    let mut file = open_append(path)?;
    if needs_newline {
        file.write_all(b"\n")?;
    }
    file.write_all(bytes)?;
    file.sync_data()
}

/// Puts the moved file's records back at the end of `path` (which a sender
/// may have created meanwhile), keeping the moved file if that fails (the
/// next redelivery recovers it).
fn restore(working: &Path, path: &Path) {
    let result = std::fs::read(working).and_then(|bytes| {
        append_whole_lines(path, &bytes)?;
        std::fs::remove_file(working)
    });
    if let Err(error) = result {
        tracing::error!(%error, file = %working.display(), "dead-letter file kept aside");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_path_is_beside_the_file() {
        let working = working_path(Path::new("/tmp/x/dead.jsonl"));
        assert_eq!(working.parent(), Some(Path::new("/tmp/x")));
        assert!(
            working
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("dead.jsonl.redelivering-")
        );
    }

    #[test]
    fn stranded_files_are_merged_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dead.jsonl");
        std::fs::write(&path, "{\"a\":1}").unwrap();
        std::fs::write(dir.path().join("dead.jsonl.redelivering-2"), "{\"c\":3}\n").unwrap();
        std::fs::write(dir.path().join("dead.jsonl.redelivering-1"), "{\"b\":2}").unwrap();
        std::fs::write(dir.path().join("other.jsonl.redelivering-1"), "x").unwrap();
        assert_eq!(recover_stranded(&path).unwrap(), 2);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n"
        );
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["dead.jsonl", "other.jsonl.redelivering-1"]);
    }
}
