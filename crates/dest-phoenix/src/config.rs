//! Phoenix config: parsing and validation (pure, no I/O).

use std::collections::BTreeMap;

use broadcast_core::ConfigError;
use broadcast_otlp::config::{config_error, join_path, parse_headers, parse_http_url, required_secret, required_text};
use broadcast_otlp::{AnyValue, Compression, EncodeOptions, Encoding, KeyValue, OtlpTarget};
use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

const KNOWN_KEYS: &str = "base_url, project_name, api_key, headers";
pub const DEFAULT_BASE_URL: &str = "http://localhost:6006";
pub const DEFAULT_PROJECT: &str = "default";
/// Resource attribute Phoenix reads to file spans under a project.
pub const PROJECT_ATTRIBUTE: &str = "openinference.project.name";

/// The raw config as written in a config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoenixConfigInput {
    /// Phoenix server URL without `/v1/traces`, such as `http://localhost:6006`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Phoenix project the spans are filed under; `default` when omitted.
    #[serde(default)]
    pub project_name: Option<String>,
    /// Phoenix API key, sent as `Authorization: Bearer <key>`; needed only when Phoenix runs
    /// with authentication enabled.
    #[serde(default)]
    #[schemars(extend("x-secret" = true))]
    pub api_key: Option<String>,
    /// Custom headers sent with every request. Values are treated as secrets.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
}

/// A validated Phoenix config.
#[derive(Debug, Clone)]
pub struct PhoenixConfig {
    pub target: OtlpTarget,
    pub options: EncodeOptions,
    pub project_name: String,
}

/// Parses and checks a raw Phoenix config.
///
/// # Errors
/// [`ConfigError`] naming the key; the API key is never quoted.
pub fn validate(raw: &Value) -> Result<PhoenixConfig, ConfigError> {
    let input: PhoenixConfigInput = serde_json::from_value(raw.clone()).map_err(|error| config_error(&error, KNOWN_KEYS))?;
    let base = parse_http_url("base_url", input.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL), DEFAULT_BASE_URL)?;
    let project_name = match input.project_name.as_deref() {
        None => DEFAULT_PROJECT.to_string(),
        Some(name) => required_text("project_name", name, "a Phoenix project name, or omit it for `default`")?,
    };
    let mut headers = parse_headers(input.headers.as_ref(), &["content-type", "content-encoding", "content-length"])?;
    if let Some(key) = input.api_key.as_deref() {
        let key = required_secret("api_key", key, "your Phoenix API key, or omit it when Phoenix runs without authentication")?;
        if headers.iter().any(|(name, _)| name == AUTHORIZATION) {
            return Err(ConfigError::new("api_key", "`headers` sets Authorization too; keep one of the two"));
        }
        headers.push((AUTHORIZATION, broadcast_core::Secret::new(format!("Bearer {}", key.expose()))));
    }
    let target = OtlpTarget {
        display_name: "Phoenix",
        url: join_path(&base, "v1/traces"),
        method: Method::POST,
        // Phoenix's OTLP/HTTP receiver takes protobuf only and rejects JSON with 415.
        encoding: Encoding::Protobuf,
        compression: Compression::None,
        headers,
        credential_hint: "check api_key",
    };
    let options = EncodeOptions {
        resource_attributes: vec![KeyValue::new(PROJECT_ATTRIBUTE, AnyValue::string(project_name.clone()))],
        ..EncodeOptions::open_inference(Encoding::Protobuf)
    };
    Ok(PhoenixConfig { target, options, project_name })
}
