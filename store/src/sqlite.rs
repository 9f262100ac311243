//! The SQLite executor: one file, WAL journal, `synchronous=FULL` so that a commit is on disk
//! before it returns (a record a citizen or clerk was told is saved, is saved).

use std::path::Path;

use rusqlite::types::Value as SqlValue;

use crate::backend::{to_sqlite_placeholders, Columns, Executor, Row, Value};
use crate::{Result, StoreError};

pub struct SqliteExecutor {
    conn: rusqlite::Connection,
}

/// A primary-key or unique violation is `Duplicate` (by SQLite's extended result code); a busy or
/// locked database, a full disk or an I/O error is `Unreachable` (worth retrying once it clears).
fn err(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked, DiskFull, SystemIoFailure};
    match e.sqlite_error() {
        Some(f)
            if matches!(
                f.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY | rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            ) =>
        {
            StoreError::Duplicate(e.to_string())
        }
        Some(f) if matches!(f.code, DatabaseBusy | DatabaseLocked | DiskFull | SystemIoFailure) => {
            StoreError::Unreachable(e.to_string())
        }
        _ => StoreError::Query(e.to_string()),
    }
}

fn to_sql(v: &Value) -> SqlValue {
    match v {
        Value::Int(i) => SqlValue::Integer(*i),
        Value::Text(t) => SqlValue::Text(t.clone()),
        Value::Bytes(b) => SqlValue::Blob(b.clone()),
        Value::Null => SqlValue::Null,
    }
}

impl SqliteExecutor {
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Unreachable(format!("{}: {e}", dir.display())))?;
        }
        let conn = rusqlite::Connection::open(path)
            .map_err(|e| StoreError::Unreachable(format!("{}: {e}", path.display())))?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(err)?;
        // Deleted or overwritten content is zeroed in the file, not left in free pages (a blob
        // sealed in place must not leave its plaintext behind).
        conn.pragma_update(None, "secure_delete", "ON").map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err)?;
        conn.set_prepared_statement_cache_capacity(128);
        Ok(Self { conn })
    }
}

impl Executor for SqliteExecutor {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let params: Vec<SqlValue> = params.iter().map(to_sql).collect();
        // Statements are prepared once and kept (the same few SQL texts run again and again).
        let mut stmt = self.conn.prepare_cached(&to_sqlite_placeholders(sql)).map_err(err)?;
        let n = stmt.execute(rusqlite::params_from_iter(params)).map_err(err)?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let params: Vec<SqlValue> = params.iter().map(to_sql).collect();
        let mut stmt = self.conn.prepare_cached(&to_sqlite_placeholders(sql)).map_err(err)?;
        let names = Columns::new(stmt.column_names().map(str::to_owned).collect());
        let columns = stmt.column_count();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), |row| {
                let values = (0..columns)
                    .map(|i| {
                        Ok(match row.get::<_, SqlValue>(i)? {
                            SqlValue::Integer(n) => Value::Int(n),
                            SqlValue::Text(t) => Value::Text(t),
                            SqlValue::Null => Value::Null,
                            // No column is REAL: a float where an integer belongs is read as
                            // text, so that reading it as an integer is an error.
                            SqlValue::Real(f) => Value::Text(f.to_string()),
                            SqlValue::Blob(b) => Value::Bytes(b),
                        })
                    })
                    .collect::<rusqlite::Result<Vec<Value>>>()?;
                Ok(Row::new(names.clone(), values))
            })
            .map_err(err)?;
        rows.collect::<rusqlite::Result<Vec<Row>>>().map_err(err)
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.conn.execute_batch(sql).map_err(err)
    }
}
