//! [`Headers`] for the frameworks' header maps.
//!
//! The verifier core depends on no `http` crate (axum and warp use http 1, actix-web 4
//! its own map over http 0.2 names), so these newtypes bridge them. Use them to call
//! [`Verifier::verify`](megabot_webhook_verify::Verifier::verify) yourself; the
//! extractors already do.

use megabot_webhook_types::headers as names;
use megabot_webhook_verify::Headers;

#[cfg(any(feature = "axum", feature = "warp", feature = "tower"))]
pub use self::http1::HttpHeaders;

#[cfg(feature = "actix-web")]
pub use self::actix::ActixHeaders;

/// A request's headers handed to the funnel: read through [`Scanned`] while the request
/// is received, then kept by its [`Webhook`](crate::Webhook).
pub(crate) trait RequestHeaders {
    /// A view of the headers, line by line.
    type Lines<'a>: HeaderLines<'a>
    where
        Self: 'a;

    /// The headers, line by line.
    fn lines(&self) -> Self::Lines<'_>;

    /// The headers, kept for [`Webhook::headers`](crate::Webhook::headers): moved when
    /// the funnel owns them, copied when the framework keeps them.
    fn into_received(self) -> Received;
}

/// Header lines of one request, with the map's own lookups for names [`Scanned`] does
/// not keep.
pub(crate) trait HeaderLines<'a>: Headers {
    /// Every header line in order: its name and its raw value.
    fn lines(&self) -> impl Iterator<Item = (&'a str, &'a [u8])>;
}

/// Listed lines (the funnel's unit tests).
impl<K: AsRef<str>, V: AsRef<str>> RequestHeaders for Vec<(K, V)> {
    type Lines<'a>
        = &'a Vec<(K, V)>
    where
        Self: 'a;

    fn lines(&self) -> &Vec<(K, V)> {
        self
    }

    fn into_received(self) -> Received {
        Received::List(
            self.iter()
                .map(|(name, value)| {
                    (
                        name.as_ref().to_ascii_lowercase(),
                        value.as_ref().to_owned(),
                    )
                })
                .collect(),
        )
    }
}

impl<'a, K: AsRef<str>, V: AsRef<str>> HeaderLines<'a> for &'a Vec<(K, V)> {
    fn lines(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> {
        self.iter()
            .map(|(name, value)| (name.as_ref(), value.as_ref().as_bytes()))
    }
}

/// The request's headers as the framework received them, kept by the
/// [`Webhook`](crate::Webhook) and listed only when asked, instead of two `String`s per
/// line for every request.
#[derive(Debug, Clone)]
pub(crate) enum Received {
    /// An http 1 map (axum, warp, tower).
    #[cfg(any(feature = "axum", feature = "warp", feature = "tower"))]
    Http(http::HeaderMap),
    /// actix-web's map.
    #[cfg(feature = "actix-web")]
    Actix(actix_web::http::header::HeaderMap),
    /// Lines already listed (lowercase names).
    List(Vec<(String, String)>),
}

impl Received {
    /// Every header line: lowercase name and value (visible ASCII values only).
    pub(crate) fn lines(&self) -> Vec<(String, String)> {
        fn listed<'a>(lines: impl Iterator<Item = (&'a str, &'a [u8])>) -> Vec<(String, String)> {
            lines
                .filter_map(|(name, value)| {
                    Some((name.to_owned(), visible_ascii(value)?.to_owned()))
                })
                .collect()
        }
        match self {
            #[cfg(any(feature = "axum", feature = "warp", feature = "tower"))]
            Received::Http(map) => listed(
                map.iter()
                    .map(|(name, value)| (name.as_str(), value.as_bytes())),
            ),
            #[cfg(feature = "actix-web")]
            Received::Actix(map) => listed(
                map.iter()
                    .map(|(name, value)| (name.as_str(), value.as_bytes())),
            ),
            Received::List(lines) => lines.clone(),
        }
    }
}

/// A header value as text when it is visible ASCII (and tabs), as `HeaderValue::to_str`
/// of both http crates has it; anything else counts as absent.
fn visible_ascii(value: &[u8]) -> Option<&str> {
    // Folded without an early exit, so that it compiles to a vector loop.
    let visible = value.iter().fold(true, |visible, &byte| {
        visible & ((byte == b'\t') | ((0x20..0x7f).contains(&byte)))
    });
    if visible {
        std::str::from_utf8(value).ok()
    } else {
        None
    }
}

/// The headers the funnel and the verifier read on every request, in the order of
/// [`Scanned`]'s slots.
const READ: [&str; 9] = [
    names::SIGNATURE,
    names::WEBHOOK_SIGNATURE,
    names::WEBHOOK_ID,
    names::WEBHOOK_TIMESTAMP,
    names::EVENT,
    names::DELIVERY,
    names::TIMESTAMP,
    "content-encoding",
    "content-length",
];

/// The request headers the funnel and the verifier read, found in one pass over the
/// framework's map.
///
/// Looking each of them up in the map parses and hashes the name every time: ten lookups
/// per request were about a third of the adapters' own work (design 9.16). A webhook
/// request has a handful of header lines, so one pass comparing each name with the few
/// that are read is cheaper. Names not in [`READ`] are looked up in the map itself.
pub(crate) struct Scanned<'a, H> {
    lines: H,
    /// The first line's value of each [`READ`] header, when visible ASCII.
    first: [Option<&'a str>; READ.len()],
    /// How many lines of each [`READ`] header the request has.
    counts: [usize; READ.len()],
}

impl<'a, H: HeaderLines<'a>> Scanned<'a, H> {
    /// Reads `lines` once.
    pub(crate) fn new(lines: H) -> Self {
        let mut first = [None; READ.len()];
        let mut counts = [0; READ.len()];
        for (name, value) in lines.lines() {
            if let Some(slot) = slot(name) {
                if counts[slot] == 0 {
                    first[slot] = visible_ascii(value);
                }
                counts[slot] += 1;
            }
        }
        Scanned {
            lines,
            first,
            counts,
        }
    }

    /// The first signature header the request repeats, lowercase: each may come on one
    /// header line only (see the crate docs, "Repeated signature headers").
    pub(crate) fn repeated_signature_header(&self) -> Option<&'static str> {
        const SIGNATURE_HEADERS: [&str; 4] = [
            "x-megabot-signature",
            "webhook-signature",
            "webhook-id",
            "webhook-timestamp",
        ];
        // The signature headers are READ's first four slots, in this order.
        SIGNATURE_HEADERS
            .into_iter()
            .zip(self.counts)
            .find_map(|(name, count)| (count > 1).then_some(name))
    }

    /// `Content-Encoding`.
    pub(crate) fn content_encoding(&self) -> Option<&'a str> {
        self.first[7]
    }

    /// `Content-Length`.
    pub(crate) fn content_length(&self) -> Option<&'a str> {
        self.first[8]
    }
}

/// `name`'s slot in [`READ`], matched case-insensitively: by length first, which leaves
/// at most two names to compare, each of a length known when compiling.
fn slot(name: &str) -> Option<usize> {
    let name = name.as_bytes();
    let found = match name.len() {
        10 => same_name(b"webhook-id", name).then_some(2),
        14 => same_name(b"content-length", name).then_some(8),
        15 => same_name(b"x-megabot-event", name).then_some(4),
        16 => same_name(b"content-encoding", name).then_some(7),
        17 => same_name(b"webhook-signature", name)
            .then_some(1)
            .or_else(|| same_name(b"webhook-timestamp", name).then_some(3)),
        18 => same_name(b"x-megabot-delivery", name).then_some(5),
        19 => same_name(b"x-megabot-signature", name)
            .then_some(0)
            .or_else(|| same_name(b"x-megabot-timestamp", name).then_some(6)),
        _ => None,
    };
    debug_assert_eq!(
        found,
        READ.iter()
            .position(|read| read.as_bytes().eq_ignore_ascii_case(name))
    );
    found
}

/// `name` is `lowercase` in any case. `lowercase` holds only lowercase letters and `-`,
/// so setting the case bit (0x20) of `name`'s bytes must give `lowercase`'s, and `\r`
/// (which that bit turns into `-`) is the one other byte it lets through. Of a length
/// known when compiling and folded without an early exit, it compiles to a few vector
/// instructions: `str::eq_ignore_ascii_case` compares byte by byte, and these lookups
/// were a tenth of the adapters' own work.
fn same_name<const N: usize>(lowercase: &[u8; N], name: &[u8]) -> bool {
    let Ok(name) = <&[u8; N]>::try_from(name) else {
        return false;
    };
    let mut difference = 0u8;
    for (&low, &byte) in lowercase.iter().zip(name) {
        difference |= ((byte | 0x20) ^ low) | u8::from(byte == b'\r');
    }
    difference == 0
}

impl<'a, H: HeaderLines<'a>> Headers for Scanned<'a, H> {
    fn header(&self, name: &str) -> Option<&str> {
        match slot(name) {
            Some(slot) => self.first[slot],
            None => self.lines.header(name),
        }
    }

    fn header_count(&self, name: &str) -> usize {
        match slot(name) {
            Some(slot) => self.counts[slot],
            None => self.lines.header_count(name),
        }
    }
}

#[cfg(any(feature = "axum", feature = "warp", feature = "tower"))]
mod http1 {
    use megabot_webhook_verify::Headers;

    /// The funnel owns the map (axum, warp and tower hand it over): kept as it is.
    impl super::RequestHeaders for http::HeaderMap {
        type Lines<'a> = HttpHeaders<'a>;

        fn lines(&self) -> HttpHeaders<'_> {
            HttpHeaders(self)
        }

        fn into_received(self) -> super::Received {
            super::Received::Http(self)
        }
    }

    impl<'a> super::HeaderLines<'a> for HttpHeaders<'a> {
        fn lines(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> {
            self.0
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_bytes()))
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

    /// actix-web keeps the request's map: copied for the [`Webhook`](crate::Webhook).
    impl<'h> super::RequestHeaders for ActixHeaders<'h> {
        type Lines<'a>
            = ActixHeaders<'a>
        where
            Self: 'a;

        fn lines(&self) -> ActixHeaders<'_> {
            ActixHeaders(self.0)
        }

        fn into_received(self) -> super::Received {
            super::Received::Actix(self.0.clone())
        }
    }

    impl<'a> super::HeaderLines<'a> for ActixHeaders<'a> {
        fn lines(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> {
            self.0
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_bytes()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_is_exactly_eq_ignore_ascii_case() {
        // Every byte in every position of every name: only the two cases of the same
        // letter (and `-` itself) keep the slot.
        for name in READ {
            for position in 0..name.len() {
                for byte in 0..=255u8 {
                    let mut changed = name.as_bytes().to_vec();
                    changed[position] = byte;
                    let Ok(changed) = String::from_utf8(changed) else {
                        continue;
                    };
                    let expected = READ
                        .iter()
                        .position(|read| read.eq_ignore_ascii_case(&changed));
                    assert_eq!(slot(&changed), expected, "{changed:?}");
                }
            }
        }
    }

    #[test]
    fn named_slots_are_the_read_names() {
        let lines: Vec<(String, String)> = READ
            .iter()
            .flat_map(|name| {
                [
                    (name.to_string(), "a".to_owned()),
                    (name.to_string(), "b".to_owned()),
                ]
            })
            .collect();
        let scanned = Scanned::new(&lines);
        assert_eq!(
            scanned.repeated_signature_header(),
            Some("x-megabot-signature")
        );
        for (index, name) in READ[..4].iter().enumerate() {
            let once: Vec<(String, String)> = READ
                .iter()
                .enumerate()
                .flat_map(|(other, read)| {
                    let lines = if other == index { 2 } else { 1 };
                    std::iter::repeat_n((read.to_string(), "v".to_owned()), lines)
                })
                .collect();
            assert_eq!(
                Scanned::new(&once).repeated_signature_header(),
                Some(name.to_ascii_lowercase()).as_deref()
            );
        }
        let single: Vec<(String, String)> = vec![
            ("Content-Encoding".to_owned(), "gzip".to_owned()),
            ("Content-Length".to_owned(), "12".to_owned()),
        ];
        let scanned = Scanned::new(&single);
        assert_eq!(scanned.repeated_signature_header(), None);
        assert_eq!(scanned.content_encoding(), Some("gzip"));
        assert_eq!(scanned.content_length(), Some("12"));
    }

    #[test]
    fn every_read_header_has_its_slot_in_any_case() {
        for (index, name) in READ.iter().enumerate() {
            assert_eq!(slot(name), Some(index), "{name}");
            assert_eq!(slot(&name.to_ascii_uppercase()), Some(index), "{name}");
            assert_eq!(slot(&name.to_ascii_lowercase()), Some(index), "{name}");
        }
        for other in [
            "",
            "content-type",
            "x-megabot-signaturf",
            "webhook-ids",
            "host",
        ] {
            assert_eq!(slot(other), None, "{other}");
        }
    }

    /// The one-pass scan answers exactly as looking each name up in the lines does:
    /// first value, count of repeated lines, invalid values absent, other names through
    /// the lines' own lookup.
    #[test]
    fn scanned_answers_as_the_lines_do() {
        let lines: Vec<(String, String)> = [
            ("Content-Type", "application/json"),
            ("X-MegaBot-Signature", "sha256=a"),
            ("x-megabot-signature", "sha256=b"),
            ("webhook-id", "bad\u{7f}value"),
            ("webhook-id", "msg_1"),
            ("Content-Length", "12"),
            ("X-Custom", "c"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        let scanned = Scanned::new(&lines);
        let mut names: Vec<&str> = READ.to_vec();
        names.extend(["content-type", "x-custom", "X-CUSTOM", "absent"]);
        for name in names {
            let expected = lines[..]
                .header(name)
                .filter(|value| visible_ascii(value.as_bytes()).is_some());
            assert_eq!(scanned.header(name), expected, "{name}");
            assert_eq!(
                scanned.header_count(name),
                lines[..].header_count(name),
                "{name}"
            );
        }
        assert_eq!(scanned.header("webhook-id"), None, "the first line decides");
        assert_eq!(scanned.header_count("WEBHOOK-ID"), 2);
    }

    #[test]
    fn visible_ascii_is_http_to_str() {
        assert_eq!(visible_ascii(b"v1,abc def\tx"), Some("v1,abc def\tx"));
        assert_eq!(visible_ascii(b""), Some(""));
        for bad in [&b"a\x7fb"[..], b"\x00", b"caf\xc3\xa9", b"\x1f", b"\xff"] {
            assert_eq!(visible_ascii(bad), None, "{bad:?}");
        }
    }
}
