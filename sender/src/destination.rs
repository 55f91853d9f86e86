//! The destination guard (SSRF): which addresses the sender may connect to.
//!
//! A webhook URL is untrusted input: without a guard, whoever registers an
//! endpoint can make the sender reach the machine's loopback services, the
//! private network or a cloud metadata service. The guard checks the
//! addresses actually connected to:
//!
//! - an IP-literal URL (`http://10.0.0.1/`, `http://2130706433/` — which the
//!   URL parser reads as `127.0.0.1`) is checked before the request;
//! - a name is resolved through a [`Resolver`], and the answers are filtered
//!   by the [`DestinationPolicy`] inside the HTTP client's connector, at
//!   every attempt, so a name that later resolves to another address (DNS
//!   rebinding) cannot bypass it. When every answer is refused the
//!   connection fails with a [`Refusal`] before any packet is sent.
//!
//! The HTTP client ignores proxy environment variables (a proxy would
//! resolve the name itself), and does not follow redirects.
//!
//! [`check_destination`] is the registration-time check.

mod classify;
mod resolve;

pub use classify::{AddressClass, CLOUD_METADATA, classify};
pub(crate) use resolve::GuardedResolver;
pub use resolve::{Resolver, StaticResolver, SystemResolver};

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use reqwest::Url;

use crate::config::WebhooksConfig;
use crate::diagnostic::{Issue, Warning, index_key, join_key};

/// An IP address range, `10.0.0.0/8` or `fd00::/8`, or a single address
/// (`169.254.169.254`, a `/32` or `/128`).
///
/// Parsed from the strings of the config's `allowed_targets`; bits after the
/// prefix are ignored (`10.1.2.3/8` is `10.0.0.0/8`).
///
/// ```
/// use megabot_webhook_sender::AddressRange;
///
/// let range: AddressRange = "10.0.0.0/8".parse()?;
/// assert!(range.contains("10.20.30.40".parse().unwrap()));
/// assert!(!range.contains("11.0.0.1".parse().unwrap()));
/// let one: AddressRange = "169.254.169.254".parse()?;
/// assert_eq!(one.to_string(), "169.254.169.254/32");
/// # Ok::<(), megabot_webhook_sender::AddressRangeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddressRange {
    network: IpAddr,
    prefix: u8,
}

/// Why a string is not an [`AddressRange`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid address or cidr range `{input}`: {reason}")]
pub struct AddressRangeError {
    input: String,
    reason: &'static str,
}

impl AddressRange {
    /// The range of `prefix` leading bits of `network`; `None` when
    /// `prefix` is longer than the address (32 for IPv4, 128 for IPv6).
    pub fn new(network: IpAddr, prefix: u8) -> Option<AddressRange> {
        let max = if network.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then(|| AddressRange {
            network: mask(network, prefix),
            prefix,
        })
    }

    /// The range holding only `address`.
    pub fn single(address: IpAddr) -> AddressRange {
        AddressRange {
            network: address,
            prefix: if address.is_ipv4() { 32 } else { 128 },
        }
    }

    /// Whether `ip` is in the range. An IPv4 range also holds the
    /// IPv4-mapped IPv6 forms of its addresses (`::ffff:10.0.0.1`).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) if self.network.is_ipv4() => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            other => other,
        };
        ip.is_ipv4() == self.network.is_ipv4() && mask(ip, self.prefix) == self.network
    }
}

fn mask(ip: IpAddr, prefix: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let bits = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V4((u32::from(v4) & bits).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & bits))
        }
    }
}

impl FromStr for AddressRange {
    type Err = AddressRangeError;

    fn from_str(text: &str) -> Result<AddressRange, AddressRangeError> {
        let error = |reason| AddressRangeError {
            input: text.to_owned(),
            reason,
        };
        let trimmed = text.trim();
        let (address, prefix) = match trimmed.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (trimmed, None),
        };
        let address = address
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .map_err(|_| {
                error(
                    "expected an ip address such as 10.0.0.1 or fd00::1, with an optional /prefix",
                )
            })?;
        match prefix {
            None => Ok(AddressRange::single(address)),
            Some(prefix) => {
                let prefix = prefix
                    .parse::<u8>()
                    .map_err(|_| error("the prefix length is not a number"))?;
                AddressRange::new(address, prefix).ok_or_else(|| {
                    error(
                        "the prefix length is longer than the address (32 for ipv4, 128 for ipv6)",
                    )
                })
            }
        }
    }
}

impl fmt::Display for AddressRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Which destinations the sender may connect to.
///
/// - [`DestinationPolicy::server`]: the dispatcher's and `serve`'s; only
///   globally reachable addresses.
/// - [`DestinationPolicy::local_tools`]: the CLI's `send`, `demo`,
///   `redeliver` and `listen --forward-to`, and [`Sender`](crate::Sender)'s
///   default; loopback too.
///
/// [`allow_private_targets`](DestinationPolicy::allow_private_targets) lifts
/// every refusal except cloud metadata addresses ([`CLOUD_METADATA`]), which
/// are allowed only when listed by address with
/// [`allow_target`](DestinationPolicy::allow_target). A
/// [`SenderBuilder`](crate::SenderBuilder) applies the config's
/// `allow_private_targets` and `allowed_targets` on top of its policy.
///
/// ```
/// use megabot_webhook_sender::{AddressClass, DestinationPolicy};
///
/// let server = DestinationPolicy::server();
/// assert!(server.check("93.184.215.14".parse().unwrap()).is_ok());
/// let refusal = server.check("10.0.0.1".parse().unwrap()).unwrap_err();
/// assert_eq!(refusal.to_string(), "destination refused: 10.0.0.1 is private");
///
/// let lifted = DestinationPolicy::server().allow_private_targets(true);
/// assert!(lifted.check("10.0.0.1".parse().unwrap()).is_ok());
/// assert_eq!(
///     lifted.check("169.254.169.254".parse().unwrap()).unwrap_err().class(),
///     Some(AddressClass::CloudMetadata)
/// );
/// let listed = lifted.allow_target("169.254.169.254".parse()?);
/// assert!(listed.check("169.254.169.254".parse().unwrap()).is_ok());
/// # Ok::<(), megabot_webhook_sender::AddressRangeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DestinationPolicy {
    /// The allowed classes, one bit each ([`AddressClass::bit`]).
    classes: u16,
    private_targets: bool,
    targets: Vec<AddressRange>,
}

impl DestinationPolicy {
    /// The dispatcher's policy: only globally reachable addresses.
    pub fn server() -> DestinationPolicy {
        DestinationPolicy {
            classes: AddressClass::Global.bit(),
            private_targets: false,
            targets: Vec::new(),
        }
    }

    /// The local tools' policy: globally reachable addresses and loopback.
    pub fn local_tools() -> DestinationPolicy {
        DestinationPolicy {
            classes: AddressClass::Global.bit() | AddressClass::Loopback.bit(),
            private_targets: false,
            targets: Vec::new(),
        }
    }

    /// With `true`, allows every class but [`AddressClass::CloudMetadata`]
    /// (for local testing; config `allow_private_targets`).
    pub fn allow_private_targets(mut self, allow: bool) -> DestinationPolicy {
        self.private_targets = allow;
        self
    }

    /// Allows the addresses of `range` whatever their class (config
    /// `allowed_targets`); the only way to allow a cloud metadata address.
    pub fn allow_target(mut self, range: AddressRange) -> DestinationPolicy {
        if !self.targets.contains(&range) {
            self.targets.push(range);
        }
        self
    }

    /// Whether private targets are allowed.
    pub fn private_targets_allowed(&self) -> bool {
        self.private_targets
    }

    /// The ranges allowed whatever their class.
    pub fn allowed_targets(&self) -> &[AddressRange] {
        &self.targets
    }

    /// Whether the sender may connect to `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.check(ip).is_ok()
    }

    /// `Ok` when the sender may connect to `ip`, else why not.
    ///
    /// # Errors
    ///
    /// A [`Refusal`] naming the address and its class.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refusal> {
        let class = classify(ip);
        let allowed = self.classes & class.bit() != 0
            || (self.private_targets && class != AddressClass::CloudMetadata)
            || self.targets.iter().any(|range| range.contains(ip));
        if allowed {
            Ok(())
        } else {
            Err(Refusal::address(ip, class))
        }
    }

    /// The policy with a config's `allow_private_targets` and
    /// `allowed_targets` applied (which only ever widen it).
    pub(crate) fn with_config(
        mut self,
        config: &WebhooksConfig,
        key: &str,
    ) -> Result<DestinationPolicy, Issue> {
        if config.allow_private_targets {
            self = self.allow_private_targets(true);
        }
        for range in parse_allowed_targets(config, key)? {
            self = self.allow_target(range);
        }
        Ok(self)
    }

    /// The address of an IP-literal `url`, checked; `Ok` for a name (checked
    /// once resolved).
    pub(crate) fn check_url(&self, url: &Url) -> Result<(), Refusal> {
        match literal_address(url) {
            Some(ip) => self.check(ip),
            None => Ok(()),
        }
    }

    /// The allowed ones of `name`'s resolved addresses; a refusal when there
    /// were some and every one is refused.
    pub(crate) fn filter(
        &self,
        name: &str,
        addresses: Vec<SocketAddr>,
    ) -> Result<Vec<SocketAddr>, Refusal> {
        let mut allowed = Vec::with_capacity(addresses.len());
        let mut refused = Vec::new();
        for address in addresses {
            match self.check(address.ip()) {
                Ok(()) => allowed.push(address),
                Err(refusal) => refused.push(refusal),
            }
        }
        if let Some(first) = refused.first() {
            tracing::warn!(
                host = name,
                address = %first.address,
                class = first.class.as_str(),
                refused = refused.len(),
                allowed = allowed.len(),
                "destination guard refused resolved addresses"
            );
        }
        match refused.into_iter().next() {
            Some(first) if allowed.is_empty() => Err(first.named(name)),
            _ => Ok(allowed),
        }
    }
}

/// The `allowed_targets` of `config` (the section at `key`), parsed.
pub(crate) fn parse_allowed_targets(
    config: &WebhooksConfig,
    key: &str,
) -> Result<Vec<AddressRange>, Issue> {
    let targets_key = join_key(key, "allowed_targets");
    config
        .allowed_targets
        .iter()
        .enumerate()
        .map(|(i, text)| {
            text.parse::<AddressRange>()
                .map_err(|e| Issue::new(index_key(&targets_key, i), e.to_string()))
        })
        .collect()
}

/// The address of an IP-literal URL host (`url` already normalized the
/// decimal, octal and hex IPv4 forms), `None` for a name.
pub(crate) fn literal_address(url: &Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .parse()
        .ok()
}

/// The destination guard refused a destination: the sender sent nothing.
///
/// Displays as `destination refused: 10.0.0.1 is private`, or for a name
/// `destination refused: hooks.internal resolves to 10.0.0.1, which is
/// private`. Never holds a URL (which may carry a password or token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    kind: RefusalKind,
    host: Option<String>,
    address: IpAddr,
    class: AddressClass,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum RefusalKind {
    Address,
    InvalidUrl(String),
}

impl Refusal {
    fn address(address: IpAddr, class: AddressClass) -> Refusal {
        Refusal {
            kind: RefusalKind::Address,
            host: None,
            address,
            class,
        }
    }

    fn named(mut self, host: &str) -> Refusal {
        self.host = Some(host.to_owned());
        self
    }

    fn invalid_url(reason: String) -> Refusal {
        Refusal {
            kind: RefusalKind::InvalidUrl(reason),
            host: None,
            address: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            class: AddressClass::Unspecified,
        }
    }

    /// The refused address; `None` when the URL itself was unusable.
    pub fn refused_address(&self) -> Option<IpAddr> {
        match self.kind {
            RefusalKind::Address => Some(self.address),
            RefusalKind::InvalidUrl(_) => None,
        }
    }

    /// The refused address's class; `None` when the URL itself was unusable.
    pub fn class(&self) -> Option<AddressClass> {
        match self.kind {
            RefusalKind::Address => Some(self.class),
            RefusalKind::InvalidUrl(_) => None,
        }
    }

    /// The name that resolved to the refused address, when it was a name.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.kind, &self.host) {
            (RefusalKind::InvalidUrl(reason), _) => {
                write!(f, "destination refused: invalid url: {reason}")
            }
            (RefusalKind::Address, None) => {
                write!(f, "destination refused: {} is {}", self.address, self.class)
            }
            (RefusalKind::Address, Some(host)) => write!(
                f,
                "destination refused: {host} resolves to {}, which is {}",
                self.address, self.class
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// Checks a URL at registration, as the registration API does before it
/// stores an endpoint: an IP-literal host is classified without resolving;
/// a name is resolved with `resolver` and refused when **any** of its
/// addresses is refused. A name that does not resolve (now) is accepted with
/// a warning: it is checked again at every attempt.
///
/// This does not check the URL's scheme or other settings (building the
/// endpoint does).
///
/// ```
/// use std::sync::Arc;
/// use megabot_webhook_sender::{DestinationPolicy, StaticResolver, check_destination};
///
/// # async fn run() {
/// let resolver = StaticResolver::new()
///     .with("hooks.example.com", ["93.184.215.14".parse().unwrap()])
///     .with("intranet.example.com", ["10.1.2.3".parse().unwrap()]);
/// let policy = DestinationPolicy::server();
/// assert!(check_destination("https://hooks.example.com/in", &policy, &resolver).await.unwrap().is_empty());
/// let refusal = check_destination("https://intranet.example.com/", &policy, &resolver).await.unwrap_err();
/// assert_eq!(refusal.to_string(), "destination refused: intranet.example.com resolves to 10.1.2.3, which is private");
/// let warnings = check_destination("https://not-yet.example.com/", &policy, &resolver).await.unwrap();
/// assert_eq!(warnings.len(), 1);
/// # }
/// ```
///
/// # Errors
///
/// A [`Refusal`] for a refused address, or a URL without a host.
pub async fn check_destination(
    url: &str,
    policy: &DestinationPolicy,
    resolver: &dyn Resolver,
) -> Result<Vec<Warning>, Refusal> {
    let url = Url::parse(url.trim()).map_err(|e| Refusal::invalid_url(e.to_string()))?;
    if let Some(ip) = literal_address(&url) {
        policy.check(ip)?;
        return Ok(Vec::new());
    }
    let Some(host) = url.host_str().filter(|host| !host.is_empty()) else {
        return Err(Refusal::invalid_url("no host".to_owned()));
    };
    let unresolved = |why: String| {
        vec![Warning::new(
            "url",
            format!("`{host}` does not resolve now ({why}); it is checked again at every attempt"),
        )]
    };
    match resolver.resolve(host).await {
        Ok(addresses) if addresses.is_empty() => Ok(unresolved("no address".to_owned())),
        Ok(addresses) => {
            for address in addresses {
                policy.check(address.ip()).map_err(|r| r.named(host))?;
            }
            Ok(Vec::new())
        }
        Err(error) => Ok(unresolved(lowercase(&error.to_string()))),
    }
}

fn lowercase(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use AddressClass::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn classify_table() {
        let table: &[(&str, AddressClass)] = &[
            // IPv4
            ("8.8.8.8", Global),
            ("93.184.215.14", Global),
            ("1.1.1.1", Global),
            ("223.255.255.255", Global),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("10.0.0.1", Private),
            ("10.255.255.255", Private),
            ("11.0.0.1", Global),
            ("172.15.255.255", Global),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("172.32.0.0", Global),
            ("192.168.1.1", Private),
            ("192.169.0.1", Global),
            ("100.63.255.255", Global),
            ("100.64.0.1", Shared),
            ("100.127.255.255", Shared),
            ("100.128.0.0", Global),
            ("100.100.100.200", CloudMetadata),
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("169.254.0.1", LinkLocal),
            ("169.254.169.253", LinkLocal),
            ("169.254.169.254", CloudMetadata),
            ("169.254.170.2", CloudMetadata),
            ("192.0.0.1", SpecialPurpose),
            ("192.0.0.8", SpecialPurpose),
            ("192.0.0.9", Global),
            ("192.0.0.10", Global),
            ("192.0.0.170", SpecialPurpose),
            ("192.0.2.1", Documentation),
            ("198.51.100.7", Documentation),
            ("203.0.113.200", Documentation),
            ("192.88.99.1", SpecialPurpose),
            ("198.17.255.255", Global),
            ("198.18.0.1", Benchmarking),
            ("198.19.255.255", Benchmarking),
            ("198.20.0.0", Global),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("240.0.0.1", Reserved),
            ("255.255.255.254", Reserved),
            ("255.255.255.255", Broadcast),
            // IPv6
            ("::", Unspecified),
            ("::1", Loopback),
            ("2606:4700:4700::1111", Global),
            ("2a00:1450:4001:82b::200e", Global),
            ("fc00::1", Private),
            ("fd12:3456:789a::1", Private),
            ("fd00:ec2::254", CloudMetadata),
            ("fd00:ec2::23", CloudMetadata),
            ("fd00:ec2::253", Private),
            ("fe80::1", LinkLocal),
            ("febf::1", LinkLocal),
            ("fec0::1", Private),
            ("ff02::1", Multicast),
            ("ff0e::1", Multicast),
            ("2001:db8::1", Documentation),
            ("3fff::1", Documentation),
            ("2001:2::1", Benchmarking),
            ("100::1", SpecialPurpose),
            ("2001:10::1", SpecialPurpose),
            ("2001:1::1", Global),
            ("2001:1::4", SpecialPurpose),
            ("2001:3::1", Global),
            ("2001:4:112::1", Global),
            ("2001:20::1", Global),
            ("2001:200::1", Global),
            ("5f00::1", SpecialPurpose),
            ("64:ff9b:1::1", SpecialPurpose),
            ("4000::1", Reserved),
            ("1::1", Reserved),
            // IPv4 embedded in IPv6
            ("::ffff:10.0.0.1", Private),
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:169.254.169.254", CloudMetadata),
            ("::ffff:8.8.8.8", Global),
            ("::ffff:0.0.0.0", Unspecified),
            ("::ffff:0:10.0.0.1", Private),
            ("::127.0.0.1", Loopback),
            ("::10.0.0.1", Private),
            ("::8.8.8.8", Global),
            ("64:ff9b::8.8.8.8", Global),
            ("64:ff9b::10.0.0.1", Private),
            ("64:ff9b::127.0.0.1", Loopback),
            ("64:ff9b::a9fe:a9fe", CloudMetadata),
            ("2002:0a00:0001::1", Private),
            ("2002:7f00:0001::", Loopback),
            ("2002:a9fe:a9fe::1", CloudMetadata),
            ("2002:0808:0808::1", Global),
            // Teredo: server 8.8.8.8, client !0x0a000001 = 10.0.0.1
            ("2001:0:808:808::f5ff:fffe", Private),
            // Teredo: server 8.8.8.8, client 1.2.3.4 (obfuscated)
            ("2001:0:808:808::fefd:fcfb", Global),
            // Teredo: server 10.0.0.1, client 1.2.3.4
            ("2001:0:a00:1::fefd:fcfb", Private),
        ];
        for (text, class) in table {
            assert_eq!(classify(ip(text)), *class, "{text}");
        }
    }

    /// The url crate reads the WHATWG IPv4 forms (decimal, octal, hex,
    /// shortened) as the address they mean, and `literal_address` sees it.
    #[test]
    fn url_host_forms_are_the_ipv4_address_they_mean() {
        let cases = [
            ("http://2130706433/", "127.0.0.1"),
            ("http://0177.0.0.1/", "127.0.0.1"),
            ("http://0x7f.1/", "127.0.0.1"),
            ("http://0x7f000001/", "127.0.0.1"),
            ("http://127.1/", "127.0.0.1"),
            ("http://017700000001/", "127.0.0.1"),
            ("http://10.1/", "10.0.0.1"),
            ("http://0xa.0.0.1/", "10.0.0.1"),
            ("http://167772161/", "10.0.0.1"),
            ("http://0xA9.0376.43518/", "169.254.169.254"),
            ("http://2852039166/", "169.254.169.254"),
            ("http://0/", "0.0.0.0"),
            ("http://[::ffff:a9fe:a9fe]/", "::ffff:169.254.169.254"),
            ("http://[::ffff:127.0.0.1]:8080/", "::ffff:127.0.0.1"),
            ("https://user:pass@0x7f.0.0.1:9/x", "127.0.0.1"),
            ("http://127.0.0.1./", "127.0.0.1"),
        ];
        for (url, expected) in cases {
            let parsed = Url::parse(url).unwrap();
            assert_eq!(literal_address(&parsed), Some(ip(expected)), "{url}");
        }
        assert_eq!(
            classify(literal_address(&Url::parse("http://2130706433/").unwrap()).unwrap()),
            Loopback
        );
        assert_eq!(
            classify(literal_address(&Url::parse("http://0xA9FEA9FE/").unwrap()).unwrap()),
            CloudMetadata
        );
        for name in ["http://example.com/", "http://localhost/", "http://0x7g/"] {
            assert_eq!(literal_address(&Url::parse(name).unwrap()), None, "{name}");
        }
        // A host that ends in a number must be an IPv4 address, or the URL
        // is invalid (never a name a resolver could read as an address).
        for invalid in [
            "http://0x7g.1/",
            "http://1.2.3.4.5/",
            "http://256.0.0.1/",
            "http://08.0.0.1/",
        ] {
            assert!(Url::parse(invalid).is_err(), "{invalid}");
        }
    }

    #[test]
    fn policies() {
        let server = DestinationPolicy::server();
        let local = DestinationPolicy::local_tools();
        let lifted = DestinationPolicy::server().allow_private_targets(true);
        for (text, server_ok, local_ok, lifted_ok) in [
            ("8.8.8.8", true, true, true),
            ("127.0.0.1", false, true, true),
            ("::1", false, true, true),
            ("::ffff:127.0.0.1", false, true, true),
            ("10.0.0.1", false, false, true),
            ("::ffff:10.0.0.1", false, false, true),
            ("fe80::1", false, false, true),
            ("100.64.0.1", false, false, true),
            ("0.0.0.0", false, false, true),
            ("192.0.2.1", false, false, true),
            ("169.254.169.254", false, false, false),
            ("::ffff:169.254.169.254", false, false, false),
            ("fd00:ec2::254", false, false, false),
        ] {
            assert_eq!(server.allows(ip(text)), server_ok, "server {text}");
            assert_eq!(local.allows(ip(text)), local_ok, "local {text}");
            assert_eq!(lifted.allows(ip(text)), lifted_ok, "lifted {text}");
        }
        let listed = lifted.allow_target("169.254.169.254".parse().unwrap());
        assert!(listed.allows(ip("169.254.169.254")));
        assert!(listed.allows(ip("::ffff:169.254.169.254")));
        assert!(!listed.allows(ip("169.254.170.2")));
        assert!(!listed.allows(ip("fd00:ec2::254")));
        let ranged = DestinationPolicy::server().allow_target("10.20.0.0/16".parse().unwrap());
        assert!(ranged.allows(ip("10.20.3.4")));
        assert!(!ranged.allows(ip("10.21.0.1")));
        assert!(!ranged.allows(ip("127.0.0.1")));
    }

    #[test]
    fn refusal_messages() {
        let server = DestinationPolicy::server();
        let cases = [
            ("10.0.0.1", "destination refused: 10.0.0.1 is private"),
            ("127.0.0.1", "destination refused: 127.0.0.1 is loopback"),
            (
                "169.254.169.254",
                "destination refused: 169.254.169.254 is a cloud metadata address",
            ),
            ("fe80::1", "destination refused: fe80::1 is link-local"),
            (
                "::ffff:10.0.0.1",
                "destination refused: ::ffff:10.0.0.1 is private",
            ),
        ];
        for (text, message) in cases {
            let refusal = server.check(ip(text)).unwrap_err();
            assert_eq!(refusal.to_string(), message);
            assert_eq!(refusal.refused_address(), Some(ip(text)));
            assert_eq!(crate::Error::from(refusal).code(), "destination_refused");
        }
        let filtered = server
            .filter(
                "hooks.internal",
                vec![
                    SocketAddr::new(ip("10.0.0.1"), 0),
                    SocketAddr::new(ip("10.0.0.2"), 0),
                ],
            )
            .unwrap_err();
        assert_eq!(
            filtered.to_string(),
            "destination refused: hooks.internal resolves to 10.0.0.1, which is private"
        );
        assert_eq!(filtered.host(), Some("hooks.internal"));
        let kept = server
            .filter(
                "mixed.example",
                vec![
                    SocketAddr::new(ip("10.0.0.1"), 0),
                    SocketAddr::new(ip("8.8.8.8"), 0),
                ],
            )
            .unwrap();
        assert_eq!(kept, [SocketAddr::new(ip("8.8.8.8"), 0)]);
    }

    #[test]
    fn address_ranges() {
        let cases = [
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("10.1.2.3/8", "10.0.0.0/8"),
            (" 169.254.169.254 ", "169.254.169.254/32"),
            ("fd00:ec2::254", "fd00:ec2::254/128"),
            ("[fd00::]/8", "fd00::/8"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("::/0", "::/0"),
        ];
        for (text, shown) in cases {
            assert_eq!(
                text.parse::<AddressRange>().unwrap().to_string(),
                shown,
                "{text}"
            );
        }
        for bad in [
            "",
            "10.0.0.0/33",
            "fd00::/129",
            "10.0.0.0/x",
            "example.com",
            "10.0.0/8",
            "10.0.0.1/-1",
        ] {
            let error = bad.parse::<AddressRange>().unwrap_err().to_string();
            assert!(
                error.starts_with("invalid address or cidr range"),
                "{bad}: {error}"
            );
        }
        let v6: AddressRange = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        let all: AddressRange = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("255.255.255.255")));
        assert!(!all.contains(ip("::1")));
    }

    #[tokio::test]
    async fn registration_check() {
        let resolver = StaticResolver::new()
            .with("public.example", [ip("8.8.8.8"), ip("2606:4700::1")])
            .with("mixed.example", [ip("8.8.8.8"), ip("10.0.0.1")])
            .with("metadata.example", [ip("169.254.169.254")])
            .with("empty.example", []);
        let server = DestinationPolicy::server();
        let check = |url: &'static str, policy: DestinationPolicy| {
            let resolver = resolver.clone();
            async move { check_destination(url, &policy, &resolver).await }
        };
        assert_eq!(
            check("https://public.example/x", server.clone()).await,
            Ok(vec![])
        );
        assert_eq!(check("https://8.8.8.8/x", server.clone()).await, Ok(vec![]));
        let mixed = check("https://mixed.example/x", server.clone())
            .await
            .unwrap_err();
        assert_eq!(
            mixed.to_string(),
            "destination refused: mixed.example resolves to 10.0.0.1, which is private"
        );
        let literal = check("https://user:hunter2@2130706433/x", server.clone())
            .await
            .unwrap_err();
        assert_eq!(
            literal.to_string(),
            "destination refused: 127.0.0.1 is loopback"
        );
        let lifted = server.clone().allow_private_targets(true);
        assert!(
            check("https://mixed.example/x", lifted.clone())
                .await
                .is_ok()
        );
        assert_eq!(
            check("https://metadata.example/", lifted.clone())
                .await
                .unwrap_err()
                .class(),
            Some(CloudMetadata)
        );
        for unresolved in ["https://unknown.example/", "https://empty.example/"] {
            let warnings = check(unresolved, server.clone()).await.unwrap();
            assert_eq!(warnings.len(), 1, "{unresolved}");
            assert_eq!(warnings[0].key(), "url");
            assert!(
                warnings[0].message().contains("does not resolve now"),
                "{}",
                warnings[0]
            );
        }
        for no_host in ["file:///etc/passwd", "mailto:someone@example.com"] {
            let refusal = check(no_host, server.clone()).await.unwrap_err();
            assert_eq!(
                refusal.to_string(),
                "destination refused: invalid url: no host"
            );
        }
        let invalid = check("not a url", server.clone()).await.unwrap_err();
        assert!(
            invalid
                .to_string()
                .starts_with("destination refused: invalid url")
        );
        assert_eq!(invalid.refused_address(), None);
    }
}
