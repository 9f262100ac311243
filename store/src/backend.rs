//! What both executors share: values, rows, the executor trait, and the one place where the SQL
//! differs in form (`$1` placeholders become `?1` for SQLite).

use crate::Result;

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

pub type Row = Vec<Value>;

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
    #[test]
    fn placeholders_translate_outside_quotes_only() {
        assert_eq!(super::to_sqlite_placeholders("SELECT $1, '$2', $10"), "SELECT ?1, '$2', ?10");
    }
}
