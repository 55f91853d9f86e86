//! The API's error answers: `{"error", "message", "field"}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::Error;

/// An error answer. Its message never holds a secret, a header value, the
/// admin token or a URL password.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) field: Option<String>,
    /// Adds `WWW-Authenticate: Bearer` (a `401`).
    pub(crate) challenge: bool,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            challenge: false,
        }
    }

    /// A `400` about `field`.
    pub(crate) fn field(
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, code, message).at(field)
    }

    pub(crate) fn at(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub(crate) fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    pub(crate) fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        let mut error = ApiError::new(StatusCode::UNAUTHORIZED, code, message);
        error.challenge = true;
        error
    }

    /// The store could not answer: `503`.
    pub(crate) fn store(error: &Error) -> Self {
        tracing::warn!(error = %error, "webhook api: the delivery store failed");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            format!("the delivery store cannot answer now: {error}"),
        )
    }

    /// An error of the dispatcher, mapped to its answer.
    pub(crate) fn from_dispatcher(error: &Error) -> Self {
        match error {
            Error::Config(config) => {
                let key = config.key();
                // The only issue named by the bare `endpoint` key is a
                // missing signing secret.
                let field = key
                    .strip_prefix("endpoint.")
                    .or_else(|| (key == "endpoint").then_some("secret"))
                    .unwrap_or(key);
                ApiError::field("invalid_field", field, config.message())
            }
            Error::InvalidDelivery { message } => {
                ApiError::field("invalid_event", "body", message.clone())
            }
            Error::DestinationRefused(refusal) => {
                ApiError::field("destination_refused", "url", refusal.to_string())
            }
            Error::Store { .. } | Error::StoreLocked { .. } => ApiError::store(error),
            other => {
                tracing::warn!(code = other.code(), "webhook api: internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    format!("internal error ({})", other.code()),
                )
            }
        }
    }

    pub(crate) fn body(&self) -> Value {
        json!({"error": self.code, "message": self.message, "field": self.field})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"megabot-webhook\""),
            );
        }
        response
    }
}

/// A JSON answer.
pub(crate) fn json_response(status: StatusCode, value: Value) -> Response {
    (status, axum::Json(value)).into_response()
}

/// The request body as a JSON object: `413` over the limit, `400` (field
/// `body`) when it is not a JSON object.
pub(crate) fn object_body(
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<serde_json::Map<String, Value>, ApiError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!(
                    "the request body is over the limit of {} bytes",
                    super::BODY_LIMIT
                ),
            )
            .at("body")
        } else {
            ApiError::field("invalid_body", "body", "the request body cannot be read")
        }
    })?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::field(
            "invalid_body",
            "body",
            "the request body must be a JSON object",
        )),
        Err(error) => Err(ApiError::field(
            "invalid_json",
            "body",
            format!("the request body is not valid JSON: {error}"),
        )),
    }
}

/// The `{id}` of a path; a JSON `400` (field `id`) when it cannot be read.
#[derive(Debug)]
pub(crate) struct ApiPath(pub(crate) String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ApiPath {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(id)| ApiPath(id))
            .map_err(|_| ApiError::field("invalid_path", "id", "the id in the path cannot be read"))
    }
}

/// The query parameters; a JSON `400` (field `query`) when they cannot be
/// read.
#[derive(Debug)]
pub(crate) struct ApiQuery(pub(crate) std::collections::HashMap<String, String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ApiQuery {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(query)| ApiQuery(query))
            .map_err(|_| {
                ApiError::field("invalid_query", "query", "the query string cannot be read")
            })
    }
}
