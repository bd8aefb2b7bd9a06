//! Parsing helpers for destination configs. Pure: no I/O.

use broadcast_core::ConfigError;
use reqwest::Url;
use serde_json::Value;

/// Parses `text` as an http(s) base URL with a host and no credentials, query or fragment,
/// and removes a trailing slash from its path.
///
/// # Errors
/// [`ConfigError`] on `field`, quoting the value and an example of a valid one.
pub fn base_url(field: &str, text: &str, example: &str) -> Result<Url, ConfigError> {
    let trimmed = text.trim();
    let url = Url::parse(trimmed).map_err(|error| {
        ConfigError::new(field, format!("`{trimmed}` is not a valid URL ({error}); use a URL such as {example}"))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new(
            field,
            format!("`{trimmed}` must be an http or https URL with a host, such as {example}"),
        ));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::new(
            field,
            format!(
                "the URL for host `{}` must not carry credentials, a query or a fragment",
                url.host_str().unwrap_or_default()
            ),
        ));
    }
    let mut normalised = url.clone();
    normalised.set_path(url.path().trim_end_matches('/'));
    Ok(normalised)
}

/// Joins `path` (no leading slash) to a base URL.
pub fn join(base: &Url, path: &str) -> String {
    format!("{}/{path}", base.as_str().trim_end_matches('/'))
}

/// Returns a required, non-empty, trimmed string.
///
/// # Errors
/// [`ConfigError`] on `field` when the value is empty; `hint` tells the user what to put there.
pub fn required(field: &str, value: &str, hint: &str) -> Result<String, ConfigError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ConfigError::new(field, format!("is empty; {hint}")));
    }
    Ok(trimmed.to_string())
}

/// Checks a credential: not empty and without whitespace. Never quotes the value.
///
/// # Errors
/// [`ConfigError`] on `field`.
pub fn credential(field: &str, value: &str, what: &str) -> Result<broadcast_core::Secret, ConfigError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(ConfigError::new(field, format!("is empty; set it to your {what}")));
    }
    if trimmed.chars().any(char::is_whitespace) {
        return Err(ConfigError::new(
            field,
            format!("contains whitespace; paste the {what} exactly as it was issued"),
        ));
    }
    Ok(broadcast_core::Secret::new(trimmed))
}

/// Parses a raw config into `T`, turning serde's error into a [`ConfigError`] that names the
/// key and never quotes a value.
///
/// # Errors
/// [`ConfigError`] naming the missing, unknown or mistyped key.
pub fn parse<T: serde::de::DeserializeOwned>(raw: &Value, known_keys: &[&str]) -> Result<T, ConfigError> {
    serde_json::from_value(raw.clone()).map_err(|error| {
        let text = error.to_string();
        for (marker, advice) in [
            ("unknown field `", format!("is not a known key; known keys: {}", known_keys.join(", "))),
            ("missing field `", "is missing; add it to the destination's config".to_string()),
        ] {
            if let Some(field) = text.split(marker).nth(1).and_then(|rest| rest.split('`').next()) {
                return ConfigError::new(field, advice);
            }
        }
        let field = mistyped_field(raw, known_keys).unwrap_or("config");
        ConfigError::new(field, "has the wrong type; see the destination's documentation for each key's type")
    })
}

/// Best guess at the key whose value has the wrong type: serde's message quotes the value,
/// not the key, so look for a known key whose value is neither a string nor a number as
/// expected. Returns `None` when no key matches.
fn mistyped_field<'k>(raw: &Value, known_keys: &[&'k str]) -> Option<&'k str> {
    let object = raw.as_object()?;
    known_keys
        .iter()
        .copied()
        .find(|key| matches!(object.get(*key), Some(Value::Array(_) | Value::Object(_) | Value::Null)))
}
