//! Webhook config: parsing and validation (pure, no I/O).

use std::collections::BTreeMap;

use broadcast_core::{ConfigError, Secret};
use broadcast_otlp::config::{config_error, parse_headers, parse_http_url};
use broadcast_otlp::{Compression, EncodeOptions, Encoding, OtlpTarget};
use reqwest::header::{HeaderName, AUTHORIZATION};
use reqwest::Method;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

const KNOWN_KEYS: &str = "url, method, headers, authorization, legacy_attribute_names";
/// Header carrying the trace's generation id, stable across retries and re-sends.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// Header set on the connection test request.
pub const TEST_HEADER: &str = "X-Test-Connection";

/// HTTP method of the webhook request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum WebhookMethod {
    #[default]
    #[serde(alias = "post")]
    POST,
    #[serde(alias = "put")]
    PUT,
}

/// The raw config as written in a config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfigInput {
    /// The URL that receives each trace.
    pub url: String,
    /// `POST` (default) or `PUT`.
    #[serde(default)]
    pub method: WebhookMethod,
    /// Custom headers sent with every request, such as a shared secret. Values are treated as
    /// secrets.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    /// Sent as the `Authorization` header, such as `Bearer <token>`.
    #[serde(default)]
    #[schemars(extend("x-secret" = true))]
    pub authorization: Option<String>,
    /// Also write the older GenAI attribute names (`gen_ai.system`,
    /// `gen_ai.usage.prompt_tokens`, `gen_ai.prompt`, …) for receivers that read them.
    #[serde(default)]
    pub legacy_attribute_names: bool,
}

/// A validated webhook config.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub target: OtlpTarget,
    pub options: EncodeOptions,
}

/// Parses and checks a raw webhook config.
///
/// # Errors
/// [`ConfigError`] naming the key; header values are never quoted.
pub fn validate(raw: &Value) -> Result<WebhookConfig, ConfigError> {
    let input: WebhookConfigInput = serde_json::from_value(raw.clone()).map_err(|error| config_error(&error, KNOWN_KEYS))?;
    let url = parse_http_url("url", &input.url, "https://hooks.example.com/llm-traces")?;
    let reserved = ["content-type", "content-encoding", "content-length", IDEMPOTENCY_HEADER, TEST_HEADER];
    let mut headers: Vec<(HeaderName, Secret)> = parse_headers(input.headers.as_ref(), &reserved)?;
    if let Some(authorization) = input.authorization.as_deref().map(str::trim).filter(|value| !value.is_empty()) {
        if headers.iter().any(|(name, _)| name == AUTHORIZATION) {
            return Err(ConfigError::new("authorization", "is also set in `headers`; keep one of the two"));
        }
        if reqwest::header::HeaderValue::from_str(authorization).is_err() {
            return Err(ConfigError::new("authorization", "has a line break or a control character; remove it"));
        }
        headers.push((AUTHORIZATION, Secret::new(authorization)));
    }
    let method = match input.method {
        WebhookMethod::POST => Method::POST,
        WebhookMethod::PUT => Method::PUT,
    };
    let target = OtlpTarget {
        display_name: "the webhook",
        url,
        method,
        encoding: Encoding::Json,
        compression: Compression::None,
        headers,
        credential_hint: "check `authorization` and `headers`",
    };
    let options = EncodeOptions { legacy_names: input.legacy_attribute_names, ..EncodeOptions::gen_ai(Encoding::Json) };
    Ok(WebhookConfig { target, options })
}
