//! Credential scrubbing for caller-supplied metadata and request parameters.
//!
//! Gateways copy raw headers and client config into trace metadata, so bearer tokens and API
//! keys arrive at any depth. Ingest replaces them before any destination or log receives the
//! trace, whether or not a destination runs in privacy mode.
//!
//! To test a key, it is lowercased and split into words at `_`, `-`, `.`, `/`, `:`, spaces and
//! camelCase boundaries. The key names a credential when one word is `token`, `secret`,
//! `secrets`, `password`, `passwd`, `authorization`, `cookie`, `cookies`, `credential`,
//! `credentials` or `apikey`, or when the word `api` is directly followed by `key` or `keys`.
//! Plural `tokens` is not a credential word, so usage keys such as `max_tokens` and
//! `prompt_tokens` are kept.

use serde_json::Value;

/// Replacement for the value of a credential key.
pub const REDACTED: &str = "[REDACTED]";

const CREDENTIAL_WORDS: [&str; 11] = [
    "token",
    "secret",
    "secrets",
    "password",
    "passwd",
    "authorization",
    "cookie",
    "cookies",
    "credential",
    "credentials",
    "apikey",
];

/// Replaces, at any depth, the value of every object key that names a credential with
/// `"[REDACTED]"`. The whole value is replaced, even when it is an object or an array.
pub fn redact_credentials(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if is_credential_key(key) {
                    *child = Value::String(REDACTED.to_string());
                } else {
                    redact_credentials(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_credentials),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

/// Returns whether `key` names a credential (see the module documentation for the rule).
pub fn is_credential_key(key: &str) -> bool {
    let words = split_words(key);
    let has_word = words
        .iter()
        .any(|word| CREDENTIAL_WORDS.contains(&word.as_str()));
    let has_api_key = words
        .windows(2)
        .any(|pair| pair[0] == "api" && (pair[1] == "key" || pair[1] == "keys"));
    has_word || has_api_key
}

/// Splits a key into lowercase words at separators and camelCase boundaries, so that
/// `xApiKey`, `APIKey` and `x-api-key` all give `api`, `key`.
fn split_words(key: &str) -> Vec<String> {
    let characters: Vec<char> = key.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();

    for (position, &character) in characters.iter().enumerate() {
        if matches!(character, '_' | '-' | '.' | ' ' | '/' | ':') {
            push_word(&mut words, &mut current);
            continue;
        }
        if character.is_uppercase() && !current.is_empty() {
            let previous = position
                .checked_sub(1)
                .and_then(|index| characters.get(index));
            let next_is_lower = characters
                .get(position + 1)
                .is_some_and(|next| next.is_lowercase());
            // `aB` starts a word at B; in `APIKey`, the K of `Key` starts one too.
            let starts_word = previous.is_some_and(|previous| {
                previous.is_lowercase()
                    || previous.is_ascii_digit()
                    || (previous.is_uppercase() && next_is_lower)
            });
            if starts_word {
                push_word(&mut words, &mut current);
            }
        }
        current.extend(character.to_lowercase());
    }
    push_word(&mut words, &mut current);
    words
}

fn push_word(words: &mut Vec<String>, current: &mut String) {
    if !current.is_empty() {
        words.push(std::mem::take(current));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn credential_keys_detected() {
        for key in [
            "x-api-key",
            "api_key",
            "apiKey",
            "APIKey",
            "openai_api_keys",
            "apikey",
            "access_token",
            "refreshToken",
            "authorization",
            "Proxy-Authorization",
            "cookie",
            "Set-Cookie",
            "client_secret",
            "password",
            "db.passwd",
            "aws credentials",
        ] {
            assert!(is_credential_key(key), "{key} should be a credential key");
        }
    }

    #[test]
    fn ordinary_keys_kept() {
        for key in [
            "max_tokens",
            "prompt_tokens",
            "completion_tokens",
            "user-agent",
            "name",
            "result",
            "key",
            "api",
            "api_version",
            "keyword",
            "tokenizer",
            "capital",
        ] {
            assert!(!is_credential_key(key), "{key} should be kept");
        }
    }

    #[test]
    fn nested_values_redacted_whole() {
        let mut value = json!({
            "guardrail": {
                "name": "tool-permission",
                "raw_headers": {"authorization": "Bearer sk-1", "user-agent": "client/1.0"},
                "list": [{"apiKey": {"nested": "x"}}],
            },
            "max_tokens": 5,
        });
        redact_credentials(&mut value);
        assert_eq!(value["guardrail"]["raw_headers"]["authorization"], REDACTED);
        assert_eq!(
            value["guardrail"]["raw_headers"]["user-agent"],
            "client/1.0"
        );
        assert_eq!(value["guardrail"]["list"][0]["apiKey"], REDACTED);
        assert_eq!(value["guardrail"]["name"], "tool-permission");
        assert_eq!(value["max_tokens"], 5);
    }
}
