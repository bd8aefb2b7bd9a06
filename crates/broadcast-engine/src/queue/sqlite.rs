//! The embedded queue: one SQLite database file in the data directory.
//!
//! One thread owns the connection and runs every command in order. Enqueue commands that
//! arrive while it is busy are committed together in one transaction (group commit), so many
//! concurrent ingest requests share one fsync. The database runs in WAL mode with
//! `synchronous=FULL`, so a committed enqueue survives a process crash and a power loss.

use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;

use async_trait::async_trait;
use broadcast_core::Trace;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use super::{Delivery, DeliveryUpdate, FailedDelivery, NewTrace, QueueError, TraceQueue};

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    "CREATE TABLE traces (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        generation_id TEXT NOT NULL,
        body BLOB NOT NULL,
        size INTEGER NOT NULL,
        enqueued_ms INTEGER NOT NULL
    );
    CREATE TABLE deliveries (
        destination TEXT NOT NULL,
        seq INTEGER NOT NULL REFERENCES traces(seq),
        failed INTEGER NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        first_failure_ms INTEGER,
        next_attempt_ms INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        PRIMARY KEY (destination, seq)
    ) WITHOUT ROWID;
    CREATE INDEX deliveries_due ON deliveries (destination, failed, next_attempt_ms, seq);
    CREATE INDEX deliveries_by_seq ON deliveries (seq);",
];

/// Most enqueue commands committed in one transaction.
const MAX_GROUP_COMMIT: usize = 256;

type Reply<T> = oneshot::Sender<Result<T, QueueError>>;

enum Command {
    Enqueue(Vec<NewTrace>, Reply<()>),
    Ready(String, i64, usize, Reply<Vec<Delivery>>),
    NextDue(String, Reply<Option<i64>>),
    Update(String, Vec<DeliveryUpdate>, Reply<()>),
    PendingCount(String, Reply<u64>),
    Failed(String, usize, usize, Reply<Vec<FailedDelivery>>),
    FailedCount(String, Reply<u64>),
    Redeliver(String, Option<Vec<String>>, Reply<u64>),
    Trim(String, u64, i64, Reply<u64>),
}

fn migrate(connection: &Connection) -> Result<(), QueueError> {
    let applied: usize = connection
        .query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))
        .map_err(storage)?
        .max(0) as usize;
    if applied > MIGRATIONS.len() {
        return Err(QueueError::Storage(format!(
            "the queue database has schema version {applied}, newer than this broadcast ({}); upgrade broadcast or use another data directory",
            MIGRATIONS.len()
        )));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        connection
            .execute_batch(&format!("BEGIN; {migration}; PRAGMA user_version = {}; COMMIT;", index + 1))
            .map_err(storage)?;
    }
    Ok(())
}

/// A [`TraceQueue`] in an SQLite database.
pub struct SqliteQueue {
    commands: mpsc::Sender<Command>,
}

impl SqliteQueue {
    /// Opens (or creates) the queue database at `path`.
    ///
    /// # Errors
    /// [`QueueError::Storage`] when the file cannot be opened or its schema created.
    pub fn open(path: &Path) -> Result<SqliteQueue, QueueError> {
        let connection = Connection::open(path).map_err(storage)?;
        SqliteQueue::start(connection)
    }

    /// Opens a queue that lives in memory only, for one-shot runs such as `broadcast send`.
    ///
    /// # Errors
    /// [`QueueError::Storage`] when SQLite cannot create the schema.
    pub fn in_memory() -> Result<SqliteQueue, QueueError> {
        let connection = Connection::open_in_memory().map_err(storage)?;
        SqliteQueue::start(connection)
    }

    fn start(connection: Connection) -> Result<SqliteQueue, QueueError> {
        connection
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
            )
            .map_err(storage)?;
        migrate(&connection)?;
        let (sender, receiver) = mpsc::channel();
        std::thread::Builder::new()
            .name("broadcast-queue".into())
            .spawn(move || run(connection, receiver))
            .map_err(|error| QueueError::Storage(format!("cannot start queue thread: {error}")))?;
        Ok(SqliteQueue { commands: sender })
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, QueueError> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(make(reply))
            .map_err(|_| QueueError::Closed)?;
        answer.await.map_err(|_| QueueError::Closed)?
    }
}

#[async_trait]
impl TraceQueue for SqliteQueue {
    async fn enqueue(&self, traces: Vec<NewTrace>) -> Result<(), QueueError> {
        self.call(|reply| Command::Enqueue(traces, reply)).await
    }

    async fn ready(
        &self,
        destination: &str,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<Delivery>, QueueError> {
        let destination = destination.to_string();
        self.call(|reply| Command::Ready(destination, now_ms, limit, reply))
            .await
    }

    async fn next_due_ms(&self, destination: &str) -> Result<Option<i64>, QueueError> {
        let destination = destination.to_string();
        self.call(|reply| Command::NextDue(destination, reply)).await
    }

    async fn update(
        &self,
        destination: &str,
        updates: Vec<DeliveryUpdate>,
    ) -> Result<(), QueueError> {
        let destination = destination.to_string();
        self.call(|reply| Command::Update(destination, updates, reply))
            .await
    }

    async fn pending_count(&self, destination: &str) -> Result<u64, QueueError> {
        let destination = destination.to_string();
        self.call(|reply| Command::PendingCount(destination, reply))
            .await
    }

    async fn failed(
        &self,
        destination: &str,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<FailedDelivery>, QueueError> {
        let destination = destination.to_string();
        self.call(|reply| Command::Failed(destination, offset, limit, reply))
            .await
    }

    async fn failed_count(&self, destination: &str) -> Result<u64, QueueError> {
        let destination = destination.to_string();
        self.call(|reply| Command::FailedCount(destination, reply)).await
    }

    async fn redeliver(
        &self,
        destination: &str,
        generation_ids: Option<Vec<String>>,
    ) -> Result<u64, QueueError> {
        let destination = destination.to_string();
        self.call(|reply| Command::Redeliver(destination, generation_ids, reply))
            .await
    }

    async fn trim(
        &self,
        destination: &str,
        max_bytes: u64,
        min_enqueued_ms: i64,
    ) -> Result<u64, QueueError> {
        let destination = destination.to_string();
        self.call(|reply| Command::Trim(destination, max_bytes, min_enqueued_ms, reply))
            .await
    }
}

fn run(mut connection: Connection, commands: mpsc::Receiver<Command>) {
    while let Ok(first) = commands.recv() {
        let mut enqueues = Vec::new();
        let mut next = Some(first);
        while let Some(command) = next.take() {
            match command {
                Command::Enqueue(traces, reply) => enqueues.push((traces, reply)),
                other => {
                    // Commit what was gathered first, so commands keep their order.
                    commit_enqueues(&mut connection, std::mem::take(&mut enqueues));
                    execute(&mut connection, other);
                }
            }
            if enqueues.len() < MAX_GROUP_COMMIT {
                next = commands.try_recv().ok();
            }
        }
        commit_enqueues(&mut connection, enqueues);
    }
}

fn commit_enqueues(connection: &mut Connection, enqueues: Vec<(Vec<NewTrace>, Reply<()>)>) {
    if enqueues.is_empty() {
        return;
    }
    let result = insert_all(connection, enqueues.iter().map(|(traces, _)| traces));
    for (_, reply) in enqueues {
        let _ = reply.send(result.clone().map_err(QueueError::Storage));
    }
}

fn insert_all<'a>(
    connection: &mut Connection,
    groups: impl Iterator<Item = &'a Vec<NewTrace>>,
) -> Result<(), String> {
    let transaction = connection.transaction().map_err(|error| error.to_string())?;
    {
        let mut insert_trace = transaction
            .prepare_cached("INSERT INTO traces (generation_id, body, size, enqueued_ms) VALUES (?1, ?2, ?3, ?4)")
            .map_err(|error| error.to_string())?;
        let mut insert_delivery = transaction
            .prepare_cached("INSERT OR IGNORE INTO deliveries (destination, seq) VALUES (?1, ?2)")
            .map_err(|error| error.to_string())?;
        for new_trace in groups.flatten() {
            if new_trace.destinations.is_empty() {
                continue;
            }
            let body = serde_json::to_vec(&*new_trace.trace).map_err(|error| error.to_string())?;
            let size = body.len() as i64;
            let now_ms = chrono::Utc::now().timestamp_millis();
            insert_trace
                .execute(params![new_trace.trace.ids.generation_id, body, size, now_ms])
                .map_err(|error| error.to_string())?;
            let seq = transaction.last_insert_rowid();
            for destination in &new_trace.destinations {
                insert_delivery
                    .execute(params![destination, seq])
                    .map_err(|error| error.to_string())?;
            }
        }
    }
    transaction.commit().map_err(|error| error.to_string())
}

fn execute(connection: &mut Connection, command: Command) {
    match command {
        Command::Enqueue(traces, reply) => commit_enqueues(connection, vec![(traces, reply)]),
        Command::Ready(destination, now_ms, limit, reply) => {
            let _ = reply.send(ready(connection, &destination, now_ms, limit));
        }
        Command::NextDue(destination, reply) => {
            let result = connection
                .query_row(
                    "SELECT MIN(next_attempt_ms) FROM deliveries WHERE destination = ?1 AND failed = 0",
                    params![destination],
                    |row| row.get::<_, Option<i64>>(0),
                )
                .map_err(storage);
            let _ = reply.send(result);
        }
        Command::Update(destination, updates, reply) => {
            let _ = reply.send(update(connection, &destination, &updates));
        }
        Command::PendingCount(destination, reply) => {
            let result = connection
                .query_row(
                    "SELECT COUNT(*) FROM deliveries WHERE destination = ?1 AND failed = 0",
                    params![destination],
                    |row| row.get::<_, i64>(0),
                )
                .map(|count| count.max(0) as u64)
                .map_err(storage);
            let _ = reply.send(result);
        }
        Command::Failed(destination, offset, limit, reply) => {
            let _ = reply.send(failed(connection, &destination, offset, limit));
        }
        Command::FailedCount(destination, reply) => {
            let result = connection
                .query_row(
                    "SELECT COUNT(*) FROM deliveries WHERE destination = ?1 AND failed = 1",
                    params![destination],
                    |row| row.get::<_, i64>(0),
                )
                .map(|count| count.max(0) as u64)
                .map_err(storage);
            let _ = reply.send(result);
        }
        Command::Redeliver(destination, generation_ids, reply) => {
            let _ = reply.send(redeliver(connection, &destination, generation_ids.as_deref()));
        }
        Command::Trim(destination, max_bytes, min_enqueued_ms, reply) => {
            let _ = reply.send(trim(connection, &destination, max_bytes, min_enqueued_ms));
        }
    }
}

fn ready(
    connection: &Connection,
    destination: &str,
    now_ms: i64,
    limit: usize,
) -> Result<Vec<Delivery>, QueueError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT d.seq, d.attempts, d.first_failure_ms, t.body, t.enqueued_ms
             FROM deliveries d JOIN traces t ON t.seq = d.seq
             WHERE d.destination = ?1 AND d.failed = 0 AND d.next_attempt_ms <= ?2
             ORDER BY d.next_attempt_ms, d.seq LIMIT ?3",
        )
        .map_err(storage)?;
    let rows = statement
        .query_map(params![destination, now_ms, limit as i64], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, u32>(1)?,
                row.get::<_, Option<i64>>(2)?,
                row.get::<_, Vec<u8>>(3)?,
                row.get::<_, i64>(4)?,
            ))
        })
        .map_err(storage)?;
    let mut deliveries = Vec::new();
    for row in rows {
        let (seq, attempts, first_failure_ms, body, enqueued_ms) = row.map_err(storage)?;
        let trace: Trace = serde_json::from_slice(&body).map_err(|error| QueueError::Corrupt {
            seq,
            message: error.to_string(),
        })?;
        deliveries.push(Delivery {
            seq,
            trace: Arc::new(trace),
            attempts,
            first_failure_ms,
            enqueued_ms,
        });
    }
    Ok(deliveries)
}

fn update(
    connection: &mut Connection,
    destination: &str,
    updates: &[DeliveryUpdate],
) -> Result<(), QueueError> {
    let transaction = connection.transaction().map_err(storage)?;
    for update in updates {
        match update {
            DeliveryUpdate::Delivered { seq } => {
                transaction
                    .prepare_cached("DELETE FROM deliveries WHERE destination = ?1 AND seq = ?2")
                    .map_err(storage)?
                    .execute(params![destination, seq])
                    .map_err(storage)?;
                delete_trace_if_done(&transaction, *seq)?;
            }
            DeliveryUpdate::Retry {
                seq,
                attempts,
                first_failure_ms,
                next_attempt_ms,
                error,
            } => {
                transaction
                    .execute(
                        "UPDATE deliveries SET attempts = ?3, first_failure_ms = ?4,
                            next_attempt_ms = ?5, last_error = ?6
                         WHERE destination = ?1 AND seq = ?2",
                        params![destination, seq, attempts, first_failure_ms, next_attempt_ms, error],
                    )
                    .map_err(storage)?;
            }
            DeliveryUpdate::Failed { seq, reason } => {
                transaction
                    .execute(
                        "UPDATE deliveries SET failed = 1, last_error = ?3
                         WHERE destination = ?1 AND seq = ?2",
                        params![destination, seq, reason],
                    )
                    .map_err(storage)?;
            }
        }
    }
    transaction.commit().map_err(storage)
}

fn delete_trace_if_done(connection: &Connection, seq: i64) -> Result<(), QueueError> {
    let remaining: Option<i64> = connection
        .query_row(
            "SELECT 1 FROM deliveries WHERE seq = ?1 LIMIT 1",
            params![seq],
            |row| row.get(0),
        )
        .optional()
        .map_err(storage)?;
    if remaining.is_none() {
        connection
            .execute("DELETE FROM traces WHERE seq = ?1", params![seq])
            .map_err(storage)?;
    }
    Ok(())
}

fn failed(
    connection: &Connection,
    destination: &str,
    offset: usize,
    limit: usize,
) -> Result<Vec<FailedDelivery>, QueueError> {
    let mut statement = connection
        .prepare_cached(
            "SELECT d.seq, t.generation_id, COALESCE(d.last_error, ''), d.attempts
             FROM deliveries d JOIN traces t ON t.seq = d.seq
             WHERE d.destination = ?1 AND d.failed = 1 ORDER BY d.seq LIMIT ?2 OFFSET ?3",
        )
        .map_err(storage)?;
    let rows = statement
        .query_map(params![destination, limit as i64, offset as i64], |row| {
            Ok(FailedDelivery {
                seq: row.get(0)?,
                generation_id: row.get(1)?,
                reason: row.get(2)?,
                attempts: row.get(3)?,
            })
        })
        .map_err(storage)?;
    rows.collect::<Result<_, _>>().map_err(storage)
}

fn redeliver(
    connection: &mut Connection,
    destination: &str,
    generation_ids: Option<&[String]>,
) -> Result<u64, QueueError> {
    let transaction = connection.transaction().map_err(storage)?;
    let changed = match generation_ids {
        None => transaction
            .execute(
                "UPDATE deliveries SET failed = 0, attempts = 0, first_failure_ms = NULL, next_attempt_ms = 0
                 WHERE destination = ?1 AND failed = 1",
                params![destination],
            )
            .map_err(storage)?,
        Some(ids) => {
            let mut changed = 0;
            for id in ids {
                changed += transaction
                    .execute(
                        "UPDATE deliveries SET failed = 0, attempts = 0, first_failure_ms = NULL, next_attempt_ms = 0
                         WHERE destination = ?1 AND failed = 1
                           AND seq IN (SELECT seq FROM traces WHERE generation_id = ?2)",
                        params![destination, id],
                    )
                    .map_err(storage)?;
            }
            changed
        }
    };
    transaction.commit().map_err(storage)?;
    Ok(changed as u64)
}

fn trim(
    connection: &mut Connection,
    destination: &str,
    max_bytes: u64,
    min_enqueued_ms: i64,
) -> Result<u64, QueueError> {
    let transaction = connection.transaction().map_err(storage)?;
    let mut dropped: Vec<i64> = Vec::new();
    {
        // Newest first, so that the running total tells where the byte bound is crossed.
        let mut statement = transaction
            .prepare_cached(
                "SELECT d.seq, t.size, t.enqueued_ms FROM deliveries d JOIN traces t ON t.seq = d.seq
                 WHERE d.destination = ?1 AND d.failed = 0 ORDER BY d.seq DESC",
            )
            .map_err(storage)?;
        let rows = statement
            .query_map(params![destination], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
            })
            .map_err(storage)?;
        let mut total: u64 = 0;
        for row in rows {
            let (seq, size, enqueued_ms) = row.map_err(storage)?;
            total = total.saturating_add(size.max(0) as u64);
            if total > max_bytes || enqueued_ms < min_enqueued_ms {
                dropped.push(seq);
            }
        }
    }
    for seq in &dropped {
        transaction
            .execute(
                "DELETE FROM deliveries WHERE destination = ?1 AND seq = ?2",
                params![destination, seq],
            )
            .map_err(storage)?;
        delete_trace_if_done(&transaction, *seq)?;
    }
    transaction.commit().map_err(storage)?;
    Ok(dropped.len() as u64)
}

fn storage(error: rusqlite::Error) -> QueueError {
    QueueError::Storage(error.to_string())
}
