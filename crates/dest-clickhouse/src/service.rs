//! HTTP calls to ClickHouse: the INSERT of rows and the connection test.

use broadcast_core::outcome::quote_body;
use broadcast_core::{ConnectionError, ConnectionErrorKind, EncodedEvent, ExportOutcome, FailureReason};
use sha2::{Digest, Sha256};
use sink_support::http::Answer;

use crate::columns::{column_list, probe_insert, qualified_table};
use crate::config::ClickHouseConfig;

/// Error codes that no retry can fix: a missing table, database or column, rows the server
/// cannot parse, a rejected user or a missing grant.
const PERMANENT_CODES: &[u32] = &[
    6,   // CANNOT_PARSE_TEXT
    16,  // NO_SUCH_COLUMN_IN_TABLE
    26,  // CANNOT_PARSE_QUOTED_STRING
    27,  // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    38,  // CANNOT_PARSE_DATE
    41,  // CANNOT_PARSE_DATETIME
    53,  // TYPE_MISMATCH
    60,  // UNKNOWN_TABLE
    62,  // SYNTAX_ERROR
    69,  // ARGUMENT_OUT_OF_BOUND
    70,  // CANNOT_CONVERT_TYPE
    72,  // CANNOT_PARSE_NUMBER
    81,  // UNKNOWN_DATABASE
    117, // INCORRECT_DATA
    192, // UNKNOWN_USER
    193, // WRONG_PASSWORD
    194, // REQUIRED_PASSWORD
    497, // ACCESS_DENIED
    516, // AUTHENTICATION_FAILED
];

/// Returns the INSERT statement, sent as the `query` URL parameter; the body contains only the rows.
pub fn insert_statement(config: &ClickHouseConfig) -> String {
    format!(
        "INSERT INTO {} {} FORMAT JSONEachRow",
        qualified_table(&config.database, &config.table),
        column_list()
    )
}

/// Builds the request body: the rows of every event, one per line.
pub fn request_body(events: &[EncodedEvent]) -> Vec<u8> {
    let mut body = Vec::with_capacity(events.iter().map(|event| event.bytes.len() + 1).sum());
    for event in events {
        body.extend_from_slice(&event.bytes);
        body.push(b'\n');
    }
    body
}

/// Builds a POST with `body`, and the URL parameters `query` and `insert_deduplication_token` when
/// given. Without `query`, ClickHouse reads the statement from the body.
fn request(
    http: &reqwest::Client,
    config: &ClickHouseConfig,
    query: Option<&str>,
    body: Vec<u8>,
    token: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut url = config.url.clone();
    if let Some(query) = query {
        url.query_pairs_mut().append_pair("query", query);
    }
    if let Some(token) = token {
        url.query_pairs_mut().append_pair("insert_deduplication_token", token);
    }
    http.post(url)
        .basic_auth(&config.username, Some(config.password.expose()))
        .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(body)
}

/// Inserts the events' rows. The body's SHA-256 is the `insert_deduplication_token`, so a
/// retried request is dropped by a table that deduplicates inserts.
pub async fn insert(http: &reqwest::Client, config: &ClickHouseConfig, events: &[EncodedEvent]) -> ExportOutcome {
    let body = request_body(events);
    let token = crate::hex(&Sha256::digest(&body));
    let statement = insert_statement(config);
    match sink_support::http::send(request(http, config, Some(&statement), body, Some(&token))).await {
        Ok(answer) => classify(&answer),
        Err(outcome) => outcome,
    }
}

/// Extracts the ClickHouse exception code from a response body (`Code: N.`). The server also sends it
/// in the `X-ClickHouse-Exception-Code` header, but not when the error came after the status
/// line, so the body is the one place that always has it.
pub fn exception_code(answer: &Answer) -> Option<u32> {
    let text = String::from_utf8_lossy(&answer.body);
    let rest = text.split("Code: ").nth(1)?;
    rest.split(|character: char| !character.is_ascii_digit()).next()?.parse().ok()
}

/// Classifies an insert response. A 2xx whose body contains an exception (ClickHouse sends one
/// when it failed after the status line went out) is an error; a 5xx with a code from
/// [`PERMANENT_CODES`] is not retried.
fn classify(answer: &Answer) -> ExportOutcome {
    let code = exception_code(answer);
    let failed_late = (200..300).contains(&answer.status) && String::from_utf8_lossy(&answer.body).contains("DB::Exception");
    match code {
        Some(code) if PERMANENT_CODES.contains(&code) && (answer.status >= 400 || failed_late) => {
            ExportOutcome::Permanent {
                reason: FailureReason::new(Some(answer.status), quote_body(&answer.body)),
            }
        }
        _ if failed_late => ExportOutcome::Retry {
            after: None,
            reason: FailureReason::new(Some(answer.status), quote_body(&answer.body)),
        },
        _ => answer.classify(),
    }
}

/// Runs an INSERT of no rows with the full column list: ClickHouse then checks that the
/// table exists, has every column, and that the user may insert, and writes nothing.
pub async fn test_connection(http: &reqwest::Client, config: &ClickHouseConfig) -> Result<(), ConnectionError> {
    let host = config.url.host_str().unwrap_or_default().to_string();
    let probe = probe_insert(&config.database, &config.table);
    let answer = sink_support::http::probe(request(http, config, None, probe.into_bytes(), None), "ClickHouse", &host).await?;
    let table = format!("{}.{}", config.database, config.table);
    let ddl_hint = "print the statement that creates it with `broadcast ddl --config FILE --destination NAME`";
    match exception_code(&answer) {
        _ if (200..300).contains(&answer.status) && !String::from_utf8_lossy(&answer.body).contains("DB::Exception") => Ok(()),
        Some(60 | 81) => Err(ConnectionError::new(
            ConnectionErrorKind::Rejected,
            format!("table {table} does not exist (HTTP {}); {ddl_hint}", answer.status),
        )),
        Some(16) => Err(ConnectionError::new(
            ConnectionErrorKind::Rejected,
            format!("table {table} lacks a column this destination writes (HTTP {}: {}); compare it with the statement from `broadcast ddl`", answer.status, quote_body(&answer.body)),
        )),
        Some(497) => Err(ConnectionError::new(
            ConnectionErrorKind::Unauthorized,
            format!("user `{}` may not insert into {table} (HTTP {}); grant INSERT on it", config.username, answer.status),
        )),
        Some(192..=194 | 516) => Err(ConnectionError::new(
            ConnectionErrorKind::Unauthorized,
            format!("ClickHouse rejected user `{}` or its password (HTTP {}); check username and password", config.username, answer.status),
        )),
        _ => sink_support::http::probe_result(&answer, "ClickHouse", "check username and password"),
    }
}
