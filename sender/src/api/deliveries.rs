//! `/api/deliveries`: the delivery log and redelivery; `/api/stats`.

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::ApiState;
use super::error::{ApiError, ApiPath, ApiQuery, json_response, object_body};
use super::webhooks::{known_parameters, page_limit};
use crate::dispatcher::{AttemptRecord, DeliveryQuery, DeliveryRecord, DeliveryState, MAX_PAGE};

/// The most deliveries one bulk redelivery makes again pending.
const MAX_BULK: usize = 10_000;

/// The public view of a delivery row (not its body).
pub(crate) fn delivery_view(record: &DeliveryRecord) -> Value {
    json!({
        "id": record.id,
        "event_id": record.event_id,
        "event": record.event_name,
        "endpoint_id": record.endpoint_id,
        "status": record.state.as_str(),
        "attempts": record.attempts,
        "created_at": record.created_at.to_rfc3339(),
        "updated_at": record.updated_at.to_rfc3339(),
        "next_attempt_at": (record.state == DeliveryState::Pending)
            .then(|| record.next_attempt_at.to_rfc3339()),
        "dead_reason": record.dead_reason,
        "last_status": record.last_status,
        "last_error": record.last_error,
        "restamped_from": record.restamped_from,
    })
}

fn attempt_view(attempt: &AttemptRecord) -> Value {
    json!({
        "attempt": attempt.attempt,
        "started_at": attempt.started_at.to_rfc3339(),
        "status": attempt.status,
        "duration_ms": attempt.duration.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        "error": attempt.error,
    })
}

/// An RFC 3339 time or unix seconds.
fn parse_time(field: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(seconds) = text.parse::<i64>() {
        return DateTime::<Utc>::from_timestamp(seconds, 0).ok_or_else(|| bad_time(field));
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| bad_time(field))
}

fn bad_time(field: &str) -> ApiError {
    ApiError::field(
        "invalid_parameter",
        field,
        format!("`{field}` must be an RFC 3339 time or unix seconds"),
    )
}

fn parse_status(text: &str) -> Result<DeliveryState, ApiError> {
    DeliveryState::parse(text).ok_or_else(|| {
        ApiError::field(
            "invalid_parameter",
            "status",
            "`status` must be pending, delivered or dead",
        )
    })
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found("delivery_not_found", format!("no delivery `{id}`"))
}

/// `GET /api/deliveries?endpoint=&event=&status=&since=&until=&cursor=&limit=`.
pub(crate) async fn list(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery,
) -> Result<Response, ApiError> {
    known_parameters(
        &query,
        &[
            "endpoint", "event", "status", "since", "until", "cursor", "limit",
        ],
    )?;
    let nonempty = |key: &str| query.get(key).filter(|v| !v.is_empty()).cloned();
    let store_query = DeliveryQuery {
        endpoint_id: nonempty("endpoint"),
        event_id: nonempty("event"),
        state: nonempty("status").map(|s| parse_status(&s)).transpose()?,
        since: nonempty("since")
            .map(|t| parse_time("since", &t))
            .transpose()?,
        until: nonempty("until")
            .map(|t| parse_time("until", &t))
            .transpose()?,
        cursor: nonempty("cursor"),
        limit: page_limit(&query)?,
    };
    let page = state
        .dispatcher()
        .list(&store_query)
        .await
        .map_err(|e| ApiError::store(&e))?;
    let items: Vec<Value> = page.deliveries.iter().map(delivery_view).collect();
    Ok(json_response(
        StatusCode::OK,
        json!({"deliveries": items, "next_cursor": page.next_cursor}),
    ))
}

/// `GET /api/deliveries/{id}`: the delivery and its attempt log.
pub(crate) async fn show(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath,
) -> Result<Response, ApiError> {
    let dispatcher = state.dispatcher();
    let record = dispatcher
        .get(&id)
        .await
        .map_err(|e| ApiError::store(&e))?
        .ok_or_else(|| not_found(&id))?;
    let attempts = dispatcher
        .attempts(&id)
        .await
        .map_err(|e| ApiError::store(&e))?;
    let attempts: Vec<Value> = attempts.iter().map(attempt_view).collect();
    Ok(json_response(
        StatusCode::OK,
        json!({"delivery": delivery_view(&record), "attempts": attempts}),
    ))
}

/// `POST /api/deliveries/{id}/redeliver`: a dead delivery is pending again
/// (`202`, the delivery now pending: a new one for a re-stamped stale
/// delivery); `409` when it is not dead.
pub(crate) async fn redeliver_one(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath,
) -> Result<Response, ApiError> {
    let dispatcher = state.dispatcher();
    let record = dispatcher
        .get(&id)
        .await
        .map_err(|e| ApiError::store(&e))?
        .ok_or_else(|| not_found(&id))?;
    if record.state != DeliveryState::Dead {
        return Err(not_dead(&record));
    }
    let pending = dispatcher
        .redeliver(&id)
        .await
        .map_err(|e| ApiError::store(&e))?;
    let Some(pending) = pending else {
        return Err(not_dead(&record));
    };
    let now = dispatcher
        .get(&pending)
        .await
        .map_err(|e| ApiError::store(&e))?
        .ok_or_else(|| not_found(&pending))?;
    Ok(json_response(
        StatusCode::ACCEPTED,
        json!({"delivery": delivery_view(&now)}),
    ))
}

fn not_dead(record: &DeliveryRecord) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "not_dead",
        format!(
            "delivery `{}` is {}: only dead deliveries are redelivered",
            record.id, record.state
        ),
    )
}

/// `POST /api/deliveries/redeliver` with a filter body (`endpoint`,
/// `event`, `since`, `until`, `limit` up to 10 000; `{}` for every dead
/// delivery): redelivers the dead deliveries it selects.
pub(crate) async fn redeliver_bulk(
    State(state): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let filter = object_body(body)?;
    let text = |map: &Map<String, Value>, key: &str| -> Result<Option<String>, ApiError> {
        match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError::field(
                "invalid_field",
                key,
                format!("`{key}` must be a string"),
            )),
        }
    };
    const KEYS: &[&str] = &["endpoint", "event", "since", "until", "limit"];
    if let Some(key) = filter.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(ApiError::field(
            "unknown_field",
            key.clone(),
            format!("unknown field `{key}` (known: {})", KEYS.join(", ")),
        ));
    }
    let limit = match filter.get("limit") {
        None | Some(Value::Null) => MAX_BULK,
        Some(value) => value
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| (1..=MAX_BULK).contains(n))
            .ok_or_else(|| {
                ApiError::field(
                    "invalid_field",
                    "limit",
                    format!("`limit` must be a number from 1 to {MAX_BULK}"),
                )
            })?,
    };
    let mut query = DeliveryQuery {
        endpoint_id: text(&filter, "endpoint")?,
        event_id: text(&filter, "event")?,
        state: Some(DeliveryState::Dead),
        since: text(&filter, "since")?
            .map(|t| parse_time("since", &t))
            .transpose()?,
        until: text(&filter, "until")?
            .map(|t| parse_time("until", &t))
            .transpose()?,
        cursor: None,
        limit: MAX_PAGE,
    };
    let dispatcher = state.dispatcher();
    let mut redelivered = Vec::new();
    let mut more = false;
    'pages: loop {
        let page = dispatcher
            .list(&query)
            .await
            .map_err(|e| ApiError::store(&e))?;
        for record in &page.deliveries {
            if redelivered.len() >= limit {
                more = true;
                break 'pages;
            }
            if let Some(pending) = dispatcher
                .redeliver(&record.id)
                .await
                .map_err(|e| ApiError::store(&e))?
            {
                redelivered.push(pending);
            }
        }
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => break,
        }
    }
    Ok(json_response(
        StatusCode::ACCEPTED,
        json!({"count": redelivered.len(), "redelivered": redelivered, "more": more}),
    ))
}

/// `GET /api/stats`: the guide's `get_stats` figures over the store's
/// retention (docs/design.md section 9.9), deliveries by state, endpoints,
/// attempts in flight.
pub(crate) async fn stats(State(state): State<ApiState>) -> Result<Response, ApiError> {
    let dispatcher = state.dispatcher();
    let stats = dispatcher.stats().await.map_err(|e| ApiError::store(&e))?;
    let totals = dispatcher
        .outcome_totals()
        .await
        .map_err(|e| ApiError::store(&e))?;
    Ok(json_response(
        StatusCode::OK,
        json!({
            "total_deliveries": totals.total(),
            "success_rate": totals.success_rate(),
            "average_delivery_time": totals.average_delivery_time().as_secs_f64(),
            "total_retries": totals.retries,
            "deliveries": {
                "pending": stats.pending,
                "delivered": stats.delivered,
                "dead": stats.dead,
            },
            "endpoints": dispatcher.endpoints().len(),
            "in_flight": dispatcher.in_flight(),
        }),
    ))
}
