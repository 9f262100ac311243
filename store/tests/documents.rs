//! Documents, their reads and reviews, the ticket event log, the supervisors' counts and
//! retention, on both real backends.

mod common;

use xiaowu_store::{
    AnsweredRow, CaseRow, DocumentReadRow, DocumentReviewRow, DocumentRow, Store, TicketEventRow, Value,
};

fn doc(id: &str, created_ms: i64, sha: &str) -> DocumentRow {
    DocumentRow {
        id: id.into(),
        call_id: "7-1".into(),
        ticket_id: "7-1".into(),
        booth: "booth-gudao-1".into(),
        clerk: "clerk-hekou-1".into(),
        booth_region: "gudao".into(),
        service: "teacher-cert".into(),
        doc_type: "id_front".into(),
        created_ms,
        width: 2048,
        height: 1536,
        bytes: 4,
        sha256_original: "orig".into(),
        sha256_result: sha.into(),
    }
}

fn read(id: &str, document: &str, allowed: bool) -> DocumentReadRow {
    DocumentReadRow {
        id: id.into(),
        document_id: document.into(),
        who: if allowed { "clerk-hekou-1" } else { "anonymous" }.into(),
        what: "document".into(),
        allowed,
        from_addr: "127.0.0.1".into(),
        at_ms: 5,
    }
}

fn store_two_documents(store: &Store) {
    store.put_document(&doc("old", 1_000, "aa"), b"IMG1", b"th1").unwrap();
    store.put_document(&doc("new", 9_000, "bb"), b"IMG2", b"th2").unwrap();
    // The same processed image again: its bytes are stored once.
    store.put_document(&doc("new-again", 9_500, "bb"), b"IMG2", b"th2").unwrap();
    store.append_read(&read("r1", "old", true)).unwrap();
    store.append_read(&read("r2", "old", false)).unwrap();
    store.append_read(&read("r3", "new", true)).unwrap();
    let review = DocumentReviewRow {
        id: "v1".into(),
        document_id: "old".into(),
        accepted: false,
        reason: Some("反光看不清".into()),
        at_ms: 6,
    };
    store.append_review(&review).unwrap();
    store
        .append_review(&DocumentReviewRow { id: "v2".into(), accepted: true, reason: None, at_ms: 7, ..review })
        .unwrap();
}

#[test]
fn documents_bytes_reads_and_reviews_round_trip() {
    for (backend, store) in common::both() {
        store_two_documents(&store);
        let (meta, review) = store.document("old").unwrap().expect("stored");
        assert_eq!(meta, doc("old", 1_000, "aa"), "{backend}");
        assert!(review.is_some_and(|r| r.accepted && r.id == "v2"), "{backend}: the latest review counts");
        assert_eq!(store.document_bytes("aa", false).unwrap().as_deref(), Some(&b"IMG1"[..]), "{backend}");
        assert_eq!(store.document_bytes("aa", true).unwrap().as_deref(), Some(&b"th1"[..]), "{backend}");
        assert!(store.document("nothing").unwrap().is_none());
        let reads = store.document_reads("old").unwrap();
        assert_eq!(reads, vec![read("r1", "old", true), read("r2", "old", false)], "{backend}");
        assert_eq!(store.verify_audit().unwrap(), None, "{backend}");
        // A read deleted with SQL is found.
        store.execute_raw("DELETE FROM document_reads WHERE id = $1", &[Value::from("r2")]).unwrap();
        let broken = store.verify_audit().unwrap().expect("found");
        assert_eq!((broken.kind.as_str(), broken.record_id.as_str()), ("document_read", "r2"), "{backend}");
    }
}

#[test]
fn retention_purges_documents_with_their_reads_and_keeps_the_chain_whole() {
    for (backend, store) in common::both() {
        store_two_documents(&store);
        store
            .append_case(&CaseRow {
                id: "c1".into(),
                call_id: "7-1".into(),
                ticket_id: "7-1".into(),
                service: "teacher-cert".into(),
                booth: "booth-gudao-1".into(),
                booth_region: "gudao".into(),
                clerk: "clerk-hekou-1".into(),
                hall: "hekou".into(),
                call_end: "hung_up_by_clerk".into(),
                ended_ms: 1,
                outcome: "completed".into(),
                note: None,
                recorded_ms: 2,
            })
            .unwrap();
        let counts = store.purge_documents(5_000, 1).unwrap();
        assert_eq!((counts.documents, counts.document_reads, counts.document_reviews, counts.blobs), (1, 2, 2, 1));
        assert!(store.document("old").unwrap().is_none(), "{backend}");
        assert!(store.document_bytes("aa", false).unwrap().is_none(), "{backend}: unused bytes go");
        assert!(store.document("new").unwrap().is_some(), "{backend}");
        assert_eq!(store.verify_audit().unwrap(), None, "{backend}: a purge is not tampering");
        // Purging one of two documents that share bytes keeps the bytes.
        store.purge_documents(9_200, 10).unwrap();
        assert_eq!(store.document_bytes("bb", false).unwrap().as_deref(), Some(&b"IMG2"[..]), "{backend}");
        let cases = store.purge_cases(3).unwrap();
        assert_eq!(cases.cases, 1, "{backend}");
        assert_eq!(store.verify_audit().unwrap(), None, "{backend}");
        // Deleting a document by hand is still tampering.
        store.execute_raw("DELETE FROM documents WHERE id = $1", &[Value::from("new-again")]).unwrap();
        let broken = store.verify_audit().unwrap().expect("found");
        assert_eq!((broken.record_id.as_str(), broken.problem.as_str()), ("new-again", "the record was deleted"));
    }
}

#[test]
fn ticket_events_counts_and_samples_round_trip() {
    for (backend, store) in common::both() {
        let ev = |seq: i64, kind: &str| TicketEventRow {
            ticket_id: "7-12".into(),
            seq,
            booth_region: "gudao".into(),
            at_ms: 100 + seq,
            kind: kind.into(),
            detail: r#"{"clerk":"clerk-hekou-1"}"#.into(),
        };
        store.append_events(&[ev(1, "requested"), ev(2, "offered")]).unwrap();
        store.append_events(&[ev(2, "offered"), ev(3, "accepted")]).unwrap(); // a retried batch
        let kinds: Vec<String> = store.ticket_events("7-12").unwrap().into_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["requested", "offered", "accepted"], "{backend}");
        let row = |boot: i64, answered: i64| AnsweredRow {
            day: "2026-12-02".into(),
            boot,
            hall: "hekou".into(),
            service: "teacher-cert".into(),
            answered,
            within_target: answered - 1,
        };
        store.save_answered(&[row(1, 3)]).unwrap();
        store.save_answered(&[row(1, 5), row(2, 2)]).unwrap();
        assert_eq!(store.answered_on("2026-12-02", 2).unwrap(), vec![row(1, 5)], "{backend}: the latest count");
        store.append_waiting_sample(1_000, 1, r#"{"hekou":2}"#).unwrap();
        store.append_waiting_sample(2_000, 1, r#"{"hekou":3}"#).unwrap();
        assert_eq!(store.waiting_samples(1_500).unwrap(), vec![(2_000, r#"{"hekou":3}"#.to_owned())], "{backend}");
        assert_eq!(store.purge_samples(1_500, "2026-12-02").unwrap(), 1, "{backend}");
    }
}
