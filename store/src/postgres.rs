//! The PostgreSQL executor, on `tokio-postgres` driven by a private single-thread runtime (the
//! store is called from blocking threads). Columns are `BIGINT`, `TEXT` or `BYTEA`, so values map
//! one to one.
//!
//! Writes whose row count nobody reads ([`Executor::execute_later`]) are held and sent together
//! with the next statement that needs an answer, or before the commit: `tokio-postgres` pipelines
//! requests polled together, so a group commit's hundreds of statements cost one round trip
//! instead of one each.

use tokio_postgres::types::{IsNull, ToSql, Type};

use crate::backend::{Columns, Executor, Row, Value};
use crate::{Result, StoreError};

pub struct PostgresExecutor {
    runtime: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
    url: String,
    /// Statements prepared on this connection, by SQL text: each is parsed and planned once, and
    /// every later run is one round trip instead of two.
    prepared: std::collections::HashMap<String, tokio_postgres::Statement>,
    /// Writes held for the next round trip, in order.
    later: Vec<(String, Vec<Value>)>,
    /// Queries only (`connect_reader`): a lost connection is connected again and the query rerun.
    reads_only: bool,
}
/// Prepared statements kept per connection at most (the store runs a few dozen distinct texts;
/// queries built per scope, like a case page's branches, vary and would otherwise pile up).
const MAX_PREPARED: usize = 256;

/// A lost or refused connection, or a server shutting down (SQLSTATE classes 08 and 57), is
/// `Unreachable`: the caller may retry once the database is back. A unique violation (23505) is
/// `Duplicate`. The text carries the server's own message: the client's `Display` says only
/// "db error".
fn err(e: tokio_postgres::Error) -> StoreError {
    let class = e.code().map(|c| &c.code()[..2]);
    let text = match e.as_db_error() {
        Some(db) => format!("{} ({}): {}", db.message(), db.code().code(), db.detail().unwrap_or_default()),
        None => e.to_string(),
    };
    if e.is_closed() || matches!(class, Some("08" | "57")) || e.as_db_error().is_none() && class.is_none() {
        StoreError::Unreachable(text)
    } else if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
        StoreError::Duplicate(text)
    } else {
        StoreError::Query(text)
    }
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut tokio_postgres::types::private::BytesMut,
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

    tokio_postgres::types::to_sql_checked!();
}

impl PostgresExecutor {
    pub fn connect(url: &str) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| StoreError::Unreachable(format!("starting the database client: {e}")))?;
        let client = Self::open(&runtime, url)?;
        Ok(Self {
            runtime,
            client,
            url: url.to_owned(),
            prepared: std::collections::HashMap::new(),
            later: Vec::new(),
            reads_only: false,
        })
    }

    /// A connection for queries only: no transaction is ever open on it, so a query that finds
    /// the connection lost (the server restarted, or ended it) connects again and runs once more.
    pub fn connect_reader(url: &str) -> Result<Self> {
        Ok(Self { reads_only: true, ..Self::connect(url)? })
    }

    /// A new connection; its I/O task runs on `runtime` whenever a statement is waited for.
    fn open(runtime: &tokio::runtime::Runtime, url: &str) -> Result<tokio_postgres::Client> {
        let (client, connection) = runtime
            .block_on(tokio_postgres::connect(url, tokio_postgres::NoTls))
            .map_err(|e| StoreError::Unreachable(e.to_string()))?;
        // Its end (the server gone) shows as the client's `is_closed` and the next statement's error.
        runtime.spawn(async move { drop(connection.await) });
        Ok(client)
    }

    /// After the server went away (restart, network), the next statement connects again.
    fn live(&mut self) -> Result<&tokio_postgres::Client> {
        if self.client.is_closed() {
            self.client = Self::open(&self.runtime, &self.url)?;
            self.prepared.clear();
            self.later.clear();
        }
        Ok(&self.client)
    }

    /// `sql` prepared on the live connection (kept for the next run).
    fn statement(&mut self, sql: &str) -> Result<tokio_postgres::Statement> {
        self.live()?;
        if let Some(stmt) = self.prepared.get(sql) {
            return Ok(stmt.clone());
        }
        let stmt = self.runtime.block_on(self.client.prepare(sql)).map_err(err)?;
        if self.prepared.len() >= MAX_PREPARED {
            self.prepared.clear();
        }
        self.prepared.insert(sql.to_owned(), stmt.clone());
        Ok(stmt)
    }

    fn params(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
        params.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
    }

    /// Sends every held write at once and waits for all their answers; the first error (in
    /// order) is returned. The held writes are gone either way.
    fn flush(&mut self) -> Result<()> {
        if self.later.is_empty() {
            return Ok(());
        }
        let later = std::mem::take(&mut self.later);
        let statements = later.iter().map(|(sql, _)| self.statement(sql)).collect::<Result<Vec<_>>>()?;
        let params: Vec<_> = later.iter().map(|(_, p)| Self::params(p)).collect();
        let client = &self.client;
        let runs = statements.iter().zip(&params).map(|(stmt, p)| client.execute(stmt, p));
        let answers = self.runtime.block_on(futures_util::future::join_all(runs));
        answers.into_iter().find_map(std::result::Result::err).map_or(Ok(()), |e| Err(err(e)))
    }
}

impl Executor for PostgresExecutor {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        self.flush()?;
        let stmt = self.statement(sql)?;
        self.runtime.block_on(self.client.execute(&stmt, &Self::params(params))).map_err(err)
    }

    fn execute_later(&mut self, sql: &str, params: Vec<Value>) -> Result<()> {
        self.later.push((sql.to_owned(), params));
        Ok(())
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        match self.query_once(sql, params) {
            Err(StoreError::Unreachable(_)) if self.reads_only => {
                self.client = Self::open(&self.runtime, &self.url)?;
                self.prepared.clear();
                self.query_once(sql, params)
            }
            other => other,
        }
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.batch_once(sql)
    }
}

impl PostgresExecutor {
    fn query_once(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        self.flush()?;
        let stmt = self.statement(sql)?;
        let rows = self.runtime.block_on(self.client.query(&stmt, &Self::params(params))).map_err(err)?;
        let Some(first) = rows.first() else { return Ok(Vec::new()) };
        let names = Columns::new(first.columns().iter().map(|c| c.name().to_owned()).collect());
        rows.iter()
            .map(|row| {
                let values = (0..row.len())
                    .map(|i| {
                        let column = &row.columns()[i];
                        match *column.type_() {
                            Type::INT8 => row.try_get::<_, Option<i64>>(i).map(|v| v.map_or(Value::Null, Value::Int)),
                            Type::INT4 => row
                                .try_get::<_, Option<i32>>(i)
                                .map(|v| v.map_or(Value::Null, |n| Value::Int(n.into()))),
                            Type::INT2 => row
                                .try_get::<_, Option<i16>>(i)
                                .map(|v| v.map_or(Value::Null, |n| Value::Int(n.into()))),
                            Type::BYTEA => {
                                row.try_get::<_, Option<Vec<u8>>>(i).map(|v| v.map_or(Value::Null, Value::Bytes))
                            }
                            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME => {
                                row.try_get::<_, Option<String>>(i).map(|v| v.map_or(Value::Null, Value::Text))
                            }
                            // A type no column has (NUMERIC from an unCAST SUM, a float): an
                            // error, never a guess.
                            ref other => {
                                return Err(StoreError::Query(format!(
                                    "column `{}` is of type {other}, which the store does not read",
                                    column.name()
                                )))
                            }
                        }
                        .map_err(err)
                    })
                    .collect::<Result<Vec<Value>>>()?;
                Ok(Row::new(names.clone(), values))
            })
            .collect()
    }

    fn batch_once(&mut self, sql: &str) -> Result<()> {
        // A rollback drops what was held (it would be undone, and after an error in the
        // transaction each would fail); anything else runs after it.
        if sql.trim().eq_ignore_ascii_case("ROLLBACK") {
            self.later.clear();
        } else {
            self.flush()?;
        }
        self.live()?;
        self.runtime.block_on(self.client.batch_execute(sql)).map_err(err)
    }
}
