//! Raindrop destination.
//!
//! Sends one `ai_generation` event per trace to `POST {base_url}/v1/events/track` as a JSON
//! array, with `Authorization: Bearer <write_key>` and, when configured,
//! `X-Raindrop-Project-Id`. Events are at most 1 MB (Raindrop's documented per-event limit):
//! the largest text fields are cut with a marker, never the whole event. Requests are packed
//! up to 50 events and 1 MiB, the request size Raindrop's own SDKs stay under.
//!
//! Files: `config` (parsing and validation), `encoder` (trace to event), `service` (HTTP).

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
use serde_json::{json, Value};

pub use config::{RaindropConfig, RaindropConfigInput, DEFAULT_BASE_URL};

/// The Raindrop destination.
pub struct RaindropDestination {
    config: RaindropConfig,
    http: reqwest::Client,
}

#[async_trait]
impl Destination for RaindropDestination {
    type Config = RaindropConfig;

    const TYPE_NAME: &'static str = "raindrop";
    const DISPLAY_NAME: &'static str = "Raindrop";
    const LIMITS: Limits = Limits {
        max_events_per_request: 50,
        max_request_bytes: 1_048_576,
        max_event_bytes: 1_000_000,
    };

    fn config_schema() -> Value {
        serde_json::to_value(schemars::schema_for!(RaindropConfigInput)).unwrap_or(Value::Null)
    }

    fn validate(raw: &Value) -> Result<RaindropConfig, ConfigError> {
        config::validate(raw)
    }

    fn build(config: RaindropConfig, context: &BuildContext) -> Self {
        RaindropDestination {
            config,
            http: context.http.clone(),
        }
    }

    fn example_config(endpoint: &str) -> Value {
        json!({"write_key": "rk_example_write_key", "base_url": endpoint})
    }

    fn encode(&self, trace: &ExportTrace) -> Result<EncodedEvent, EncodeError> {
        encoder::encode(&self.config, trace, Self::LIMITS.max_event_bytes)
    }

    async fn test_connection(&self) -> Result<(), ConnectionError> {
        service::test_connection(&self.http, &self.config).await
    }

    async fn export(&self, events: &[EncodedEvent]) -> ExportOutcome {
        service::send_events(&self.http, &self.config, events).await
    }

    fn decode_request(body: &[u8]) -> Result<Vec<Value>, String> {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Array(events)) => Ok(events),
            Ok(other) => Err(format!("expected a JSON array of events, got {}", json_kind(&other))),
            Err(error) => Err(format!("request body is not JSON: {error}")),
        }
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

register_destination!(RaindropDestination);
