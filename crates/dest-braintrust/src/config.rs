//! Braintrust config: parsing and validation (pure, no I/O).

use std::collections::BTreeMap;

use broadcast_core::{ConfigError, Secret};
use broadcast_otlp::config::{config_error, header, headers_with, join_path, parse_http_url, required_secret, required_text};
use broadcast_otlp::{Compression, EncodeOptions, Encoding, OtlpTarget};
use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

const KNOWN_KEYS: &str = "api_key, project_id, base_url, headers";
pub const DEFAULT_BASE_URL: &str = "https://api.braintrust.dev";

/// The raw config as written in a config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BraintrustConfigInput {
    /// Braintrust API key, sent as `Authorization: Bearer <key>`.
    #[schemars(extend("x-secret" = true))]
    pub api_key: String,
    /// Braintrust project id, sent as `x-bt-parent: project_id:<id>`.
    pub project_id: String,
    /// Braintrust API URL; `https://api.braintrust.dev` when omitted.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Custom headers sent with every request. Values are treated as secrets.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
}

/// A validated Braintrust config.
#[derive(Debug, Clone)]
pub struct BraintrustConfig {
    pub target: OtlpTarget,
    pub options: EncodeOptions,
}

/// Parses and checks a raw Braintrust config.
///
/// # Errors
/// [`ConfigError`] naming the key; the API key is never quoted.
pub fn validate(raw: &Value) -> Result<BraintrustConfig, ConfigError> {
    let input: BraintrustConfigInput = serde_json::from_value(raw.clone()).map_err(|error| config_error(&error, KNOWN_KEYS))?;
    let api_key = required_secret("api_key", &input.api_key, "your Braintrust API key")?;
    let project_id = required_text("project_id", &input.project_id, "the Braintrust project id")?;
    let base = parse_http_url("base_url", input.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL), DEFAULT_BASE_URL)?;
    let own = vec![
        (AUTHORIZATION, Secret::new(format!("Bearer {}", api_key.expose()))),
        (header("x-bt-parent"), Secret::new(format!("project_id:{project_id}"))),
    ];
    let target = OtlpTarget {
        display_name: "Braintrust",
        url: join_path(&base, "otel/v1/traces"),
        method: Method::POST,
        encoding: Encoding::Protobuf,
        compression: Compression::None,
        headers: headers_with(input.headers.as_ref(), own)?,
        credential_hint: "check api_key",
    };
    Ok(BraintrustConfig { target, options: EncodeOptions::gen_ai(Encoding::Protobuf) })
}
