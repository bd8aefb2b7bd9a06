//! PostHog destination.
//!
//! Sends one `$ai_generation` event per trace, with PostHog's LLM analytics properties, to
//! `POST {host}/batch/` with the project API key in the body. Events are cut to stay under
//! PostHog's 1 MB per-event limit, because PostHog discards larger events. Batches are kept
//! to 1 MiB, well under PostHog's 20 MB batch limit.
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

pub use config::{PostHogConfig, PostHogConfigInput};

/// The PostHog destination.
pub struct PostHogDestination {
    config: PostHogConfig,
    http: reqwest::Client,
}

#[async_trait]
impl Destination for PostHogDestination {
    type Config = PostHogConfig;

    const TYPE_NAME: &'static str = "posthog";
    const DISPLAY_NAME: &'static str = "PostHog";
    const LIMITS: Limits = Limits {
        max_events_per_request: 500,
        max_request_bytes: 1_048_576,
        max_event_bytes: 1_000_000,
    };

    fn config_schema() -> Value {
        serde_json::to_value(schemars::schema_for!(PostHogConfigInput)).unwrap_or(Value::Null)
    }

    fn validate(raw: &Value) -> Result<PostHogConfig, ConfigError> {
        config::validate(raw)
    }

    fn build(config: PostHogConfig, context: &BuildContext) -> Self {
        PostHogDestination {
            config,
            http: context.http.clone(),
        }
    }

    fn example_config(endpoint: &str) -> Value {
        json!({"api_key": "phc_example0000000000000000000000000000000000", "host": endpoint})
    }

    fn encode(&self, trace: &ExportTrace) -> Result<EncodedEvent, EncodeError> {
        encoder::encode(trace, Self::LIMITS.max_event_bytes)
    }

    async fn test_connection(&self) -> Result<(), ConnectionError> {
        service::test_connection(&self.http, &self.config).await
    }

    async fn export(&self, events: &[EncodedEvent]) -> ExportOutcome {
        service::send_batch(&self.http, &self.config, events, Self::LIMITS.max_request_bytes).await
    }

    /// The events of a `/batch/` body; a body without `batch` (the flags request of the
    /// connection test) contains none.
    fn decode_request(body: &[u8]) -> Result<Vec<Value>, String> {
        let value: Value = serde_json::from_slice(body).map_err(|error| format!("request body is not JSON: {error}"))?;
        match value.get("batch") {
            Some(Value::Array(events)) => Ok(events.clone()),
            Some(_) => Err("`batch` is not an array".to_string()),
            None => Ok(Vec::new()),
        }
    }
}

register_destination!(PostHogDestination);
