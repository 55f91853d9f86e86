//! Keeping passwords out of what is printed.

use std::borrow::Cow;

/// `url` with the password of its userinfo replaced by `***`
/// (`https://user:***@host/path`); any other URL (or text that is not a URL)
/// unchanged. Every URL the sender and the CLI print, log or `Debug`-format
/// passes through this function.
///
/// ```
/// use megabot_webhook_sender::redact_url;
/// assert_eq!(redact_url("https://bot:hunter2@example.com/hook"), "https://bot:***@example.com/hook");
/// assert_eq!(redact_url("https://example.com/hook?a=b@c"), "https://example.com/hook?a=b@c");
/// ```
pub fn redact_url(url: &str) -> Cow<'_, str> {
    let Some(scheme_end) = url.find("://") else {
        return Cow::Borrowed(url);
    };
    let authority_start = scheme_end + 3;
    let rest = &url[authority_start..];
    let authority_len = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    let Some(at) = authority.rfind('@') else {
        return Cow::Borrowed(url);
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return Cow::Borrowed(url);
    };
    let password_start = authority_start + colon + 1;
    let password_end = authority_start + at;
    let mut out = String::with_capacity(url.len());
    out.push_str(&url[..password_start]);
    out.push_str("***");
    out.push_str(&url[password_end..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_redacted() {
        for (url, want) in [
            ("https://user:pass@host/x", "https://user:***@host/x"),
            (
                "https://user:p@ss@host/x?q=1",
                "https://user:***@host/x?q=1",
            ),
            (
                "http://:secret@127.0.0.1:8080",
                "http://:***@127.0.0.1:8080",
            ),
            ("https://user@host/x", "https://user@host/x"),
            ("https://host/x?u=a:b@c", "https://host/x?u=a:b@c"),
            ("https://host:443/x", "https://host:443/x"),
            ("not a url", "not a url"),
        ] {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }
}
