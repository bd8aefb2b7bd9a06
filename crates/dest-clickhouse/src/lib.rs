//! ClickHouse destination.
//!
//! Inserts one row per span (see `encoder`) over ClickHouse's HTTP interface: each request is
//! `POST {url}?query=INSERT INTO db.table (columns) FORMAT JSONEachRow` whose body is the rows,
//! one JSON object per line. The table is created by the user from the statement
//! `broadcast ddl` prints.
//!
//! Files: `columns` (the table and its DDL), `config`, `encoder` (trace to rows), `service`
//! (HTTP).

mod columns;
mod config;
mod encoder;
mod service;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use broadcast_core::{
    register_destination, BuildContext, ConfigError, ConnectionError, Destination, EncodeError,
    EncodedEvent, ExportOutcome, ExportTrace, Limits,
};
use serde_json::{json, Map, Value};

pub use columns::{ddl, COLUMNS};
pub use config::{ClickHouseConfig, ClickHouseConfigInput};
pub use service::insert_statement;

/// The ClickHouse destination.
pub struct ClickHouseDestination {
    config: ClickHouseConfig,
    http: reqwest::Client,
}

#[async_trait]
impl Destination for ClickHouseDestination {
    type Config = ClickHouseConfig;

    const TYPE_NAME: &'static str = "clickhouse";
    const DISPLAY_NAME: &'static str = "ClickHouse";
    // ClickHouse sets no fixed size for the data of an HTTP insert. These are this
    // destination's own bounds, so that one request stays a modest block.
    const LIMITS: Limits = Limits {
        max_events_per_request: 1_000,
        max_request_bytes: 8_388_608,
        max_event_bytes: 8_388_608 - 1_024,
    };

    fn config_schema() -> Value {
        serde_json::to_value(schemars::schema_for!(ClickHouseConfigInput)).unwrap_or(Value::Null)
    }

    fn validate(raw: &Value) -> Result<ClickHouseConfig, ConfigError> {
        config::validate(raw)
    }

    fn build(config: ClickHouseConfig, context: &BuildContext) -> Self {
        ClickHouseDestination {
            config,
            http: context.http.clone(),
        }
    }

    fn example_config(endpoint: &str) -> Value {
        json!({
            "url": endpoint,
            "database": "default",
            "table": "BROADCAST_TRACES",
            "username": "broadcast",
            "password": "example-password"
        })
    }

    fn encode(&self, trace: &ExportTrace) -> Result<EncodedEvent, EncodeError> {
        encoder::encode(trace, Self::LIMITS.max_event_bytes)
    }

    async fn test_connection(&self) -> Result<(), ConnectionError> {
        service::test_connection(&self.http, &self.config).await
    }

    async fn export(&self, events: &[EncodedEvent]) -> ExportOutcome {
        service::insert(&self.http, &self.config, events).await
    }

    fn ddl(config: &ClickHouseConfig) -> Option<String> {
        Some(columns::ddl(&config.database, &config.table))
    }

    /// Reads the rows and groups them by `GENERATION_ID`: one trace's rows are one event,
    /// returned as a JSON array of row objects. A body that is an SQL statement (the
    /// connection test's probe) contains no events.
    fn decode_request(body: &[u8]) -> Result<Vec<Value>, String> {
        let text = std::str::from_utf8(body).map_err(|error| format!("body is not UTF-8: {error}"))?;
        if !text.is_empty() && !text.starts_with('{') {
            return Ok(Vec::new());
        }
        let mut events: Vec<(String, Vec<Value>)> = Vec::new();
        for (number, line) in text.split('\n').enumerate().filter(|(_, line)| !line.is_empty()) {
            let row: Map<String, Value> =
                serde_json::from_str(line).map_err(|error| format!("row {} is not a JSON object: {error}", number + 1))?;
            let generation = row.get("GENERATION_ID").and_then(Value::as_str).unwrap_or_default().to_string();
            match events.last_mut() {
                Some((current, rows)) if *current == generation => rows.push(Value::Object(row)),
                _ => events.push((generation, vec![Value::Object(row)])),
            }
        }
        Ok(events.into_iter().map(|(_, rows)| Value::Array(rows)).collect())
    }
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

register_destination!(ClickHouseDestination);
