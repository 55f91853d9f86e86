//! The shared webhook cases against actix-web 4, plus actix-only wiring checks.
#![cfg(feature = "actix-web")]

#[macro_use]
mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, HttpServer, web};
use megabot_webhook_adapters::actix_web::webhook;
use megabot_webhook_adapters::{Verifier, Webhook};

use common::{Recorder, handler_body};

async fn handle(recorder: web::Data<Recorder>, hook: Webhook) -> HttpResponse {
    let status = recorder.handle(hook).await;
    HttpResponse::build(StatusCode::from_u16(status).unwrap())
        .content_type("application/json")
        .body(handler_body(status))
}

/// Runs an actix-web server on its own thread (actix runs its own runtime) and returns
/// its address.
fn serve<F, T, B>(app: F) -> Pin<Box<dyn Future<Output = SocketAddr> + Send>>
where
    F: Fn() -> App<T> + Send + Clone + 'static,
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    Box::pin(async move {
        let (sender, receiver) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(app)
                    .workers(2)
                    .disable_signals()
                    .shutdown_timeout(0)
                    .bind(("127.0.0.1", 0))
                    .unwrap();
                let addr = server.addrs()[0];
                let running = server.run();
                sender.send(addr).unwrap();
                running.await.unwrap();
            });
        });
        receiver.await.unwrap()
    })
}

fn start(
    verifier: Verifier,
    recorder: Arc<Recorder>,
) -> Pin<Box<dyn Future<Output = SocketAddr> + Send>> {
    let recorder = web::Data::from(recorder);
    serve(move || {
        App::new()
            .app_data(web::Data::new(verifier.clone()))
            .app_data(recorder.clone())
            .service(webhook("/webhook", handle))
    })
}

webhook_cases!(start);

/// No verifier in the app data: 500 `verifier_missing`, no panic.
#[tokio::test]
async fn missing_verifier_is_a_500() {
    let recorder = Recorder::new();
    let data = web::Data::from(Arc::clone(&recorder));
    let addr = serve(move || {
        App::new()
            .app_data(data.clone())
            .service(webhook("/webhook", handle))
    })
    .await;
    let client = common::Client::new(addr);
    let body = common::envelope(
        "error_occurred",
        "evt_no_verifier",
        common::now(),
        serde_json::json!({}),
    );
    client
        .post(&common::megabot_headers(common::SECRET, &body), body)
        .await
        .assert_error(500, "verifier_missing");
    assert_eq!(recorder.calls(), 0);
}

/// A plain `Verifier` in the app data works as well as `web::Data<Verifier>`.
#[tokio::test]
async fn plain_verifier_app_data_works() {
    let recorder = Recorder::new();
    let data = web::Data::from(Arc::clone(&recorder));
    let addr = serve(move || {
        App::new()
            .app_data(common::verifier())
            .app_data(data.clone())
            .service(webhook("/webhook", handle))
    })
    .await;
    let client = common::Client::new(addr);
    let body = common::envelope(
        "error_occurred",
        "evt_plain",
        common::now(),
        serde_json::json!({}),
    );
    client
        .post(&common::megabot_headers(common::SECRET, &body), body)
        .await
        .assert_handled();
    assert_eq!(recorder.calls(), 1);
}

/// Several extractors before the webhook.
async fn handle_with_request(
    request: actix_web::HttpRequest,
    recorder: web::Data<Recorder>,
    hook: Webhook,
) -> HttpResponse {
    assert_eq!(request.method(), actix_web::http::Method::POST);
    handle(recorder, hook).await
}

/// Several extractors before the webhook work.
#[tokio::test]
async fn several_extractors_work() {
    let recorder = Recorder::new();
    let data = web::Data::from(Arc::clone(&recorder));
    let addr = serve(move || {
        App::new()
            .app_data(web::Data::new(common::verifier()))
            .app_data(data.clone())
            .service(webhook("/webhook", handle_with_request))
    })
    .await;
    let client = common::Client::new(addr);
    let body = common::envelope(
        "error_occurred",
        "evt_extractors",
        common::now(),
        serde_json::json!({}),
    );
    let headers = common::megabot_headers(common::SECRET, &body);
    client.post(&headers, body.clone()).await.assert_handled();
    client.post(&headers, body).await.assert_duplicate();
    assert_eq!(recorder.calls(), 1);
}
