//! Dead-letter records v2 (design 9.14) and `redeliver`'s checks, against a
//! loopback receiver: tampered records are refused and kept, version-1
//! records need `accept_unauthenticated`, unknown URLs need
//! `to_recorded_url`, stale MegaBot-scheme letters are refused unless
//! re-stamped, and records stranded by an interrupted run are recovered.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use megabot_webhook_sender::config::{EndpointConfig, SecretKeys, WebhooksConfig};
use megabot_webhook_sender::{
    Delivery, FixedClock, RecordingSleeper, RedeliverOptions, Redelivery, Sender,
};

const SECRET: &str = "dead-letter-secret";

struct Receiver {
    url: String,
    up: Arc<AtomicBool>,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type ReceiverState = (Arc<AtomicBool>, Arc<Mutex<Vec<Vec<u8>>>>);

async fn receive(State((up, bodies)): State<ReceiverState>, body: Bytes) -> StatusCode {
    if !up.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    bodies.lock().unwrap().push(body.to_vec());
    StatusCode::OK
}

/// A loopback receiver answering 503 until `up`, then 200.
async fn start_receiver(path: &str) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let up = Arc::new(AtomicBool::new(false));
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new()
        .route(path, axum::routing::post(receive))
        .with_state((up.clone(), bodies.clone()));
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Receiver {
        url: format!("http://127.0.0.1:{}{path}", addr.port()),
        up,
        bodies,
        task,
    }
}

fn sender(endpoints: &[&str], file: &Path, now: i64) -> Sender {
    let config = {
        let mut value = WebhooksConfig::default();
        value.secret_key = Some(SecretKeys::one(SECRET));
        value.endpoints = endpoints
            .iter()
            .map(|url| {
                let mut endpoint = EndpointConfig::new(*url);
                endpoint.retry_policy.max_attempts = 1;
                endpoint.headers.insert("Authorization", "token abc");
                endpoint
            })
            .collect();
        value
    };
    Sender::builder(config)
        .sleeper(Arc::new(RecordingSleeper::new()))
        .clock(Arc::new(FixedClock(
            chrono::DateTime::from_timestamp(now, 0).unwrap(),
        )))
        .dead_letter_file(file.to_owned())
        .build()
        .unwrap()
        .0
}

fn delivery(id: &str, timestamp: i64) -> Delivery {
    Delivery::from_json(
        format!(
            r#"{{"event":"error_occurred","id":"{id}","timestamp":{timestamp},"data":{{"severity":"error"}}}}"#
        )
        .as_bytes(),
    )
    .unwrap()
}

/// Dead letters of `ids` to `receiver` (down), written by a real send.
async fn letters(receiver: &Receiver, ids: &[&str], now: i64) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dead.jsonl");
    let sender = sender(&[&receiver.url], &file, now);
    for id in ids {
        let report = sender.send_delivery(&delivery(id, now)).await;
        assert!(report.deliveries[0].dead_lettered, "{report:?}");
    }
    (dir, file)
}

fn lines(file: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn write_lines(file: &Path, lines: &[serde_json::Value]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(file, text).unwrap();
}

#[tokio::test]
async fn tampered_body_url_header_or_id_is_refused_and_kept() {
    let now = Utc::now().timestamp();
    let receiver = start_receiver("/hook").await;
    let other = start_receiver("/other").await;
    let ids = ["evt_body", "evt_url", "evt_header", "evt_id", "evt_good"];
    let (_dir, file) = letters(&receiver, &ids, now).await;
    let mut records = lines(&file);
    assert!(records.iter().all(|r| r["v"] == 2 && r["mac"].is_string()));
    records[0]["body"] =
        r#"{"event":"error_occurred","id":"evt_body","timestamp":1,"data":{}}"#.into();
    records[1]["url"] = other.url.clone().into();
    records[2]["headers"]["Authorization"] = "token evil".into();
    records[3]["id"] = "evt_forged".into();
    write_lines(&file, &records);
    let tampered: Vec<serde_json::Value> = records[..4].to_vec();

    receiver.up.store(true, Ordering::SeqCst);
    other.up.store(true, Ordering::SeqCst);
    // the other receiver is configured too: only the MAC stops the moved record
    let sender = sender(&[&receiver.url, &other.url], &file, now);
    let options = RedeliverOptions::new().to_recorded_url(true);
    let report = sender.redeliver_with(&file, &options).await.unwrap();
    assert_eq!(report.refused("tampered"), 4, "{report:?}");
    assert_eq!(report.delivered(), 1);
    assert_eq!(report.still_failed, 4);
    // only the untouched record reached a receiver
    let bodies = receiver.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1);
    assert!(String::from_utf8_lossy(&bodies[0]).contains("evt_good"));
    assert!(other.bodies.lock().unwrap().is_empty());
    // the tampered records are kept as they were
    assert_eq!(lines(&file), tampered);
    // and refused again on the next run
    let again = sender.redeliver_with(&file, &options).await.unwrap();
    assert_eq!(again.refused("tampered"), 4);
}

#[tokio::test]
async fn version_1_records_need_accept_unauthenticated() {
    let now = Utc::now().timestamp();
    let receiver = start_receiver("/hook").await;
    let (_dir, file) = letters(&receiver, &["evt_v1"], now).await;
    let mut records = lines(&file);
    let object = records[0].as_object_mut().unwrap();
    object.remove("v");
    object.remove("mac");
    object.insert("version".into(), 1.into());
    write_lines(&file, &records);
    receiver.up.store(true, Ordering::SeqCst);
    let sender = sender(&[&receiver.url], &file, now);

    let report = sender.redeliver(&file).await.unwrap();
    assert_eq!(report.refused("unauthenticated"), 1, "{report:?}");
    assert!(receiver.bodies.lock().unwrap().is_empty());
    assert_eq!(lines(&file), records, "kept as it was");

    let options = RedeliverOptions::new().accept_unauthenticated(true);
    let report = sender.redeliver_with(&file, &options).await.unwrap();
    assert_eq!(report.delivered(), 1, "{report:?}");
    assert_eq!(receiver.bodies.lock().unwrap().len(), 1);
    assert!(!file.exists(), "delivered: nothing left");
}

#[tokio::test]
async fn unknown_url_needs_to_recorded_url() {
    let now = Utc::now().timestamp();
    let receiver = start_receiver("/hook").await;
    let (_dir, file) = letters(&receiver, &["evt_unknown"], now).await;
    let before = lines(&file);
    receiver.up.store(true, Ordering::SeqCst);
    // a sender that holds the secret but does not have the endpoint configured
    let sender = sender(&[], &file, now);
    let report = sender.redeliver(&file).await.unwrap();
    assert_eq!(report.refused("unknown_endpoint"), 1, "{report:?}");
    assert!(receiver.bodies.lock().unwrap().is_empty());
    assert_eq!(lines(&file), before);

    let options = RedeliverOptions::new().to_recorded_url(true);
    let report = sender.redeliver_with(&file, &options).await.unwrap();
    assert_eq!(report.delivered(), 1, "{report:?}");
    assert_eq!(receiver.bodies.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn stale_megabot_letters_are_refused_unless_restamped() {
    let then = Utc::now().timestamp() - 3_600;
    let now = then + 3_600;
    let receiver = start_receiver("/hook").await;
    let (_dir, file) = letters(&receiver, &["evt_stale"], then).await;
    let before = lines(&file);
    receiver.up.store(true, Ordering::SeqCst);
    let sender = sender(&[&receiver.url], &file, now);
    let report = sender.redeliver(&file).await.unwrap();
    match &report.results[0] {
        Redelivery::Refused { reason, .. } => {
            assert_eq!(reason.code(), "stale");
            assert!(reason.to_string().contains("--restamp"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert!(receiver.bodies.lock().unwrap().is_empty(), "nothing sent");
    assert_eq!(lines(&file), before, "kept as it was");

    let report = sender
        .redeliver_with(&file, &RedeliverOptions::new().restamp(true))
        .await
        .unwrap();
    match &report.results[0] {
        Redelivery::Attempted { report, restamped } => {
            assert!(report.is_delivered());
            assert_eq!(*restamped, Some(now));
        }
        other => panic!("{other:?}"),
    }
    let body: serde_json::Value =
        serde_json::from_slice(&receiver.bodies.lock().unwrap()[0]).unwrap();
    assert_eq!(body["id"], "evt_stale");
    assert_eq!(body["timestamp"], now);
}

#[tokio::test]
async fn stranded_redelivering_file_is_recovered_on_the_next_run() {
    let now = Utc::now().timestamp();
    let receiver = start_receiver("/hook").await;
    let (dir, file) = letters(&receiver, &["evt_a", "evt_b"], now).await;
    // a redelivery killed after it moved the file aside
    let stranded = dir
        .path()
        .join("dead.jsonl.redelivering-1700000000000000000");
    std::fs::rename(&file, &stranded).unwrap();
    // meanwhile a sender appended a new letter to a fresh file
    let sender = sender(&[&receiver.url], &file, now);
    sender.send_delivery(&delivery("evt_c", now)).await;
    receiver.up.store(true, Ordering::SeqCst);

    let report = sender.redeliver(&file).await.unwrap();
    assert_eq!(report.recovered, 2, "{report:?}");
    assert_eq!(report.delivered(), 3);
    let mut ids: Vec<String> = receiver
        .bodies
        .lock()
        .unwrap()
        .iter()
        .map(|b| serde_json::from_slice::<serde_json::Value>(b).unwrap()["id"].to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, [r#""evt_a""#, r#""evt_b""#, r#""evt_c""#]);
    assert!(!stranded.exists());
    // every record delivered: nothing is left, neither file nor working copy
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.is_empty(), "{names:?}");
}
