//! A wrapper for credentials that keeps them out of logs and error messages.

use serde::{Deserialize, Deserializer};

/// A secret string (an API key, a write key). `Debug` and `Display` print `***`, so a secret
/// never reaches a log line or an error message by accident; read it with [`Secret::expose`]
/// at the one place it is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Returns the secret with all but a short prefix and suffix hidden, such as `rk_a...9f2c`;
    /// secrets of 12 characters or fewer are hidden whole.
    pub fn masked(&self) -> String {
        let characters: Vec<char> = self.0.chars().collect();
        if characters.len() <= 12 {
            return "****".to_string();
        }
        let prefix: String = characters[..4].iter().collect();
        let suffix: String = characters[characters.len() - 4..].iter().collect();
        format!("{prefix}...{suffix}")
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Secret(***)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// Returns the config keys that a destination type's JSON Schema marks `"x-secret": true`.
pub fn secret_fields(schema: &serde_json::Value) -> Vec<String> {
    schema
        .get("properties")
        .and_then(serde_json::Value::as_object)
        .map(|properties| {
            properties
                .iter()
                .filter(|(_, property)| property.get("x-secret") == Some(&serde_json::Value::Bool(true)))
                .map(|(key, _)| key.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// Returns the string values of `config`'s secret keys, skipping values shorter than four
/// characters, which would mask unrelated text.
pub fn secret_values(schema: &serde_json::Value, config: &serde_json::Value) -> Vec<String> {
    secret_fields(schema)
        .iter()
        .filter_map(|key| config.get(key).and_then(serde_json::Value::as_str))
        .filter(|value| value.len() >= 4)
        .map(str::to_string)
        .collect()
}

/// Replaces every occurrence of each secret in `text` by its masked form, for failure
/// reasons that quote a receiver's response body, which can echo the credential it was sent.
pub fn mask_secrets(text: &str, secrets: &[String]) -> String {
    let mut masked = text.to_string();
    for secret in secrets {
        if masked.contains(secret.as_str()) {
            masked = masked.replace(secret.as_str(), &Secret::new(secret.as_str()).masked());
        }
    }
    masked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_value() {
        let secret = Secret::new("rk_live_0123456789abcdef");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(format!("{secret}"), "***");
    }

    #[test]
    fn masked_keeps_prefix_and_suffix() {
        assert_eq!(Secret::new("rk_live_0123456789abcdef").masked(), "rk_l...cdef");
        assert_eq!(Secret::new("short").masked(), "****");
    }

    #[test]
    fn echoed_secret_masked() {
        let schema = serde_json::json!({"properties": {"write_key": {"x-secret": true}, "base_url": {}}});
        let config = serde_json::json!({"write_key": "rk_live_0123456789abcdef", "base_url": "https://x"});
        let secrets = secret_values(&schema, &config);
        assert_eq!(secrets, vec!["rk_live_0123456789abcdef".to_string()]);
        let masked = mask_secrets("HTTP 401: invalid key Bearer rk_live_0123456789abcdef", &secrets);
        assert_eq!(masked, "HTTP 401: invalid key Bearer rk_l...cdef");
    }
}
