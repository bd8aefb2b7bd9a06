//! HTTP calls to Snowflake's SQL API: the INSERT of rows and the connection test.

use std::time::Duration;

use broadcast_core::outcome::quote_body;
use broadcast_core::{ConnectionError, ConnectionErrorKind, EncodedEvent, ExportOutcome, FailureReason};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sink_support::http::Answer;

use crate::config::SnowflakeConfig;
use crate::table::insert_statement;

const STATEMENTS_PATH: &str = "api/v2/statements";
const TOKEN_TYPE_HEADER: &str = "X-Snowflake-Authorization-Token-Type";
const TOKEN_TYPE: &str = "PROGRAMMATIC_ACCESS_TOKEN";
/// Seconds Snowflake may run the statement before it returns 202 and runs it on.
const STATEMENT_TIMEOUT_SECONDS: u64 = 60;
/// How often and how long to ask for the result of a statement that is still running.
const POLL_INTERVAL: Duration = Duration::from_millis(500);
const MAX_POLLS: usize = 10;

/// Builds the request body: the INSERT statement, its context, and the rows of every event as one
/// JSON array in the text bind variable `1`.
pub fn request_body(config: &SnowflakeConfig, events: &[EncodedEvent]) -> Vec<u8> {
    let mut head = json!({
        "statement": insert_statement(&config.database, &config.schema, &config.table),
        "timeout": STATEMENT_TIMEOUT_SECONDS,
        "database": config.database,
        "schema": config.schema,
        "warehouse": config.warehouse,
    });
    if let Some(role) = &config.role {
        head["role"] = json!(role);
    }
    let head = head.to_string();
    let mut body = Vec::with_capacity(head.len() + events.iter().map(|event| event.bytes.len() + 1).sum::<usize>() + 64);
    body.extend_from_slice(&head.as_bytes()[..head.len() - 1]);
    body.extend_from_slice(br#","bindings":{"1":{"type":"TEXT","value":"["#);
    for (index, event) in events.iter().enumerate() {
        if index > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&event.bytes);
    }
    body.extend_from_slice(br#"]"}}}"#);
    body
}

/// Derives a request id from the body, so that a retried request carries the same id and
/// Snowflake runs the statement once.
fn request_id(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

fn authorized(request: reqwest::RequestBuilder, config: &SnowflakeConfig) -> reqwest::RequestBuilder {
    request
        .header(AUTHORIZATION, format!("Bearer {}", config.token.expose()))
        .header(TOKEN_TYPE_HEADER, TOKEN_TYPE)
        .header(ACCEPT, "application/json")
}

/// Posts a statement body and, when Snowflake returns 202 (still running), asks for its
/// result until it has one or [`MAX_POLLS`] are used up.
async fn run(http: &reqwest::Client, config: &SnowflakeConfig, body: Vec<u8>) -> Result<Answer, ExportOutcome> {
    let url = format!("{}?requestId={}&retry=true", config.endpoint(STATEMENTS_PATH), request_id(&body));
    let request = authorized(http.post(url), config).header(CONTENT_TYPE, "application/json").body(body);
    let mut answer = sink_support::http::send(request).await?;
    for _ in 0..MAX_POLLS {
        if answer.status != 202 {
            break;
        }
        let handle = serde_json::from_slice::<Value>(&answer.body)
            .ok()
            .and_then(|body| body.get("statementHandle").and_then(Value::as_str).map(str::to_string));
        let Some(handle) = handle else {
            break;
        };
        tokio::time::sleep(POLL_INTERVAL).await;
        let status_url = format!("{}/{handle}", config.endpoint(STATEMENTS_PATH));
        answer = sink_support::http::send(authorized(http.get(status_url), config)).await?;
    }
    Ok(answer)
}

/// Inserts the events' rows and classifies the response: 200 delivered; 202 after every poll
/// retried (the request id makes the retry safe); 422 (an SQL error, such as a missing table)
/// permanent; the rest the common way.
pub async fn insert(
    http: &reqwest::Client,
    config: &SnowflakeConfig,
    events: &[EncodedEvent],
    max_request_bytes: usize,
) -> ExportOutcome {
    let body = request_body(config, events);
    if body.len() > max_request_bytes && events.len() > 1 {
        return ExportOutcome::TooLarge {
            reason: FailureReason::new(None, format!("request of {} bytes is over {max_request_bytes}", body.len())),
        };
    }
    let answer = match run(http, config, body).await {
        Ok(answer) => answer,
        Err(outcome) => return outcome,
    };
    match answer.status {
        202 => ExportOutcome::Retry {
            after: None,
            reason: FailureReason::new(Some(202), "the statement was still running after every poll"),
        },
        422 => ExportOutcome::Permanent {
            reason: FailureReason::new(Some(422), quote_body(&answer.body)),
        },
        _ => answer.classify(),
    }
}

/// Runs the INSERT with no rows: Snowflake compiles it, which checks the table, every column
/// and the INSERT privilege, and inserts nothing.
pub async fn test_connection(http: &reqwest::Client, config: &SnowflakeConfig) -> Result<(), ConnectionError> {
    let host = config.api_base.host_str().unwrap_or_default().to_string();
    let body = request_body(config, &[]);
    let answer = match run(http, config, body).await {
        Ok(answer) => answer,
        Err(outcome) => {
            let reason = match outcome {
                ExportOutcome::Retry { reason, .. } | ExportOutcome::Permanent { reason } | ExportOutcome::TooLarge { reason } => reason.message,
                ExportOutcome::Delivered => String::new(),
            };
            return Err(ConnectionError::new(
                ConnectionErrorKind::Unreachable,
                format!("connection to Snowflake at {host} failed: {reason}; check account and the network"),
            ));
        }
    };
    if answer.status == 422 {
        let message = serde_json::from_slice::<Value>(&answer.body)
            .ok()
            .and_then(|body| body.get("message").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| quote_body(&answer.body));
        return Err(ConnectionError::new(
            ConnectionErrorKind::Rejected,
            format!(
                "Snowflake could not compile the insert (HTTP 422: {message}); create the table with the statement `broadcast ddl` prints, and grant INSERT on it to the token's role"
            ),
        ));
    }
    sink_support::http::probe_result(&answer, "Snowflake", "check token: it must be a programmatic access token of a user with a role that may insert")
}
