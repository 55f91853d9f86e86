//! Reading a body from a file or stdin.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::CliError;

/// Reads the bytes of `path`, or of stdin when `path` is `None` or `-`.
pub(crate) fn read_body(path: Option<&Path>) -> Result<Vec<u8>, CliError> {
    match path {
        Some(path) if path != Path::new("-") => {
            std::fs::read(path).map_err(|source| CliError::Read {
                path: path.to_owned(),
                source,
            })
        }
        _ => {
            let mut body = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut body)
                .map_err(|source| CliError::Read {
                    path: PathBuf::from("-"),
                    source,
                })?;
            Ok(body)
        }
    }
}
