//! The headers of each attempt (design 3), signed.

use crate::config::ExtraHeaders;
use megabot_webhook_types::headers as names;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::delivery::Delivery;
use super::diagnostic::{Issue, join_key};
use megabot_webhook_verify::{Secret, StandardSecret, StandardSigningKey, sign};

/// Headers the sender sets itself; an endpoint may not configure them.
const RESERVED: [&str; 13] = [
    names::CONTENT_TYPE,
    names::USER_AGENT,
    names::SIGNATURE,
    names::EVENT,
    names::DELIVERY,
    names::TIMESTAMP,
    names::WEBHOOK_ID,
    names::WEBHOOK_TIMESTAMP,
    names::WEBHOOK_SIGNATURE,
    "Content-Length",
    "Transfer-Encoding",
    "Host",
    "Connection",
];

/// Checks an endpoint's configured headers found at `key` and converts them.
/// Messages name the header, never its value.
pub(crate) fn compile_headers(headers: &ExtraHeaders, key: &str) -> Result<HeaderMap, Issue> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers.iter() {
        let header_key = join_key(key, name);
        if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
            return Err(Issue::new(
                header_key,
                format!("header `{name}` is set by the sender and cannot be configured"),
            ));
        }
        let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            Issue::new(
                header_key.clone(),
                format!("invalid header name `{}`", name.escape_debug()),
            )
        })?;
        let mut header_value = HeaderValue::from_str(value).map_err(|_| {
            Issue::new(
                header_key.clone(),
                format!("the value of header `{name}` holds characters a header cannot carry (such as a line break)"),
            )
        })?;
        header_value.set_sensitive(true);
        map.insert(header_name, header_value);
    }
    Ok(map)
}

/// Everything needed to build the headers of each attempt to one endpoint.
pub(crate) struct RequestSigner<'a> {
    pub(crate) delivery: &'a Delivery,
    pub(crate) configured: &'a HeaderMap,
    pub(crate) megabot: &'a [Secret],
    pub(crate) standard: &'a [StandardSecret],
    /// Signs a `v1a,` entry beside the `v1,` ones (design 9.11).
    pub(crate) standard_signing_key: Option<&'a StandardSigningKey>,
}

impl RequestSigner<'_> {
    /// The headers of an attempt made at unix time `attempt_time`. The
    /// Standard Webhooks signature covers that time, so every attempt is
    /// signed afresh.
    pub(crate) fn headers(&self, attempt_time: i64) -> HeaderMap {
        let mut map = self.configured.clone();
        let body = self.delivery.body();
        insert(
            &mut map,
            names::CONTENT_TYPE,
            names::CONTENT_TYPE_JSON.to_owned(),
            false,
        );
        insert(
            &mut map,
            names::USER_AGENT,
            names::USER_AGENT_VALUE.to_owned(),
            false,
        );
        insert(
            &mut map,
            names::SIGNATURE,
            sign::megabot_signatures(self.megabot, body),
            true,
        );
        insert(
            &mut map,
            names::EVENT,
            self.delivery.event().to_owned(),
            false,
        );
        insert(
            &mut map,
            names::DELIVERY,
            self.delivery.id().to_owned(),
            false,
        );
        insert(
            &mut map,
            names::TIMESTAMP,
            self.delivery.timestamp().to_string(),
            false,
        );
        if !self.standard.is_empty() || self.standard_signing_key.is_some() {
            let id = self.delivery.id();
            insert(&mut map, names::WEBHOOK_ID, id.to_owned(), false);
            insert(
                &mut map,
                names::WEBHOOK_TIMESTAMP,
                attempt_time.to_string(),
                false,
            );
            let mut signature = sign::standard_signatures(self.standard, id, attempt_time, body);
            if let Some(key) = self.standard_signing_key {
                if !signature.is_empty() {
                    signature.push(' ');
                }
                signature.push_str(&sign::standard_v1a_signature(key, id, attempt_time, body));
            }
            insert(&mut map, names::WEBHOOK_SIGNATURE, signature, true);
        }
        map
    }
}

/// Inserts a header whose name is a constant and whose value was checked
/// (ASCII names and ids, hex and base64 signatures), so neither can fail.
fn insert(map: &mut HeaderMap, name: &'static str, value: String, sensitive: bool) {
    if let (Ok(name), Ok(mut value)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::try_from(value),
    ) {
        value.set_sensitive(sensitive);
        map.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_invalid_headers_are_refused() {
        for (name, value, message) in [
            ("X-MegaBot-Signature", "x", "set by the sender"),
            ("user-agent", "x", "set by the sender"),
            ("Webhook-Timestamp", "1", "set by the sender"),
            ("Bad Name", "x", "invalid header name"),
            ("X-Token", "a\r\nInjected: 1", "line break"),
        ] {
            let headers: ExtraHeaders = [(name, value)].into_iter().collect();
            let issue = compile_headers(&headers, "h").unwrap_err();
            assert_eq!(issue.key, format!("h.{name}"));
            assert!(issue.message.contains(message), "{}", issue.message);
            assert!(!issue.message.contains("Injected"));
        }
    }

    #[test]
    fn signs_each_attempt() {
        let delivery =
            Delivery::new("chat_message_sent", "evt_7", 1_640_995_201, b"{}".to_vec()).unwrap();
        let configured =
            compile_headers(&[("Authorization", "token t")].into_iter().collect(), "h").unwrap();
        let megabot = [Secret::new("a").unwrap(), Secret::new("b").unwrap()];
        let standard = [StandardSecret::from_bytes(b"key").unwrap()];
        let signer = RequestSigner {
            delivery: &delivery,
            configured: &configured,
            megabot: &megabot,
            standard: &standard,
            standard_signing_key: None,
        };
        let first = signer.headers(100);
        let second = signer.headers(160);
        let get = |map: &HeaderMap, name: &str| map.get(name).unwrap().to_str().unwrap().to_owned();
        assert_eq!(get(&first, "content-type"), "application/json");
        assert_eq!(get(&first, "user-agent"), "MegaBot-Webhook/1.0");
        assert_eq!(get(&first, "authorization"), "token t");
        assert_eq!(get(&first, "x-megabot-event"), "chat_message_sent");
        assert_eq!(get(&first, "x-megabot-delivery"), "evt_7");
        assert_eq!(get(&first, "x-megabot-timestamp"), "1640995201");
        assert_eq!(get(&first, "x-megabot-signature").split(' ').count(), 2);
        assert_eq!(
            get(&first, "x-megabot-signature"),
            get(&second, "x-megabot-signature")
        );
        assert_eq!(get(&first, "webhook-id"), "evt_7");
        assert_eq!(get(&first, "webhook-timestamp"), "100");
        assert_eq!(get(&second, "webhook-timestamp"), "160");
        assert_ne!(
            get(&first, "webhook-signature"),
            get(&second, "webhook-signature")
        );
        assert_eq!(
            get(&second, "webhook-signature"),
            sign::standard_signature(&standard[0], "evt_7", 160, b"{}")
        );
        assert!(first.get("x-megabot-signature").unwrap().is_sensitive());
    }

    #[test]
    fn v1a_entries_sit_beside_v1_and_are_signed_each_attempt() {
        let delivery =
            Delivery::new("chat_message_sent", "evt_8", 1_640_995_201, b"{}".to_vec()).unwrap();
        let configured = HeaderMap::new();
        let megabot = [Secret::new("a").unwrap()];
        let standard = [StandardSecret::from_bytes(b"key").unwrap()];
        let key = StandardSigningKey::from_seed(&[3; 32]);
        let get = |map: &HeaderMap, name: &str| map.get(name).unwrap().to_str().unwrap().to_owned();
        let both = RequestSigner {
            delivery: &delivery,
            configured: &configured,
            megabot: &megabot,
            standard: &standard,
            standard_signing_key: Some(&key),
        };
        let first = both.headers(100);
        let second = both.headers(160);
        assert_eq!(
            get(&first, "webhook-signature"),
            format!(
                "{} {}",
                sign::standard_signature(&standard[0], "evt_8", 100, b"{}"),
                sign::standard_v1a_signature(&key, "evt_8", 100, b"{}")
            )
        );
        assert_eq!(
            get(&second, "webhook-signature"),
            format!(
                "{} {}",
                sign::standard_signature(&standard[0], "evt_8", 160, b"{}"),
                sign::standard_v1a_signature(&key, "evt_8", 160, b"{}")
            )
        );
        assert!(first.get("webhook-signature").unwrap().is_sensitive());
        let alone = RequestSigner {
            standard: &[],
            ..both
        };
        let headers = alone.headers(100);
        assert_eq!(get(&headers, "webhook-id"), "evt_8");
        assert_eq!(get(&headers, "webhook-timestamp"), "100");
        assert_eq!(
            get(&headers, "webhook-signature"),
            sign::standard_v1a_signature(&key, "evt_8", 100, b"{}")
        );
    }
}
