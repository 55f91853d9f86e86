//! `POST /api/events`: publishing an event envelope.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::ApiState;
use super::deliveries::delivery_view;
use super::error::{ApiError, json_response, object_body};
use crate::delivery::Delivery;
use crate::known_events_matching;

/// Events larger than this get a warning (SDK receivers refuse them).
const LARGE_EVENT: usize = 1 << 20;

/// Whether `id` matches `[A-Za-z0-9_-]{1,128}` (design 9.7).
fn valid_event_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `POST /api/events`: takes a full envelope (`event`, `id`, `timestamp`,
/// `data`); unknown and misshapen events are delivered as they are.
/// `202 {"deliveries"}`; `200` with the existing deliveries for an event id
/// already published; `503` when the store cannot take every delivery (then
/// none is stored).
pub(crate) async fn publish(
    State(state): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let envelope = object_body(body)?;
    let event = match envelope.get("event") {
        Some(Value::String(event)) if !event.is_empty() => event.clone(),
        None => {
            return Err(ApiError::field(
                "missing_field",
                "event",
                "`event` is required",
            ));
        }
        Some(_) => {
            return Err(ApiError::field(
                "invalid_field",
                "event",
                "`event` must be a non-empty string",
            ));
        }
    };
    match envelope.get("id") {
        Some(Value::String(id)) if valid_event_id(id) => {}
        None => return Err(ApiError::field("missing_field", "id", "`id` is required")),
        Some(_) => {
            return Err(ApiError::field(
                "invalid_event_id",
                "id",
                "`id` must be 1 to 128 characters of A-Z, a-z, 0-9, `_` and `-`",
            ));
        }
    }
    match envelope.get("timestamp") {
        Some(value) if value.as_i64().is_some() => {}
        None => {
            return Err(ApiError::field(
                "missing_field",
                "timestamp",
                "`timestamp` (unix seconds) is required",
            ));
        }
        Some(_) => {
            return Err(ApiError::field(
                "invalid_field",
                "timestamp",
                "`timestamp` must be an integer (unix seconds)",
            ));
        }
    }
    let delivery = Delivery::from_value(Value::Object(envelope))
        .map_err(|e| ApiError::from_dispatcher(&e).at("event"))?;
    let mut warnings = Vec::new();
    if known_events_matching(&event).is_empty() {
        warnings.push(json!({
            "field": "event",
            "message": format!("`{event}` is not a known MegaBot event; it is delivered as it is"),
        }));
    }
    if delivery.body().len() > LARGE_EVENT {
        warnings.push(json!({
            "field": "body",
            "message": format!(
                "the event is {} bytes, over 1 MiB: the SDK's receivers refuse it with a final 413",
                delivery.body().len()
            ),
        }));
    }
    let outcome = state
        .dispatcher()
        .publish_delivery(&delivery)
        .await
        .map_err(|e| match e {
            crate::Error::InvalidDelivery { .. } => ApiError::from_dispatcher(&e).at("id"),
            other => ApiError::store(&other),
        })?;
    let status = if outcome.created {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    let deliveries: Vec<Value> = outcome.deliveries.iter().map(delivery_view).collect();
    Ok(json_response(
        status,
        json!({
            "event_id": delivery.id(),
            "created": outcome.created,
            "deliveries": deliveries,
            "warnings": warnings,
        }),
    ))
}
