//! OpenTelemetry Collector config: parsing and validation (pure, no I/O).

use std::collections::BTreeMap;

use broadcast_core::{ConfigError, Secret};
use broadcast_otlp::config::{config_error, parse_headers, parse_http_url};
use broadcast_otlp::{Compression, EncodeOptions, Encoding, OtlpTarget};
use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

const KNOWN_KEYS: &str = "endpoint, headers, authorization, encoding, compression, legacy_attribute_names, service_name";

/// The raw config as written in a config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OtelCollectorConfigInput {
    /// The full OTLP/HTTP traces URL, usually ending in `/v1/traces`, such as
    /// `http://collector:4318/v1/traces`.
    pub endpoint: String,
    /// Custom headers sent with every request (a backend's API key or dataset). Values are
    /// treated as secrets.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    /// Sent as the `Authorization` header, such as `Bearer <token>`.
    #[serde(default)]
    #[schemars(extend("x-secret" = true))]
    pub authorization: Option<String>,
    /// `protobuf` (default) or `json`.
    #[serde(default)]
    pub encoding: Encoding,
    /// `none` (default) or `gzip`.
    #[serde(default)]
    pub compression: Compression,
    /// Also write the older GenAI attribute names for receivers that read them.
    #[serde(default)]
    pub legacy_attribute_names: bool,
    /// `service.name` of the resource; `broadcast` when omitted.
    #[serde(default)]
    pub service_name: Option<String>,
}

/// A validated config.
#[derive(Debug, Clone)]
pub struct OtelCollectorConfig {
    pub target: OtlpTarget,
    pub options: EncodeOptions,
}

/// Parses and checks a raw config.
///
/// # Errors
/// [`ConfigError`] naming the key; header values are never quoted.
pub fn validate(raw: &Value) -> Result<OtelCollectorConfig, ConfigError> {
    let input: OtelCollectorConfigInput = serde_json::from_value(raw.clone()).map_err(|error| config_error(&error, KNOWN_KEYS))?;
    let url = parse_http_url("endpoint", &input.endpoint, "http://collector:4318/v1/traces")?;
    let mut headers = parse_headers(input.headers.as_ref(), &["content-type", "content-encoding", "content-length"])?;
    if let Some(authorization) = input.authorization.as_deref().map(str::trim).filter(|value| !value.is_empty()) {
        if headers.iter().any(|(name, _)| name == AUTHORIZATION) {
            return Err(ConfigError::new("authorization", "is also set in `headers`; keep one of the two"));
        }
        if reqwest::header::HeaderValue::from_str(authorization).is_err() {
            return Err(ConfigError::new("authorization", "has a line break or a control character; remove it"));
        }
        headers.push((AUTHORIZATION, Secret::new(authorization)));
    }
    let service_name = match input.service_name.as_deref().map(str::trim) {
        None => broadcast_otlp::spans::SCOPE_NAME.to_string(),
        Some("") => return Err(ConfigError::new("service_name", "is empty; omit it to use `broadcast`")),
        Some(name) => name.to_string(),
    };
    let target = OtlpTarget {
        display_name: "the OTLP receiver",
        url,
        method: Method::POST,
        encoding: input.encoding,
        compression: input.compression,
        headers,
        credential_hint: "check `authorization` and `headers`",
    };
    let options = EncodeOptions {
        legacy_names: input.legacy_attribute_names,
        service_name,
        ..EncodeOptions::gen_ai(input.encoding)
    };
    Ok(OtelCollectorConfig { target, options })
}
