//! What the clients say when something is wrong before a call: the server's own bilingual message
//! for a refused sign-in, a clear word for a URL without a scheme, and "not reachable" (retried
//! for `--connect-wait`) when nothing listens.

use std::time::Duration;

use protocol::Role;
use session::{Session, SessionError};
use xiaowu_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_sign_in_carries_the_servers_bilingual_message() {
    let server = start(settings(|_| {})).await;
    let err = session::login(&base_url(&server), Role::Booth, "booth-gudao-1", "wrong").await.unwrap_err();
    match &err {
        SessionError::Rejected { code, message_zh, message_en } => {
            assert_eq!(code, "bad_credentials", "{err}");
            assert!(!message_zh.is_empty() && !message_en.is_empty());
        }
        other => panic!("expected the server's refusal, got {other:?}"),
    }
    assert!(err.to_string().contains(" / "), "Chinese, then English: {err}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_url_without_a_scheme_is_named_as_such() {
    let err = session::login("127.0.0.1:8080", Role::Booth, "booth-gudao-1", "demo").await.unwrap_err();
    assert!(matches!(err, SessionError::BadUrl(_)), "{err:?}");
    assert!(err.to_string().contains("http://"), "{err}");
}

#[tokio::test]
async fn nothing_listening_is_unreachable_and_retried_for_the_wait() {
    let port = test_kit::ports::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let mut retries = 0;
    let result =
        Session::login_and_connect_waiting(&url, Role::Booth, "booth-gudao-1", "demo", Duration::from_secs(2), |e| {
            assert!(e.is_unreachable());
            retries += 1;
        })
        .await;
    let err = result.err().expect("nothing listens there");
    assert!(err.to_string().contains(&format!("not reachable at {url}")), "{err}");
    assert!(retries >= 1, "retried while waiting: {retries}");
}
