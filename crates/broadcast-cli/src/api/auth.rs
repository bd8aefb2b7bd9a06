//! Bearer tokens: the operator's, gateways', and accounts'.
//!
//! - The operator token reaches everything.
//! - A gateway token may ingest for the accounts it lists (`*` for any), and nothing else.
//! - An account token reaches only its own account's destinations and status, and ingests only
//!   for that account. A request about another account answers 404, so a token cannot be used
//!   to learn which accounts exist.
//!
//! Tokens are compared as SHA-256 digests in constant time.

use axum::http::HeaderMap;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::error::ApiError;

/// The `[auth]` section of the config file.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSection {
    /// Token with access to everything; `BROADCAST_OPERATOR_TOKEN` is read when this is unset.
    pub operator_token: Option<String>,
    #[serde(default)]
    pub gateway_tokens: Vec<GatewayToken>,
    #[serde(default)]
    pub account_tokens: Vec<AccountToken>,
    /// Serve without any token. Allowed only on a loopback address.
    #[serde(default)]
    pub allow_unauthenticated: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayToken {
    pub token: String,
    /// Accounts this gateway may ingest for; `["*"]` for any.
    pub accounts: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountToken {
    pub account: String,
    pub token: String,
}

/// Who made a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Operator,
    Gateway { accounts: Vec<String> },
    Account(String),
}

impl Caller {
    /// Whether the caller may manage `account_id`'s destinations.
    pub fn may_manage(&self, account_id: &str) -> bool {
        match self {
            Caller::Operator => true,
            Caller::Account(own) => own == account_id,
            Caller::Gateway { .. } => false,
        }
    }

    /// Whether the caller may ingest traces for `account_id`.
    pub fn may_ingest(&self, account_id: &str) -> bool {
        match self {
            Caller::Operator => true,
            Caller::Account(own) => own == account_id,
            Caller::Gateway { accounts } => accounts.iter().any(|allowed| allowed == "*" || allowed == account_id),
        }
    }
}

type Digest32 = [u8; 32];

/// The configured tokens, as digests.
#[derive(Debug, Clone)]
pub struct Tokens {
    operator: Option<Digest32>,
    gateways: Vec<(Digest32, Vec<String>)>,
    accounts: Vec<(Digest32, String)>,
    open: bool,
}

impl Tokens {
    pub fn from_section(section: &AuthSection, environment_operator_token: Option<String>) -> Tokens {
        let operator = section
            .operator_token
            .clone()
            .or(environment_operator_token)
            .filter(|token| !token.is_empty())
            .map(|token| digest(&token));
        Tokens {
            operator,
            gateways: section.gateway_tokens.iter().map(|gateway| (digest(&gateway.token), gateway.accounts.clone())).collect(),
            accounts: section.account_tokens.iter().map(|account| (digest(&account.token), account.account.clone())).collect(),
            open: section.allow_unauthenticated,
        }
    }

    /// Lets every request through as the operator when no token is configured.
    pub fn open_without_tokens(&mut self) {
        self.open = true;
    }

    /// Whether any token is configured.
    pub fn any_configured(&self) -> bool {
        self.operator.is_some() || !self.gateways.is_empty() || !self.accounts.is_empty()
    }

    /// Identifies the caller from the `Authorization` header.
    ///
    /// # Errors
    /// [`ApiError::unauthorized`] for a missing or unknown token, unless unauthenticated serving
    /// is on and no token is configured, in which case every caller is the operator.
    pub fn caller(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        if self.open && !self.any_configured() {
            return Ok(Caller::Operator);
        }
        let token = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(ApiError::unauthorized)?;
        let presented = digest(token);
        if self.operator.is_some_and(|operator| equal(&operator, &presented)) {
            return Ok(Caller::Operator);
        }
        for (candidate, accounts) in &self.gateways {
            if equal(candidate, &presented) {
                return Ok(Caller::Gateway { accounts: accounts.clone() });
            }
        }
        for (candidate, account) in &self.accounts {
            if equal(candidate, &presented) {
                return Ok(Caller::Account(account.clone()));
            }
        }
        Err(ApiError::unauthorized())
    }
}

fn digest(token: &str) -> Digest32 {
    Sha256::digest(token.as_bytes()).into()
}

/// Compares two digests without an early exit.
fn equal(left: &Digest32, right: &Digest32) -> bool {
    left.iter().zip(right.iter()).fold(0u8, |difference, (a, b)| difference | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn tokens() -> Tokens {
        let section = AuthSection {
            operator_token: Some("op-secret".into()),
            gateway_tokens: vec![GatewayToken { token: "gw-secret".into(), accounts: vec!["acme".into()] }],
            account_tokens: vec![AccountToken { account: "acme".into(), token: "acme-secret".into() }],
            allow_unauthenticated: false,
        };
        Tokens::from_section(&section, None)
    }

    fn headers(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) {
            headers.insert(axum::http::header::AUTHORIZATION, value);
        }
        headers
    }

    #[test]
    fn callers_identified() {
        let tokens = tokens();
        assert_eq!(tokens.caller(&headers("op-secret")).ok(), Some(Caller::Operator));
        assert_eq!(tokens.caller(&headers("acme-secret")).ok(), Some(Caller::Account("acme".into())));
        assert!(tokens.caller(&headers("wrong")).is_err());
        assert!(tokens.caller(&HeaderMap::new()).is_err());
    }

    #[test]
    fn account_token_scoped() {
        let caller = Caller::Account("acme".into());
        assert!(caller.may_manage("acme"));
        assert!(!caller.may_manage("globex"));
        assert!(caller.may_ingest("acme"));
        assert!(!caller.may_ingest("globex"));
    }

    #[test]
    fn gateway_ingests_listed_accounts_only() {
        let caller = Caller::Gateway { accounts: vec!["acme".into()] };
        assert!(caller.may_ingest("acme"));
        assert!(!caller.may_ingest("globex"));
        assert!(!caller.may_manage("acme"));
    }
}
