//! Read-only access to request headers, independent of any HTTP crate.

use std::collections::HashMap;
use std::hash::BuildHasher;

/// Read access to a request's headers.
///
/// The core does not depend on the `http` crate (actix-web 4 uses http 0.2, axum and
/// warp use http 1), so adapters implement this trait for their header map.
///
/// Implementations look names up case-insensitively and return the first value when a
/// header is repeated; a value that is not valid UTF-8 should be reported as absent.
pub trait Headers {
    /// The first value of header `name` (matched case-insensitively), if any.
    fn header(&self, name: &str) -> Option<&str>;

    /// How many header lines named `name` (matched case-insensitively) the request has,
    /// valid UTF-8 or not. The default implementation can only tell 0 or 1 (from
    /// [`Headers::header`]); maps that keep repeated headers override it.
    fn header_count(&self, name: &str) -> usize {
        usize::from(self.header(name).is_some())
    }
}

impl<T: Headers + ?Sized> Headers for &T {
    fn header(&self, name: &str) -> Option<&str> {
        (**self).header(name)
    }

    fn header_count(&self, name: &str) -> usize {
        (**self).header_count(name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Headers for [(K, V)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(key, _)| same_name(key.as_ref(), name))
            .map(|(_, value)| value.as_ref())
    }

    fn header_count(&self, name: &str) -> usize {
        self.iter()
            .filter(|(key, _)| same_name(key.as_ref(), name))
            .count()
    }
}

/// [`str::eq_ignore_ascii_case`], folded without an early exit so that it compiles to a
/// vector loop: the std version compares byte by byte, and the lookups of a
/// 256-byte check were about a twentieth of its time.
fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes().zip(b.bytes()).fold(0u8, |difference, (a, b)| {
            difference | (a.to_ascii_lowercase() ^ b.to_ascii_lowercase())
        }) == 0
}

impl<K: AsRef<str>, V: AsRef<str>, const N: usize> Headers for [(K, V); N] {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }

    fn header_count(&self, name: &str) -> usize {
        self.as_slice().header_count(name)
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Headers for Vec<(K, V)> {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }

    fn header_count(&self, name: &str) -> usize {
        self.as_slice().header_count(name)
    }
}

impl<S: BuildHasher> Headers for HashMap<String, String, S> {
    fn header(&self, name: &str) -> Option<&str> {
        if let Some(value) = self.get(name) {
            return Some(value);
        }
        self.iter()
            .find(|(key, _)| same_name(key, name))
            .map(|(_, value)| value.as_str())
    }
}

impl<S: BuildHasher> Headers for HashMap<&str, &str, S> {
    fn header(&self, name: &str) -> Option<&str> {
        if let Some(value) = self.get(name) {
            return Some(value);
        }
        self.iter()
            .find(|(key, _)| same_name(key, name))
            .map(|(_, value)| *value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_are_case_insensitive_and_return_the_first_value() {
        let headers = [("X-MegaBot-Signature", "a"), ("x-megabot-signature", "b")];
        assert_eq!(headers.header("x-megabot-signature"), Some("a"));
        assert_eq!(headers[..].header("X-MEGABOT-SIGNATURE"), Some("a"));
        assert_eq!(headers.header("webhook-id"), None);
        let owned = vec![("Webhook-Id".to_owned(), "msg_1".to_owned())];
        assert_eq!(owned.header("webhook-id"), Some("msg_1"));
        fn by_value<H: Headers>(headers: H) -> Option<String> {
            headers.header("WEBHOOK-ID").map(String::from)
        }
        assert_eq!(by_value(&owned).as_deref(), Some("msg_1"));
    }

    #[test]
    fn same_name_is_eq_ignore_ascii_case() {
        let names = [
            "",
            "a",
            "A",
            "webhook-id",
            "WEBHOOK-ID",
            "webhook-iD",
            "webhook_id",
            "é",
            "É",
        ];
        for a in names {
            for b in names {
                assert_eq!(same_name(a, b), a.eq_ignore_ascii_case(b), "{a} {b}");
            }
        }
        // Every byte against every byte, in every case.
        for x in 0..=127u8 {
            for y in 0..=127u8 {
                let (a, b) = ((x as char).to_string(), (y as char).to_string());
                assert_eq!(same_name(&a, &b), a.eq_ignore_ascii_case(&b), "{x} {y}");
            }
        }
    }

    #[test]
    fn hash_maps_are_case_insensitive() {
        let mut map = HashMap::new();
        map.insert("Webhook-Signature".to_owned(), "v1,x".to_owned());
        assert_eq!(map.header("webhook-signature"), Some("v1,x"));
        assert_eq!(map.header("Webhook-Signature"), Some("v1,x"));
        assert_eq!(map.header("webhook-id"), None);
        let borrowed: HashMap<&str, &str> = [("Webhook-Id", "msg")].into_iter().collect();
        assert_eq!(borrowed.header("webhook-id"), Some("msg"));
    }
}
