//! Encryption of destination secrets at rest: AES-256-GCM with operator-provided keys.
//!
//! Every sealed value records the id of the key that sealed it (the first 8 bytes of the key's
//! SHA-256, in hex), so keys can be rotated: the first key of a [`KeyRing`] seals new values,
//! and every key in it can open values sealed earlier.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Length of an AES-256 key in bytes.
pub const KEY_BYTES: usize = 32;

/// A value sealed with one key of the ring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub kid: String,
    /// 96-bit random nonce, base64.
    pub nonce: String,
    /// Ciphertext with its authentication tag, base64.
    pub ciphertext: String,
}

/// Why a key or a sealed value cannot be used. Never contains key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("invalid secret key {source_name}: {message}")]
    InvalidKey { source_name: String, message: String },
    #[error("no key with id `{0}` is configured; add the key that sealed the stored secrets to BROADCAST_SECRET_KEY or server.secret_key_file")]
    UnknownKey(String),
    #[error("a stored secret cannot be opened with key `{0}`: it was altered, or the key is wrong")]
    Corrupt(String),
}

/// The operator's keys, the first of which seals new values.
#[derive(Clone)]
pub struct KeyRing {
    keys: Vec<(String, Aes256Gcm)>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(kid, _)| kid.as_str()).collect();
        formatter.debug_struct("KeyRing").field("key_ids", &ids).finish()
    }
}

impl KeyRing {
    /// Parses keys from text: one base64-encoded 32-byte key per line, the first one sealing
    /// new values. Blank lines and lines starting with `#` are skipped.
    ///
    /// # Errors
    /// [`CryptoError::InvalidKey`] naming `source_name` and the line, without its content.
    pub fn parse(text: &str, source_name: &str) -> Result<KeyRing, CryptoError> {
        let mut keys = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let invalid = |message: &str| CryptoError::InvalidKey {
                source_name: source_name.to_string(),
                message: format!("line {}: {message}", index + 1),
            };
            let bytes = BASE64
                .decode(line)
                .map_err(|_| invalid("not base64; generate a key with `head -c 32 /dev/urandom | base64`"))?;
            if bytes.len() != KEY_BYTES {
                return Err(invalid(&format!("decodes to {} bytes, not {KEY_BYTES}", bytes.len())));
            }
            keys.push(KeyRing::entry(&bytes));
        }
        if keys.is_empty() {
            return Err(CryptoError::InvalidKey {
                source_name: source_name.to_string(),
                message: "contains no key".to_string(),
            });
        }
        Ok(KeyRing { keys })
    }

    /// Generates a new random key, returned as the text [`KeyRing::parse`] reads.
    pub fn generate_text() -> String {
        let mut bytes = [0u8; KEY_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        format!("{}\n", BASE64.encode(bytes))
    }

    fn entry(bytes: &[u8]) -> (String, Aes256Gcm) {
        let digest = Sha256::digest(bytes);
        let kid: String = digest[..8].iter().map(|byte| format!("{byte:02x}")).collect();
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(bytes));
        (kid, cipher)
    }

    /// The id of the key that seals new values.
    pub fn primary_kid(&self) -> &str {
        &self.keys[0].0
    }

    /// Seals `plaintext` with the primary key.
    pub fn seal(&self, plaintext: &str) -> Sealed {
        let (kid, cipher) = &self.keys[0];
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // AES-GCM encryption fails only for plaintexts over 64 GiB, far beyond any config value.
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .unwrap_or_default();
        Sealed {
            kid: kid.clone(),
            nonce: BASE64.encode(nonce),
            ciphertext: BASE64.encode(ciphertext),
        }
    }

    /// Opens a sealed value with the key it names.
    ///
    /// # Errors
    /// [`CryptoError::UnknownKey`] when that key is not in the ring, [`CryptoError::Corrupt`]
    /// when authentication fails.
    pub fn open(&self, sealed: &Sealed) -> Result<String, CryptoError> {
        let Some((_, cipher)) = self.keys.iter().find(|(kid, _)| *kid == sealed.kid) else {
            return Err(CryptoError::UnknownKey(sealed.kid.clone()));
        };
        let corrupt = || CryptoError::Corrupt(sealed.kid.clone());
        let nonce = BASE64.decode(&sealed.nonce).map_err(|_| corrupt())?;
        let ciphertext = BASE64.decode(&sealed.ciphertext).map_err(|_| corrupt())?;
        if nonce.len() != 12 {
            return Err(corrupt());
        }
        let plaintext = cipher
            .decrypt(Nonce::from_slice(&nonce), ciphertext.as_slice())
            .map_err(|_| corrupt())?;
        String::from_utf8(plaintext).map_err(|_| corrupt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_then_open() {
        let ring = KeyRing::parse(&KeyRing::generate_text(), "test").unwrap_or_else(|error| panic!("{error}"));
        let sealed = ring.seal("rk_live_secret");
        assert!(!sealed.ciphertext.contains("rk_live_secret"));
        assert_eq!(ring.open(&sealed).ok().as_deref(), Some("rk_live_secret"));
    }

    #[test]
    fn rotated_ring_opens_old_values() {
        let old_text = KeyRing::generate_text();
        let old = KeyRing::parse(&old_text, "old").unwrap_or_else(|error| panic!("{error}"));
        let sealed = old.seal("rk_old");
        let rotated = KeyRing::parse(&format!("{}{old_text}", KeyRing::generate_text()), "rotated")
            .unwrap_or_else(|error| panic!("{error}"));
        assert_ne!(rotated.primary_kid(), old.primary_kid());
        assert_eq!(rotated.open(&sealed).ok().as_deref(), Some("rk_old"));
        assert_eq!(rotated.seal("x").kid, rotated.primary_kid());
    }

    #[test]
    fn missing_key_named() {
        let first = KeyRing::parse(&KeyRing::generate_text(), "a").unwrap_or_else(|error| panic!("{error}"));
        let second = KeyRing::parse(&KeyRing::generate_text(), "b").unwrap_or_else(|error| panic!("{error}"));
        let sealed = first.seal("value");
        assert_eq!(second.open(&sealed), Err(CryptoError::UnknownKey(first.primary_kid().to_string())));
    }

    #[test]
    fn tampered_value_rejected() {
        let ring = KeyRing::parse(&KeyRing::generate_text(), "test").unwrap_or_else(|error| panic!("{error}"));
        let mut sealed = ring.seal("value");
        sealed.ciphertext = BASE64.encode(b"not the ciphertext at all");
        assert!(matches!(ring.open(&sealed), Err(CryptoError::Corrupt(_))));
    }

    #[test]
    fn short_key_rejected() {
        let error = KeyRing::parse(&BASE64.encode([1u8; 16]), "env BROADCAST_SECRET_KEY").err();
        let message = error.map(|error| error.to_string()).unwrap_or_default();
        assert!(message.contains("16 bytes"), "{message}");
    }
}
