//! The crate's single error type: what a webhook route answers instead of running the
//! handler.

/// Why a delivery was not handed to the handler (or why the handler's run failed).
///
/// Every variant maps to an HTTP answer (design 4.5): [`Error::status`], [`Error::code`]
/// and [`Error::retry_after`] drive it, and the body is
/// `{"error":"<code>","message":"<text>"}` — except for a duplicate delivery, which is
/// answered `200 {"status":"duplicate"}` so that the sender stops retrying. Messages are
/// lowercase and never hold a secret or an expected signature.
///
/// With the `axum`, `actix-web` or `warp` feature it implements axum's `IntoResponse`,
/// actix-web's `ResponseError` and warp's `Reject`; [`Error::response`] gives the answer
/// for any other framework.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Verification or the replay claim failed; the core's code and status apply.
    #[error(transparent)]
    Verify(#[from] megabot_webhook_verify::Error),

    /// The request body could not be read from the connection.
    #[error("failed to read the request body")]
    BodyRead,

    /// The body's `Content-Encoding` is not `gzip` or `identity`.
    #[error("unsupported content encoding: {encoding}")]
    UnsupportedEncoding {
        /// The header's value, shortened to at most 32 printable characters.
        encoding: String,
    },

    /// The body claims `Content-Encoding: gzip` but is not a valid gzip stream.
    #[error("body is not valid gzip")]
    InvalidGzip,

    /// The route has no verifier configured (actix-web: no `web::Data<Verifier>` or
    /// `Verifier` in `app_data`).
    #[error("webhook verifier is not configured")]
    MissingVerifier,

    /// The handler panicked; the delivery's claim was released so that a retry can run.
    #[error("webhook handler panicked")]
    HandlerPanicked,

    /// A header the signature depends on (`X-MegaBot-Signature`, `webhook-signature`,
    /// `webhook-id`, `webhook-timestamp`) came on more than one header line; the request
    /// is refused rather than letting one of the lines decide (crate docs).
    #[error("repeated signature header: {name}")]
    RepeatedSignatureHeader {
        /// The header's name, lowercase.
        name: &'static str,
    },

    /// The body was shorter than its `Content-Length` (the connection ended early).
    #[error("request body is shorter than its content-length")]
    BodyTruncated,

    /// The body did not arrive within the body read timeout.
    #[error("request body did not arrive in time")]
    BodyReadTimeout,

    /// All requests together may buffer at most the buffer budget before they are
    /// authenticated, and this one would have exceeded what is left.
    #[error("buffer budget exhausted; retry later")]
    BufferBudgetExhausted,
}

impl Error {
    /// A stable snake_case code for this error: the core's code for
    /// [`Error::Verify`], otherwise one of `body_read_failed`, `unsupported_encoding`,
    /// `invalid_gzip`, `verifier_missing`, `handler_panicked`,
    /// `repeated_signature_header`, `body_truncated`, `body_read_timeout`,
    /// `buffer_budget_exhausted`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Verify(error) => error.code(),
            Error::BodyRead => "body_read_failed",
            Error::UnsupportedEncoding { .. } => "unsupported_encoding",
            Error::InvalidGzip => "invalid_gzip",
            Error::MissingVerifier => "verifier_missing",
            Error::HandlerPanicked => "handler_panicked",
            Error::RepeatedSignatureHeader { .. } => "repeated_signature_header",
            Error::BodyTruncated => "body_truncated",
            Error::BodyReadTimeout => "body_read_timeout",
            Error::BufferBudgetExhausted => "buffer_budget_exhausted",
        }
    }

    /// The HTTP status of the answer: the core's for [`Error::Verify`] (401, 400, 413,
    /// 409, 200 for a duplicate, 503, 500), 400 for an unreadable, truncated or invalid
    /// body, 401 for a repeated signature header, 408 for a body read timeout, 415 for
    /// an unsupported encoding, 503 for an exhausted buffer budget, 500 for
    /// configuration errors and a panicking handler.
    pub fn status(&self) -> u16 {
        match self {
            Error::Verify(error) => error.status(),
            Error::BodyRead | Error::InvalidGzip | Error::BodyTruncated => 400,
            Error::RepeatedSignatureHeader { .. } => 401,
            Error::BodyReadTimeout => 408,
            Error::BufferBudgetExhausted => 503,
            Error::UnsupportedEncoding { .. } => 415,
            Error::MissingVerifier | Error::HandlerPanicked => 500,
        }
    }

    /// Seconds for the `Retry-After` header (409 and 503 answers).
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::Verify(error) => error.retry_after(),
            Error::BufferBudgetExhausted => Some(1),
            _ => None,
        }
    }

    /// True for a delivery that was already handled successfully: answered
    /// `200 {"status":"duplicate"}` rather than as an error.
    pub fn is_duplicate(&self) -> bool {
        matches!(
            self,
            Error::Verify(megabot_webhook_verify::Error::DuplicateDelivery)
        )
    }

    /// Builds [`Error::UnsupportedEncoding`], keeping at most 32 printable ASCII
    /// characters of the (untrusted) header value.
    pub(crate) fn unsupported_encoding(value: &str) -> Error {
        let encoding = value
            .chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .take(32)
            .collect();
        Error::UnsupportedEncoding { encoding }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use megabot_webhook_verify::Error as VerifyError;

    #[test]
    fn codes_statuses_and_retry_after() {
        let cases = [
            (
                Error::from(VerifyError::SignatureMismatch),
                "signature_mismatch",
                401,
            ),
            (
                Error::from(VerifyError::DuplicateDelivery),
                "duplicate_delivery",
                200,
            ),
            (
                Error::from(VerifyError::ReplayInFlight),
                "replay_in_flight",
                409,
            ),
            (Error::BodyRead, "body_read_failed", 400),
            (
                Error::unsupported_encoding("br"),
                "unsupported_encoding",
                415,
            ),
            (Error::InvalidGzip, "invalid_gzip", 400),
            (Error::MissingVerifier, "verifier_missing", 500),
            (Error::HandlerPanicked, "handler_panicked", 500),
            (
                Error::RepeatedSignatureHeader {
                    name: "webhook-signature",
                },
                "repeated_signature_header",
                401,
            ),
            (Error::BodyTruncated, "body_truncated", 400),
            (Error::BodyReadTimeout, "body_read_timeout", 408),
            (Error::BufferBudgetExhausted, "buffer_budget_exhausted", 503),
        ];
        for (error, code, status) in cases {
            assert_eq!(error.code(), code);
            assert_eq!(error.status(), status, "{code}");
            let message = error.to_string();
            assert!(!message.starts_with(char::is_uppercase), "{message}");
        }
        assert_eq!(
            Error::from(VerifyError::ReplayInFlight).retry_after(),
            Some(5)
        );
        assert_eq!(Error::BodyRead.retry_after(), None);
        assert!(Error::from(VerifyError::DuplicateDelivery).is_duplicate());
        assert!(!Error::HandlerPanicked.is_duplicate());
    }

    #[test]
    fn unsupported_encoding_is_bounded_and_printable() {
        let error = Error::unsupported_encoding(&format!("br\u{0}\n{}", "x".repeat(100)));
        let Error::UnsupportedEncoding { encoding } = &error else {
            panic!("wrong variant");
        };
        assert_eq!(encoding.len(), 32);
        assert!(encoding.starts_with("brx"));
    }
}
