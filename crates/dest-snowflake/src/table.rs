//! The table's columns, its DDL and the INSERT statement.

/// Every column with its Snowflake type, in table order; the same columns as the ClickHouse
/// destination's table, with `VARIANT` for the JSON ones.
pub const COLUMNS: &[(&str, &str)] = &[
    ("TIMESTAMP", "TIMESTAMP_NTZ(3)"),
    ("TRACE_ID", "VARCHAR"),
    ("SPAN_ID", "VARCHAR"),
    ("PARENT_SPAN_ID", "VARCHAR"),
    ("GENERATION_ID", "VARCHAR"),
    ("NAME", "VARCHAR"),
    ("SPAN_TYPE", "VARCHAR"),
    ("USER_ID", "VARCHAR"),
    ("SESSION_ID", "VARCHAR"),
    ("MODEL", "VARCHAR"),
    ("PROVIDER_NAME", "VARCHAR"),
    ("API_KEY_NAME", "VARCHAR"),
    ("STATUS", "VARCHAR"),
    ("LEVEL", "VARCHAR"),
    ("FINISH_REASON", "VARCHAR"),
    ("DURATION_MS", "NUMBER(38, 0)"),
    ("TIME_TO_FIRST_TOKEN_MS", "NUMBER(38, 0)"),
    ("PROMPT_TOKENS", "NUMBER(38, 0)"),
    ("COMPLETION_TOKENS", "NUMBER(38, 0)"),
    ("TOTAL_TOKENS", "NUMBER(38, 0)"),
    ("CACHED_TOKENS", "NUMBER(38, 0)"),
    ("REASONING_TOKENS", "NUMBER(38, 0)"),
    ("TOTAL_COST", "NUMBER(38, 12)"),
    ("ATTRIBUTES", "VARIANT"),
    ("INPUT", "VARIANT"),
    ("OUTPUT", "VARIANT"),
    ("METADATA", "VARIANT"),
    ("MODEL_PARAMETERS", "VARIANT"),
];

/// Writes an identifier: unquoted when it is a plain identifier (so Snowflake resolves it
/// case-insensitively, as it does for names created without quotes), double-quoted otherwise.
pub fn identifier(name: &str) -> String {
    let plain = name.starts_with(|character: char| character.is_ascii_alphabetic() || character == '_')
        && name.chars().all(|character| character.is_ascii_alphanumeric() || character == '_' || character == '$');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `database.schema.table`.
pub fn qualified_table(database: &str, schema: &str, table: &str) -> String {
    format!("{}.{}.{}", identifier(database), identifier(schema), identifier(table))
}

/// Returns the `CREATE TABLE` statement.
pub fn ddl(database: &str, schema: &str, table: &str) -> String {
    let lines: Vec<String> = COLUMNS.iter().map(|(name, kind)| format!("    {name} {kind}")).collect();
    format!("CREATE TABLE IF NOT EXISTS {} (\n{}\n)", qualified_table(database, schema, table), lines.join(",\n"))
}

/// Returns the INSERT statement. Its one bind variable is a JSON array of rows. Each row's
/// fields are cast to the column types, and the JSON columns are stored as `VARIANT`.
pub fn insert_statement(database: &str, schema: &str, table: &str) -> String {
    let names: Vec<&str> = COLUMNS.iter().map(|(name, _)| *name).collect();
    let values: Vec<String> = COLUMNS
        .iter()
        .map(|(name, kind)| {
            if *kind == "VARIANT" {
                format!("value:\"{name}\"")
            } else {
                format!("value:\"{name}\"::{kind}")
            }
        })
        .collect();
    format!(
        "INSERT INTO {} ({}) SELECT {} FROM TABLE(FLATTEN(INPUT => PARSE_JSON(?)))",
        qualified_table(database, schema, table),
        names.join(", "),
        values.join(", ")
    )
}
