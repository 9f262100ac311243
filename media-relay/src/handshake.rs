//! The control link's handshake: the relay proves nothing, the server proves it knows the shared
//! secret, and the secret never crosses the wire. On every connection to its control port (the
//! control session and each recording's transfer) the relay first sends a [`Challenge`] with 32
//! fresh random bytes; the server answers with HMAC-SHA256 over them, keyed with the secret and
//! bound to what the connection is for ([`Purpose`]: the control session, or the transfer of one
//! named file), so a proof seen on the wire opens nothing else and never again. The relay checks it
//! in constant time (`subtle`).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Random bytes in a challenge.
pub const NONCE_BYTES: usize = 32;

/// The relay's first line on every control-port connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    /// [`NONCE_BYTES`] random bytes, base64.
    pub challenge: String,
}

impl Challenge {
    /// A challenge with fresh random bytes.
    pub fn fresh() -> Self {
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).expect("the OS random source is available");
        Self { challenge: STANDARD.encode(nonce) }
    }
}

/// What a connection is for: a proof for one does not open the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose<'a> {
    Control,
    Fetch(&'a str),
}

fn mac(secret: &str, challenge: &Challenge, purpose: Purpose<'_>) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    let what = match purpose {
        Purpose::Control => "control".to_owned(),
        Purpose::Fetch(file) => format!("fetch {file}"),
    };
    mac.update(format!("xiaowu-relay/1\n{what}\n{}", challenge.challenge).as_bytes());
    mac
}

/// The server's answer to `challenge` for `purpose` (base64).
pub fn proof(secret: &str, challenge: &Challenge, purpose: Purpose<'_>) -> String {
    STANDARD.encode(mac(secret, challenge, purpose).finalize().into_bytes())
}

/// Whether `proof` answers `challenge` for `purpose` with `secret` (compared in constant time).
pub fn verify(secret: &str, challenge: &Challenge, purpose: Purpose<'_>, proof: &str) -> bool {
    let Ok(given) = STANDARD.decode(proof) else { return false };
    let expected = mac(secret, challenge, purpose).finalize().into_bytes();
    given.len() == expected.len() && bool::from(expected.as_slice().ct_eq(&given))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_opens_only_its_own_challenge_and_purpose() {
        let (c, other) = (Challenge::fresh(), Challenge::fresh());
        assert_ne!(c, other, "every challenge is new");
        let p = proof("relay-secret-0123456789", &c, Purpose::Control);
        assert!(verify("relay-secret-0123456789", &c, Purpose::Control, &p));
        assert!(!verify("relay-secret-012345678", &c, Purpose::Control, &p), "another secret");
        assert!(!verify("relay-secret-0123456789", &other, Purpose::Control, &p), "replayed on another challenge");
        assert!(!verify("relay-secret-0123456789", &c, Purpose::Fetch("call-1.webm"), &p), "another purpose");
        let f = proof("relay-secret-0123456789", &c, Purpose::Fetch("call-1.webm"));
        assert!(!verify("relay-secret-0123456789", &c, Purpose::Fetch("call-2.webm"), &f), "another file");
        assert!(!verify("relay-secret-0123456789", &c, Purpose::Control, "not base64!"));
        assert!(!p.contains("relay-secret"), "the secret is not in the proof");
    }
}
