//! Which config keys are secret, and how they are masked, merged and sealed.

use serde_json::{Map, Value};

use crate::crypto::{CryptoError, KeyRing, Sealed};

/// Key of the object that replaces a secret value in stored config.
const SEALED_KEY: &str = "$sealed";

pub use broadcast_core::secret::secret_fields;

/// Masks a secret for display: a short prefix and suffix, such as `rk_a...9f2c`; secrets of 12
/// characters or fewer are shown as `****`.
pub fn mask(secret: &str) -> String {
    broadcast_core::Secret::new(secret).masked()
}

/// Returns `config` with every secret string masked.
pub fn masked_config(config: &Value, secret_fields: &[String]) -> Value {
    let mut masked = config.clone();
    if let Some(object) = masked.as_object_mut() {
        for field in secret_fields {
            if let Some(Value::String(secret)) = object.get_mut(field) {
                *secret = mask(secret);
            }
        }
    }
    masked
}

/// Merges a PATCH `config` into the stored one, key by key: a key set to `null` is removed, a
/// secret sent back exactly as it was masked keeps the stored secret, any other value
/// replaces the stored one.
pub fn merge_config(stored: &Value, patch: &Map<String, Value>, secret_fields: &[String]) -> Value {
    let mut merged = stored.as_object().cloned().unwrap_or_default();
    for (key, value) in patch {
        let is_secret = secret_fields.iter().any(|field| field == key);
        match value {
            Value::Null => {
                merged.remove(key);
            }
            Value::String(sent) if is_secret => {
                let unchanged = merged
                    .get(key)
                    .and_then(Value::as_str)
                    .is_some_and(|current| mask(current) == *sent);
                if !unchanged {
                    merged.insert(key.clone(), value.clone());
                }
            }
            _ => {
                merged.insert(key.clone(), value.clone());
            }
        }
    }
    Value::Object(merged)
}

/// Replaces each secret string of `config` by a sealed object.
pub fn seal_config(config: &Value, secret_fields: &[String], keys: &KeyRing) -> Value {
    let mut sealed = config.clone();
    if let Some(object) = sealed.as_object_mut() {
        for field in secret_fields {
            if let Some(Value::String(secret)) = object.get(field) {
                let value = serde_json::to_value(keys.seal(secret)).unwrap_or(Value::Null);
                let mut wrapper = Map::new();
                wrapper.insert(SEALED_KEY.to_string(), value);
                object.insert(field.clone(), Value::Object(wrapper));
            }
        }
    }
    sealed
}

/// Returns whether stored config contains any sealed value.
pub fn has_sealed(config: &Value) -> bool {
    config
        .as_object()
        .is_some_and(|object| object.values().any(|value| value.get(SEALED_KEY).is_some()))
}

/// Opens every sealed value of stored config.
///
/// # Errors
/// [`CryptoError`] when a value was sealed with a key the ring does not have, or was altered.
pub fn open_config(config: &Value, keys: Option<&KeyRing>) -> Result<Value, CryptoError> {
    let mut opened = config.clone();
    if let Some(object) = opened.as_object_mut() {
        for value in object.values_mut() {
            let Some(sealed) = value.get(SEALED_KEY) else {
                continue;
            };
            let sealed: Sealed = serde_json::from_value(sealed.clone())
                .map_err(|_| CryptoError::Corrupt("unknown".to_string()))?;
            let Some(keys) = keys else {
                return Err(CryptoError::UnknownKey(sealed.kid));
            };
            *value = Value::String(keys.open(&sealed)?);
        }
    }
    Ok(opened)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields() -> Vec<String> {
        vec!["write_key".to_string()]
    }

    #[test]
    fn secret_fields_from_schema() {
        let schema = json!({"properties": {"write_key": {"type": "string", "x-secret": true}, "base_url": {"type": "string"}}});
        assert_eq!(secret_fields(&schema), fields());
    }

    #[test]
    fn masked_value_keeps_secret() {
        let stored = json!({"write_key": "rk_live_0123456789abcdef", "base_url": "https://a.example"});
        let masked = masked_config(&stored, &fields());
        assert_eq!(masked["write_key"], "rk_l...cdef");
        let patch = masked.as_object().cloned().unwrap_or_default();
        assert_eq!(merge_config(&stored, &patch, &fields()), stored);
    }

    #[test]
    fn new_secret_replaces_old() {
        let stored = json!({"write_key": "rk_live_0123456789abcdef"});
        let patch = json!({"write_key": "rk_live_new_value_987654"});
        let merged = merge_config(&stored, patch.as_object().unwrap_or(&Map::new()), &fields());
        assert_eq!(merged["write_key"], "rk_live_new_value_987654");
    }

    #[test]
    fn merge_is_key_by_key() {
        let stored = json!({"write_key": "rk_live_0123456789abcdef", "project_id": "a", "base_url": "https://x"});
        let patch = json!({"project_id": "b", "base_url": null});
        let merged = merge_config(&stored, patch.as_object().unwrap_or(&Map::new()), &fields());
        assert_eq!(merged, json!({"write_key": "rk_live_0123456789abcdef", "project_id": "b"}));
    }

    #[test]
    fn sealed_config_holds_no_plaintext() {
        let keys = KeyRing::parse(&KeyRing::generate_text(), "test").unwrap_or_else(|error| panic!("{error}"));
        let config = json!({"write_key": "rk_live_0123456789abcdef", "base_url": "https://x"});
        let sealed = seal_config(&config, &fields(), &keys);
        assert!(!sealed.to_string().contains("rk_live_0123456789abcdef"));
        assert!(has_sealed(&sealed));
        assert_eq!(open_config(&sealed, Some(&keys)).ok(), Some(config));
        assert!(open_config(&sealed, None).is_err(), "opening without a key must fail");
    }
}
