//! `standard_webhooks.signing_key` (a `whsk_` Ed25519 key, design 9.11) in the YAML
//! loader: `${VAR}` expansion, file:line:key errors, unknown keys, and no leaks.

use megabot_webhook_sender::{ConfigLoader, Sender};
use megabot_webhook_verify::StandardSigningKey;

/// A test key (seed 0x07 repeated); never use it.
fn whsk() -> String {
    StandardSigningKey::from_seed(&[7; 32])
        .to_whsk_string()
        .to_string()
}

fn loader() -> ConfigLoader {
    ConfigLoader::with_env(|name| match name {
        "WEBHOOK_SECRET_KEY" => Some("guide-secret-value".to_owned()),
        "WHSK" => Some(whsk()),
        "BAD_WHSK" => Some("whsk_c2VjcmV0LW5vdC1hLWtleQ==".to_owned()),
        _ => None,
    })
}

fn yaml(standard: &str) -> String {
    format!(
        "webhooks:\n  secret_key: \"${{WEBHOOK_SECRET_KEY}}\"\n  endpoints:\n    - url: \"https://example.com/webhook\"\n      standard_webhooks:\n{standard}"
    )
}

fn error(standard: &str) -> String {
    let error = loader()
        .load_str(&yaml(standard), "mega-config.yaml")
        .unwrap_err();
    assert_eq!(error.code(), "invalid_config", "{error}");
    let text = error.to_string();
    for secret in [
        whsk(),
        "c2VjcmV0LW5vdC1hLWtleQ".to_owned(),
        "guide-secret-value".to_owned(),
    ] {
        assert!(!text.contains(&secret), "a secret leaked: {text}");
    }
    text
}

#[test]
fn a_signing_key_from_a_variable_loads_alone_or_beside_a_secret() {
    for standard in [
        "        signing_key: \"${WHSK}\"\n",
        "        secret: \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n        signing_key: \"${WHSK}\"\n",
    ] {
        let loaded = loader()
            .load_str(&yaml(standard), "mega-config.yaml")
            .unwrap();
        let endpoint = &loaded.config.endpoints[0];
        let standard = endpoint.standard_webhooks.as_ref().unwrap();
        assert_eq!(
            standard.signing_key.as_ref().map(|k| k.expose().to_owned()),
            Some(whsk())
        );
        let debug = format!("{:?} {:#?}", loaded.config, loaded.config);
        assert!(!debug.contains(&whsk()[5..30]), "the key leaked: {debug}");
        let (sender, _) = Sender::new(loaded.config).unwrap();
        assert!(!format!("{sender:?}").contains(&whsk()[5..30]));
    }
}

#[test]
fn a_bad_signing_key_is_named_by_file_line_and_key() {
    let text = error("        signing_key: \"${BAD_WHSK}\"\n");
    assert!(text.starts_with("mega-config.yaml:"), "{text}");
    assert!(
        text.contains("webhooks.endpoints[0].standard_webhooks.signing_key: invalid secret: standard webhooks signing key must hold 32 or 64 bytes"),
        "{text}"
    );
    let text = error("        signing_key: \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n");
    assert!(
        text.contains("webhooks.endpoints[0].standard_webhooks.signing_key: invalid secret: standard webhooks signing key must start with whsk_"),
        "{text}"
    );
    let text = error("        signing_key: \"${MISSING}\"\n");
    assert!(text.contains(":6:"), "{text}");
    assert!(
        text.contains("webhooks.endpoints[0].standard_webhooks.signing_key: environment variable `MISSING` is not set"),
        "{text}"
    );
}

#[test]
fn a_mismatched_keypair_is_refused() {
    use base64::Engine as _;
    let mut pair = [7u8; 32].to_vec();
    pair.extend_from_slice(
        StandardSigningKey::from_seed(&[8; 32])
            .public_key()
            .as_bytes(),
    );
    let forged = format!(
        "whsk_{}",
        base64::engine::general_purpose::STANDARD.encode(&pair)
    );
    let text = error(&format!("        signing_key: \"{forged}\"\n"));
    assert!(
        text.contains("public half does not match the seed"),
        "{text}"
    );
    assert!(!text.contains(&forged[5..40]));
}

#[test]
fn unknown_keys_and_missing_secrets_are_refused() {
    let text = error("        signing_keys: \"${WHSK}\"\n");
    assert!(
        text.ends_with("webhooks.endpoints[0].standard_webhooks.signing_keys: unknown key `signing_keys` (did you mean `signing_key`?)"),
        "{text}"
    );
    let text = error("        enabled: true\n");
    assert!(
        text.ends_with("webhooks.endpoints[0].standard_webhooks.secret: set `secret` (whsec_...), `signing_key` (whsk_...) or both"),
        "{text}"
    );
}
