//! Xiaowu's records store: every durable record behind one interface, on two real backends —
//! SQLite (embedded, the default: one file, WAL, `synchronous=FULL`) and PostgreSQL (shared by the
//! nodes of a cluster). The SQL is written once, in plain portable SQL with `$1` placeholders
//! (`backend.rs` adapts it for SQLite); each backend is a thin executor.
//!
//! - `backend.rs`: values, rows read by column name (NULL or a wrong type is an error), the
//!   executor trait, placeholder translation;
//! - `sqlite.rs` / `postgres.rs`: the two executors;
//! - `schema.rs`: versioned migrations, run at open, and the refusal of a newer schema;
//! - `audit.rs`: the tamper-evident hash chain over every chained record, and `verify_audit`;
//! - `records.rs`: case records (办件), ratings (好差评) and supervisors' forced states, each
//!   written with its link in the chain in one transaction; the scoped, paged case query;
//! - `documents.rs`: document metadata, bytes, reviews and reads; retention purges;
//! - `events.rs`: the per-ticket event log, answered counts and waiting samples.
//!
//! Synchronous by design: the server calls it from a blocking thread, and a commit returns only
//! once the record is durable.

mod alerts;
mod audit;
mod backend;
mod clerk_time;
mod devices;
mod documents;
mod events;
mod postgres;
mod purged;
mod recordings;
mod records;
mod reports;
mod rows;
mod schema;
mod sqlite;

use std::cell::{RefCell, RefMut};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::{ReentrantMutex, ReentrantMutexGuard};

pub use alerts::AlertEventRow;
pub use audit::AuditBreak;
pub use backend::Value;
pub use clerk_time::{ClerkActivity, ClerkSums, Stretch};
pub use devices::DeviceRow;
pub use documents::{BlobInClear, DocumentReadRow, DocumentReviewRow, DocumentRow, PurgeCounts, StoredBytes};
pub use events::{AnsweredRow, TicketEventRow};
pub use recordings::{RecordingRow, RecordingViewRow};
pub use records::{CaseCursor, CaseQuery, CaseRating, CaseRow, CaseScope, ForcedStateRow, RatingRow};
pub use reports::{Period, ReportQuery, ReportSums, TicketFactRow, RATING_WORDS, WAIT_BUCKETS_MS};
pub use rows::now_ms;
pub use schema::SCHEMA_VERSION;

/// Why a store operation failed. Each has a Chinese and an English text for the people who run it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unreachable: {0}")]
    Unreachable(String),
    #[error("the database schema is version {found}, newer than this binary's {supported}")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("database error: {0}")]
    Query(String),
    /// The row is there already: a unique key or primary key was violated (PostgreSQL SQLSTATE
    /// 23505, SQLite's `SQLITE_CONSTRAINT_PRIMARYKEY` / `_UNIQUE`). Told by the database's code,
    /// never by its message text.
    #[error("already recorded: {0}")]
    Duplicate(String),
    #[error("unsupported database URL `{0}`: expected sqlite://PATH or postgres://…")]
    BadUrl(String),
    /// A row whose column is NULL or of another type than the schema says: never read as a default.
    #[error("a row of {0} does not hold what the schema says in {1}")]
    BadRow(&'static str, &'static str),
    /// A column read by name that is missing, NULL where it may not be, or of another type.
    #[error("column `{column}` {problem}")]
    BadColumn { column: String, problem: &'static str },
}

impl StoreError {
    /// Chinese first, then English: what an operator reads on the console.
    pub fn bilingual(&self) -> String {
        let zh = match self {
            StoreError::Unreachable(_) => "无法连接数据库",
            StoreError::SchemaTooNew { .. } => "数据库结构版本高于本程序，请升级程序",
            StoreError::Query(_) => "数据库操作失败",
            StoreError::Duplicate(_) => "记录已存在",
            StoreError::BadUrl(_) => "数据库地址格式不正确",
            StoreError::BadRow(..) | StoreError::BadColumn { .. } => "数据库中的记录与结构不符",
        };
        format!("{zh} / {self}")
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Which SQL engine is behind the store (for the few statements that differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// The store: one writing connection, used by one caller at a time (writes are serialised anyway,
/// and a record is small), and [`READERS`] reading connections for queries. The lock is reentrant so that [`Store::write_batch`] can hold it across the
/// writes of a batch — one transaction — while each write takes it again on the same thread;
/// other threads wait for the whole batch.
pub struct Store {
    conn: ReentrantMutex<RefCell<Box<dyn backend::Executor>>>,
    /// Connections for the queries a request makes (reports, cases, documents, recordings): they
    /// read what is committed, apart from the writer, so a month's report never waits behind a
    /// batch of writes, nor a write behind a report.
    readers: Vec<std::sync::Mutex<Box<dyn backend::Executor>>>,
    next_reader: std::sync::atomic::AtomicUsize,
    dialect: Dialect,
    /// Set while [`Store::write_batch`] holds the lock: writes join its transaction.
    in_batch: AtomicBool,
    /// The tables the open batch has locked already (PostgreSQL): locked once per batch.
    batch_locks: std::sync::Mutex<Vec<String>>,
    /// The audit chain's last link as the open batch wrote it (its table is locked for the batch,
    /// so nobody else can add one): the next link needs no read.
    batch_last_link: std::sync::Mutex<Option<(i64, String)>>,
}

/// How many reading connections a store keeps beside its writer.
pub const READERS: usize = 2;

/// A reading connection, borrowed for one query.
pub(crate) type ReadGuard<'a> = std::sync::MutexGuard<'a, Box<dyn backend::Executor>>;

/// The connection, borrowed for one operation.
pub(crate) struct ConnGuard<'a> {
    // Declared before the lock: dropped first.
    exec: RefMut<'a, Box<dyn backend::Executor>>,
    _lock: ReentrantMutexGuard<'a, RefCell<Box<dyn backend::Executor>>>,
}

impl std::ops::Deref for ConnGuard<'_> {
    type Target = Box<dyn backend::Executor>;
    fn deref(&self) -> &Self::Target {
        &self.exec
    }
}

impl std::ops::DerefMut for ConnGuard<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.exec
    }
}

impl Store {
    /// Opens (creating if needed) the SQLite file at `path` and brings its schema up to date.
    pub fn open_sqlite(path: &Path) -> Result<Self> {
        let open = || Ok(Box::new(sqlite::SqliteExecutor::open(path)?) as Box<dyn backend::Executor>);
        Self::with(open()?, Dialect::Sqlite, open)
    }

    /// Connects to PostgreSQL (`postgres://user@host:port/db`) and brings its schema up to date.
    pub fn open_postgres(url: &str) -> Result<Self> {
        let writer = Box::new(postgres::PostgresExecutor::connect(url)?);
        let reader = || Ok(Box::new(postgres::PostgresExecutor::connect_reader(url)?) as Box<dyn backend::Executor>);
        Self::with(writer, Dialect::Postgres, reader)
    }

    /// `sqlite://PATH` or `postgres://…` / `postgresql://…`.
    pub fn open_url(url: &str) -> Result<Self> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            Self::open_sqlite(Path::new(path))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Self::open_postgres(url)
        } else {
            Err(StoreError::BadUrl(url.to_owned()))
        }
    }

    fn with(
        mut exec: Box<dyn backend::Executor>,
        dialect: Dialect,
        open: impl Fn() -> Result<Box<dyn backend::Executor>>,
    ) -> Result<Self> {
        schema::migrate(exec.as_mut(), dialect)?;
        let readers = (0..READERS).map(|_| open().map(std::sync::Mutex::new)).collect::<Result<_>>()?;
        Ok(Self {
            conn: ReentrantMutex::new(RefCell::new(exec)),
            readers,
            next_reader: std::sync::atomic::AtomicUsize::new(0),
            dialect,
            in_batch: AtomicBool::new(false),
            batch_locks: std::sync::Mutex::default(),
            batch_last_link: std::sync::Mutex::default(),
        })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// The schema version the database is at.
    pub fn schema_version(&self) -> Result<i64> {
        schema::current_version(self.conn().as_mut())
    }

    /// Runs raw SQL (tests, tools).
    pub fn execute_raw(&self, sql: &str, params: &[Value]) -> Result<u64> {
        self.conn().execute(sql, params)
    }

    /// The connection, for one operation. Taking it again on the same thread while a
    /// [`ConnGuard`] is alive panics (the `RefCell`): no operation nests another.
    pub(crate) fn conn(&self) -> ConnGuard<'_> {
        let lock = self.conn.lock();
        // SAFETY: the `RefCell` lives in `self.conn`, which outlives the guard's lifetime; the
        // `RefMut` is dropped before the lock guard (field order), and the `RefCell`'s own flag
        // refuses a second borrow on this thread, while the lock keeps other threads out.
        let cell: &RefCell<Box<dyn backend::Executor>> = unsafe { &*(&*lock as *const RefCell<_>) };
        ConnGuard { exec: cell.borrow_mut(), _lock: lock }
    }

    /// A reading connection for one query: a free one if any, else the next in turn. It sees
    /// what is committed (not an open batch's writes: the writer's own reads use [`Store::conn`]).
    pub(crate) fn reader(&self) -> ReadGuard<'_> {
        for r in &self.readers {
            if let Ok(guard) = r.try_lock() {
                return guard;
            }
        }
        let i = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        // A reader is never held across a panic (each query returns its error instead).
        self.readers[i].lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `work` in a transaction of its own (taking `lock`'s table lock on PostgreSQL), or, inside
    /// [`Store::write_batch`], in the batch's transaction.
    pub(crate) fn transaction<T>(
        &self,
        lock: Option<&str>,
        work: impl FnOnce(&mut dyn backend::Executor) -> Result<T>,
    ) -> Result<T> {
        let mut c = self.conn();
        if self.in_batch.load(Ordering::Relaxed) {
            if let (Some(table), Dialect::Postgres) = (lock, self.dialect) {
                let mut locked = self.batch_locks.lock().expect("never held across a panic");
                if !locked.iter().any(|t| t == table) {
                    c.batch(&format!("LOCK TABLE {table} IN EXCLUSIVE MODE"))?;
                    locked.push(table.to_owned());
                }
            }
            return work(c.as_mut());
        }
        schema::in_transaction(c.as_mut(), self.dialect, lock, work)
    }

    /// Whether a [`Store::write_batch`] is open (on the calling thread: others wait for the lock).
    pub(crate) fn in_batch(&self) -> bool {
        self.in_batch.load(Ordering::Relaxed)
    }

    /// Adds a link to the audit chain for a record written in `c`'s transaction (which holds the
    /// chain's table lock); returns its sequence number. In a batch the previous link is known
    /// after the first.
    pub(crate) fn chain(
        &self,
        c: &mut dyn backend::Executor,
        kind: &str,
        record_id: &str,
        content: &str,
    ) -> Result<i64> {
        if !self.in_batch.load(Ordering::Relaxed) {
            return audit::link(c, kind, record_id, content);
        }
        let mut last = self.batch_last_link.lock().expect("never held across a panic");
        let (seq, hash) = audit::link_after(c, last.take(), kind, record_id, content)?;
        *last = Some((seq, hash));
        Ok(seq)
    }

    /// Group commit: every write `work` makes goes into one transaction, committed once at the
    /// end (one `fsync` for all of them); if any fails, none is kept and the error is returned.
    /// Other threads' reads and writes wait until the batch is done.
    pub fn write_batch<T>(&self, work: impl FnOnce() -> Result<T>) -> Result<T> {
        let _held = self.conn.lock();
        schema::begin(self.conn().as_mut(), self.dialect)?;
        struct Batch<'a>(&'a Store);
        impl Drop for Batch<'_> {
            fn drop(&mut self) {
                self.0.in_batch.store(false, Ordering::Relaxed);
                self.0.batch_locks.lock().expect("never held across a panic").clear();
                *self.0.batch_last_link.lock().expect("never held across a panic") = None;
            }
        }
        let done = {
            self.in_batch.store(true, Ordering::Relaxed);
            let _batch = Batch(self);
            work()
        };
        schema::finish(self.conn().as_mut(), done)
    }
}
