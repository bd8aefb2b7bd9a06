//! S3 and S3-compatible destination.
//!
//! Writes one JSON object per trace with a SigV4-signed `PutObject`, to AWS S3 or to any
//! store with the S3 API (MinIO, Cloudflare R2, …) through a custom endpoint and path-style
//! addressing. The object key comes from a path template and the trace's ids, so a retry
//! overwrites the same object instead of adding one.
//!
//! Files: `config` (parsing and validation), `encoder` (the object and its key), `sigv4`
//! (request signing), `service` (HTTP).

mod config;
mod encoder;
mod service;
pub mod sigv4;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use broadcast_core::{
    register_destination, BuildContext, ConfigError, ConnectionError, Destination, EncodeError,
    EncodedEvent, ExportOutcome, ExportTrace, Limits,
};
use serde_json::{json, Value};

pub use config::{S3Config, S3ConfigInput};
pub use encoder::{object_key, KeyParts};

/// The S3 destination.
pub struct S3Destination {
    config: S3Config,
    http: reqwest::Client,
}

#[async_trait]
impl Destination for S3Destination {
    type Config = S3Config;

    const TYPE_NAME: &'static str = "s3";
    const DISPLAY_NAME: &'static str = "S3 / S3-compatible";
    // One object per request. S3 takes objects of up to 5 GB in one PutObject; 5 MiB per
    // trace is this destination's own cap, so that one trace stays easy to read back.
    // TODO: newline-delimited batching of many traces into one object per time window needs
    // per-instance limits (more than one event per request only when batching is on), which
    // `Limits` as a constant of the type cannot express.
    const LIMITS: Limits = Limits {
        max_events_per_request: 1,
        max_request_bytes: 5_242_880,
        max_event_bytes: 5_242_880,
    };

    fn config_schema() -> Value {
        serde_json::to_value(schemars::schema_for!(S3ConfigInput)).unwrap_or(Value::Null)
    }

    fn validate(raw: &Value) -> Result<S3Config, ConfigError> {
        config::validate(raw)
    }

    fn build(config: S3Config, context: &BuildContext) -> Self {
        S3Destination {
            config,
            http: context.http.clone(),
        }
    }

    fn example_config(endpoint: &str) -> Value {
        json!({
            "bucket": "llm-traces",
            "access_key_id": "AKIAEXAMPLEKEY000001",
            "secret_access_key": "example/secret/access/key/0000000000000",
            "region": "us-east-1",
            "endpoint": endpoint,
            "prefix": "broadcast-traces",
            "path_template": "{prefix}/{date}"
        })
    }

    fn encode(&self, trace: &ExportTrace) -> Result<EncodedEvent, EncodeError> {
        encoder::encode(trace, Self::LIMITS.max_event_bytes)
    }

    async fn test_connection(&self) -> Result<(), ConnectionError> {
        service::test_connection(&self.http, &self.config).await
    }

    async fn export(&self, events: &[EncodedEvent]) -> ExportOutcome {
        service::put_objects(&self.http, &self.config, events).await
    }

    /// A `PutObject` body is one trace object; an empty body (the connection test's probe, a
    /// delete) contains none.
    fn decode_request(body: &[u8]) -> Result<Vec<Value>, String> {
        if body.is_empty() {
            return Ok(Vec::new());
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(object @ Value::Object(_)) => Ok(vec![object]),
            Ok(_) => Err("expected one JSON object per S3 object".to_string()),
            Err(error) => Err(format!("object body is not JSON: {error}")),
        }
    }
}

impl S3Destination {
    /// Returns the object key a trace is written to under `config`.
    pub fn key_for(config: &S3Config, trace: &ExportTrace) -> String {
        object_key(config, &KeyParts::of(trace))
    }
}

register_destination!(S3Destination);
