//! Fuzzing the client-message decoder (proptest over bytes, bounded case counts so it runs in
//! the test suite): arbitrary bytes, JSON-shaped noise and mutated valid messages must decode to a
//! message or a typed error, never panic; whatever decodes re-encodes to something that decodes
//! to the same message.

use proptest::prelude::*;
use xiaowu_protocol::{ClientMessage, DecodeError, ErrorCode};

/// One valid example of every client message (the mutation seeds).
const SEEDS: &[&str] = &[
    r#"{"type":"hello","protocol_version":1,"token":"eyJy.sig"}"#,
    r#"{"type":"ping","seq":3}"#,
    r#"{"type":"request_service","service":"teacher-cert","priority":"elderly"}"#,
    r#"{"type":"cancel_ticket","ticket":12}"#,
    r#"{"type":"set_state","state":"away","reason":"meal"}"#,
    r#"{"type":"accept_offer","offer":5}"#,
    r#"{"type":"decline_offer","offer":5}"#,
    r#"{"type":"end_wrap_up","outcome":"missing_documents","note":"缺户口本首页"}"#,
    r#"{"type":"sdp","call":2,"kind":"offer","sdp":"v=0\r\n"}"#,
    r#"{"type":"ice_candidate","call":2,"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host","sdp_mid":"0","sdp_mline_index":0}"#,
    r#"{"type":"hang_up","call":2}"#,
    r#"{"type":"media_state","call":2,"state":"connected"}"#,
    r#"{"type":"force_clerk_state","clerk":"clerk-hekou-2","state":"away","why":"培训"}"#,
    r#"{"type":"rate_service","ticket":12,"rating":"very_satisfied"}"#,
    r#"{"type":"request_document","call":2,"doc_type":"id_front"}"#,
    r#"{"type":"review_document","document":"9f0c","accepted":false,"reason":"不清晰"}"#,
];

fn check(text: &str) {
    match ClientMessage::decode(text) {
        Ok(msg) => {
            let again = ClientMessage::decode(&msg.encode()).expect("an encoded message decodes");
            assert_eq!(again, msg);
        }
        Err(e @ DecodeError::TooLarge { .. }) => assert_eq!(e.code(), ErrorCode::MessageTooLarge),
        Err(e @ DecodeError::Malformed(_)) => assert_eq!(e.code(), ErrorCode::BadMessage),
    }
}

fn mutate(seed: &str, ops: &[(usize, u8, u8)]) -> String {
    let mut bytes = seed.as_bytes().to_vec();
    for &(at, op, byte) in ops {
        let at = at % (bytes.len() + 1);
        match op % 4 {
            0 if at < bytes.len() => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            2 if at < bytes.len() => {
                bytes.remove(at);
            }
            _ => bytes.truncate(at),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn json_shaped_noise_never_panics(text in r#"\{("[a-z_]{1,12}":(-?[0-9]{1,20}|"[^"\\]{0,16}"|true|null|\[\]|\{\}),?){0,6}\}"#) {
        check(&text);
    }

    #[test]
    fn mutated_valid_messages_never_panic(
        seed in 0..SEEDS.len(),
        ops in proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..6),
    ) {
        check(&mutate(SEEDS[seed], &ops));
    }
}

#[test]
fn every_seed_is_valid_and_oversized_frames_are_refused_unparsed() {
    for seed in SEEDS {
        assert!(ClientMessage::decode(seed).is_ok(), "{seed}");
    }
    let huge = format!(r#"{{"type":"ping","seq":1,"pad":"{}"}}"#, "x".repeat(xiaowu_protocol::MAX_MESSAGE_BYTES));
    assert!(matches!(ClientMessage::decode(&huge), Err(DecodeError::TooLarge { .. })));
}
