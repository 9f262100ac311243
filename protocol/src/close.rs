//! Why the server closes a WebSocket: the close frame's code and reason word, and whether a
//! client should reconnect. Clients act on the word (the code is for tools that only see codes).

/// A server-initiated close. The reason text on the wire is [`CloseReason::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// Graceful shutdown (after `server_shutdown`): reconnect after `retry_after_ms`.
    ServerShutdown,
    /// A newer connection of the same account took over: do not reconnect from here.
    Replaced,
    /// `hello` was refused (version, token, role) or malformed: sign in again before reconnecting.
    AuthenticationFailed,
    /// No `hello` within the handshake time limit.
    HelloTimeout,
    /// Nothing received for `heartbeat_timeout_secs`: reconnect.
    HeartbeatTimeout,
    /// The client did not read its messages fast enough (its outbound queue filled): reconnect
    /// and read the fresh state the server sends on connect.
    TooSlow,
    /// The client kept sending past its message rate limit: reconnect after a pause.
    RateLimited,
}

impl CloseReason {
    pub const ALL: [CloseReason; 7] = [
        Self::ServerShutdown,
        Self::Replaced,
        Self::AuthenticationFailed,
        Self::HelloTimeout,
        Self::HeartbeatTimeout,
        Self::TooSlow,
        Self::RateLimited,
    ];

    /// The close frame's reason text.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServerShutdown => "server_shutdown",
            Self::Replaced => "replaced",
            Self::AuthenticationFailed => "authentication_failed",
            Self::HelloTimeout => "hello_timeout",
            Self::HeartbeatTimeout => "heartbeat_timeout",
            Self::TooSlow => "too_slow",
            Self::RateLimited => "rate_limited",
        }
    }

    /// The close frame's status code: 1001 (going away) for shutdown, 4000–4099 otherwise.
    pub fn code(self) -> u16 {
        match self {
            Self::ServerShutdown => 1001,
            Self::Replaced => 4001,
            Self::AuthenticationFailed => 4002,
            Self::HelloTimeout => 4003,
            Self::HeartbeatTimeout => 4004,
            Self::TooSlow => 4005,
            Self::RateLimited => 4006,
        }
    }

    /// Reads a close frame's reason text.
    pub fn parse(reason: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == reason)
    }

    /// Whether a client should open a new connection (with its current token) after this close.
    pub fn should_reconnect(self) -> bool {
        !matches!(self, Self::Replaced | Self::AuthenticationFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_codes_are_distinct_and_round_trip() {
        for r in CloseReason::ALL {
            assert_eq!(CloseReason::parse(r.as_str()), Some(r));
            assert_eq!(CloseReason::ALL.iter().filter(|o| o.code() == r.code()).count(), 1);
        }
        assert_eq!(CloseReason::Replaced.as_str(), "replaced");
        assert!(!CloseReason::Replaced.should_reconnect());
        assert!(CloseReason::TooSlow.should_reconnect());
    }
}
