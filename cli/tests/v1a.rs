//! Standard Webhooks `v1a` (Ed25519) on the command line: `keys generate`,
//! `sign --signing-key`, and `listen --standard-public-key` over loopback HTTP.

mod common;

use common::{Listener, run};
use megabot_webhook_verify::signature::verify_standard_v1a_signature;
use megabot_webhook_verify::{StandardPublicKey, StandardSigningKey, sign};

fn body(id: &str, timestamp: i64) -> Vec<u8> {
    format!(
        r#"{{"event":"error_occurred","id":"{id}","timestamp":{timestamp},"data":{{"error_id":"err_1","type":"LLMProviderError","message":"rate limit","severity":"error"}}}}"#
    )
    .into_bytes()
}

#[test]
fn keys_generate_prints_a_matching_pair_and_warns_on_stderr() {
    let out = run(&["keys", "generate"], b"");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with("whsk_") && lines[1].starts_with("whpk_"));
    let secret = StandardSigningKey::parse(lines[0]).unwrap();
    let public = StandardPublicKey::parse(lines[1]).unwrap();
    assert_eq!(secret.public_key(), public);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("keep it secret"), "{stderr}");
    assert!(!stderr.contains(&lines[0][5..]));
    // Every run makes a new key.
    let again = String::from_utf8(run(&["keys", "generate"], b"").stdout).unwrap();
    assert_ne!(again.lines().next(), Some(lines[0]));
}

#[test]
fn sign_with_a_signing_key_prints_v1a_headers() {
    let key = StandardSigningKey::from_seed(&[21; 32]);
    let whsk = key.to_whsk_string();
    let body = body("evt_v1a_1", 1_700_000_000);
    let out = run(
        &[
            "sign",
            "--signing-key",
            &whsk,
            "--timestamp",
            "1700000123",
            "-",
        ],
        &body,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains(&whsk[5..]));
    assert!(!stdout.contains("X-MegaBot-Signature"), "{stdout}");
    assert!(stdout.contains("webhook-id: evt_v1a_1\n"), "{stdout}");
    assert!(
        stdout.contains("webhook-timestamp: 1700000123\n"),
        "{stdout}"
    );
    let signature = stdout
        .lines()
        .find_map(|l| l.strip_prefix("webhook-signature: "))
        .unwrap();
    assert_eq!(
        verify_standard_v1a_signature(
            &[key.public_key()],
            "evt_v1a_1",
            1_700_000_123,
            signature,
            &body
        )
        .unwrap(),
        0
    );
    // A bad key: a clear error that does not repeat it.
    let out = run(
        &[
            "sign",
            "--signing-key",
            "whsk_c2VjcmV0LW5vdC1hLWtleQ==",
            "-",
        ],
        &body,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("signing key"), "{stderr}");
    assert!(!stderr.contains("c2VjcmV0"), "{stderr}");
    // Without any secret or key, sign refuses.
    assert!(!run(&["sign", "-"], &body).status.success());
}

fn post(url: &str, body: &[u8], id: &str, timestamp: i64, signature: &str) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    })
}

#[test]
fn listen_with_public_keys_accepts_v1a_and_refuses_others() {
    let old = StandardSigningKey::from_seed(&[22; 32]);
    let new = StandardSigningKey::from_seed(&[23; 32]);
    let stranger = StandardSigningKey::from_seed(&[24; 32]);
    let old_pk = old.public_key().to_whpk_string();
    let new_pk = new.public_key().to_whpk_string();
    let mut listener = Listener::start(&[
        "--standard-public-key",
        &old_pk,
        "--standard-public-key",
        &new_pk,
        "--json",
    ]);
    let now = chrono::Utc::now().timestamp();
    let body = body("evt_v1a_2", now);
    let signature = sign::standard_v1a_signature(&new, "msg_v1a_2", now, &body);
    let (status, answer) = post(&listener.url, &body, "msg_v1a_2", now, &signature);
    assert_eq!(status, 200, "{answer}");
    let line: serde_json::Value = serde_json::from_str(&listener.next_line()).unwrap();
    assert_eq!(line["scheme"], "standard-webhooks");
    assert_eq!(line["id"], "evt_v1a_2");
    // A stranger's key, and a tampered body, are refused.
    let wrong = sign::standard_v1a_signature(&stranger, "msg_v1a_3", now, &body);
    let (status, answer) = post(&listener.url, &body, "msg_v1a_3", now, &wrong);
    assert_eq!(status, 401);
    assert!(answer.contains("signature_mismatch"), "{answer}");
    let mut tampered = body.clone();
    tampered[10] ^= 1;
    let good = sign::standard_v1a_signature(&old, "msg_v1a_4", now, &body);
    let (status, _) = post(&listener.url, &tampered, "msg_v1a_4", now, &good);
    assert_eq!(status, 401);
}

#[test]
fn sender_signing_with_whsk_reaches_listen_holding_only_the_whpk() {
    use megabot_webhook_sender::config::{
        EndpointConfig, SecretKeys, StandardWebhooksConfig, WebhooksConfig,
    };
    use megabot_webhook_sender::{Outcome, Sender};
    use megabot_webhook_types::{EventName, examples};

    let key = StandardSigningKey::from_seed(&[25; 32]);
    let whpk = key.public_key().to_whpk_string();
    let mut listener = Listener::start(&["--standard-public-key", &whpk, "--json"]);
    let mut endpoint = EndpointConfig::new(listener.url.as_str());
    endpoint.standard_webhooks = Some({
        let mut value = StandardWebhooksConfig::default();
        value.enabled = true;
        value.secret = SecretKeys::default();
        value.signing_key = Some(key.to_whsk_string().as_str().into());
        value
    });
    let config = {
        let mut value = WebhooksConfig::default();
        value.secret_key = Some(SecretKeys::one("megabot_secret_the_listener_lacks"));
        value.endpoints = vec![endpoint];
        value
    };
    let (sender, _) = Sender::new(config).unwrap();
    let event = examples::example(EventName::ToolExecutionFailed);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(sender.send(&event)).unwrap();
    assert_eq!(report.deliveries.len(), 1);
    assert_eq!(
        report.deliveries[0].outcome,
        Outcome::Delivered,
        "{report:?}"
    );
    let line: serde_json::Value = serde_json::from_str(&listener.next_line()).unwrap();
    assert_eq!(line["scheme"], "standard-webhooks");
    assert_eq!(line["id"], event.id.as_str());
    assert_eq!(line["event"], "tool_execution_failed");
}
