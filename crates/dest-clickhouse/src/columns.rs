//! The table's columns and its DDL.

/// One column: name, ClickHouse type, and whether it contains JSON text.
pub struct Column {
    pub name: &'static str,
    pub clickhouse_type: &'static str,
    pub json: bool,
    pub comment: &'static str,
}

const fn column(name: &'static str, clickhouse_type: &'static str, comment: &'static str) -> Column {
    Column {
        name,
        clickhouse_type,
        json: false,
        comment,
    }
}

const fn json_column(name: &'static str, comment: &'static str) -> Column {
    Column {
        name,
        clickhouse_type: "String",
        json: true,
        comment,
    }
}

/// Every column, in table order. Text columns hold `''` when the trace has no value; numbers
/// are `NULL` when unknown.
pub const COLUMNS: &[Column] = &[
    column("TIMESTAMP", "DateTime64(3, 'UTC')", "start of the span"),
    column("TRACE_ID", "String", "trace id, the caller's when given"),
    column("SPAN_ID", "String", "16 hex digits"),
    column("PARENT_SPAN_ID", "String", "empty for a root span without a caller-given parent"),
    column("GENERATION_ID", "String", "the generation this row belongs to; equal on every row of one request"),
    column("NAME", "String", "trace, span or generation name"),
    column("SPAN_TYPE", "LowCardinality(String)", "SPAN or GENERATION"),
    column("USER_ID", "String", ""),
    column("SESSION_ID", "String", ""),
    column("MODEL", "String", "served model, else the requested one"),
    column("PROVIDER_NAME", "String", ""),
    column("API_KEY_NAME", "String", ""),
    column("STATUS", "LowCardinality(String)", "ok or error"),
    column("LEVEL", "LowCardinality(String)", "DEFAULT or ERROR"),
    column("FINISH_REASON", "String", "generation rows only"),
    column("DURATION_MS", "Nullable(Int64)", "NULL when the gateway gave no timing"),
    column("TIME_TO_FIRST_TOKEN_MS", "Nullable(Int64)", "generation rows only"),
    column("PROMPT_TOKENS", "Nullable(UInt64)", "generation rows only"),
    column("COMPLETION_TOKENS", "Nullable(UInt64)", "generation rows only"),
    column("TOTAL_TOKENS", "Nullable(UInt64)", "generation rows only"),
    column("CACHED_TOKENS", "Nullable(UInt64)", "generation rows only"),
    column("REASONING_TOKENS", "Nullable(UInt64)", "generation rows only"),
    column("TOTAL_COST", "Nullable(Decimal(38, 12))", "US dollars, generation rows only"),
    json_column("ATTRIBUTES", "JSON text: OpenTelemetry GenAI attributes of the span"),
    json_column("INPUT", "JSON text: system, messages and tools; generation rows only"),
    json_column("OUTPUT", "JSON text: messages (the assistant message) and reasoning; generation rows only"),
    json_column("METADATA", "JSON text: custom trace metadata"),
    json_column("MODEL_PARAMETERS", "JSON text: request parameters such as temperature; generation rows only"),
];

/// Quotes an identifier with backticks.
pub fn quote_identifier(name: &str) -> String {
    format!("`{}`", name.replace('\\', "\\\\").replace('`', "\\`"))
}

/// Quotes a string literal with single quotes.
pub fn quote_string(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `` `database`.`table` ``.
pub fn qualified_table(database: &str, table: &str) -> String {
    format!("{}.{}", quote_identifier(database), quote_identifier(table))
}

/// Returns the column list of an INSERT: `` (`TIMESTAMP`, `TRACE_ID`, …) ``.
pub fn column_list() -> String {
    let names: Vec<String> = COLUMNS.iter().map(|column| quote_identifier(column.name)).collect();
    format!("({})", names.join(", "))
}

/// Returns the `CREATE TABLE` statement.
///
/// `ReplacingMergeTree` with every row's ids in the sorting key folds rows that a retry wrote
/// twice into one when parts merge, and `non_replicated_deduplication_window` lets ClickHouse
/// drop a repeated insert of the same block at once (the destination sends an
/// `insert_deduplication_token`).
pub fn ddl(database: &str, table: &str) -> String {
    let mut sql = format!("CREATE TABLE IF NOT EXISTS {}\n(\n", qualified_table(database, table));
    let lines: Vec<String> = COLUMNS
        .iter()
        .map(|column| {
            let comment = if column.comment.is_empty() {
                String::new()
            } else {
                format!(" COMMENT {}", quote_string(column.comment))
            };
            format!("    {} {}{comment}", quote_identifier(column.name), column.clickhouse_type)
        })
        .collect();
    sql.push_str(&lines.join(",\n"));
    sql.push_str(
        "\n)\nENGINE = ReplacingMergeTree\nPARTITION BY toYYYYMM(TIMESTAMP)\nORDER BY (toDate(TIMESTAMP), TRACE_ID, GENERATION_ID, SPAN_ID)\nSETTINGS non_replicated_deduplication_window = 1000",
    );
    sql
}

/// Returns an INSERT of no rows that still makes ClickHouse check that the table exists, has every
/// column, and that the user may insert into it.
pub fn probe_insert(database: &str, table: &str) -> String {
    let values: Vec<String> = COLUMNS
        .iter()
        .map(|column| format!("defaultValueOfTypeName({})", quote_string(column.clickhouse_type)))
        .collect();
    format!(
        "INSERT INTO {} {} SELECT {} WHERE 0",
        qualified_table(database, table),
        column_list(),
        values.join(", ")
    )
}
