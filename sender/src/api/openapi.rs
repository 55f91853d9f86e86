// Over 600 lines: one OpenAPI document, built top-down (paths from the route table,
// then the webhooks MegaBot sends, then the shared components) with the helpers that
// keep its `$ref` names consistent; the part per route is the `spec` table, one arm a
// route. Split it only with the route table itself.
//! The OpenAPI 3.1 document of the registration and events API and of the webhooks
//! MegaBot sends (docs/design.md 9.10): `paths` from [`ROUTES`] with the
//! bearer auth scheme, request and error bodies; `webhooks` with every event's payload
//! schema (generated from megabot-webhook-types' Rust types) and the signature headers of
//! both schemes. `megabot-webhook schema --openapi` prints it, `megabot-webhook serve`
//! answers it at [`OPENAPI_PATH`], and `schema/openapi.json` in the repository is it.

use megabot_webhook_types::schema as event_schema;
use megabot_webhook_types::{EventName, examples, headers};
use serde_json::{Map, Value, json};

use super::{BODY_LIMIT, ROUTES, Route};
use crate::dispatcher::MAX_PAGE;

/// Where `megabot-webhook serve` answers this document, without a token: it is a
/// public description and holds no secret.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// The OpenAPI version of the document.
pub const OPENAPI_VERSION: &str = "3.1.0";

const SCHEMAS: &str = "#/components/schemas/";

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("{SCHEMAS}{name}")})
}

fn parameter_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/parameters/{name}")})
}

fn response_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/responses/{name}")})
}

fn json_content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

/// The whole document.
pub fn document() -> Value {
    json!({
        "openapi": OPENAPI_VERSION,
        "jsonSchemaDialect": event_schema::DIALECT,
        "info": {
            "title": "MegaBot webhooks",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "The webhooks MegaBot sends, and the registration and events API of its dispatcher.",
            "description": format!(
                "`webhooks`: one entry per MegaBot event, its body (the event envelope with its typed \
                `data`, generated from the Rust types of megabot-webhook-types) and the headers of a \
                delivery: `X-MegaBot-Signature` (HMAC-SHA256 of the body) and, when the endpoint enables \
                them, the Standard Webhooks headers (`v1` HMAC and `v1a` Ed25519 entries). Receivers \
                verify the raw body bytes as they arrived.\n\n\
                `paths`: the dispatcher's registration and events API (`megabot-webhook serve`, or \
                `megabot_webhook_sender::api::router` mounted in your own server). Every route needs \
                `Authorization: Bearer <admin token>` (`401` otherwise); request bodies are capped at \
                {BODY_LIMIT} bytes (`413`); errors are `{{\"error\", \"message\", \"field\"}}`. A route \
                that does not exist answers `404` (`not_found`), a method a route does not take `405` \
                (`method_not_allowed`), both with the same error body and behind the same token."
            ),
            "license": {"name": "MIT OR Apache-2.0", "identifier": "MIT OR Apache-2.0"},
        },
        "servers": [{"url": "http://127.0.0.1:3000", "description": "`megabot-webhook serve`'s default address"}],
        "security": [{"bearerAuth": []}],
        "tags": [
            {"name": "webhooks", "description": "Registered endpoints (`/api/webhooks`)"},
            {"name": "events", "description": "Publishing events (`/api/events`)"},
            {"name": "deliveries", "description": "The delivery log and redelivery (`/api/deliveries`, `/api/stats`)"},
            {"name": "meta", "description": "This document"},
            {"name": "megabot-events", "description": "The webhooks MegaBot sends"},
        ],
        "paths": paths(),
        "webhooks": webhooks(),
        "components": components(),
    })
}

/// `paths`: one operation per entry of [`ROUTES`], plus [`OPENAPI_PATH`].
fn paths() -> Map<String, Value> {
    let mut paths = Map::new();
    for route in ROUTES {
        let item = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        if let Some(item) = item.as_object_mut() {
            item.insert(route.method.to_ascii_lowercase(), operation(route));
        }
    }
    paths.insert(
        OPENAPI_PATH.to_owned(),
        json!({"get": {
            "operationId": "getOpenApi",
            "summary": "This document",
            "description": "Served by `megabot-webhook serve` without a token: it is a public description and holds no secret. `megabot-webhook schema --openapi` prints the same.",
            "tags": ["meta"],
            "security": [],
            "responses": {"200": {
                "description": "The OpenAPI document",
                "content": json_content(json!({"type": "object"})),
            }},
        }}),
    );
    paths
}

/// What one operation does: its id, summary, tag, parameters, body and success answers.
struct Spec {
    id: &'static str,
    summary: &'static str,
    description: &'static str,
    tag: &'static str,
    parameters: Vec<Value>,
    body: Option<Value>,
    /// `(status, description, schema)` of each 2xx answer.
    success: Vec<(u16, &'static str, Value)>,
}

fn spec(route: &Route) -> Spec {
    let id_param = |name: &str| vec![parameter_ref(name)];
    let page = vec![parameter_ref("Cursor"), parameter_ref("Limit")];
    match (route.method, route.path) {
        ("POST", "/api/webhooks") => Spec {
            id: "registerEndpoint",
            summary: "Register an endpoint",
            description: "The guide's body (`url`, `events`, `secret`, `filters`, optional `retry_policy`, `headers`). Event patterns that match no known event are accepted with a warning. The URL is checked by the destination guard (SSRF). The secret is never returned.",
            tag: "webhooks",
            parameters: vec![],
            body: Some(schema_ref("EndpointRegistration")),
            success: vec![(
                201,
                "Registered: the endpoint and the warnings",
                schema_ref("EndpointAnswer"),
            )],
        },
        ("GET", "/api/webhooks") => Spec {
            id: "listEndpoints",
            summary: "List the endpoints",
            description: "Registered (`ep_…`) and config-file (`cfg_…`) endpoints, by id, a page at a time.",
            tag: "webhooks",
            parameters: page,
            body: None,
            success: vec![(200, "A page of endpoints", schema_ref("EndpointList"))],
        },
        ("GET", "/api/webhooks/{id}") => Spec {
            id: "getEndpoint",
            summary: "One endpoint",
            description: "",
            tag: "webhooks",
            parameters: id_param("EndpointId"),
            body: None,
            success: vec![(
                200,
                "The endpoint",
                json!({"type": "object", "required": ["endpoint"], "properties": {"endpoint": schema_ref("Endpoint")}}),
            )],
        },
        ("PATCH", "/api/webhooks/{id}") => Spec {
            id: "patchEndpoint",
            summary: "Change a registered endpoint",
            description: "A JSON merge patch (RFC 7386) of the registration body: `null` removes a key. Config-file endpoints are read-only (`403`).",
            tag: "webhooks",
            parameters: id_param("EndpointId"),
            body: Some(json!({
                "description": "A JSON merge patch of `EndpointRegistration`.",
                "type": "object",
            })),
            success: vec![(
                200,
                "The patched endpoint and the warnings",
                schema_ref("EndpointAnswer"),
            )],
        },
        ("DELETE", "/api/webhooks/{id}") => Spec {
            id: "deleteEndpoint",
            summary: "Delete a registered endpoint",
            description: "Its pending deliveries end `dead` (reason `endpoint_deleted`). Config-file endpoints are read-only (`403`).",
            tag: "webhooks",
            parameters: id_param("EndpointId"),
            body: None,
            success: vec![(
                200,
                "Deleted",
                json!({
                    "type": "object",
                    "required": ["deleted", "ended_deliveries"],
                    "properties": {
                        "deleted": {"type": "string", "description": "The endpoint's id."},
                        "ended_deliveries": {"type": "integer", "minimum": 0, "description": "Pending deliveries that ended `dead`."},
                    },
                }),
            )],
        },
        ("POST", "/api/webhooks/{id}/enable") => Spec {
            id: "enableEndpoint",
            summary: "Re-enable an endpoint",
            description: "An endpoint disabled by its health rule (`disable_after`) takes deliveries again. Allowed for config-file endpoints too.",
            tag: "webhooks",
            parameters: id_param("EndpointId"),
            body: None,
            success: vec![(
                200,
                "The endpoint, enabled",
                json!({"type": "object", "required": ["endpoint"], "properties": {"endpoint": schema_ref("Endpoint")}}),
            )],
        },
        ("POST", "/api/events") => Spec {
            id: "publishEvent",
            summary: "Publish an event",
            description: "A full envelope. Unknown and misshapen events are accepted and delivered as they are (with a warning for an unknown name); `id` is 1 to 128 characters of `A-Z a-z 0-9 _ -`. Publishing is all-or-nothing: when the store cannot take every implied delivery, nothing is stored (`503`).",
            tag: "events",
            parameters: vec![],
            body: Some(schema_ref("PublishRequest")),
            success: vec![
                (
                    200,
                    "The event id was already published: nothing new is stored; its deliveries",
                    schema_ref("PublishAnswer"),
                ),
                (
                    202,
                    "Stored: one delivery per matching endpoint",
                    schema_ref("PublishAnswer"),
                ),
            ],
        },
        ("GET", "/api/deliveries") => Spec {
            id: "listDeliveries",
            summary: "The delivery log",
            description: "Newest first, filtered by endpoint, event id, status and time.",
            tag: "deliveries",
            parameters: vec![
                json!({"name": "endpoint", "in": "query", "description": "An endpoint id.", "schema": {"type": "string"}}),
                json!({"name": "event", "in": "query", "description": "An event id.", "schema": {"type": "string"}}),
                json!({"name": "status", "in": "query", "schema": schema_ref("DeliveryStatus")}),
                json!({"name": "since", "in": "query", "description": "An RFC 3339 time or unix seconds.", "schema": {"type": "string"}}),
                json!({"name": "until", "in": "query", "description": "An RFC 3339 time or unix seconds.", "schema": {"type": "string"}}),
                parameter_ref("Cursor"),
                parameter_ref("Limit"),
            ],
            body: None,
            success: vec![(200, "A page of deliveries", schema_ref("DeliveryList"))],
        },
        ("GET", "/api/deliveries/{id}") => Spec {
            id: "getDelivery",
            summary: "One delivery and its attempts",
            description: "",
            tag: "deliveries",
            parameters: id_param("DeliveryId"),
            body: None,
            success: vec![(
                200,
                "The delivery and its attempt log",
                json!({
                    "type": "object",
                    "required": ["delivery", "attempts"],
                    "properties": {
                        "delivery": schema_ref("Delivery"),
                        "attempts": {"type": "array", "items": schema_ref("Attempt")},
                    },
                }),
            )],
        },
        ("POST", "/api/deliveries/{id}/redeliver") => Spec {
            id: "redeliverDelivery",
            summary: "Redeliver a dead delivery",
            description: "The delivery is pending again (a new delivery for a re-stamped stale one); `409` when it is not dead.",
            tag: "deliveries",
            parameters: id_param("DeliveryId"),
            body: None,
            success: vec![(
                202,
                "Pending again: the delivery now pending",
                json!({"type": "object", "required": ["delivery"], "properties": {"delivery": schema_ref("Delivery")}}),
            )],
        },
        ("POST", "/api/deliveries/redeliver") => Spec {
            id: "redeliverDeliveries",
            summary: "Redeliver the dead deliveries a filter selects",
            description: "`{}` selects every dead delivery.",
            tag: "deliveries",
            parameters: vec![],
            body: Some(schema_ref("RedeliverFilter")),
            success: vec![(
                202,
                "The deliveries now pending",
                json!({
                    "type": "object",
                    "required": ["count", "redelivered", "more"],
                    "properties": {
                        "count": {"type": "integer", "minimum": 0},
                        "redelivered": {"type": "array", "items": {"type": "string"}, "description": "The ids of the deliveries now pending."},
                        "more": {"type": "boolean", "description": "Whether the filter selects more than `limit`."},
                    },
                }),
            )],
        },
        ("GET", "/api/stats") => Spec {
            id: "getStats",
            summary: "Counts by state",
            description: "",
            tag: "deliveries",
            parameters: vec![],
            body: None,
            success: vec![(200, "The counts", schema_ref("Stats"))],
        },
        // A route without its own description (a test checks that there is none).
        _ => Spec {
            id: "",
            summary: "",
            description: "",
            tag: "",
            parameters: vec![],
            body: None,
            success: vec![],
        },
    }
}

/// The shared answer of an error status.
fn error_response(status: u16) -> Value {
    let name = match status {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "ReadOnly",
        404 => "NotFound",
        409 => "NotDead",
        413 => "BodyTooLarge",
        503 => "StoreUnavailable",
        _ => "Internal",
    };
    response_ref(name)
}

fn operation(route: &Route) -> Value {
    let spec = spec(route);
    let mut responses = Map::new();
    for status in route.statuses {
        let response = match spec.success.iter().find(|(s, _, _)| s == status) {
            Some((_, description, schema)) => json!({
                "description": description,
                "content": json_content(schema.clone()),
            }),
            None => error_response(*status),
        };
        responses.insert(status.to_string(), response);
    }
    let mut operation = json!({
        "operationId": spec.id,
        "summary": spec.summary,
        "tags": [spec.tag],
        "responses": responses,
    });
    if !spec.description.is_empty() {
        operation["description"] = json!(spec.description);
    }
    if !spec.parameters.is_empty() {
        operation["parameters"] = Value::Array(spec.parameters);
    }
    if let Some(body) = spec.body {
        operation["requestBody"] = json!({"required": true, "content": json_content(body)});
    }
    operation
}

/// `webhooks`: one `POST` per known event, with its payload schema and example.
fn webhooks() -> Map<String, Value> {
    let mut webhooks = Map::new();
    for name in EventName::ALL {
        let example = examples::example(*name).to_value();
        webhooks.insert(
            name.as_str().to_owned(),
            json!({"post": {
                "operationId": format!("webhook_{name}"),
                "summary": format!("`{name}`"),
                "description": format!(
                    "MegaBot POSTs `{name}` to each endpoint subscribed to it. The body's `data` is `{}`. \
                    Verify the signature over the raw body before parsing it; retries carry the same body \
                    and `id` (deduplicate by it).",
                    event_schema::data_definition(*name)
                ),
                "tags": ["megabot-events"],
                "security": [],
                "parameters": [
                    parameter_ref("MegaBotSignature"),
                    parameter_ref("MegaBotEvent"),
                    parameter_ref("MegaBotDelivery"),
                    parameter_ref("MegaBotTimestamp"),
                    parameter_ref("UserAgent"),
                    parameter_ref("WebhookId"),
                    parameter_ref("WebhookTimestamp"),
                    parameter_ref("WebhookSignature"),
                ],
                "requestBody": {
                    "required": true,
                    "content": {"application/json": {
                        "schema": schema_ref(&event_schema::event_definition(*name)),
                        "example": example,
                    }},
                },
                "responses": receiver_responses(),
            }}),
        );
    }
    webhooks
}

/// What a receiver answers (the SDK's adapters, docs/design.md section 4.4 and 4.5):
/// references to [`receiver_response_components`].
fn receiver_responses() -> Value {
    let mut responses = Map::new();
    for (status, name, _) in RECEIVER_RESPONSES {
        responses.insert(status.to_string(), response_ref(name));
    }
    Value::Object(responses)
}

/// `(status, component name, description)` of each receiver answer.
const RECEIVER_RESPONSES: &[(u16, &str, &str)] = &[
    (
        200,
        "ReceiverHandled",
        "Handled (any 2xx ends the retries), or `{\"status\": \"duplicate\"}`: this event id was handled before.",
    ),
    (
        400,
        "ReceiverNotAnEnvelope",
        "A signed body that is not an event envelope (or has an empty `id`).",
    ),
    (
        401,
        "ReceiverSignatureRefused",
        "A missing, malformed or wrong signature, or a stale or future timestamp.",
    ),
    (
        409,
        "ReceiverInFlight",
        "This event id is being handled now (a retry overtook the first attempt): retried later.",
    ),
    (
        413,
        "ReceiverBodyTooLarge",
        "The body is over the receiver's limit (1 MiB by default).",
    ),
    (
        503,
        "ReceiverStoreUnavailable",
        "The receiver's replay store is full or unreachable: retried later.",
    ),
];

/// The receiver answers, as `components.responses`.
fn receiver_response_components() -> Vec<(String, Value)> {
    let retry_after = json!({"Retry-After": {"description": "Seconds to wait before the retry.", "schema": {"type": "integer", "minimum": 0}}});
    RECEIVER_RESPONSES
        .iter()
        .map(|(status, name, description)| {
            let mut response = if *status == 200 {
                json!({
                    "description": description,
                    "content": json_content(json!({"type": "object", "properties": {"status": {"type": "string", "examples": ["duplicate"]}}})),
                })
            } else {
                json!({"description": description, "content": json_content(schema_ref("ReceiverError"))})
            };
            if matches!(status, 409 | 503) {
                response["headers"] = retry_after.clone();
            }
            ((*name).to_owned(), response)
        })
        .collect()
}

fn header_parameter(name: &str, required: bool, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "header", "required": required, "description": description, "schema": schema})
}

fn components() -> Value {
    let mut schemas = event_schema::definitions("/components/schemas");
    for (name, schema) in api_schemas() {
        schemas.insert(name, schema);
    }
    let error = json_content(schema_ref("ApiError"));
    let error_response =
        |description: &str| json!({"description": description, "content": error.clone()});
    let mut unauthorized = error_response(
        "No `Authorization: Bearer <admin token>`, another scheme, or a wrong token (`missing_token`, `invalid_auth_scheme`, `invalid_token`).",
    );
    unauthorized["headers"] = json!({"WWW-Authenticate": {"schema": {"type": "string", "examples": ["Bearer realm=\"megabot-webhook\""]}}});
    let mut responses = json!({
        "BadRequest": error_response("A body, query or path parameter that is not valid; `field` names it."),
        "Unauthorized": unauthorized,
        "ReadOnly": error_response("The endpoint comes from the config file: read-only through the API (`read_only_endpoint`)."),
        "NotFound": error_response("No such endpoint or delivery (`endpoint_not_found`, `delivery_not_found`)."),
        "NotDead": error_response("Only dead deliveries are redelivered (`not_dead`)."),
        "BodyTooLarge": error_response("The request body is over the limit (`body_too_large`, field `body`)."),
        "StoreUnavailable": error_response("The delivery store cannot answer now (`store_unavailable`); nothing was changed."),
        "Internal": error_response("An internal error (`internal`)."),
    });
    for (name, response) in receiver_response_components() {
        responses[name] = response;
    }
    json!({
        "schemas": schemas,
        "securitySchemes": {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "The admin token (at least 32 characters; `megabot-webhook serve` reads it from `MEGABOT_ADMIN_TOKEN`), compared in constant time.",
            },
        },
        "parameters": {
            "EndpointId": {"name": "id", "in": "path", "required": true, "description": "An endpoint id: `ep_…` (registered) or `cfg_…` (config file).", "schema": {"type": "string"}},
            "DeliveryId": {"name": "id", "in": "path", "required": true, "description": "A delivery id (`dlv_…`).", "schema": {"type": "string"}},
            "Cursor": {"name": "cursor", "in": "query", "description": "The `next_cursor` of the previous page.", "schema": {"type": "string"}},
            "Limit": {"name": "limit", "in": "query", "description": "Items per page (default 100).", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
            "MegaBotSignature": header_parameter(headers::SIGNATURE, true,
                "`sha256=<64 hex>`: HMAC-SHA256 of the raw body, keyed with the endpoint's secret (UTF-8). Several entries separated by spaces during a key rotation; valid when any matches.",
                json!({"type": "string", "pattern": "^sha256=[0-9a-fA-F]{64}( +sha256=[0-9a-fA-F]{64})*$"})),
            "MegaBotEvent": header_parameter(headers::EVENT, true,
                "The event name. Not signed: use the body's `event`.", json!({"type": "string"})),
            "MegaBotDelivery": header_parameter(headers::DELIVERY, true,
                "The event id (the same on every retry). Not signed: use the body's `id`.", json!({"type": "string"})),
            "MegaBotTimestamp": header_parameter(headers::TIMESTAMP, true,
                "The event's unix seconds. Not signed: use the body's `timestamp`.", json!({"type": "string", "pattern": "^-?[0-9]+$"})),
            "UserAgent": header_parameter(headers::USER_AGENT, true,
                "The sender.", json!({"type": "string", "const": headers::USER_AGENT_VALUE})),
            "WebhookId": header_parameter(headers::WEBHOOK_ID, false,
                "Standard Webhooks (sent when the endpoint enables them): the event id, part of the signed content `{webhook-id}.{webhook-timestamp}.{body}`.", json!({"type": "string"})),
            "WebhookTimestamp": header_parameter(headers::WEBHOOK_TIMESTAMP, false,
                "Standard Webhooks: the attempt's unix seconds (re-signed on every retry), part of the signed content.", json!({"type": "string", "pattern": "^[0-9]+$"})),
            "WebhookSignature": header_parameter(headers::WEBHOOK_SIGNATURE, false,
                "Standard Webhooks: space-separated entries over `{webhook-id}.{webhook-timestamp}.{body}`: `v1,<base64>` (HMAC-SHA256 keyed with a `whsec_` secret) and `v1a,<base64>` (Ed25519 signed with a `whsk_` key, checked with its `whpk_` public key). A receiver holding public keys lets a `v1a` entry decide.",
                json!({"type": "string", "pattern": "^v1a?,[A-Za-z0-9+/]+={0,2}( +v1a?,[A-Za-z0-9+/]+={0,2})*$"})),
        },
        "responses": responses,
    })
}

/// The API's own bodies (hand-written: the handlers build them as JSON).
fn api_schemas() -> Vec<(String, Value)> {
    let secret = json!({
        "description": "A secret, or a list of secrets (each signs an entry, for key rotation). Never returned.",
        "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
    });
    let nullable_string = json!({"type": ["string", "null"]});
    vec![
        (
            "ApiError".to_owned(),
            json!({
                "description": "An error answer of the API.",
                "type": "object",
                "required": ["error", "message", "field"],
                "properties": {
                    "error": {"type": "string", "description": "A stable snake_case code, such as `invalid_field`."},
                    "message": {"type": "string", "description": "What is wrong, for people. Never holds a secret, a header value, the token or a URL password."},
                    "field": {"type": ["string", "null"], "description": "The offending field (`url`, `retry_policy.max_attempts`, `body`, a query parameter), or null."},
                },
            }),
        ),
        (
            "ReceiverError".to_owned(),
            json!({
                "description": "An error answer of an SDK receiver.",
                "type": "object",
                "required": ["error", "message"],
                "properties": {
                    "error": {"type": "string", "description": "A stable snake_case code."},
                    "message": {"type": "string"},
                },
            }),
        ),
        (
            "Warning".to_owned(),
            json!({
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            }),
        ),
        (
            "EndpointRegistration".to_owned(),
            json!({
                "description": "The guide's registration body. Unknown keys are refused (`unknown_field`).",
                "type": "object",
                "required": ["url"],
                "additionalProperties": false,
                "properties": {
                    "url": {"type": "string", "description": "`https://`, or `http://` to a loopback host or with `allow_insecure_http`. Checked by the destination guard."},
                    "events": {"type": "array", "items": {"type": "string"}, "description": "Event patterns: exact names, `*`, or globs such as `tool_execution_*`. Default `[\"*\"]`."},
                    "secret": secret.clone(),
                    "headers": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Extra request headers. Their values are never returned."},
                    "filters": schema_ref("Filters"),
                    "retry_policy": schema_ref("RetryPolicy"),
                    "standard_webhooks": {
                        "description": "Also sign with the Standard Webhooks scheme (`webhook-*` headers).",
                        "type": "object",
                        "additionalProperties": false,
                        "properties": {
                            "enabled": {"type": "boolean", "description": "Default `true`."},
                            "secret": secret,
                            "signing_key": {"type": "string", "description": "An Ed25519 secret key (`whsk_…`) that signs a `v1a` entry. Never returned."},
                        },
                    },
                    "allow_insecure_http": {"type": "boolean", "description": "Allow `http://` to a host that is not loopback. Default `false`."},
                    "timeout": {"type": "number", "description": "Per-attempt timeout in seconds. Default 10."},
                    "max_in_flight": {"type": ["integer", "null"], "minimum": 0, "description": "Concurrent attempts to this endpoint. Default 8."},
                    "rate_limit": {"type": ["number", "null"], "description": "Deliveries per second to this endpoint. Default none."},
                },
            }),
        ),
        (
            "Filters".to_owned(),
            json!({
                "description": "Which events of the subscribed kinds are sent; all filters must pass.",
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "platforms": {"type": "array", "items": {"type": "string"}, "description": "Accepted values of `data.platform`."},
                    "users": {"type": "array", "items": {"type": "string"}, "description": "Accepted values of `data.user_id` or `data.username`."},
                    "min_severity": schema_ref("Severity"),
                    "content_filters": {"type": "array", "items": {"type": "object", "required": ["type", "field"], "description": "A condition on one field of the event: `type` `contains` (`value`) or `regex` (`pattern`); `field` a dotted path."}},
                    "time_window": {
                        "type": "object",
                        "required": ["start_hour", "end_hour"],
                        "properties": {
                            "start_hour": {"type": "integer", "minimum": 0, "maximum": 23},
                            "end_hour": {"type": "integer", "minimum": 0, "maximum": 24},
                            "timezone": {"type": "string", "description": "An IANA time zone. Default `UTC`."},
                        },
                    },
                },
            }),
        ),
        (
            "RetryPolicy".to_owned(),
            json!({
                "description": "How failed attempts are retried. Through the API `max_attempts` is at most 50 and `max_delay` at most 3600.",
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "max_attempts": {"type": "integer", "minimum": 1, "maximum": 50, "description": "Attempts in all. Default 5."},
                    "backoff_multiplier": {"type": "number", "minimum": 1, "description": "Default 2."},
                    "initial_delay": {"type": "number", "minimum": 0, "description": "Seconds before the second attempt. Default 1."},
                    "max_delay": {"type": "number", "minimum": 0, "maximum": 3600, "description": "The longest wait in seconds. Default 300."},
                    "jitter": {"type": "boolean", "description": "Randomise each wait. Default `false`."},
                },
            }),
        ),
        (
            "Endpoint".to_owned(),
            json!({
                "description": "An endpoint as the API shows it: no secret, no header value, no URL password.",
                "type": "object",
                "required": ["id", "source", "url", "events", "disabled", "read_only"],
                "properties": {
                    "id": {"type": "string", "description": "`ep_…` (registered) or `cfg_…` (config file)."},
                    "source": {"type": "string", "enum": ["api", "config"]},
                    "url": {"type": "string", "description": "With any password shown as `****`."},
                    "events": {"type": "array", "items": {"type": "string"}},
                    "filters": schema_ref("Filters"),
                    "retry_policy": schema_ref("RetryPolicy"),
                    "header_names": {"type": "array", "items": {"type": "string"}},
                    "has_secret": {"type": "boolean"},
                    "own_secret": {"type": "boolean", "description": "Whether the endpoint has its own secret (rather than the config's `secret_key`)."},
                    "standard_webhooks": {"type": ["object", "null"], "properties": {"enabled": {"type": "boolean"}, "has_secret": {"type": "boolean"}}},
                    "allow_insecure_http": {"type": "boolean"},
                    "timeout": {"type": "number"},
                    "max_in_flight": {"type": ["integer", "null"]},
                    "rate_limit": {"type": ["number", "null"]},
                    "disabled": {"type": "boolean", "description": "Disabled by its health rule: `POST /api/webhooks/{id}/enable` enables it."},
                    "read_only": {"type": "boolean"},
                },
            }),
        ),
        (
            "EndpointAnswer".to_owned(),
            json!({
                "type": "object",
                "required": ["endpoint", "warnings"],
                "properties": {
                    "endpoint": schema_ref("Endpoint"),
                    "warnings": {"type": "array", "items": schema_ref("Warning")},
                },
            }),
        ),
        (
            "EndpointList".to_owned(),
            json!({
                "type": "object",
                "required": ["endpoints", "next_cursor"],
                "properties": {
                    "endpoints": {"type": "array", "items": schema_ref("Endpoint")},
                    "next_cursor": nullable_string.clone(),
                },
            }),
        ),
        (
            "PublishRequest".to_owned(),
            json!({
                "description": "A full event envelope. Any event name (known or not) and any `data` are accepted and delivered as they are.",
                "type": "object",
                "required": ["event", "id", "timestamp"],
                "properties": {
                    "event": {"type": "string", "minLength": 1},
                    "id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,128}$"},
                    "timestamp": {"type": "integer", "description": "Unix seconds."},
                    "data": {},
                },
            }),
        ),
        (
            "DeliveryStatus".to_owned(),
            json!({"type": "string", "enum": ["pending", "delivered", "dead"]}),
        ),
        (
            "Delivery".to_owned(),
            json!({
                "description": "A delivery: one event to one endpoint (not its body).",
                "type": "object",
                "required": ["id", "event_id", "event", "endpoint_id", "status", "attempts", "created_at", "updated_at"],
                "properties": {
                    "id": {"type": "string", "description": "`dlv_…`."},
                    "event_id": {"type": "string"},
                    "event": {"type": "string"},
                    "endpoint_id": {"type": "string"},
                    "status": schema_ref("DeliveryStatus"),
                    "attempts": {"type": "integer", "minimum": 0},
                    "created_at": {"type": "string", "format": "date-time"},
                    "updated_at": {"type": "string", "format": "date-time"},
                    "next_attempt_at": {"type": ["string", "null"], "format": "date-time"},
                    "dead_reason": nullable_string.clone(),
                    "last_status": {"type": ["integer", "null"]},
                    "last_error": nullable_string.clone(),
                    "restamped_from": nullable_string.clone(),
                },
            }),
        ),
        (
            "Attempt".to_owned(),
            json!({
                "type": "object",
                "required": ["attempt", "started_at"],
                "properties": {
                    "attempt": {"type": "integer", "minimum": 1},
                    "started_at": {"type": "string", "format": "date-time"},
                    "status": {"type": ["integer", "null"], "description": "The HTTP status answered, if any."},
                    "duration_ms": {"type": ["integer", "null"], "minimum": 0},
                    "error": nullable_string.clone(),
                },
            }),
        ),
        (
            "PublishAnswer".to_owned(),
            json!({
                "type": "object",
                "required": ["event_id", "created", "deliveries", "warnings"],
                "properties": {
                    "event_id": {"type": "string"},
                    "created": {"type": "boolean", "description": "`false` when the event id was already published."},
                    "deliveries": {"type": "array", "items": schema_ref("Delivery")},
                    "warnings": {"type": "array", "items": schema_ref("Warning")},
                },
            }),
        ),
        (
            "DeliveryList".to_owned(),
            json!({
                "type": "object",
                "required": ["deliveries", "next_cursor"],
                "properties": {
                    "deliveries": {"type": "array", "items": schema_ref("Delivery")},
                    "next_cursor": nullable_string,
                },
            }),
        ),
        (
            "RedeliverFilter".to_owned(),
            json!({
                "description": "Selects dead deliveries; `{}` selects all. Unknown keys are refused.",
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "endpoint": {"type": ["string", "null"], "description": "An endpoint id."},
                    "event": {"type": ["string", "null"], "description": "An event id."},
                    "since": {"type": ["string", "null"], "description": "An RFC 3339 time or unix seconds."},
                    "until": {"type": ["string", "null"], "description": "An RFC 3339 time or unix seconds."},
                    "limit": {"type": ["integer", "null"], "minimum": 1, "maximum": 10_000, "description": "Default 10 000."},
                },
            }),
        ),
        (
            "Stats".to_owned(),
            json!({
                "type": "object",
                "required": ["deliveries", "endpoints", "in_flight"],
                "properties": {
                    "deliveries": {
                        "type": "object",
                        "required": ["pending", "delivered", "dead"],
                        "properties": {
                            "pending": {"type": "integer", "minimum": 0},
                            "delivered": {"type": "integer", "minimum": 0},
                            "dead": {"type": "integer", "minimum": 0},
                        },
                    },
                    "endpoints": {"type": "integer", "minimum": 0},
                    "in_flight": {"type": "integer", "minimum": 0},
                },
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_its_own_description_and_every_status_an_answer() {
        let doc = document();
        for route in ROUTES {
            let spec = spec(route);
            assert!(!spec.id.is_empty(), "{} {}", route.method, route.path);
            for (status, _, _) in &spec.success {
                assert!(route.statuses.contains(status), "{route:?} {status}");
            }
            let operation = &doc["paths"][route.path][route.method.to_ascii_lowercase()];
            let responses = operation["responses"].as_object().unwrap();
            let listed: Vec<u16> = responses.keys().map(|s| s.parse().unwrap()).collect();
            assert_eq!(listed, route.statuses, "{route:?}");
            for (status, response) in responses {
                if let Some(target) = response["$ref"].as_str() {
                    let name = target.rsplit('/').next().unwrap();
                    assert!(doc["components"]["responses"][name].is_object(), "{status}");
                } else {
                    assert!(status.starts_with('2'), "{route:?} {status}");
                }
            }
        }
    }

    #[test]
    fn every_event_is_a_webhook_with_both_schemes_headers() {
        let doc = document();
        let parameters = &doc["components"]["parameters"];
        for name in EventName::ALL {
            let post = &doc["webhooks"][name.as_str()]["post"];
            let schema = &post["requestBody"]["content"]["application/json"]["schema"]["$ref"];
            let target = schema.as_str().unwrap().strip_prefix(SCHEMAS).unwrap();
            assert!(doc["components"]["schemas"][target].is_object(), "{name}");
            let headers: Vec<&str> = post["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let name = p["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
                    parameters[name]["name"].as_str().unwrap()
                })
                .collect();
            for header in [
                "X-MegaBot-Signature",
                "X-MegaBot-Timestamp",
                "webhook-id",
                "webhook-timestamp",
                "webhook-signature",
            ] {
                assert!(headers.contains(&header), "{name}: {header}");
            }
        }
        let signature = parameters["WebhookSignature"]["description"]
            .as_str()
            .unwrap();
        assert!(signature.contains("`v1,") && signature.contains("`v1a,"));
    }
}
