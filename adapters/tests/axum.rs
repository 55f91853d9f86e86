//! The shared webhook cases against axum 0.8, plus axum-only wiring checks.
#![cfg(feature = "axum")]

#[macro_use]
mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use megabot_webhook_adapters::axum::webhook;
use megabot_webhook_adapters::{Verifier, Webhook};

use common::{Recorder, handler_body};

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn handler(
    recorder: Arc<Recorder>,
) -> impl Fn(Webhook) -> Pin<Box<dyn Future<Output = axum::response::Response> + Send>> + Clone {
    move |hook: Webhook| {
        let recorder = Arc::clone(&recorder);
        Box::pin(async move {
            let status = recorder.handle(hook).await;
            let status = StatusCode::from_u16(status).unwrap();
            (
                status,
                [(header::CONTENT_TYPE, "application/json")],
                handler_body(status.as_u16()),
            )
                .into_response()
        })
    }
}

fn start(
    verifier: Verifier,
    recorder: Arc<Recorder>,
) -> Pin<Box<dyn Future<Output = SocketAddr> + Send>> {
    let app = Router::new()
        .route("/webhook", webhook(handler(recorder)))
        .with_state(verifier);
    Box::pin(serve(app))
}

webhook_cases!(start);

/// Head extractors before the webhook (`State` here) work, and a layer on the route
/// sees the answer the claim was settled by.
#[tokio::test]
async fn state_extractor_and_route_layers_work() {
    #[derive(Clone)]
    struct AppState {
        verifier: Verifier,
        recorder: Arc<Recorder>,
    }
    impl axum::extract::FromRef<AppState> for Verifier {
        fn from_ref(state: &AppState) -> Verifier {
            state.verifier.clone()
        }
    }
    async fn handle(State(state): State<AppState>, hook: Webhook) -> (StatusCode, String) {
        let status = state.recorder.handle(hook).await;
        (StatusCode::from_u16(status).unwrap(), handler_body(status))
    }
    let recorder = Recorder::new();
    let state = AppState {
        verifier: common::verifier(),
        recorder: Arc::clone(&recorder),
    };
    let route = webhook(handle).layer(axum::middleware::map_response(
        |mut response: axum::response::Response| async move {
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/json"),
            );
            response
        },
    ));
    let app = Router::new().route("/webhook", route).with_state(state);
    let client = common::Client::new(serve(app).await);
    let body = common::envelope(
        "error_occurred",
        "evt_state",
        common::now(),
        serde_json::json!({}),
    );
    let headers = common::megabot_headers(common::SECRET, &body);
    client.post(&headers, body.clone()).await.assert_handled();
    client.post(&headers, body).await.assert_duplicate();
    assert_eq!(recorder.calls(), 1);
}

/// Other methods than `POST` are not handled (405), and nothing is claimed.
#[tokio::test]
async fn other_methods_are_not_allowed() {
    let recorder = Recorder::new();
    let app = Router::new()
        .route("/webhook", webhook(handler(Arc::clone(&recorder))))
        .with_state(common::verifier());
    let addr = serve(app).await;
    let response = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://{addr}/webhook"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(recorder.calls(), 0);
}
