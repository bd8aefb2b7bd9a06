//! S3 and S3-compatible destination.
//!
//! Writes one JSON object per trace with a SigV4-signed `PutObject`, to AWS S3 or to any
//! store with the S3 API (MinIO, Cloudflare R2, …) through a custom endpoint and path-style
//! addressing. The object key comes from a path template and the trace's ids, so a retry
//! overwrites the same object instead of adding one.
//!
//! With `batch_window_secs` set, the engine holds traces for that window and the destination
//! writes them as one newline-delimited JSON object (`.jsonl`), keyed by the first trace's
//! ids; a full batch (`batch_max_traces`, or 100 MiB) is written early.
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

pub use config::{Batching, S3Config, S3ConfigInput};

/// Largest batched object, in bytes.
pub const BATCH_MAX_OBJECT_BYTES: usize = 100 * 1024 * 1024;
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
    // trace is this destination's own cap, so that one trace stays easy to read back. With
    // batching on, `instance_limits` allows many traces per object.
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

    fn instance_limits(&self) -> Limits {
        match self.config.batching {
            None => Self::LIMITS,
            Some(batching) => Limits {
                max_events_per_request: batching.max_traces,
                max_request_bytes: BATCH_MAX_OBJECT_BYTES,
                max_event_bytes: Self::LIMITS.max_event_bytes,
            },
        }
    }

    fn batch_window(&self) -> Option<std::time::Duration> {
        self.config.batching.map(|batching| batching.window)
    }

    fn encode(&self, trace: &ExportTrace) -> Result<EncodedEvent, EncodeError> {
        encoder::encode(trace, Self::LIMITS.max_event_bytes)
    }

    async fn test_connection(&self) -> Result<(), ConnectionError> {
        service::test_connection(&self.http, &self.config).await
    }

    async fn export(&self, events: &[EncodedEvent]) -> ExportOutcome {
        match self.config.batching {
            None => service::put_objects(&self.http, &self.config, events).await,
            Some(_) => service::put_batch(&self.http, &self.config, events).await,
        }
    }

    /// A `PutObject` body is one trace object, or one trace per line for a batched object; an
    /// empty body (the connection test's probe, a delete) contains none.
    fn decode_request(body: &[u8]) -> Result<Vec<Value>, String> {
        let text = std::str::from_utf8(body).map_err(|error| format!("object body is not UTF-8: {error}"))?;
        let mut objects = Vec::new();
        for (index, line) in text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
            match serde_json::from_str::<Value>(line) {
                Ok(object @ Value::Object(_)) => objects.push(object),
                Ok(_) => return Err(format!("line {}: expected one JSON object per trace", index + 1)),
                Err(error) => return Err(format!("line {}: not JSON: {error}", index + 1)),
            }
        }
        Ok(objects)
    }
}

impl S3Destination {
    /// Returns the object key a trace is written to under `config`.
    pub fn key_for(config: &S3Config, trace: &ExportTrace) -> String {
        object_key(config, &KeyParts::of(trace))
    }
}

register_destination!(S3Destination);
