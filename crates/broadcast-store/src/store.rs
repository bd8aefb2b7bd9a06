//! Destinations per account in an SQLite database, with secrets sealed at rest.
//!
//! Rows are soft-deleted: a deleted destination stops receiving traces, but its row (and its
//! delivery history in the queue) stays readable. The connection sits behind a mutex, and
//! every call runs on the blocking thread pool; management traffic is light, so one
//! connection is enough.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use broadcast_core::PrivacyMode;
use broadcast_engine::rules::FilterRules;
use broadcast_engine::{DestinationSpec, DestinationStore, StoreError};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;

use crate::crypto::KeyRing;
use crate::secrets::{has_sealed, open_config, seal_config};

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &["CREATE TABLE destinations (
        id TEXT PRIMARY KEY,
        account_id TEXT NOT NULL,
        type TEXT NOT NULL,
        name TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        privacy_mode INTEGER NOT NULL,
        sampling_rate REAL NOT NULL,
        api_key_hashes TEXT,
        filter_rules TEXT,
        config TEXT NOT NULL,
        secret_fields TEXT NOT NULL,
        skip_connection_test INTEGER NOT NULL DEFAULT 0,
        managed_by_config INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        deleted_at TEXT
    );
    CREATE INDEX destinations_by_account ON destinations (account_id, deleted_at, created_at);"];

/// One destination as stored, with its secrets in plain text (in memory only).
#[derive(Debug, Clone, PartialEq)]
pub struct DestinationRecord {
    pub id: String,
    pub account_id: String,
    pub type_name: String,
    pub name: String,
    pub enabled: bool,
    pub privacy_mode: bool,
    pub sampling_rate: f64,
    pub api_key_hashes: Option<Vec<String>>,
    pub filter_rules: Option<FilterRules>,
    pub config: Value,
    /// Config keys that hold secrets, from the type's schema.
    pub secret_fields: Vec<String>,
    /// Whether it was saved without a passing connection test, at the caller's request.
    pub skip_connection_test: bool,
    /// Whether the config file defines it; such destinations are read-only through the API.
    pub managed_by_config: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

impl DestinationRecord {
    /// The spec the engine runs.
    pub fn spec(&self) -> DestinationSpec {
        DestinationSpec {
            key: self.id.clone(),
            account_id: self.account_id.clone(),
            name: self.name.clone(),
            type_name: self.type_name.clone(),
            enabled: self.enabled,
            privacy: PrivacyMode::from_flag(self.privacy_mode),
            sampling_rate: self.sampling_rate,
            api_key_hashes: self.api_key_hashes.clone(),
            filter_rules: self.filter_rules.clone(),
            config: self.config.clone(),
        }
    }
}

/// Why the store failed. Never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum DestinationStoreError {
    #[error("destination store failed: {0}")]
    Storage(String),
    #[error(transparent)]
    Crypto(#[from] crate::crypto::CryptoError),
    #[error("the destination store holds encrypted secrets but no secret key is configured; set BROADCAST_SECRET_KEY or server.secret_key_file to the key they were sealed with")]
    KeyRequired,
}

fn storage(error: impl std::fmt::Display) -> DestinationStoreError {
    DestinationStoreError::Storage(error.to_string())
}

/// The SQLite destination store.
#[derive(Clone)]
pub struct SqliteDestinationStore {
    connection: Arc<Mutex<Connection>>,
    keys: Option<KeyRing>,
}

impl SqliteDestinationStore {
    /// Opens (or creates) the store at `path`, sealing secrets with `keys`.
    ///
    /// # Errors
    /// [`DestinationStoreError::KeyRequired`] when stored secrets exist and `keys` is `None`,
    /// [`DestinationStoreError::Crypto`] when a stored secret cannot be opened with `keys`, and
    /// [`DestinationStoreError::Storage`] for database errors.
    pub fn open(path: &Path, keys: Option<KeyRing>) -> Result<SqliteDestinationStore, DestinationStoreError> {
        let connection = Connection::open(path).map_err(storage)?;
        connection
            .execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
            .map_err(storage)?;
        migrate(&connection)?;
        let store = SqliteDestinationStore {
            connection: Arc::new(Mutex::new(connection)),
            keys,
        };
        store.check_keys()?;
        Ok(store)
    }

    /// Checks that every stored secret opens with the configured keys.
    fn check_keys(&self) -> Result<(), DestinationStoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare("SELECT config FROM destinations").map_err(storage)?;
        let configs = statement
            .query_map([], |row| row.get::<_, String>(0))
            .map_err(storage)?;
        for config in configs {
            let config: Value = serde_json::from_str(&config.map_err(storage)?).map_err(storage)?;
            if has_sealed(&config) && self.keys.is_none() {
                return Err(DestinationStoreError::KeyRequired);
            }
            open_config(&config, self.keys.as_ref())?;
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&SqliteDestinationStore) -> Result<T, DestinationStoreError> + Send + 'static,
    ) -> Result<T, DestinationStoreError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .map_err(|error| DestinationStoreError::Storage(format!("store task failed: {error}")))?
    }

    /// Lists an account's destinations that are not deleted, oldest first.
    ///
    /// # Errors
    /// [`DestinationStoreError`] on database or decryption errors.
    pub async fn list(&self, account_id: &str, offset: usize, limit: usize) -> Result<(Vec<DestinationRecord>, u64), DestinationStoreError> {
        let account_id = account_id.to_string();
        self.blocking(move |store| {
            let connection = store.lock();
            let total: i64 = connection
                .query_row(
                    "SELECT COUNT(*) FROM destinations WHERE account_id = ?1 AND deleted_at IS NULL",
                    params![account_id],
                    |row| row.get(0),
                )
                .map_err(storage)?;
            let mut statement = connection
                .prepare(
                    "SELECT * FROM destinations WHERE account_id = ?1 AND deleted_at IS NULL
                     ORDER BY created_at, id LIMIT ?2 OFFSET ?3",
                )
                .map_err(storage)?;
            let rows = statement
                .query_map(params![account_id, limit as i64, offset as i64], read_row)
                .map_err(storage)?;
            let mut records = Vec::new();
            for row in rows {
                records.push(store.open_record(row.map_err(storage)?)?);
            }
            Ok((records, total.max(0) as u64))
        })
        .await
    }

    /// Returns one destination of an account, deleted or not.
    ///
    /// # Errors
    /// [`DestinationStoreError`] on database or decryption errors.
    pub async fn get(&self, account_id: &str, id: &str) -> Result<Option<DestinationRecord>, DestinationStoreError> {
        let account_id = account_id.to_string();
        let id = id.to_string();
        self.blocking(move |store| {
            let connection = store.lock();
            let row = connection
                .query_row(
                    "SELECT * FROM destinations WHERE account_id = ?1 AND id = ?2",
                    params![account_id, id],
                    read_row,
                )
                .optional()
                .map_err(storage)?;
            row.map(|row| store.open_record(row)).transpose()
        })
        .await
    }

    /// Counts an account's destinations of one type that are not deleted.
    ///
    /// # Errors
    /// [`DestinationStoreError::Storage`] on database errors.
    pub async fn count_of_type(&self, account_id: &str, type_name: &str) -> Result<u64, DestinationStoreError> {
        let account_id = account_id.to_string();
        let type_name = type_name.to_string();
        self.blocking(move |store| {
            let count: i64 = store
                .lock()
                .query_row(
                    "SELECT COUNT(*) FROM destinations WHERE account_id = ?1 AND type = ?2 AND deleted_at IS NULL",
                    params![account_id, type_name],
                    |row| row.get(0),
                )
                .map_err(storage)?;
            Ok(count.max(0) as u64)
        })
        .await
    }

    /// Inserts or replaces a destination, sealing its secrets.
    ///
    /// # Errors
    /// [`DestinationStoreError::KeyRequired`] when it has secrets and no key is configured.
    pub async fn save(&self, record: DestinationRecord) -> Result<(), DestinationStoreError> {
        self.blocking(move |store| store.save_now(&record)).await
    }

    fn save_now(&self, record: &DestinationRecord) -> Result<(), DestinationStoreError> {
        let has_secret = record
            .secret_fields
            .iter()
            .any(|field| record.config.get(field).is_some_and(Value::is_string));
        let config = match (&self.keys, has_secret) {
            (Some(keys), _) => seal_config(&record.config, &record.secret_fields, keys),
            (None, false) => record.config.clone(),
            (None, true) => return Err(DestinationStoreError::KeyRequired),
        };
        let to_json = |value: &Option<Vec<String>>| value.as_ref().map(|value| serde_json::to_string(value).unwrap_or_default());
        let rules = record
            .filter_rules
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(storage)?;
        self.lock()
            .execute(
                "INSERT OR REPLACE INTO destinations (id, account_id, type, name, enabled, privacy_mode, sampling_rate,
                    api_key_hashes, filter_rules, config, secret_fields, skip_connection_test, managed_by_config,
                    created_at, updated_at, deleted_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
                params![
                    record.id,
                    record.account_id,
                    record.type_name,
                    record.name,
                    record.enabled,
                    record.privacy_mode,
                    record.sampling_rate,
                    to_json(&record.api_key_hashes),
                    rules,
                    config.to_string(),
                    serde_json::to_string(&record.secret_fields).map_err(storage)?,
                    record.skip_connection_test,
                    record.managed_by_config,
                    record.created_at.to_rfc3339(),
                    record.updated_at.to_rfc3339(),
                    record.deleted_at.map(|at| at.to_rfc3339()),
                ],
            )
            .map_err(storage)?;
        Ok(())
    }

    /// Marks destinations of the config file that it no longer defines as deleted.
    ///
    /// # Errors
    /// [`DestinationStoreError::Storage`] on database errors.
    pub async fn retire_config_destinations(&self, keep: Vec<String>) -> Result<u64, DestinationStoreError> {
        self.blocking(move |store| {
            let connection = store.lock();
            let mut statement = connection
                .prepare("SELECT id FROM destinations WHERE managed_by_config = 1 AND deleted_at IS NULL")
                .map_err(storage)?;
            let ids: Vec<String> = statement
                .query_map([], |row| row.get(0))
                .map_err(storage)?
                .collect::<Result<_, _>>()
                .map_err(storage)?;
            let now = Utc::now().to_rfc3339();
            let mut retired = 0;
            for id in ids.into_iter().filter(|id| !keep.contains(id)) {
                retired += connection
                    .execute("UPDATE destinations SET deleted_at = ?2 WHERE id = ?1", params![id, now])
                    .map_err(storage)?;
            }
            Ok(retired as u64)
        })
        .await
    }

    /// Every destination that is not deleted.
    ///
    /// # Errors
    /// [`DestinationStoreError`] on database or decryption errors.
    pub async fn active(&self) -> Result<Vec<DestinationRecord>, DestinationStoreError> {
        self.blocking(|store| {
            let connection = store.lock();
            let mut statement = connection
                .prepare("SELECT * FROM destinations WHERE deleted_at IS NULL ORDER BY created_at, id")
                .map_err(storage)?;
            let rows = statement.query_map([], read_row).map_err(storage)?;
            let mut records = Vec::new();
            for row in rows {
                records.push(store.open_record(row.map_err(storage)?)?);
            }
            Ok(records)
        })
        .await
    }

    fn open_record(&self, mut record: DestinationRecord) -> Result<DestinationRecord, DestinationStoreError> {
        if has_sealed(&record.config) && self.keys.is_none() {
            return Err(DestinationStoreError::KeyRequired);
        }
        record.config = open_config(&record.config, self.keys.as_ref())?;
        Ok(record)
    }
}

#[async_trait]
impl DestinationStore for SqliteDestinationStore {
    async fn destinations(&self) -> Result<Vec<DestinationSpec>, StoreError> {
        let records = self.active().await.map_err(|error| StoreError(error.to_string()))?;
        Ok(records.iter().map(DestinationRecord::spec).collect())
    }
}

fn migrate(connection: &Connection) -> Result<(), DestinationStoreError> {
    let applied: i64 = connection
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(storage)?;
    let applied = applied.max(0) as usize;
    if applied > MIGRATIONS.len() {
        return Err(DestinationStoreError::Storage(format!(
            "the destination store has schema version {applied}, newer than this broadcast ({}); upgrade broadcast",
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

fn json<T: serde::de::DeserializeOwned>(text: Option<String>) -> Option<T> {
    text.and_then(|text| serde_json::from_str(&text).ok())
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<DestinationRecord> {
    let time = |text: String| DateTime::parse_from_rfc3339(&text).map(|time| time.with_timezone(&Utc)).unwrap_or_default();
    Ok(DestinationRecord {
        id: row.get("id")?,
        account_id: row.get("account_id")?,
        type_name: row.get("type")?,
        name: row.get("name")?,
        enabled: row.get("enabled")?,
        privacy_mode: row.get("privacy_mode")?,
        sampling_rate: row.get("sampling_rate")?,
        api_key_hashes: json(row.get("api_key_hashes")?),
        filter_rules: json(row.get("filter_rules")?),
        config: serde_json::from_str(&row.get::<_, String>("config")?).unwrap_or(Value::Null),
        secret_fields: json(Some(row.get("secret_fields")?)).unwrap_or_default(),
        skip_connection_test: row.get("skip_connection_test")?,
        managed_by_config: row.get("managed_by_config")?,
        created_at: time(row.get("created_at")?),
        updated_at: time(row.get("updated_at")?),
        deleted_at: row.get::<_, Option<String>>("deleted_at")?.map(time),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(id: &str) -> DestinationRecord {
        DestinationRecord {
            id: id.to_string(),
            account_id: "acme".into(),
            type_name: "raindrop".into(),
            name: format!("dest {id}"),
            enabled: true,
            privacy_mode: false,
            sampling_rate: 1.0,
            api_key_hashes: None,
            filter_rules: None,
            config: json!({"write_key": "rk_live_plaintext_secret_1", "base_url": "https://api.raindrop.ai"}),
            secret_fields: vec!["write_key".into()],
            skip_connection_test: false,
            managed_by_config: false,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            deleted_at: None,
        }
    }

    fn keys() -> KeyRing {
        KeyRing::parse(&KeyRing::generate_text(), "test").unwrap_or_else(|error| panic!("{error}"))
    }

    #[tokio::test]
    async fn saved_secret_is_sealed_on_disk() {
        let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let path = directory.path().join("destinations.sqlite3");
        let store = SqliteDestinationStore::open(&path, Some(keys())).unwrap_or_else(|error| panic!("{error}"));
        store.save(record("one")).await.unwrap_or_else(|error| panic!("{error}"));
        let read = store.get("acme", "one").await.ok().flatten();
        assert_eq!(read.map(|record| record.config["write_key"].clone()), Some(json!("rk_live_plaintext_secret_1")));
        drop(store);
        let mut bytes = std::fs::read(&path).unwrap_or_default();
        for suffix in ["-wal", "-shm"] {
            bytes.extend(std::fs::read(directory.path().join(format!("destinations.sqlite3{suffix}"))).unwrap_or_default());
        }
        let haystack = String::from_utf8_lossy(&bytes);
        assert!(!haystack.contains("rk_live_plaintext_secret_1"), "the secret is stored in plain text");
    }

    #[tokio::test]
    async fn reopening_without_key_rejected() {
        let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let path = directory.path().join("destinations.sqlite3");
        let store = SqliteDestinationStore::open(&path, Some(keys())).unwrap_or_else(|error| panic!("{error}"));
        store.save(record("one")).await.unwrap_or_else(|error| panic!("{error}"));
        drop(store);
        let reopened = SqliteDestinationStore::open(&path, None);
        assert!(matches!(reopened, Err(DestinationStoreError::KeyRequired)));
        let wrong_key = SqliteDestinationStore::open(&path, Some(keys()));
        assert!(matches!(wrong_key, Err(DestinationStoreError::Crypto(_))));
    }

    #[tokio::test]
    async fn list_pages_and_skips_deleted() {
        let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let store = SqliteDestinationStore::open(&directory.path().join("d.sqlite3"), Some(keys()))
            .unwrap_or_else(|error| panic!("{error}"));
        for id in ["a", "b", "c"] {
            store.save(record(id)).await.unwrap_or_else(|error| panic!("{error}"));
        }
        let mut deleted = record("b");
        deleted.deleted_at = Some(Utc::now());
        store.save(deleted).await.unwrap_or_else(|error| panic!("{error}"));
        let (page, total) = store.list("acme", 0, 1).await.unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(total, 2);
        assert_eq!(page.len(), 1);
        let (rest, _) = store.list("acme", 1, 10).await.unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(rest.iter().map(|record| record.id.as_str()).collect::<Vec<_>>(), vec!["c"]);
        assert_eq!(store.count_of_type("acme", "raindrop").await.ok(), Some(2));
        assert!(store.get("acme", "b").await.ok().flatten().is_some_and(|record| record.deleted_at.is_some()));
        assert!(store.get("other", "a").await.ok().flatten().is_none(), "another account must not see it");
    }
}
