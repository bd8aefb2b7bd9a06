//! Comet Opik config: parsing and validation (pure, no I/O).

use std::collections::BTreeMap;

use broadcast_core::{ConfigError, Secret};
use broadcast_otlp::config::{config_error, header, headers_with, join_path, parse_http_url, required_secret, required_text};
use broadcast_otlp::{Compression, EncodeOptions, Encoding, OtlpTarget};
use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

const KNOWN_KEYS: &str = "api_key, workspace, project_name, base_url, headers";
/// Opik Cloud's API base; a self-hosted Opik serves it at `http://<host>:5173/api`.
pub const DEFAULT_BASE_URL: &str = "https://www.comet.com/opik/api";

/// The raw config as written in a config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OpikConfigInput {
    /// Opik API key, sent as `Authorization` without a scheme.
    #[schemars(extend("x-secret" = true))]
    pub api_key: String,
    /// Comet workspace name, sent as `Comet-Workspace`.
    pub workspace: String,
    /// Opik project name, sent as `projectName`.
    pub project_name: String,
    /// Opik API base URL; Opik Cloud when omitted.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Custom headers sent with every request. Values are treated as secrets.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
}

/// A validated Opik config.
#[derive(Debug, Clone)]
pub struct OpikConfig {
    pub target: OtlpTarget,
    pub options: EncodeOptions,
}

/// Parses and checks a raw Opik config.
///
/// # Errors
/// [`ConfigError`] naming the key; the API key is never quoted.
pub fn validate(raw: &Value) -> Result<OpikConfig, ConfigError> {
    let input: OpikConfigInput = serde_json::from_value(raw.clone()).map_err(|error| config_error(&error, KNOWN_KEYS))?;
    let api_key = required_secret("api_key", &input.api_key, "your Opik API key")?;
    let workspace = required_text("workspace", &input.workspace, "your Comet workspace name")?;
    let project = required_text("project_name", &input.project_name, "the Opik project name")?;
    let base = parse_http_url("base_url", input.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL), DEFAULT_BASE_URL)?;
    let own = vec![
        (AUTHORIZATION, api_key),
        (header("comet-workspace"), Secret::new(workspace)),
        (header("projectname"), Secret::new(project)),
    ];
    let target = OtlpTarget {
        display_name: "Opik",
        url: join_path(&base, "v1/private/otel/v1/traces"),
        method: Method::POST,
        encoding: Encoding::Protobuf,
        compression: Compression::None,
        headers: headers_with(input.headers.as_ref(), own)?,
        credential_hint: "check api_key and workspace",
    };
    Ok(OpikConfig { target, options: EncodeOptions::gen_ai(Encoding::Protobuf) })
}
