//! The crate's single error type.

/// Everything that can go wrong while loading a config, building a sender or
/// delivering.
///
/// Messages are lowercase and never hold a secret, an expanded `${VAR}` value or
/// an expected signature. [`Error::code`] is a stable machine-readable code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The sender's configuration is invalid. The message names the file, line
    /// and key when the config came from a file (see [`ConfigError`](crate::ConfigError)).
    #[error(transparent)]
    Config(Box<crate::ConfigError>),

    /// A dead-letter file could not be read, written or parsed.
    #[error("dead-letter file {path}: {message}")]
    DeadLetter {
        /// The file.
        path: String,
        /// What went wrong (with the line, for a record that does not parse).
        message: String,
    },

    /// The sender's HTTP client could not be set up.
    #[error("cannot set up the http client: {message}")]
    HttpClient {
        /// Why.
        message: String,
    },

    /// A delivery cannot be built from the given event or body.
    #[error("invalid delivery: {message}")]
    InvalidDelivery {
        /// Why.
        message: String,
    },

    /// The dispatcher's delivery store failed (design 7). The message
    /// never holds a URL password or a secret.
    #[error("delivery store: {message}")]
    Store {
        /// What went wrong.
        message: String,
    },

    /// The store file is held by another dispatcher (design 9.5: one at a time).
    #[error(
        "store file {path} is in use by another dispatcher (it holds an exclusive lock); stop it or use another file"
    )]
    StoreLocked {
        /// The file.
        path: String,
    },

    /// The destination guard refused a destination (see
    /// [`DestinationPolicy`](crate::DestinationPolicy)); nothing was sent.
    #[error(transparent)]
    DestinationRefused(#[from] crate::Refusal),

    /// A secret could not be used for signing.
    #[error(transparent)]
    Secret(#[from] megabot_webhook_verify::Error),
}

impl Error {
    /// A stable snake_case code for this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Config(_) => "invalid_config",
            Error::DeadLetter { .. } => "dead_letter",
            Error::DestinationRefused(_) => "destination_refused",
            Error::HttpClient { .. } => "http_client",
            Error::InvalidDelivery { .. } => "invalid_delivery",
            Error::Store { .. } => "store",
            Error::StoreLocked { .. } => "store_locked",
            Error::Secret(error) => error.code(),
        }
    }
}
