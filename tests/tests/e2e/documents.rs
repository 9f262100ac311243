//! Documents end to end: the clerk asks for the ID card, the booth sends a 12 MP camera photo with
//! EXIF orientation and GPS, the clerk receives it upright, stripped, watermarked and with the right
//! hash, rejects it, gets it again, accepts it; outsiders' reads are refused, and every read is
//! audited.

use media::document::{process, sha256_hex, PipelineLimits, Watermark};
use protocol::{Role, ServerMessage};
use test_kit::photos;
use xiaowu_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clerk_requests_rejects_and_accepts_an_id_card_photo() {
    let server = start(settings(|_| {})).await;
    let url = base_url(&server);
    let work = std::env::temp_dir().join(format!("xiaowu-docs-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let photo = photos::camera_photo(4000, 3000, 6, true);
    let photo_path = work.join("id-front.jpg");
    std::fs::write(&photo_path, &photo).unwrap();
    let saved = work.join("received");

    let agent = tokio::spawn({
        let args = agent_console::AgentArgs {
            hold: Some(8.0),
            request_doc: Some("id_front".into()),
            save_docs: Some(saved.clone()),
            reject_first: true,
            ..agent_console::AgentArgs::new(&url, "clerk-hekou-1")
        };
        async move { agent_console::run(&args, |_| {}).await }
    });
    let mut sup = connect(&server, Role::Supervisor, "sup-dongying").await;
    expect(&mut sup, "clerk available", |m| match m {
        ServerMessage::QueueLoad { rows } => {
            rows.iter().any(|r| r.region.as_str() == "hekou" && r.clerks_available > 0).then_some(())
        }
        _ => None,
    })
    .await;
    let args = booth_client::BoothArgs {
        photo: Some(photo_path),
        ..booth_client::BoothArgs::new(&url, "booth-gudao-1", "teacher-cert")
    };
    let b = booth_client::run(&args, |_| {}).await.unwrap();
    let a = agent.await.unwrap().unwrap();
    assert_eq!(b.outcome, "served", "{b:?}");

    // The booth sent twice (rejected, then accepted), both stored with the original's hash.
    assert_eq!(b.uploads.len(), 2, "{:?}", b.uploads);
    for u in &b.uploads {
        assert_eq!((u.status, u.doc_type.as_str()), (200, "id_front"), "{u:?}");
        assert_eq!(u.sha256_original.as_deref(), Some(sha256_hex(&photo).as_str()));
    }
    assert_eq!((b.documents_rejected, b.documents_accepted), (1, 1));

    // The clerk got both, downloaded and verified them, rejected the first and accepted the second.
    assert_eq!(a.documents.len(), 2, "{:?}", a.documents);
    assert_eq!(a.documents.iter().map(|d| d.accepted).collect::<Vec<_>>(), vec![false, true]);
    let doc = &a.documents[1];
    assert!(doc.verified);
    let received = std::fs::read(doc.path.as_ref().unwrap()).unwrap();
    // Upright (a 4000×3000 landscape with orientation 6 is a portrait), no EXIF, no GPS.
    assert_eq!((doc.width, doc.height), (1536, 2048));
    let img = image::load_from_memory(&received).unwrap();
    assert_eq!((img.width(), img.height()), (1536, 2048));
    assert!(!received.windows(4).any(|w| w == b"Exif"));
    // Exactly what the pipeline makes with today's watermark for 教师资格认定确认: watermarked.
    let wm =
        Watermark::for_service("教师资格认定确认", &china_time::date_string(gateway::auth::unix_now() as i64 * 1000));
    let expected = process(&photo, &wm, &PipelineLimits::default()).unwrap();
    assert_eq!(sha256_hex(&received), expected.sha256_result);
    assert_eq!(doc.sha256_result, expected.sha256_result);
    let unmarked = process(&photo, &Watermark { text: String::new() }, &PipelineLimits::default()).unwrap();
    assert_ne!(unmarked.sha256_result, expected.sha256_result, "the watermark changes the image");
    assert!(saved.join(format!("{}.thumb.jpg", doc.document)).exists());

    // Outsiders may not read it: another clerk, another booth, a supervisor of another city.
    let get = |token: String| {
        let u = format!("{url}/api/documents/{}", doc.document);
        async move { session::get_bytes(u, token).await.unwrap().status }
    };
    for (role, id, expected) in [
        (Role::Clerk, "clerk-hekou-2", 403),
        (Role::Booth, "booth-gudao-2", 403),
        (Role::Booth, "booth-gudao-1", 403), // the call is over
        (Role::Supervisor, "sup-binzhou", 403),
        (Role::Supervisor, "sup-dongying", 200),
        (Role::Clerk, "clerk-hekou-1", 200),
    ] {
        assert_eq!(get(token(&server, role, id).await).await, expected, "{id}");
    }
    assert_eq!(
        session::get_bytes(format!("{url}/api/documents/{}", doc.document), "forged".into()).await.unwrap().status,
        401
    );
    // Every read attempt is in the audit chain, refusals included, with the address it came from.
    let audit = server.state().docs.reads(doc.document.as_str()).unwrap();
    assert!(audit.iter().all(|r| r.from_addr == "127.0.0.1"));
    let of_doc = |who: &str, allowed: bool| audit.iter().any(|r| r.who == who && r.allowed == allowed);
    assert!(
        of_doc("clerk:clerk-hekou-1", true)
            && of_doc("clerk:clerk-hekou-2", false)
            && of_doc("supervisor:sup-binzhou", false)
    );
    assert_eq!(server.state().records.store().verify_audit().unwrap(), None);
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&work);
}
