//! The embedded store: one SQLite file in WAL mode, owned by one dispatcher
//! process at a time.
//!
//! Over 600 lines: one implementation of the [`DeliveryStore`] trait, its
//! schema and its group-commit thread, with its unit tests.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, params};

use super::store::{
    AttemptRecord, AttemptStart, DeliveryPage, DeliveryQuery, DeliveryRecord, DeliveryState,
    DeliveryStore, EndpointHealth, IncidentRecord, OutcomeTotals, PublishBatch, PublishOutcome,
    QueueStats, Retention, SettleRequest, Settlement, StoreStats, after, before, from_millis,
    millis, store_error,
};
use crate::Error;

/// The most requests committed in one transaction.
const GROUP_MAX: usize = 4_096;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY,
    published_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS deliveries (
    id TEXT PRIMARY KEY,
    event_id TEXT NOT NULL,
    event_name TEXT NOT NULL,
    event_timestamp INTEGER NOT NULL,
    body BLOB NOT NULL,
    endpoint_id TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_owner TEXT,
    lease_expires_at INTEGER,
    dead_reason TEXT,
    last_status INTEGER,
    last_error TEXT,
    conflict_since INTEGER,
    restamped_from TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(state, next_attempt_at);
CREATE INDEX IF NOT EXISTS deliveries_event ON deliveries(event_id);
CREATE INDEX IF NOT EXISTS deliveries_ended ON deliveries(state, updated_at);
CREATE TABLE IF NOT EXISTS attempts (
    delivery_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    status INTEGER,
    duration_ms INTEGER,
    error TEXT,
    PRIMARY KEY (delivery_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS endpoints (
    id TEXT PRIMARY KEY,
    document TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS endpoint_health (
    endpoint_id TEXT PRIMARY KEY,
    failing_since INTEGER,
    disabled_at INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS alert_incidents (
    endpoint_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    opened_at INTEGER NOT NULL,
    last_violation_at INTEGER NOT NULL,
    alerted_at INTEGER,
    resolved_at INTEGER,
    detail TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, rule)
) WITHOUT ROWID;
";

/// Columns added after the first schema (an older file gets them at open):
/// `first_attempt_at`, the start of the first attempt since the delivery
/// was last made pending, and `pending_since`, when it was published or
/// redelivered, for the queue gauges and `/api/stats` (docs/design.md
/// section 9.9).
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let present: i64 = conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info('deliveries') WHERE name = 'pending_since'",
        [],
        |row| row.get(0),
    )?;
    if present == 0 {
        conn.execute_batch(
            "ALTER TABLE deliveries ADD COLUMN first_attempt_at INTEGER;
             ALTER TABLE deliveries ADD COLUMN pending_since INTEGER;
             UPDATE deliveries SET pending_since = created_at WHERE state = 'pending';
             UPDATE deliveries SET first_attempt_at = \
                 (SELECT MIN(started_at) FROM attempts WHERE delivery_id = deliveries.id);",
        )?;
    }
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS deliveries_pending_since ON deliveries(pending_since) \
         WHERE state = 'pending';",
    )
}

/// When the oldest pending delivery became pending: one search of the
/// partial index on `pending_since` (named: on a small table the planner
/// would rather sort).
const OLDEST_PENDING: &str = "SELECT pending_since FROM deliveries \
    INDEXED BY deliveries_pending_since WHERE state = 'pending' \
    AND pending_since IS NOT NULL ORDER BY pending_since LIMIT 1";

const COLUMNS: &str = "id, event_id, event_name, event_timestamp, body, endpoint_id, state, \
    attempts, created_at, updated_at, next_attempt_at, lease_owner, lease_expires_at, \
    dead_reason, last_status, last_error, conflict_since, restamped_from";

/// Called after the group's commit with its error, if any.
type Reply = Box<dyn FnOnce(Option<&str>) + Send>;
/// Runs inside the group's transaction.
type Job = Box<dyn FnOnce(&Connection) -> Reply + Send>;

/// A [`DeliveryStore`] in one SQLite file.
///
/// - **One owner.** The file is opened in SQLite's exclusive locking mode:
///   a second store (in this or another process) on the same file fails with
///   [`Error::StoreLocked`]. At open, leases left by a previous (crashed)
///   owner are released, so its deliveries are attempted again at once.
/// - **Durability.** WAL with `synchronous=NORMAL`: a committed publish
///   survives a crash of the process (`kill -9`); a power loss or an
///   operating-system crash can lose the last transactions committed
///   before it (never corrupt the file).
/// - **Group commit.** One thread owns the connection; every request
///   queued while a transaction runs is committed with the next one, and
///   each caller is answered after the commit. Each request runs in its own
///   savepoint, so a publish is all or nothing.
/// - The file is created readable and writable by its owner only (0600).
pub struct SqliteStore {
    path: PathBuf,
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Closing the queue ends the thread after the queued requests; joining
        // it closes the connection, so the file can be opened again at once.
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl SqliteStore {
    /// Opens (or creates) the store at `path`.
    ///
    /// # Errors
    ///
    /// [`Error::StoreLocked`] when another store holds the file,
    /// [`Error::Store`] when it cannot be opened or is not a store.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, Error> {
        let path = path.as_ref().to_path_buf();
        let shown = path.display().to_string();
        create_private(&path).map_err(|e| store_error(format!("cannot create {shown}: {e}")))?;
        let conn = Connection::open(&path).map_err(|e| open_error(&shown, &e))?;
        conn.busy_timeout(Duration::ZERO)
            .map_err(|e| open_error(&shown, &e))?;
        conn.execute_batch("PRAGMA locking_mode = EXCLUSIVE;")
            .map_err(|e| open_error(&shown, &e))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(|e| open_error(&shown, &e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(store_error(format!(
                "{shown}: cannot switch to wal mode (got {mode})"
            )));
        }
        // A checkpoint every 8 000 pages (32 MiB of WAL) rather than 1 000:
        // a row changed several times between checkpoints (publish, lease,
        // attempt, settle) is copied to the file once, and the checkpoint
        // stalls that set the tail latency come an eighth as often. Savepoint
        // journals stay in memory (a group of requests is one transaction of
        // many savepoints). Durability is the WAL's either way.
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; \
             PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 8000;",
        )
        .map_err(|e| open_error(&shown, &e))?;
        // Takes the exclusive lock now (held until the store is dropped).
        conn.execute_batch("BEGIN EXCLUSIVE;")
            .map_err(|e| open_error(&shown, &e))?;
        let setup = conn
            .execute_batch(SCHEMA)
            .and_then(|()| migrate(&conn))
            .and_then(|()| {
                conn.execute(
                    "UPDATE deliveries SET lease_owner = NULL, lease_expires_at = NULL \
                 WHERE lease_owner IS NOT NULL",
                    [],
                )
            });
        if let Err(error) = setup.and_then(|_| conn.execute_batch("COMMIT;")) {
            let _ = conn.execute_batch("ROLLBACK;");
            return Err(open_error(&shown, &error));
        }
        let (jobs, queue) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("megabot-sqlite-store".to_owned())
            .spawn(move || run(&conn, &queue))
            .map_err(|e| store_error(format!("cannot start the store thread: {e}")))?;
        Ok(SqliteStore {
            path,
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in the next group transaction and answers after its commit.
    async fn call<R, F>(&self, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel::<Result<R, Error>>();
        let job: Job = Box::new(move |conn: &Connection| {
            let result = in_savepoint(conn, f);
            Box::new(move |commit_error: Option<&str>| {
                let outcome = match (commit_error, result) {
                    (Some(message), _) => Err(store_error(format!("commit failed: {message}"))),
                    (None, Ok(value)) => Ok(value),
                    (None, Err(error)) => Err(sql_error(&error)),
                };
                let _ = answer.send(outcome);
            })
        });
        let Some(jobs) = &self.jobs else {
            return Err(store_error("the store is closed"));
        };
        jobs.send(job)
            .map_err(|_| store_error("the store thread stopped"))?;
        answered
            .await
            .map_err(|_| store_error("the store thread stopped"))?
    }
}

/// The store thread: takes every queued request, runs them in one
/// transaction, commits, then answers them all.
fn run(conn: &Connection, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < GROUP_MAX {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let begun = conn.execute_batch("BEGIN IMMEDIATE;").or_else(|_| {
            // A transaction left open by a failed commit: end it, try again.
            let _ = conn.execute_batch("ROLLBACK;");
            conn.execute_batch("BEGIN IMMEDIATE;")
        });
        if let Err(error) = begun {
            let message = error.to_string();
            tracing::error!(error = %message, "sqlite store cannot begin a transaction");
            for job in group {
                // Each request runs alone, outside a group transaction.
                let reply = job(conn);
                reply(None);
            }
            continue;
        }
        let replies: Vec<Reply> = group.into_iter().map(|job| job(conn)).collect();
        let commit = conn.execute_batch("COMMIT;").err().map(|e| e.to_string());
        if let Some(message) = &commit {
            tracing::error!(error = %message, "sqlite store commit failed, the group's requests fail");
            let _ = conn.execute_batch("ROLLBACK;");
        }
        for reply in replies {
            reply(commit.as_deref());
        }
    }
}

/// Runs `f` in a savepoint: its writes are kept only when it succeeds.
fn in_savepoint<R>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<R>,
) -> rusqlite::Result<R> {
    conn.prepare_cached("SAVEPOINT request")?.execute([])?;
    match f(conn) {
        Ok(value) => {
            conn.prepare_cached("RELEASE request")?.execute([])?;
            Ok(value)
        }
        Err(error) => {
            let _ = conn.execute_batch("ROLLBACK TO request; RELEASE request;");
            Err(error)
        }
    }
}

/// Creates the file readable by its owner only, if it does not exist.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}

fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _)
            if e.code == ErrorCode::DatabaseBusy || e.code == ErrorCode::DatabaseLocked
    )
}

fn open_error(path: &str, error: &rusqlite::Error) -> Error {
    if is_busy(error) {
        Error::StoreLocked {
            path: path.to_owned(),
        }
    } else {
        store_error(format!("cannot open {path}: {error}"))
    }
}

fn sql_error(error: &rusqlite::Error) -> Error {
    store_error(format!("sqlite: {error}"))
}

fn bad_row(message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        Box::new(std::io::Error::other(message)),
    )
}

fn record(row: &Row<'_>) -> rusqlite::Result<DeliveryRecord> {
    let state: String = row.get(6)?;
    let state = DeliveryState::parse(&state)
        .ok_or_else(|| bad_row(format!("unknown delivery state `{state}`")))?;
    let attempts: i64 = row.get(7)?;
    let status: Option<i64> = row.get(14)?;
    Ok(DeliveryRecord {
        id: row.get(0)?,
        event_id: row.get(1)?,
        event_name: row.get(2)?,
        event_timestamp: row.get(3)?,
        body: row.get(4)?,
        endpoint_id: row.get(5)?,
        state,
        attempts: u32::try_from(attempts).unwrap_or(0),
        created_at: from_millis(row.get(8)?),
        updated_at: from_millis(row.get(9)?),
        next_attempt_at: from_millis(row.get(10)?),
        lease_owner: row.get(11)?,
        lease_expires_at: row.get::<_, Option<i64>>(12)?.map(from_millis),
        dead_reason: row.get(13)?,
        last_status: status.and_then(|s| u16::try_from(s).ok()),
        last_error: row.get(15)?,
        conflict_since: row.get::<_, Option<i64>>(16)?.map(from_millis),
        restamped_from: row.get(17)?,
    })
}

fn insert_record(conn: &Connection, r: &DeliveryRecord) -> rusqlite::Result<usize> {
    let mut statement = conn.prepare_cached(
        "INSERT INTO deliveries (id, event_id, event_name, event_timestamp, body, endpoint_id, \
         state, attempts, created_at, updated_at, next_attempt_at, lease_owner, lease_expires_at, \
         dead_reason, last_status, last_error, conflict_since, restamped_from, pending_since) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL, NULL, ?12, ?13, ?14, ?15, ?16, \
         CASE WHEN ?7 = 'pending' THEN ?9 END) \
         ON CONFLICT (id) DO NOTHING",
    )?;
    statement.execute(params![
        r.id,
        r.event_id,
        r.event_name,
        r.event_timestamp,
        r.body,
        r.endpoint_id,
        r.state.as_str(),
        i64::from(r.attempts),
        millis(r.created_at),
        millis(r.updated_at),
        millis(r.next_attempt_at),
        r.dead_reason,
        r.last_status.map(i64::from),
        r.last_error,
        r.conflict_since.map(millis),
        r.restamped_from,
    ])
}

fn get_record(conn: &Connection, id: &str) -> rusqlite::Result<Option<DeliveryRecord>> {
    conn.prepare_cached(&format!("SELECT {COLUMNS} FROM deliveries WHERE id = ?1"))?
        .query_row([id], record)
        .optional()
}

/// Counts and logs an attempt of a delivery `owner` holds; its number.
fn begin_one(
    conn: &Connection,
    owner: &str,
    start: &AttemptStart,
) -> rusqlite::Result<Option<u32>> {
    let started_at = millis(start.started_at);
    let attempts: Option<i64> = conn
        .prepare_cached(
            "UPDATE deliveries SET attempts = attempts + 1, updated_at = ?3, \
             first_attempt_at = COALESCE(first_attempt_at, ?3) \
             WHERE id = ?1 AND state = 'pending' AND lease_owner = ?2 RETURNING attempts",
        )?
        .query_row(params![start.id, owner, started_at], |row| row.get(0))
        .optional()?;
    let Some(attempts) = attempts else {
        return Ok(None);
    };
    conn.prepare_cached(
        "INSERT INTO attempts (delivery_id, seq, attempt, started_at) VALUES (?1, \
         (SELECT COALESCE(MAX(seq), 0) + 1 FROM attempts WHERE delivery_id = ?1), ?2, ?3)",
    )?
    .execute(params![start.id, attempts, started_at])?;
    Ok(Some(u32::try_from(attempts).unwrap_or(u32::MAX)))
}

/// Leases up to `max` due deliveries to `owner` (see
/// [`DeliveryStore::lease_due`]).
fn lease_rows(
    conn: &Connection,
    owner: &str,
    now: DateTime<Utc>,
    lease: Duration,
    max: usize,
    skip: &[String],
) -> rusqlite::Result<Vec<DeliveryRecord>> {
    let now_ms = millis(now);
    let expires = millis(after(now, lease));
    // Saturated endpoints are left out in SQL: their due backlog is
    // skipped by the index scan, not copied out row by row.
    let placeholders: Vec<String> = (0..skip.len()).map(|i| format!("?{}", i + 3)).collect();
    let skip_clause = if skip.is_empty() {
        String::new()
    } else {
        format!("AND endpoint_id NOT IN ({}) ", placeholders.join(", "))
    };
    let mut values: Vec<Value> = vec![
        Value::Integer(now_ms),
        Value::Integer(i64::try_from(max).unwrap_or(i64::MAX)),
    ];
    values.extend(skip.iter().cloned().map(Value::Text));
    let mut chosen = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM deliveries WHERE state = 'pending' \
             AND next_attempt_at <= ?1 \
             AND (lease_expires_at IS NULL OR lease_expires_at <= ?1) \
             {skip_clause}ORDER BY next_attempt_at LIMIT ?2"
        ))?
        .query_map(rusqlite::params_from_iter(values), record)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut update = conn.prepare_cached(
        "UPDATE deliveries SET lease_owner = ?2, lease_expires_at = ?3 WHERE id = ?1",
    )?;
    for record in &mut chosen {
        update.execute(params![record.id, owner, expires])?;
        record.lease_owner = Some(owner.to_owned());
        record.lease_expires_at = Some(from_millis(expires));
    }
    Ok(chosen)
}

/// Settles a delivery `owner` holds: the attempt's outcome (in its log and
/// on the row) and the settlement in one update; `false` when not held.
fn settle_one(conn: &Connection, owner: &str, request: &SettleRequest) -> rusqlite::Result<bool> {
    let id = &request.id;
    let now_ms = millis(request.now);
    // Without an attempt, the last status and error stay as they are.
    let (attempted, status, error) = match &request.attempt {
        Some(result) => (true, result.status.map(i64::from), result.error.clone()),
        None => (false, None, None),
    };
    let changed = match &request.settlement {
        Settlement::Delivered => conn
            .prepare_cached(
                "UPDATE deliveries SET state = 'delivered', updated_at = ?3, \
                 last_status = CASE WHEN ?4 THEN ?5 ELSE last_status END, \
                 last_error = CASE WHEN ?4 THEN ?6 ELSE last_error END, \
                 lease_owner = NULL, lease_expires_at = NULL, conflict_since = NULL \
                 WHERE id = ?1 AND state = 'pending' AND lease_owner = ?2",
            )?
            .execute(params![id, owner, now_ms, attempted, status, error])?,
        Settlement::Dead { reason } => conn
            .prepare_cached(
                "UPDATE deliveries SET state = 'dead', updated_at = ?3, dead_reason = ?7, \
                 last_status = CASE WHEN ?4 THEN ?5 ELSE last_status END, \
                 last_error = CASE WHEN ?4 THEN ?6 ELSE last_error END, \
                 lease_owner = NULL, lease_expires_at = NULL, conflict_since = NULL \
                 WHERE id = ?1 AND state = 'pending' AND lease_owner = ?2",
            )?
            .execute(params![id, owner, now_ms, attempted, status, error, reason])?,
        Settlement::Retry {
            next_attempt_at,
            refund_attempt,
            conflict_since,
        } => conn
            .prepare_cached(
                "UPDATE deliveries SET updated_at = ?3, next_attempt_at = ?7, \
                 last_status = CASE WHEN ?4 THEN ?5 ELSE last_status END, \
                 last_error = CASE WHEN ?4 THEN ?6 ELSE last_error END, \
                 attempts = MAX(0, attempts - ?8), conflict_since = ?9, \
                 lease_owner = NULL, lease_expires_at = NULL \
                 WHERE id = ?1 AND state = 'pending' AND lease_owner = ?2",
            )?
            .execute(params![
                id,
                owner,
                now_ms,
                attempted,
                status,
                error,
                millis(*next_attempt_at),
                i64::from(*refund_attempt),
                conflict_since.map(millis)
            ])?,
    };
    if changed == 0 {
        return Ok(false);
    }
    match &request.attempt {
        Some(result) => {
            conn.prepare_cached(
                "UPDATE attempts SET status = ?2, duration_ms = ?3, error = ?4 \
                 WHERE delivery_id = ?1 AND seq = \
                 (SELECT MAX(seq) FROM attempts WHERE delivery_id = ?1)",
            )?
            .execute(params![
                id,
                result.status.map(i64::from),
                duration_ms(result.duration),
                result.error
            ])?;
        }
        None => {
            // The attempt started with the lease was not made: its start
            // is taken back.
            let taken_back = conn
                .prepare_cached(
                    "DELETE FROM attempts WHERE delivery_id = ?1 AND seq = \
                     (SELECT MAX(seq) FROM attempts WHERE delivery_id = ?1) \
                     AND status IS NULL AND duration_ms IS NULL AND error IS NULL",
                )?
                .execute(params![id])?;
            if taken_back > 0 {
                conn.prepare_cached(
                    "UPDATE deliveries SET attempts = MAX(0, attempts - 1), \
                     first_attempt_at = CASE WHEN attempts <= 1 THEN NULL \
                     ELSE first_attempt_at END WHERE id = ?1",
                )?
                .execute(params![id])?;
            }
        }
    }
    Ok(true)
}

fn duration_ms(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[async_trait::async_trait]
impl DeliveryStore for SqliteStore {
    async fn publish(&self, batch: PublishBatch) -> Result<PublishOutcome, Error> {
        self.call(move |conn| {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO events (event_id, published_at) VALUES (?1, ?2) \
                     ON CONFLICT (event_id) DO NOTHING",
                )?
                .execute(params![batch.event_id, millis(batch.now)])?;
            if inserted == 0 {
                let mut statement = conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM deliveries WHERE event_id = ?1 ORDER BY id"
                ))?;
                let deliveries = statement
                    .query_map([&batch.event_id], record)?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                return Ok(PublishOutcome {
                    created: false,
                    deliveries,
                });
            }
            for delivery in &batch.deliveries {
                insert_record(conn, delivery)?;
            }
            Ok(PublishOutcome {
                created: true,
                deliveries: batch.deliveries,
            })
        })
        .await
    }

    async fn lease_due(
        &self,
        owner: &str,
        now: DateTime<Utc>,
        lease: Duration,
        max: usize,
        skip_endpoints: &[String],
    ) -> Result<Vec<DeliveryRecord>, Error> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let owner = owner.to_owned();
        let skip = skip_endpoints.to_vec();
        self.call(move |conn| lease_rows(conn, &owner, now, lease, max, &skip))
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
        if max == 0 {
            return Ok(Vec::new());
        }
        let owner = owner.to_owned();
        let skip = skip_endpoints.to_vec();
        self.call(move |conn| {
            let leased = lease_rows(conn, &owner, now, lease, max, &skip)?;
            let mut started = Vec::with_capacity(leased.len());
            for mut record in leased {
                let start = AttemptStart {
                    id: record.id.clone(),
                    started_at: now,
                };
                if let Some(number) = begin_one(conn, &owner, &start)? {
                    record.attempts = number;
                    record.updated_at = now;
                    started.push(record);
                }
            }
            Ok(started)
        })
        .await
    }

    async fn renew_leases(
        &self,
        owner: &str,
        ids: &[String],
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Vec<String>, Error> {
        let owner = owner.to_owned();
        let ids = ids.to_vec();
        self.call(move |conn| {
            let expires = millis(after(now, lease));
            let mut update = conn.prepare_cached(
                "UPDATE deliveries SET lease_expires_at = ?3 \
                 WHERE id = ?1 AND lease_owner = ?2 AND state = 'pending'",
            )?;
            let mut held = Vec::with_capacity(ids.len());
            for id in ids {
                if update.execute(params![id, owner, expires])? > 0 {
                    held.push(id);
                }
            }
            Ok(held)
        })
        .await
    }

    async fn begin_attempts(
        &self,
        owner: &str,
        starts: Vec<AttemptStart>,
    ) -> Result<Vec<Option<u32>>, Error> {
        let owner = owner.to_owned();
        self.call(move |conn| {
            starts
                .iter()
                .map(|start| begin_one(conn, &owner, start))
                .collect()
        })
        .await
    }

    async fn settle_many(
        &self,
        owner: &str,
        requests: Vec<SettleRequest>,
    ) -> Result<Vec<bool>, Error> {
        let owner = owner.to_owned();
        self.call(move |conn| {
            requests
                .iter()
                .map(|request| settle_one(conn, &owner, request))
                .collect()
        })
        .await
    }

    async fn release(
        &self,
        id: &str,
        owner: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let id = id.to_owned();
        let owner = owner.to_owned();
        self.call(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE deliveries SET next_attempt_at = ?3, lease_owner = NULL, \
                     lease_expires_at = NULL \
                     WHERE id = ?1 AND lease_owner = ?2 AND state = 'pending'",
                )?
                .execute(params![id, owner, millis(next_attempt_at)])?;
            Ok(changed > 0)
        })
        .await
    }

    async fn get(&self, id: &str) -> Result<Option<DeliveryRecord>, Error> {
        let id = id.to_owned();
        self.call(move |conn| get_record(conn, &id)).await
    }

    async fn attempts(&self, id: &str) -> Result<Vec<AttemptRecord>, Error> {
        let id = id.to_owned();
        self.call(move |conn| {
            let mut statement = conn.prepare_cached(
                "SELECT attempt, started_at, status, duration_ms, error FROM attempts \
                 WHERE delivery_id = ?1 ORDER BY seq",
            )?;
            statement
                .query_map([id], |row| {
                    let attempt: i64 = row.get(0)?;
                    let status: Option<i64> = row.get(2)?;
                    let duration: Option<i64> = row.get(3)?;
                    Ok(AttemptRecord {
                        attempt: u32::try_from(attempt).unwrap_or(0),
                        started_at: from_millis(row.get(1)?),
                        status: status.and_then(|s| u16::try_from(s).ok()),
                        duration: duration
                            .map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
                        error: row.get(4)?,
                    })
                })?
                .collect()
        })
        .await
    }

    async fn list(&self, query: &DeliveryQuery) -> Result<DeliveryPage, Error> {
        let query = query.clone();
        self.call(move |conn| {
            let mut clauses = Vec::new();
            let mut values: Vec<Value> = Vec::new();
            let mut push = |clause: &str, value: Value| {
                values.push(value);
                clauses.push(clause.replace('?', &format!("?{}", values.len())));
            };
            if let Some(endpoint) = &query.endpoint_id {
                push("endpoint_id = ?", Value::Text(endpoint.clone()));
            }
            if let Some(event) = &query.event_id {
                push("event_id = ?", Value::Text(event.clone()));
            }
            if let Some(state) = query.state {
                push("state = ?", Value::Text(state.as_str().to_owned()));
            }
            if let Some(since) = query.since {
                push("created_at >= ?", Value::Integer(millis(since)));
            }
            if let Some(until) = query.until {
                push("created_at < ?", Value::Integer(millis(until)));
            }
            if let Some(cursor) = &query.cursor {
                push("id > ?", Value::Text(cursor.clone()));
            }
            let size = query.page_size();
            let filter = if clauses.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", clauses.join(" AND "))
            };
            let sql = format!(
                "SELECT {COLUMNS} FROM deliveries {filter} ORDER BY id LIMIT {}",
                size + 1
            );
            let mut statement = conn.prepare(&sql)?;
            let mut deliveries = statement
                .query_map(rusqlite::params_from_iter(values), record)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
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
        })
        .await
    }

    async fn redeliver(&self, id: &str, now: DateTime<Utc>) -> Result<bool, Error> {
        let id = id.to_owned();
        self.call(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?2, \
                     updated_at = ?2, dead_reason = NULL, conflict_since = NULL, \
                     pending_since = ?2, first_attempt_at = NULL, \
                     lease_owner = NULL, lease_expires_at = NULL WHERE id = ?1 AND state = 'dead'",
                )?
                .execute(params![id, millis(now)])?;
            Ok(changed > 0)
        })
        .await
    }

    async fn kill_pending(
        &self,
        endpoint_id: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, Error> {
        let endpoint_id = endpoint_id.to_owned();
        let reason = reason.to_owned();
        self.call(move |conn| {
            let changed = conn.execute(
                "UPDATE deliveries SET state = 'dead', dead_reason = ?2, updated_at = ?3, \
                 lease_owner = NULL, lease_expires_at = NULL, conflict_since = NULL \
                 WHERE endpoint_id = ?1 AND state = 'pending'",
                params![endpoint_id, reason, millis(now)],
            )?;
            Ok(u64::try_from(changed).unwrap_or(0))
        })
        .await
    }

    async fn insert(&self, records: Vec<DeliveryRecord>) -> Result<(), Error> {
        self.call(move |conn| {
            for record in &records {
                insert_record(conn, record)?;
            }
            Ok(())
        })
        .await
    }

    async fn purge(&self, now: DateTime<Utc>, retention: Retention) -> Result<u64, Error> {
        self.call(move |conn| {
            let delivered = millis(before(now, retention.delivered));
            let dead = millis(before(now, retention.dead));
            let ended = "(state = 'delivered' AND updated_at < ?1) OR (state = 'dead' AND updated_at < ?2)";
            conn.execute(
                &format!(
                    "DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries WHERE {ended})"
                ),
                params![delivered, dead],
            )?;
            let deleted = conn.execute(
                &format!("DELETE FROM deliveries WHERE {ended}"),
                params![delivered, dead],
            )?;
            conn.execute(
                "DELETE FROM events WHERE published_at < ?1 AND NOT EXISTS \
                 (SELECT 1 FROM deliveries WHERE deliveries.event_id = events.event_id)",
                params![delivered.min(dead)],
            )?;
            Ok(u64::try_from(deleted).unwrap_or(0))
        })
        .await
    }

    async fn stats(&self) -> Result<StoreStats, Error> {
        self.call(|conn| {
            let mut stats = StoreStats::default();
            let mut statement =
                conn.prepare_cached("SELECT state, COUNT(*) FROM deliveries GROUP BY state")?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                let state: String = row.get(0)?;
                let count: i64 = row.get(1)?;
                let count = u64::try_from(count).unwrap_or(0);
                match DeliveryState::parse(&state) {
                    Some(DeliveryState::Pending) => stats.pending = count,
                    Some(DeliveryState::Delivered) => stats.delivered = count,
                    Some(DeliveryState::Dead) => stats.dead = count,
                    None => {}
                }
            }
            Ok(stats)
        })
        .await
    }

    async fn queue_stats(&self) -> Result<QueueStats, Error> {
        self.call(|conn| {
            let pending: i64 = conn
                .prepare_cached("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'")?
                .query_row([], |row| row.get(0))?;
            let oldest: Option<i64> = conn
                .prepare_cached(OLDEST_PENDING)?
                .query_row([], |row| row.get(0))
                .optional()?;
            Ok(QueueStats {
                pending: u64::try_from(pending).unwrap_or(0),
                oldest_pending_since: oldest.map(from_millis),
            })
        })
        .await
    }

    async fn outcome_totals(&self) -> Result<OutcomeTotals, Error> {
        self.call(|conn| {
            let mut totals = OutcomeTotals::default();
            let mut statement = conn.prepare_cached(
                "SELECT state, COUNT(*), SUM(MAX(attempts - 1, 0)), COUNT(first_attempt_at), \
                 SUM(CASE WHEN first_attempt_at IS NULL THEN 0 \
                     ELSE MAX(updated_at - first_attempt_at, 0) END) \
                 FROM deliveries WHERE state IN ('delivered', 'dead') GROUP BY state",
            )?;
            let mut rows = statement.query([])?;
            let count = |value: Option<i64>| u64::try_from(value.unwrap_or(0)).unwrap_or(0);
            while let Some(row) = rows.next()? {
                let state: String = row.get(0)?;
                let ended = count(row.get(1)?);
                match DeliveryState::parse(&state) {
                    Some(DeliveryState::Delivered) => totals.delivered = ended,
                    Some(DeliveryState::Dead) => totals.dead = ended,
                    _ => continue,
                }
                totals.retries += count(row.get(2)?);
                totals.attempted += count(row.get(3)?);
                totals.delivery_time += Duration::from_millis(count(row.get(4)?));
            }
            Ok(totals)
        })
        .await
    }

    async fn put_endpoint(&self, id: &str, json: &str) -> Result<(), Error> {
        let id = id.to_owned();
        let json = json.to_owned();
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO endpoints (id, document) VALUES (?1, ?2) \
                 ON CONFLICT (id) DO UPDATE SET document = excluded.document",
                params![id, json],
            )
            .map(drop)
        })
        .await
    }

    async fn get_endpoint(&self, id: &str) -> Result<Option<String>, Error> {
        let id = id.to_owned();
        self.call(move |conn| {
            conn.query_row(
                "SELECT document FROM endpoints WHERE id = ?1",
                [id],
                |row| row.get(0),
            )
            .optional()
        })
        .await
    }

    async fn list_endpoints(&self) -> Result<Vec<(String, String)>, Error> {
        self.call(|conn| {
            let mut statement = conn.prepare("SELECT id, document FROM endpoints ORDER BY id")?;
            statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
        .await
    }

    async fn delete_endpoint(&self, id: &str) -> Result<bool, Error> {
        let id = id.to_owned();
        self.call(move |conn| {
            conn.execute("DELETE FROM endpoints WHERE id = ?1", [id])
                .map(|n| n > 0)
        })
        .await
    }

    async fn health(&self, endpoint_id: &str) -> Result<EndpointHealth, Error> {
        let id = endpoint_id.to_owned();
        self.call(move |conn| {
            conn.query_row(
                "SELECT failing_since, disabled_at FROM endpoint_health WHERE endpoint_id = ?1",
                [id],
                |row| {
                    Ok(EndpointHealth {
                        failing_since: row.get::<_, Option<i64>>(0)?.map(from_millis),
                        disabled_at: row.get::<_, Option<i64>>(1)?.map(from_millis),
                    })
                },
            )
            .optional()
            .map(Option::unwrap_or_default)
        })
        .await
    }

    async fn put_health(&self, endpoint_id: &str, health: EndpointHealth) -> Result<(), Error> {
        let id = endpoint_id.to_owned();
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO endpoint_health (endpoint_id, failing_since, disabled_at) \
                 VALUES (?1, ?2, ?3) ON CONFLICT (endpoint_id) DO UPDATE SET \
                 failing_since = excluded.failing_since, disabled_at = excluded.disabled_at",
                params![
                    id,
                    health.failing_since.map(millis),
                    health.disabled_at.map(millis)
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn incidents(&self) -> Result<Vec<IncidentRecord>, Error> {
        self.call(|conn| {
            let mut statement = conn.prepare(
                "SELECT endpoint_id, rule, opened_at, last_violation_at, alerted_at, \
                 resolved_at, detail FROM alert_incidents ORDER BY endpoint_id, rule",
            )?;
            let rows = statement.query_map([], |row| {
                Ok(IncidentRecord {
                    endpoint_id: row.get(0)?,
                    rule: row.get(1)?,
                    opened_at: from_millis(row.get(2)?),
                    last_violation_at: from_millis(row.get(3)?),
                    alerted_at: row.get::<_, Option<i64>>(4)?.map(from_millis),
                    resolved_at: row.get::<_, Option<i64>>(5)?.map(from_millis),
                    detail: row.get(6)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn put_incident(&self, incident: &IncidentRecord) -> Result<(), Error> {
        let incident = incident.clone();
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO alert_incidents (endpoint_id, rule, opened_at, last_violation_at, \
                 alerted_at, resolved_at, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                 ON CONFLICT (endpoint_id, rule) DO UPDATE SET opened_at = excluded.opened_at, \
                 last_violation_at = excluded.last_violation_at, alerted_at = excluded.alerted_at, \
                 resolved_at = excluded.resolved_at, detail = excluded.detail",
                params![
                    incident.endpoint_id,
                    incident.rule,
                    millis(incident.opened_at),
                    millis(incident.last_violation_at),
                    incident.alerted_at.map(millis),
                    incident.resolved_at.map(millis),
                    incident.detail
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn delete_incident(&self, endpoint_id: &str, rule: &str) -> Result<bool, Error> {
        let (endpoint_id, rule) = (endpoint_id.to_owned(), rule.to_owned());
        self.call(move |conn| {
            conn.execute(
                "DELETE FROM alert_incidents WHERE endpoint_id = ?1 AND rule = ?2",
                params![endpoint_id, rule],
            )
            .map(|deleted| deleted > 0)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatcher::store::AttemptResult;

    fn record(id: &str, event: &str) -> DeliveryRecord {
        let now = from_millis(1_000_000);
        DeliveryRecord {
            id: id.to_owned(),
            event_id: event.to_owned(),
            event_name: "e".to_owned(),
            event_timestamp: 1_000,
            body: b"{}".to_vec(),
            endpoint_id: "cfg_0".to_owned(),
            state: DeliveryState::Pending,
            attempts: 0,
            created_at: now,
            updated_at: now,
            next_attempt_at: now,
            lease_owner: None,
            lease_expires_at: None,
            dead_reason: None,
            last_status: None,
            last_error: None,
            conflict_since: None,
            restamped_from: None,
        }
    }

    #[tokio::test]
    async fn publish_lease_settle_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("s.sqlite3")).unwrap();
        let now = from_millis(1_000_000);
        let batch = PublishBatch {
            event_id: "evt_1".to_owned(),
            now,
            deliveries: vec![record("dlv_1", "evt_1"), record("dlv_2", "evt_1")],
        };
        assert!(store.publish(batch.clone()).await.unwrap().created);
        let again = store.publish(batch).await.unwrap();
        assert!(!again.created);
        assert_eq!(again.deliveries.len(), 2);
        let leased = store
            .lease_due("a", now, Duration::from_secs(30), 10, &[])
            .await
            .unwrap();
        assert_eq!(leased.len(), 2);
        assert!(
            store
                .lease_due("b", now, Duration::from_secs(30), 10, &[])
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.begin_attempt("dlv_1", "b", now).await.unwrap(), None);
        assert_eq!(
            store.begin_attempt("dlv_1", "a", now).await.unwrap(),
            Some(1)
        );
        assert!(
            !store
                .settle("dlv_1", "b", now, None, Settlement::Delivered)
                .await
                .unwrap()
        );
        let result = AttemptResult {
            attempt: 1,
            status: Some(200),
            duration: Duration::from_millis(3),
            error: None,
        };
        assert!(
            store
                .settle("dlv_1", "a", now, Some(result), Settlement::Delivered)
                .await
                .unwrap()
        );
        let attempts = store.attempts("dlv_1").await.unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].status, Some(200));
        let stats = store.stats().await.unwrap();
        assert_eq!((stats.pending, stats.delivered), (1, 1));
    }

    #[tokio::test]
    async fn a_file_of_the_first_schema_gets_the_metrics_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite3");
        {
            // A file as the first schema wrote it: a pending row, and a
            // delivered one whose first attempt started 4 s before its end.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            insert_old(&conn, &record("dlv_p", "evt_p"));
            let mut done = record("dlv_d", "evt_d");
            done.state = DeliveryState::Delivered;
            done.attempts = 2;
            done.updated_at = from_millis(1_004_000);
            insert_old(&conn, &done);
            conn.execute(
                "INSERT INTO attempts (delivery_id, seq, attempt, started_at) \
                 VALUES ('dlv_d', 1, 1, 1000000), ('dlv_d', 2, 2, 1002000)",
                [],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let queue = store.queue_stats().await.unwrap();
        assert_eq!(queue.pending, 1);
        assert_eq!(queue.oldest_pending_since, Some(from_millis(1_000_000)));
        let totals = store.outcome_totals().await.unwrap();
        assert_eq!((totals.delivered, totals.dead, totals.retries), (1, 0, 1));
        assert_eq!(totals.attempted, 1);
        assert_eq!(totals.delivery_time, Duration::from_secs(4));
        drop(store);
        // Opening again changes nothing more.
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.queue_stats().await.unwrap(), queue);
        assert_eq!(store.outcome_totals().await.unwrap(), totals);
    }

    /// Inserts `r` with the columns of the first schema only.
    fn insert_old(conn: &Connection, r: &DeliveryRecord) {
        conn.execute(
            &format!(
                "INSERT INTO deliveries ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, \
                 ?10, ?11, NULL, NULL, NULL, NULL, NULL, NULL, NULL)"
            ),
            params![
                r.id,
                r.event_id,
                r.event_name,
                r.event_timestamp,
                r.body,
                r.endpoint_id,
                r.state.as_str(),
                i64::from(r.attempts),
                millis(r.created_at),
                millis(r.updated_at),
                millis(r.next_attempt_at),
            ],
        )
        .unwrap();
    }

    #[tokio::test]
    async fn queue_index_answers_the_oldest_pending() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("s.sqlite3")).unwrap();
        let plan: Vec<String> = store
            .call(|conn| {
                let mut statement =
                    conn.prepare(&format!("EXPLAIN QUERY PLAN {OLDEST_PENDING}"))?;
                statement
                    .query_map([], |row| row.get::<_, String>(3))?
                    .collect()
            })
            .await
            .unwrap();
        // One index search, no sort.
        assert_eq!(
            plan,
            ["SEARCH deliveries USING COVERING INDEX deliveries_pending_since (pending_since>?)"],
        );
    }

    #[tokio::test]
    async fn a_failing_request_leaves_nothing_and_others_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("s.sqlite3")).unwrap();
        let failing = store.call(|conn| {
            insert_record(conn, &record("dlv_half", "evt_h"))?;
            Err::<(), _>(rusqlite::Error::InvalidQuery)
        });
        let fine = store.call(|conn| insert_record(conn, &record("dlv_ok", "evt_o")));
        let (failing, fine) = tokio::join!(failing, fine);
        assert_eq!(failing.unwrap_err().code(), "store");
        assert_eq!(fine.unwrap(), 1);
        assert!(store.get("dlv_half").await.unwrap().is_none());
        assert!(store.get("dlv_ok").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn leasing_skips_saturated_endpoints_and_takes_the_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("s.sqlite3")).unwrap();
        let now = from_millis(1_000_000);
        let mut rows = Vec::new();
        for (i, endpoint) in ["cfg_0", "cfg_1", "cfg_0", "cfg_1"].iter().enumerate() {
            let mut row = record(&format!("dlv_{i}"), "evt_s");
            row.endpoint_id = (*endpoint).to_owned();
            row.next_attempt_at = from_millis(1_000_000 - 10 * i64::try_from(i).unwrap());
            rows.push(row);
        }
        store.insert(rows).await.unwrap();
        let skip = ["cfg_0".to_owned()];
        let leased = store
            .lease_due("a", now, Duration::from_secs(30), 10, &skip)
            .await
            .unwrap();
        let ids: Vec<_> = leased.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["dlv_3", "dlv_1"]);
        let leased = store
            .lease_due("a", now, Duration::from_secs(30), 1, &[])
            .await
            .unwrap();
        assert_eq!(leased[0].id, "dlv_2");
    }
}
