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
}
