//! Documents, their reads and reviews, the ticket event log, the supervisors' counts and
//! retention, on both real backends.

mod common;

use xiaowu_store::{
    AnsweredRow, BlobInClear, CaseRow, DocumentReadRow, DocumentReviewRow, DocumentRow, Store, StoredBytes,
    TicketEventRow, Value,
};

/// Bytes as the server stores them: sealed, with their wrapped key (here a stand-in text: the
/// store keeps both as they are).
fn sealed(bytes: &[u8]) -> StoredBytes {
    StoredBytes { bytes: bytes.to_vec(), sealing: Some(format!("aes-256-gcm:k1:{}", bytes.len())) }
}

fn stored(store: &Store, sha: &str, thumbnail: bool) -> Option<Vec<u8>> {
    store.document_bytes(sha, thumbnail).unwrap().map(|b| b.bytes)
}

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
    store.put_document(&doc("old", 1_000, "aa"), &sealed(b"IMG1"), &sealed(b"th1")).unwrap();
    store.put_document(&doc("new", 9_000, "bb"), &sealed(b"IMG2"), &sealed(b"th2")).unwrap();
    // The same processed image again: its bytes are stored once.
    store.put_document(&doc("new-again", 9_500, "bb"), &sealed(b"IMG2x"), &sealed(b"th2x")).unwrap();
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
        assert_eq!(store.document_bytes("aa", false).unwrap(), Some(sealed(b"IMG1")), "{backend}");
        assert_eq!(store.document_bytes("aa", true).unwrap(), Some(sealed(b"th1")), "{backend}");
        assert_eq!(stored(&store, "bb", false).as_deref(), Some(&b"IMG2"[..]), "{backend}: the first bytes stay");
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
fn blobs_written_in_clear_are_sealed_in_place_and_keys_rewrapped_in_one_go() {
    for (backend, store) in common::both() {
        store.put_document(&doc("old", 1_000, "aa"), &sealed(b"IMG1"), &sealed(b"th1")).unwrap();
        // A blob as a server before sealing at rest wrote it.
        store
            .execute_raw(
                "INSERT INTO document_blobs (sha256, image, thumbnail) VALUES ($1, $2, $3)",
                &[Value::from("cc"), Value::from(&b"\xFF\xD8\xFFclear"[..]), Value::from(&b"th"[..])],
            )
            .unwrap();
        let clear = store.unsealed_document_blobs(10).unwrap();
        let expected =
            BlobInClear { sha256: "cc".into(), image: b"\xFF\xD8\xFFclear".to_vec(), thumbnail: b"th".to_vec() };
        assert_eq!(clear, vec![expected], "{backend}");
        assert_eq!(store.document_bytes("cc", false).unwrap().and_then(|b| b.sealing), None, "{backend}");
        assert_eq!(store.seal_document_blob("cc", &sealed(b"S1"), &sealed(b"S2")).unwrap(), 1, "{backend}");
        assert_eq!(store.seal_document_blob("cc", &sealed(b"S3"), &sealed(b"S4")).unwrap(), 0, "{backend}: once");
        assert!(store.unsealed_document_blobs(10).unwrap().is_empty(), "{backend}");
        assert_eq!(store.document_bytes("cc", false).unwrap(), Some(sealed(b"S1")), "{backend}");
        let mut keys = store.document_sealings().unwrap();
        keys.sort();
        assert_eq!(keys.len(), 2, "{backend}");
        let rewrapped: Vec<_> =
            keys.iter().map(|(sha, _, _)| (sha.clone(), format!("new-{sha}"), "t".to_owned())).collect();
        assert_eq!(store.reseal_document_keys(&rewrapped).unwrap(), 2, "{backend}");
        assert_eq!(store.document_bytes("aa", false).unwrap().and_then(|b| b.sealing).as_deref(), Some("new-aa"));
        // A row whose bytes are not bytes is an error, not an empty image (SQLite stores what it is
        // given; PostgreSQL's column types refuse it before).
        if backend != "sqlite" {
            continue;
        }
        store
            .execute_raw(
                "UPDATE document_blobs SET image = $1 WHERE sha256 = $2",
                &[Value::from("x"), Value::from("aa")],
            )
            .unwrap();
        assert!(store.document_bytes("aa", false).is_err(), "{backend}");
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
        assert!(stored(&store, "aa", false).is_none(), "{backend}: unused bytes go");
        assert!(store.document("new").unwrap().is_some(), "{backend}");
        assert_eq!(store.verify_audit().unwrap(), None, "{backend}: a purge is not tampering");
        // Purging one of two documents that share bytes keeps the bytes.
        store.purge_documents(9_200, 10).unwrap();
        assert_eq!(stored(&store, "bb", false).as_deref(), Some(&b"IMG2"[..]), "{backend}");
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
