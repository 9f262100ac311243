//! Records store benchmarks, side by side in one run:
//!
//! 1. A durable case-record write (committed, with its audit link) as the server's writer does
//!    it: SQLite (`synchronous=FULL`), PostgreSQL (a throwaway local cluster, `fsync=on`), and the
//!    old JSON-lines file (append + `fdatasync`) for comparison.
//! 2. `GET /api/cases` as the store runs it, for a supervisor's scope with 1,000,000 cases in the
//!    table (rows bulk-loaded without audit links; the query is the same).
//!
//! Run: `cargo bench -p xiaowu-store --bench records`

use std::io::Write;
use std::time::{Duration, Instant};

use xiaowu_store::{CaseQuery, CaseRow, CaseScope, Store};

const WRITES: usize = 300;
const ROWS: i64 = 1_000_000;

fn case(n: i64) -> CaseRow {
    CaseRow {
        id: format!("1-{n}"),
        call_id: format!("1-{n}"),
        ticket_id: format!("1-{n}"),
        service: "teacher-cert".into(),
        booth: format!("booth-{}", n % 300),
        booth_region: ["gudao", "yong-an", "bincheng", "xianhe"][(n % 4) as usize].into(),
        clerk: format!("clerk-{}", n % 400),
        hall: ["hekou", "kenli", "bincheng", "dongying"][(n % 4) as usize].into(),
        call_end: "hung_up_by_clerk".into(),
        ended_ms: 1_700_000_000_000 + n * 1000,
        outcome: "completed".into(),
        note: (n % 3 == 0).then(|| "缺户口本首页，群众下次补交".to_owned()),
        recorded_ms: 1_700_000_000_000 + n * 1000 + 500,
    }
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    v[((v.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0
}

fn report(name: &str, mut v: Vec<Duration>) {
    let total: Duration = v.iter().sum();
    println!(
        "  {name:<34} p50 {:>6.2} ms  p99 {:>6.2} ms  {:>7.0} writes/s (one writer)",
        pct(&mut v, 0.5),
        pct(&mut v, 0.99),
        v.len() as f64 / total.as_secs_f64()
    );
}

fn durable_writes(store: &Store) -> Vec<Duration> {
    (0..WRITES as i64)
        .map(|n| {
            let t = Instant::now();
            store.append_case(&case(n)).unwrap();
            t.elapsed()
        })
        .collect()
}

fn json_lines_writes(dir: &std::path::Path) -> Vec<Duration> {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(dir.join("cases.jsonl")).unwrap();
    (0..WRITES as i64)
        .map(|n| {
            let t = Instant::now();
            writeln!(f, "{}", serde_json::to_string(&case(n)).unwrap()).unwrap();
            f.sync_data().unwrap();
            t.elapsed()
        })
        .collect()
}

/// Loads the rows in large transactions with multi-row inserts (the bench's own setup; the
/// generated values hold no quotes).
fn bulk_load(store: &Store) {
    let lit = |s: &str| format!("'{s}'");
    for start in (0..ROWS).step_by(50_000) {
        store.execute_raw("BEGIN", &[]).unwrap();
        for chunk in (start..(start + 50_000).min(ROWS)).collect::<Vec<_>>().chunks(1_000) {
            let values: Vec<String> = chunk
                .iter()
                .map(|n| {
                    let c = case(n + 10_000);
                    format!(
                        "({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, 0)",
                        lit(&c.id),
                        lit(&c.call_id),
                        lit(&c.ticket_id),
                        lit(&c.service),
                        lit(&c.booth),
                        lit(&c.booth_region),
                        lit(&c.clerk),
                        lit(&c.hall),
                        lit(&c.call_end),
                        c.ended_ms,
                        lit(&c.outcome),
                        c.note.as_deref().map_or("NULL".to_owned(), lit),
                        c.recorded_ms
                    )
                })
                .collect();
            let sql = format!(
                "INSERT INTO cases (id, call_id, ticket_id, service, booth, booth_region, clerk, hall, call_end, \
                 ended_ms, outcome, note, recorded_ms, audit_seq) VALUES {}",
                values.join(", ")
            );
            store.execute_raw(&sql, &[]).unwrap();
        }
        store.execute_raw("COMMIT", &[]).unwrap();
    }
}

fn queries(store: &Store) -> Vec<Duration> {
    // A city supervisor: two halls and two booth regions of four.
    let scope = CaseScope::Regions(vec!["hekou".into(), "kenli".into(), "gudao".into(), "yong-an".into()]);
    let clerk = CaseScope::Clerk("clerk-17".into());
    (0..200)
        .map(|i| {
            let t = Instant::now();
            let rows = store.cases(&CaseQuery::newest(if i % 2 == 0 { &scope } else { &clerk }.clone(), 50)).unwrap();
            assert_eq!(rows.len(), 50);
            t.elapsed()
        })
        .collect()
}

fn main() {
    let dir = std::env::temp_dir().join(format!("xiaowu-store-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = Store::open_sqlite(&dir.join("xiaowu.db")).unwrap();
    let postgres = Store::open_postgres(&test_kit::postgres::postgres_url()).unwrap();
    println!("durable case-record writes, {WRITES} each, one after another:");
    report("SQLite (WAL, synchronous=FULL)", durable_writes(&sqlite));
    report("PostgreSQL 15 (local, fsync=on)", durable_writes(&postgres));
    report("old JSON lines (append + fdatasync)", json_lines_writes(&dir));
    println!("GET /api/cases query (newest 50 in a supervisor's scope or a clerk's), {ROWS} cases in the table:");
    for (name, store) in [("SQLite", &sqlite), ("PostgreSQL", &postgres)] {
        let t = Instant::now();
        bulk_load(store);
        store.execute_raw("ANALYZE", &[]).unwrap();
        let load = t.elapsed();
        let mut q = queries(store);
        println!(
            "  {name:<11} p50 {:>6.2} ms  p99 {:>6.2} ms   (bulk load took {:.0} s)",
            pct(&mut q, 0.5),
            pct(&mut q, 0.99),
            load.as_secs_f64()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
