//! The shared webhook cases against `tower::WebhookLayer` served by hyper 1 alone (no
//! web framework), plus tower-only checks.
#![cfg(feature = "tower")]

#[macro_use]
mod common;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use http::{Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use megabot_webhook_adapters::tower::WebhookLayer;
use megabot_webhook_adapters::{Verifier, Webhook};
use tower::{Layer, ServiceBuilder, service_fn};

use common::{Recorder, handler_body};

/// Serves `service` with hyper's HTTP/1 server on 127.0.0.1, one task per connection.
async fn serve<S>(service: S) -> SocketAddr
where
    S: tower::Service<Request<hyper::body::Incoming>, Response = Response<String>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// The test handler as a tower service over `Request<Webhook>`.
async fn handle(
    recorder: Arc<Recorder>,
    request: Request<Webhook>,
) -> Result<Response<String>, Infallible> {
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(request.uri().path(), "/webhook");
    let status = recorder.handle(request.into_body()).await;
    Ok(Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header(header::CONTENT_TYPE, "application/json")
        .body(handler_body(status))
        .unwrap())
}

fn start(
    verifier: Verifier,
    recorder: Arc<Recorder>,
) -> Pin<Box<dyn Future<Output = SocketAddr> + Send>> {
    let service = ServiceBuilder::new()
        .layer(WebhookLayer::new(verifier))
        .service(service_fn(move |request| {
            handle(Arc::clone(&recorder), request)
        }));
    Box::pin(serve(service))
}

webhook_cases!(start);

/// An inner service that fails (`Err`) releases the claim: the retry runs.
#[tokio::test]
async fn failing_inner_service_releases_the_claim() {
    let recorder = Recorder::new();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let inner = {
        let recorder = Arc::clone(&recorder);
        let calls = Arc::clone(&calls);
        service_fn(move |request: Request<Webhook>| {
            let recorder = Arc::clone(&recorder);
            let first = calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
            async move {
                if first {
                    return Err(std::io::Error::other("inner service failed"));
                }
                Ok(handle(recorder, request).await.unwrap())
            }
        })
    };
    let addr = serve(WebhookLayer::new(common::verifier()).layer(inner)).await;
    let client = common::Client::new(addr);
    let body = common::envelope(
        "error_occurred",
        "evt_tower_err",
        common::now(),
        serde_json::json!({}),
    );
    let headers = common::megabot_headers(common::SECRET, &body);
    // hyper answers a service error by closing the connection.
    let failed = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .post(format!("http://{addr}/webhook"))
        .headers(
            headers
                .iter()
                .map(|(name, value)| (name.parse().unwrap(), value.parse().unwrap()))
                .collect(),
        )
        .body(body.clone())
        .send()
        .await;
    assert!(failed.is_err(), "{failed:?}");
    client.post(&headers, body.clone()).await.assert_handled();
    client.post(&headers, body).await.assert_duplicate();
    assert_eq!(recorder.calls(), 1);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
}

/// The layer also serves an axum route (`route_service`), axum's body being `From<String>`.
#[tokio::test]
async fn layer_serves_an_axum_route() {
    let recorder = Recorder::new();
    let inner = {
        let recorder = Arc::clone(&recorder);
        service_fn(move |request: Request<Webhook>| {
            let recorder = Arc::clone(&recorder);
            async move {
                let status = recorder.handle(request.into_body()).await;
                Ok::<_, Infallible>(
                    Response::builder()
                        .status(status)
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(axum::body::Body::from(handler_body(status)))
                        .unwrap(),
                )
            }
        })
    };
    let app = axum::Router::new().route_service(
        "/webhook",
        WebhookLayer::new(common::verifier()).layer(inner),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = common::Client::new(addr);
    let body = common::envelope(
        "error_occurred",
        "evt_tower_axum",
        common::now(),
        serde_json::json!({}),
    );
    let headers = common::megabot_headers(common::SECRET, &body);
    client.post(&headers, body.clone()).await.assert_handled();
    client.post(&headers, body.clone()).await.assert_duplicate();
    client
        .post(&common::megabot_headers("wrong", &body), body)
        .await
        .assert_error(401, "signature_mismatch");
    assert_eq!(recorder.calls(), 1);
}
