//! The destination guard's unit tests: address classes (one table of cases), URL host
//! forms, policies, refusal messages, address ranges and the registration check.

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
