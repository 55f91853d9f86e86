//! The sender's configuration schema: the `webhooks:` section of MegaBot's
//! `mega-config.yaml`, and the body of the guide's registration API.
//!
//! The schema types are plain serde types: no I/O and no validation beyond the
//! shape. [`ConfigLoader`](crate::ConfigLoader) (this folder's `load.rs`, with the
//! positioned YAML tree, `${VAR}` expansion and the deserializer beside it) loads
//! them from YAML, checks every value (URLs, retry policies, regexes, time zones,
//! secrets) and reports errors with file, line and key.
//!
//! ```
//! use megabot_webhook_sender::config::{EndpointConfig, RetryPolicy};
//!
//! // The guide's dynamic registration body.
//! let endpoint: EndpointConfig = serde_json::from_str(r#"{
//!     "url": "https://your-service.com/webhook",
//!     "events": ["chat_message_received", "tool_execution_*"],
//!     "secret": "your_webhook_secret",
//!     "filters": {"platforms": ["telegram", "discord"], "min_severity": "info"}
//! }"#)?;
//! assert_eq!(endpoint.retry_policy, RetryPolicy::default());
//! assert_eq!(endpoint.filters.platforms, ["telegram", "discord"]);
//! // Debug never shows a secret.
//! assert!(!format!("{endpoint:?}").contains("your_webhook_secret"));
//! # Ok::<(), serde_json::Error>(())
//! ```
//!
//! Every struct refuses unknown keys (`deny_unknown_fields`), so a typo such
//! as `retry_polcy` is an error rather than a silently ignored setting.

mod alerts;
mod deserialize;
mod env;
mod extra_headers;
mod filters;
pub(crate) mod load;
mod retry;
mod secret;
mod yaml;

pub(crate) use alerts::check_alerts;
#[cfg(feature = "dispatcher")]
pub(crate) use alerts::check_webhook_url;
#[cfg(feature = "alerts-email")]
pub(crate) use alerts::is_loopback_host;
pub use alerts::{
    AlertChannelConfig, AlertChannelKind, AlertsConfig, DEFAULT_ALERT_COOLDOWN_SECS,
    DEFAULT_ALERT_MIN_SAMPLES, DEFAULT_ALERT_WINDOW_SECS, SmtpTls,
};
pub use extra_headers::ExtraHeaders;
pub use filters::{ContentFilter, ContentFilterKind, Filters, TimeWindow};
pub use retry::RetryPolicy;
pub use secret::{SecretKeys, SecretString};

use serde::Deserialize;

/// The per-attempt timeout in seconds when an endpoint sets none (design 6).
pub const DEFAULT_TIMEOUT_SECS: f64 = 10.0;

/// The `webhooks:` section of `mega-config.yaml`.
///
/// ```yaml
/// webhooks:
///   enabled: true
///   secret_key: "${WEBHOOK_SECRET_KEY}"
///   endpoints:
///     - url: "https://example.com/webhook"
///       events: ["*"]
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct WebhooksConfig {
    /// Whether MegaBot sends webhooks at all. Default `true`.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The MegaBot-scheme signing secret(s) of every endpoint that has no
    /// `secret` of its own. A list signs with each (key rotation).
    #[serde(default)]
    pub secret_key: Option<SecretKeys>,
    /// Where events go.
    #[serde(default)]
    pub endpoints: Vec<EndpointConfig>,
    /// Lifts the destination guard (SSRF) for every endpoint: loopback,
    /// private, link-local and the other special-purpose addresses may be
    /// connected to; cloud metadata addresses stay refused unless listed in
    /// `allowed_targets`. For local testing. Server-wide only (there is no
    /// per-endpoint form). Default `false`.
    #[serde(default)]
    pub allow_private_targets: bool,
    /// Addresses (`10.0.0.5`, `fd00::5`) and CIDR ranges (`10.20.0.0/16`)
    /// the sender may connect to whatever their class; the only way to allow
    /// a cloud metadata address. Checked when the config is loaded (no name
    /// is resolved). Server-wide only. Default empty.
    #[serde(default)]
    pub allowed_targets: Vec<String>,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        WebhooksConfig {
            enabled: true,
            secret_key: None,
            endpoints: Vec::new(),
            allow_private_targets: false,
            allowed_targets: Vec::new(),
        }
    }
}

/// One endpoint: where to send, which events, and how.
///
/// `Debug` shows the URL without its password ([`redact_url`](crate::redact_url)),
/// header names without values and no secret.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct EndpointConfig {
    /// The endpoint's URL. `https://`, or `http://` to a loopback host or with
    /// `allow_insecure_http: true`.
    pub url: String,
    /// Event patterns: exact names, `*`, or globs such as `tool_execution_*`.
    /// Default `["*"]` (every event).
    #[serde(default = "default_events")]
    pub events: Vec<String>,
    /// Extra request headers (such as `Authorization`). Their values are
    /// never shown by `Debug`.
    #[serde(default)]
    pub headers: ExtraHeaders,
    /// Which events of the subscribed kinds are sent; all filters must pass.
    #[serde(default)]
    pub filters: Filters,
    /// How failed attempts are retried.
    #[serde(default)]
    pub retry_policy: RetryPolicy,
    /// This endpoint's own MegaBot-scheme secret(s), replacing the
    /// section's `secret_key` (the guide's registration API `secret`).
    #[serde(default)]
    pub secret: Option<SecretKeys>,
    /// Also sign with the Standard Webhooks scheme (`webhook-*` headers).
    #[serde(default)]
    pub standard_webhooks: Option<StandardWebhooksConfig>,
    /// Allow `http://` to a host that is not loopback. Default `false`.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// Per-attempt timeout in seconds. Default 10.
    #[serde(default = "default_timeout")]
    pub timeout: f64,
    /// The durable dispatcher's limit of concurrent attempts to this
    /// endpoint. Default 8 (when unset).
    #[serde(default)]
    pub max_in_flight: Option<u32>,
    /// The durable dispatcher's limit of deliveries per second to this
    /// endpoint. Default none.
    #[serde(default)]
    pub rate_limit: Option<f64>,
}

impl EndpointConfig {
    /// An endpoint for `url` with every other setting at its default:
    /// all events, no filters, the default retry policy, no own secret.
    pub fn new(url: impl Into<String>) -> EndpointConfig {
        EndpointConfig {
            url: url.into(),
            events: default_events(),
            headers: ExtraHeaders::default(),
            filters: Filters::default(),
            retry_policy: RetryPolicy::default(),
            secret: None,
            standard_webhooks: None,
            allow_insecure_http: false,
            timeout: DEFAULT_TIMEOUT_SECS,
            max_in_flight: None,
            rate_limit: None,
        }
    }
}

impl std::fmt::Debug for EndpointConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointConfig")
            .field("url", &crate::redact_url(&self.url))
            .field("events", &self.events)
            .field("headers", &self.headers)
            .field("filters", &self.filters)
            .field("retry_policy", &self.retry_policy)
            .field("secret", &self.secret)
            .field("standard_webhooks", &self.standard_webhooks)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("timeout", &self.timeout)
            .field("max_in_flight", &self.max_in_flight)
            .field("rate_limit", &self.rate_limit)
            .finish()
    }
}

/// Standard Webhooks signing for one endpoint (design 4.2).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct StandardWebhooksConfig {
    /// Whether the `webhook-*` headers are sent. Default `true`.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The `whsec_...` secret(s); a list signs with each (`v1,` entries). May be
    /// left out when `signing_key` is set: the deliveries then carry `v1a` alone.
    #[serde(default)]
    pub secret: SecretKeys,
    /// The Ed25519 secret key (`whsk_...`, design 9.11) that signs a `v1a,` entry on
    /// every attempt, beside the `v1,` entries when `secret` is also set. Receivers
    /// check it with the matching public key (`whpk_...`). `${VAR}` is expanded as in
    /// every value; `Debug` never shows it.
    #[serde(default)]
    pub signing_key: Option<SecretString>,
}

impl Default for StandardWebhooksConfig {
    /// Enabled, with no secret and no signing key (set one of them).
    fn default() -> Self {
        StandardWebhooksConfig {
            enabled: true,
            secret: SecretKeys::default(),
            signing_key: None,
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_events() -> Vec<String> {
    vec!["*".to_owned()]
}

fn default_timeout() -> f64 {
    DEFAULT_TIMEOUT_SECS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_to_a_minimal_endpoint() {
        let endpoint: EndpointConfig =
            serde_json::from_str(r#"{"url":"https://example.com/hook"}"#).unwrap();
        assert_eq!(endpoint, EndpointConfig::new("https://example.com/hook"));
        assert_eq!(endpoint.events, ["*"]);
        assert_eq!(endpoint.timeout, 10.0);
        assert!(!endpoint.allow_insecure_http);
    }

    #[test]
    fn unknown_keys_are_refused_at_every_level() {
        for body in [
            r#"{"url":"u","retry_polcy":{}}"#,
            r#"{"url":"u","retry_policy":{"max_attempt":3}}"#,
            r#"{"url":"u","filters":{"platform":["slack"]}}"#,
            r#"{"url":"u","standard_webhooks":{"secret":"whsec_AA","enable":true}}"#,
        ] {
            let error = serde_json::from_str::<EndpointConfig>(body).unwrap_err();
            assert!(
                error.to_string().contains("unknown field"),
                "{body}: {error}"
            );
        }
        let error = serde_json::from_str::<WebhooksConfig>(r#"{"secret":"x"}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `secret`"),
            "{error}"
        );
    }

    #[test]
    fn section_defaults() {
        let config: WebhooksConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, WebhooksConfig::default());
        assert!(config.enabled);
    }

    #[test]
    fn debug_hides_every_secret() {
        let config: WebhooksConfig = serde_json::from_str(
            r#"{"secret_key":"global-secret-1","endpoints":[{"url":"https://e.com",
                "secret":["own-secret-2","own-secret-3"],
                "headers":{"Authorization":"token tok-4"},
                "standard_webhooks":{"secret":"whsec_c2VjcmV0LTU="}}]}"#,
        )
        .unwrap();
        let text = format!("{config:?}{config:#?}");
        for secret in [
            "global-secret-1",
            "own-secret-2",
            "own-secret-3",
            "tok-4",
            "c2VjcmV0LTU",
        ] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(text.contains("Authorization"));
        assert!(text.contains("https://e.com"));
    }
}
