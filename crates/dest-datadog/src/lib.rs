//! Datadog LLM Observability destination.
//!
//! Sends one `llm` span per trace to `POST https://api.{site}/api/intake/llm-obs/v1/trace/spans`
//! with the `DD-API-KEY` header, several spans per request. Spans are cut to 1 MB and requests
//! kept to 1 MiB, within the limits of Datadog's own SDK (about 1 MB per span and 5 MB per
//! payload). Spans that started more than 24 hours ago are failed without sending, since the
//! intake rejects them.
//!
//! Files: `config` (parsing and validation), `encoder` (trace to span), `service` (HTTP).

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

pub use config::{DatadogConfig, DatadogConfigInput};

/// The Datadog LLM Observability destination.
pub struct DatadogDestination {
    config: DatadogConfig,
    http: reqwest::Client,
}

#[async_trait]
impl Destination for DatadogDestination {
    type Config = DatadogConfig;

    const TYPE_NAME: &'static str = "datadog";
    const DISPLAY_NAME: &'static str = "Datadog LLM Observability";
    const LIMITS: Limits = Limits {
        max_events_per_request: 500,
        max_request_bytes: 1_048_576,
        max_event_bytes: 1_000_000,
    };

    fn config_schema() -> Value {
        serde_json::to_value(schemars::schema_for!(DatadogConfigInput)).unwrap_or(Value::Null)
    }

    fn validate(raw: &Value) -> Result<DatadogConfig, ConfigError> {
        config::validate(raw)
    }

    fn build(config: DatadogConfig, context: &BuildContext) -> Self {
        DatadogDestination {
            config,
            http: context.http.clone(),
        }
    }

    fn example_config(endpoint: &str) -> Value {
        json!({"api_key": "dd-example-api-key-0000000000000000", "ml_app": "support-bot", "url": endpoint})
    }

    fn encode(&self, trace: &ExportTrace) -> Result<EncodedEvent, EncodeError> {
        encoder::encode(&self.config, trace, Self::LIMITS.max_event_bytes)
    }

    async fn test_connection(&self) -> Result<(), ConnectionError> {
        service::test_connection(&self.http, &self.config).await
    }

    async fn export(&self, events: &[EncodedEvent]) -> ExportOutcome {
        service::send_spans(&self.http, &self.config, events, Self::LIMITS.max_request_bytes).await
    }

    /// The spans of an intake body; an empty body (the key validation request) contains none.
    fn decode_request(body: &[u8]) -> Result<Vec<Value>, String> {
        if body.is_empty() {
            return Ok(Vec::new());
        }
        let value: Value = serde_json::from_slice(body).map_err(|error| format!("request body is not JSON: {error}"))?;
        match value.pointer("/data/attributes/spans") {
            Some(Value::Array(spans)) => Ok(spans.clone()),
            _ => Err("expected data.attributes.spans to be an array".to_string()),
        }
    }
}

register_destination!(DatadogDestination);
