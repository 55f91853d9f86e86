//! `Authorization: Bearer <admin token>` on every route, compared in
//! constant time.

use std::fmt;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::ApiState;
use super::error::ApiError;

/// The shortest admin token accepted (design 9.2).
pub const MIN_ADMIN_TOKEN_LEN: usize = 32;

/// The admin token, kept only as a keyed digest (so that tokens of any
/// length are compared in constant time, and the token itself is not kept).
#[derive(Clone)]
pub(crate) struct AdminToken {
    digest: Vec<u8>,
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(..)")
    }
}

fn digest(token: &[u8]) -> Vec<u8> {
    match megabot_webhook_verify::Secret::new("megabot admin token") {
        Ok(key) => megabot_webhook_verify::sign::megabot_signature(&key, token).into_bytes(),
        // Not reached (the key is a constant); still a correct comparison.
        Err(_) => token.to_vec(),
    }
}

impl AdminToken {
    /// `None` when `token` is shorter than [`MIN_ADMIN_TOKEN_LEN`] characters.
    pub(crate) fn new(token: &str) -> Option<AdminToken> {
        (token.chars().count() >= MIN_ADMIN_TOKEN_LEN).then(|| AdminToken {
            digest: digest(token.as_bytes()),
        })
    }

    pub(crate) fn matches(&self, candidate: &[u8]) -> bool {
        bool::from(self.digest.as_slice().ct_eq(digest(candidate).as_slice()))
    }
}

/// The middleware: `401` with `WWW-Authenticate: Bearer` unless the request
/// carries the admin token. Every route of [`router`](super::router) has it;
/// an application adding routes of its own (such as `serve`'s `/metrics`)
/// puts them behind the same token with
/// `axum::middleware::from_fn_with_state(state, require_admin_token)`.
pub async fn require_token(
    State(state): State<ApiState>,
    request: Request,
    next: Next,
) -> Response {
    match check(&state, &request) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

fn check(state: &ApiState, request: &Request) -> Result<(), ApiError> {
    let Some(value) = request.headers().get(AUTHORIZATION) else {
        return Err(ApiError::unauthorized(
            "missing_token",
            "this API needs `Authorization: Bearer <admin token>`",
        ));
    };
    let value = value.as_bytes();
    let (scheme, token) = match value.iter().position(|b| *b == b' ') {
        Some(space) => (&value[..space], &value[space + 1..]),
        None => (value, &b""[..]),
    };
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(ApiError::unauthorized(
            "invalid_auth_scheme",
            "the Authorization header must use the Bearer scheme: `Authorization: Bearer <admin token>`",
        ));
    }
    if state.inner.token.matches(token.trim_ascii()) {
        Ok(())
    } else {
        Err(ApiError::unauthorized(
            "invalid_token",
            "the bearer token is not the admin token",
        ))
    }
}
