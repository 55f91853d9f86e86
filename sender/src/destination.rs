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
    #[must_use]
    pub fn allow_private_targets(mut self, allow: bool) -> DestinationPolicy {
        self.private_targets = allow;
        self
    }

    /// Allows the addresses of `range` whatever their class (config
    /// `allowed_targets`); the only way to allow a cloud metadata address.
    #[must_use]
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
mod tests;
