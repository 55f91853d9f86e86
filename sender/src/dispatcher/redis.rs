//! The shared store: one Redis queue for several dispatcher instances.
//!
//! Over 600 lines: one implementation of the [`DeliveryStore`] trait, its Lua
//! scripts and its row encoding, with its unit tests.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};

use super::store::{
    AttemptRecord, AttemptStart, DeliveryPage, DeliveryQuery, DeliveryRecord, DeliveryState,
    DeliveryStore, EndpointHealth, IncidentRecord, OutcomeTotals, PublishBatch, PublishOutcome,
    QueueStats, Retention, SettleRequest, Settlement, StoreStats, after, before, from_millis,
    millis, store_error,
};
use crate::Error;

/// The key prefix by default.
pub const DEFAULT_REDIS_PREFIX: &str = "megabot:dispatch";

/// How long one Redis request may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Rows purged per script run.
const PURGE_BATCH: usize = 500;

/// Publishes one event: its delivery ids, comma-joined, are the value of its
/// field in the `events` hash (one key per event fewer than a list). The
/// answer to an event already published is `existing`, that value, and the
/// ids of deliveries inserted for the event (`ev:` list, from imports).
const PUBLISH: &str = r"
local p = ARGV[1]
if redis.call('HSETNX', p .. ':events', ARGV[2], ARGV[3]) == 0 then
  local answer = {'existing', redis.call('HGET', p .. ':events', ARGV[2])}
  for _, id in ipairs(redis.call('LRANGE', p .. ':ev:' .. ARGV[2], 0, -1)) do
    answer[#answer + 1] = id
  end
  return answer
end
local i = 5
for _ = 1, tonumber(ARGV[4]) do
  local id, state, score, nf = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  i = i + 4
  redis.call('HSET', p .. ':d:' .. id, unpack(ARGV, i, i + nf * 2 - 1))
  i = i + nf * 2
  redis.call('ZADD', p .. ':ids', 0, id)
  if state == 'pending' then
    redis.call('ZADD', p .. ':due', score, id)
    redis.call('ZADD', p .. ':pending', score, id)
  else
    redis.call('ZADD', p .. ':ended:' .. state, score, id)
  end
end
return {'created'}
";

const INSERT: &str = r"
local p, id, state, score, event = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
if redis.call('EXISTS', p .. ':d:' .. id) == 1 then return 0 end
redis.call('HSET', p .. ':d:' .. id, unpack(ARGV, 6, #ARGV))
redis.call('ZADD', p .. ':ids', 0, id)
redis.call('RPUSH', p .. ':ev:' .. event, id)
if state == 'pending' then
  redis.call('ZADD', p .. ':due', score, id)
  redis.call('ZADD', p .. ':pending', score, id)
else
  redis.call('ZADD', p .. ':ended:' .. state, score, id)
end
return 1
";

/// Leases up to `max` due deliveries to `owner`; returns their rows (the
/// values of [`FIELDS`], in order), leased. With `start` (`ARGV[6]` = 1) it
/// also starts an attempt of each, as [`BEGIN`] does. `{fields}`,
/// `{state}`, `{endpoint}`, `{attempts}`, `{updated}`, `{owner}` and
/// `{expires}` are filled in by [`lease_script`].
const LEASE: &str = r"
local FIELDS = {{fields}}
local N = #FIELDS
local p, owner, now, expires, max = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local start = ARGV[6] == '1'
-- To start attempts, the row is read with the fields a start writes.
local read = FIELDS
if start then
  read = {unpack(FIELDS)}
  read[N + 1] = 'first_attempt_at'; read[N + 2] = 'attempt_started'; read[N + 3] = 'log'
end
local skip, skipping = {}, false
for k = 8, 7 + tonumber(ARGV[7]) do skip[ARGV[k]] = true; skipping = true end
local chosen, gone = {}, {}
local offset = 0
-- Due deliveries are pending and not leased (a lease moves its delivery's
-- score to the lease's expiry), so without endpoints to skip the first
-- `max` are taken: read no more ids than that.
local page = 200
if not skipping then page = math.max(max, 16) end
for _ = 1, 20 do
  local ids = redis.call('ZRANGEBYSCORE', p .. ':due', '-inf', now, 'LIMIT', offset, page)
  if #ids == 0 then break end
  offset = offset + #ids
  for _, id in ipairs(ids) do
    local key = p .. ':d:' .. id
    -- Without endpoints to skip, every pending candidate is taken: read
    -- its whole row at once.
    local row
    if skipping then
      row = redis.call('HMGET', key, 'state', 'endpoint_id')
      row = {[{state}] = row[1], [{endpoint}] = row[2]}
    else
      row = redis.call('HMGET', key, unpack(read))
    end
    if row[{state}] ~= 'pending' then
      gone[#gone + 1] = id
    elseif not skip[row[{endpoint}]] then
      if skipping then row = redis.call('HMGET', key, unpack(read)) end
      chosen[#chosen + 1] = {id, row}
      if #chosen >= max then break end
    end
  end
  if #chosen >= max then break end
end
for _, id in ipairs(gone) do redis.call('ZREM', p .. ':due', id) end
local leased = {}
for _, pick in ipairs(chosen) do
  local id, row = pick[1], pick[2]
  local set = {'lease_owner', owner, 'lease_expires_at', expires}
  if start then
    local before = tonumber(row[{attempts}] or '0') or 0
    local n = before + 1
    set[#set + 1] = 'attempts'; set[#set + 1] = n
    set[#set + 1] = 'updated_at'; set[#set + 1] = now
    set[#set + 1] = 'attempt_started'; set[#set + 1] = now
    -- An attempt its holder did not live to settle: logged unfinished.
    if row[N + 2] and row[N + 2] ~= '' then
      set[#set + 1] = 'log'; set[#set + 1] = (row[N + 3] or '') .. before .. '|' .. row[N + 2] .. '|||\n'
    end
    if not row[N + 1] or row[N + 1] == '' then
      set[#set + 1] = 'first_attempt_at'; set[#set + 1] = now
    end
    row[{attempts}] = tostring(n)
    row[{updated}] = now
    row[N + 3] = nil; row[N + 2] = nil; row[N + 1] = nil
  end
  redis.call('HSET', p .. ':d:' .. id, unpack(set))
  redis.call('ZADD', p .. ':due', expires, id)
  row[{owner}] = owner
  row[{expires}] = expires
  leased[#leased + 1] = row
end
return leased
";

const RENEW: &str = r"
local p, owner, expires = ARGV[1], ARGV[2], ARGV[3]
local held = {}
for k = 4, #ARGV do
  local id = ARGV[k]
  local key = p .. ':d:' .. id
  local f = redis.call('HMGET', key, 'state', 'lease_owner')
  if f[1] == 'pending' and f[2] == owner then
    redis.call('HSET', key, 'lease_expires_at', expires)
    redis.call('ZADD', p .. ':due', expires, id)
    held[#held + 1] = id
  end
end
return held
";

/// Attempt starts of `owner`: `{id, started_at}` pairs; one number each
/// (-1 when the lease is not held). The attempt in flight is the hash's
/// `attempt_started`; its log entry (a line of the hash's `log`) is written
/// when it settles, or, if its holder died, as an unfinished entry by the
/// next start.
const BEGIN: &str = r"
local p, owner = ARGV[1], ARGV[2]
local numbers = {}
for k = 3, #ARGV - 1, 2 do
  local id, started = ARGV[k], ARGV[k + 1]
  local key = p .. ':d:' .. id
  local f = redis.call('HMGET', key, 'state', 'lease_owner', 'attempts', 'first_attempt_at', 'attempt_started', 'log')
  if f[1] ~= 'pending' or f[2] ~= owner then
    numbers[#numbers + 1] = -1
  else
    local before = tonumber(f[3] or '0') or 0
    local n = before + 1
    local set = {'attempts', n, 'updated_at', started, 'attempt_started', started}
    if f[5] and f[5] ~= '' then
      set[#set + 1] = 'log'; set[#set + 1] = (f[6] or '') .. before .. '|' .. f[5] .. '|||\n'
    end
    if not f[4] or f[4] == '' then
      set[#set + 1] = 'first_attempt_at'; set[#set + 1] = started
    end
    redis.call('HSET', key, unpack(set))
    numbers[#numbers + 1] = n
  end
end
return numbers
";

/// Settles of `owner`: groups of 11 arguments (id, now,
/// kind, attempted, status, duration, error, dead reason, next attempt,
/// refund, conflict since); 1 for each settled, 0 when the lease is not held.
/// Cleared fields are set empty (read as absent), and the attempt's log
/// entry is a line appended to the hash's `log`, so each settle is one
/// `HSET`. Without an attempt (`attempted` 0), the attempt started is
/// taken back.
const SETTLE: &str = r"
local function settle(p, owner, id, now, kind, attempted, status, duration, err, reason, next, refund, conflict)
  local key = p .. ':d:' .. id
  local f = redis.call('HMGET', key, 'state', 'lease_owner', 'attempts', 'attempt_started', 'log')
  if f[1] ~= 'pending' or f[2] ~= owner then return 0 end
  local attempts = f[3] or '0'
  local set = {'updated_at', now, 'lease_owner', '', 'lease_expires_at', ''}
  if f[4] and f[4] ~= '' then
    if attempted == '1' then
      local entry = attempts .. '|' .. f[4] .. '|' .. status .. '|' .. duration .. '|' .. err
      set[#set + 1] = 'log'; set[#set + 1] = (f[5] or '') .. entry .. '\n'
    else
      -- The attempt started was not made: its start is taken back.
      attempts = tostring(math.max((tonumber(attempts) or 0) - 1, 0))
      set[#set + 1] = 'attempts'; set[#set + 1] = attempts
      if attempts == '0' then set[#set + 1] = 'first_attempt_at'; set[#set + 1] = '' end
    end
    set[#set + 1] = 'attempt_started'; set[#set + 1] = ''
  end
  if attempted == '1' then
    set[#set + 1] = 'last_status'; set[#set + 1] = status
    set[#set + 1] = 'last_error'; set[#set + 1] = err
  end
  if kind == 'retry' then
    set[#set + 1] = 'next_attempt_at'; set[#set + 1] = next
    if refund == '1' and (tonumber(attempts) or 0) > 0 then
      set[#set + 1] = 'attempts'; set[#set + 1] = tonumber(attempts) - 1
    end
    set[#set + 1] = 'conflict_since'; set[#set + 1] = conflict
    redis.call('ZADD', p .. ':due', next, id)
  else
    set[#set + 1] = 'state'; set[#set + 1] = kind
    set[#set + 1] = 'conflict_since'; set[#set + 1] = ''
    if kind == 'dead' then set[#set + 1] = 'dead_reason'; set[#set + 1] = reason end
    redis.call('ZREM', p .. ':due', id)
    redis.call('ZREM', p .. ':pending', id)
    redis.call('ZADD', p .. ':ended:' .. kind, now, id)
  end
  redis.call('HSET', key, unpack(set))
  return 1
end
local p, owner = ARGV[1], ARGV[2]
local held = {}
for k = 3, #ARGV - 10, 11 do
  held[#held + 1] = settle(p, owner, unpack(ARGV, k, k + 10))
end
return held
";

const RELEASE: &str = r"
local p, id, owner, next = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local key = p .. ':d:' .. id
local f = redis.call('HMGET', key, 'state', 'lease_owner')
if f[1] ~= 'pending' or f[2] ~= owner then return 0 end
redis.call('HDEL', key, 'lease_owner', 'lease_expires_at')
redis.call('HSET', key, 'next_attempt_at', next)
redis.call('ZADD', p .. ':due', next, id)
return 1
";

const REDELIVER: &str = r"
local p, id, now = ARGV[1], ARGV[2], ARGV[3]
local key = p .. ':d:' .. id
local f = redis.call('HMGET', key, 'state', 'attempts', 'attempt_started', 'log')
if f[1] ~= 'dead' then return 0 end
if f[3] and f[3] ~= '' then
  redis.call('HSET', key, 'log', (f[4] or '') .. (f[2] or '0') .. '|' .. f[3] .. '|||\n')
end
redis.call('HSET', key, 'state', 'pending', 'attempts', 0, 'next_attempt_at', now, 'updated_at', now)
redis.call('HDEL', key, 'dead_reason', 'conflict_since', 'lease_owner', 'lease_expires_at', 'first_attempt_at', 'attempt_started')
redis.call('ZREM', p .. ':ended:dead', id)
redis.call('ZADD', p .. ':due', now, id)
redis.call('ZADD', p .. ':pending', now, id)
return 1
";

const KILL: &str = r"
local p, endpoint, reason, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local killed = 0
for _, id in ipairs(redis.call('ZRANGE', p .. ':due', 0, -1)) do
  local key = p .. ':d:' .. id
  local f = redis.call('HMGET', key, 'state', 'endpoint_id')
  if f[1] == 'pending' and f[2] == endpoint then
    redis.call('HSET', key, 'state', 'dead', 'dead_reason', reason, 'updated_at', now)
    redis.call('HDEL', key, 'lease_owner', 'lease_expires_at', 'conflict_since')
    redis.call('ZREM', p .. ':due', id)
    redis.call('ZREM', p .. ':pending', id)
    redis.call('ZADD', p .. ':ended:dead', now, id)
    killed = killed + 1
  end
end
return killed
";

const PURGE: &str = r"
local p, state, cutoff, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local ids = redis.call('ZRANGEBYSCORE', p .. ':ended:' .. state, '-inf', '(' .. cutoff, 'LIMIT', 0, limit)
for _, id in ipairs(ids) do
  local key = p .. ':d:' .. id
  local event = redis.call('HGET', key, 'event_id')
  redis.call('DEL', key, p .. ':a:' .. id)
  redis.call('ZREM', p .. ':ended:' .. state, id)
  redis.call('ZREM', p .. ':ids', id)
  redis.call('ZREM', p .. ':pending', id)
  if event then
    -- The event's published ids (its `events` value; a number in a queue
    -- written before the ids moved there) and its inserted ids (`ev:`).
    local value = redis.call('HGET', p .. ':events', event)
    local rest = value
    if value and not tonumber(value) then
      local kept = {}
      for other in string.gmatch(value, '[^,]+') do
        if other ~= id then kept[#kept + 1] = other end
      end
      rest = table.concat(kept, ',')
    end
    local list = p .. ':ev:' .. event
    redis.call('LREM', list, 0, id)
    if redis.call('LLEN', list) == 0 and (not rest or rest == '' or tonumber(rest)) then
      redis.call('HDEL', p .. ':events', event)
    elseif rest ~= value then
      redis.call('HSET', p .. ':events', event, rest)
    end
  end
end
return #ids
";

/// Totals over the ended deliveries of one state ranked `[start, start +
/// batch)`: {count, retries, attempted, delivery time in ms}.
const TOTALS: &str = r"
local p, state, start, batch = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local ids = redis.call('ZRANGE', p .. ':ended:' .. state, start, start + batch - 1)
local retries, attempted, time = 0, 0, 0
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', p .. ':d:' .. id, 'attempts', 'first_attempt_at', 'updated_at')
  local attempts = tonumber(f[1] or '0') or 0
  if attempts > 1 then retries = retries + attempts - 1 end
  local first, ended = tonumber(f[2] or ''), tonumber(f[3] or '')
  if first and ended then
    attempted = attempted + 1
    if ended > first then time = time + (ended - first) end
  end
end
return {#ids, retries, attempted, time}
";

/// Fills the `pending` index (by the time each pending delivery became
/// pending) of a queue written before it existed: once, at connect.
const BACKFILL: &str = r"
local p = ARGV[1]
if redis.call('EXISTS', p .. ':pending') == 1 then return 0 end
local added = 0
for _, id in ipairs(redis.call('ZRANGE', p .. ':due', 0, -1)) do
  local f = redis.call('HMGET', p .. ':d:' .. id, 'state', 'created_at')
  if f[1] == 'pending' and f[2] then
    redis.call('ZADD', p .. ':pending', f[2], id)
    added = added + 1
  end
end
return added
";

/// The fields of a delivery's hash in the order a row is read (`HMGET`)
/// and parsed ([`parse_record`]). Besides these the hash holds
/// `first_attempt_at`, `attempt_started` and `log` (the attempt log, one
/// line per attempt: `attempt|started_at|status|duration_ms|error`).
const FIELDS: [&str; 18] = [
    "id",
    "event_id",
    "event_name",
    "event_timestamp",
    "body",
    "endpoint_id",
    "state",
    "attempts",
    "created_at",
    "updated_at",
    "next_attempt_at",
    "lease_owner",
    "lease_expires_at",
    "dead_reason",
    "last_status",
    "last_error",
    "conflict_since",
    "restamped_from",
];

/// [`LEASE`] with the row's fields and the (1-based, Lua) positions it
/// reads and writes.
fn lease_script() -> String {
    let position = |name: &str| {
        let index = FIELDS.iter().position(|f| *f == name).unwrap_or(0);
        (index + 1).to_string()
    };
    let fields: Vec<String> = FIELDS.iter().map(|f| format!("'{f}'")).collect();
    LEASE
        .replace("{fields}", &fields.join(", "))
        .replace("{state}", &position("state"))
        .replace("{endpoint}", &position("endpoint_id"))
        .replace("{attempts}", &position("attempts"))
        .replace("{updated}", &position("updated_at"))
        .replace("{owner}", &position("lease_owner"))
        .replace("{expires}", &position("lease_expires_at"))
}

/// Ended rows read per [`TOTALS`] run.
const TOTALS_BATCH: usize = 1_000;

struct Scripts {
    publish: Script,
    insert: Script,
    lease: Script,
    renew: Script,
    begin: Script,
    settle: Script,
    release: Script,
    redeliver: Script,
    kill: Script,
    purge: Script,
    totals: Script,
    backfill: Script,
}

impl Scripts {
    fn new() -> Scripts {
        Scripts {
            publish: Script::new(PUBLISH),
            insert: Script::new(INSERT),
            lease: Script::new(&lease_script()),
            renew: Script::new(RENEW),
            begin: Script::new(BEGIN),
            settle: Script::new(SETTLE),
            release: Script::new(RELEASE),
            redeliver: Script::new(REDELIVER),
            kill: Script::new(KILL),
            purge: Script::new(PURGE),
            totals: Script::new(TOTALS),
            backfill: Script::new(BACKFILL),
        }
    }
}

/// A [`DeliveryStore`] in Redis, shared by several dispatcher instances.
///
/// - **Leases.** A leased delivery's due time in the queue is its lease's
///   expiry: when its holder dies (and stops renewing), it becomes due again
///   and another instance takes it over. Every state write is a Lua script
///   that checks the lease is still held by the writer.
/// - **Atomicity.** Each write is one script, which Redis runs alone. A
///   publish is one script too (all or nothing, short of Redis running out
///   of memory halfway).
/// - **Durability** is Redis's: at connect, a Redis without persistence
///   (no RDB snapshots, no AOF) or with an evicting `maxmemory-policy` gets
///   a warning in the log.
/// - Times are the dispatchers' clocks: keep them in sync (NTP).
/// - Keys start with a prefix ([`DEFAULT_REDIS_PREFIX`]); the scripts build
///   their keys, so a Redis Cluster is not supported. A delivery is one key,
///   the hash `<prefix>:d:<id>` (its row, its attempt log in the field
///   `log`); the sorted sets `ids`, `due`, `pending` and `ended:<state>`
///   index them, and the hash `events` maps each published event id to its
///   delivery ids. A queue written before this layout (its `ev:` and `a:`
///   lists) is read and purged as it is.
/// - The URL's password never appears in `Debug`, a log or an error.
pub struct RedisStore {
    manager: ConnectionManager,
    prefix: String,
    target: String,
    password: Option<String>,
    scripts: Scripts,
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("target", &self.target)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// `host:port/db` of a client, without credentials.
fn describe_target(client: &Client) -> String {
    let info = client.get_connection_info();
    format!("{}/{}", info.addr(), info.redis_settings().db())
}

/// The password of a `redis://` URL, if any (to scrub it from messages).
fn url_password(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    parsed
        .password()
        .filter(|p| !p.is_empty())
        .map(percent_decode)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(value) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(value);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The warnings a Redis configuration deserves (design 9.5).
fn persistence_warnings(save: &str, appendonly: &str, policy: &str) -> Vec<&'static str> {
    let mut warnings = Vec::new();
    if save.trim().is_empty() && !appendonly.eq_ignore_ascii_case("yes") {
        warnings.push(
            "redis has no persistence (no rdb snapshots, no aof): a redis restart loses every queued delivery",
        );
    }
    if policy.starts_with("allkeys-") || policy.starts_with("volatile-") {
        warnings.push(
            "redis maxmemory-policy evicts keys: under memory pressure queued deliveries can be lost; use noeviction",
        );
    }
    warnings
}

impl RedisStore {
    /// Connects to `url` (`redis://[user:password@]host[:port][/db]`) with
    /// the default prefix.
    ///
    /// # Errors
    ///
    /// [`Error::Store`] when the URL is invalid or Redis cannot be reached;
    /// the message never holds the URL's password.
    pub async fn connect(url: &str) -> Result<RedisStore, Error> {
        RedisStore::connect_with_prefix(url, DEFAULT_REDIS_PREFIX).await
    }

    /// As [`RedisStore::connect`], with keys under `prefix` (one queue per
    /// prefix).
    ///
    /// # Errors
    ///
    /// As [`RedisStore::connect`].
    pub async fn connect_with_prefix(url: &str, prefix: &str) -> Result<RedisStore, Error> {
        let password = url_password(url);
        let client = Client::open(url)
            .map_err(|error| store_error(format!("invalid redis url ({:?})", error.kind())))?;
        let target = describe_target(&client);
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(500));
        let connected = async {
            let mut manager = ConnectionManager::new_with_config(client, config).await?;
            redis::cmd("PING").query_async::<()>(&mut manager).await?;
            Ok::<_, redis::RedisError>(manager)
        };
        let scrub = |message: String| scrub(message, password.as_deref());
        let manager = match tokio::time::timeout(TIMEOUT, connected).await {
            Ok(Ok(manager)) => manager,
            Ok(Err(error)) => {
                return Err(store_error(scrub(format!(
                    "cannot connect to redis at {target}: {error}"
                ))));
            }
            Err(_) => {
                return Err(store_error(format!(
                    "cannot connect to redis at {target}: timed out"
                )));
            }
        };
        let store = RedisStore {
            manager,
            prefix: prefix.to_owned(),
            target,
            password,
            scripts: Scripts::new(),
        };
        store.check_persistence().await;
        let mut backfill = store.scripts.backfill.prepare_invoke();
        backfill.arg(&store.prefix);
        let _: i64 = store.run("index pending deliveries", &backfill).await?;
        Ok(store)
    }

    /// Warns when Redis would lose the queue on a restart or under memory
    /// pressure. `CONFIG` may be refused (managed Redis): then nothing is said.
    async fn check_persistence(&self) {
        let mut values = Vec::with_capacity(3);
        for name in ["save", "appendonly", "maxmemory-policy"] {
            let mut connection = self.manager.clone();
            let pair = redis::cmd("CONFIG")
                .arg("GET")
                .arg(name)
                .query_async::<Vec<String>>(&mut connection)
                .await;
            match pair.ok().and_then(|pair| pair.get(1).cloned()) {
                Some(value) => values.push(value),
                None => {
                    tracing::debug!(target = %self.target, "redis CONFIG GET refused: persistence not checked");
                    return;
                }
            }
        }
        if let [save, appendonly, policy] = values.as_slice() {
            for warning in persistence_warnings(save, appendonly, policy) {
                tracing::warn!(target = %self.target, "{warning}");
            }
        }
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}:{kind}:{id}", self.prefix)
    }

    fn error(&self, operation: &str, error: &redis::RedisError) -> Error {
        store_error(scrub(
            format!("redis {operation} failed: {error}"),
            self.password.as_deref(),
        ))
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        operation: &str,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, Error> {
        let mut connection = self.manager.clone();
        match tokio::time::timeout(TIMEOUT, invocation.invoke_async::<T>(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(self.error(operation, &error)),
            Err(_) => Err(store_error(format!("redis {operation} timed out"))),
        }
    }

    async fn query<T: redis::FromRedisValue>(
        &self,
        operation: &str,
        command: &redis::Cmd,
    ) -> Result<T, Error> {
        let mut connection = self.manager.clone();
        match tokio::time::timeout(TIMEOUT, command.query_async::<T>(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(self.error(operation, &error)),
            Err(_) => Err(store_error(format!("redis {operation} timed out"))),
        }
    }

    async fn pipeline<T: redis::FromRedisValue>(
        &self,
        operation: &str,
        pipeline: &redis::Pipeline,
    ) -> Result<T, Error> {
        let mut connection = self.manager.clone();
        match tokio::time::timeout(TIMEOUT, pipeline.query_async::<T>(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(self.error(operation, &error)),
            Err(_) => Err(store_error(format!("redis {operation} timed out"))),
        }
    }

    /// [`LEASE`]: leases, and with `start` starts an attempt of each
    /// delivery leased, in one script.
    async fn lease(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        max: usize,
        skip_endpoints: &[String],
        start: bool,
    ) -> Result<Vec<DeliveryRecord>, Error> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let mut invocation = self.scripts.lease.prepare_invoke();
        invocation
            .arg(&self.prefix)
            .arg(owner)
            .arg(millis(now))
            .arg(millis(after(now, lease)))
            .arg(max)
            .arg(if start { "1" } else { "0" })
            .arg(skip_endpoints.len());
        for endpoint in skip_endpoints {
            invocation.arg(endpoint);
        }
        // The leased rows come back with the lease: one round trip.
        let rows: Vec<Vec<Option<Vec<u8>>>> = self.run("lease", &invocation).await?;
        rows.into_iter().map(parse_record).collect()
    }

    /// The records with these ids (missing ones left out), in order.
    async fn records(&self, ids: &[String]) -> Result<Vec<DeliveryRecord>, Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipeline = redis::pipe();
        for id in ids {
            pipeline
                .cmd("HMGET")
                .arg(self.key("d", id))
                .arg(&FIELDS[..]);
        }
        let rows: Vec<Vec<Option<Vec<u8>>>> = self.pipeline("read", &pipeline).await?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            // A missing hash reads as nothing but nils.
            if row.iter().all(Option::is_none) {
                continue;
            }
            records.push(parse_record(row)?);
        }
        Ok(records)
    }
}

/// Replaces every occurrence of `password` in `message`.
fn scrub(message: String, password: Option<&str>) -> String {
    match password {
        Some(password) if !password.is_empty() => message.replace(password, "<redacted>"),
        _ => message,
    }
}

/// A record's fields, as stored in its hash (`None` fields are left out).
fn fields(record: &DeliveryRecord) -> Vec<(&'static str, Cow<'_, [u8]>)> {
    let text = |t: &str| Cow::Owned(t.as_bytes().to_vec());
    let number = |n: i64| Cow::Owned(n.to_string().into_bytes());
    let mut fields: Vec<(&'static str, Cow<'_, [u8]>)> = vec![
        ("id", Cow::Borrowed(record.id.as_bytes())),
        ("event_id", Cow::Borrowed(record.event_id.as_bytes())),
        ("event_name", Cow::Borrowed(record.event_name.as_bytes())),
        ("event_timestamp", number(record.event_timestamp)),
        ("body", Cow::Borrowed(&record.body[..])),
        ("endpoint_id", Cow::Borrowed(record.endpoint_id.as_bytes())),
        ("state", text(record.state.as_str())),
        ("attempts", number(i64::from(record.attempts))),
        ("created_at", number(millis(record.created_at))),
        ("updated_at", number(millis(record.updated_at))),
        ("next_attempt_at", number(millis(record.next_attempt_at))),
    ];
    let optional = [
        ("dead_reason", record.dead_reason.as_deref().map(text)),
        (
            "last_status",
            record.last_status.map(|s| number(i64::from(s))),
        ),
        ("last_error", record.last_error.as_deref().map(text)),
        (
            "conflict_since",
            record.conflict_since.map(|t| number(millis(t))),
        ),
        ("restamped_from", record.restamped_from.as_deref().map(text)),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            fields.push((name, value));
        }
    }
    fields
}

/// The queue score of a new record: its due time, or its end time.
fn score(record: &DeliveryRecord) -> i64 {
    match record.state {
        DeliveryState::Pending => millis(record.next_attempt_at),
        _ => millis(record.updated_at),
    }
}

/// A delivery from its row: the values of [`FIELDS`], in order.
fn parse_record(row: Vec<Option<Vec<u8>>>) -> Result<DeliveryRecord, Error> {
    let Ok(
        [
            id,
            event_id,
            event_name,
            event_timestamp,
            body,
            endpoint_id,
            state,
            attempts,
            created_at,
            updated_at,
            next_attempt_at,
            lease_owner,
            lease_expires_at,
            dead_reason,
            last_status,
            last_error,
            conflict_since,
            restamped_from,
        ],
    ) = <[Option<Vec<u8>>; FIELDS.len()]>::try_from(row)
    else {
        return Err(store_error("redis delivery row of the wrong length"));
    };
    // A cleared field is written empty: absent.
    let text = |value: Option<Vec<u8>>| -> Option<String> {
        value.filter(|v| !v.is_empty()).map(|v| {
            String::from_utf8(v)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
        })
    };
    let required = |value: Option<Vec<u8>>, name: &str| {
        text(value).ok_or_else(|| store_error(format!("redis delivery without `{name}`")))
    };
    let number = |value: Option<Vec<u8>>| -> Option<i64> {
        value.and_then(|v| std::str::from_utf8(&v).ok()?.parse().ok())
    };
    let required_number = |value: Option<Vec<u8>>, name: &str| {
        number(value).ok_or_else(|| store_error(format!("redis delivery with a bad `{name}`")))
    };
    let state = required(state, "state")?;
    let state = DeliveryState::parse(&state)
        .ok_or_else(|| store_error(format!("unknown delivery state `{state}`")))?;
    Ok(DeliveryRecord {
        id: required(id, "id")?,
        event_id: required(event_id, "event_id")?,
        event_name: required(event_name, "event_name")?,
        event_timestamp: required_number(event_timestamp, "event_timestamp")?,
        body: body.unwrap_or_default(),
        endpoint_id: required(endpoint_id, "endpoint_id")?,
        state,
        attempts: u32::try_from(number(attempts).unwrap_or(0)).unwrap_or(0),
        created_at: from_millis(required_number(created_at, "created_at")?),
        updated_at: from_millis(required_number(updated_at, "updated_at")?),
        next_attempt_at: from_millis(required_number(next_attempt_at, "next_attempt_at")?),
        lease_owner: text(lease_owner),
        lease_expires_at: number(lease_expires_at).map(from_millis),
        dead_reason: text(dead_reason),
        last_status: number(last_status).and_then(|s| u16::try_from(s).ok()),
        last_error: text(last_error),
        conflict_since: number(conflict_since).map(from_millis),
        restamped_from: text(restamped_from),
    })
}

/// The ids an `events` hash value holds: comma-joined delivery ids, or (in
/// a queue written before the ids moved there) the publish time, which
/// holds none.
fn event_ids(value: &str) -> impl Iterator<Item = &str> {
    let ids = if value.parse::<i64>().is_ok() {
        ""
    } else {
        value
    };
    ids.split(',').filter(|id| !id.is_empty())
}

/// An attempt log entry: `attempt|started_at|status|duration_ms|error`.
fn parse_attempt(entry: &str) -> Option<AttemptRecord> {
    let mut parts = entry.splitn(5, '|');
    let attempt = parts.next()?.parse().ok()?;
    let started_at = from_millis(parts.next()?.parse().ok()?);
    let status = parts.next()?.parse().ok();
    let duration = parts.next()?.parse::<u64>().ok().map(Duration::from_millis);
    let error = parts.next().filter(|e| !e.is_empty()).map(str::to_owned);
    Some(AttemptRecord {
        attempt,
        started_at,
        status,
        duration,
        error,
    })
}

fn health_text(health: EndpointHealth) -> String {
    let part = |t: Option<DateTime<Utc>>| t.map(|t| millis(t).to_string()).unwrap_or_default();
    format!(
        "{}|{}",
        part(health.failing_since),
        part(health.disabled_at)
    )
}

/// The hash field of an incident: its endpoint id and rule.
fn incident_field(endpoint_id: &str, rule: &str) -> String {
    format!("{endpoint_id}\t{rule}")
}

fn incident_text(incident: &IncidentRecord) -> String {
    serde_json::json!({
        "endpoint_id": incident.endpoint_id,
        "rule": incident.rule,
        "opened_at": millis(incident.opened_at),
        "last_violation_at": millis(incident.last_violation_at),
        "alerted_at": incident.alerted_at.map(millis),
        "resolved_at": incident.resolved_at.map(millis),
        "detail": incident.detail,
    })
    .to_string()
}

/// An incident stored by `incident_text`; `None` for anything else.
fn parse_incident(text: &str) -> Option<IncidentRecord> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let string = |name: &str| value.get(name)?.as_str().map(str::to_owned);
    let time = |name: &str| value.get(name)?.as_i64().map(from_millis);
    Some(IncidentRecord {
        endpoint_id: string("endpoint_id")?,
        rule: string("rule")?,
        opened_at: time("opened_at")?,
        last_violation_at: time("last_violation_at")?,
        alerted_at: time("alerted_at"),
        resolved_at: time("resolved_at"),
        detail: string("detail").unwrap_or_default(),
    })
}

fn parse_health(text: &str) -> EndpointHealth {
    let mut parts = text.split('|');
    let mut next = || {
        parts
            .next()
            .and_then(|p| p.parse::<i64>().ok())
            .map(from_millis)
    };
    EndpointHealth {
        failing_since: next(),
        disabled_at: next(),
    }
}

#[async_trait::async_trait]
impl DeliveryStore for RedisStore {
    async fn publish(&self, batch: PublishBatch) -> Result<PublishOutcome, Error> {
        let mut invocation = self.scripts.publish.prepare_invoke();
        invocation
            .arg(&self.prefix)
            .arg(&batch.event_id)
            .arg(
                batch
                    .deliveries
                    .iter()
                    .map(|d| d.id.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            )
            .arg(batch.deliveries.len());
        for record in &batch.deliveries {
            let fields = fields(record);
            invocation
                .arg(&record.id)
                .arg(record.state.as_str())
                .arg(score(record))
                .arg(fields.len());
            for (name, value) in fields {
                invocation.arg(name).arg(&value[..]);
            }
        }
        let answer: Vec<Option<String>> = self.run("publish", &invocation).await?;
        match answer.split_first() {
            Some((Some(tag), rest)) if tag == "existing" => {
                let (published, inserted) = rest.split_first().unwrap_or((&None, &[]));
                let ids: Vec<String> = event_ids(published.as_deref().unwrap_or_default())
                    .map(str::to_owned)
                    .chain(inserted.iter().flatten().cloned())
                    .collect();
                Ok(PublishOutcome {
                    created: false,
                    deliveries: self.records(&ids).await?,
                })
            }
            _ => Ok(PublishOutcome {
                created: true,
                deliveries: batch.deliveries,
            }),
        }
    }

    async fn lease_due(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        max: usize,
        skip_endpoints: &[String],
    ) -> Result<Vec<DeliveryRecord>, Error> {
        self.lease(owner, now, lease, max, skip_endpoints, false)
            .await
    }

    async fn lease_started(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        max: usize,
        skip_endpoints: &[String],
    ) -> Result<Vec<DeliveryRecord>, Error> {
        self.lease(owner, now, lease, max, skip_endpoints, true)
            .await
    }

    async fn renew_leases(
        &self,
        owner: &str,
        ids: &[String],
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Vec<String>, Error> {
        let mut invocation = self.scripts.renew.prepare_invoke();
        invocation
            .arg(&self.prefix)
            .arg(owner)
            .arg(millis(after(now, lease)));
        for id in ids {
            invocation.arg(id);
        }
        self.run("renew", &invocation).await
    }

    async fn begin_attempts(
        &self,
        owner: &str,
        starts: Vec<AttemptStart>,
    ) -> Result<Vec<Option<u32>>, Error> {
        if starts.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = self.scripts.begin.prepare_invoke();
        invocation.arg(&self.prefix).arg(owner);
        for start in &starts {
            invocation.arg(&start.id).arg(millis(start.started_at));
        }
        let numbers: Vec<i64> = self.run("begin attempt", &invocation).await?;
        Ok(numbers.into_iter().map(|n| u32::try_from(n).ok()).collect())
    }

    async fn settle_many(
        &self,
        owner: &str,
        requests: Vec<SettleRequest>,
    ) -> Result<Vec<bool>, Error> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = self.scripts.settle.prepare_invoke();
        invocation.arg(&self.prefix).arg(owner);
        for request in requests {
            let (kind, reason, next, refund, conflict) = match request.settlement {
                Settlement::Delivered => ("delivered", String::new(), 0, false, None),
                Settlement::Dead { reason } => ("dead", reason, 0, false, None),
                Settlement::Retry {
                    next_attempt_at,
                    refund_attempt,
                    conflict_since,
                } => (
                    "retry",
                    String::new(),
                    millis(next_attempt_at),
                    refund_attempt,
                    conflict_since,
                ),
            };
            invocation
                .arg(&request.id)
                .arg(millis(request.now))
                .arg(kind);
            match &request.attempt {
                Some(result) => invocation
                    .arg("1")
                    .arg(result.status.map(|s| s.to_string()).unwrap_or_default())
                    .arg(u64::try_from(result.duration.as_millis()).unwrap_or(u64::MAX))
                    // One log line per attempt.
                    .arg(
                        result
                            .error
                            .as_deref()
                            .unwrap_or_default()
                            .replace(['\n', '\r'], " "),
                    ),
                None => invocation.arg("0").arg("").arg("").arg(""),
            };
            invocation
                .arg(reason)
                .arg(next)
                .arg(if refund { "1" } else { "0" })
                .arg(conflict.map(|t| millis(t).to_string()).unwrap_or_default());
        }
        let held: Vec<i64> = self.run("settle", &invocation).await?;
        Ok(held.into_iter().map(|done| done == 1).collect())
    }

    async fn release(
        &self,
        id: &str,
        owner: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let mut invocation = self.scripts.release.prepare_invoke();
        invocation
            .arg(&self.prefix)
            .arg(id)
            .arg(owner)
            .arg(millis(next_attempt_at));
        let done: i64 = self.run("release", &invocation).await?;
        Ok(done == 1)
    }

    async fn get(&self, id: &str) -> Result<Option<DeliveryRecord>, Error> {
        Ok(self.records(&[id.to_owned()]).await?.pop())
    }

    async fn attempts(&self, id: &str) -> Result<Vec<AttemptRecord>, Error> {
        let mut pipeline = redis::pipe();
        pipeline
            .cmd("LRANGE")
            .arg(self.key("a", id))
            .arg(0)
            .arg(-1)
            .cmd("HMGET")
            .arg(self.key("d", id))
            .arg("log")
            .arg("attempts")
            .arg("attempt_started");
        // The `a:` list holds the entries of a queue written before the log
        // moved into the hash.
        let (listed, (log, attempts, started)): (
            Vec<String>,
            (Option<String>, Option<String>, Option<String>),
        ) = self.pipeline("read attempts", &pipeline).await?;
        let log = log.unwrap_or_default();
        let mut records: Vec<AttemptRecord> = listed
            .iter()
            .map(String::as_str)
            .chain(log.lines())
            .filter_map(parse_attempt)
            .collect();
        // The attempt in flight, logged when it settles.
        if let Some(started) = started.filter(|s| !s.is_empty()) {
            let attempt = attempts.unwrap_or_default();
            records.extend(parse_attempt(&format!("{attempt}|{started}|||")));
        }
        Ok(records)
    }

    async fn list(&self, query: &DeliveryQuery) -> Result<DeliveryPage, Error> {
        let size = query.page_size();
        let after_cursor = |id: &String| query.cursor.as_ref().is_none_or(|c| id > c);
        let mut deliveries = Vec::new();
        if let Some(event) = &query.event_id {
            let mut pipeline = redis::pipe();
            pipeline
                .cmd("HGET")
                .arg(format!("{}:events", self.prefix))
                .arg(event)
                .cmd("LRANGE")
                .arg(self.key("ev", event))
                .arg(0)
                .arg(-1);
            let (published, inserted): (Option<String>, Vec<String>) =
                self.pipeline("list", &pipeline).await?;
            let mut ids: Vec<String> = event_ids(published.as_deref().unwrap_or_default())
                .map(str::to_owned)
                .chain(inserted)
                .collect();
            ids.sort();
            ids.retain(after_cursor);
            deliveries = self
                .records(&ids)
                .await?
                .into_iter()
                .filter(|r| query.matches(r))
                .take(size + 1)
                .collect();
        } else {
            let mut start = match &query.cursor {
                Some(cursor) => format!("({cursor}"),
                None => "-".to_owned(),
            };
            loop {
                let ids: Vec<String> = self
                    .query(
                        "list",
                        redis::cmd("ZRANGEBYLEX")
                            .arg(format!("{}:ids", self.prefix))
                            .arg(&start)
                            .arg("+")
                            .arg("LIMIT")
                            .arg(0)
                            .arg(500),
                    )
                    .await?;
                let Some(last) = ids.last() else { break };
                start = format!("({last}");
                let done = ids.len() < 500;
                for record in self.records(&ids).await? {
                    if query.matches(&record) {
                        deliveries.push(record);
                    }
                }
                if done || deliveries.len() > size {
                    break;
                }
            }
        }
        let next_cursor = if deliveries.len() > size {
            deliveries.truncate(size);
            deliveries.last().map(|d| d.id.clone())
        } else {
            None
        };
        Ok(DeliveryPage {
            deliveries,
            next_cursor,
        })
    }

    async fn redeliver(&self, id: &str, now: DateTime<Utc>) -> Result<bool, Error> {
        let mut invocation = self.scripts.redeliver.prepare_invoke();
        invocation.arg(&self.prefix).arg(id).arg(millis(now));
        let done: i64 = self.run("redeliver", &invocation).await?;
        Ok(done == 1)
    }

    async fn kill_pending(
        &self,
        endpoint_id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, Error> {
        let mut invocation = self.scripts.kill.prepare_invoke();
        invocation
            .arg(&self.prefix)
            .arg(endpoint_id)
            .arg(reason)
            .arg(millis(now));
        self.run("kill pending", &invocation).await
    }

    async fn insert(&self, records: Vec<DeliveryRecord>) -> Result<(), Error> {
        for record in &records {
            let mut invocation = self.scripts.insert.prepare_invoke();
            invocation
                .arg(&self.prefix)
                .arg(&record.id)
                .arg(record.state.as_str())
                .arg(score(record))
                .arg(&record.event_id);
            for (name, value) in fields(record) {
                invocation.arg(name).arg(&value[..]);
            }
            let _: i64 = self.run("insert", &invocation).await?;
        }
        Ok(())
    }

    async fn purge(&self, now: DateTime<Utc>, retention: Retention) -> Result<u64, Error> {
        let mut total = 0_u64;
        for (state, keep) in [("delivered", retention.delivered), ("dead", retention.dead)] {
            let cutoff = millis(before(now, keep));
            loop {
                let mut invocation = self.scripts.purge.prepare_invoke();
                invocation
                    .arg(&self.prefix)
                    .arg(state)
                    .arg(cutoff)
                    .arg(PURGE_BATCH);
                let deleted: u64 = self.run("purge", &invocation).await?;
                total += deleted;
                if deleted < PURGE_BATCH as u64 {
                    break;
                }
            }
        }
        Ok(total)
    }

    async fn stats(&self) -> Result<StoreStats, Error> {
        let mut pipeline = redis::pipe();
        for name in ["due", "ended:delivered", "ended:dead"] {
            pipeline.cmd("ZCARD").arg(format!("{}:{name}", self.prefix));
        }
        let (pending, delivered, dead): (u64, u64, u64) = self.pipeline("stats", &pipeline).await?;
        Ok(StoreStats {
            pending,
            delivered,
            dead,
        })
    }

    async fn queue_stats(&self) -> Result<QueueStats, Error> {
        let mut pipeline = redis::pipe();
        pipeline.cmd("ZCARD").arg(format!("{}:due", self.prefix));
        pipeline
            .cmd("ZRANGE")
            .arg(format!("{}:pending", self.prefix))
            .arg(0)
            .arg(0)
            .arg("WITHSCORES");
        let (pending, oldest): (u64, Vec<(String, f64)>) =
            self.pipeline("queue stats", &pipeline).await?;
        // Scores are unix milliseconds, whole numbers far below 2^53.
        #[allow(clippy::cast_possible_truncation)]
        let oldest_pending_since = oldest
            .first()
            .map(|(_, score)| from_millis(score.round() as i64));
        Ok(QueueStats {
            pending,
            oldest_pending_since,
        })
    }

    async fn outcome_totals(&self) -> Result<OutcomeTotals, Error> {
        let mut totals = OutcomeTotals::default();
        for state in ["delivered", "dead"] {
            let mut start = 0;
            loop {
                let mut invocation = self.scripts.totals.prepare_invoke();
                invocation
                    .arg(&self.prefix)
                    .arg(state)
                    .arg(start)
                    .arg(TOTALS_BATCH);
                let (count, retries, attempted, time): (u64, u64, u64, u64) =
                    self.run("totals", &invocation).await?;
                match state {
                    "delivered" => totals.delivered += count,
                    _ => totals.dead += count,
                }
                totals.retries += retries;
                totals.attempted += attempted;
                totals.delivery_time += Duration::from_millis(time);
                start += TOTALS_BATCH;
                if count < TOTALS_BATCH as u64 {
                    break;
                }
            }
        }
        Ok(totals)
    }

    async fn put_endpoint(&self, id: &str, json: &str) -> Result<(), Error> {
        self.query(
            "put endpoint",
            redis::cmd("HSET")
                .arg(format!("{}:endpoints", self.prefix))
                .arg(id)
                .arg(json),
        )
        .await
        .map(|_: i64| ())
    }

    async fn get_endpoint(&self, id: &str) -> Result<Option<String>, Error> {
        self.query(
            "get endpoint",
            redis::cmd("HGET")
                .arg(format!("{}:endpoints", self.prefix))
                .arg(id),
        )
        .await
    }

    async fn list_endpoints(&self) -> Result<Vec<(String, String)>, Error> {
        let all: HashMap<String, String> = self
            .query(
                "list endpoints",
                redis::cmd("HGETALL").arg(format!("{}:endpoints", self.prefix)),
            )
            .await?;
        let mut all: Vec<(String, String)> = all.into_iter().collect();
        all.sort();
        Ok(all)
    }

    async fn delete_endpoint(&self, id: &str) -> Result<bool, Error> {
        let deleted: i64 = self
            .query(
                "delete endpoint",
                redis::cmd("HDEL")
                    .arg(format!("{}:endpoints", self.prefix))
                    .arg(id),
            )
            .await?;
        Ok(deleted > 0)
    }

    async fn health(&self, endpoint_id: &str) -> Result<EndpointHealth, Error> {
        let text: Option<String> = self
            .query(
                "read health",
                redis::cmd("HGET")
                    .arg(format!("{}:health", self.prefix))
                    .arg(endpoint_id),
            )
            .await?;
        Ok(text.as_deref().map(parse_health).unwrap_or_default())
    }

    async fn put_health(&self, endpoint_id: &str, health: EndpointHealth) -> Result<(), Error> {
        self.query(
            "write health",
            redis::cmd("HSET")
                .arg(format!("{}:health", self.prefix))
                .arg(endpoint_id)
                .arg(health_text(health)),
        )
        .await
        .map(|_: i64| ())
    }

    async fn incidents(&self) -> Result<Vec<IncidentRecord>, Error> {
        let all: HashMap<String, String> = self
            .query(
                "read incidents",
                redis::cmd("HGETALL").arg(format!("{}:incidents", self.prefix)),
            )
            .await?;
        let mut incidents: Vec<IncidentRecord> = all
            .values()
            .filter_map(|text| parse_incident(text))
            .collect();
        incidents.sort_by(|a, b| (&a.endpoint_id, &a.rule).cmp(&(&b.endpoint_id, &b.rule)));
        Ok(incidents)
    }

    async fn put_incident(&self, incident: &IncidentRecord) -> Result<(), Error> {
        self.query(
            "write incident",
            redis::cmd("HSET")
                .arg(format!("{}:incidents", self.prefix))
                .arg(incident_field(&incident.endpoint_id, &incident.rule))
                .arg(incident_text(incident)),
        )
        .await
        .map(|_: i64| ())
    }

    async fn delete_incident(&self, endpoint_id: &str, rule: &str) -> Result<bool, Error> {
        self.query(
            "delete incident",
            redis::cmd("HDEL")
                .arg(format!("{}:incidents", self.prefix))
                .arg(incident_field(endpoint_id, rule)),
        )
        .await
        .map(|deleted: i64| deleted > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persistence_is_checked() {
        assert_eq!(persistence_warnings("", "no", "noeviction").len(), 1);
        assert!(persistence_warnings("3600 1", "no", "noeviction").is_empty());
        assert!(persistence_warnings("", "yes", "noeviction").is_empty());
        let both = persistence_warnings("", "no", "allkeys-lru");
        assert_eq!(both.len(), 2);
        assert!(both[1].contains("evicts"));
    }

    #[test]
    fn passwords_are_scrubbed() {
        assert_eq!(
            url_password("redis://:s%40cret@127.0.0.1:6379/0").as_deref(),
            Some("s@cret")
        );
        assert_eq!(url_password("redis://127.0.0.1:6379"), None);
        assert_eq!(
            scrub("auth s@cret failed".to_owned(), Some("s@cret")),
            "auth <redacted> failed"
        );
    }

    #[test]
    fn attempts_and_health_round_trip() {
        let entry = parse_attempt("2|1000|503|12|endpoint answered 503 | more").unwrap();
        assert_eq!(entry.attempt, 2);
        assert_eq!(entry.status, Some(503));
        assert_eq!(entry.duration, Some(Duration::from_millis(12)));
        assert_eq!(entry.error.as_deref(), Some("endpoint answered 503 | more"));
        let cut = parse_attempt("1|1000|||").unwrap();
        assert_eq!((cut.status, cut.duration, cut.error), (None, None, None));
        assert!(parse_attempt("garbage").is_none());
        let health = EndpointHealth {
            failing_since: Some(from_millis(5)),
            disabled_at: None,
        };
        assert_eq!(parse_health(&health_text(health)), health);
        assert_eq!(parse_health("x|y"), EndpointHealth::default());
    }

    #[test]
    fn an_events_value_holds_ids_or_an_old_publish_time() {
        let ids: Vec<&str> = event_ids("dlv_1,dlv_2").collect();
        assert_eq!(ids, ["dlv_1", "dlv_2"]);
        assert_eq!(event_ids("1764500000000").count(), 0);
        assert_eq!(event_ids("").count(), 0);
    }

    #[test]
    fn rows_are_read_by_position() {
        let mut row: Vec<Option<Vec<u8>>> = FIELDS
            .iter()
            .map(|name| match *name {
                "id" => Some(b"dlv_1".to_vec()),
                "event_id" => Some(b"evt_1".to_vec()),
                "event_name" => Some(b"tool_result".to_vec()),
                "event_timestamp" | "created_at" | "updated_at" | "next_attempt_at" => {
                    Some(b"1000".to_vec())
                }
                "body" => Some(b"{}".to_vec()),
                "endpoint_id" => Some(b"ep_1".to_vec()),
                "state" => Some(b"pending".to_vec()),
                "attempts" => Some(b"2".to_vec()),
                "last_status" => Some(b"503".to_vec()),
                // A cleared field is empty.
                "lease_owner" => Some(Vec::new()),
                _ => None,
            })
            .collect();
        let record = parse_record(row.clone()).unwrap();
        assert_eq!(record.id, "dlv_1");
        assert_eq!(record.endpoint_id, "ep_1");
        assert_eq!(record.attempts, 2);
        assert_eq!(record.last_status, Some(503));
        assert_eq!(record.lease_owner, None);
        assert_eq!(record.body, b"{}");
        row[FIELDS.iter().position(|f| *f == "state").unwrap()] = Some(b"lost".to_vec());
        assert!(parse_record(row.clone()).is_err());
        row.pop();
        assert!(parse_record(row).is_err());
    }

    #[test]
    fn the_lease_script_reads_the_rows_fields() {
        let script = lease_script();
        assert!(script.contains("local FIELDS = {'id', 'event_id',"));
        assert!(script.contains("row[7] ~= 'pending'"));
        assert!(script.contains("row[12] = owner"));
        assert!(!script.contains("{state}"));
    }
}
