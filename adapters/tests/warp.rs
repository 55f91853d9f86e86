//! The shared webhook cases against warp 0.4, plus warp-only composition checks.
#![cfg(feature = "warp")]

#[macro_use]
mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use megabot_webhook_adapters::{Verifier, Webhook};
use warp::Filter;
use warp::filters::BoxedFilter;
use warp::http::StatusCode;

use common::{Recorder, handler_body};

async fn serve<R: warp::Reply + Send + 'static>(routes: BoxedFilter<(R,)>) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(warp::serve(routes).incoming(listener).run());
    addr
}

fn routes(
    verifier: Verifier,
    recorder: Arc<Recorder>,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection>
+ Clone
+ Send
+ Sync
+ 'static {
    let webhook = megabot_webhook_adapters::warp::webhook(verifier, move |hook: Webhook| {
        let recorder = Arc::clone(&recorder);
        async move {
            let status = recorder.handle(hook).await;
            warp::reply::with_status(
                warp::reply::with_header(handler_body(status), "content-type", "application/json"),
                StatusCode::from_u16(status).unwrap(),
            )
        }
    });
    warp::path("webhook").and(warp::path::end()).and(webhook)
}

fn start(
    verifier: Verifier,
    recorder: Arc<Recorder>,
) -> Pin<Box<dyn Future<Output = SocketAddr> + Send>> {
    Box::pin(serve(routes(verifier, recorder).boxed()))
}

webhook_cases!(start);

/// Combined with other routes (which reject the request) and a not-found fallback, a bad
/// signature still gets its 401, not a 404/405/500.
#[tokio::test]
async fn refusals_survive_composition() {
    let recorder = Recorder::new();
    let other = warp::path("health").and(warp::get()).map(|| "ok");
    let app = other
        .or(routes(common::verifier(), Arc::clone(&recorder)))
        .recover(megabot_webhook_adapters::warp::recover);
    let client = common::Client::new(serve(app.boxed()).await);
    let body = common::envelope(
        "error_occurred",
        "evt_compose",
        common::now(),
        serde_json::json!({}),
    );
    client
        .post(&common::megabot_headers("wrong", &body), body.clone())
        .await
        .assert_error(401, "signature_mismatch");
    client
        .post(&common::megabot_headers(common::SECRET, &body), body)
        .await
        .assert_handled();
    assert_eq!(recorder.calls(), 1);
}

/// `recover` answers a custom rejection carrying the crate's error.
#[tokio::test]
async fn recover_answers_the_crates_errors() {
    let route = warp::path("webhook").and_then(|| async {
        Err::<String, _>(warp::reject::custom(
            megabot_webhook_adapters::Error::MissingVerifier,
        ))
    });
    let app = route.recover(megabot_webhook_adapters::warp::recover);
    let client = common::Client::new(serve(app.boxed()).await);
    client
        .post(&[], Vec::new())
        .await
        .assert_error(500, "verifier_missing");
}
