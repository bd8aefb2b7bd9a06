//! W&B Weave config: parsing and validation (pure, no I/O).

use std::collections::BTreeMap;

use broadcast_core::{ConfigError, Secret};
use broadcast_otlp::config::{config_error, header, headers_with, join_path, parse_http_url, required_secret, required_text};
use broadcast_otlp::{AnyValue, Compression, EncodeOptions, Encoding, KeyValue, OtlpTarget};
use reqwest::Method;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

const KNOWN_KEYS: &str = "api_key, entity, project, base_url, headers";
pub const DEFAULT_BASE_URL: &str = "https://trace.wandb.ai";

/// The raw config as written in a config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WeaveConfigInput {
    /// W&B API key, sent as `wandb-api-key`.
    #[schemars(extend("x-secret" = true))]
    pub api_key: String,
    /// W&B entity (team or user name).
    pub entity: String,
    /// Weave project name.
    pub project: String,
    /// Weave trace server; `https://trace.wandb.ai` when omitted. Dedicated instances use
    /// `https://<name>.wandb.io/traces`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Custom headers sent with every request. Values are treated as secrets.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
}

/// A validated Weave config.
#[derive(Debug, Clone)]
pub struct WeaveConfig {
    pub target: OtlpTarget,
    pub options: EncodeOptions,
}

/// Parses and checks a raw Weave config.
///
/// # Errors
/// [`ConfigError`] naming the key; the API key is never quoted.
pub fn validate(raw: &Value) -> Result<WeaveConfig, ConfigError> {
    let input: WeaveConfigInput = serde_json::from_value(raw.clone()).map_err(|error| config_error(&error, KNOWN_KEYS))?;
    let api_key = required_secret("api_key", &input.api_key, "your W&B API key")?;
    let entity = required_text("entity", &input.entity, "your W&B entity (team or user)")?;
    let project = required_text("project", &input.project, "the Weave project name")?;
    for (field, value) in [("entity", &entity), ("project", &project)] {
        if value.contains('/') {
            return Err(ConfigError::new(field, format!("`{value}` contains `/`; give entity and project separately")));
        }
    }
    let base = parse_http_url("base_url", input.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL), DEFAULT_BASE_URL)?;
    let own = vec![
        (header("wandb-api-key"), api_key),
        (header("project_id"), Secret::new(format!("{entity}/{project}"))),
    ];
    let target = OtlpTarget {
        display_name: "W&B Weave",
        url: join_path(&base, "otel/v1/traces"),
        method: Method::POST,
        encoding: Encoding::Protobuf,
        compression: Compression::None,
        headers: headers_with(input.headers.as_ref(), own)?,
        credential_hint: "check api_key and that it can write to the entity",
    };
    let options = EncodeOptions {
        resource_attributes: vec![
            KeyValue::new("wandb.entity", AnyValue::string(entity)),
            KeyValue::new("wandb.project", AnyValue::string(project)),
        ],
        ..EncodeOptions::open_inference(Encoding::Protobuf)
    };
    Ok(WeaveConfig { target, options })
}
