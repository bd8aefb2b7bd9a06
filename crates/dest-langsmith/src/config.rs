//! LangSmith config: parsing and validation (pure, no I/O).

use std::collections::BTreeMap;

use broadcast_core::{ConfigError, Secret};
use broadcast_otlp::config::{config_error, header, headers_with, join_path, parse_http_url, required_secret, required_text};
use broadcast_otlp::{Compression, EncodeOptions, Encoding, OtlpTarget};
use reqwest::Method;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

const KNOWN_KEYS: &str = "api_key, project, workspace_id, endpoint, headers";
pub const DEFAULT_ENDPOINT: &str = "https://api.smith.langchain.com";
/// LangSmith's own default project name.
pub const DEFAULT_PROJECT: &str = "default";

/// The raw config as written in a config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LangsmithConfigInput {
    /// LangSmith API key, `lsv2_pt_…` or `lsv2_sk_…`, sent as `x-api-key`.
    #[schemars(extend("x-secret" = true))]
    pub api_key: String,
    /// Project (tracing project) the runs are filed under; `default` when omitted.
    #[serde(default)]
    pub project: Option<String>,
    /// Workspace id, needed for organisation-scoped keys; sent as `x-tenant-id`.
    #[serde(default)]
    pub workspace_id: Option<String>,
    /// LangSmith API URL: `https://api.smith.langchain.com` (default),
    /// `https://eu.api.smith.langchain.com`, or a self-hosted URL.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Custom headers sent with every request. Values are treated as secrets.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
}

/// A validated LangSmith config.
#[derive(Debug, Clone)]
pub struct LangsmithConfig {
    pub target: OtlpTarget,
    pub options: EncodeOptions,
}

/// Parses and checks a raw LangSmith config.
///
/// # Errors
/// [`ConfigError`] naming the key; the API key is never quoted.
pub fn validate(raw: &Value) -> Result<LangsmithConfig, ConfigError> {
    let input: LangsmithConfigInput = serde_json::from_value(raw.clone()).map_err(|error| config_error(&error, KNOWN_KEYS))?;
    let api_key = required_secret("api_key", &input.api_key, "your LangSmith API key (lsv2_…)")?;
    let project = match input.project.as_deref() {
        None => DEFAULT_PROJECT.to_string(),
        Some(project) => required_text("project", project, "a LangSmith project name, or omit it for `default`")?,
    };
    let base = parse_http_url("endpoint", input.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT), DEFAULT_ENDPOINT)?;
    let mut own = vec![(header("x-api-key"), api_key), (header("langsmith-project"), Secret::new(project))];
    if let Some(workspace) = input.workspace_id.as_deref() {
        let workspace = required_text("workspace_id", workspace, "the LangSmith workspace id, or omit it")?;
        own.push((header("x-tenant-id"), Secret::new(workspace)));
    }
    let target = OtlpTarget {
        display_name: "LangSmith",
        url: join_path(&base, "otel/v1/traces"),
        method: Method::POST,
        encoding: Encoding::Protobuf,
        compression: Compression::None,
        headers: headers_with(input.headers.as_ref(), own)?,
        credential_hint: "check api_key, and workspace_id for an organisation-scoped key",
    };
    let options = EncodeOptions {
        legacy_names: true,
        span_kind_attribute: Some(("langsmith.span.kind", "llm", "chain")),
        ..EncodeOptions::gen_ai(Encoding::Protobuf)
    };
    Ok(LangsmithConfig { target, options })
}
