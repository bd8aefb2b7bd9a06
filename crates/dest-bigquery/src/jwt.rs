//! Service-account keys and the RS256 JWTs signed with them.
//!
//! The destination authorises with a self-signed JWT: a token whose audience is the BigQuery
//! API, signed locally with the service account's key and sent as the bearer token. Google
//! accepts such tokens for its APIs in place of an OAuth access token, so no token request
//! is needed.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Utc};
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde_json::json;

/// How long a signed token is valid; Google accepts at most one hour.
pub const TOKEN_LIFETIME_SECONDS: i64 = 3600;

/// A parsed service-account key: its email, key id and RSA key pair.
pub struct ServiceAccountKey {
    pub client_email: String,
    pub private_key_id: Option<String>,
    key_pair: RsaKeyPair,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    /// Parses the JSON key file Google issues for a service account.
    ///
    /// # Errors
    /// A message naming the missing or invalid field; it never quotes the private key.
    pub fn parse(json_text: &str) -> Result<Self, String> {
        let key: serde_json::Value =
            serde_json::from_str(json_text).map_err(|error| format!("is not the JSON key file of a service account ({error})"))?;
        if key.get("type").and_then(serde_json::Value::as_str) != Some("service_account") {
            return Err("is not a service-account key: its `type` is not `service_account`".to_string());
        }
        let client_email = key
            .get("client_email")
            .and_then(serde_json::Value::as_str)
            .filter(|email| email.contains('@'))
            .ok_or("has no `client_email`")?
            .to_string();
        let pem = key.get("private_key").and_then(serde_json::Value::as_str).ok_or("has no `private_key`")?;
        let der = pem_to_der(pem)?;
        let key_pair = RsaKeyPair::from_pkcs8(&der)
            .map_err(|error| format!("has a `private_key` that is not a usable RSA key in PKCS#8 form ({error})"))?;
        Ok(ServiceAccountKey {
            client_email,
            private_key_id: key.get("private_key_id").and_then(serde_json::Value::as_str).map(str::to_string),
            key_pair,
        })
    }

    /// Signs a JWT for `audience`, valid from `now` for [`TOKEN_LIFETIME_SECONDS`].
    ///
    /// # Errors
    /// A message when signing fails, which ring reports only for an unusable key.
    pub fn sign_token(&self, audience: &str, now: DateTime<Utc>) -> Result<String, String> {
        let mut header = json!({"alg": "RS256", "typ": "JWT"});
        if let Some(id) = &self.private_key_id {
            header["kid"] = json!(id);
        }
        let issued = now.timestamp();
        let claims = json!({
            "iss": self.client_email,
            "sub": self.client_email,
            "aud": audience,
            "iat": issued,
            "exp": issued + TOKEN_LIFETIME_SECONDS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0_u8; self.key_pair.public().modulus_len()];
        self.key_pair
            .sign(&RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), signing_input.as_bytes(), &mut signature)
            .map_err(|_| "signing the token failed".to_string())?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }

    /// Returns the public key in DER (RSAPublicKey), for checking signatures in tests.
    pub fn public_key_der(&self) -> Vec<u8> {
        self.key_pair.public().as_ref().to_vec()
    }
}

/// Decodes the DER bytes of a `-----BEGIN PRIVATE KEY-----` PEM block.
fn pem_to_der(pem: &str) -> Result<Vec<u8>, String> {
    let begin = "-----BEGIN PRIVATE KEY-----";
    let end = "-----END PRIVATE KEY-----";
    let start = pem.find(begin).ok_or("has a `private_key` without a `BEGIN PRIVATE KEY` block")? + begin.len();
    let stop = pem[start..].find(end).ok_or("has a `private_key` without an `END PRIVATE KEY` line")? + start;
    let body: String = pem[start..stop].chars().filter(|character| !character.is_whitespace()).collect();
    STANDARD
        .decode(body)
        .map_err(|error| format!("has a `private_key` whose PEM body is not base64 ({error})"))
}
