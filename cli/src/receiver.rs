//! Starting a verified receiver on any of the three frameworks.

mod limits;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

pub(crate) use limits::{
    ActixConnectionCap, HEADER_READ_TIMEOUT, LimitedListener, MAX_CONNECTIONS,
};

use clap::ValueEnum;
use megabot_webhook_adapters::Webhook;
use megabot_webhook_verify::Verifier;

use crate::error::CliError;

/// The web framework a receiver runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Framework {
    /// axum 0.8
    Axum,
    /// actix-web 4
    #[value(name = "actix-web")]
    ActixWeb,
    /// warp 0.4
    Warp,
}

impl Framework {
    /// All three, in a fixed order.
    pub(crate) const ALL: [Framework; 3] = [Framework::Axum, Framework::ActixWeb, Framework::Warp];

    /// The name as on the command line.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Framework::Axum => "axum",
            Framework::ActixWeb => "actix-web",
            Framework::Warp => "warp",
        }
    }
}

/// What the receiver does with a verified, claimed delivery: the HTTP status it answers.
/// 2xx marks the delivery done; anything else releases it for the sender's retry.
pub(crate) type Handler = Arc<dyn Fn(&Webhook) -> u16 + Send + Sync>;

/// A handler's whole answer: status (2xx marks the delivery done, anything else
/// releases it), content type and body.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) content_type: Option<String>,
    pub(crate) body: Vec<u8>,
}

/// An asynchronous handler (`listen --forward-to`): it runs to completion in its own
/// task once the delivery is claimed, even when the sender's connection drops.
pub(crate) type AsyncHandler =
    Arc<dyn Fn(Webhook) -> Pin<Box<dyn Future<Output = Answer> + Send>> + Send + Sync>;

/// A receiver listening on loopback (or wherever it was bound).
#[derive(Debug)]
pub(crate) struct Running {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Waits until the server stops (it normally runs until the process ends).
    pub(crate) async fn wait(self) -> Result<(), CliError> {
        self.task
            .await
            .map_err(|e| CliError::Usage(format!("server stopped: {e}")))
    }
}

fn answer(status: u16) -> (u16, &'static str) {
    let body = if (200..300).contains(&status) {
        r#"{"status":"ok"}"#
    } else {
        r#"{"status":"handler_failed"}"#
    };
    (status, body)
}

/// Checks a route path given on the command line: a literal path that starts with `/`
/// and holds only letters, digits and `-._~/` (no route patterns such as `:id`, `{id}`
/// or `*rest`, which the frameworks would read as parameters, or panic on).
pub(crate) fn validate_path(path: &str) -> Result<(), CliError> {
    let problem = if path.is_empty() {
        Some("it is empty")
    } else if !path.starts_with('/') {
        Some("it must start with `/`")
    } else if path.contains("//") {
        Some("it has an empty segment (`//`)")
    } else if !path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~/".contains(&b))
    {
        Some(
            "only letters, digits and `-._~/` are allowed (no `:param`, `{param}` or `*rest` patterns)",
        )
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(problem) => {
            let shown: String = path
                .chars()
                .take(64)
                .flat_map(char::escape_default)
                .collect();
            Err(CliError::Usage(format!(
                "invalid --path \"{shown}\": {problem}; for example --path /webhook"
            )))
        }
    }
}

/// Binds `addr` and serves `handler` at `path` (POST) on `framework`.
pub(crate) async fn start(
    framework: Framework,
    addr: SocketAddr,
    path: &str,
    verifier: Verifier,
    handler: Handler,
) -> Result<Running, CliError> {
    let handler: AsyncHandler = Arc::new(move |hook: Webhook| {
        let (status, body) = answer(handler(&hook));
        let answer = Answer {
            status,
            content_type: Some("application/json".to_owned()),
            body: body.as_bytes().to_vec(),
        };
        Box::pin(std::future::ready(answer))
    });
    start_async(framework, addr, path, verifier, handler).await
}

/// [`start`] with an [`AsyncHandler`].
pub(crate) async fn start_async(
    framework: Framework,
    addr: SocketAddr,
    path: &str,
    verifier: Verifier,
    handler: AsyncHandler,
) -> Result<Running, CliError> {
    validate_path(path)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| CliError::Usage(format!("cannot listen on {addr}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::Usage(format!("cannot listen on {addr}: {e}")))?;
    let path = path.to_owned();
    let task = match framework {
        Framework::Axum => tokio::spawn(serve_axum(listener, path, verifier, handler)),
        Framework::ActixWeb => {
            let listener = listener
                .into_std()
                .map_err(|e| CliError::Usage(format!("cannot listen on {addr}: {e}")))?;
            let cap = ActixConnectionCap::new(MAX_CONNECTIONS);
            let server = actix_server(listener, path, verifier, handler, cap)?;
            tokio::spawn(async move {
                if let Err(error) = server.await {
                    eprintln!("error: actix-web server stopped: {error}");
                }
            })
        }
        Framework::Warp => tokio::spawn(serve_warp(listener, path, verifier, handler)),
    };
    Ok(Running { addr, task })
}

async fn serve_axum(
    listener: tokio::net::TcpListener,
    path: String,
    verifier: Verifier,
    handler: AsyncHandler,
) {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let route = megabot_webhook_adapters::axum::webhook(move |hook: Webhook| {
        let handler = Arc::clone(&handler);
        async move {
            let answer = handler(hook).await;
            let status =
                StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (status, answer.body).into_response();
            if let Some(value) = answer
                .content_type
                .and_then(|value| header::HeaderValue::from_str(&value).ok())
            {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            response
        }
    });
    let app = axum::Router::new().route(&path, route).with_state(verifier);
    let listener = LimitedListener::new(listener, MAX_CONNECTIONS, HEADER_READ_TIMEOUT);
    if let Err(error) = axum::serve(listener, app).await {
        eprintln!("error: axum server stopped: {error}");
    }
}

fn actix_server(
    listener: std::net::TcpListener,
    path: String,
    verifier: Verifier,
    handler: AsyncHandler,
    cap: ActixConnectionCap,
) -> Result<actix_web::dev::Server, CliError> {
    use actix_web::{App, HttpResponse, HttpServer, http::StatusCode, web};
    let admission = cap.clone();
    let server = HttpServer::new(move || {
        let handler = Arc::clone(&handler);
        App::new()
            .app_data(web::Data::new(verifier.clone()))
            .service(megabot_webhook_adapters::actix_web::webhook(
                &path,
                move |hook: Webhook| {
                    let handler = Arc::clone(&handler);
                    async move {
                        let answer = handler(hook).await;
                        let status = StatusCode::from_u16(answer.status)
                            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                        let mut response = HttpResponse::build(status);
                        if let Some(content_type) = answer.content_type {
                            response.content_type(content_type);
                        }
                        response.body(answer.body)
                    }
                },
            ))
    })
    .workers(1)
    // design 9.8: the request head within 10 s; at most 4 096 connections (one worker),
    // those beyond closed at once.
    .client_request_timeout(HEADER_READ_TIMEOUT)
    .on_connect(move |io, data| admission.admit(io, data))
    .max_connections(cap.actix_max_connections())
    .disable_signals()
    .listen(listener)
    .map_err(|e| CliError::Usage(format!("actix-web cannot listen: {e}")))?;
    Ok(server.run())
}

async fn serve_warp(
    listener: tokio::net::TcpListener,
    path: String,
    verifier: Verifier,
    handler: AsyncHandler,
) {
    use warp::Filter;
    let wanted: Arc<str> = Arc::from(path);
    let route = warp::path::full()
        .and_then(move |full: warp::path::FullPath| {
            let wanted = Arc::clone(&wanted);
            async move {
                if full.as_str() == &*wanted {
                    Ok(())
                } else {
                    Err(warp::reject::not_found())
                }
            }
        })
        .untuple_one()
        .and(megabot_webhook_adapters::warp::webhook(
            verifier,
            move |hook: Webhook| {
                let handler = Arc::clone(&handler);
                async move {
                    let answer = handler(hook).await;
                    let status = warp::http::StatusCode::from_u16(answer.status)
                        .unwrap_or(warp::http::StatusCode::INTERNAL_SERVER_ERROR);
                    let mut response = warp::reply::Response::new(answer.body.into());
                    *response.status_mut() = status;
                    if let Some(value) = answer
                        .content_type
                        .and_then(|value| warp::http::HeaderValue::from_str(&value).ok())
                    {
                        response
                            .headers_mut()
                            .insert(warp::http::header::CONTENT_TYPE, value);
                    }
                    response
                }
            },
        ));
    // Served by hyper over the limited listener (design 9.8), like axum.
    let service = warp::service(route);
    let mut listener = LimitedListener::new(listener, MAX_CONNECTIONS, HEADER_READ_TIMEOUT);
    loop {
        let (stream, _) = listener.next().await;
        let service = hyper_util::service::TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            // A connection's own failures (reset, head timeout) end only that connection.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn route_paths_are_validated() {
        for good in ["/webhook", "/", "/hooks/megabot-v1", "/a.b_c~d"] {
            assert!(validate_path(good).is_ok(), "{good}");
        }
        for bad in [
            "", "webhook", "/*x", "/a/:b", "/a/{b}", "//", "/a b", "/a?b",
        ] {
            let error = validate_path(bad).unwrap_err();
            assert!(matches!(error, CliError::Usage(_)), "{bad}");
            assert!(error.to_string().starts_with("invalid --path"), "{error}");
        }
    }
}
