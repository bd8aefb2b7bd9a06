//! HTTP calls to BigQuery: streaming inserts and the connection test.

use std::sync::Mutex;

use broadcast_core::outcome::quote_body;
use broadcast_core::{ConnectionError, ConnectionErrorKind, EncodedEvent, ExportOutcome, FailureReason};
use chrono::{DateTime, Duration, Utc};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde_json::{json, Value};

use crate::config::BigQueryConfig;
use crate::table::COLUMNS;

/// A signed token is replaced this long before it expires.
const TOKEN_MARGIN_SECONDS: i64 = 300;

/// Error reasons of `insertErrors` that a retry can fix.
const TRANSIENT_REASONS: &[&str] = &["backendError", "internalError", "timeout", "rateLimitExceeded"];

/// The permission streaming inserts need (granted by BigQuery Data Editor).
const INSERT_PERMISSION: &str = "bigquery.tables.updateData";

/// A self-signed token and when it expires, reused until shortly before then.
#[derive(Default)]
pub struct TokenCache(Mutex<Option<(String, DateTime<Utc>)>>);

impl TokenCache {
    fn token(&self, config: &BigQueryConfig) -> Result<String, String> {
        let now = Utc::now();
        let mut cached = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((token, expires)) = cached.as_ref() {
            if *expires - Duration::seconds(TOKEN_MARGIN_SECONDS) > now {
                return Ok(token.clone());
            }
        }
        let token = config.key.sign_token(&config.audience(), now)?;
        *cached = Some((token.clone(), now + Duration::seconds(crate::jwt::TOKEN_LIFETIME_SECONDS)));
        Ok(token)
    }
}

/// Builds the `insertAll` body; `skipInvalidRows` is false, so one invalid row fails the request
/// and no row of it is written.
pub fn request_body(events: &[EncodedEvent]) -> Vec<u8> {
    let mut body = br#"{"kind":"bigquery#tableDataInsertAllRequest","skipInvalidRows":false,"ignoreUnknownValues":false,"rows":["#.to_vec();
    for (index, event) in events.iter().enumerate() {
        if index > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&event.bytes);
    }
    body.extend_from_slice(b"]}");
    body
}

/// Streams the events' rows with `tabledata.insertAll`.
///
/// BigQuery returns 200 even when rows were rejected, listing them in `insertErrors`. Then:
/// errors BigQuery calls transient are retried; otherwise a request of several rows is
/// returned as `TooLarge`, so that the engine splits it until the invalid rows are alone, and a
/// single invalid row fails for good with BigQuery's message.
pub async fn insert_all(
    http: &reqwest::Client,
    config: &BigQueryConfig,
    tokens: &TokenCache,
    events: &[EncodedEvent],
    max_request_bytes: usize,
) -> ExportOutcome {
    let body = request_body(events);
    if body.len() > max_request_bytes && events.len() > 1 {
        return ExportOutcome::TooLarge {
            reason: FailureReason::new(None, format!("request of {} bytes is over {max_request_bytes}", body.len())),
        };
    }
    let token = match tokens.token(config) {
        Ok(token) => token,
        Err(message) => {
            return ExportOutcome::Permanent {
                reason: FailureReason::new(None, message),
            }
        }
    };
    let request = http
        .post(config.table_url("/insertAll"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(CONTENT_TYPE, "application/json")
        .body(body);
    let answer = match sink_support::http::send(request).await {
        Ok(answer) => answer,
        Err(outcome) => return outcome,
    };
    if !(200..300).contains(&answer.status) {
        return answer.classify();
    }
    let errors = serde_json::from_slice::<Value>(&answer.body)
        .ok()
        .and_then(|body| body.get("insertErrors").and_then(Value::as_array).cloned())
        .unwrap_or_default();
    if errors.is_empty() {
        return ExportOutcome::Delivered;
    }
    classify_insert_errors(&errors, events.len(), answer.status)
}

#[cfg(test)]
pub fn classify_for_test(errors: Vec<Value>, rows: usize) -> ExportOutcome {
    classify_insert_errors(&errors, rows, 200)
}

fn classify_insert_errors(errors: &[Value], rows: usize, status: u16) -> ExportOutcome {
    let reasons: Vec<&str> = errors
        .iter()
        .flat_map(|error| error.get("errors").and_then(Value::as_array).into_iter().flatten())
        .filter_map(|error| error.get("reason").and_then(Value::as_str))
        .collect();
    let first_message = errors
        .iter()
        .flat_map(|error| error.get("errors").and_then(Value::as_array).into_iter().flatten())
        .find(|error| error.get("reason").and_then(Value::as_str) != Some("stopped"))
        .and_then(|error| error.get("message").and_then(Value::as_str))
        .unwrap_or("no message");
    let message = format!("BigQuery rejected {} of {rows} rows: {first_message}", errors.len());
    let reason = FailureReason::new(Some(status), broadcast_core::text::truncate_with_marker(&message, 512).into_owned());
    if reasons.iter().all(|reason| TRANSIENT_REASONS.contains(reason) || *reason == "stopped") {
        ExportOutcome::Retry { after: None, reason }
    } else if rows > 1 {
        ExportOutcome::TooLarge { reason }
    } else {
        ExportOutcome::Permanent { reason }
    }
}

/// Reads the table's metadata, checks its columns, and asks BigQuery whether the account may
/// insert into it (`tables.testIamPermissions`). Writes nothing.
pub async fn test_connection(http: &reqwest::Client, config: &BigQueryConfig, tokens: &TokenCache) -> Result<(), ConnectionError> {
    let host = config.api_base.host_str().unwrap_or_default().to_string();
    let token = tokens
        .token(config)
        .map_err(|message| ConnectionError::new(ConnectionErrorKind::Rejected, format!("cannot sign a token: {message}")))?;
    let table = format!("{}.{}.{}", config.project_id, config.dataset, config.table);
    let credential_hint = format!(
        "check service_account_key, and that {} has BigQuery Data Editor on dataset {}",
        config.key.client_email, config.dataset
    );

    let request = http.get(config.table_url("")).header(AUTHORIZATION, format!("Bearer {token}"));
    let answer = sink_support::http::probe(request, "BigQuery", &host).await?;
    if answer.status == 404 {
        return Err(ConnectionError::new(
            ConnectionErrorKind::Rejected,
            format!("table {table} was not found (HTTP 404); create it with the statement `broadcast ddl` prints"),
        ));
    }
    sink_support::http::probe_result(&answer, "BigQuery", &credential_hint)?;
    check_columns(&answer.body, &table)?;

    let request = http
        .post(config.table_url(":testIamPermissions"))
        .header(AUTHORIZATION, format!("Bearer {token}"))
        .header(CONTENT_TYPE, "application/json")
        .body(json!({"permissions": [INSERT_PERMISSION]}).to_string());
    let answer = sink_support::http::probe(request, "BigQuery", &host).await?;
    sink_support::http::probe_result(&answer, "BigQuery", &credential_hint)?;
    match serde_json::from_slice::<Value>(&answer.body) {
        Ok(body) => {
            let granted = body.get("permissions").and_then(Value::as_array).cloned().unwrap_or_default();
            if !granted.iter().any(|permission| permission == INSERT_PERMISSION) {
                return Err(ConnectionError::new(
                    ConnectionErrorKind::Unauthorized,
                    format!(
                        "{} lacks {INSERT_PERMISSION} on {table} (HTTP {}); grant it BigQuery Data Editor on the dataset",
                        config.key.client_email, answer.status
                    ),
                ));
            }
        }
        // NOTE: BigQuery always responds with a JSON body; an empty or non-JSON 200 (a proxy,
        // a test endpoint) cannot say which permissions are granted, so it is let through.
        Err(_) => tracing::warn!(
            table = %table,
            body = %quote_body(&answer.body),
            "BigQuery's permission check returned no JSON body; the insert permission was not verified."
        ),
    }
    Ok(())
}

/// Checks that a table resource's schema has every column. A body without a schema (not a
/// table resource) is let through with a warning, as above.
fn check_columns(body: &[u8], table: &str) -> Result<(), ConnectionError> {
    let Some(fields) = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|resource| resource.pointer("/schema/fields").and_then(Value::as_array).cloned())
    else {
        tracing::warn!(table = %table, "BigQuery's table metadata had no schema; the columns were not checked.");
        return Ok(());
    };
    let present: Vec<&str> = fields.iter().filter_map(|field| field.get("name").and_then(Value::as_str)).collect();
    let missing: Vec<&str> = COLUMNS
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !present.iter().any(|field| field.eq_ignore_ascii_case(name)))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ConnectionError::new(
            ConnectionErrorKind::Rejected,
            format!("table {table} lacks the columns {}; compare it with the statement `broadcast ddl` prints", missing.join(", ")),
        ))
    }
}
