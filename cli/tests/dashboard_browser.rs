//! The dashboard in a real browser: the built `megabot-webhook serve` on a
//! temporary SQLite file, a loopback receiver that fails the first events
//! (so that there are dead deliveries) and then succeeds, and headless
//! Chromium driven through chromedriver by `dashboard_browser.py`
//! (Selenium): the redirect to the login form, a refused and an accepted
//! login, the endpoint row, the SVG chart, the failures, a redelivery that
//! ends delivered, a phone-sized layout, logout. Screenshots are kept under
//! `target/test-artifacts/`.
//!
//! Chromium, chromedriver, Python 3 and Selenium are installed by
//! `scripts/test.sh`; without them this test fails (it never skips).

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Serve;
use serde_json::{Value, json};

const TOKEN: &str = "dashboard-browser-admin-token-0123456789";
const SECRET: &str = "dashboard_browser_secret";
const FAILED: usize = 3;
const DELIVERED: usize = 2;

/// A loopback receiver: `500` while `fail` is set, `200` otherwise; the
/// event ids it answered `200`.
struct Receiver {
    url: String,
    fail: Arc<AtomicBool>,
    delivered: Arc<Mutex<Vec<String>>>,
}

async fn start_receiver() -> Receiver {
    use axum::http::{HeaderMap, StatusCode};
    let fail = Arc::new(AtomicBool::new(true));
    let delivered = Arc::new(Mutex::new(Vec::new()));
    let (fail_in, delivered_in) = (fail.clone(), delivered.clone());
    let app = axum::Router::new().fallback(move |headers: HeaderMap| {
        let (fail, delivered) = (fail_in.clone(), delivered_in.clone());
        async move {
            if fail.load(Ordering::SeqCst) {
                return StatusCode::INTERNAL_SERVER_ERROR;
            }
            let id = headers
                .get("x-megabot-delivery")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            delivered.lock().unwrap().push(id);
            StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Receiver {
        url: format!("http://{addr}/hook"),
        fail,
        delivered,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn api(method: reqwest::Method, url: String, body: Option<Value>) -> (u16, Value) {
    let mut request = client().request(method, url).bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn publish(base: &str, id: &str) {
    let (status, answer) = api(
        reqwest::Method::POST,
        format!("{base}/api/events"),
        Some(json!({"event": "error_occurred", "id": id,
            "timestamp": chrono::Utc::now().timestamp(),
            "data": {"severity": "error", "message": "dashboard browser test"}})),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
}

/// The ids of the deliveries in `status`.
async fn deliveries(base: &str, status: &str) -> Vec<String> {
    let (code, answer) = api(
        reqwest::Method::GET,
        format!("{base}/api/deliveries?status={status}"),
        None,
    )
    .await;
    assert_eq!(code, 200, "{answer}");
    answer["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Waits (up to 30 s) until `status` has `count` deliveries; their ids.
async fn wait_for(base: &str, status: &str, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ids = deliveries(base, status).await;
        if ids.len() == count {
            return ids;
        }
        assert!(
            Instant::now() < deadline,
            "{} {status} deliveries, expected {count}",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `path`, which must exist: the browser test never skips.
fn required(variable: &str, default: &str) -> PathBuf {
    let path = PathBuf::from(std::env::var(variable).unwrap_or_else(|_| default.to_owned()));
    assert!(
        path.exists(),
        "{} is missing: install the Debian packages chromium and chromium-driver \
         (scripts/test.sh does), or set {variable}",
        path.display()
    );
    path
}

fn artifacts() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the Selenium script (at most 3 minutes); its JSON report.
fn drive_browser(args: &[String]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dashboard_browser.py");
    let mut child = Command::new("python3")
        .arg(&script)
        .args(args)
        .env("DASHBOARD_TOKEN", TOKEN)
        .env("SE_OFFLINE", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (scripts/test.sh installs it)");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(180);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the browser script did not finish in 3 minutes: {}",
                err.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (out.join().unwrap(), err.join().unwrap());
    assert!(!stderr.contains(TOKEN), "the token was printed");
    assert!(
        status.success(),
        "the browser script failed ({status}); is selenium installed (requirements-test.txt)?\n{stderr}\n{stdout}"
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.len() > 24 && bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is a PNG",
        path.display()
    );
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_headless_chromium() {
    let chromium = required("MEGABOT_CHROMIUM", "/usr/bin/chromium");
    let chromedriver = required("MEGABOT_CHROMEDRIVER", "/usr/bin/chromedriver");
    let dir = tempfile::tempdir().unwrap();
    let receiver = start_receiver().await;
    let serve = Serve::start(&dir.path().join("dashboard.sqlite3"), TOKEN, &[]);
    let base = serve.base.clone();

    let (status, answer) = api(
        reqwest::Method::POST,
        format!("{base}/api/webhooks"),
        Some(
            json!({"url": receiver.url, "events": ["*"], "secret": SECRET,
            "retry_policy": {"max_attempts": 1}}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let endpoint = answer["endpoint"]["id"].as_str().unwrap().to_owned();

    // Dead deliveries first (one attempt each, answered 500), then delivered ones.
    for n in 0..FAILED {
        publish(&base, &format!("evt_dashboard_fail_{n}")).await;
    }
    let dead = wait_for(&base, "dead", FAILED).await;
    receiver.fail.store(false, Ordering::SeqCst);
    for n in 0..DELIVERED {
        publish(&base, &format!("evt_dashboard_ok_{n}")).await;
    }
    wait_for(&base, "delivered", DELIVERED).await;
    let redeliver = dead[0].clone();

    let artifacts = artifacts();
    let screenshot = artifacts.join("dashboard.png");
    let phone = artifacts.join("dashboard-phone.png");
    for path in [&screenshot, &phone] {
        let _ = std::fs::remove_file(path);
    }
    let args = vec![
        format!("--base={base}"),
        format!("--chromium={}", chromium.display()),
        format!("--chromedriver={}", chromedriver.display()),
        format!("--endpoint={endpoint}"),
        format!("--redeliver={redeliver}"),
        format!("--dead={FAILED}"),
        format!("--delivered={DELIVERED}"),
        format!("--screenshot={}", screenshot.display()),
        format!("--phone-screenshot={}", phone.display()),
    ];
    let report = tokio::task::spawn_blocking(move || drive_browser(&args))
        .await
        .unwrap();

    assert_eq!(report["redirected_to"], "/dashboard/login", "{report}");
    assert!(
        report["wrong_token_message"]
            .as_str()
            .unwrap()
            .contains("not the admin token"),
        "{report}"
    );
    assert_eq!(report["cookie"]["httpOnly"], true, "{report}");
    assert_eq!(report["cookie"]["sameSite"], "Strict", "{report}");
    assert_eq!(
        report["cookie"]["secure"], false,
        "plain HTTP on loopback: {report}"
    );
    assert_eq!(report["cookie"]["path"], "/", "{report}");
    assert!(
        !report["document_cookie"]
            .as_str()
            .unwrap()
            .contains("megabot_dashboard"),
        "HttpOnly: scripts cannot read it: {report}"
    );
    assert_eq!(report["endpoint_row"]["delivered"], DELIVERED, "{report}");
    assert_eq!(report["endpoint_row"]["dead"], FAILED, "{report}");
    assert_eq!(report["endpoint_row"]["disabled"], "false", "{report}");
    assert!(
        report["endpoint_row"]["text"]
            .as_str()
            .unwrap()
            .contains("40.0 %"),
        "2 of 5 delivered: {report}"
    );
    assert_eq!(report["chart"]["minutes"], 60, "{report}");
    assert!(
        report["chart"]["dead_bars"].as_u64().unwrap() >= 1,
        "{report}"
    );
    assert!(
        report["chart"]["delivered_bars"].as_u64().unwrap() >= 1,
        "{report}"
    );
    assert!(
        report["chart"]["width"].as_f64().unwrap() > 300.0,
        "{report}"
    );
    let mut before: Vec<String> = report["failures_before"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    before.sort();
    let mut expected = dead.clone();
    expected.sort();
    assert_eq!(before, expected, "{report}");
    assert_ne!(
        report["stylesheet_applied"], "rgb(0, 0, 0)",
        "the stylesheet colours the chart: {report}"
    );
    assert_eq!(
        report["phone"]["inner"], 390,
        "the viewport meta holds: {report}"
    );
    assert!(
        report["phone"]["scroll"].as_u64().unwrap() <= 390,
        "no sideways scrolling on a phone: {report}"
    );
    assert!(
        report["notice"].as_str().unwrap().contains(&redeliver),
        "{report}"
    );
    assert_eq!(
        report["endpoint_row_after"]["delivered"],
        DELIVERED + 1,
        "{report}"
    );
    assert_eq!(report["endpoint_row_after"]["dead"], FAILED - 1, "{report}");
    let after: Vec<&str> = report["failures_after"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(after.len(), FAILED - 1, "{report}");
    assert!(!after.contains(&redeliver.as_str()), "{report}");
    assert_eq!(report["after_logout"], "/dashboard/login", "{report}");

    // The redelivery took effect: delivered, and the receiver answered it.
    let (status, answer) = api(
        reqwest::Method::GET,
        format!("{base}/api/deliveries/{redeliver}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(answer["delivery"]["status"], "delivered", "{answer}");
    let event_id = answer["delivery"]["event_id"].as_str().unwrap().to_owned();
    assert!(receiver.delivered.lock().unwrap().contains(&event_id));

    let (width, height) = png_size(&screenshot);
    assert!(width >= 1000 && height >= 600, "{width}x{height}");
    let (width, _) = png_size(&phone);
    assert_eq!(width, 780, "390 CSS pixels at 2 device pixels each");
    drop(serve);
}
