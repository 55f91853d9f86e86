//! Which kind of address an IP address is (IANA special-purpose registries).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The kind of an IP address, as the destination guard sees it.
///
/// From the IANA IPv4 and IPv6 special-purpose address registries. IPv6
/// addresses that embed an IPv4 address (IPv4-mapped `::ffff:0:0/96`,
/// IPv4-compatible `::/96`, IPv4-translated `::ffff:0:0:0/96`, NAT64
/// `64:ff9b::/96`, 6to4 `2002::/16` and Teredo `2001::/32`) are the kind of
/// the IPv4 address they embed. See [`classify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum AddressClass {
    /// A globally reachable unicast address.
    Global,
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// RFC 1918 (`10/8`, `172.16/12`, `192.168/16`), unique local `fc00::/7`
    /// and the deprecated site-local `fec0::/10`.
    Private,
    /// Shared address space (carrier-grade NAT), `100.64.0.0/10`.
    Shared,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// A cloud instance metadata or credentials service: `169.254.169.254`,
    /// `fd00:ec2::254` and the other addresses listed in
    /// [`CLOUD_METADATA`]. Refused even where private targets are allowed,
    /// unless listed by address.
    CloudMetadata,
    /// `0.0.0.0/8` ("this network") and `::`.
    Unspecified,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`, `2001:db8::/32`,
    /// `3fff::/20`.
    Documentation,
    /// `198.18.0.0/15`, `2001:2::/48`.
    Benchmarking,
    /// `240.0.0.0/4` (future use), and IPv6 outside of the global unicast
    /// `2000::/3` that no other class covers.
    Reserved,
    /// Other special-purpose ranges that are not globally reachable, such as
    /// `192.0.0.0/24` (IETF protocol assignments), `192.88.99.0/24` (6to4
    /// relay anycast), `100::/64` (discard-only), `2001::/23` (IETF protocol
    /// assignments), `64:ff9b:1::/48` (local-use translation) and `5f00::/16`
    /// (SRv6 SIDs).
    SpecialPurpose,
}

impl AddressClass {
    /// A stable snake_case name: `global`, `loopback`, `private`, `shared`,
    /// `link_local`, `cloud_metadata`, `unspecified`, `multicast`,
    /// `broadcast`, `documentation`, `benchmarking`, `reserved`,
    /// `special_purpose`.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressClass::Global => "global",
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::Shared => "shared",
            AddressClass::LinkLocal => "link_local",
            AddressClass::CloudMetadata => "cloud_metadata",
            AddressClass::Unspecified => "unspecified",
            AddressClass::Multicast => "multicast",
            AddressClass::Broadcast => "broadcast",
            AddressClass::Documentation => "documentation",
            AddressClass::Benchmarking => "benchmarking",
            AddressClass::Reserved => "reserved",
            AddressClass::SpecialPurpose => "special_purpose",
        }
    }

    /// This class's bit in a class set.
    pub(crate) fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// What an address "is": `10.0.0.1 is private`.
impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressClass::Global => "global",
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::Shared => "shared address space",
            AddressClass::LinkLocal => "link-local",
            AddressClass::CloudMetadata => "a cloud metadata address",
            AddressClass::Unspecified => "unspecified",
            AddressClass::Multicast => "multicast",
            AddressClass::Broadcast => "broadcast",
            AddressClass::Documentation => "reserved for documentation",
            AddressClass::Benchmarking => "reserved for benchmarking",
            AddressClass::Reserved => "reserved",
            AddressClass::SpecialPurpose => "a special-purpose address",
        })
    }
}

/// Cloud instance metadata and credentials services: AWS, GCP, Azure,
/// OpenStack and others (`169.254.169.254`, `fd00:ec2::254`), AWS ECS task
/// credentials (`169.254.170.2`), EKS Pod Identity (`169.254.170.23`,
/// `fd00:ec2::23`) and Alibaba Cloud (`100.100.100.200`).
pub const CLOUD_METADATA: [IpAddr; 6] = [
    IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 2)),
    IpAddr::V4(Ipv4Addr::new(169, 254, 170, 23)),
    IpAddr::V4(Ipv4Addr::new(100, 100, 100, 200)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254)),
    IpAddr::V6(Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x23)),
];

/// The kind of `ip`.
///
/// IPv6 addresses that embed an IPv4 address are classified by it, so
/// `::ffff:10.0.0.1` is private and `64:ff9b::a9fe:a9fe` is cloud metadata.
///
/// ```
/// use megabot_webhook_sender::{AddressClass, classify};
///
/// assert_eq!(classify("93.184.215.14".parse().unwrap()), AddressClass::Global);
/// assert_eq!(classify("10.0.0.1".parse().unwrap()), AddressClass::Private);
/// assert_eq!(classify("::ffff:127.0.0.1".parse().unwrap()), AddressClass::Loopback);
/// assert_eq!(classify("169.254.169.254".parse().unwrap()), AddressClass::CloudMetadata);
/// ```
pub fn classify(ip: IpAddr) -> AddressClass {
    if CLOUD_METADATA.contains(&ip) {
        return AddressClass::CloudMetadata;
    }
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Whether `ip` is in `network/prefix` (IPv4).
fn in_v4(ip: Ipv4Addr, network: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(network)) & mask
}

/// Whether `ip` is in `network/prefix` (IPv6).
fn in_v6(ip: Ipv6Addr, network: [u16; 8], prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    let [a, b, c, d, e, f, g, h] = network;
    u128::from(ip) & mask == u128::from(Ipv6Addr::new(a, b, c, d, e, f, g, h)) & mask
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    if CLOUD_METADATA.contains(&IpAddr::V4(ip)) {
        return AddressClass::CloudMetadata;
    }
    // Globally reachable exceptions inside 192.0.0.0/24: PCP and TURN anycast.
    if ip == Ipv4Addr::new(192, 0, 0, 9) || ip == Ipv4Addr::new(192, 0, 0, 10) {
        return AddressClass::Global;
    }
    const RANGES: &[([u8; 4], u32, AddressClass)] = &[
        ([0, 0, 0, 0], 8, AddressClass::Unspecified),
        ([10, 0, 0, 0], 8, AddressClass::Private),
        ([100, 64, 0, 0], 10, AddressClass::Shared),
        ([127, 0, 0, 0], 8, AddressClass::Loopback),
        ([169, 254, 0, 0], 16, AddressClass::LinkLocal),
        ([172, 16, 0, 0], 12, AddressClass::Private),
        ([192, 0, 0, 0], 24, AddressClass::SpecialPurpose),
        ([192, 0, 2, 0], 24, AddressClass::Documentation),
        ([192, 88, 99, 0], 24, AddressClass::SpecialPurpose),
        ([192, 168, 0, 0], 16, AddressClass::Private),
        ([198, 18, 0, 0], 15, AddressClass::Benchmarking),
        ([198, 51, 100, 0], 24, AddressClass::Documentation),
        ([203, 0, 113, 0], 24, AddressClass::Documentation),
        ([224, 0, 0, 0], 4, AddressClass::Multicast),
        ([255, 255, 255, 255], 32, AddressClass::Broadcast),
        ([240, 0, 0, 0], 4, AddressClass::Reserved),
    ];
    RANGES
        .iter()
        .find(|(network, prefix, _)| in_v4(ip, *network, *prefix))
        .map_or(AddressClass::Global, |(_, _, class)| *class)
}

/// The IPv4 address an IPv6 address embeds, for the forms that carry one.
pub(crate) fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    // IPv4-mapped ::ffff:a.b.c.d, IPv4-translated ::ffff:0:a.b.c.d, NAT64
    // 64:ff9b::a.b.c.d, and IPv4-compatible ::a.b.c.d (but not :: and ::1).
    if in_v6(ip, [0, 0, 0, 0, 0, 0xffff, 0, 0], 96)
        || in_v6(ip, [0, 0, 0, 0, 0xffff, 0, 0, 0], 96)
        || in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96)
        || (in_v6(ip, [0; 8], 96) && bits > 1)
    {
        return Some(low32);
    }
    // 6to4: 2002:AABB:CCDD::/48 carries AA.BB.CC.DD.
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        return Some(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32));
    }
    None
}

/// Teredo (`2001::/32`): the server's and the (obfuscated) client's IPv4
/// addresses.
fn teredo(ip: Ipv6Addr) -> Option<(Ipv4Addr, Ipv4Addr)> {
    if !in_v6(ip, [0x2001, 0, 0, 0, 0, 0, 0, 0], 32) {
        return None;
    }
    let bits = u128::from(ip);
    let server = Ipv4Addr::from(((bits >> 64) & 0xffff_ffff) as u32);
    let client = Ipv4Addr::from(!((bits & 0xffff_ffff) as u32));
    Some((server, client))
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    if CLOUD_METADATA.contains(&IpAddr::V6(ip)) {
        return AddressClass::CloudMetadata;
    }
    if ip.is_unspecified() {
        return AddressClass::Unspecified;
    }
    if ip.is_loopback() {
        return AddressClass::Loopback;
    }
    if let Some(v4) = embedded_v4(ip) {
        return classify(IpAddr::V4(v4));
    }
    if let Some((server, client)) = teredo(ip) {
        // The client's address is where packets end up; a refused server
        // address refuses too.
        let client = classify(IpAddr::V4(client));
        return match client {
            AddressClass::Global => classify(IpAddr::V4(server)),
            other => other,
        };
    }
    // Globally reachable exceptions inside 2001::/23.
    const GLOBAL: &[([u16; 8], u32)] = &[
        ([0x2001, 0x1, 0, 0, 0, 0, 0, 0x1], 128),  // PCP anycast
        ([0x2001, 0x1, 0, 0, 0, 0, 0, 0x2], 128),  // TURN anycast
        ([0x2001, 0x1, 0, 0, 0, 0, 0, 0x3], 128),  // DNS-SD SRP anycast
        ([0x2001, 0x3, 0, 0, 0, 0, 0, 0], 32),     // AMT
        ([0x2001, 0x4, 0x112, 0, 0, 0, 0, 0], 48), // AS112-v6
        ([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28),    // ORCHIDv2
        ([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28),    // DRIP DET
    ];
    if GLOBAL
        .iter()
        .any(|(network, prefix)| in_v6(ip, *network, *prefix))
    {
        return AddressClass::Global;
    }
    const RANGES: &[([u16; 8], u32, AddressClass)] = &[
        (
            [0x64, 0xff9b, 0x1, 0, 0, 0, 0, 0],
            48,
            AddressClass::SpecialPurpose,
        ),
        (
            [0x100, 0, 0, 0, 0, 0, 0, 0],
            64,
            AddressClass::SpecialPurpose,
        ),
        (
            [0x2001, 0x2, 0, 0, 0, 0, 0, 0],
            48,
            AddressClass::Benchmarking,
        ),
        (
            [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
            32,
            AddressClass::Documentation,
        ),
        (
            [0x2001, 0, 0, 0, 0, 0, 0, 0],
            23,
            AddressClass::SpecialPurpose,
        ),
        (
            [0x3fff, 0, 0, 0, 0, 0, 0, 0],
            20,
            AddressClass::Documentation,
        ),
        (
            [0x5f00, 0, 0, 0, 0, 0, 0, 0],
            16,
            AddressClass::SpecialPurpose,
        ),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, AddressClass::Private),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, AddressClass::LinkLocal),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, AddressClass::Private),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, AddressClass::Multicast),
        ([0x2000, 0, 0, 0, 0, 0, 0, 0], 3, AddressClass::Global),
    ];
    RANGES
        .iter()
        .find(|(network, prefix, _)| in_v6(ip, *network, *prefix))
        .map_or(AddressClass::Reserved, |(_, _, class)| *class)
}
