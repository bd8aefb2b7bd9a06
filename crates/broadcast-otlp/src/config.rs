//! Config parsing shared by the OTLP destinations (pure, no I/O).

use broadcast_core::{ConfigError, Secret};
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::Url;
use std::collections::BTreeMap;

/// Parses an http(s) URL with a host and no credentials, query or fragment.
///
/// # Errors
/// [`ConfigError`] on `field`, quoting the value (URLs are not secrets here, because one with
/// credentials is rejected without being quoted) and an example.
pub fn parse_http_url(field: &str, text: &str, example: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(text.trim()).map_err(|error| {
        ConfigError::new(field, format!("`{text}` is not a valid URL ({error}); use a URL such as {example}"))
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::new(
            field,
            "must not carry credentials; put them in the destination's key fields or in `headers`",
        ));
    }
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new(field, format!("`{text}` must be an http or https URL with a host, such as {example}")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::new(field, format!("`{text}` must not have a query or a fragment; use a URL such as {example}")));
    }
    Ok(url)
}

/// Appends `path` (such as `v1/traces`) to a base URL, unless the base already ends with it.
pub fn join_path(base: &Url, path: &str) -> Url {
    let base_path = base.path().trim_end_matches('/');
    let path = path.trim_start_matches('/');
    let mut url = base.clone();
    if base_path.ends_with(&format!("/{path}")) {
        url.set_path(base_path);
    } else {
        url.set_path(&format!("{base_path}/{path}"));
    }
    url
}

/// Checks custom headers: valid names and values, and none of the headers the destination
/// sets itself. Values are kept as secrets and never quoted in errors.
///
/// # Errors
/// [`ConfigError`] on `headers`, naming the header.
pub fn parse_headers(
    headers: Option<&BTreeMap<String, String>>,
    reserved: &[&str],
) -> Result<Vec<(HeaderName, Secret)>, ConfigError> {
    let mut parsed = Vec::new();
    for (name, value) in headers.into_iter().flatten() {
        let header = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
            ConfigError::new("headers", format!("`{name}` is not a valid HTTP header name; use letters, digits and hyphens"))
        })?;
        if reserved.iter().any(|reserved| reserved.eq_ignore_ascii_case(header.as_str())) {
            return Err(ConfigError::new(
                "headers",
                format!("`{name}` is set by this destination itself; remove it from `headers`"),
            ));
        }
        if HeaderValue::from_str(value).is_err() {
            return Err(ConfigError::new(
                "headers",
                format!("the value of `{name}` has characters an HTTP header cannot carry (a line break or a control character); remove them"),
            ));
        }
        parsed.push((header, Secret::new(value.clone())));
    }
    Ok(parsed)
}

/// Checks a required credential: not empty, no whitespace inside.
///
/// # Errors
/// [`ConfigError`] on `field` with `what` (such as "your New Relic license key"); the value is
/// never quoted.
pub fn required_secret(field: &str, value: &str, what: &str) -> Result<Secret, ConfigError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ConfigError::new(field, format!("is empty; set it to {what}")));
    }
    if value.chars().any(|character| character.is_whitespace() || character.is_control()) {
        return Err(ConfigError::new(field, format!("contains whitespace; paste {what} exactly as shown")));
    }
    Ok(Secret::new(value))
}

/// Checks a required plain text value (a project name, a workspace).
///
/// # Errors
/// [`ConfigError`] on `field` when it is empty or has characters a header cannot carry.
pub fn required_text(field: &str, value: &str, what: &str) -> Result<String, ConfigError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ConfigError::new(field, format!("is empty; set it to {what}")));
    }
    if HeaderValue::from_str(value).is_err() {
        return Err(ConfigError::new(field, format!("`{}` has a line break or a control character; remove it", value.escape_debug())));
    }
    Ok(value.to_string())
}

/// Turns a serde error on a raw config into a [`ConfigError`] that names the key and never
/// quotes a value (a secret given with the wrong type would otherwise show up).
pub fn config_error(error: &serde_json::Error, known_keys: &str) -> ConfigError {
    let text = error.to_string();
    let mut field = "config".to_string();
    for marker in ["missing field `", "unknown field `", "unknown variant `"] {
        if let Some(rest) = text.split(marker).nth(1) {
            if let Some(name) = rest.split('`').next() {
                field = name.to_string();
            }
        }
    }
    if text.starts_with("unknown field") {
        return ConfigError::new(field, format!("is not a config key of this destination; known keys: {known_keys}"));
    }
    if text.starts_with("missing field") {
        return ConfigError::new(field, "is missing; add it to the destination's config");
    }
    if text.starts_with("unknown variant") {
        let expected = text.split("expected ").nth(1).unwrap_or("").split(" at line").next().unwrap_or("");
        return ConfigError::new("config", format!("`{field}` is not an accepted value; expected {expected}"));
    }
    ConfigError::new("config", format!("a key has the wrong type ({}); known keys: {known_keys}", text.split(" at line").next().unwrap_or(&text).split(':').next().unwrap_or("")))
}

/// Builds the value of an `Authorization: Basic` header for `user` and `password`.
pub fn basic_auth(user: &str, password: &str) -> Secret {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    Secret::new(format!("Basic {encoded}"))
}

/// Headers every OTLP destination sets itself, which `headers` may not override.
pub const RESERVED_HEADERS: &[&str] = &["content-type", "content-encoding", "content-length"];

/// Parses custom headers, then appends the destination's own, rejecting a custom header that
/// would collide with one of them.
///
/// # Errors
/// [`ConfigError`] on `headers` naming the header.
pub fn headers_with(
    custom: Option<&BTreeMap<String, String>>,
    own: Vec<(HeaderName, Secret)>,
) -> Result<Vec<(HeaderName, Secret)>, ConfigError> {
    let mut reserved: Vec<&str> = RESERVED_HEADERS.to_vec();
    reserved.extend(own.iter().map(|(name, _)| name.as_str()));
    let mut headers = parse_headers(custom, &reserved)?;
    headers.extend(own);
    Ok(headers)
}

/// Returns the header name of a lowercase constant.
///
/// # Panics
/// When `name` is not a valid header name, which is a bug in the caller's constant.
pub fn header(name: &'static str) -> HeaderName {
    HeaderName::from_static(name)
}
