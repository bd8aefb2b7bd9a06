//! Grafana Cloud config: parsing and validation (pure, no I/O).

use std::collections::BTreeMap;

use broadcast_core::ConfigError;
use broadcast_otlp::config::{basic_auth, config_error, headers_with, join_path, parse_http_url, required_secret};
use broadcast_otlp::{Compression, EncodeOptions, Encoding, OtlpTarget};
use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

const KNOWN_KEYS: &str = "instance_id, api_key, base_url, headers";
pub const DEFAULT_BASE_URL: &str = "https://otlp-gateway-prod-us-west-0.grafana.net";

/// The raw config as written in a config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GrafanaConfigInput {
    /// The stack's OTLP instance id (a number, shown on the OpenTelemetry card; it can differ
    /// from the stack's other ids).
    pub instance_id: Value,
    /// An access policy token (`glc_…`) with the `traces:write` scope.
    #[schemars(extend("x-secret" = true))]
    pub api_key: String,
    /// The stack's OTLP gateway URL, such as
    /// `https://otlp-gateway-prod-us-west-0.grafana.net` (with or without `/otlp`).
    #[serde(default)]
    pub base_url: Option<String>,
    /// Custom headers sent with every request. Values are treated as secrets.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
}

/// A validated Grafana Cloud config.
#[derive(Debug, Clone)]
pub struct GrafanaConfig {
    pub target: OtlpTarget,
    pub options: EncodeOptions,
}

/// Parses and checks a raw Grafana Cloud config.
///
/// # Errors
/// [`ConfigError`] naming the key; the token is never quoted.
pub fn validate(raw: &Value) -> Result<GrafanaConfig, ConfigError> {
    let input: GrafanaConfigInput = serde_json::from_value(raw.clone()).map_err(|error| config_error(&error, KNOWN_KEYS))?;
    let instance_id = match &input.instance_id {
        Value::Number(number) if number.is_u64() => number.to_string(),
        Value::String(text) if !text.trim().is_empty() && text.trim().bytes().all(|byte| byte.is_ascii_digit()) => text.trim().to_string(),
        other => {
            return Err(ConfigError::new(
                "instance_id",
                format!("`{other}` is not a numeric OTLP instance id; copy it from the stack's OpenTelemetry card"),
            ))
        }
    };
    let token = required_secret("api_key", &input.api_key, "an access policy token (glc_…) with the traces:write scope")?;
    let base = parse_http_url("base_url", input.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL), DEFAULT_BASE_URL)?;
    if base.path().trim_end_matches('/').ends_with("/tempo") {
        return Err(ConfigError::new(
            "base_url",
            "points at the Tempo query URL, which does not accept OTLP; use the stack's OTLP gateway URL from the OpenTelemetry card",
        ));
    }
    let url = if base.path().trim_end_matches('/').ends_with("/otlp") { join_path(&base, "v1/traces") } else { join_path(&base, "otlp/v1/traces") };
    let target = OtlpTarget {
        display_name: "Grafana Cloud",
        url,
        method: Method::POST,
        encoding: Encoding::Protobuf,
        compression: Compression::None,
        headers: headers_with(input.headers.as_ref(), vec![(AUTHORIZATION, basic_auth(&instance_id, token.expose()))])?,
        credential_hint: "check instance_id and that api_key has the traces:write scope",
    };
    Ok(GrafanaConfig { target, options: EncodeOptions { legacy_names: true, ..EncodeOptions::gen_ai(Encoding::Protobuf) } })
}
