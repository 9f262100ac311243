//! What both executors share: values, rows, the executor trait, and the one place where the SQL
//! differs in form (`$1` placeholders become `?1` for SQLite).

use crate::{Result, StoreError};

/// A column value. Integers are 64-bit everywhere (`BIGINT`), times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Int(i64),
    Text(String),
    /// Binary data (document images): `BLOB` in SQLite, `BYTEA` in PostgreSQL.
    Bytes(Vec<u8>),
    Null,
}

impl Value {
    pub fn int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }

    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Value::Bytes(v.to_vec())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// One result row, read by column name (the `SELECT`'s names or aliases). A column that is not
/// there, or holds NULL or another type than asked for, is an error — never `""` or `0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    columns: std::sync::Arc<Columns>,
    values: Vec<Value>,
}

/// A result's column names, shared by its rows, with their positions by name (a report reads
/// tens of thousands of rows of fifty-odd columns: a lookup is a hash, not a scan).
#[derive(Debug, PartialEq, Eq)]
pub struct Columns {
    names: Vec<String>,
    by_name: std::collections::HashMap<String, usize>,
}

impl Columns {
    pub fn new(names: Vec<String>) -> std::sync::Arc<Columns> {
        let by_name = names.iter().enumerate().map(|(i, n)| (n.to_ascii_lowercase(), i)).collect();
        std::sync::Arc::new(Columns { names, by_name })
    }

    fn position(&self, column: &str) -> Option<usize> {
        // Every name the store asks for is lower case; others are folded as the database folds them.
        self.by_name.get(column).copied().or_else(|| self.names.iter().position(|n| n.eq_ignore_ascii_case(column)))
    }
}

impl Row {
    pub fn new(columns: std::sync::Arc<Columns>, values: Vec<Value>) -> Row {
        Row { columns, values }
    }

    fn get(&self, column: &str) -> Result<&Value> {
        self.columns
            .position(column)
            .map(|i| &self.values[i])
            .ok_or_else(|| StoreError::BadColumn { column: column.to_owned(), problem: "is not in the result" })
    }

    fn wrong(column: &str, value: &Value, wanted: &'static str) -> StoreError {
        let problem = match (value, wanted) {
            (Value::Null, _) => "is NULL",
            (_, "text") => "is not text",
            (_, "an integer") => "is not an integer",
            _ => "is not bytes",
        };
        StoreError::BadColumn { column: column.to_owned(), problem }
    }

    /// A text column that may not be NULL.
    pub fn text(&self, column: &str) -> Result<String> {
        match self.get(column)? {
            Value::Text(t) => Ok(t.clone()),
            other => Err(Row::wrong(column, other, "text")),
        }
    }

    /// A text column that may be NULL.
    pub fn opt_text(&self, column: &str) -> Result<Option<String>> {
        match self.get(column)? {
            Value::Null => Ok(None),
            Value::Text(t) => Ok(Some(t.clone())),
            other => Err(Row::wrong(column, other, "text")),
        }
    }

    /// An integer column that may not be NULL.
    pub fn int(&self, column: &str) -> Result<i64> {
        match self.get(column)? {
            Value::Int(n) => Ok(*n),
            other => Err(Row::wrong(column, other, "an integer")),
        }
    }

    /// An integer column that may be NULL.
    pub fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        match self.get(column)? {
            Value::Null => Ok(None),
            Value::Int(n) => Ok(Some(*n)),
            other => Err(Row::wrong(column, other, "an integer")),
        }
    }

    /// A 0/1 column that may not be NULL.
    pub fn flag(&self, column: &str) -> Result<bool> {
        match self.int(column)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(StoreError::BadColumn { column: column.to_owned(), problem: "is neither 0 nor 1" }),
        }
    }

    /// A binary column that may not be NULL.
    pub fn bytes(&self, column: &str) -> Result<Vec<u8>> {
        match self.get(column)? {
            Value::Bytes(b) => Ok(b.clone()),
            other => Err(Row::wrong(column, other, "bytes")),
        }
    }
}

/// One database connection. Statements use `$1`, `$2`, … placeholders.
pub trait Executor: Send {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64>;
    /// A write whose row count nobody reads: run now, or held and sent with the next statement
    /// that needs an answer (or the commit), where its error, if any, is returned. Used inside
    /// transactions only, so a held write is never lost: the commit waits for it.
    fn execute_later(&mut self, sql: &str, params: Vec<Value>) -> Result<()> {
        self.execute(sql, &params).map(drop)
    }
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>>;
    /// Runs several statements without parameters (migrations).
    fn batch(&mut self, sql: &str) -> Result<()>;
}

/// `$1` → `?1` (SQLite's numbered parameters); text inside single quotes is left alone.
pub fn to_sqlite_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
        }
        if c == '$' && !quoted && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{Row, Value};
    use crate::StoreError;

    #[test]
    fn a_column_is_read_by_name_and_null_or_another_type_is_an_error() {
        let names = super::Columns::new(["id", "note", "at_ms", "image"].map(str::to_owned).into());
        let row = Row::new(names, vec![Value::Text("1-7".into()), Value::Null, Value::Int(5), Value::Bytes(vec![1])]);
        assert_eq!(row.text("id").unwrap(), "1-7");
        assert_eq!(row.text("ID").unwrap(), "1-7", "names as the database folds them");
        assert_eq!(row.opt_text("note").unwrap(), None);
        assert_eq!(row.int("at_ms").unwrap(), 5);
        assert_eq!(row.bytes("image").unwrap(), vec![1]);
        let problem = |e: StoreError| match e {
            StoreError::BadColumn { problem, .. } => problem,
            other => panic!("{other}"),
        };
        assert_eq!(problem(row.text("note").unwrap_err()), "is NULL");
        assert_eq!(problem(row.int("id").unwrap_err()), "is not an integer");
        assert_eq!(problem(row.text("at_ms").unwrap_err()), "is not text");
        assert_eq!(problem(row.opt_int("id").unwrap_err()), "is not an integer");
        assert_eq!(problem(row.flag("at_ms").unwrap_err()), "is neither 0 nor 1");
        assert_eq!(problem(row.text("missing").unwrap_err()), "is not in the result");
    }

    #[test]
    fn placeholders_translate_outside_quotes_only() {
        assert_eq!(super::to_sqlite_placeholders("SELECT $1, '$2', $10"), "SELECT ?1, '$2', ?10");
    }
}
