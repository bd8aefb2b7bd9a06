//! Sentry destination.
//!
//! Sends traces with OTLP/HTTP protobuf to the project's OTLP traces endpoint
//! (`https://o<org>.ingest.<region>.sentry.io/api/<project>/integration/otlp/v1/traces`), with
//! `x-sentry-auth: sentry sentry_key=<public key>`, the public key taken from the DSN. Sentry
//! drops span events, so everything Sentry shows (messages, output, the error) is in span
//! attributes; the `exception` event is still sent for other readers. The connection test
//! sends an empty export request.
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
use broadcast_otlp::OtlpCore;
use serde_json::{json, Value};

pub use config::{SentryConfig, SentryConfigInput};

/// The Sentry destination.
pub struct SentryDestination {
    core: OtlpCore,
}

#[async_trait]
impl Destination for SentryDestination {
    type Config = SentryConfig;

    const TYPE_NAME: &'static str = "sentry";
    const DISPLAY_NAME: &'static str = "Sentry";
    const LIMITS: Limits = broadcast_otlp::DEFAULT_LIMITS;

    fn config_schema() -> Value {
        broadcast_otlp::schema_of::<SentryConfigInput>()
    }

    fn validate(raw: &Value) -> Result<SentryConfig, ConfigError> {
        config::validate(raw)
    }

    fn build(config: SentryConfig, context: &BuildContext) -> Self {
        SentryDestination {
            core: OtlpCore { target: config.target, options: config.options, http: context.http.clone() },
        }
    }

    fn example_config(endpoint: &str) -> Value {
        json!({
            "otlp_endpoint": format!("{}/api/4505/integration/otlp/v1/traces", endpoint.trim_end_matches('/')),
            "dsn": "https://0123456789abcdef0123456789abcdef@o123.ingest.us.sentry.io/4505"
        })
    }

    fn encode(&self, trace: &ExportTrace) -> Result<EncodedEvent, EncodeError> {
        self.core.encode(trace, Self::LIMITS)
    }

    async fn test_connection(&self) -> Result<(), ConnectionError> {
        self.core.test_empty_export().await
    }

    async fn export(&self, events: &[EncodedEvent]) -> ExportOutcome {
        self.core.export(events).await
    }

    fn decode_request(body: &[u8]) -> Result<Vec<Value>, String> {
        broadcast_otlp::decode_request(body)
    }
}

register_destination!(SentryDestination);
