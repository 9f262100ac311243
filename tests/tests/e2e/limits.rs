//! End-to-end bounds: every socket, request body, login and message stream has a limit and a
//! timeout, and what a client sees when it hits one is the documented answer.

use std::time::Duration;

use protocol::{ClientMessage, ErrorCode, Role, ServerMessage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use xiaowu_tests::*;

/// Reads until the server closes the connection; returns what it sent (hang-guarded).
async fn read_to_close(stream: &mut TcpStream) -> Result<String, &'static str> {
    let mut got = Vec::new();
    match tokio::time::timeout(WAIT, stream.read_to_end(&mut got)).await {
        Ok(_) => Ok(String::from_utf8_lossy(&got).into_owned()),
        Err(_) => Err("still open"),
    }
}

/// Reads a flooding socket to its close: the pongs and the `rate_limited` notices it was sent.
async fn pongs_and_notices(flood: &mut RawSocket) -> (u32, u32) {
    let (mut pongs, mut limited) = (0, 0);
    while let Some(msg) = flood.recv().await {
        match msg {
            ServerMessage::Pong { .. } => pongs += 1,
            ServerMessage::Error { code: ErrorCode::RateLimited, .. } => limited += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    (pongs, limited)
}

/// Connections that never send a request, or trickle their headers (slowloris), or go idle after
/// a request, are closed after the header timeout; a trickled body gets `408 request_timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_slow_and_idle_connections_are_closed() {
    let server = start(settings(|s| {
        s.file.limits.header_timeout_secs = 1;
        s.file.limits.body_timeout_secs = 1;
    }))
    .await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut trickle = TcpStream::connect(server.addr).await.unwrap();
    let writer = tokio::spawn(async move {
        let _ = trickle.write_all(b"GET /healthz HTTP/1.1\r\n").await;
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if trickle.write_all(b"X").await.is_err() {
                break;
            }
        }
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(WAIT, trickle.read_to_end(&mut rest)).await;
    });
    assert!(read_to_close(&mut silent).await.is_ok(), "a silent connection is closed");
    tokio::time::timeout(WAIT, writer).await.expect("the slowloris connection is closed").unwrap();

    // Idle after a complete exchange (keep-alive): closed too.
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /api/catalog HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let answer = read_to_close(&mut idle).await.expect("an idle keep-alive connection is closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:.40}");

    // A login body trickled after its headers.
    let mut slow_body = TcpStream::connect(server.addr).await.unwrap();
    slow_body
        .write_all(
            b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        )
        .await
        .unwrap();
    let answer = read_to_close(&mut slow_body).await.expect("a trickled body is cut off");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer:.60}");
    assert!(answer.contains("\"code\":\"request_timeout\""), "{answer}");
    server.shutdown().await;
}

/// One address cannot hold more than its share of connections; past the general cap only staff
/// paths are served (so clerks can still sign in during a flood) and `/healthz` still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_caps_keep_a_reserve_for_health_and_staff() {
    let server = start(settings(|s| {
        s.file.limits.max_connections_per_ip = 4;
    }))
    .await;
    // Four keep-alive connections that have each had a request answered: none is to be shed.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = [0u8; 12];
        s.read_exact(&mut buf).await.unwrap();
        held.push(s);
    }
    let mut over = TcpStream::connect(server.addr).await.unwrap();
    let answer = read_to_close(&mut over).await.expect("the fifth connection from one address is closed");
    assert!(answer.is_empty(), "closed without an answer: {answer}");
    drop(held);
    server.shutdown().await;

    let server = start(settings(|s| {
        s.file.limits.max_connections = 8;
        s.file.limits.reserved_connections = 4;
    }))
    .await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(server.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let base = base_url(&server);
    let a = http("GET", format!("{base}/api/catalog"), None, None).await;
    assert_eq!((a.status, a.code()), (503, "server_busy"));
    assert!(a.retry_after.is_some());
    assert_eq!(http("GET", format!("{base}/healthz"), None, None).await.status, 200);
    let login = br#"{"role":"clerk","id":"clerk-hekou-1","secret":"demo"}"#.to_vec();
    assert_eq!(http("POST", format!("{base}/api/login"), None, Some(login)).await.status, 200);
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(http("GET", format!("{base}/api/catalog"), None, None).await.status, 200);
    server.shutdown().await;
}

/// More silent sockets than the server has connections for (they connect and send nothing):
/// each new connection sheds the oldest silent one instead of being refused, so `/healthz`, a
/// clerk's login and the clerk's socket still get through, and the silent ones are closed
/// without an answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_are_shed_so_health_and_staff_get_in() {
    let server = start(settings(|s| {
        s.file.limits.max_connections = 8;
        s.file.limits.reserved_connections = 4;
    }))
    .await;
    let mut silent = Vec::new();
    for _ in 0..12 {
        silent.push(TcpStream::connect(server.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let base = base_url(&server);
    assert_eq!(http("GET", format!("{base}/healthz"), None, None).await.status, 200);
    let login = br#"{"role":"clerk","id":"clerk-hekou-1","secret":"demo"}"#.to_vec();
    assert_eq!(http("POST", format!("{base}/api/login"), None, Some(login)).await.status, 200);
    let mut clerk = connect(&server, Role::Clerk, "clerk-hekou-1").await;
    clerk.send(ClientMessage::SetState { state: protocol::ClerkTargetState::Available, reason: None }).await.unwrap();
    expect(&mut clerk, "available", |m| {
        matches!(m, ServerMessage::ClerkState { state: protocol::ClerkState::Available, .. }).then_some(())
    })
    .await;
    // The oldest silent sockets were closed, without a byte.
    let answer = read_to_close(&mut silent[0]).await.expect("the oldest silent socket was shed");
    assert!(answer.is_empty(), "{answer}");
    server.shutdown().await;
}

/// After the free failures, logins of that account from that address back off exponentially;
/// during the back-off even the right secret is refused (`429 too_many_attempts`, `Retry-After`),
/// and after it the right secret works. Other accounts from the same address are not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_back_off() {
    let server = start(settings(|s| s.file.limits.login_free_failures = 3)).await;
    let url = format!("{}/api/login", base_url(&server));
    let body =
        |id: &str, secret: &str| Some(format!(r#"{{"role":"clerk","id":"{id}","secret":"{secret}"}}"#).into_bytes());
    for _ in 0..3 {
        let a = http("POST", url.clone(), None, body("clerk-hekou-1", "wrong")).await;
        assert_eq!((a.status, a.code()), (401, "bad_credentials"));
    }
    let a = http("POST", url.clone(), None, body("clerk-hekou-1", "demo")).await;
    assert_eq!((a.status, a.code()), (429, "too_many_attempts"), "the right secret during the back-off");
    let wait = a.retry_after.expect("Retry-After");
    assert_eq!(a.body["retry_after_secs"].as_u64(), Some(wait));
    assert_eq!(http("POST", url.clone(), None, body("clerk-hekou-2", "demo")).await.status, 200);
    tokio::time::sleep(Duration::from_secs(wait)).await;
    assert_eq!(http("POST", url.clone(), None, body("clerk-hekou-1", "demo")).await.status, 200);
    server.shutdown().await;
}

/// A flood on one WebSocket gets `rate_limited` (at most once a second), then the connection is
/// closed with `rate_limited`; other connections are served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_flood_is_limited_then_closed() {
    let server = start(settings(|s| {
        // One token a second: what refills while the pings are being sent does not depend on how
        // fast this machine sends them.
        s.file.limits.messages_per_sec = 1;
        s.file.limits.message_burst = 40;
        s.file.limits.rate_limit_strikes = 200;
    }))
    .await;
    let mut calm = RawSocket::authenticated(&server, Role::Booth, "booth-gudao-2").await;
    let mut flood = RawSocket::authenticated(&server, Role::Booth, "booth-gudao-1").await;
    for seq in 0..400 {
        flood.send(&ClientMessage::Ping { seq }).await;
    }
    let (pongs, limited) = pongs_and_notices(&mut flood).await;
    // The burst (less the hello's token), plus a token or two refilled while they were sent.
    assert!((39..=42).contains(&pongs), "the burst is answered, the rest is not: {pongs}");
    assert_eq!(limited, 1, "one notice, not one per refused message");
    assert_eq!(flood.closed_with.as_deref(), Some("rate_limited"));
    calm.send(&ClientMessage::Ping { seq: 9 }).await;
    assert_eq!(calm.recv().await, Some(ServerMessage::Pong { seq: 9 }));
    server.shutdown().await;
}

/// However fast the flood (1,300 pings at once, far past what is read before the close), the
/// client receives what the docs promise — the burst answered, one `rate_limited`, and the close
/// frame `rate_limited` — not a reset: the server reads what is still coming until the client's
/// close reply before it drops the socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_flood_still_ends_with_the_close_frame() {
    // One token a second: what refills while the pings are being sent does not depend on how fast
    // this machine sends them.
    let server = start(settings(|s| {
        s.file.limits.messages_per_sec = 1;
        s.file.limits.message_burst = 60;
    }))
    .await;
    let mut flood = RawSocket::authenticated(&server, Role::Booth, "booth-gudao-1").await;
    for seq in 0..1_300 {
        flood.send(&ClientMessage::Ping { seq }).await;
    }
    let (pongs, limited) = pongs_and_notices(&mut flood).await;
    // The burst (less the hello's token), plus a token or two refilled while they were sent.
    assert!((59..=62).contains(&pongs), "the burst is answered: {pongs}");
    assert_eq!(limited, 1);
    assert_eq!(flood.closed_with.as_deref(), Some("rate_limited"), "a close frame, not a reset");
    server.shutdown().await;
}

/// Sockets that have not said hello are bounded: past the bound the upgrade gets `503 server_busy`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_sockets_are_bounded() {
    let server = start(settings(|s| s.file.limits.max_unauthenticated = 2)).await;
    let _a = RawSocket::open(&server, Role::Booth).await;
    let _b = RawSocket::open(&server, Role::Booth).await;
    let url = format!("ws://{}/ws/booth", server.addr);
    match tokio_tungstenite::connect_async(url.clone()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 503);
            let body: serde_json::Value = serde_json::from_slice(resp.body().as_deref().unwrap_or_default()).unwrap();
            assert_eq!(body["code"], "server_busy");
        }
        other => panic!("expected 503, got {:?}", other.map(|_| ())),
    }
    // Saying hello frees a place.
    let mut b = _b;
    b.hello(token(&server, Role::Booth, "booth-gudao-1").await).await;
    let mut c = RawSocket::open(&server, Role::Booth).await;
    c.hello(token(&server, Role::Booth, "booth-gudao-2").await).await;
    server.shutdown().await;
}

/// Uploads in flight are bounded: one that holds its slot (a slow body) makes the next get
/// `503 server_busy`; nothing is read of the refused one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_uploads_are_bounded() {
    let server = start(settings(|s| s.file.limits.max_pending_uploads = 1)).await;
    let (_booth, _clerk, call) = live_call(&server).await;
    let token = token(&server, Role::Booth, "booth-gudao-1").await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /api/calls/{call}/documents?doc_type=id_front HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n"
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&[0xff, 0xd8]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let url = format!("{}/api/calls/{call}/documents?doc_type=id_front", base_url(&server));
    let a = http("POST", url, Some(token), Some(test_kit::photos::jpeg(640, 480))).await;
    assert_eq!((a.status, a.code()), (503, "server_busy"));
    drop(slow);
    server.shutdown().await;
}

/// Uploads are bounded per call: one booth's slow upload holds only its own call — another call's
/// photo goes through at once, a second photo of the same call gets `503 server_busy` — and a
/// sender slower than the minimum rate is cut off with `408 request_timeout` after the grace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_upload_holds_only_its_own_call_and_is_cut_off() {
    let server = start(settings(|s| {
        s.file.limits.upload_min_bytes_per_sec = 50_000;
        s.file.limits.upload_rate_grace_secs = 1;
    }))
    .await;
    let (_booth, _clerk, call) = live_call(&server).await;
    let mut other_clerk = connect(&server, Role::Clerk, "clerk-hekou-2").await;
    other_clerk
        .send(ClientMessage::SetState { state: protocol::ClerkTargetState::Available, reason: None })
        .await
        .unwrap();
    let (_other_booth, other_call) = call_from(&server, &mut other_clerk, "booth-gudao-2").await;
    let token_a = token(&server, Role::Booth, "booth-gudao-1").await;
    let token_b = token(&server, Role::Booth, "booth-gudao-2").await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /api/calls/{call}/documents?doc_type=id_front HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token_a}\r\n\
         Content-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n"
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(&[0xff, 0xd8]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let photo = test_kit::photos::jpeg(640, 480);
    let url = |c: u64| format!("{}/api/calls/{c}/documents?doc_type=id_front", base_url(&server));
    let same = http("POST", url(call), Some(token_a.clone()), Some(photo.clone())).await;
    assert_eq!((same.status, same.code()), (503, "server_busy"), "one upload per call at a time");
    let other = http("POST", url(other_call), Some(token_b), Some(photo.clone())).await;
    assert_eq!(other.status, 200, "another call's photo is not held up: {}", other.code());
    // Two bytes in over a second is far below 50 kB/s: cut off, and the call may upload again.
    let answer = read_to_close(&mut slow).await.expect("the slow upload is closed");
    assert!(answer.starts_with("HTTP/1.1 408") && answer.contains("request_timeout"), "{answer:.80}");
    let again = http("POST", url(call), Some(token_a), Some(photo)).await;
    assert_eq!(again.status, 200, "{}", again.code());
    server.shutdown().await;
}

/// The server's end of an accepted connection has `TCP_NODELAY` (a message right after another
/// must not wait for the client's delayed ACK). Found from inside the process: the socket whose
/// local address is the server's and whose peer is this client.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_sets_nodelay_on_accepted_sockets() {
    use std::os::fd::AsRawFd;
    let server = start(settings(|_| {})).await;
    let mut client = TcpStream::connect(server.addr).await.unwrap();
    client.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 12];
    client.read_exact(&mut buf).await.unwrap();
    let (local, peer) = (server.addr, client.local_addr().unwrap());
    let sockaddr = |fd: i32, peer_side: bool| -> Option<std::net::SocketAddr> {
        // SAFETY: a sockaddr_in buffer of the right size for IPv4 loopback, filled by the kernel.
        unsafe {
            let mut sa: libc::sockaddr_in = std::mem::zeroed();
            let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let p = &mut sa as *mut libc::sockaddr_in as *mut libc::sockaddr;
            let rc = if peer_side { libc::getpeername(fd, p, &mut len) } else { libc::getsockname(fd, p, &mut len) };
            (rc == 0 && sa.sin_family == libc::AF_INET as libc::sa_family_t).then(|| {
                let ip = std::net::Ipv4Addr::from(u32::from_be(sa.sin_addr.s_addr));
                std::net::SocketAddr::from((ip, u16::from_be(sa.sin_port)))
            })
        }
    };
    let accepted = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|fd| *fd != client.as_raw_fd())
        .find(|fd| sockaddr(*fd, false) == Some(local) && sockaddr(*fd, true) == Some(peer))
        .expect("the server's end of this connection");
    let mut on: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: reading an int socket option into an int.
    let rc = unsafe {
        libc::getsockopt(
            accepted,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            &mut on as *mut _ as *mut libc::c_void,
            &mut len,
        )
    };
    assert_eq!(rc, 0);
    assert_eq!(on, 1, "TCP_NODELAY on the accepted socket");
    server.shutdown().await;
}
