//! Raindrop destination config: parsing and validation (pure, no I/O).

use broadcast_core::{ConfigError, Secret};
use regex::Regex;
use reqwest::Url;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

pub const DEFAULT_BASE_URL: &str = "https://api.raindrop.ai";
pub const DEFAULT_EVENT_NAME: &str = "ai_generation";
pub const DEFAULT_USER_ID: &str = "anonymous";

/// Raindrop project slugs: lowercase letters, digits and hyphens, 1 to 63 characters, starting
/// and ending with a letter or digit (Raindrop's HTTP API documentation).
const PROJECT_SLUG_PATTERN: &str = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$";

/// The raw config as written in a config file or sent to the API.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RaindropConfigInput {
    /// Raindrop write key, sent as `Authorization: Bearer <write_key>`.
    #[schemars(extend("x-secret" = true))]
    pub write_key: String,
    /// Raindrop API base URL, without `/v1`.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Project slug sent as `X-Raindrop-Project-Id`. Omit it for the default project. Raindrop
    /// creates a project for a slug it has not seen, so a typo starts a new project.
    #[serde(default)]
    pub project_id: Option<String>,
    /// Event name of every event.
    #[serde(default)]
    pub event_name: Option<String>,
    /// User id sent when a trace has no user, since Raindrop requires one.
    #[serde(default)]
    pub default_user_id: Option<String>,
}

/// A validated Raindrop config.
#[derive(Debug, Clone)]
pub struct RaindropConfig {
    pub write_key: Secret,
    /// Base URL with no trailing slash and no `/v1`.
    pub base_url: Url,
    pub project_id: Option<String>,
    pub event_name: String,
    pub default_user_id: String,
}

impl RaindropConfig {
    /// The URL of `path` (such as `v1/events/track`) under the base URL.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.base_url.as_str().trim_end_matches('/'))
    }
}

/// Parses and checks a raw Raindrop config.
///
/// # Errors
/// [`ConfigError`] naming the key at fault; the write key's value is never quoted.
pub fn validate(raw: &Value) -> Result<RaindropConfig, ConfigError> {
    let input: RaindropConfigInput = serde_json::from_value(raw.clone())
        .map_err(|error| ConfigError::new(field_of(&error), redact_serde_error(&error)))?;

    let write_key = input.write_key.trim();
    if write_key.is_empty() {
        return Err(ConfigError::new("write_key", "is empty; set it to your Raindrop write key"));
    }
    if write_key.chars().any(char::is_whitespace) {
        return Err(ConfigError::new(
            "write_key",
            "contains whitespace; paste the write key exactly as Raindrop shows it",
        ));
    }

    let base_url = parse_base_url(input.base_url.as_deref().unwrap_or(DEFAULT_BASE_URL))?;

    let project_id = match input.project_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(slug) => {
            let pattern = Regex::new(PROJECT_SLUG_PATTERN)
                .map_err(|error| ConfigError::new("project_id", error.to_string()))?;
            if !pattern.is_match(slug) {
                return Err(ConfigError::new(
                    "project_id",
                    format!(
                        "`{slug}` is not a valid Raindrop project slug; use lowercase letters, digits and hyphens (at most 63, not starting or ending with a hyphen)"
                    ),
                ));
            }
            Some(slug.to_string())
        }
    };

    let event_name = input
        .event_name
        .map(|name| name.trim().to_string())
        .unwrap_or_else(|| DEFAULT_EVENT_NAME.to_string());
    if event_name.is_empty() {
        return Err(ConfigError::new("event_name", "is empty; omit it to use `ai_generation`"));
    }
    let default_user_id = input
        .default_user_id
        .map(|user| user.trim().to_string())
        .unwrap_or_else(|| DEFAULT_USER_ID.to_string());
    if default_user_id.is_empty() {
        return Err(ConfigError::new("default_user_id", "is empty; omit it to use `anonymous`"));
    }

    Ok(RaindropConfig {
        write_key: Secret::new(write_key),
        base_url,
        project_id,
        event_name,
        default_user_id,
    })
}

fn parse_base_url(text: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text.trim()).map_err(|error| {
        ConfigError::new(
            "base_url",
            format!("`{text}` is not a valid URL ({error}); use a URL such as {DEFAULT_BASE_URL}"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new(
            "base_url",
            format!("`{text}` must be an http or https URL with a host, such as {DEFAULT_BASE_URL}"),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(ConfigError::new(
            "base_url",
            format!("`{}` must not carry credentials, a query or a fragment", url.host_str().unwrap_or_default()),
        ));
    }
    // Raindrop's SDKs take the base URL with `/v1`, OpenRouter's form without it; accept both.
    let path = url.path().trim_end_matches('/');
    let path = path.strip_suffix("/v1").unwrap_or(path).to_string();
    let mut normalised = url;
    normalised.set_path(&path);
    Ok(normalised)
}

/// The config key a serde error is about, for the error's `field`.
fn field_of(error: &serde_json::Error) -> String {
    let text = error.to_string();
    for marker in ["missing field `", "unknown field `"] {
        if let Some(rest) = text.split(marker).nth(1) {
            if let Some(field) = rest.split('`').next() {
                return field.to_string();
            }
        }
    }
    "config".to_string()
}

/// Serde's message without any value it may quote (a write key given as a number, say).
fn redact_serde_error(error: &serde_json::Error) -> String {
    let text = error.to_string();
    if text.starts_with("unknown field") {
        let known = "write_key, base_url, project_id, event_name, default_user_id";
        return format!("{}; known keys: {known}", text.split(", expected").next().unwrap_or(&text));
    }
    if text.starts_with("missing field") {
        return format!("{}; add it to the destination's config", text.split(" at line").next().unwrap_or(&text));
    }
    "has the wrong type; every key takes a string".to_string()
}
