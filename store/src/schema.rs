//! Versioned migrations, run in order at open. Plain SQL that both engines take: `BIGINT` and
//! `TEXT` columns (and `{BLOB}`, which becomes `BLOB` or `BYTEA`), times as Unix milliseconds, ids
//! as text (unique across nodes).
//! A database whose schema is newer than this binary's is refused, not touched.

use crate::backend::{Executor, Value};
use crate::{Dialect, Result, StoreError};

/// Migrations; the schema version is their count.
const MIGRATIONS: &[&str] = &[
    // 1: case records, ratings, supervisors' forced states, and the audit hash chain over them.
    "CREATE TABLE audit_chain (
        seq BIGINT PRIMARY KEY,
        kind TEXT NOT NULL,
        record_id TEXT NOT NULL,
        content TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        at_ms BIGINT NOT NULL
    );
    CREATE TABLE cases (
        id TEXT PRIMARY KEY,
        call_id TEXT NOT NULL,
        ticket_id TEXT NOT NULL,
        service TEXT NOT NULL,
        booth TEXT NOT NULL,
        booth_region TEXT NOT NULL,
        clerk TEXT NOT NULL,
        hall TEXT NOT NULL,
        call_end TEXT NOT NULL,
        ended_ms BIGINT NOT NULL,
        outcome TEXT NOT NULL,
        note TEXT,
        recorded_ms BIGINT NOT NULL,
        audit_seq BIGINT NOT NULL
    );
    CREATE INDEX cases_by_clerk ON cases (clerk, recorded_ms);
    CREATE INDEX cases_by_hall ON cases (hall, recorded_ms);
    CREATE INDEX cases_by_region ON cases (booth_region, recorded_ms);
    CREATE INDEX cases_by_time ON cases (recorded_ms);
    CREATE INDEX cases_by_ticket ON cases (ticket_id);
    CREATE TABLE ratings (
        ticket_id TEXT PRIMARY KEY,
        booth TEXT NOT NULL,
        rating TEXT NOT NULL,
        at_ms BIGINT NOT NULL,
        audit_seq BIGINT NOT NULL
    );
    CREATE TABLE forced_states (
        id TEXT PRIMARY KEY,
        supervisor TEXT NOT NULL,
        clerk TEXT NOT NULL,
        state TEXT NOT NULL,
        why TEXT NOT NULL,
        at_ms BIGINT NOT NULL,
        audit_seq BIGINT NOT NULL
    );",
    // 2: each server start takes a boot number; ids written during that run carry it, so they
    // never repeat across restarts (or across nodes sharing the database).
    "CREATE TABLE boots (id BIGINT PRIMARY KEY, started_ms BIGINT NOT NULL);",
    // 3: the case indexes end in the id, so each scoped branch of a case query is read in
    // (time, id) order straight from its index, without a sort.
    "DROP INDEX cases_by_clerk;
    DROP INDEX cases_by_hall;
    DROP INDEX cases_by_region;
    CREATE INDEX cases_by_clerk ON cases (clerk, recorded_ms, id);
    CREATE INDEX cases_by_hall ON cases (hall, recorded_ms, id);
    CREATE INDEX cases_by_region ON cases (booth_region, recorded_ms, id);",
    // 4: documents (metadata, bytes, reviews, reads), the per-ticket event log, and what the
    // supervisors' grid needs across a restart (answered counts, waiting samples).
    "CREATE TABLE documents (
        id TEXT PRIMARY KEY,
        call_id TEXT NOT NULL,
        ticket_id TEXT NOT NULL,
        booth TEXT NOT NULL,
        clerk TEXT NOT NULL,
        booth_region TEXT NOT NULL,
        service TEXT NOT NULL,
        doc_type TEXT NOT NULL,
        created_ms BIGINT NOT NULL,
        width BIGINT NOT NULL,
        height BIGINT NOT NULL,
        bytes BIGINT NOT NULL,
        sha256_original TEXT NOT NULL,
        sha256_result TEXT NOT NULL,
        audit_seq BIGINT NOT NULL
    );
    CREATE INDEX documents_by_time ON documents (created_ms);
    CREATE INDEX documents_by_result ON documents (sha256_result);
    CREATE TABLE document_blobs (
        sha256 TEXT PRIMARY KEY,
        image {BLOB} NOT NULL,
        thumbnail {BLOB} NOT NULL
    );
    CREATE TABLE document_reviews (
        id TEXT PRIMARY KEY,
        document_id TEXT NOT NULL,
        accepted BIGINT NOT NULL,
        reason TEXT,
        at_ms BIGINT NOT NULL,
        audit_seq BIGINT NOT NULL
    );
    CREATE INDEX document_reviews_by_document ON document_reviews (document_id, audit_seq);
    CREATE TABLE document_reads (
        id TEXT PRIMARY KEY,
        document_id TEXT NOT NULL,
        who TEXT NOT NULL,
        what TEXT NOT NULL,
        allowed BIGINT NOT NULL,
        from_addr TEXT NOT NULL,
        at_ms BIGINT NOT NULL,
        audit_seq BIGINT NOT NULL
    );
    CREATE INDEX document_reads_by_document ON document_reads (document_id, audit_seq);
    CREATE TABLE ticket_events (
        ticket_id TEXT NOT NULL,
        seq BIGINT NOT NULL,
        booth_region TEXT NOT NULL,
        at_ms BIGINT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL,
        PRIMARY KEY (ticket_id, seq)
    );
    CREATE INDEX ticket_events_by_time ON ticket_events (at_ms);
    CREATE TABLE answered_counts (
        day TEXT NOT NULL,
        boot BIGINT NOT NULL,
        hall TEXT NOT NULL,
        service TEXT NOT NULL,
        answered BIGINT NOT NULL,
        within_target BIGINT NOT NULL,
        PRIMARY KEY (day, boot, hall, service)
    );
    CREATE TABLE waiting_samples (
        at_ms BIGINT NOT NULL,
        boot BIGINT NOT NULL,
        counts TEXT NOT NULL,
        PRIMARY KEY (at_ms, boot)
    );",
    // 5: why a citizen was not satisfied (好差评 asks for a reason with a bad rating).
    "ALTER TABLE ratings ADD COLUMN reason TEXT;",
    // 6: call recordings (the files are on disk) and every view of one.
    "CREATE TABLE recordings (
        call_id TEXT PRIMARY KEY,
        ticket_id TEXT NOT NULL,
        booth TEXT NOT NULL,
        clerk TEXT NOT NULL,
        booth_region TEXT NOT NULL,
        service TEXT NOT NULL,
        parties TEXT NOT NULL,
        file TEXT NOT NULL,
        started_ms BIGINT NOT NULL,
        ended_ms BIGINT NOT NULL,
        duration_ms BIGINT NOT NULL,
        bytes BIGINT NOT NULL,
        sha256 TEXT NOT NULL,
        audit_seq BIGINT NOT NULL
    );
    CREATE INDEX recordings_by_end ON recordings (ended_ms);
    CREATE TABLE recording_views (
        id TEXT PRIMARY KEY,
        call_id TEXT NOT NULL,
        who TEXT NOT NULL,
        byte_range TEXT NOT NULL,
        allowed BIGINT NOT NULL,
        from_addr TEXT NOT NULL,
        at_ms BIGINT NOT NULL,
        audit_seq BIGINT NOT NULL
    );
    CREATE INDEX recording_views_by_call ON recording_views (call_id, audit_seq);",
    // 7: one row per closed ticket, and its hourly and daily roll-ups (`slot`: an hour or a day
    // number, China time; `w0`…`w31`: tickets per wait bucket): what the reports add up.
    "CREATE TABLE ticket_facts (
        ticket_id TEXT PRIMARY KEY,
        booth TEXT NOT NULL,
        booth_region TEXT NOT NULL,
        home_hall TEXT NOT NULL,
        service TEXT NOT NULL,
        requested_ms BIGINT NOT NULL,
        answered_ms BIGINT,
        answered_hall TEXT,
        answered_clerk TEXT,
        target_secs BIGINT NOT NULL,
        closed_ms BIGINT NOT NULL,
        outcome TEXT NOT NULL,
        talk_ms BIGINT NOT NULL,
        requeues BIGINT NOT NULL,
        estimate_secs BIGINT
    );
    CREATE INDEX ticket_facts_by_time ON ticket_facts (requested_ms);
    CREATE TABLE report_hours ({ROLLUP});
    CREATE TABLE report_days ({ROLLUP});",
    // 8: where each clerk's signed-in time went, per hour (`clerk_time.rs`).
    "CREATE TABLE clerk_hours (
        slot BIGINT NOT NULL,
        clerk TEXT NOT NULL,
        hall TEXT NOT NULL,
        available_ms BIGINT NOT NULL DEFAULT 0,
        offered_ms BIGINT NOT NULL DEFAULT 0,
        in_call_ms BIGINT NOT NULL DEFAULT 0,
        wrap_ms BIGINT NOT NULL DEFAULT 0,
        away_ms BIGINT NOT NULL DEFAULT 0,
        calls BIGINT NOT NULL DEFAULT 0,
        covered_to_ms BIGINT NOT NULL,
        PRIMARY KEY (slot, clerk)
    );
    CREATE INDEX clerk_hours_by_hall ON clerk_hours (hall, slot);",
    // 9: the supervisors' alerts raised and cleared (`alerts.rs`).
    "CREATE TABLE alert_events (
        at_ms BIGINT NOT NULL,
        event TEXT NOT NULL,
        kind TEXT NOT NULL,
        region TEXT NOT NULL,
        service TEXT,
        clerk TEXT,
        booth TEXT,
        since_ms BIGINT NOT NULL,
        value_milli BIGINT NOT NULL,
        message_zh TEXT NOT NULL,
        message_en TEXT NOT NULL,
        subject TEXT NOT NULL,
        PRIMARY KEY (at_ms, event, kind, region, subject)
    );
    CREATE INDEX alert_events_by_region ON alert_events (region, at_ms);",
    // 10: document bytes and recordings sealed at rest: each blob's (and recording file's) data
    // key, wrapped by the master key, beside it (`cipher:master key id:wrapped key`); NULL on a
    // blob or file written before (in clear). Outside the audited columns: a master key's
    // rotation rewrites it.
    "ALTER TABLE document_blobs ADD COLUMN image_sealing TEXT;
    ALTER TABLE document_blobs ADD COLUMN thumbnail_sealing TEXT;
    ALTER TABLE recordings ADD COLUMN sealing TEXT;",
    // 11: kiosks set up with a device token of their own (only its SHA-256 kept), revocable.
    "CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        booth TEXT NOT NULL,
        token_sha256 TEXT NOT NULL UNIQUE,
        created_ms BIGINT NOT NULL,
        created_from TEXT NOT NULL,
        last_login_ms BIGINT,
        revoked_ms BIGINT,
        revoked_by TEXT,
        audit_seq BIGINT NOT NULL
    );
    CREATE INDEX devices_by_booth ON devices (booth, created_ms);",
];

/// The columns of migration 7's two roll-up tables (`report_hours`, `report_days`), the same for
/// both: `{ROLLUP}` in its text. Frozen with that migration, as every migration's text is.
const ROLLUP_COLUMNS_V7: &str = "
        slot BIGINT NOT NULL,
        booth_region TEXT NOT NULL,
        home_hall TEXT NOT NULL,
        service TEXT NOT NULL,
        offered BIGINT NOT NULL DEFAULT 0,
        answered BIGINT NOT NULL DEFAULT 0,
        abandoned BIGINT NOT NULL DEFAULT 0,
        no_clerk BIGINT NOT NULL DEFAULT 0,
        within_target BIGINT NOT NULL DEFAULT 0,
        answer_wait_ms BIGINT NOT NULL DEFAULT 0,
        wait_ms BIGINT NOT NULL DEFAULT 0,
        overflow BIGINT NOT NULL DEFAULT 0,
        requeues BIGINT NOT NULL DEFAULT 0,
        talk_ms BIGINT NOT NULL DEFAULT 0,
        wrap_ms BIGINT NOT NULL DEFAULT 0,
        r_very_satisfied BIGINT NOT NULL DEFAULT 0,
        r_satisfied BIGINT NOT NULL DEFAULT 0,
        r_acceptable BIGINT NOT NULL DEFAULT 0,
        r_dissatisfied BIGINT NOT NULL DEFAULT 0,
        r_very_dissatisfied BIGINT NOT NULL DEFAULT 0,
        estimated BIGINT NOT NULL DEFAULT 0,
        estimate_abs_error_ms BIGINT NOT NULL DEFAULT 0,
        estimate_error_ms BIGINT NOT NULL DEFAULT 0,
        w0 BIGINT NOT NULL DEFAULT 0,
        w1 BIGINT NOT NULL DEFAULT 0,
        w2 BIGINT NOT NULL DEFAULT 0,
        w3 BIGINT NOT NULL DEFAULT 0,
        w4 BIGINT NOT NULL DEFAULT 0,
        w5 BIGINT NOT NULL DEFAULT 0,
        w6 BIGINT NOT NULL DEFAULT 0,
        w7 BIGINT NOT NULL DEFAULT 0,
        w8 BIGINT NOT NULL DEFAULT 0,
        w9 BIGINT NOT NULL DEFAULT 0,
        w10 BIGINT NOT NULL DEFAULT 0,
        w11 BIGINT NOT NULL DEFAULT 0,
        w12 BIGINT NOT NULL DEFAULT 0,
        w13 BIGINT NOT NULL DEFAULT 0,
        w14 BIGINT NOT NULL DEFAULT 0,
        w15 BIGINT NOT NULL DEFAULT 0,
        w16 BIGINT NOT NULL DEFAULT 0,
        w17 BIGINT NOT NULL DEFAULT 0,
        w18 BIGINT NOT NULL DEFAULT 0,
        w19 BIGINT NOT NULL DEFAULT 0,
        w20 BIGINT NOT NULL DEFAULT 0,
        w21 BIGINT NOT NULL DEFAULT 0,
        w22 BIGINT NOT NULL DEFAULT 0,
        w23 BIGINT NOT NULL DEFAULT 0,
        w24 BIGINT NOT NULL DEFAULT 0,
        w25 BIGINT NOT NULL DEFAULT 0,
        w26 BIGINT NOT NULL DEFAULT 0,
        w27 BIGINT NOT NULL DEFAULT 0,
        w28 BIGINT NOT NULL DEFAULT 0,
        w29 BIGINT NOT NULL DEFAULT 0,
        w30 BIGINT NOT NULL DEFAULT 0,
        w31 BIGINT NOT NULL DEFAULT 0,
        PRIMARY KEY (slot, booth_region, home_hall, service)
    ";

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

pub fn current_version(exec: &mut dyn Executor) -> Result<i64> {
    let rows = exec.query("SELECT MAX(version) AS version FROM schema_version", &[])?;
    Ok(rows.first().map_or(Ok(None), |r| r.opt_int("version"))?.unwrap_or(0))
}

/// Brings the schema up to [`SCHEMA_VERSION`], each migration in its own transaction. Several
/// processes may start on one database at once (the nodes of a cluster after an upgrade): each
/// migration runs under the write lock (SQLite) or a lock on `schema_version` (PostgreSQL), and
/// one already applied by another process meanwhile is skipped.
pub fn migrate(exec: &mut dyn Executor, dialect: Dialect) -> Result<()> {
    const VERSIONS: &str =
        "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL, applied_ms BIGINT NOT NULL)";
    if exec.batch(VERSIONS).is_err() {
        // PostgreSQL's `IF NOT EXISTS` is not safe against a concurrent creation: the other
        // process made it; it is there now.
        std::thread::sleep(std::time::Duration::from_millis(100));
        exec.batch(VERSIONS)?;
    }
    let found = current_version(exec)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew { found, supported: SCHEMA_VERSION });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = i as i64 + 1;
        let blob = match dialect {
            Dialect::Sqlite => "BLOB",
            Dialect::Postgres => "BYTEA",
        };
        let sql = sql.replace("{BLOB}", blob).replace("{ROLLUP}", ROLLUP_COLUMNS_V7);
        in_transaction(exec, dialect, Some("schema_version"), |exec| {
            if current_version(exec)? >= version {
                return Ok(0);
            }
            exec.batch(&sql)?;
            exec.execute(
                "INSERT INTO schema_version (version, applied_ms) VALUES ($1, $2)",
                &[Value::Int(version), Value::Int(crate::rows::now_ms())],
            )
        })?;
    }
    Ok(())
}

/// Runs `work` in one write transaction: committed if it succeeds, rolled back if not. SQLite
/// takes its write lock at once (`BEGIN IMMEDIATE`: no upgrade deadlocks); on PostgreSQL, `lock`
/// names a table locked exclusively first, so that writers on every node sharing the database
/// take their turn (the audit chain and boot numbers must not fork).
pub fn in_transaction<T>(
    exec: &mut dyn Executor,
    dialect: Dialect,
    lock: Option<&str>,
    work: impl FnOnce(&mut dyn Executor) -> Result<T>,
) -> Result<T> {
    begin(exec, dialect)?;
    let done = match lock.filter(|_| dialect == Dialect::Postgres) {
        Some(table) => exec.batch(&format!("LOCK TABLE {table} IN EXCLUSIVE MODE")).and_then(|_| work(exec)),
        None => work(exec),
    };
    finish(exec, done)
}

/// Opens a write transaction (SQLite: `BEGIN IMMEDIATE`, taking the write lock at once).
pub(crate) fn begin(exec: &mut dyn Executor, dialect: Dialect) -> Result<()> {
    exec.batch(match dialect {
        Dialect::Sqlite => "BEGIN IMMEDIATE",
        Dialect::Postgres => "BEGIN",
    })
}

/// Commits the open transaction if its work succeeded, rolls it back if not.
pub(crate) fn finish<T>(exec: &mut dyn Executor, done: Result<T>) -> Result<T> {
    match done {
        Ok(v) => match exec.batch("COMMIT") {
            Ok(()) => Ok(v),
            // A held write failed before the commit was sent: the transaction is still open.
            Err(e) => {
                let _ = exec.batch("ROLLBACK");
                Err(e)
            }
        },
        Err(e) => {
            let _ = exec.batch("ROLLBACK");
            Err(e)
        }
    }
}
