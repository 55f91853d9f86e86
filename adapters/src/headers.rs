//! [`Headers`](megabot_webhook_verify::Headers) for the frameworks' header maps.
//!
//! The verifier core depends on no `http` crate (axum and warp use http 1, actix-web 4
//! its own map over http 0.2 names), so these newtypes bridge them. Use them to call
//! [`Verifier::verify`](megabot_webhook_verify::Verifier::verify) yourself; the
//! extractors already do.

#[cfg(any(feature = "axum", feature = "warp", feature = "tower"))]
pub use self::http1::HttpHeaders;

#[cfg(feature = "actix-web")]
pub use self::actix::ActixHeaders;

/// Headers the funnel can also list whole (for [`Webhook::headers`](crate::Webhook::headers)).
pub(crate) trait RequestHeaders: megabot_webhook_verify::Headers {
    /// Every header line: lowercase name and value (visible ASCII values only).
    fn entries(&self) -> Vec<(String, String)>;
}

impl<K: AsRef<str>, V: AsRef<str>> RequestHeaders for Vec<(K, V)> {
    fn entries(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|(name, value)| {
                (
                    name.as_ref().to_ascii_lowercase(),
                    value.as_ref().to_owned(),
                )
            })
            .collect()
    }
}

#[cfg(any(feature = "axum", feature = "warp", feature = "tower"))]
mod http1 {
    use megabot_webhook_verify::Headers;

    impl super::RequestHeaders for HttpHeaders<'_> {
        fn entries(&self) -> Vec<(String, String)> {
            self.0
                .iter()
                .filter_map(|(name, value)| {
                    Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
                })
                .collect()
        }
    }

    /// An http 1 [`HeaderMap`](http::HeaderMap) (axum 0.8, warp 0.4, tower) as
    /// [`Headers`]: case-insensitive names, the first value of a repeated header, values
    /// that are not visible ASCII reported as absent.
    #[derive(Debug, Clone, Copy)]
    pub struct HttpHeaders<'a>(pub &'a http::HeaderMap);

    impl Headers for HttpHeaders<'_> {
        fn header(&self, name: &str) -> Option<&str> {
            self.0.get(name).and_then(|value| value.to_str().ok())
        }

        fn header_count(&self, name: &str) -> usize {
            self.0.get_all(name).iter().count()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn looks_up_case_insensitively() {
            let mut map = http::HeaderMap::new();
            map.append("X-MegaBot-Signature", "sha256=a".parse().unwrap());
            map.append("x-megabot-signature", "sha256=b".parse().unwrap());
            map.insert(
                "webhook-id",
                http::HeaderValue::from_bytes(b"\xff").unwrap(),
            );
            let headers = HttpHeaders(&map);
            assert_eq!(headers.header("x-megabot-signature"), Some("sha256=a"));
            assert_eq!(headers.header("X-MEGABOT-SIGNATURE"), Some("sha256=a"));
            assert_eq!(headers.header("webhook-id"), None);
            assert_eq!(headers.header("not a header name"), None);
            assert_eq!(headers.header_count("X-MegaBot-Signature"), 2);
            assert_eq!(headers.header_count("webhook-id"), 1);
            assert_eq!(headers.header_count("webhook-signature"), 0);
        }
    }
}

#[cfg(feature = "actix-web")]
mod actix {
    use actix_web::http::header::HeaderMap;
    use megabot_webhook_verify::Headers;

    impl super::RequestHeaders for ActixHeaders<'_> {
        fn entries(&self) -> Vec<(String, String)> {
            self.0
                .iter()
                .filter_map(|(name, value)| {
                    Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
                })
                .collect()
        }
    }

    /// actix-web 4's [`HeaderMap`] as [`Headers`]: case-insensitive names, the first
    /// value of a repeated header, values that are not visible ASCII reported as absent.
    #[derive(Debug, Clone, Copy)]
    pub struct ActixHeaders<'a>(pub &'a HeaderMap);

    impl Headers for ActixHeaders<'_> {
        fn header(&self, name: &str) -> Option<&str> {
            self.0.get(name).and_then(|value| value.to_str().ok())
        }

        fn header_count(&self, name: &str) -> usize {
            self.0.get_all(name).count()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use actix_web::http::header::{HeaderName, HeaderValue};

        #[test]
        fn looks_up_case_insensitively() {
            let mut map = HeaderMap::new();
            let name = HeaderName::from_static("x-megabot-signature");
            map.append(name.clone(), HeaderValue::from_static("sha256=a"));
            map.append(name, HeaderValue::from_static("sha256=b"));
            let headers = ActixHeaders(&map);
            assert_eq!(headers.header("X-MegaBot-Signature"), Some("sha256=a"));
            assert_eq!(headers.header_count("X-MegaBot-Signature"), 2);
            assert_eq!(headers.header("webhook-id"), None);
            assert_eq!(headers.header("not a header name"), None);
        }
    }
}
