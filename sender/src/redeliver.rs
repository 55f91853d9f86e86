//! Redelivering a dead-letter file.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::client::Sender;
use super::dead_letter::{
    DeadLetterSink, JsonlDeadLetters, file_error, open_append, read_dead_letters,
};
use super::report::EndpointReport;
use crate::Error;

/// What a redelivery of a dead-letter file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedeliveryReport {
    /// One entry per record, in file order: its delivery report, or why it
    /// could not be attempted.
    pub results: Vec<Result<EndpointReport, String>>,
    /// How many records failed again and are back in the file.
    pub still_failed: usize,
    /// The dead-letter file.
    pub file: PathBuf,
}

impl RedeliveryReport {
    /// How many records were delivered this time.
    pub fn delivered(&self) -> usize {
        self.results
            .iter()
            .filter(|r| r.as_ref().is_ok_and(EndpointReport::is_delivered))
            .count()
    }
}

impl Sender {
    /// Redelivers every record of the JSON Lines dead-letter file at `path`
    /// (the CLI's `redeliver --dead-letters FILE`), one after the other.
    ///
    /// The file is first moved aside (`<name>.redelivering-<nanos>` beside
    /// it), so a sender appending to it meanwhile starts a fresh file. Records
    /// that fail again (or cannot be attempted) are appended back to `path`
    /// with their new attempt count and error; then the moved file is
    /// removed. If anything goes wrong, the moved file is kept: no record is
    /// ever lost (at worst one is delivered twice, which receivers' replay
    /// guards absorb).
    ///
    /// Failures go back to this file, not to the sender's own dead-letter sink.
    ///
    /// # Errors
    ///
    /// [`Error::DeadLetter`] when the file cannot be read, moved or written,
    /// or holds a line that is not a record (the file is then left as it was).
    pub async fn redeliver(&self, path: impl AsRef<Path>) -> Result<RedeliveryReport, Error> {
        let path = path.as_ref();
        let working = working_path(path);
        std::fs::rename(path, &working).map_err(|e| file_error(path, e))?;
        let letters = match read_dead_letters(&working) {
            Ok(letters) => letters,
            Err(error) => {
                restore(&working, path);
                return Err(error);
            }
        };
        let sink = JsonlDeadLetters::new(path);
        let mut results = Vec::with_capacity(letters.len());
        let mut still_failed = 0;
        for letter in &letters {
            let (result, failed) = match self.redeliver_one(letter).await {
                Ok((report, failed)) => (Ok(report), failed),
                Err(error) => {
                    let mut kept = letter.clone();
                    kept.last_error = error.to_string();
                    (Err(error.to_string()), Some(kept))
                }
            };
            if let Some(mut failed) = failed {
                failed.attempts = failed.attempts.saturating_add(letter.attempts);
                sink.store(&failed)?;
                still_failed += 1;
            }
            results.push(result);
        }
        std::fs::remove_file(&working).map_err(|e| file_error(&working, e))?;
        Ok(RedeliveryReport {
            results,
            still_failed,
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
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".redelivering-{nanos}"));
    path.with_file_name(name)
}

/// Puts the moved file's records back at the end of `path` (which a sender
/// may have created meanwhile), keeping the moved file if that fails.
fn restore(working: &Path, path: &Path) {
    let result = std::fs::read(working).and_then(|bytes| {
        use std::io::Write;
        let mut file = open_append(path)?;
        file.write_all(&bytes)?;
        file.sync_data()?;
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
}
