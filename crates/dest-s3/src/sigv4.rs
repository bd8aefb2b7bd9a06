//! AWS Signature Version 4 for requests signed in the `Authorization` header.
//!
//! The canonical request is built as AWS documents it for S3: the path is URI-encoded once
//! (every byte except `A-Z a-z 0-9 - . _ ~` and `/`), query parameters are encoded and sorted,
//! header names are lowercased and sorted, and the payload's SHA-256 is sent in
//! `x-amz-content-sha256` and signed.

use broadcast_core::Secret;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use reqwest::Url;
use sha2::{Digest, Sha256};

/// Access key, secret and optional session token.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: Secret,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Credentials(***)")
    }
}

/// Request parts to sign: method, URL (already encoded with [`uri_encode_path`]), extra headers to
/// sign (lowercase names), and the payload.
pub struct RequestToSign<'a> {
    pub method: &'a str,
    pub url: &'a Url,
    pub headers: &'a [(&'a str, &'a str)],
    pub payload: &'a [u8],
}

/// Signs a request and returns the headers to add: `x-amz-date`, `x-amz-content-sha256`,
/// `x-amz-security-token` when there is a session token, and `authorization`.
pub fn sign(
    request: &RequestToSign<'_>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    now: DateTime<Utc>,
) -> Vec<(String, String)> {
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let payload_hash = hex(&Sha256::digest(request.payload));
    sign_with_hash(request, &payload_hash, &amz_date, credentials, region, service)
}

/// As [`sign`], with the payload hash and `x-amz-date` given (for the documented examples).
pub fn sign_with_hash(
    request: &RequestToSign<'_>,
    payload_hash: &str,
    amz_date: &str,
    credentials: &Credentials,
    region: &str,
    service: &str,
) -> Vec<(String, String)> {
    let date = &amz_date[..8.min(amz_date.len())];
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    headers.push(("host".into(), host_header(request.url)));
    headers.push(("x-amz-content-sha256".into(), payload_hash.to_string()));
    headers.push(("x-amz-date".into(), amz_date.to_string()));
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token".into(), token.expose().to_string()));
    }
    headers.sort();

    let signed_headers = headers.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(";");
    let canonical_headers: String = headers.iter().map(|(name, value)| format!("{name}:{value}\n")).collect();
    let canonical_request = format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed_headers}\n{payload_hash}",
        request.method,
        canonical_path(request.url),
        canonical_query(request.url),
    );

    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(&Sha256::digest(canonical_request.as_bytes()))
    );
    let key = signing_key(credentials.secret_access_key.expose(), date, region, service);
    let signature = hex(&hmac(&key, string_to_sign.as_bytes()));

    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
        credentials.access_key_id.expose()
    );
    let mut added: Vec<(String, String)> = headers
        .into_iter()
        .filter(|(name, _)| name.starts_with("x-amz-"))
        .collect();
    added.push(("authorization".into(), authorization));
    added
}

/// `host` or `host:port` when the port is not the scheme's default, as HTTP clients send it.
fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

fn canonical_path(url: &Url) -> String {
    let path = url.path();
    if path.is_empty() {
        "/".to_string()
    } else {
        path.to_string()
    }
}

fn canonical_query(url: &Url) -> String {
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(name, value)| (uri_encode(&name, true), uri_encode(&value, true)))
        .collect();
    pairs.sort();
    pairs.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("&")
}

fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let date_key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let region_key = hmac(&date_key, region.as_bytes());
    let service_key = hmac(&region_key, service.as_bytes());
    hmac(&service_key, b"aws4_request")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return Vec::new();
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(DIGITS[usize::from(byte >> 4)] as char);
        text.push(DIGITS[usize::from(byte & 0x0f)] as char);
    }
    text
}

/// Percent-encodes every byte of `text` except the unreserved characters, and except `/`
/// when `encode_slash` is false (object key paths).
pub fn uri_encode(text: &str, encode_slash: bool) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~');
        if unreserved || (byte == b'/' && !encode_slash) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// Encodes an object key for the URL path; the same form is the canonical URI.
pub fn uri_encode_path(key: &str) -> String {
    uri_encode(key, false)
}
