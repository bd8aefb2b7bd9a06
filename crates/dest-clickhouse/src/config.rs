//! ClickHouse destination config: parsing and validation (pure, no I/O).

use broadcast_core::{ConfigError, Secret};
use reqwest::Url;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

pub const DEFAULT_DATABASE: &str = "default";
pub const DEFAULT_TABLE: &str = "BROADCAST_TRACES";
pub const DEFAULT_USERNAME: &str = "default";

const KNOWN_KEYS: &[&str] = &["url", "database", "table", "username", "password"];

/// The raw config as written in a config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClickHouseConfigInput {
    /// HTTP interface of the server, such as `https://abc123.eu-west-1.aws.clickhouse.cloud:8443`
    /// or `http://localhost:8123`.
    pub url: String,
    /// Database of the table. Defaults to `default`.
    #[serde(default)]
    pub database: Option<String>,
    /// Table the rows go to; create it with `broadcast ddl`. Defaults to `BROADCAST_TRACES`.
    #[serde(default)]
    pub table: Option<String>,
    /// User name. Defaults to `default`.
    #[serde(default)]
    pub username: Option<String>,
    /// Password of the user; empty for a user without one.
    #[serde(default)]
    #[schemars(extend("x-secret" = true))]
    pub password: Option<String>,
}

/// A validated ClickHouse config.
#[derive(Debug, Clone)]
pub struct ClickHouseConfig {
    pub url: Url,
    pub database: String,
    pub table: String,
    pub username: String,
    pub password: Secret,
}

/// Parses and checks a raw ClickHouse config.
///
/// # Errors
/// [`ConfigError`] naming the key at fault; the password is never quoted.
pub fn validate(raw: &Value) -> Result<ClickHouseConfig, ConfigError> {
    let input: ClickHouseConfigInput = sink_support::config::parse(raw, KNOWN_KEYS)?;
    let url = sink_support::config::base_url("url", &input.url, "https://abc123.eu-west-1.aws.clickhouse.cloud:8443")?;
    let name = |field: &str, value: Option<String>, default: &str| -> Result<String, ConfigError> {
        let value = value.unwrap_or_else(|| default.to_string());
        let value = value.trim();
        if value.is_empty() {
            return Err(ConfigError::new(field, format!("is empty; omit it to use `{default}`")));
        }
        if value.chars().any(char::is_control) {
            return Err(ConfigError::new(field, "contains a control character; use a plain name"));
        }
        Ok(value.to_string())
    };
    Ok(ClickHouseConfig {
        url,
        database: name("database", input.database, DEFAULT_DATABASE)?,
        table: name("table", input.table, DEFAULT_TABLE)?,
        username: name("username", input.username, DEFAULT_USERNAME)?,
        password: Secret::new(input.password.unwrap_or_default()),
    })
}
