//! Authentication: hashed account secrets (PBKDF2-SHA256) and signed, expiring session tokens
//! (HMAC-SHA256). A token names one role and one account; the server trusts nothing else.

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use protocol::Role;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// A stored secret: `pbkdf2-sha256$<iterations>$<salt b64>$<hash b64>`.
#[derive(Debug, Clone)]
pub struct SecretHash {
    iterations: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl SecretHash {
    pub fn parse(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('$').collect();
        let [scheme, iterations, salt, hash] = parts[..] else {
            return Err("expected pbkdf2-sha256$<iterations>$<salt>$<hash>".into());
        };
        if scheme != "pbkdf2-sha256" {
            return Err(format!("unsupported scheme `{scheme}`"));
        }
        let iterations: u32 = iterations.parse().map_err(|_| "iterations is not a number".to_string())?;
        if !(1_000..=10_000_000).contains(&iterations) {
            return Err("iterations must be between 1000 and 10000000".into());
        }
        let salt = STANDARD_NO_PAD.decode(salt.trim_end_matches('=')).map_err(|e| format!("salt: {e}"))?;
        let hash = STANDARD_NO_PAD.decode(hash.trim_end_matches('=')).map_err(|e| format!("hash: {e}"))?;
        if salt.len() < 8 || hash.len() != 32 {
            return Err("salt must be at least 8 bytes and hash 32 bytes".into());
        }
        Ok(Self { iterations, salt, hash })
    }

    /// Hashes `secret` with a fresh random salt (for `signaling-server hash-secret`).
    pub fn create(secret: &str, iterations: u32) -> String {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).expect("the OS random source is available");
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(secret.as_bytes(), &salt, iterations, &mut out);
        format!("pbkdf2-sha256${iterations}${}${}", STANDARD_NO_PAD.encode(salt), STANDARD_NO_PAD.encode(out))
    }

    /// Constant-time comparison of `secret` against the stored hash. CPU-heavy: call off the
    /// async executor.
    pub fn verify(&self, secret: &str) -> bool {
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<Sha256>(secret.as_bytes(), &self.salt, self.iterations, &mut out);
        out.iter().zip(&self.hash).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub role: Role,
    pub id: String,
    /// Expiry, Unix seconds.
    pub exp: u64,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("bad signature")]
    BadSignature,
    #[error("expired token")]
    Expired,
}

/// Issues and checks tokens: `base64url(claims JSON) . base64url(HMAC-SHA256(key, first part))`.
#[derive(Clone)]
pub struct TokenSigner {
    key: Vec<u8>,
}

impl TokenSigner {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    /// A signer with a random key (tokens die with the process).
    /// The key kept in `dir/token.key`, made (32 random bytes, hex, readable by the owner only)
    /// the first time: tokens stay valid across restarts without a configured secret.
    pub fn persisted(dir: &std::path::Path) -> std::io::Result<Self> {
        let path = dir.join("token.key");
        match std::fs::read_to_string(&path) {
            Ok(hex) if hex.trim().len() >= 32 => return Ok(Self::new(hex.trim().as_bytes())),
            Ok(_) => return Err(std::io::Error::other(format!("{} is too short to be a key", path.display()))),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        std::fs::create_dir_all(dir)?;
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS random source is available");
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let tmp = path.with_extension("key.new");
        {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&tmp)?;
            file.write_all(hex.as_bytes())?;
            file.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        Ok(Self::new(hex.as_bytes()))
    }

    pub fn random() -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the OS random source is available");
        Self::new(&key)
    }

    fn mac(&self) -> HmacSha256 {
        HmacSha256::new_from_slice(&self.key).expect("HMAC accepts keys of any length")
    }

    pub fn issue(&self, claims: &Claims) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims always serialize"));
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    }

    pub fn verify(&self, token: &str, now_unix: u64) -> Result<Claims, TokenError> {
        let (body, sig) = token.split_once('.').ok_or(TokenError::Malformed)?;
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(body.as_bytes());
        mac.verify_slice(&sig).map_err(|_| TokenError::BadSignature)?;
        let json = URL_SAFE_NO_PAD.decode(body).map_err(|_| TokenError::Malformed)?;
        let claims: Claims = serde_json::from_slice(&json).map_err(|_| TokenError::Malformed)?;
        if claims.exp <= now_unix {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// The shortest token secret accepted: 32 bytes, the HMAC-SHA256 output size (an empty or short
/// key lets anybody who guesses it sign tokens for any account).
pub const MIN_TOKEN_SECRET_BYTES: usize = 32;

/// A configured token secret that is too short.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "令牌密钥太短（{len} 字节，至少 {MIN_TOKEN_SECRET_BYTES} 字节），可用 `openssl rand -base64 48` 生成 / \
     the token secret is {len} bytes; at least {MIN_TOKEN_SECRET_BYTES} are needed: make one with \
     `openssl rand -base64 48` (--token-secret, XIAOWU_TOKEN_SECRET or [server] token_secret)"
)]
pub struct WeakTokenSecret {
    pub len: usize,
}

/// Refuses a configured token secret shorter than [`MIN_TOKEN_SECRET_BYTES`]. No secret at all is
/// fine on a single node: it then keeps a random key of its own (see [`TokenSigner::persisted`]).
pub fn check_token_secret(secret: Option<&str>) -> Result<(), WeakTokenSecret> {
    match secret {
        Some(s) if s.len() < MIN_TOKEN_SECRET_BYTES => Err(WeakTokenSecret { len: s.len() }),
        _ => Ok(()),
    }
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_hash_round_trip_and_wrong_secret() {
        let h = SecretHash::parse(&SecretHash::create("demo", 1000)).unwrap();
        assert!(h.verify("demo"));
        assert!(!h.verify("demo "));
    }

    #[test]
    fn tokens_verify_and_refuse_forgery_and_expiry() {
        let s = TokenSigner::new(b"k");
        let claims = Claims { role: Role::Booth, id: "booth-gudao-1".into(), exp: 100 };
        let token = s.issue(&claims);
        assert_eq!(s.verify(&token, 99), Ok(claims.clone()));
        assert_eq!(s.verify(&token, 100), Err(TokenError::Expired));
        let forged = TokenSigner::new(b"other").issue(&Claims { role: Role::Supervisor, ..claims });
        assert_eq!(s.verify(&forged, 0), Err(TokenError::BadSignature));
        assert_eq!(s.verify("garbage", 0), Err(TokenError::Malformed));
    }

    #[test]
    fn a_persisted_key_outlives_a_restart_and_is_private() {
        let dir = std::env::temp_dir().join(format!("xiaowu-token-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let claims = Claims { role: Role::Clerk, id: "clerk-hekou-1".into(), exp: 4_000_000_000 };
        let token = TokenSigner::persisted(&dir).unwrap().issue(&claims);
        let again = TokenSigner::persisted(&dir).unwrap();
        assert_eq!(again.verify(&token, 1).unwrap().id, "clerk-hekou-1", "the same key after a restart");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("token.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "readable by the owner only");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
