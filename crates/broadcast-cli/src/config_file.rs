//! The TOML config file: accounts, their destinations, server and delivery settings.
//!
//! String values may reference the environment as `${NAME}`; the reference is replaced after
//! parsing, so a value can never change the file's structure. A missing variable is an error
//! that names the variable and where it is used, never the value.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use broadcast_core::PrivacyMode;
use broadcast_engine::rules::FilterRules;
use broadcast_engine::{DeliverySettings, DestinationSpec};
use serde::Deserialize;
use serde_json::Value;

/// A parsed config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub auth: crate::api::auth::AuthSection,
    #[serde(default)]
    pub delivery: DeliverySettings,
    #[serde(default)]
    pub accounts: Vec<AccountSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Address `serve` listens on.
    pub listen: Option<SocketAddr>,
    /// Directory of the durable queue.
    pub data_dir: Option<PathBuf>,
    /// Largest ingest request body, in bytes.
    pub max_body_bytes: Option<usize>,
    /// File of secret keys (one base64 32-byte key per line, the first one sealing new
    /// secrets); `BROADCAST_SECRET_KEY` holds the same text and wins.
    pub secret_key_file: Option<PathBuf>,
    /// Let destinations created through the API use plain http and loopback or private
    /// addresses (self-hosted receivers, tests).
    #[serde(default)]
    pub allow_private_endpoints: bool,
    /// Most destinations of one type per account (default 5).
    pub max_destinations_per_type: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSection {
    pub id: String,
    #[serde(default)]
    pub destinations: Vec<DestinationSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationSection {
    #[serde(rename = "type")]
    pub type_name: String,
    pub name: String,
    #[serde(default = "default_true")]
    pub enabled: bool,
    #[serde(default)]
    pub privacy_mode: bool,
    #[serde(default = "default_sampling_rate")]
    pub sampling_rate: f64,
    /// Hashes of the API keys whose traces are sent; absent sends every key's traces.
    #[serde(default)]
    pub api_key_hashes: Option<Vec<String>>,
    #[serde(default)]
    pub filter_rules: Option<FilterRules>,
    #[serde(default = "empty_config")]
    pub config: Value,
}

fn default_true() -> bool {
    true
}

fn default_sampling_rate() -> f64 {
    1.0
}

fn empty_config() -> Value {
    Value::Object(serde_json::Map::new())
}

/// Why a config file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read config file {path}: {error}")]
    Read { path: PathBuf, error: std::io::Error },
    #[error("invalid config file {path} at line {line}, column {column}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("config file {path}: environment variable `{variable}` used in {location} is not set; export it or write the value in the file")]
    MissingVariable {
        path: PathBuf,
        variable: String,
        location: String,
    },
    #[error("config file {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl ConfigFile {
    /// Reads and parses `path`, expanding `${NAME}` references from the environment.
    ///
    /// # Errors
    /// [`ConfigFileError`] for an unreadable file, a syntax error (reported without the
    /// offending line, which may hold a secret), a missing variable or a duplicate name.
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigFileError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigFileError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        ConfigFile::parse(&text, path, &|name| std::env::var(name).ok())
    }

    /// Parses config text; `lookup` resolves `${NAME}` references.
    ///
    /// # Errors
    /// See [`ConfigFile::load`].
    pub fn parse(
        text: &str,
        path: &Path,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ConfigFile, ConfigFileError> {
        let mut document: toml::Value = toml::from_str(text).map_err(|error| syntax_error(text, path, &error))?;
        expand_variables(&mut document, "", path, lookup)?;
        let config: ConfigFile = document
            .try_into()
            .map_err(|error: toml::de::Error| ConfigFileError::Invalid {
                path: path.to_path_buf(),
                message: error.message().trim().to_string(),
            })?;
        config.check_names(path)?;
        Ok(config)
    }

    fn check_names(&self, path: &Path) -> Result<(), ConfigFileError> {
        let mut accounts = HashSet::new();
        for account in &self.accounts {
            if account.id.trim().is_empty() {
                return Err(ConfigFileError::Invalid {
                    path: path.to_path_buf(),
                    message: "an account has an empty `id`; give every account an id".into(),
                });
            }
            if !accounts.insert(account.id.as_str()) {
                return Err(ConfigFileError::Invalid {
                    path: path.to_path_buf(),
                    message: format!("account `{}` is defined twice; merge its destinations into one [[accounts]] entry", account.id),
                });
            }
            let mut names = HashSet::new();
            for destination in &account.destinations {
                if !names.insert(destination.name.as_str()) {
                    return Err(ConfigFileError::Invalid {
                        path: path.to_path_buf(),
                        message: format!(
                            "account `{}` has two destinations named `{}`; destination names must be unique within an account",
                            account.id, destination.name
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    /// The destinations of every account, as the engine takes them.
    pub fn destination_specs(&self) -> Vec<DestinationSpec> {
        self.accounts
            .iter()
            .flat_map(|account| {
                account.destinations.iter().map(move |destination| DestinationSpec {
                    key: config_destination_id(&account.id, &destination.name),
                    account_id: account.id.clone(),
                    name: destination.name.clone(),
                    type_name: destination.type_name.clone(),
                    enabled: destination.enabled,
                    privacy: PrivacyMode::from_flag(destination.privacy_mode),
                    sampling_rate: destination.sampling_rate,
                    api_key_hashes: destination.api_key_hashes.clone(),
                    filter_rules: destination.filter_rules.clone(),
                    config: destination.config.clone(),
                })
            })
            .collect()
    }
}

/// The id of a config-file destination: derived from its account and name, so it is the same
/// on every start and queued deliveries find it again.
pub fn config_destination_id(account_id: &str, name: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{account_id}\u{0}{name}").as_bytes());
    let hex: String = digest[..8].iter().map(|byte| format!("{byte:02x}")).collect();
    format!("cfg-{hex}")
}

fn syntax_error(text: &str, path: &Path, error: &toml::de::Error) -> ConfigFileError {
    let offset = error.span().map(|span| span.start).unwrap_or(0).min(text.len());
    let before = &text[..broadcast_core::text::floor_char_boundary(text, offset).len()];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|rest| rest.chars().count() + 1).unwrap_or(1);
    ConfigFileError::Syntax {
        path: path.to_path_buf(),
        line,
        column,
        message: error.message().trim().to_string(),
    }
}

fn expand_variables(
    value: &mut toml::Value,
    location: &str,
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigFileError> {
    match value {
        toml::Value::String(text) => {
            if text.contains("${") {
                *text = expand_string(text, location, path, lookup)?;
            }
        }
        toml::Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                expand_variables(item, &format!("{location}[{index}]"), path, lookup)?;
            }
        }
        toml::Value::Table(table) => {
            for (key, item) in table.iter_mut() {
                let nested = if location.is_empty() { key.clone() } else { format!("{location}.{key}") };
                expand_variables(item, &nested, path, lookup)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn expand_string(
    text: &str,
    location: &str,
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigFileError> {
    let mut expanded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        expanded.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(ConfigFileError::Invalid {
                path: path.to_path_buf(),
                message: format!("{location}: `${{` without a closing `}}`; write `${{NAME}}`"),
            });
        };
        let variable = &after[..end];
        let value = lookup(variable).ok_or_else(|| ConfigFileError::MissingVariable {
            path: path.to_path_buf(),
            variable: variable.to_string(),
            location: location.to_string(),
        })?;
        expanded.push_str(&value);
        rest = &after[end + 1..];
    }
    expanded.push_str(rest);
    Ok(expanded)
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[[accounts]]
id = "acme"
[[accounts.destinations]]
type = "raindrop"
name = "Production Raindrop"
[accounts.destinations.config]
write_key = "${RAINDROP_WRITE_KEY}"
base_url = "http://127.0.0.1:9999"
"#;

    fn lookup(name: &str) -> Option<String> {
        (name == "RAINDROP_WRITE_KEY").then(|| "rk_secret_value_1234".to_string())
    }

    #[test]
    fn example_parses_with_defaults() {
        let config = ConfigFile::parse(EXAMPLE, Path::new("example.toml"), &lookup);
        let Ok(config) = config else {
            panic!("example must parse: {config:?}");
        };
        let specs = config.destination_specs();
        assert_eq!(specs.len(), 1);
        assert_eq!(specs[0].key, config_destination_id("acme", "Production Raindrop"));
        assert!(specs[0].key.starts_with("cfg-"));
        assert!(specs[0].enabled);
        assert_eq!(specs[0].privacy, PrivacyMode::Off);
        assert_eq!(specs[0].sampling_rate, 1.0);
        assert_eq!(specs[0].config["write_key"], "rk_secret_value_1234");
    }

    #[test]
    fn missing_variable_named_not_valued() {
        let error = ConfigFile::parse(EXAMPLE, Path::new("example.toml"), &|_| None).err();
        let message = error.map(|error| error.to_string()).unwrap_or_default();
        assert!(message.contains("RAINDROP_WRITE_KEY"), "{message}");
        assert!(message.contains("accounts[0].destinations[0].config.write_key"), "{message}");
    }

    #[test]
    fn syntax_error_hides_line_text() {
        let text = "[[accounts]]\nid = \"acme\"\nwrite_key = \"rk_live_secret\" oops\n";
        let error = ConfigFile::parse(text, Path::new("bad.toml"), &lookup).err();
        let message = error.map(|error| error.to_string()).unwrap_or_default();
        assert!(message.contains("line 3"), "{message}");
        assert!(!message.contains("rk_live_secret"), "{message}");
    }

    #[test]
    fn duplicate_destination_names_rejected() {
        let text = format!("{EXAMPLE}\n[[accounts.destinations]]\ntype = \"raindrop\"\nname = \"Production Raindrop\"\n");
        let error = ConfigFile::parse(&text, Path::new("dup.toml"), &lookup).err();
        let message = error.map(|error| error.to_string()).unwrap_or_default();
        assert!(message.contains("two destinations named"), "{message}");
    }

    #[test]
    fn unknown_key_rejected() {
        let text = "[[accounts]]\nid = \"acme\"\nsampling = 1\n";
        let error = ConfigFile::parse(text, Path::new("unknown.toml"), &lookup).err();
        let message = error.map(|error| error.to_string()).unwrap_or_default();
        assert!(message.contains("sampling"), "{message}");
    }
}
