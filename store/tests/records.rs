//! The store on both real backends: records round-trip, ratings join by the ticket's unique id,
//! scoped paging, the audit chain finds an edit made with plain SQL, migrations are idempotent and
//! a newer schema is refused, and SQLite's commits survive reopening the file.

mod common;

use xiaowu_store::{
    CaseCursor, CaseQuery, CaseRow, CaseScope, ForcedStateRow, RatingRow, Store, StoreError, Value, SCHEMA_VERSION,
};

fn case(n: i64, clerk: &str, hall: &str) -> CaseRow {
    CaseRow {
        id: format!("case-{n}"),
        call_id: format!("call-{n}"),
        ticket_id: format!("ticket-{n}"),
        service: "teacher-cert".into(),
        booth: "booth-gudao-1".into(),
        booth_region: "gudao".into(),
        clerk: clerk.into(),
        hall: hall.into(),
        call_end: "hung_up_by_clerk".into(),
        ended_ms: 1_795_000_000_000 + n * 1000,
        outcome: "completed".into(),
        note: (n % 2 == 0).then(|| format!("缺户口本首页 {n}")),
        recorded_ms: 1_795_000_000_000 + n * 1000 + 500,
    }
}

/// The ids of a clerk's newest cases (at most 10), newest first.
fn case_ids(store: &Store, clerk: &str) -> Vec<String> {
    let query = CaseQuery::newest(CaseScope::Clerk(clerk.into()), 10);
    store.cases(&query).unwrap().into_iter().map(|(c, _)| c.id).collect()
}

#[test]
fn records_round_trip_and_ratings_join_by_ticket_id() {
    for (backend, store) in common::both() {
        for n in 1..=5 {
            store.append_case(&case(n, if n <= 3 { "clerk-hekou-1" } else { "clerk-dongying-1" }, "hekou")).unwrap();
        }
        let rating = RatingRow {
            ticket_id: "ticket-2".into(),
            booth: "booth-gudao-1".into(),
            rating: "dissatisfied".into(),
            at_ms: 1,
            reason: Some("long_wait".into()),
        };
        store.append_rating(&rating).unwrap();
        assert!(
            matches!(store.append_rating(&rating), Err(StoreError::Duplicate(_))),
            "{backend}: one rating per ticket, told by the database's code"
        );
        let again = store.append_case(&case(1, "clerk-hekou-1", "hekou"));
        assert!(matches!(again, Err(StoreError::Duplicate(_))), "{backend}: a case written twice: {again:?}");
        let mine = store.cases(&CaseQuery::newest(CaseScope::Clerk("clerk-hekou-1".into()), 10)).unwrap();
        let ids: Vec<&str> = mine.iter().map(|(c, _)| c.id.as_str()).collect();
        assert_eq!(ids, ["case-3", "case-2", "case-1"], "{backend}: newest first");
        let joined = mine[1].1.clone().expect("the rating joins its case");
        assert_eq!(
            (joined.rating.as_str(), joined.reason.as_deref()),
            ("dissatisfied", Some("long_wait")),
            "{backend}"
        );
        assert_eq!(mine[1].0, case(2, "clerk-hekou-1", "hekou"), "{backend}: every field round-trips");
        // Paging with the cursor.
        let after = CaseCursor { recorded_ms: mine[1].0.recorded_ms, id: mine[1].0.id.clone() };
        let q = CaseQuery { after: Some(after), ..CaseQuery::newest(CaseScope::Regions(vec!["hekou".into()]), 2) };
        let page = store.cases(&q).unwrap();
        let ids: Vec<&str> = page.iter().map(|(c, _)| c.id.as_str()).collect();
        assert_eq!(ids, ["case-1"], "{backend}");
        assert!(store.cases(&CaseQuery::newest(CaseScope::Regions(vec!["binzhou".into()]), 10)).unwrap().is_empty());
        // A time range: recorded in [case 2, case 4).
        let q = CaseQuery {
            since_ms: Some(case(2, "", "").recorded_ms),
            until_ms: Some(case(4, "", "").recorded_ms),
            ..CaseQuery::newest(CaseScope::Regions(vec!["hekou".into()]), 10)
        };
        let ids: Vec<String> = store.cases(&q).unwrap().into_iter().map(|(c, _)| c.id).collect();
        assert_eq!(ids, ["case-3", "case-2"], "{backend}");
        let forced = ForcedStateRow {
            id: "fs-1".into(),
            supervisor: "sup-dongying".into(),
            clerk: "clerk-hekou-2".into(),
            state: "away".into(),
            why: "培训".into(),
            at_ms: 2,
        };
        store.append_forced_state(&forced).unwrap();
        assert_eq!(store.verify_audit().unwrap(), None, "{backend}: a clean chain verifies");
    }
}

#[test]
fn the_audit_chain_names_the_row_edited_with_sql() {
    for (backend, store) in common::both() {
        for n in 1..=4 {
            store.append_case(&case(n, "clerk-hekou-1", "hekou")).unwrap();
        }
        store
            .execute_raw("UPDATE cases SET outcome = $1 WHERE id = $2", &["not_eligible".into(), "case-3".into()])
            .unwrap();
        let broken = store.verify_audit().unwrap().expect("the edit is found");
        assert_eq!((broken.seq, broken.record_id.as_str()), (3, "case-3"), "{backend}: {broken}");
        assert!(broken.problem.contains("changed"), "{backend}: {broken}");
        // Re-hashing the link does not help: the next link's previous hash no longer matches.
        store
            .execute_raw("UPDATE cases SET outcome = $1 WHERE id = $2", &["completed".into(), "case-3".into()])
            .unwrap();
        store.execute_raw("DELETE FROM cases WHERE id = $1", &[Value::from("case-2")]).unwrap();
        let broken = store.verify_audit().unwrap().expect("the deletion is found");
        assert_eq!((broken.seq, broken.problem.as_str()), (2, "the record was deleted"), "{backend}");
    }
}

#[test]
fn migrations_are_idempotent_and_a_newer_schema_is_refused() {
    let dir = common::temp_dir("migrate");
    let path = dir.join("xiaowu.db");
    let store = Store::open_sqlite(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    store.append_case(&case(1, "clerk-hekou-1", "hekou")).unwrap();
    drop(store);
    // Reopened: the committed case is there and nothing is migrated twice.
    let store = Store::open_sqlite(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(store.cases(&CaseQuery::newest(CaseScope::Clerk("clerk-hekou-1".into()), 5)).unwrap().len(), 1);
    store
        .execute_raw(
            "INSERT INTO schema_version (version, applied_ms) VALUES ($1, $2)",
            &[Value::Int(99), Value::Int(0)],
        )
        .unwrap();
    drop(store);
    match Store::open_sqlite(&path) {
        Err(e @ StoreError::SchemaTooNew { found: 99, .. }) => {
            assert!(e.bilingual().starts_with("数据库结构版本高于本程序"))
        }
        other => panic!("expected SchemaTooNew, got {:?}", other.err()),
    }
    let url = common::postgres_url();
    let store = Store::open_postgres(&url).unwrap();
    drop(store);
    assert_eq!(Store::open_postgres(&url).unwrap().schema_version().unwrap(), SCHEMA_VERSION);
}

#[test]
fn an_unreachable_database_is_a_clear_error() {
    let port = test_kit::ports::free_port();
    match Store::open_url(&format!("postgres://xiaowu@127.0.0.1:{port}/nothing")) {
        Err(e @ StoreError::Unreachable(_)) => {
            assert!(e.bilingual().starts_with("无法连接数据库 / database unreachable"))
        }
        other => panic!("expected Unreachable, got {:?}", other.err()),
    }
    assert!(matches!(Store::open_url("mysql://x"), Err(StoreError::BadUrl(_))));
}

#[test]
fn paging_never_skips_cases_recorded_in_the_same_millisecond() {
    for (backend, store) in common::both() {
        for n in 1..=7 {
            store.append_case(&CaseRow { recorded_ms: 1_000, ..case(n, "clerk-hekou-1", "hekou") }).unwrap();
        }
        let mut seen = Vec::new();
        let mut q = CaseQuery::newest(CaseScope::Clerk("clerk-hekou-1".into()), 3);
        loop {
            let page = store.cases(&q).unwrap();
            let Some((last, _)) = page.last() else { break };
            q.after = Some(CaseCursor { recorded_ms: last.recorded_ms, id: last.id.clone() });
            seen.extend(page.iter().map(|(c, _)| c.id.clone()));
        }
        assert_eq!(seen, ["case-7", "case-6", "case-5", "case-4", "case-3", "case-2", "case-1"], "{backend}");
    }
}

/// Several processes starting on one new database at once (a cluster's nodes) all open it: the
/// migrations run once, one after the other, on both backends.
#[test]
fn stores_opened_at_once_on_a_new_database_all_open() {
    let path = common::temp_dir("concurrent").join("xiaowu.db");
    let url = common::postgres_url();
    for backend in ["sqlite", "postgres"] {
        let opened: Vec<_> = (0..4)
            .map(|_| {
                let (path, url) = (path.clone(), url.clone());
                std::thread::spawn(move || match backend {
                    "sqlite" => Store::open_sqlite(&path),
                    _ => Store::open_postgres(&url),
                })
            })
            .collect();
        for t in opened {
            let store = t.join().unwrap().unwrap_or_else(|e| panic!("{backend}: {e}"));
            assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION, "{backend}");
        }
    }
}

/// Group commit: records written in one `write_batch` are committed together, their audit links
/// chained one after the other (the chain verifies); a batch in which one write fails keeps
/// nothing, and the chain goes on after it as if it never was.
#[test]
fn a_batch_commits_all_or_nothing_and_keeps_the_chain_whole() {
    for (backend, store) in common::both() {
        store
            .write_batch(|| (1..=3).try_for_each(|n| store.append_case(&case(n, "clerk-hekou-1", "hekou")).map(drop)))
            .unwrap();
        let failed = store.write_batch(|| {
            store.append_case(&case(4, "clerk-hekou-1", "hekou"))?;
            store.append_case(&case(2, "clerk-hekou-1", "hekou"))?;
            store.append_case(&case(5, "clerk-hekou-1", "hekou")).map(drop)
        });
        assert!(matches!(failed, Err(StoreError::Duplicate(_))), "{backend}: {failed:?}");
        store.append_case(&case(6, "clerk-hekou-1", "hekou")).unwrap();
        let ids = case_ids(&store, "clerk-hekou-1");
        assert_eq!(ids, ["case-6", "case-3", "case-2", "case-1"], "{backend}: the failed batch kept nothing");
        assert_eq!(store.verify_audit().unwrap(), None, "{backend}: the chain is whole");
        assert_eq!(store.audit_len().unwrap(), 4, "{backend}");
    }
}

/// The PostgreSQL connection dies in the middle of a group commit: the batch fails as
/// `Unreachable` and none of it is kept (nothing that followed runs on a new connection outside
/// the transaction); the next write connects again and the chain goes on whole.
#[test]
fn a_connection_lost_in_a_batch_keeps_none_of_it() {
    let url = common::postgres_url();
    let store = Store::open_postgres(&url).unwrap();
    let other = Store::open_postgres(&url).unwrap();
    store.append_case(&case(1, "clerk-hekou-1", "hekou")).unwrap();
    let lost = store.write_batch(|| {
        store.append_case(&case(2, "clerk-hekou-1", "hekou"))?;
        // Every other connection to this database is ended by the server: the store's.
        other.execute_raw(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )?;
        store.append_case(&case(3, "clerk-hekou-1", "hekou")).map(drop)
    });
    assert!(matches!(lost, Err(StoreError::Unreachable(_))), "{lost:?}");
    store.append_case(&case(4, "clerk-hekou-1", "hekou")).unwrap();
    assert_eq!(case_ids(&store, "clerk-hekou-1"), ["case-4", "case-1"], "nothing of the lost batch");
    assert_eq!(store.verify_audit().unwrap(), None);
}

/// Queries run on connections of their own: while a batch of writes is open (and holds the
/// writer), a query answers with what was committed before it — not the batch's writes.
#[test]
fn queries_answer_while_the_writer_holds_a_batch_open() {
    for (backend, store) in common::both() {
        store.append_case(&case(1, "clerk-hekou-1", "hekou")).unwrap();
        let store = std::sync::Arc::new(store);
        let (asked, answered) = (std::sync::mpsc::channel(), std::sync::mpsc::channel());
        let reader = std::thread::spawn({
            let store = store.clone();
            let (asked, answered) = (asked.1, answered.0);
            move || {
                asked.recv().unwrap();
                answered.send(case_ids(&store, "clerk-hekou-1")).unwrap();
            }
        });
        let seen = store
            .write_batch(|| {
                store.append_case(&case(2, "clerk-hekou-1", "hekou"))?;
                asked.0.send(()).unwrap();
                // A hang guard, not a timing: the query must not wait for this batch to end.
                Ok(answered.1.recv_timeout(std::time::Duration::from_secs(20)))
            })
            .unwrap();
        assert_eq!(seen.expect("the query answered while the batch was open"), ["case-1"], "{backend}");
        reader.join().unwrap();
        assert_eq!(case_ids(&store, "clerk-hekou-1"), ["case-2", "case-1"], "{backend}: committed, then seen");
    }
}

#[test]
fn a_kiosk_device_is_set_up_listed_revoked_once_and_all_of_it_chained() {
    for (backend, store) in common::both() {
        let device = xiaowu_store::DeviceRow {
            id: "dev-1".into(),
            booth: "booth-gudao-1".into(),
            created_ms: 1_000,
            created_from: "10.0.0.7".into(),
            last_login_ms: None,
            revoked_ms: None,
            revoked_by: None,
        };
        store.put_device(&device, "aa11").unwrap();
        assert_eq!(store.device_by_token("aa11").unwrap(), Some(device.clone()), "{backend}");
        assert_eq!(store.device_by_token("bb22").unwrap(), None, "{backend}");
        store.device_signed_in("dev-1", 2_000).unwrap();
        assert_eq!(store.devices(&["booth-gudao-1".into()]).unwrap()[0].last_login_ms, Some(2_000), "{backend}");
        assert!(store.devices(&["booth-gudao-2".into()]).unwrap().is_empty(), "{backend}");
        assert!(store.revoke_device("dev-1", "supervisor:sup-dongying", 3_000).unwrap(), "{backend}");
        assert!(!store.revoke_device("dev-1", "supervisor:sup-dongying", 4_000).unwrap(), "{backend}: once");
        let revoked = store.device("dev-1").unwrap().unwrap();
        assert_eq!((revoked.revoked_ms, revoked.revoked_by.as_deref()), (Some(3_000), Some("supervisor:sup-dongying")));
        assert_eq!(store.verify_audit().unwrap(), None, "{backend}");
        // Undoing a revocation by hand is tampering.
        store.execute_raw("UPDATE devices SET revoked_ms = NULL, revoked_by = NULL", &[]).unwrap();
        let broken = store.verify_audit().unwrap().expect("found");
        assert_eq!((broken.kind.as_str(), broken.record_id.as_str()), ("device_revoked", "dev-1"), "{backend}");
    }
}
