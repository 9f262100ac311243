//! The control link between the signaling server and relays on machines of their own
//! (`xiaowu-relay`, `[media] relays` in the server's config): its wire format and line reading.
//! The relay's side is [`crate::serve`], the server's [`crate::pool`].
//!
//! One TCP connection per relay, opened by the server: newline-delimited JSON, at most
//! [`MAX_LINE`] bytes a line. The relay's first line is a [`Challenge`]; the server's is
//! [`Op::Hello`] with its proof that it knows the shared secret (`handshake.rs`: the secret itself
//! never crosses the wire; a relay closes a connection whose first line is anything else, or
//! comes later than [`HELLO_TIMEOUT`]); then [`Op`]s, each one call's (open, join, answer, …). The relay answers with
//! [`Report`]s: the [`RelayEvent`]s of its rooms and, every second, its counts.
//!
//! The rooms belong to the connection. When it ends — the server went away, or the relay's
//! machine lost the network — the relay closes them (each recording is completed); the server,
//! seeing the link down, reports [`RelayEvent::RoomLost`] for each call it had there (the driver
//! ends those calls as `media_failed` and puts the citizens back at the head of the queue), opens
//! new rooms only on relays that are up, and connects again every second.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::handshake::Challenge;
use crate::{JoinSpec, PartyId, RelayEvent};

/// The longest line either side accepts (an SDP is a few kilobytes).
pub const MAX_LINE: u64 = 256 * 1024;
/// How long a relay waits for the server's `hello`.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the server tries a relay that is down, and how often a relay sends its counts.
pub const RETRY: Duration = Duration::from_secs(1);

/// Server → relay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// `proof`: [`crate::handshake::proof`] of the relay's challenge for the control session.
    Hello {
        proof: String,
    },
    /// The first line of a connection of its own: send this finished recording
    /// ([`crate::transfer`]); `proof` for this file.
    Fetch {
        proof: String,
        file: String,
    },
    Open {
        call: u64,
        parties: Vec<JoinSpec>,
        fresh: bool,
    },
    Join {
        call: u64,
        spec: JoinSpec,
    },
    Rejoin {
        call: u64,
        spec: JoinSpec,
    },
    Answer {
        call: u64,
        party: PartyId,
        sdp: String,
    },
    Candidate {
        call: u64,
        party: PartyId,
        candidate: String,
        sdp_mid: Option<String>,
        sdp_mline_index: Option<u16>,
    },
    Leave {
        call: u64,
        party: PartyId,
    },
    Close {
        call: u64,
    },
}

/// Relay → server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Report {
    Event { event: RelayEvent },
    Counts { rooms: usize, packets: u64, bytes: u64 },
}

/// Reads one line of at most [`MAX_LINE`] bytes; `None` at the end of the stream or for a line
/// over the limit (the connection is then dropped).
pub(crate) async fn read_line<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Option<String> {
    let mut line = String::new();
    let n = reader.take(MAX_LINE + 1).read_line(&mut line).await.ok()?;
    if n == 0 || (n as u64 > MAX_LINE && !line.ends_with('\n')) {
        return None;
    }
    Some(line)
}

pub(crate) async fn write_json(
    writer: &mut (impl AsyncWriteExt + Unpin),
    value: &impl Serialize,
) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(value).expect("control messages always serialize");
    line.push(b'\n');
    writer.write_all(&line).await
}

/// Reads the relay's challenge, the first line of every control-port connection.
pub(crate) async fn read_challenge<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> std::io::Result<Challenge> {
    let line = tokio::time::timeout(HELLO_TIMEOUT, read_line(reader))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
        .ok_or_else(|| std::io::Error::other("the relay sent no challenge"))?;
    serde_json::from_str(&line).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_and_reports_read_back_as_written() {
        let op = Op::Open { call: 7, parties: vec![JoinSpec { party: "booth".into(), publish: true }], fresh: false };
        let line = serde_json::to_string(&op).unwrap();
        assert!(line.starts_with(r#"{"op":"open","call":7"#), "{line}");
        assert_eq!(serde_json::from_str::<Op>(&line).unwrap(), op);
        let report = Report::Event { event: RelayEvent::RoomLost { call: 7 } };
        let line = serde_json::to_string(&report).unwrap();
        assert_eq!(line, r#"{"type":"event","event":{"event":"room_lost","call":7}}"#);
        assert_eq!(serde_json::from_str::<Report>(&line).unwrap(), report);
    }
}
