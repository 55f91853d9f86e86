//! Name resolution: the injectable [`Resolver`] and the guarded resolver the
//! HTTP client connects through.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use async_trait::async_trait;

use super::DestinationPolicy;

/// Resolves a host name to the addresses the sender may connect to (the
/// port of each is replaced by the URL's).
///
/// The default is [`SystemResolver`]; tests inject a [`StaticResolver`] (or
/// their own) so that no name reaches real DNS.
#[async_trait]
pub trait Resolver: Send + Sync + fmt::Debug {
    /// The addresses of `name`.
    ///
    /// # Errors
    ///
    /// When the name cannot be resolved.
    async fn resolve(&self, name: &str) -> io::Result<Vec<SocketAddr>>;
}

/// The operating system's resolver (Tokio's `lookup_host`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

#[async_trait]
impl Resolver for SystemResolver {
    async fn resolve(&self, name: &str) -> io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host((name, 0)).await?.collect())
    }
}

/// A fixed table of names and addresses (for tests); any other name fails to
/// resolve. Names are matched without case and without a trailing dot.
///
/// ```
/// use megabot_webhook_sender::StaticResolver;
///
/// let resolver = StaticResolver::new().with("hooks.example.com", ["127.0.0.1".parse().unwrap()]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    names: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    /// A resolver that knows no name.
    pub fn new() -> StaticResolver {
        StaticResolver::default()
    }

    /// `name` resolves to `addresses` (in order).
    #[must_use]
    pub fn with(
        mut self,
        name: &str,
        addresses: impl IntoIterator<Item = IpAddr>,
    ) -> StaticResolver {
        self.names
            .insert(normalize(name), addresses.into_iter().collect());
        self
    }
}

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[async_trait]
impl Resolver for StaticResolver {
    async fn resolve(&self, name: &str) -> io::Result<Vec<SocketAddr>> {
        match self.names.get(&normalize(name)) {
            Some(addresses) => Ok(addresses.iter().map(|ip| SocketAddr::new(*ip, 0)).collect()),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no address for `{name}`"),
            )),
        }
    }
}

/// The HTTP client's resolver: resolves with the injected [`Resolver`] and
/// keeps only the addresses the policy allows.
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    pub(crate) policy: Arc<DestinationPolicy>,
    pub(crate) resolver: Arc<dyn Resolver>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let guard = self.clone();
        let name = name.as_str().to_owned();
        Box::pin(async move {
            let addresses = guard.resolver.resolve(&name).await?;
            if addresses.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("no address for `{name}`"),
                )
                .into());
            }
            let allowed = guard.policy.filter(&name, addresses)?;
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use reqwest::dns::Resolve;

    use super::*;
    use crate::config::{EndpointConfig, SecretKeys, WebhooksConfig};
    use crate::{Outcome, Sender};

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    async fn guarded(
        policy: DestinationPolicy,
        resolver: StaticResolver,
        name: &str,
    ) -> Result<Vec<SocketAddr>, String> {
        let guard = GuardedResolver {
            policy: Arc::new(policy),
            resolver: Arc::new(resolver),
        };
        match guard.resolve(name.parse().unwrap()).await {
            Ok(addresses) => Ok(addresses.collect()),
            Err(error) => Err(error.to_string()),
        }
    }

    #[tokio::test]
    async fn the_guarded_resolver_filters_and_refuses() {
        let resolver = StaticResolver::new()
            .with(
                "mixed.invalid",
                [ip("10.0.0.1"), ip("127.0.0.1"), ip("169.254.169.254")],
            )
            .with("private.invalid", [ip("10.0.0.1"), ip("fd00::1")])
            .with("Empty.Invalid.", []);
        assert_eq!(
            guarded(
                DestinationPolicy::local_tools(),
                resolver.clone(),
                "mixed.invalid"
            )
            .await,
            Ok(vec![SocketAddr::new(ip("127.0.0.1"), 0)])
        );
        assert_eq!(
            guarded(
                DestinationPolicy::server(),
                resolver.clone(),
                "MIXED.invalid."
            )
            .await,
            Err(
                "destination refused: MIXED.invalid. resolves to 10.0.0.1, which is private"
                    .to_owned()
            )
        );
        assert_eq!(
            guarded(
                DestinationPolicy::server().allow_private_targets(true),
                resolver.clone(),
                "private.invalid"
            )
            .await
            .map(|a| a.len()),
            Ok(2)
        );
        assert_eq!(
            guarded(
                DestinationPolicy::server(),
                resolver.clone(),
                "empty.invalid"
            )
            .await,
            Err("no address for `empty.invalid`".to_owned())
        );
        assert_eq!(
            guarded(DestinationPolicy::server(), resolver, "other.invalid").await,
            Err("no address for `other.invalid`".to_owned())
        );
    }

    /// A name resolving to [10.0.0.1, 127.0.0.1] under `local_tools()`
    /// connects to 127.0.0.1 only. The filter is checked first without any
    /// network, so that a broken guard fails here rather than sending a
    /// packet to 10.0.0.1.
    #[tokio::test]
    async fn only_allowed_addresses_are_connected_to() {
        let resolver =
            StaticResolver::new().with("mixed.invalid", [ip("10.0.0.1"), ip("127.0.0.1")]);
        let preflight = guarded(
            DestinationPolicy::local_tools(),
            resolver.clone(),
            "mixed.invalid",
        )
        .await;
        assert_eq!(preflight, Ok(vec![SocketAddr::new(ip("127.0.0.1"), 0)]));

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        let app = axum::Router::new().fallback(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                "ok"
            }
        });
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let mut endpoint = EndpointConfig::new(format!("http://mixed.invalid:{port}/hook"));
        endpoint.allow_insecure_http = true;
        endpoint.retry_policy.max_attempts = 1;
        let config = WebhooksConfig {
            secret_key: Some(SecretKeys::one("s")),
            endpoints: vec![endpoint],
            ..WebhooksConfig::default()
        };
        let (sender, _) = Sender::builder(config)
            .destination_policy(DestinationPolicy::local_tools())
            .resolver(Arc::new(resolver))
            .build()
            .unwrap();
        let event = megabot_webhook_types::examples::example(
            megabot_webhook_types::EventName::ErrorOccurred,
        );
        let report = sender.send(&event).await.unwrap();
        assert_eq!(
            report.deliveries[0].outcome,
            Outcome::Delivered,
            "{report:?}"
        );
        assert_eq!(count.load(Ordering::SeqCst), 1);
        server.abort();
    }
}
