//! `/api/webhooks`: registering, listing, patching, deleting and enabling
//! endpoints.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::ApiState;
use super::error::{ApiError, ApiPath, ApiQuery, json_response, object_body};
use crate::config::EndpointConfig;
use crate::dispatcher::{Dispatcher, MAX_PAGE, stored_endpoint_config};
use crate::{Error, Warning, check_destination};

/// The keys of a registration body.
const KEYS: &[&str] = &[
    "url",
    "events",
    "headers",
    "filters",
    "retry_policy",
    "secret",
    "standard_webhooks",
    "allow_insecure_http",
    "timeout",
    "max_in_flight",
    "rate_limit",
];

/// Keys whose values are never echoed in an error message.
const SENSITIVE: &[&str] = &["secret", "headers", "standard_webhooks", "url"];

/// API-registered retry policies are bounded (design 9.2).
const MAX_ATTEMPTS: u32 = 50;
const MAX_DELAY_SECS: f64 = 3_600.0;

/// What the store keeps of a registered endpoint.
const STORED_VERSION: u64 = 1;

/// Brings the dispatcher's registered endpoints in line with the store;
/// `loaded` holds the stored document of each one loaded. One that no
/// longer loads is left out with a warning.
pub(crate) async fn sync_registered(
    dispatcher: &Dispatcher,
    loaded: &mut HashMap<String, String>,
) -> Result<Vec<Warning>, Error> {
    let mut warnings = Vec::new();
    let stored = dispatcher.endpoint_documents().await?;
    let ids: std::collections::HashSet<&str> = stored.iter().map(|(id, _)| id.as_str()).collect();
    loaded.retain(|id, _| {
        let keep = ids.contains(id.as_str());
        if !keep {
            // Deleted through another instance (which ended its deliveries).
            dispatcher.forget_endpoint(id);
        }
        keep
    });
    for (id, document) in stored {
        if loaded.get(&id) == Some(&document) {
            continue;
        }
        let Some(config) = stored_endpoint_config(&document) else {
            warnings.push(Warning::new(
                format!("endpoint {id}"),
                if crate::dispatcher::is_sealed(&document) {
                    "the stored endpoint is sealed and does not open with MEGABOT_STORE_KEY (none is set, or another key sealed it); it is left out"
                } else {
                    "the stored endpoint cannot be read; it is left out"
                },
            ));
            continue;
        };
        match dispatcher.add_endpoint(&id, config).await {
            Ok(_) => {
                loaded.insert(id, document);
            }
            Err(Error::Config(error)) => warnings.push(Warning::new(
                format!("endpoint {id}"),
                format!("the stored endpoint no longer loads ({error}); it is left out"),
            )),
            Err(other) => return Err(other),
        }
    }
    Ok(warnings)
}

/// A fresh `ep_…` id: time-ordered, then random.
fn new_id() -> String {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(SEQUENCE.fetch_add(1, Ordering::Relaxed));
    let millis = Utc::now().timestamp_millis().max(0);
    format!("ep_{millis:011x}{:08x}", hasher.finish() & 0xffff_ffff)
}

/// `url` with its password (if any) replaced by `****`.
pub(crate) fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url.trim()) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        Ok(_) => url.to_owned(),
        // Not parsable: shown only up to a possible `user:password@`.
        Err(_) => match url.rfind('@') {
            Some(at) => format!("****{}", &url[at..]),
            None => url.to_owned(),
        },
    }
}

/// The public view of an endpoint: no secret, no header value, no URL
/// password.
fn view(dispatcher: &Dispatcher, id: &str, config: &EndpointConfig) -> Value {
    let source = if id.starts_with("cfg_") {
        "config"
    } else {
        "api"
    };
    json!({
        "id": id,
        "source": source,
        "url": redact_url(&config.url),
        "events": config.events,
        "filters": config.filters,
        "retry_policy": config.retry_policy,
        "header_names": config.headers.iter().map(|(name, _)| name).collect::<Vec<_>>(),
        "has_secret": true,
        "own_secret": config.secret.is_some(),
        "standard_webhooks": config.standard_webhooks.as_ref().map(|s| json!({
            "enabled": s.enabled,
            "has_secret": !s.secret.is_empty(),
        })),
        "allow_insecure_http": config.allow_insecure_http,
        "timeout": config.timeout,
        "max_in_flight": config.max_in_flight,
        "rate_limit": config.rate_limit,
        "disabled": dispatcher.is_disabled(id),
        "read_only": source == "config",
    })
}

fn warnings_json(warnings: &[(String, String)]) -> Value {
    Value::Array(
        warnings
            .iter()
            .map(|(field, message)| json!({"field": field, "message": message}))
            .collect(),
    )
}

/// `key` of a dispatcher warning or error, without the `endpoint.` prefix.
fn field_of(key: &str) -> String {
    key.strip_prefix("endpoint.").unwrap_or(key).to_owned()
}

/// Checks a registration body (after a patch, for `PATCH`) and returns the
/// endpoint's config and the warnings so far. Nothing is stored.
async fn check_body(
    state: &ApiState,
    raw: &Map<String, Value>,
) -> Result<(EndpointConfig, Vec<(String, String)>), ApiError> {
    for key in raw.keys() {
        if !KEYS.contains(&key.as_str()) {
            let hint = crate::suggest::hint(key, KEYS.iter().copied());
            return Err(ApiError::field(
                "unknown_field",
                key.clone(),
                format!("unknown field `{key}`{hint}"),
            ));
        }
    }
    let url = match raw.get("url") {
        None | Some(Value::Null) => {
            return Err(ApiError::field("missing_field", "url", "`url` is required"));
        }
        Some(Value::String(url)) => url.clone(),
        Some(_) => {
            return Err(ApiError::field(
                "invalid_field",
                "url",
                "`url` must be a string",
            ));
        }
    };
    let config = match serde_json::from_value::<EndpointConfig>(Value::Object(raw.clone())) {
        Ok(config) => config,
        Err(_) => return Err(locate_shape_error(raw)),
    };
    let policy = &config.retry_policy;
    if policy.max_attempts > MAX_ATTEMPTS {
        return Err(ApiError::field(
            "invalid_field",
            "retry_policy.max_attempts",
            format!(
                "max_attempts is at most {MAX_ATTEMPTS} for an endpoint registered through the API, not {}",
                policy.max_attempts
            ),
        ));
    }
    if policy.max_delay.is_nan() || policy.max_delay > MAX_DELAY_SECS {
        return Err(ApiError::field(
            "invalid_field",
            "retry_policy.max_delay",
            format!(
                "max_delay is at most {MAX_DELAY_SECS} seconds (1 hour) for an endpoint registered through the API"
            ),
        ));
    }
    let parsed = reqwest::Url::parse(url.trim())
        .map_err(|e| ApiError::field("invalid_url", "url", format!("invalid url: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ApiError::field(
            "invalid_url",
            "url",
            "the url must be http:// or https://",
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(ApiError::field(
            "invalid_url",
            "url",
            "invalid url: no host",
        ));
    }
    let dispatcher = state.dispatcher();
    let resolver = dispatcher.resolver();
    let warnings = check_destination(&url, dispatcher.destination_policy(), resolver.as_ref())
        .await
        .map_err(|refusal| {
            let code = if refusal.refused_address().is_some() {
                "destination_refused"
            } else {
                "invalid_url"
            };
            ApiError::field(code, "url", refusal.to_string())
        })?;
    Ok((
        config,
        warnings
            .iter()
            .map(|w| ("url".to_owned(), w.message().to_owned()))
            .collect(),
    ))
}

/// Names the key of `raw` that does not have the right shape.
fn locate_shape_error(raw: &Map<String, Value>) -> ApiError {
    for (key, value) in raw {
        if key == "url" {
            continue;
        }
        let mut probe = Map::new();
        probe.insert("url".to_owned(), Value::from("https://probe.invalid/"));
        probe.insert(key.clone(), value.clone());
        let Err(error) = serde_json::from_value::<EndpointConfig>(Value::Object(probe)) else {
            continue;
        };
        let text = error.to_string();
        let unknown = text
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next());
        let field = match unknown {
            Some(inner) => format!("{key}.{inner}"),
            None => key.clone(),
        };
        let message = if SENSITIVE.contains(&key.as_str()) && unknown.is_none() {
            format!("`{key}` does not have the expected shape")
        } else {
            format!("`{key}`: {text}")
        };
        return ApiError::field("invalid_field", field, message);
    }
    ApiError::field("invalid_body", "body", "the body is not a valid endpoint")
}

/// Adds (or replaces) endpoint `id` in the dispatcher and the store.
async fn install(
    state: &ApiState,
    loaded: &mut HashMap<String, String>,
    id: &str,
    raw: Map<String, Value>,
    config: EndpointConfig,
    mut warnings: Vec<(String, String)>,
    created_at: Option<Value>,
) -> Result<(Value, Vec<(String, String)>), ApiError> {
    let dispatcher = state.dispatcher();
    let previous = dispatcher.endpoint_config(id);
    let added = dispatcher
        .add_endpoint(id, config.clone())
        .await
        .map_err(|e| ApiError::from_dispatcher(&e))?;
    warnings.extend(
        added
            .iter()
            .map(|w| (field_of(w.key()), w.message().to_owned())),
    );
    let now = Value::from(Utc::now().to_rfc3339());
    let document = json!({
        "version": STORED_VERSION,
        "created_at": created_at.unwrap_or_else(|| now.clone()),
        "updated_at": now,
        "config": Value::Object(raw),
    });
    let document = document.to_string();
    if let Err(error) = dispatcher.put_endpoint_document(id, &document).await {
        // Undo: the dispatcher keeps what the store has.
        match previous {
            Some(previous) => {
                let _ = dispatcher.add_endpoint(id, previous).await;
            }
            None => {
                let _ = dispatcher.remove_endpoint(id).await;
            }
        }
        return Err(ApiError::store(&error));
    }
    loaded.insert(id.to_owned(), document);
    Ok((view(dispatcher, id, &config), warnings))
}

/// `POST /api/webhooks`.
pub(crate) async fn create(
    State(state): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let raw = object_body(body)?;
    let (config, warnings) = check_body(&state, &raw).await?;
    let mut loaded = state.inner.edit.lock().await;
    let id = new_id();
    let (endpoint, warnings) =
        install(&state, &mut loaded, &id, raw, config, warnings, None).await?;
    tracing::info!(endpoint = %id, "webhook endpoint registered");
    Ok(json_response(
        StatusCode::CREATED,
        json!({"endpoint": endpoint, "warnings": warnings_json(&warnings)}),
    ))
}

/// `limit` of a list query: 1 to 500, default 100.
pub(crate) fn page_limit(query: &HashMap<String, String>) -> Result<usize, ApiError> {
    match query.get("limit") {
        None => Ok(100),
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=MAX_PAGE).contains(&limit) => Ok(limit),
            _ => Err(ApiError::field(
                "invalid_parameter",
                "limit",
                format!("limit must be a number from 1 to {MAX_PAGE}"),
            )),
        },
    }
}

/// Refuses query parameters other than `allowed`.
pub(crate) fn known_parameters(
    query: &HashMap<String, String>,
    allowed: &[&str],
) -> Result<(), ApiError> {
    match query.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(ApiError::field(
            "unknown_parameter",
            key.clone(),
            format!(
                "unknown query parameter `{key}` (known: {})",
                allowed.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// `GET /api/webhooks?cursor=&limit=`: every endpoint, by id.
pub(crate) async fn list(
    State(state): State<ApiState>,
    ApiQuery(query): ApiQuery,
) -> Result<Response, ApiError> {
    known_parameters(&query, &["cursor", "limit"])?;
    let limit = page_limit(&query)?;
    let dispatcher = state.dispatcher();
    let mut endpoints = dispatcher.endpoint_configs();
    endpoints.sort_by(|a, b| a.0.cmp(&b.0));
    let cursor = query.get("cursor").filter(|c| !c.is_empty());
    let mut page: Vec<_> = endpoints
        .iter()
        .filter(|(id, _)| cursor.is_none_or(|c| id.as_str() > c.as_str()))
        .take(limit + 1)
        .collect();
    let next_cursor = if page.len() > limit {
        page.truncate(limit);
        page.last().map(|(id, _)| id.clone())
    } else {
        None
    };
    let items: Vec<Value> = page
        .iter()
        .map(|(id, config)| view(dispatcher, id, config))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        json!({"endpoints": items, "next_cursor": next_cursor}),
    ))
}

fn endpoint_not_found(id: &str) -> ApiError {
    ApiError::not_found("endpoint_not_found", format!("no endpoint `{id}`"))
}

fn read_only(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "read_only_endpoint",
        format!(
            "`{id}` comes from the config file: it is read-only through the API (but for POST /api/webhooks/{id}/enable); change the config file instead"
        ),
    )
}

/// `GET /api/webhooks/{id}`.
pub(crate) async fn show(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath,
) -> Result<Response, ApiError> {
    let dispatcher = state.dispatcher();
    let config = dispatcher
        .endpoint_config(&id)
        .ok_or_else(|| endpoint_not_found(&id))?;
    Ok(json_response(
        StatusCode::OK,
        json!({"endpoint": view(dispatcher, &id, &config)}),
    ))
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(target) = target {
        for (key, value) in patch {
            if value.is_null() {
                target.remove(key);
            } else {
                merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// `PATCH /api/webhooks/{id}`: a JSON merge patch of the registration body.
pub(crate) async fn patch(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let patch = object_body(body)?;
    let dispatcher = state.dispatcher();
    if dispatcher.endpoint_config(&id).is_none() {
        return Err(endpoint_not_found(&id));
    }
    if !id.starts_with("ep_") {
        return Err(read_only(&id));
    }
    let mut loaded = state.inner.edit.lock().await;
    let document = dispatcher
        .endpoint_document(&id)
        .await
        .map_err(|e| ApiError::store(&e))?
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .ok_or_else(|| endpoint_not_found(&id))?;
    let mut raw = document.get("config").cloned().unwrap_or(Value::Null);
    merge_patch(&mut raw, &Value::Object(patch));
    let Value::Object(raw) = raw else {
        return Err(ApiError::field(
            "invalid_body",
            "body",
            "the patched endpoint is not a JSON object",
        ));
    };
    let (config, warnings) = check_body(&state, &raw).await?;
    let created_at = document.get("created_at").cloned();
    let (endpoint, warnings) =
        install(&state, &mut loaded, &id, raw, config, warnings, created_at).await?;
    tracing::info!(endpoint = %id, "webhook endpoint patched");
    Ok(json_response(
        StatusCode::OK,
        json!({"endpoint": endpoint, "warnings": warnings_json(&warnings)}),
    ))
}

/// `DELETE /api/webhooks/{id}`: its pending deliveries end `dead`
/// (`endpoint_deleted`).
pub(crate) async fn delete(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath,
) -> Result<Response, ApiError> {
    let dispatcher = state.dispatcher();
    if dispatcher.endpoint_config(&id).is_none() {
        return Err(endpoint_not_found(&id));
    }
    if !id.starts_with("ep_") {
        return Err(read_only(&id));
    }
    let mut loaded = state.inner.edit.lock().await;
    dispatcher
        .store()
        .delete_endpoint(&id)
        .await
        .map_err(|e| ApiError::store(&e))?;
    loaded.remove(&id);
    let ended = dispatcher
        .remove_endpoint(&id)
        .await
        .map_err(|e| ApiError::store(&e))?
        .ok_or_else(|| endpoint_not_found(&id))?;
    tracing::info!(endpoint = %id, ended, "webhook endpoint deleted");
    Ok(json_response(
        StatusCode::OK,
        json!({"deleted": id, "ended_deliveries": ended}),
    ))
}

/// `POST /api/webhooks/{id}/enable`.
pub(crate) async fn enable(
    State(state): State<ApiState>,
    ApiPath(id): ApiPath,
) -> Result<Response, ApiError> {
    let dispatcher = state.dispatcher();
    if !dispatcher
        .enable(&id)
        .await
        .map_err(|e| ApiError::store(&e))?
    {
        return Err(endpoint_not_found(&id));
    }
    let config = dispatcher
        .endpoint_config(&id)
        .ok_or_else(|| endpoint_not_found(&id))?;
    Ok(json_response(
        StatusCode::OK,
        json!({"endpoint": view(dispatcher, &id, &config)}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut target, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(target, json!({"a": "z", "c": {"d": "e"}}));
        let mut target = json!({"events": ["a", "b"]});
        merge_patch(&mut target, &json!({"events": ["c"]}));
        assert_eq!(target, json!({"events": ["c"]}));
    }

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact_url("https://user:hunter2@e.com/hook"),
            "https://user:****@e.com/hook"
        );
        assert_eq!(redact_url("https://e.com/hook"), "https://e.com/hook");
        assert!(!redact_url("not a url user:hunter2@x").contains("hunter2"));
    }

    #[test]
    fn ids_are_registered_ids() {
        let (a, b) = (new_id(), new_id());
        assert!(a.starts_with("ep_") && a != b && a.len() == 22, "{a}");
    }
}
