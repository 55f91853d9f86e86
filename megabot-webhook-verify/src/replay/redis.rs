//! The Redis replay guard (feature `redis`): design 4.4's claim → complete / release
//! semantics shared by every receiver instance that uses the same Redis.
//!
//! Over 600 lines because the guard is one unit: its Lua scripts (claim, complete,
//! release, renew) sit beside the Rust that calls them and parses their answers, so a
//! reader checks each script against its caller in one place; the unit tests follow.

use std::error::Error as StdError;
use std::fmt;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, ConnectionAddr, Script};
use zeroize::Zeroizing;

use crate::Error;
use crate::replay::{Claim, ClaimOutcome, DEFAULT_IN_FLIGHT_TTL, ReplayGuard};

/// The key prefix used unless [`RedisReplayGuardBuilder::prefix`] sets another.
pub const DEFAULT_REDIS_PREFIX: &str = "megabot:webhook:";

/// The per-operation timeout used unless [`RedisReplayGuardBuilder::timeout`] sets another.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest TTL ever sent to Redis (about 100 years), so that a saturated
/// `expires_at` never makes Redis refuse the command.
const MAX_TTL_MS: i64 = 100 * 366 * 24 * 60 * 60 * 1000;

/// The suffix of an in-flight entry's value: `{token}:inflight`.
const IN_FLIGHT_SUFFIX: &str = ":inflight";

/// The suffix of a completed entry's value: `{token}:done`.
const DONE_SUFFIX: &str = ":done";

/// Claims `KEYS[1]` for `ARGV[1]` (`{token}:inflight`) for `ARGV[2]` ms unless it exists;
/// otherwise reports what it holds. One script, so a claim and a read never interleave.
/// Returns 0 claimed, 1 in flight, 2 done. Idempotent for one token: a claim retried
/// after a lost answer finds its own value and is still claimed.
const CLAIM_SCRIPT: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 0
end
local value = redis.call('GET', KEYS[1])
if value == ARGV[1] then
  return 0
end
if value and string.sub(value, -5) == ':done' then
  return 2
end
return 1
";

/// Marks `KEYS[1]` done (`ARGV[2]`) for `ARGV[3]` ms, or deletes it when no time is left,
/// but only while it still holds the caller's in-flight value `ARGV[1]`.
/// Returns 1 when the caller owned the id, else 0.
const COMPLETE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local ttl = tonumber(ARGV[3])
if ttl and ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ttl)
else
  redis.call('DEL', KEYS[1])
end
return 1
";

/// Deletes `KEYS[1]` only while it holds the caller's in-flight value `ARGV[1]`.
/// Returns the number of keys deleted (0 or 1).
const RELEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// Extends `KEYS[1]`'s TTL to `ARGV[2]` ms only while it holds the caller's in-flight
/// value `ARGV[1]` (renewing a lease). Returns 1 when the caller owned the id, else 0.
const RENEW_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";

/// A [`ReplayGuard`] kept in Redis, for receivers running on several instances.
///
/// # Deploying several instances
///
/// Run any number of receivers behind a load balancer and point all of them at the
/// same Redis (or the same primary of a replicated Redis) with the same key prefix: a
/// retry or a replayed copy of a delivery may land on any instance, and every instance
/// sees the same claims. Of any number of concurrent copies of one delivery exactly one
/// runs its handler; the others get `409` with `Retry-After` while it runs and
/// `200 {"status":"duplicate"}` once it succeeded. When the handler fails on one
/// instance, its claim is released and the sender's retry runs on whichever instance it
/// reaches.
///
/// - **Keys**: `{prefix}{delivery id}` (default prefix [`DEFAULT_REDIS_PREFIX`]). Give
///   each receiving application (each webhook endpoint with its own secret) its own
///   prefix when they share a Redis, and keep the prefix identical on all instances of
///   one application.
/// - **Values and lifetime**: `{token}:inflight` while a handler runs, `{token}:done`
///   after a 2xx answer, each with a TTL that ends when the delivery's timestamp leaves
///   the tolerance window (after which any copy is refused as stale anyway). Redis
///   drops the keys by itself: memory stays proportional to the deliveries of one
///   tolerance window. A claim is `SET NX PX` (in a Lua script that also reads an
///   existing entry atomically); complete and release are Lua scripts that act only
///   while the caller still owns the claim.
/// - **Redis settings**: use `maxmemory-policy noeviction` (the default), so that a
///   full Redis refuses new claims (503) instead of evicting live ones, and enable
///   persistence (AOF or RDB) if copies of deliveries handled before a Redis restart
///   must still be recognised: a Redis that comes back empty, or a replica promoted
///   before it received the latest writes, has forgotten those ids. One Redis primary
///   (optionally replicated) is supported; Redis Cluster is not.
/// - **Failure mode**: fail closed. Every Redis error, and every operation slower than
///   the timeout (default [`DEFAULT_REDIS_TIMEOUT`]), becomes
///   [`Error::ReplayStoreUnavailable`]: the adapters answer `503` with `Retry-After`
///   and the handler does not run, so no delivery is accepted unchecked and none is
///   lost — the sender retries and the retry runs once Redis is back. The connection is
///   multiplexed and reconnects by itself.
/// - **Crashes and in-flight leases** (design 9.4): an in-flight key is a lease of
///   [`RedisReplayGuardBuilder::in_flight_ttl`] (default [`DEFAULT_IN_FLIGHT_TTL`],
///   60 s) that the running handler's instance renews every third of it (an
///   ownership-checked `PEXPIRE` in a Lua script; the adapters do it for you). A live
///   handler keeps its claim however long it runs; an instance that dies mid-handler
///   stops renewing, and its claim expires after at most the TTL so that the sender's
///   retry runs on another instance.
/// - **Clocks**: TTLs are computed from the verifying instance's clock; keep the
///   instances' clocks synchronised (NTP), as freshness checks already require.
/// - **Security**: the Redis URL may hold a password; it never appears in an error, a
///   log line or this type's `Debug` output. Use `rediss://` (enable one of the `redis`
///   crate's TLS features, such as `tokio-rustls-comp`, in your own `Cargo.toml`) when
///   Redis is reached over an untrusted network.
///
/// The guard needs a Tokio runtime with time enabled (as `#[tokio::main]`, axum, warp
/// and actix-web all provide).
///
/// # Example
///
/// ```no_run
/// use std::sync::Arc;
/// use std::time::Duration;
/// use megabot_webhook_verify::{RedisReplayGuard, Secret, Verifier};
///
/// # async fn run() -> Result<(), megabot_webhook_verify::Error> {
/// let guard = RedisReplayGuard::builder("redis://:password@redis.internal:6379/0")
///     .prefix("orders-service:megabot:")
///     .timeout(Duration::from_secs(2))
///     .connect()
///     .await?;
/// let verifier = Verifier::builder()
///     .megabot_secret(Secret::new("your_webhook_secret")?)
///     .replay_guard(Arc::new(guard))
///     .build()?;
/// # let _ = verifier;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct RedisReplayGuard {
    manager: ConnectionManager,
    options: Options,
    /// Where the guard connects, without credentials (`None` for a given manager).
    target: Option<String>,
    tokens: TokenSource,
    scripts: Scripts,
}

/// Settings shared by the builder and the guard.
#[derive(Debug, Clone)]
struct Options {
    prefix: String,
    timeout: Duration,
    in_flight_ttl: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            prefix: DEFAULT_REDIS_PREFIX.to_owned(),
            timeout: DEFAULT_REDIS_TIMEOUT,
            in_flight_ttl: DEFAULT_IN_FLIGHT_TTL,
        }
    }
}

/// The three Lua scripts, hashed once.
#[derive(Clone)]
struct Scripts {
    claim: Script,
    complete: Script,
    release: Script,
    renew: Script,
}

impl Scripts {
    fn new() -> Scripts {
        Scripts {
            claim: Script::new(CLAIM_SCRIPT),
            complete: Script::new(COMPLETE_SCRIPT),
            release: Script::new(RELEASE_SCRIPT),
            renew: Script::new(RENEW_SCRIPT),
        }
    }
}

/// Owner tokens: a random 64-bit instance half and a 64-bit counter half, so tokens
/// of different guards (and processes) differ.
#[derive(Clone)]
struct TokenSource {
    instance: u64,
    counter: std::sync::Arc<AtomicU64>,
}

impl TokenSource {
    fn new() -> TokenSource {
        TokenSource {
            instance: random_u64(),
            counter: std::sync::Arc::new(AtomicU64::new(random_u64())),
        }
    }

    fn next(&self) -> u128 {
        let low = self.counter.fetch_add(1, Ordering::Relaxed);
        (u128::from(self.instance) << 64) | u128::from(low)
    }
}

/// 64 random bits from the standard library's randomly keyed SipHash.
fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// Configures and connects a [`RedisReplayGuard`]; start with [`RedisReplayGuard::builder`].
#[must_use]
pub struct RedisReplayGuardBuilder {
    url: Zeroizing<String>,
    options: Options,
}

impl RedisReplayGuardBuilder {
    /// Sets the key prefix (default [`DEFAULT_REDIS_PREFIX`]); keys are
    /// `{prefix}{delivery id}`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.options.prefix = prefix.into();
        self
    }

    /// Sets the time limit of each Redis operation and connection attempt (default
    /// [`DEFAULT_REDIS_TIMEOUT`]; zero is raised to 1 ms). A slower operation fails with
    /// [`Error::ReplayStoreUnavailable`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = timeout;
        self
    }

    /// Sets the in-flight lease time (default [`DEFAULT_IN_FLIGHT_TTL`], 60 s; at
    /// least 1 ms): an in-flight id lives this long unless its holder renews it
    /// ([`ReplayGuard::renew`], every third of it while the handler runs).
    ///
    /// A claim whose holder died (renewals stopped) expires after this time and
    /// another instance may claim the id, so a receiver that crashed mid-handler does
    /// not block the sender's retries. A live handler keeps its claim however long it
    /// runs, as long as its instance can reach Redis to renew.
    pub fn in_flight_ttl(mut self, ttl: Duration) -> Self {
        self.options.in_flight_ttl = ttl;
        self
    }

    /// Connects to Redis (within the timeout) and returns the guard.
    ///
    /// Fails with [`Error::ReplayStoreUnavailable`] when the URL is not a Redis URL or
    /// Redis cannot be reached or refuses the credentials; the error never holds the URL.
    pub async fn connect(self) -> Result<RedisReplayGuard, Error> {
        let client = Client::open(self.url.as_str())
            .map_err(|error| store_error(Operation::Connect, Cause::InvalidUrl(error.kind())))?;
        let target = describe_target(&client);
        let timeout = effective_timeout(self.options.timeout);
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(500));
        // Connect, then PING: a wrong or missing password only shows on a command.
        let connected = async {
            let mut manager = ConnectionManager::new_with_config(client, config).await?;
            redis::cmd("PING").query_async::<()>(&mut manager).await?;
            Ok::<_, redis::RedisError>(manager)
        };
        let manager = match tokio::time::timeout(timeout, connected).await {
            Ok(Ok(manager)) => manager,
            Ok(Err(error)) => return Err(store_error(Operation::Connect, Cause::Redis(error))),
            Err(_) => return Err(store_error(Operation::Connect, Cause::Timeout(timeout))),
        };
        Ok(RedisReplayGuard {
            manager,
            options: self.options,
            target: Some(target),
            tokens: TokenSource::new(),
            scripts: Scripts::new(),
        })
    }
}

impl fmt::Debug for RedisReplayGuardBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayGuardBuilder")
            .field("url", &"<redacted>")
            .field("prefix", &self.options.prefix)
            .field("timeout", &self.options.timeout)
            .field("in_flight_ttl", &self.options.in_flight_ttl)
            .finish()
    }
}

impl RedisReplayGuard {
    /// Connects with the defaults: prefix [`DEFAULT_REDIS_PREFIX`], timeout
    /// [`DEFAULT_REDIS_TIMEOUT`]. `url` is a `redis://[user:password@]host[:port][/db]`
    /// (or `redis+unix://`) URL.
    pub async fn connect(url: &str) -> Result<RedisReplayGuard, Error> {
        RedisReplayGuard::builder(url).connect().await
    }

    /// A builder for the guard connecting to `url`; finish with
    /// [`RedisReplayGuardBuilder::connect`].
    pub fn builder(url: impl Into<String>) -> RedisReplayGuardBuilder {
        RedisReplayGuardBuilder {
            url: Zeroizing::new(url.into()),
            options: Options::default(),
        }
    }

    /// A guard on a connection manager you configured yourself (the `redis` crate,
    /// version 1), with the default prefix and timeout; change them with
    /// [`RedisReplayGuard::with_prefix`] and [`RedisReplayGuard::with_timeout`].
    pub fn from_connection_manager(manager: ConnectionManager) -> RedisReplayGuard {
        RedisReplayGuard {
            manager,
            options: Options::default(),
            target: None,
            tokens: TokenSource::new(),
            scripts: Scripts::new(),
        }
    }

    /// Sets the key prefix, as [`RedisReplayGuardBuilder::prefix`].
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.options.prefix = prefix.into();
        self
    }

    /// Sets the per-operation timeout, as [`RedisReplayGuardBuilder::timeout`].
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = timeout;
        self
    }

    /// Limits the in-flight lifetime, as [`RedisReplayGuardBuilder::in_flight_ttl`].
    #[must_use]
    pub fn with_in_flight_ttl(mut self, ttl: Duration) -> Self {
        self.options.in_flight_ttl = ttl;
        self
    }

    /// The in-flight lease time in ms, at least 1.
    fn lease_ms(&self) -> i64 {
        i64::try_from(self.options.in_flight_ttl.as_millis())
            .unwrap_or(i64::MAX)
            .max(1)
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.options.prefix
    }

    /// The per-operation timeout.
    pub fn timeout(&self) -> Duration {
        effective_timeout(self.options.timeout)
    }

    /// The Redis key that holds `id`'s state: `{prefix}{id}`.
    pub fn key(&self, id: &str) -> String {
        let mut key = String::with_capacity(self.options.prefix.len() + id.len());
        key.push_str(&self.options.prefix);
        key.push_str(id);
        key
    }

    /// Runs one script invocation within the timeout; any failure is "unavailable".
    ///
    /// A connection error (not a timeout) is tried once more within the same timeout:
    /// the connection manager reconnects on it, so the first request after an outage
    /// does not fail on the broken old connection. The scripts are idempotent per
    /// token, so running one twice is harmless.
    async fn run(
        &self,
        operation: Operation,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Result<i64, Error> {
        let mut connection = self.manager.clone();
        let timeout = self.timeout();
        let attempts = async {
            match invocation.invoke_async::<i64>(&mut connection).await {
                Err(error) if is_connection_error(&error) => {
                    invocation.invoke_async::<i64>(&mut connection).await
                }
                answer => answer,
            }
        };
        match tokio::time::timeout(timeout, attempts).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(error)) => Err(store_error(operation, Cause::Redis(error))),
            Err(_) => Err(store_error(operation, Cause::Timeout(timeout))),
        }
    }

    /// After a failed claim the script may still have run: give the key back if it
    /// holds our token, in the background and best effort.
    fn release_in_background(&self, key: String, value: String) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let guard = self.clone();
        runtime.spawn(async move {
            let mut invocation = guard.scripts.release.prepare_invoke();
            invocation.key(&key).arg(&value);
            if let Err(error) = guard.run(Operation::Release, invocation).await {
                tracing::debug!(
                    error = %error_chain(&error),
                    "could not undo a claim whose answer was lost"
                );
            }
        });
    }
}

impl fmt::Debug for RedisReplayGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayGuard")
            .field(
                "target",
                &self.target.as_deref().unwrap_or("<connection manager>"),
            )
            .field("prefix", &self.options.prefix)
            .field("timeout", &self.timeout())
            .field("in_flight_ttl", &self.options.in_flight_ttl)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl ReplayGuard for RedisReplayGuard {
    async fn claim(
        &self,
        id: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<ClaimOutcome, Error> {
        let token = self.tokens.next();
        let key = self.key(id);
        let value = in_flight_value(token);
        let ttl = claim_ttl_ms(expires_at, now).min(self.lease_ms());
        let mut invocation = self.scripts.claim.prepare_invoke();
        invocation.key(&key).arg(&value).arg(ttl);
        match self.run(Operation::Claim, invocation).await {
            Ok(0) => Ok(ClaimOutcome::Claimed(Claim::new(id, token, expires_at))),
            Ok(2) => Ok(ClaimOutcome::Done),
            Ok(_) => Ok(ClaimOutcome::InFlight),
            Err(error) => {
                self.release_in_background(key, value);
                Err(error)
            }
        }
    }

    async fn complete(&self, claim: &Claim, now: DateTime<Utc>) -> Result<(), Error> {
        let ttl = remaining_ms(claim.expires_at, now);
        let mut invocation = self.scripts.complete.prepare_invoke();
        invocation
            .key(self.key(&claim.id))
            .arg(in_flight_value(claim.token))
            .arg(done_value(claim.token))
            .arg(ttl);
        self.run(Operation::Complete, invocation).await.map(drop)
    }

    async fn release(&self, claim: &Claim) -> Result<(), Error> {
        let mut invocation = self.scripts.release.prepare_invoke();
        invocation
            .key(self.key(&claim.id))
            .arg(in_flight_value(claim.token));
        self.run(Operation::Release, invocation).await.map(drop)
    }

    fn in_flight_ttl(&self) -> Option<Duration> {
        Some(self.options.in_flight_ttl.max(Duration::from_millis(1)))
    }

    async fn renew(&self, claim: &Claim, now: DateTime<Utc>) -> Result<bool, Error> {
        let ttl = claim_ttl_ms(claim.expires_at, now).min(self.lease_ms());
        let mut invocation = self.scripts.renew.prepare_invoke();
        invocation
            .key(self.key(&claim.id))
            .arg(in_flight_value(claim.token))
            .arg(ttl);
        self.run(Operation::Renew, invocation)
            .await
            .map(|owned| owned == 1)
    }
}

fn in_flight_value(token: u128) -> String {
    format!("{token:032x}{IN_FLIGHT_SUFFIX}")
}

fn done_value(token: u128) -> String {
    format!("{token:032x}{DONE_SUFFIX}")
}

/// Milliseconds from `now` until the entry for `expires_at` ends.
///
/// Like the in-memory guard, an entry is live through the whole second `expires_at`
/// (inclusive, whole seconds: freshness compares whole seconds too), so it ends at the
/// start of the next second. Capped at [`MAX_TTL_MS`]; negative once it has ended.
fn remaining_ms(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let end_ms = expires_at
        .timestamp()
        .saturating_add(1)
        .saturating_mul(1000);
    end_ms
        .saturating_sub(now.timestamp_millis())
        .min(MAX_TTL_MS)
}

/// The TTL of a new claim: the remaining time, at least 1 ms.
fn claim_ttl_ms(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    remaining_ms(expires_at, now).max(1)
}

/// A broken, dropped or refused connection (worth one more try on a new one).
fn is_connection_error(error: &redis::RedisError) -> bool {
    !error.is_timeout()
        && (error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal())
}

fn effective_timeout(timeout: Duration) -> Duration {
    timeout.max(Duration::from_millis(1))
}

/// `host:port/db` or the socket path, never the credentials.
fn describe_target(client: &Client) -> String {
    let info = client.get_connection_info();
    let db = info.redis_settings().db();
    match info.addr() {
        ConnectionAddr::Unix(path) => format!("unix:{}?db={db}", path.display()),
        addr => format!("{addr}/{db}"),
    }
}

/// The message, then each source's, joined with `: ` (for logs).
fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn store_error(operation: Operation, cause: Cause) -> Error {
    Error::replay_store_unavailable(RedisStoreError { operation, cause })
}

/// Which operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operation {
    Connect,
    Claim,
    Complete,
    Release,
    Renew,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::Connect => "connect",
            Operation::Claim => "claim",
            Operation::Complete => "complete",
            Operation::Release => "release",
            Operation::Renew => "renew",
        }
    }
}

#[derive(Debug)]
enum Cause {
    /// The URL did not parse; only the kind is kept.
    InvalidUrl(redis::ErrorKind),
    Redis(redis::RedisError),
    Timeout(Duration),
}

/// Why the Redis replay guard was unavailable: the source of
/// [`Error::ReplayStoreUnavailable`] for this guard, for logs.
///
/// Get it with `source.downcast_ref::<RedisStoreError>()` on the variant's `source`
/// field. Its message names the operation and the cause (a Redis error, a timeout or an
/// invalid URL), never the Redis URL or its credentials.
#[derive(Debug)]
pub struct RedisStoreError {
    operation: Operation,
    cause: Cause,
}

impl RedisStoreError {
    /// The failed operation: `connect`, `claim`, `complete` or `release`.
    pub fn operation(&self) -> &'static str {
        self.operation.name()
    }

    /// True when the operation did not finish within the timeout.
    pub fn is_timeout(&self) -> bool {
        match &self.cause {
            Cause::Timeout(_) => true,
            Cause::Redis(error) => error.is_timeout(),
            Cause::InvalidUrl(_) => false,
        }
    }
}

impl fmt::Display for RedisStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let operation = self.operation.name();
        match &self.cause {
            Cause::InvalidUrl(kind) => {
                write!(f, "redis {operation} failed: invalid redis url ({kind:?})")
            }
            Cause::Redis(_) => write!(f, "redis {operation} failed"),
            Cause::Timeout(timeout) => write!(
                f,
                "redis {operation} timed out after {} ms",
                timeout.as_millis()
            ),
        }
    }
}

impl StdError for RedisStoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.cause {
            Cause::Redis(error) => Some(error),
            Cause::InvalidUrl(_) | Cause::Timeout(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_ms(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap()
    }

    #[test]
    fn ttl_runs_through_the_last_whole_second() {
        // expires_at 1000 s: live until 1001 s exclusive.
        assert_eq!(remaining_ms(at_ms(1_000_000), at_ms(1_000_000)), 1000);
        assert_eq!(remaining_ms(at_ms(1_000_000), at_ms(700_250)), 300_750);
        // A sub-second expires_at counts its whole second.
        assert_eq!(remaining_ms(at_ms(1_000_500), at_ms(1_000_000)), 1000);
        assert_eq!(remaining_ms(at_ms(1_000_000), at_ms(1_000_999)), 1);
        assert_eq!(remaining_ms(at_ms(1_000_000), at_ms(1_001_000)), 0);
        assert!(remaining_ms(at_ms(1_000_000), at_ms(1_005_000)) < 0);
        assert_eq!(claim_ttl_ms(at_ms(1_000_000), at_ms(1_005_000)), 1);
        assert_eq!(claim_ttl_ms(at_ms(1_000_000), at_ms(1_000_999)), 1);
    }

    #[test]
    fn ttl_is_capped_for_far_expiries() {
        assert_eq!(
            remaining_ms(DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC),
            MAX_TTL_MS
        );
        assert_eq!(remaining_ms(DateTime::<Utc>::MAX_UTC, at_ms(0)), MAX_TTL_MS);
        assert!(remaining_ms(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC) < 0);
    }

    #[test]
    fn values_carry_the_token_and_state() {
        let token = 0x0123_4567_89ab_cdef_0000_0000_0000_0001_u128;
        assert_eq!(
            in_flight_value(token),
            "0123456789abcdef0000000000000001:inflight"
        );
        assert_eq!(done_value(token), "0123456789abcdef0000000000000001:done");
        assert!(done_value(1).ends_with(DONE_SUFFIX));
        // The claim script recognises the done suffix by its last five bytes.
        assert_eq!(DONE_SUFFIX.len(), 5);
        assert!(CLAIM_SCRIPT.contains("string.sub(value, -5) == ':done'"));
    }

    #[test]
    fn tokens_are_unique_and_differ_between_guards() {
        let one = TokenSource::new();
        let two = TokenSource::new();
        let first = one.next();
        assert_ne!(first, one.next());
        assert_ne!(one.instance, two.instance);
        assert_ne!(first >> 64, two.next() >> 64);
    }

    #[test]
    fn builder_debug_hides_the_url() {
        let builder = RedisReplayGuard::builder("redis://user:hunter2@example.com:6380/3")
            .prefix("app:")
            .timeout(Duration::from_millis(250));
        let text = format!("{builder:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("example.com"), "{text}");
        assert!(text.contains("app:"), "{text}");
    }

    #[test]
    fn target_description_has_no_credentials() {
        let client = Client::open("redis://user:hunter2@example.com:6380/3").unwrap();
        assert_eq!(describe_target(&client), "example.com:6380/3");
        let client = Client::open("redis+unix:///run/redis.sock?db=2&pass=hunter2").unwrap();
        let text = describe_target(&client);
        assert!(text.starts_with("unix:/run/redis.sock"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[tokio::test]
    async fn invalid_urls_fail_without_echoing_them() {
        for url in [
            "http://user:hunter2@example.com",
            "not a url hunter2",
            "redis://:hunter2@0.0.0.0:6379",
        ] {
            let error = RedisReplayGuard::connect(url).await.unwrap_err();
            assert_eq!(error.code(), "replay_store_unavailable");
            assert_eq!(error.status(), 503);
            let chain = error_chain(&error);
            assert!(!chain.contains("hunter2"), "{chain}");
            assert!(chain.contains("invalid redis url"), "{chain}");
        }
    }

    #[tokio::test]
    async fn unreachable_redis_fails_within_the_timeout() {
        // Port 1 on loopback: nothing listens there.
        let started = std::time::Instant::now();
        let error = RedisReplayGuard::builder("redis://:hunter2@127.0.0.1:1")
            .timeout(Duration::from_millis(300))
            .connect()
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(error.status(), 503);
        assert!(error.retry_after().is_some());
        let Error::ReplayStoreUnavailable {
            source: Some(source),
        } = &error
        else {
            panic!("unexpected error {error:?}");
        };
        let store = source
            .downcast_ref::<RedisStoreError>()
            .expect("the source is a RedisStoreError");
        assert_eq!(store.operation(), "connect");
        let chain = error_chain(&error);
        assert!(!chain.contains("hunter2"), "{chain}");
        assert!(
            chain.starts_with("replay store is unavailable: redis connect"),
            "{chain}"
        );
    }

    #[test]
    fn timeout_errors_say_so() {
        let error = RedisStoreError {
            operation: Operation::Claim,
            cause: Cause::Timeout(Duration::from_millis(1500)),
        };
        assert!(error.is_timeout());
        assert_eq!(error.to_string(), "redis claim timed out after 1500 ms");
        assert!(StdError::source(&error).is_none());
        assert_eq!(effective_timeout(Duration::ZERO), Duration::from_millis(1));
    }
}
