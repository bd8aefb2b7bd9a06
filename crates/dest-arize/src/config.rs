//! Arize AX config: parsing and validation (pure, no I/O).

use std::collections::BTreeMap;

use broadcast_core::{ConfigError, Secret};
use broadcast_otlp::config::{config_error, header, headers_with, join_path, parse_http_url, required_secret, required_text};
use broadcast_otlp::{AnyValue, Compression, EncodeOptions, Encoding, KeyValue, OtlpTarget};
use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

const KNOWN_KEYS: &str = "api_key, space_id, project_name (or model_id), base_url, headers";
pub const DEFAULT_BASE_URL: &str = "https://otlp.arize.com";

/// The raw config as written in a config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArizeConfigInput {
    /// Arize API key.
    #[schemars(extend("x-secret" = true))]
    pub api_key: String,
    /// Arize space id (space key).
    pub space_id: String,
    /// Arize project name; OpenRouter's form calls it "Model Id", and `model_id` is accepted.
    #[serde(alias = "model_id")]
    pub project_name: String,
    /// Arize OTLP host: `https://otlp.arize.com` (default) or
    /// `https://otlp.eu-west-1a.arize.com` for the EU.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Custom headers sent with every request. Values are treated as secrets.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
}

/// A validated Arize config.
#[derive(Debug, Clone)]
pub struct ArizeConfig {
    pub target: OtlpTarget,
    pub options: EncodeOptions,
}

/// Parses and checks a raw Arize config.
///
/// # Errors
/// [`ConfigError`] naming the key; the API key is never quoted.
pub fn validate(raw: &Value) -> Result<ArizeConfig, ConfigError> {
    let input: ArizeConfigInput = serde_json::from_value(raw.clone()).map_err(|error| config_error(&error, KNOWN_KEYS))?;
    let api_key = required_secret("api_key", &input.api_key, "your Arize API key")?;
    let space_id = required_text("space_id", &input.space_id, "your Arize space id")?;
    let project = required_text("project_name", &input.project_name, "the Arize project name")?;
    let base = parse_http_url("base_url", input.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL), DEFAULT_BASE_URL)?;
    let own = vec![
        (AUTHORIZATION, api_key.clone()),
        (header("api_key"), api_key),
        (header("arize-space-id"), Secret::new(space_id.clone())),
        (header("space_id"), Secret::new(space_id)),
        (header("arize-interface"), Secret::new("otel")),
    ];
    let target = OtlpTarget {
        display_name: "Arize",
        url: join_path(&base, "v1/traces"),
        method: Method::POST,
        encoding: Encoding::Protobuf,
        compression: Compression::None,
        headers: headers_with(input.headers.as_ref(), own)?,
        credential_hint: "check api_key and space_id",
    };
    let options = EncodeOptions {
        resource_attributes: vec![
            KeyValue::new("openinference.project.name", AnyValue::string(project.clone())),
            KeyValue::new("model_id", AnyValue::string(project)),
        ],
        ..EncodeOptions::open_inference(Encoding::Protobuf)
    };
    Ok(ArizeConfig { target, options })
}
