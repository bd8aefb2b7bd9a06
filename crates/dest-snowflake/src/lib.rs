//! Snowflake destination.
//!
//! Inserts one row per span through the SQL API: `POST {account URL}/api/v2/statements` with a
//! programmatic access token, whose statement is an `INSERT … SELECT` over the rows passed as
//! one JSON text bind variable, so that one request inserts a batch. The columns are the
//! ClickHouse destination's, with `VARIANT` for the JSON ones; `broadcast ddl` prints the
//! table.
//!
//! Files: `config`, `table` (columns, DDL, INSERT), `encoder` (trace to rows), `service`
//! (HTTP).

mod config;
mod encoder;
mod service;
mod table;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use broadcast_core::{
    register_destination, BuildContext, ConfigError, ConnectionError, Destination, EncodeError,
    EncodedEvent, ExportOutcome, ExportTrace, Limits,
};
use serde_json::{json, Map, Value};

pub use config::{SnowflakeConfig, SnowflakeConfigInput};
pub use table::{ddl, insert_statement};

/// The Snowflake destination.
pub struct SnowflakeDestination {
    config: SnowflakeConfig,
    http: reqwest::Client,
}

#[async_trait]
impl Destination for SnowflakeDestination {
    type Config = SnowflakeConfig;

    const TYPE_NAME: &'static str = "snowflake";
    const DISPLAY_NAME: &'static str = "Snowflake";
    // NOTE: the SQL API documents no request size limit in the sources this was written from;
    // 4 MiB per request is this destination's own bound, with 16 KiB left for the statement.
    const LIMITS: Limits = Limits {
        max_events_per_request: 500,
        max_request_bytes: 4_194_304,
        max_event_bytes: 4_194_304 - 16_384,
    };

    fn config_schema() -> Value {
        serde_json::to_value(schemars::schema_for!(SnowflakeConfigInput)).unwrap_or(Value::Null)
    }

    fn validate(raw: &Value) -> Result<SnowflakeConfig, ConfigError> {
        config::validate(raw)
    }

    fn build(config: SnowflakeConfig, context: &BuildContext) -> Self {
        SnowflakeDestination {
            config,
            http: context.http.clone(),
        }
    }

    fn example_config(endpoint: &str) -> Value {
        json!({
            "account": "myorg-myaccount",
            "token": "example-programmatic-access-token",
            "database": "ANALYTICS",
            "schema": "PUBLIC",
            "table": "BROADCAST_TRACES",
            "warehouse": "COMPUTE_WH",
            "url": endpoint
        })
    }

    fn encode(&self, trace: &ExportTrace) -> Result<EncodedEvent, EncodeError> {
        encoder::encode(trace, Self::LIMITS.max_event_bytes)
    }

    async fn test_connection(&self) -> Result<(), ConnectionError> {
        service::test_connection(&self.http, &self.config).await
    }

    async fn export(&self, events: &[EncodedEvent]) -> ExportOutcome {
        service::insert(&self.http, &self.config, events, Self::LIMITS.max_request_bytes).await
    }

    fn ddl(config: &SnowflakeConfig) -> Option<String> {
        Some(table::ddl(&config.database, &config.schema, &config.table))
    }

    /// Reads the rows from bind variable `1` and groups them by `GENERATION_ID`: one trace's
    /// rows are one event, as a JSON array of row objects. An empty body (a status poll) contains
    /// none.
    fn decode_request(body: &[u8]) -> Result<Vec<Value>, String> {
        if body.is_empty() {
            return Ok(Vec::new());
        }
        let request: Value = serde_json::from_slice(body).map_err(|error| format!("body is not JSON: {error}"))?;
        let text = request
            .pointer("/bindings/1/value")
            .and_then(Value::as_str)
            .ok_or("bindings.1.value is missing or not text")?;
        let rows: Vec<Map<String, Value>> =
            serde_json::from_str(text).map_err(|error| format!("bind value is not a JSON array of rows: {error}"))?;
        let mut events: Vec<(String, Vec<Value>)> = Vec::new();
        for row in rows {
            let generation = row.get("GENERATION_ID").and_then(Value::as_str).unwrap_or_default().to_string();
            match events.last_mut() {
                Some((current, rows)) if *current == generation => rows.push(Value::Object(row)),
                _ => events.push((generation, vec![Value::Object(row)])),
            }
        }
        Ok(events.into_iter().map(|(_, rows)| Value::Array(rows)).collect())
    }
}

register_destination!(SnowflakeDestination);
