//! Encryption at rest end to end: after a recorded call in which the booth sent an ID-card photo,
//! neither the database file nor its journal holds a byte of the photo in clear, nor the
//! recording's file a byte of the recording, while the API serves both as they were made (hashes
//! match); a blob an earlier version wrote in clear is sealed at the next start; and after
//! `rotate-key` every document and recording still opens with the new master key alone.

use media::document::sha256_hex;
use protocol::Role;
use test_kit::photos;
use xiaowu_tests::*;

/// Whether `needle` occurs in any file of `dir` whose name starts with `xiaowu.db`.
fn in_database_files(dir: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().flatten().any(|e| {
        let found = e.file_name().to_string_lossy().starts_with("xiaowu.db")
            && std::fs::read(e.path()).unwrap().windows(needle.len()).any(|w| w == needle);
        if found {
            eprintln!("found in {}", e.path().display());
        }
        found
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_sealed_at_rest_and_still_open_after_the_master_key_rotates() {
    let data_dir = std::env::temp_dir().join(format!("xiaowu-at-rest-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let server = start_at(settings(|_| {}), data_dir.clone()).await;
    let url = base_url(&server);
    let photo = photos::camera_photo(1600, 1200, 1, true);
    let photo_path = data_dir.join("id-front.jpg");
    std::fs::write(&photo_path, &photo).unwrap();
    let saved = data_dir.join("received");
    let agent = tokio::spawn({
        let args = agent_console::AgentArgs {
            hold: Some(6.0),
            request_doc: Some("id_front".into()),
            save_docs: Some(saved.clone()),
            ..agent_console::AgentArgs::new(&url, "clerk-hekou-1")
        };
        async move { agent_console::run(&args, |_| {}).await }
    });
    clerks_available(&server, "hekou", 1).await;
    let args = booth_client::BoothArgs {
        photo: Some(photo_path.clone()),
        ..booth_client::BoothArgs::new(&url, "booth-gudao-1", "teacher-cert")
    };
    let b = booth_client::run(&args, |_| {}).await.unwrap();
    let a = agent.await.unwrap().unwrap();
    assert_eq!(b.outcome, "served", "{b:?}");
    let doc = a.documents.first().expect("the clerk received the photo").clone();
    assert!(doc.verified, "the clerk's copy matches its hash: {doc:?}");
    let served = std::fs::read(doc.path.as_ref().unwrap()).unwrap();
    let thumbnail = std::fs::read(saved.join(format!("{}.thumb.jpg", doc.document))).unwrap();
    assert_eq!(sha256_hex(&served), doc.sha256_result);
    // The call's recording, once indexed, as its clerk gets it.
    let call = b.call.expect("the booth had a call");
    let recording = recording_of(&server, call).await;
    assert!(recording.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]), "served opened: a WebM file");
    let on_disk = std::fs::read(server.state().recording_dir.join(format!("call-{call}.webm"))).unwrap();
    assert!(on_disk.starts_with(b"XWS1"), "the recording is sealed on disk");
    assert!(!on_disk.windows(32).any(|w| w == &recording[100..132]), "nothing of the recording in clear");
    server.shutdown().await;

    // Nothing of the image or its thumbnail in clear: not its first 32 bytes (the JPEG signature
    // and header), not 32 bytes from its middle, not the thumbnail's header.
    assert!(served.starts_with(&[0xFF, 0xD8, 0xFF]));
    for (what, needle) in [
        ("the image's header", &served[..32]),
        ("the image's middle", &served[served.len() / 2..served.len() / 2 + 32]),
        ("the thumbnail's header", &thumbnail[..32]),
    ] {
        assert!(!in_database_files(&data_dir, needle), "{what} is in the database in clear");
    }
    assert!(data_dir.join("master.key").exists());
    let key_before = std::fs::read_to_string(data_dir.join("master.key")).unwrap();

    // A blob as an earlier version wrote it: in clear.
    let db = store::Store::open_url(&format!("sqlite://{}", data_dir.join("xiaowu.db").display())).unwrap();
    db.execute_raw(
        "INSERT INTO document_blobs (sha256, image, thumbnail) VALUES ($1, $2, $3)",
        &[store::Value::from("legacy"), store::Value::from(&photo[..]), store::Value::from(&b"thumb"[..])],
    )
    .unwrap();
    drop(db);

    // Rotate (the server is stopped), then start again: the new key alone opens everything.
    let mut s = settings(|_| {});
    s.file.documents.data_dir = data_dir.clone();
    let rotated = signaling_server::rotate_key::rotate_key(&s).unwrap();
    assert_eq!(rotated.rewrapped, 3, "the image's, the thumbnail's and the recording's keys: {rotated:?}");
    let key_after = std::fs::read_to_string(data_dir.join("master.key")).unwrap();
    assert_ne!(key_before, key_after);
    let leftovers: Vec<_> = std::fs::read_dir(&data_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("master.key."))
        .collect();
    assert!(leftovers.is_empty(), "no old key left beside the new one: {leftovers:?}");

    let server = start_at(settings(|_| {}), data_dir.clone()).await;
    assert!(server.state().records.store().unsealed_document_blobs(10).unwrap().is_empty(), "sealed at start");
    let answer = session::get_bytes(
        format!("{}/api/documents/{}", base_url(&server), doc.document),
        token(&server, Role::Supervisor, "sup-dongying").await,
    )
    .await
    .unwrap();
    assert_eq!(answer.status, 200);
    assert_eq!(sha256_hex(&answer.body), doc.sha256_result, "the same bytes, opened with the new key");
    assert!(recording_of(&server, call).await == recording, "the recording too");
    server.shutdown().await;
    assert!(!in_database_files(&data_dir, &photo[..32]), "the legacy blob was sealed in place");
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// The call's recording as its clerk (clerk-hekou-1) gets it, once the server has indexed it.
async fn recording_of(server: &signaling_server::RunningServer, call: u64) -> Vec<u8> {
    let url = format!("{}/api/calls/{call}/recording", base_url(server));
    let clerk = token(server, Role::Clerk, "clerk-hekou-1").await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let answer = session::get_bytes(url.clone(), clerk.clone()).await.unwrap();
        if answer.status == 200 {
            return answer.body;
        }
        assert!(std::time::Instant::now() < deadline, "the recording was not indexed: {}", answer.status);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
