//! Checking a config and compiling it into what the sender runs with.

use std::net::IpAddr;
use std::time::Duration;

use crate::config::{EndpointConfig, RetryPolicy, SecretKeys, WebhooksConfig};
use reqwest::Url;
use reqwest::header::HeaderMap;

use super::dead_letter::DeadLetterKey;
use super::diagnostic::{Issue, index_key, join_key};
use super::event_filter::EventFilter;
use super::retry;
use super::signed_headers::compile_headers;
use super::subscription::Subscription;
use megabot_webhook_verify::{Secret, StandardSecret, StandardSigningKey};

/// The longest per-attempt timeout accepted, in seconds (an hour).
const MAX_TIMEOUT_SECS: f64 = 3_600.0;

/// An endpoint whose every setting was checked.
#[derive(Debug, Clone)]
pub(crate) struct CompiledEndpoint {
    pub(crate) config: EndpointConfig,
    pub(crate) url: Url,
    pub(crate) subscription: Subscription,
    pub(crate) filter: EventFilter,
    pub(crate) megabot_secrets: Vec<Secret>,
    /// One per MegaBot secret, in order: the first seals dead letters, any
    /// of them authenticates one (design 9.14).
    pub(crate) dead_letter_keys: Vec<DeadLetterKey>,
    pub(crate) standard_secrets: Vec<StandardSecret>,
    /// The `whsk_` key that signs `v1a` entries (Standard Webhooks enabled only).
    pub(crate) standard_signing_key: Option<StandardSigningKey>,
    pub(crate) headers: HeaderMap,
    pub(crate) timeout: Duration,
    pub(crate) policy: RetryPolicy,
}

/// The whole `webhooks:` section, checked.
#[derive(Debug)]
pub(crate) struct CompiledConfig {
    pub(crate) enabled: bool,
    pub(crate) default_secrets: Vec<Secret>,
    pub(crate) default_dead_letter_keys: Vec<DeadLetterKey>,
    pub(crate) endpoints: Vec<CompiledEndpoint>,
    pub(crate) warnings: Vec<Issue>,
}

/// Checks the `webhooks:` section found at `key` (`webhooks` in a file).
pub(crate) fn compile_config(config: &WebhooksConfig, key: &str) -> Result<CompiledConfig, Issue> {
    let default_secrets = match &config.secret_key {
        Some(keys) => megabot_secrets(keys, &join_key(key, "secret_key"))?,
        None => Vec::new(),
    };
    let default_dead_letter_keys = config
        .secret_key
        .as_ref()
        .map(dead_letter_keys)
        .unwrap_or_default();
    super::destination::parse_allowed_targets(config, key)?;
    let endpoints_key = join_key(key, "endpoints");
    let mut endpoints = Vec::with_capacity(config.endpoints.len());
    let mut warnings = Vec::new();
    for (index, endpoint) in config.endpoints.iter().enumerate() {
        let endpoint_key = index_key(&endpoints_key, index);
        let (compiled, endpoint_warnings) = compile_endpoint(
            endpoint,
            &default_secrets,
            &default_dead_letter_keys,
            &endpoint_key,
            &join_key(key, "secret_key"),
        )?;
        endpoints.push(compiled);
        warnings.extend(endpoint_warnings);
    }
    Ok(CompiledConfig {
        enabled: config.enabled,
        default_secrets,
        default_dead_letter_keys,
        endpoints,
        warnings,
    })
}

/// Checks one endpoint found at `key`. `default_secrets` sign when the
/// endpoint has no `secret`; `default_key` names where they are configured.
pub(crate) fn compile_endpoint(
    config: &EndpointConfig,
    default_secrets: &[Secret],
    default_dead_letter_keys: &[DeadLetterKey],
    key: &str,
    default_key: &str,
) -> Result<(CompiledEndpoint, Vec<Issue>), Issue> {
    let url = check_url(config, &join_key(key, "url"))?;
    let (subscription, warnings) = Subscription::compile(&config.events, &join_key(key, "events"))?;
    let filter = EventFilter::compile(&config.filters, &join_key(key, "filters"))?;
    retry::validate(&config.retry_policy, &join_key(key, "retry_policy"))?;
    let headers = compile_headers(&config.headers, &join_key(key, "headers"))?;
    let megabot_secrets = match &config.secret {
        Some(keys) => megabot_secrets(keys, &join_key(key, "secret"))?,
        None if default_secrets.is_empty() => {
            return Err(Issue::new(
                key,
                format!("no signing secret: set `{default_key}` or this endpoint's `secret`"),
            ));
        }
        None => default_secrets.to_vec(),
    };
    let dead_letter_keys = match &config.secret {
        Some(keys) => dead_letter_keys(keys),
        None => default_dead_letter_keys.to_vec(),
    };
    if dead_letter_keys.len() != megabot_secrets.len() {
        return Err(Issue::new(
            key,
            "internal error: dead-letter keys do not match the signing secrets",
        ));
    }

    let (standard_secrets, standard_signing_key) = match &config.standard_webhooks {
        Some(standard) if standard.enabled => {
            let standard_key = join_key(key, "standard_webhooks");
            let secret_key = join_key(&standard_key, "secret");
            let signing_key = match &standard.signing_key {
                Some(whsk) => Some(StandardSigningKey::parse(whsk.expose()).map_err(|e| {
                    Issue::new(join_key(&standard_key, "signing_key"), e.to_string())
                })?),
                None => None,
            };
            if signing_key.is_none() {
                if standard.secret.is_empty() {
                    return Err(Issue::new(
                        secret_key,
                        "set `secret` (whsec_...), `signing_key` (whsk_...) or both",
                    ));
                }
                nonempty(&standard.secret, &secret_key)?;
            }
            let secrets = standard
                .secret
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    StandardSecret::parse(s.expose()).map_err(|e| {
                        Issue::new(
                            item_key(&secret_key, i, standard.secret.len()),
                            e.to_string(),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            (secrets, signing_key)
        }
        _ => (Vec::new(), None),
    };
    let timeout_key = join_key(key, "timeout");
    let timeout =
        if config.timeout.is_finite() && config.timeout > 0.0 && config.timeout <= MAX_TIMEOUT_SECS
        {
            Duration::try_from_secs_f64(config.timeout).ok()
        } else {
            None
        }
        .ok_or_else(|| {
            Issue::new(
                timeout_key,
                format!(
                    "timeout must be a positive number of seconds up to {MAX_TIMEOUT_SECS}, not {}",
                    config.timeout
                ),
            )
        })?;
    Ok((
        CompiledEndpoint {
            config: config.clone(),
            url,
            subscription,
            filter,
            megabot_secrets,
            dead_letter_keys,
            standard_secrets,
            standard_signing_key,
            headers,
            timeout,
            policy: config.retry_policy,
        },
        warnings,
    ))
}

/// MegaBot-scheme secrets found at `key`.
pub(crate) fn megabot_secrets(keys: &SecretKeys, key: &str) -> Result<Vec<Secret>, Issue> {
    nonempty(keys, key)?;
    keys.iter()
        .enumerate()
        .map(|(i, s)| {
            Secret::new(s.expose())
                .map_err(|e| Issue::new(item_key(key, i, keys.len()), e.to_string()))
        })
        .collect()
}

/// The dead-letter keys of `keys`, in order.
pub(crate) fn dead_letter_keys(keys: &SecretKeys) -> Vec<DeadLetterKey> {
    keys.iter()
        .map(|s| DeadLetterKey::derive(s.expose()))
        .collect()
}

fn nonempty(keys: &SecretKeys, key: &str) -> Result<(), Issue> {
    if keys.is_empty() {
        Err(Issue::new(key, "the list of secrets is empty"))
    } else {
        Ok(())
    }
}

/// `key` for a single secret, `key[i]` for a list.
fn item_key(key: &str, index: usize, len: usize) -> String {
    if len == 1 {
        key.to_owned()
    } else {
        index_key(key, index)
    }
}

/// The URL must be absolute https, or http to loopback or when allowed.
/// Messages never repeat the URL (it may hold a token).
fn check_url(config: &EndpointConfig, key: &str) -> Result<Url, Issue> {
    let url =
        Url::parse(config.url.trim()).map_err(|e| Issue::new(key, format!("invalid url: {e}")))?;
    if url.host().is_none() {
        return Err(Issue::new(key, "invalid url: no host"));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if config.allow_insecure_http || is_loopback(&url) => Ok(url),
        "http" => Err(Issue::new(
            key,
            "http:// is only allowed to a loopback host: use https://, or set `allow_insecure_http: true`",
        )),
        other => Err(Issue::new(
            key,
            format!("unsupported url scheme `{other}`: use https://"),
        )),
    }
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => {
            let domain = host.trim_end_matches('.').to_ascii_lowercase();
            domain == "localhost" || domain.ends_with(".localhost")
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{SecretKeys, StandardWebhooksConfig};

    use super::*;

    fn endpoint(url: &str) -> EndpointConfig {
        let mut config = EndpointConfig::new(url);
        config.secret = Some(SecretKeys::one("s"));
        config
    }

    fn issue(config: &EndpointConfig) -> Issue {
        compile_endpoint(config, &[], &[], "e", "webhooks.secret_key").unwrap_err()
    }

    #[test]
    fn urls() {
        for url in [
            "https://example.com/hook",
            "http://127.0.0.1:8080/hook",
            "http://127.5.6.7/hook",
            "http://[::1]:9/hook",
            "http://localhost/hook",
            "http://api.localhost./hook",
        ] {
            assert!(
                compile_endpoint(&endpoint(url), &[], &[], "e", "d").is_ok(),
                "{url}"
            );
        }
        let cases = [
            ("http://example.com/hook", "only allowed to a loopback host"),
            ("http://10.0.0.1/hook", "only allowed to a loopback host"),
            ("ftp://example.com/x", "unsupported url scheme `ftp`"),
            ("/relative", "invalid url"),
            ("https://", "invalid url"),
            ("mailto:someone@example.com", "no host"),
        ];
        for (url, message) in cases {
            let issue = issue(&endpoint(url));
            assert_eq!(issue.key, "e.url");
            assert!(issue.message.contains(message), "{url}: {}", issue.message);
        }
        let mut insecure = endpoint("http://example.com/hook");
        insecure.allow_insecure_http = true;
        assert!(compile_endpoint(&insecure, &[], &[], "e", "d").is_ok());
    }

    #[test]
    fn secrets_and_timeouts() {
        let mut config = EndpointConfig::new("https://e.com");
        assert_eq!(
            issue(&config).message,
            "no signing secret: set `webhooks.secret_key` or this endpoint's `secret`"
        );
        let (compiled, _) = compile_endpoint(
            &config,
            &[Secret::new("d").unwrap()],
            &[DeadLetterKey::derive("d")],
            "e",
            "d",
        )
        .unwrap();
        assert_eq!(compiled.megabot_secrets.len(), 1);
        config.secret = Some(SecretKeys::many(["ok", ""]));
        assert_eq!(issue(&config).key, "e.secret[1]");
        config.secret = Some(SecretKeys::one("ok"));
        config.standard_webhooks = Some(StandardWebhooksConfig {
            enabled: true,
            secret: SecretKeys::one("whsec_%%%"),
            signing_key: None,
        });
        let standard = issue(&config);
        assert_eq!(standard.key, "e.standard_webhooks.secret");
        assert!(!standard.message.contains("%%%"));
        config.standard_webhooks = None;
        for timeout in [0.0, -1.0, f64::NAN, 1e300, 3_601.0] {
            config.timeout = timeout;
            assert_eq!(issue(&config).key, "e.timeout");
        }
    }
}
