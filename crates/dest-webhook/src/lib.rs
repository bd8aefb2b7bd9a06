//! Webhook destination.
//!
//! Sends each trace to a URL the user runs, as an OTLP/JSON body (`{"resourceSpans":[…]}`)
//! with GenAI attributes, by `POST` or `PUT`, with the user's custom headers. One trace per
//! request, so the `Idempotency-Key` header can carry the trace's generation id, which stays
//! the same on retries and re-sends and lets the receiver drop duplicates.
//!
//! The connection test sends an empty OTLP body with `X-Test-Connection: true` and passes on
//! 2xx or 400 (some receivers reject an empty body as malformed, which still proves the URL
//! and the headers were accepted).
//!
//! Files: `config` (parsing and validation); encoding and sending are in `broadcast-otlp`.

mod config;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use broadcast_core::{
    register_destination, BuildContext, ConfigError, ConnectionError, Destination, EncodeError, EncodedEvent,
    ExportOutcome, ExportTrace, Limits,
};
use broadcast_otlp::{sender, EmptyRequestPolicy, OtlpCore};
use serde_json::{json, Value};

pub use config::{WebhookConfig, WebhookConfigInput, IDEMPOTENCY_HEADER, TEST_HEADER};

/// The webhook destination.
pub struct WebhookDestination {
    core: OtlpCore,
}

#[async_trait]
impl Destination for WebhookDestination {
    type Config = WebhookConfig;

    const TYPE_NAME: &'static str = "webhook";
    const DISPLAY_NAME: &'static str = "Webhook";
    const LIMITS: Limits = Limits { max_events_per_request: 1, ..broadcast_otlp::DEFAULT_LIMITS };

    fn config_schema() -> Value {
        broadcast_otlp::schema_of::<WebhookConfigInput>()
    }

    fn validate(raw: &Value) -> Result<WebhookConfig, ConfigError> {
        config::validate(raw)
    }

    fn build(config: WebhookConfig, context: &BuildContext) -> Self {
        WebhookDestination { core: OtlpCore { target: config.target, options: config.options, http: context.http.clone() } }
    }

    fn example_config(endpoint: &str) -> Value {
        json!({
            "url": format!("{}/hooks/llm-traces", endpoint.trim_end_matches('/')),
            "method": "POST",
            "authorization": "Bearer example-webhook-token",
            "headers": {"X-Team": "platform"}
        })
    }

    fn encode(&self, trace: &ExportTrace) -> Result<EncodedEvent, EncodeError> {
        self.core.encode(trace, Self::LIMITS)
    }

    async fn test_connection(&self) -> Result<(), ConnectionError> {
        let headers = [(TEST_HEADER, "true")];
        sender::test_empty_export(&self.core.http, &self.core.target, &headers, EmptyRequestPolicy::AcceptBadRequest).await
    }

    async fn export(&self, events: &[EncodedEvent]) -> ExportOutcome {
        // `LIMITS` allows one event per request, so the key names exactly one trace.
        let key: Vec<&str> = events.iter().map(|event| event.generation_id.as_str()).collect();
        let headers = [(IDEMPOTENCY_HEADER, key.join(","))];
        sender::export(&self.core.http, &self.core.target, events, &headers).await
    }

    fn decode_request(body: &[u8]) -> Result<Vec<Value>, String> {
        broadcast_otlp::decode_request(body)
    }
}

register_destination!(WebhookDestination);
