//! The dispatcher's `import_dead` checks each record's MAC (design 9.14):
//! records a sender wrote are imported, tampered ones are refused and
//! counted, version-1 ones need `accept_unauthenticated`. Nothing is sent.
#![cfg(feature = "sqlite")]

use std::sync::Arc;

use megabot_webhook_sender::config::{EndpointConfig, SecretKeys, WebhooksConfig};
use megabot_webhook_sender::dispatcher::{Dispatcher, SqliteStore};
use megabot_webhook_sender::{Delivery, RecordingSleeper, Sender};

const URL: &str = "https://hooks.example.com/hook";

fn config() -> WebhooksConfig {
    let mut endpoint = EndpointConfig::new(URL);
    endpoint.secret = Some(SecretKeys::one("import-secret"));
    endpoint.retry_policy.max_attempts = 1;
    {
        let mut value = WebhooksConfig::default();
        value.endpoints = vec![endpoint];
        value
    }
}

#[tokio::test]
async fn import_refuses_tampered_and_version_1_records() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dead.jsonl");
    // the resolver knows no name: the delivery fails and is kept, nothing is sent
    let (sender, _) = Sender::builder(config())
        .sleeper(Arc::new(RecordingSleeper::new()))
        .resolver(Arc::new(megabot_webhook_sender::StaticResolver::default()))
        .dead_letter_file(file.clone())
        .build()
        .unwrap();
    for id in ["evt_ok", "evt_tampered", "evt_v1"] {
        let body = format!(r#"{{"event":"error_occurred","id":"{id}","timestamp":1,"data":{{}}}}"#);
        let report = sender
            .send_delivery(&Delivery::from_json(body.as_bytes()).unwrap())
            .await;
        assert!(report.deliveries[0].dead_lettered, "{report:?}");
    }
    let mut lines: Vec<serde_json::Value> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines[1]["body"] =
        r#"{"event":"error_occurred","id":"evt_tampered","timestamp":2,"data":{}}"#.into();
    let v1 = lines[2].as_object_mut().unwrap();
    v1.remove("v");
    v1.remove("mac");
    v1.insert("version".into(), 1.into());
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&file, &text).unwrap();

    let store = Arc::new(SqliteStore::open(dir.path().join("store.sqlite3")).unwrap());
    let (dispatcher, _) = Dispatcher::builder(config(), store).build().await.unwrap();
    let report = dispatcher.import_dead_checked(&file, false).await.unwrap();
    assert_eq!(report.imported, 1, "{report:?}");
    assert_eq!(report.tampered, 1, "{report:?}");
    assert_eq!(report.unauthenticated, 1, "{report:?}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        text,
        "file unchanged"
    );
    let report = dispatcher.import_dead_checked(&file, true).await.unwrap();
    assert_eq!((report.imported, report.tampered), (2, 1), "{report:?}");
    assert_eq!(dispatcher.import_dead(&file).await.unwrap(), (1, 2));
}
