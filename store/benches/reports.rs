//! Report benchmark: `GET /api/reports`'s queries over 90 days of a province's volume, SQLite and
//! PostgreSQL side by side. The closed-ticket facts (and a case with wrap-up time for each answered
//! ticket) are bulk-loaded: 40 halls, one booth region each, 20 service items, tickets spread evenly
//! over the 90 days; the hourly and daily roll-ups are then filled from them with one
//! `INSERT … SELECT` each (the sums the live path adds ticket by ticket). Then a month is reported by hall × service × day
//! for the whole province and for a city (10 halls), and a week by hall × hour.
//!
//! Then the province month again while a writer commits cases without pause (batches of ten, as
//! the records writer groups them, each case also added to the roll-ups): the report's p50 / p99
//! and the batch commits' p50 / p99 meanwhile.
//!
//! Run: `cargo bench -p xiaowu-store --bench reports` (`XIAOWU_BENCH_TICKETS`, default 5,000,000).

use std::time::{Duration, Instant};

use xiaowu_store::{CaseRow, Period, ReportQuery, Store, WAIT_BUCKETS_MS};

const DAY_MS: i64 = 86_400_000;
/// 2026-09-01 00:00 China time.
const START: i64 = 1_788_192_000_000;
const HALLS: i64 = 40;
const RUNS: usize = 20;

fn tickets() -> i64 {
    std::env::var("XIAOWU_BENCH_TICKETS").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000_000)
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    v.sort();
    v[((v.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0
}

/// Loads the facts and cases in large transactions with multi-row inserts.
fn bulk_load(store: &Store, n: i64) {
    let spacing = 90 * DAY_MS / n;
    for start in (0..n).step_by(50_000) {
        store.execute_raw("BEGIN", &[]).unwrap();
        for chunk in (start..(start + 50_000).min(n)).collect::<Vec<_>>().chunks(1_000) {
            let mut facts = vec![];
            let mut cases = vec![];
            for &i in chunk {
                let (hall, service) = (i % HALLS, (i / HALLS) % 20);
                let asked = START + i * spacing;
                let wait = 5_000 + (i * 7919) % 240_000;
                let answered = i % 10 != 0;
                let overflow = answered && i % 7 == 0;
                let answer = if answered { (asked + wait).to_string() } else { "NULL".into() };
                let answered_hall = match (answered, overflow) {
                    (false, _) => "NULL".to_owned(),
                    (true, true) => format!("'hall-{}'", (hall + 1) % HALLS),
                    (true, false) => format!("'hall-{hall}'"),
                };
                let closed = asked + wait + if answered { 300_000 } else { 0 };
                let outcome =
                    if answered { "served" } else { ["cancelled", "no_clerk", "booth_lost"][(i % 3) as usize] };
                facts.push(format!(
                    "('1-{i}', 'booth-{}', 'region-{hall}', 'hall-{hall}', 'service-{service}', {asked}, {answer}, \
                     {answered_hall}, {}, 60, {closed}, '{outcome}', {}, {}, {})",
                    i % 3000,
                    if answered { format!("'clerk-{}'", i % 800) } else { "NULL".into() },
                    if answered { 300_000 } else { 0 },
                    i64::from(i % 50 == 0),
                    (i * 31) % 300,
                ));
                if answered {
                    cases.push(format!(
                        "('1-{i}', '1-{i}', '1-{i}', 'service-{service}', 'booth-{}', 'region-{hall}', 'clerk-{}', \
                         'hall-{hall}', 'hung_up_by_clerk', {closed}, 'completed', NULL, {}, 0)",
                        i % 3000,
                        i % 800,
                        closed + 30_000 + (i % 60) * 1000,
                    ));
                }
            }
            store
                .execute_raw(
                    &format!(
                        "INSERT INTO ticket_facts (ticket_id, booth, booth_region, home_hall, service, requested_ms, \
                         answered_ms, answered_hall, answered_clerk, target_secs, closed_ms, outcome, talk_ms, requeues, \
                         estimate_secs) VALUES {}",
                        facts.join(", ")
                    ),
                    &[],
                )
                .unwrap();
            store
                .execute_raw(
                    &format!(
                        "INSERT INTO cases (id, call_id, ticket_id, service, booth, booth_region, clerk, hall, call_end, \
                         ended_ms, outcome, note, recorded_ms, audit_seq) VALUES {}",
                        cases.join(", ")
                    ),
                    &[],
                )
                .unwrap();
        }
        store.execute_raw("COMMIT", &[]).unwrap();
    }
}

/// The roll-ups of every loaded fact, as `append_facts` (and the cases' wrap-up) would have made
/// them.
fn fill_rollups(store: &Store) {
    let wait = "COALESCE(f.answered_ms, f.closed_ms) - f.requested_ms";
    let aw = "f.answered_ms - f.requested_ms";
    let est = "f.answered_ms IS NOT NULL AND f.estimate_secs IS NOT NULL";
    let count_if = |c: &str| format!("SUM(CASE WHEN {c} THEN 1 ELSE 0 END)");
    let mut sums = vec![
        "COUNT(*)".to_owned(),
        count_if("f.answered_ms IS NOT NULL"),
        count_if("f.answered_ms IS NULL AND f.outcome IN ('cancelled', 'booth_lost')"),
        count_if("f.outcome = 'no_clerk'"),
        count_if(&format!("{aw} <= f.target_secs * 1000")),
        format!("COALESCE(SUM({aw}), 0)"),
        format!("SUM({wait})"),
        count_if("f.answered_hall <> f.home_hall"),
        "SUM(f.requeues)".into(),
        "SUM(f.talk_ms)".into(),
        "COALESCE(SUM(c.recorded_ms - c.ended_ms), 0)".into(),
        "0".into(),
        "0".into(),
        "0".into(),
        "0".into(),
        "0".into(),
        count_if(est),
        format!("COALESCE(SUM(CASE WHEN {est} THEN ABS(f.estimate_secs * 1000 - ({aw})) END), 0)"),
        format!("COALESCE(SUM(CASE WHEN {est} THEN f.estimate_secs * 1000 - ({aw}) END), 0)"),
    ];
    let mut lower = 0;
    for (i, upper) in WAIT_BUCKETS_MS.iter().enumerate() {
        let last = i == WAIT_BUCKETS_MS.len() - 1;
        sums.push(if last {
            count_if(&format!("{wait} >= {lower}"))
        } else {
            count_if(&format!("{wait} >= {lower} AND {wait} < {upper}"))
        });
        lower = *upper;
    }
    for (table, width) in [("report_hours", 3_600_000), ("report_days", DAY_MS)] {
        store
            .execute_raw(
                &format!(
                    "INSERT INTO {table} SELECT (f.requested_ms + 28800000) / {width}, f.booth_region, f.home_hall, \
                     f.service, {} FROM ticket_facts f LEFT JOIN cases c ON c.ticket_id = f.ticket_id GROUP BY 1, 2, 3, 4",
                    sums.join(", ")
                ),
                &[],
            )
            .unwrap();
    }
}

fn runs(store: &Store, q: &ReportQuery) -> (f64, f64, usize) {
    let mut times = vec![];
    let mut rows = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        rows = store.report(q).unwrap().len();
        times.push(t.elapsed());
    }
    (pct(&mut times, 0.5), pct(&mut times, 0.99), rows)
}

/// Report runs while another thread commits batches of ten cases: (report p50, p99, batch p50,
/// p99, batches).
fn runs_while_writing(store: &std::sync::Arc<Store>, q: &ReportQuery, tag: &str) -> (f64, f64, f64, f64, usize) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = std::thread::spawn({
        let (store, stop, tag) = (store.clone(), stop.clone(), tag.to_owned());
        move || {
            let mut times = vec![];
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let t = Instant::now();
                store
                    .write_batch(|| {
                        for _ in 0..10 {
                            n += 1;
                            store.append_case(&CaseRow {
                                id: format!("bench-{tag}-{n}"),
                                call_id: format!("bench-call-{tag}-{n}"),
                                ticket_id: format!("bench-ticket-{tag}-{n}"),
                                service: "service-1".into(),
                                booth: "booth-1".into(),
                                booth_region: "region-1".into(),
                                clerk: "clerk-1".into(),
                                hall: "region-1".into(),
                                call_end: "hung_up_by_clerk".into(),
                                ended_ms: START + 45 * DAY_MS,
                                outcome: "completed".into(),
                                note: None,
                                recorded_ms: START + 45 * DAY_MS,
                            })?;
                        }
                        Ok(())
                    })
                    .unwrap();
                times.push(t.elapsed());
            }
            times
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    let (p50, p99, _) = runs(store, q);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut writes = writer.join().unwrap();
    let batches = writes.len();
    (p50, p99, pct(&mut writes, 0.5), pct(&mut writes, 0.99), batches)
}

fn main() {
    let n = tickets();
    let dir = std::env::temp_dir().join(format!("xiaowu-report-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = std::sync::Arc::new(Store::open_sqlite(&dir.join("xiaowu.db")).unwrap());
    let postgres = std::sync::Arc::new(Store::open_postgres(&test_kit::postgres::postgres_url()).unwrap());
    let province: Vec<String> = (0..HALLS).map(|h| format!("region-{h}")).collect();
    let city: Vec<String> = (0..10).map(|h| format!("region-{h}")).collect();
    let month = ReportQuery {
        from_ms: START + 30 * DAY_MS,
        to_ms: START + 60 * DAY_MS,
        by_hall: true,
        by_service: true,
        period: Some(Period::Day),
        booth_regions: Some(province.clone()),
    };
    let city_month = ReportQuery { booth_regions: Some(city), ..month.clone() };
    let week_hours =
        ReportQuery { to_ms: START + 37 * DAY_MS, by_service: false, period: Some(Period::Hour), ..month.clone() };
    println!("{n} closed tickets over 90 days (40 halls, 20 items), a case for each answered one:");
    for (name, store) in [("SQLite", &sqlite), ("PostgreSQL 15", &postgres)] {
        let t = Instant::now();
        bulk_load(store, n);
        fill_rollups(store);
        if name.starts_with("PostgreSQL") {
            store.execute_raw("ANALYZE", &[]).unwrap();
        }
        println!("  {name}: loaded in {:.0} s", t.elapsed().as_secs_f64());
        for (what, q) in [
            ("a month, province, hall × service × day", &month),
            ("a month, one city (10 halls), hall × service × day", &city_month),
            ("a week, province, hall × hour", &week_hours),
        ] {
            assert!(runs(store, q).2 > 0, "{name}: {what} has rows");
            let (p50, p99, rows) = runs(store, q);
            println!("    {what:<52} p50 {p50:>7.1} ms  p99 {p99:>7.1} ms  ({rows} rows)");
        }
        let (p50, p99, w50, w99, batches) = runs_while_writing(store, &month, name);
        println!(
            "    the province month while cases are written: report p50 {p50:.1} ms  p99 {p99:.1} ms; \
             a batch of ten cases committed p50 {w50:.1} ms  p99 {w99:.1} ms ({batches} batches)"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
