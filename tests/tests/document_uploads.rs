//! Bad document uploads over HTTP during a live call: each gets a clear error (code, Chinese and
//! English message) quickly, in bounded memory, and the server carries on. Its own test binary, so
//! that the process's peak memory measures only this.
//!
//! A test binary of its own: it bounds the process's peak memory, which other tests' servers in
//! the same process would share.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use protocol::{Role, ServerMessage};
use test_kit::photos;
use xiaowu_tests::*;

fn peak_rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 =
        status.lines().find(|l| l.starts_with("VmHWM:")).unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024
}

/// Sends a 50 MiB upload by hand: headers and the first MiB, then reads the answer. The server
/// must refuse on the declared size without waiting for (or reading) the rest.
fn huge_upload(addr: std::net::SocketAddr, call: u64, token: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let head = format!(
        "POST /api/calls/{call}/documents?doc_type=id_front HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n",
        50 * 1024 * 1024
    );
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(&vec![0xFF; 1024 * 1024]);
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    let status = text.split_whitespace().nth(1).and_then(|x| x.parse().ok()).unwrap_or(0);
    (status, text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_get_clear_errors_and_change_nothing() {
    let server = start(settings(|s| s.engine.media_timeout = Duration::from_secs(600))).await;
    let url = base_url(&server);
    let (booth, mut clerk, call) = live_call(&server).await;
    let other_booth = connect(&server, Role::Booth, "booth-gudao-2").await;

    let real = photos::jpeg(640, 480);
    let mut heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic".to_vec();
    heic.extend_from_slice(&[0; 64]);
    let mut avif = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf".to_vec();
    avif.extend_from_slice(&[0; 64]);
    // (case, uploader's token, call, body, expected status, expected code)
    type Case<'a> = (&'a str, &'a str, u64, Vec<u8>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("text file named .jpg", &booth.token, call, b"not a photo at all\n".to_vec(), 415, "unsupported_format"),
        ("empty file", &booth.token, call, vec![], 400, "empty_file"),
        ("truncated JPEG", &booth.token, call, real[..real.len() / 2].to_vec(), 422, "truncated_image"),
        ("60000×60000 header bomb", &booth.token, call, photos::jpeg_claiming(60000, 60000), 422, "image_too_large"),
        (
            "tiny PNG claiming 50000×50000",
            &booth.token,
            call,
            photos::png_claiming(50000, 50000),
            422,
            "image_too_large",
        ),
        ("HEIC", &booth.token, call, heic, 415, "unsupported_format"),
        ("AVIF", &booth.token, call, avif, 415, "unsupported_format"),
        ("GIF", &booth.token, call, b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec(), 415, "unsupported_format"),
        ("upload outside a live call", &booth.token, 999, real.clone(), 409, "not_in_call"),
        ("upload for someone else's call", &other_booth.token, call, real.clone(), 403, "forbidden"),
        ("a clerk uploading", &clerk.token, call, real.clone(), 403, "forbidden"),
    ];
    for (name, token, c, bytes, status, code) in cases {
        let t = Instant::now();
        let r = booth_client::upload_document(&url, token, c, "id_front", bytes).await.unwrap();
        let took = t.elapsed();
        assert_eq!((r.status, r.error.as_deref()), (status, Some(code)), "{name}: {r:?}");
        assert!(r.message_zh.as_deref().is_some_and(|m| !m.is_empty()), "{name}: no Chinese message");
        assert!(took < Duration::from_secs(1), "{name} took {took:?}");
    }
    let t = Instant::now();
    let (status, body) = tokio::task::spawn_blocking({
        let (addr, token) = (server.addr, booth.token.clone());
        move || huge_upload(addr, call, &token)
    })
    .await
    .unwrap();
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("file_too_large") && body.contains("message_en"), "{body}");
    assert!(t.elapsed() < Duration::from_secs(1), "50 MiB upload took {:?}", t.elapsed());

    // The server carries on: the call is intact and a good photo goes through to the clerk.
    let ok = booth_client::upload_document(&url, &booth.token, call, "id_front", real).await.unwrap();
    assert_eq!(ok.status, 200, "{ok:?}");
    let ready = expect(&mut clerk, "document ready", |m| match m {
        ServerMessage::DocumentReady { document, .. } => Some(document.clone()),
        _ => None,
    })
    .await;
    assert_eq!(Some(ready.to_string()), ok.document);
    assert!(peak_rss_mib() < 300, "peak memory {} MiB", peak_rss_mib());
    server.shutdown().await;
}
