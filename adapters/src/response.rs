//! The HTTP answer for an [`Error`], independent of any framework (design 4.4, 4.5).

use crate::Error;

/// What a webhook route answers for an [`Error`]: status, optional `Retry-After` and a
/// JSON body. The framework modules turn this into their response type.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorResponse {
    /// The HTTP status code.
    pub status: u16,
    /// Seconds for the `Retry-After` header (409 and 503 answers).
    pub retry_after: Option<u64>,
    /// The `application/json` body: `{"error":"<code>","message":"<text>"}`, or
    /// `{"status":"duplicate"}` for a delivery that was already handled.
    pub body: String,
    /// Answer with `Connection: close` and close the connection: the request's body
    /// was left unread or is unusable (`buffer_budget_exhausted`, `body_read_timeout`,
    /// `body_truncated`).
    pub close: bool,
}

impl ErrorResponse {
    /// The `Content-Type` of [`ErrorResponse::body`].
    pub const CONTENT_TYPE: &'static str = "application/json";
}

impl From<&Error> for ErrorResponse {
    fn from(error: &Error) -> ErrorResponse {
        let body = if error.is_duplicate() {
            serde_json::json!({ "status": "duplicate" })
        } else {
            serde_json::json!({ "error": error.code(), "message": error.to_string() })
        };
        ErrorResponse {
            status: error.status(),
            retry_after: error.retry_after(),
            body: body.to_string(),
            close: matches!(
                error,
                Error::BufferBudgetExhausted | Error::BodyReadTimeout | Error::BodyTruncated
            ),
        }
    }
}

impl Error {
    /// The answer for this error; see [`ErrorResponse`].
    pub fn response(&self) -> ErrorResponse {
        ErrorResponse::from(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use megabot_webhook_verify::Error as VerifyError;

    #[test]
    fn error_bodies_carry_code_and_message() {
        let response = Error::from(VerifyError::SignatureMismatch).response();
        assert_eq!(response.status, 401);
        assert_eq!(response.retry_after, None);
        assert_eq!(
            response.body,
            r#"{"error":"signature_mismatch","message":"signature mismatch"}"#
        );
    }

    #[test]
    fn duplicates_are_a_200_status_body() {
        let response = Error::from(VerifyError::DuplicateDelivery).response();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, r#"{"status":"duplicate"}"#);
    }

    #[test]
    fn in_flight_and_store_errors_carry_retry_after() {
        let response = Error::from(VerifyError::ReplayInFlight).response();
        assert_eq!((response.status, response.retry_after), (409, Some(5)));
        let response = Error::from(VerifyError::ReplayStoreFull).response();
        assert_eq!((response.status, response.retry_after), (503, Some(1)));
    }

    #[test]
    fn messages_are_json_escaped() {
        let error = Error::from(VerifyError::InvalidEnvelope {
            message: "expected `\"` at line 1".into(),
        });
        let value: serde_json::Value = serde_json::from_str(&error.response().body).unwrap();
        assert_eq!(value["error"], "invalid_envelope");
        assert_eq!(
            value["message"],
            "invalid event envelope: expected `\"` at line 1"
        );
    }
}
