//! TURN credentials minted per call with coturn's REST-API scheme (`use-auth-secret`):
//! `username = "<expiry-unix-secs>:<user>"`, `password = base64(HMAC-SHA1(secret, username))`.
//! The server never relays media itself; coturn does, and trusts these credentials until expiry.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use protocol::IceServer;
use serde::Deserialize;
use sha1::Sha1;

/// `[turn]` in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnConfig {
    /// e.g. `["turn:turn.example.cn:3478?transport=udp", "turns:turn.example.cn:443?transport=tcp"]`
    pub urls: Vec<String>,
    /// The `static-auth-secret` shared with coturn.
    pub secret: String,
    /// How long minted credentials stay valid.
    #[serde(default = "default_ttl")]
    pub ttl_secs: u64,
}

fn default_ttl() -> u64 {
    3600
}

/// The password coturn expects for `username`.
pub fn password(secret: &str, username: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(username.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

impl TurnConfig {
    /// An ICE server entry with credentials for `user`, valid from `now_unix` for the TTL.
    pub fn mint(&self, user: &str, now_unix: u64) -> IceServer {
        let username = format!("{}:{user}", now_unix + self.ttl_secs);
        IceServer {
            urls: self.urls.clone(),
            credential: Some(password(&self.secret, &username)),
            username: Some(username),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector_from_the_coturn_rest_scheme() {
        assert_eq!(password("foobar", "1599491771"), "Tpz/nKkyvX/vMSLKvL4sbtBt8Vs=");
    }

    #[test]
    fn minted_username_carries_expiry_and_user() {
        let t = TurnConfig { urls: vec!["turn:127.0.0.1:3478".into()], secret: "s".into(), ttl_secs: 600 };
        let ice = t.mint("booth-gudao-1", 1_000);
        assert_eq!(ice.username.as_deref(), Some("1600:booth-gudao-1"));
        assert_eq!(ice.credential, Some(password("s", "1600:booth-gudao-1")));
    }
}
