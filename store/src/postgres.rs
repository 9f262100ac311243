//! The PostgreSQL executor (the `postgres` crate's synchronous client). Columns are `BIGINT`,
//! `TEXT` or `BYTEA`, so values map one to one.

use postgres::types::{IsNull, ToSql, Type};

use crate::backend::{Executor, Row, Value};
use crate::{Result, StoreError};

pub struct PostgresExecutor {
    client: postgres::Client,
    url: String,
    /// Statements prepared on this connection, by SQL text: each is parsed and planned once, and
    /// every later run is one round trip instead of two.
    prepared: std::collections::HashMap<String, postgres::Statement>,
}

/// Prepared statements kept per connection at most (the store runs a few dozen distinct texts;
/// queries built per scope, like a case page's branches, vary and would otherwise pile up).
const MAX_PREPARED: usize = 256;

/// A lost or refused connection, or a server shutting down (SQLSTATE classes 08 and 57), is
/// `Unreachable`: the caller may retry once the database is back. A unique violation (23505) is
/// `Duplicate`. The text carries the server's own message: the client's `Display` says only
/// "db error".
fn err(e: postgres::Error) -> StoreError {
    let class = e.code().map(|c| &c.code()[..2]);
    let text = match e.as_db_error() {
        Some(db) => format!("{} ({}): {}", db.message(), db.code().code(), db.detail().unwrap_or_default()),
        None => e.to_string(),
    };
    if e.is_closed() || matches!(class, Some("08" | "57")) || e.as_db_error().is_none() && class.is_none() {
        StoreError::Unreachable(text)
    } else if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) {
        StoreError::Duplicate(text)
    } else {
        StoreError::Query(text)
    }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Int(i) => i.to_sql(ty, out),
            Value::Text(t) => t.as_str().to_sql(ty, out),
            Value::Bytes(b) => b.as_slice().to_sql(ty, out),
            Value::Null => Ok(IsNull::Yes),
        }
    }

    fn accepts(ty: &Type) -> bool {
        <i64 as ToSql>::accepts(ty) || <&str as ToSql>::accepts(ty) || <&[u8] as ToSql>::accepts(ty)
    }

    postgres::types::to_sql_checked!();
}

impl PostgresExecutor {
    pub fn connect(url: &str) -> Result<Self> {
        let client =
            postgres::Client::connect(url, postgres::NoTls).map_err(|e| StoreError::Unreachable(e.to_string()))?;
        Ok(Self { client, url: url.to_owned(), prepared: std::collections::HashMap::new() })
    }

    /// After the server went away (restart, network), the next statement connects again.
    fn live(&mut self) -> Result<&mut postgres::Client> {
        if self.client.is_closed() {
            self.client = postgres::Client::connect(&self.url, postgres::NoTls)
                .map_err(|e| StoreError::Unreachable(e.to_string()))?;
            self.prepared.clear();
        }
        Ok(&mut self.client)
    }

    /// `sql` prepared on the live connection (kept for the next run).
    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        self.live()?;
        if let Some(stmt) = self.prepared.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = self.client.prepare(sql).map_err(err)?;
        if self.prepared.len() >= MAX_PREPARED {
            self.prepared.clear();
        }
        self.prepared.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }

    fn params(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
        params.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
    }
}

impl Executor for PostgresExecutor {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let stmt = self.statement(sql)?;
        self.client.execute(&stmt, &Self::params(params)).map_err(err)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let stmt = self.statement(sql)?;
        let rows = self.client.query(&stmt, &Self::params(params)).map_err(err)?;
        Ok(rows
            .iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| match *row.columns()[i].type_() {
                        Type::INT8 | Type::INT4 | Type::INT2 => {
                            let v: Option<i64> = match *row.columns()[i].type_() {
                                Type::INT8 => row.get(i),
                                Type::INT4 => row.get::<_, Option<i32>>(i).map(i64::from),
                                _ => row.get::<_, Option<i16>>(i).map(i64::from),
                            };
                            v.map_or(Value::Null, Value::Int)
                        }
                        Type::BYTEA => row.get::<_, Option<Vec<u8>>>(i).map_or(Value::Null, Value::Bytes),
                        _ => row.get::<_, Option<String>>(i).map_or(Value::Null, Value::Text),
                    })
                    .collect()
            })
            .collect())
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.live()?.batch_execute(sql).map_err(err)
    }
}
