//! actix-web 4: the [`Webhook`] extractor, the [`Idempotency`] middleware that settles
//! its claim, and [`webhook`], which wires both onto a `POST` resource.
//!
//! The verifier comes from the app data: `web::Data<Verifier>` or a plain `Verifier`
//! (`App::app_data`). When neither is there the request is answered 500
//! `verifier_missing` with an `error` log line; nothing panics.
//!
//! # The simple path
//!
//! ```no_run
//! use actix_web::{App, HttpResponse, HttpServer, web};
//! use megabot_webhook_adapters::Webhook;
//! use megabot_webhook_adapters::actix_web::webhook;
//! use megabot_webhook_verify::{Secret, Verifier};
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
//! # The full setup
//!
//! [`webhook`] is `web::resource(path).wrap(Idempotency::new()).route(web::post().to(handler))`.
//! Wire it yourself when the resource needs more; the [`Webhook`] extractor refuses with
//! a 500 `idempotency_layer_missing` (and an `error` log line) whenever the middleware is
//! not around it, rather than run without a claim.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use ::actix_web::body::MessageBody;
use ::actix_web::dev::{
    HttpServiceFactory, Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready,
};
use ::actix_web::http::StatusCode;
use ::actix_web::http::header::{self, HeaderValue};
use ::actix_web::{
    FromRequest, Handler, HttpMessage, HttpRequest, HttpResponse, Responder, ResponseError, web,
};
use megabot_webhook_verify::Verifier;

use crate::headers::ActixHeaders;
use crate::idempotency::{ClaimSlot, Settlement, catch_panic};
use crate::receive::receive;
use crate::{Error, ErrorResponse, Webhook, trace};

/// A resource at `path` answering `POST` with `handler`, wrapped in the [`Idempotency`]
/// middleware: `App::new().app_data(web::Data::new(verifier)).service(webhook("/webhook", handler))`.
pub fn webhook<F, Args>(path: &str, handler: F) -> impl HttpServiceFactory + 'static
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path)
        .wrap(Idempotency::new())
        .route(web::post().to(handler))
}

/// Extracts a verified, claimed [`Webhook`]; the verifier comes from the app data.
///
/// Needs the [`Idempotency`] middleware around the resource (see [`webhook`]); without
/// it the request is refused with 500 `idempotency_layer_missing`. The error is the
/// crate's [`Error`], answered as SPEC 4.5 says.
impl FromRequest for Webhook {
    type Error = Error;
    type Future = Pin<Box<dyn Future<Output = Result<Webhook, Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let request = request.clone();
        let payload = payload.take();
        Box::pin(async move {
            let Some(verifier) = verifier(&request) else {
                let error = Error::MissingVerifier;
                trace::rejected(&error, None);
                return Err(error);
            };
            let slot = request.extensions().get::<ClaimSlot>().cloned();
            receive(
                &verifier,
                slot.as_ref(),
                &ActixHeaders(request.headers()),
                payload,
            )
            .await
        })
    }
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
        response.body(answer.body)
    }
}

/// Middleware that settles the claim of the [`Webhook`] extracted inside it by the
/// response: 2xx marks the delivery done, any other status, a panic (answered 500
/// `handler_panicked`) or a dropped request releases it so that the sender's retry runs.
///
/// Wrap the webhook resource with it, or use [`webhook`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Idempotency {
    _private: (),
}

impl Idempotency {
    /// The middleware.
    pub fn new() -> Idempotency {
        Idempotency { _private: () }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Idempotency
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = ::actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = ::actix_web::Error;
    type Transform = IdempotencyMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<IdempotencyMiddleware<S>, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(IdempotencyMiddleware {
            service: Rc::new(service),
        }))
    }
}

/// The service made by the [`Idempotency`] middleware.
#[derive(Debug)]
pub struct IdempotencyMiddleware<S> {
    service: Rc<S>,
}

impl<S, B> Service<ServiceRequest> for IdempotencyMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = ::actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = ::actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<ServiceResponse<B>, ::actix_web::Error>>>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let settlement = Settlement::new();
        request.extensions_mut().insert(settlement.slot());
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            match catch_panic(service.call(request)).await {
                Ok(Ok(response)) => {
                    settlement.finish(response.status().as_u16()).await;
                    Ok(response)
                }
                Ok(Err(error)) => {
                    let status = error.as_response_error().status_code();
                    settlement.finish(status.as_u16()).await;
                    Err(error)
                }
                Err(_panicked) => {
                    settlement.finish(500).await;
                    let error = Error::HandlerPanicked;
                    trace::rejected(&error, None);
                    Err(error.into())
                }
            }
        })
    }
}
