//! Google BigQuery destination.
//!
//! Streams one row per trace with `tabledata.insertAll`, each row's `insertId` set to the
//! generation id so that BigQuery drops a row a retry sends twice. Requests are authorised
//! with a JWT signed locally (RS256) with the service account's key and used as the bearer
//! token, so no OAuth token request is made. `broadcast ddl` prints the table.
//!
//! Files: `config`, `jwt` (key parsing and token signing), `table` (columns and DDL),
//! `encoder` (trace to row), `service` (HTTP).

mod config;
mod encoder;
pub mod jwt;
mod service;
mod table;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use broadcast_core::{
    register_destination, BuildContext, ConfigError, ConnectionError, Destination, EncodeError,
    EncodedEvent, ExportOutcome, ExportTrace, Limits,
};
use serde_json::{json, Value};

pub use config::{BigQueryConfig, BigQueryConfigInput};
pub use table::{ddl, COLUMNS};

/// A service-account key for examples and tests only. Its private key was generated for this
/// repository, belongs to no Google account, and is not a secret.
pub const EXAMPLE_PRIVATE_KEY_PEM: &str = include_str!("example-key.pem");

/// The BigQuery destination.
pub struct BigQueryDestination {
    config: BigQueryConfig,
    http: reqwest::Client,
    tokens: service::TokenCache,
}

#[async_trait]
impl Destination for BigQueryDestination {
    type Config = BigQueryConfig;

    const TYPE_NAME: &'static str = "bigquery";
    const DISPLAY_NAME: &'static str = "Google BigQuery";
    // Streaming inserts take requests of up to 10 MB; 5 MiB per request and per row is this
    // destination's own bound, below it.
    const LIMITS: Limits = Limits {
        max_events_per_request: 500,
        max_request_bytes: 5_242_880,
        max_event_bytes: 5_242_880 - 1_024,
    };

    fn config_schema() -> Value {
        serde_json::to_value(schemars::schema_for!(BigQueryConfigInput)).unwrap_or(Value::Null)
    }

    fn validate(raw: &Value) -> Result<BigQueryConfig, ConfigError> {
        config::validate(raw)
    }

    fn build(config: BigQueryConfig, context: &BuildContext) -> Self {
        BigQueryDestination {
            config,
            http: context.http.clone(),
            tokens: service::TokenCache::default(),
        }
    }

    fn example_config(endpoint: &str) -> Value {
        let key = json!({
            "type": "service_account",
            "project_id": "example-project",
            "private_key_id": "0000000000000000000000000000000000000000",
            "private_key": EXAMPLE_PRIVATE_KEY_PEM,
            "client_email": "broadcast@example-project.iam.gserviceaccount.com",
            "token_uri": "https://oauth2.googleapis.com/token"
        });
        json!({
            "project_id": "example-project",
            "dataset": "broadcast",
            "table": "broadcast_traces",
            "service_account_key": key.to_string(),
            "url": endpoint
        })
    }

    fn encode(&self, trace: &ExportTrace) -> Result<EncodedEvent, EncodeError> {
        encoder::encode(trace, Self::LIMITS.max_event_bytes)
    }

    async fn test_connection(&self) -> Result<(), ConnectionError> {
        service::test_connection(&self.http, &self.config, &self.tokens).await
    }

    async fn export(&self, events: &[EncodedEvent]) -> ExportOutcome {
        service::insert_all(&self.http, &self.config, &self.tokens, events, Self::LIMITS.max_request_bytes).await
    }

    fn ddl(config: &BigQueryConfig) -> Option<String> {
        Some(table::ddl(&config.project_id, &config.dataset, &config.table))
    }

    /// The rows of an `insertAll` body, each `{insertId, json}`; a body without `rows` (the
    /// connection test's requests) contains none.
    fn decode_request(body: &[u8]) -> Result<Vec<Value>, String> {
        if body.is_empty() {
            return Ok(Vec::new());
        }
        let request: Value = serde_json::from_slice(body).map_err(|error| format!("body is not JSON: {error}"))?;
        match request.get("rows") {
            Some(Value::Array(rows)) => Ok(rows.clone()),
            Some(_) => Err("`rows` is not an array".to_string()),
            None => Ok(Vec::new()),
        }
    }
}

register_destination!(BigQueryDestination);
