//! actix-web 4: [`webhook`], a `POST` resource that verifies and claims each delivery,
//! runs your handler with the [`Webhook`] and settles the claim by its answer.
//!
//! The verifier comes from the app data: `web::Data<Verifier>` or a plain `Verifier`
//! (`App::app_data`). When neither is there the request is answered 500
//! `verifier_missing` with an `error` log line; nothing panics. The body limits
//! (design 9.8) come from a [`Limits`] in the app data likewise, else the
//! process-wide `Limits::global()`.
//!
//! # Usage
//!
//! ```no_run
//! use actix_web::{App, HttpResponse, HttpServer, web};
//! use megabot_webhook_adapters::actix_web::webhook;
//! use megabot_webhook_adapters::{Secret, Verifier, Webhook};
//!
//! async fn handle(hook: Webhook) -> HttpResponse {
//!     println!("{} {}", hook.event().name(), hook.delivery_id());
//!     HttpResponse::NoContent().finish() // 2xx: done; anything else lets the retry run
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = Verifier::builder()
//!     .megabot_secret(Secret::new(std::env::var("MEGABOT_WEBHOOK_SECRET")?)?)
//!     .build()?;
//! HttpServer::new(move || {
//!     App::new()
//!         .app_data(web::Data::new(verifier.clone()))
//!         .service(webhook("/webhook", handle))
//! })
//! .bind(("127.0.0.1", 3000))?
//! .run()
//! .await?;
//! # Ok(())
//! # }
//! ```
//!
//! The handler may take up to eight extractors before the [`Webhook`] (which must come
//! last), such as `web::Data<AppState>`; they are given no body (the webhook reads it),
//! so use extractors of the request head and app data only.
//!
//! # No route without its claim
//!
//! [`Webhook`] is not an actix-web extractor, so a handler taking it cannot be routed the
//! plain way and run without the claim that makes deliveries exactly-once; it is a
//! compile error, not a runtime surprise:
//!
//! ```compile_fail,E0277
//! use actix_web::{App, HttpResponse, web};
//! use megabot_webhook_adapters::Webhook;
//!
//! async fn handle(hook: Webhook) -> HttpResponse {
//!     HttpResponse::Ok().finish()
//! }
//!
//! // error: `Webhook` is not an extractor; use `.service(webhook("/webhook", handle))`
//! let app = App::new().route("/webhook", web::post().to(handle));
//! ```

use std::future::Future;
use std::pin::Pin;

use ::actix_web::dev::{HttpServiceFactory, Payload};
use ::actix_web::http::StatusCode;
use ::actix_web::http::header::{self, HeaderValue};
use ::actix_web::{FromRequest, Handler, HttpRequest, HttpResponse, Responder, ResponseError, web};
use megabot_webhook_verify::Verifier;

use crate::headers::ActixHeaders;
use crate::receive::{handle_local, refused_early};
use crate::{Error, ErrorResponse, Limits, Webhook};

/// A resource at `path` answering `POST`: each delivery is verified and claimed, handed
/// to `handler`, and its claim settled by the handler's answer (2xx completes it,
/// anything else or a panic releases it):
/// `App::new().app_data(web::Data::new(verifier)).service(webhook("/webhook", handler))`.
///
/// `handler` is an async function (or closure) whose **last** argument is the
/// [`Webhook`], after up to eight extractors of the request head or app data; it answers
/// with any [`Responder`].
///
/// This is the only way to get a [`Webhook`] in actix-web: it is not an extractor on its
/// own, so a handler taking it cannot be routed with `web::post().to(handler)` and run
/// without a claim.
pub fn webhook<H, Args>(path: &str, handler: H) -> impl HttpServiceFactory + 'static
where
    H: WebhookHandler<Args>,
    Args: 'static,
{
    web::resource(path).route(web::post().to(WebhookRoute {
        handler,
        _args: std::marker::PhantomData,
    }))
}

mod private {
    /// Keeps [`WebhookHandler`](super::WebhookHandler) implemented by this crate only.
    #[derive(Debug)]
    pub struct Token;
}

/// An async function usable with [`webhook`]: `async fn(E1, ..., En, Webhook) -> impl
/// Responder` where `n <= 8` and each `Ei` is an actix-web extractor that needs no body.
///
/// Implemented by this crate for such functions and closures; not implementable outside
/// it. `Args` is the tuple of the extractors' types and only guides inference.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a webhook handler for `webhook`",
    note = "a webhook handler is an async fn whose last argument is `Webhook`, after at most 8 actix-web extractors that need no body"
)]
pub trait WebhookHandler<Args>: Clone + 'static {
    #[doc(hidden)]
    fn call(
        &self,
        request: HttpRequest,
        payload: Payload,
        _: private::Token,
    ) -> Pin<Box<dyn Future<Output = HttpResponse>>>;
}

macro_rules! impl_webhook_handler {
    ($($ty:ident),*) => {
        #[allow(non_snake_case)]
        impl<F, Fut, Res, $($ty,)*> WebhookHandler<($($ty,)*)> for F
        where
            F: Fn($($ty,)* Webhook) -> Fut + Clone + 'static,
            Fut: Future<Output = Res> + 'static,
            Res: Responder + 'static,
            $($ty: FromRequest + 'static,)*
        {
            fn call(
                &self,
                request: HttpRequest,
                payload: Payload,
                _: private::Token,
            ) -> Pin<Box<dyn Future<Output = HttpResponse>>> {
                let handler = self.clone();
                Box::pin(async move {
                    $(
                        let $ty = match $ty::from_request(&request, &mut Payload::None).await {
                            Ok(value) => value,
                            Err(error) => return error.into().error_response(),
                        };
                    )*
                    let Some(verifier) = verifier(&request) else {
                        let error = Error::MissingVerifier;
                        refused_early(&error);
                        return error.error_response();
                    };
                    let respond_to = request.clone();
                    let limits = limits(&request);
                    handle_local(
                        &verifier,
                        &limits,
                        ActixHeaders(request.headers()),
                        payload,
                        move |hook| async move {
                            handler($($ty,)* hook)
                                .await
                                .respond_to(&respond_to)
                                .map_into_boxed_body()
                        },
                        |response: &HttpResponse| response.status().as_u16(),
                    )
                    .await
                    .unwrap_or_else(|error| error.error_response())
                })
            }
        }
    };
}

impl_webhook_handler!();
impl_webhook_handler!(T1);
impl_webhook_handler!(T1, T2);
impl_webhook_handler!(T1, T2, T3);
impl_webhook_handler!(T1, T2, T3, T4);
impl_webhook_handler!(T1, T2, T3, T4, T5);
impl_webhook_handler!(T1, T2, T3, T4, T5, T6);
impl_webhook_handler!(T1, T2, T3, T4, T5, T6, T7);
impl_webhook_handler!(T1, T2, T3, T4, T5, T6, T7, T8);

/// The actix-web handler behind [`webhook`]: takes the request and its body.
struct WebhookRoute<H, Args> {
    handler: H,
    _args: std::marker::PhantomData<fn() -> Args>,
}

impl<H: Clone, Args> Clone for WebhookRoute<H, Args> {
    fn clone(&self) -> Self {
        WebhookRoute {
            handler: self.handler.clone(),
            _args: std::marker::PhantomData,
        }
    }
}

impl<H, Args> Handler<(HttpRequest, web::Payload)> for WebhookRoute<H, Args>
where
    H: WebhookHandler<Args>,
    Args: 'static,
{
    type Output = HttpResponse;
    type Future = Pin<Box<dyn Future<Output = HttpResponse>>>;

    fn call(&self, (request, payload): (HttpRequest, web::Payload)) -> Self::Future {
        self.handler
            .call(request, payload.into_inner(), private::Token)
    }
}

/// The route's [`Limits`]: `web::Data<Limits>` or a plain `Limits` in the app data,
/// else the process-wide [`Limits::global`].
fn limits(request: &HttpRequest) -> Limits {
    request
        .app_data::<web::Data<Limits>>()
        .map(|data| data.get_ref().clone())
        .or_else(|| request.app_data::<Limits>().cloned())
        .unwrap_or_else(Limits::global)
}

fn verifier(request: &HttpRequest) -> Option<Verifier> {
    request
        .app_data::<web::Data<Verifier>>()
        .map(|data| data.get_ref().clone())
        .or_else(|| request.app_data::<Verifier>().cloned())
}

impl ResponseError for Error {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let answer = ErrorResponse::from(self);
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, ErrorResponse::CONTENT_TYPE));
        if let Some(seconds) = answer.retry_after {
            response.insert_header((header::RETRY_AFTER, HeaderValue::from(seconds)));
        }
        if answer.close {
            response.force_close();
        }
        response.body(answer.body)
    }
}
