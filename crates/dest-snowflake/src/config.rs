//! Snowflake destination config: parsing and validation (pure, no I/O).

use broadcast_core::{ConfigError, Secret};
use reqwest::Url;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

pub const DEFAULT_DATABASE: &str = "SNOWFLAKE_LEARNING_DB";
pub const DEFAULT_SCHEMA: &str = "PUBLIC";
pub const DEFAULT_TABLE: &str = "BROADCAST_TRACES";
pub const DEFAULT_WAREHOUSE: &str = "COMPUTE_WH";

/// Maximum length of an account identifier.
const MAX_ACCOUNT_CHARS: usize = 255;

const KNOWN_KEYS: &[&str] = &["account", "token", "database", "schema", "table", "warehouse", "role", "url"];

/// The raw config as written in a config file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SnowflakeConfigInput {
    /// Account identifier, such as `myorg-myaccount` or `xy12345.us-east-1`; the API host is
    /// `{account}.snowflakecomputing.com`.
    pub account: String,
    /// Programmatic access token of the user that inserts.
    #[schemars(extend("x-secret" = true))]
    pub token: String,
    /// Defaults to `SNOWFLAKE_LEARNING_DB`.
    #[serde(default)]
    pub database: Option<String>,
    /// Defaults to `PUBLIC`.
    #[serde(default)]
    pub schema: Option<String>,
    /// Table the rows go to; create it with `broadcast ddl`. Defaults to `BROADCAST_TRACES`.
    #[serde(default)]
    pub table: Option<String>,
    /// Warehouse that runs the inserts. Defaults to `COMPUTE_WH`.
    #[serde(default)]
    pub warehouse: Option<String>,
    /// Role to insert as; the user's default role when omitted.
    #[serde(default)]
    pub role: Option<String>,
    /// API base URL, replacing `https://{account}.snowflakecomputing.com` (for a proxy or
    /// private link host).
    #[serde(default)]
    pub url: Option<String>,
}

/// A validated Snowflake config.
#[derive(Debug, Clone)]
pub struct SnowflakeConfig {
    pub token: Secret,
    pub api_base: Url,
    pub database: String,
    pub schema: String,
    pub table: String,
    pub warehouse: String,
    pub role: Option<String>,
}

impl SnowflakeConfig {
    /// Returns the URL of `path` (such as `api/v2/statements`) under the API base.
    pub fn endpoint(&self, path: &str) -> String {
        sink_support::config::join(&self.api_base, path)
    }
}

/// Parses and checks a raw Snowflake config.
///
/// # Errors
/// [`ConfigError`] naming the key at fault; the token is never quoted.
pub fn validate(raw: &Value) -> Result<SnowflakeConfig, ConfigError> {
    let input: SnowflakeConfigInput = sink_support::config::parse(raw, KNOWN_KEYS)?;
    let account = input.account.trim();
    let valid_account = !account.is_empty()
        && account.len() <= MAX_ACCOUNT_CHARS
        && account.split(['.', '-']).all(|part| {
            !part.is_empty() && part.chars().all(|character| character.is_ascii_alphanumeric() || character == '_')
        });
    if !valid_account {
        return Err(ConfigError::new(
            "account",
            format!("`{account}` is not a Snowflake account identifier; use the form `myorg-myaccount` or `xy12345.us-east-1`"),
        ));
    }
    let token = sink_support::config::credential("token", &input.token, "Snowflake programmatic access token")?;
    let url = input.url.as_deref().map(str::trim).filter(|url| !url.is_empty());
    let api_base = match url {
        Some(url) => sink_support::config::base_url("url", url, "https://myorg-myaccount.snowflakecomputing.com")?,
        None => sink_support::config::base_url(
            "account",
            &format!("https://{}.snowflakecomputing.com", account.to_ascii_lowercase()),
            "https://myorg-myaccount.snowflakecomputing.com",
        )?,
    };
    let name = |field: &str, value: Option<String>, default: &str| -> Result<String, ConfigError> {
        let value = value.unwrap_or_else(|| default.to_string());
        let value = value.trim();
        if value.is_empty() || value.chars().any(char::is_control) {
            return Err(ConfigError::new(field, format!("must be a non-empty name; omit it to use `{default}`")));
        }
        Ok(value.to_string())
    };
    let role = input.role.map(|role| role.trim().to_string()).filter(|role| !role.is_empty());
    Ok(SnowflakeConfig {
        token,
        api_base,
        database: name("database", input.database, DEFAULT_DATABASE)?,
        schema: name("schema", input.schema, DEFAULT_SCHEMA)?,
        table: name("table", input.table, DEFAULT_TABLE)?,
        warehouse: name("warehouse", input.warehouse, DEFAULT_WAREHOUSE)?,
        role,
    })
}
