//! The applied log: every input that changed routing state, in the order the driver applied it,
//! each stamped with the driver's clock (`t`, microseconds on the log's timeline). The engine is
//! deterministic, so the log alone determines every decision: replaying it gives the same state
//! and the same actions (`signaling-server replay LOG` prints them).
//!
//! A single node keeps it in a file, `routing.log` under the data directory, one JSON object a
//! line. The driver writes the entries of a batch of inputs, then `fdatasync`s once (group commit),
//! and only then lets the answers of that batch go out: what a client was told, the log has. At
//! start the server replays the file, so waiting citizens keep their tickets across a crash or a
//! `kill -9`. A log that ends with a clean shutdown is set aside (`routing.log.1`) and a new one
//! begins.
//!
//! Logged: connects and disconnects, the client messages that reach the engine or the driver's
//! state, timer firings and shutdown. Not logged: pings, signaling relayed between the parties,
//! chat and document messages (they change no routing state).

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};

use protocol::{ClientMessage, Role};
use serde::{Deserialize, Serialize};

/// The format of the file; a newer one is refused.
pub const LOG_VERSION: u32 = 1;

/// One applied input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entry {
    /// The first line: the engine's first ids and the wall time at `t = 0`.
    Header { version: u32, first_ticket: u64, first_call: u64, started_unix_ms: u64 },
    /// An account's connection was accepted (after `hello`) — on `gateway`, the node that holds
    /// the socket (absent on a single node).
    Connect {
        conn: u64,
        role: Role,
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        gateway: Option<String>,
    },
    /// A connection ended (closed, timed out, replaced, or dropped as too slow).
    Disconnect { conn: u64 },
    /// A client message that changes state.
    Message { conn: u64, msg: ClientMessage },
    /// The engine's timers were run.
    Timeout {},
    /// A gateway stopped sending heartbeats: every connection it held is gone.
    GatewayLost { gateway: String },
    /// The media relay holding the call went away (relay mode with `[media] relays`): the call
    /// ends as `media_failed`.
    MediaLost { call: u64 },
    /// Gateway inputs up to `src` were handled and none changed state (relayed signaling, say):
    /// a new router resumes the input stream after them.
    Consumed {},
    /// Graceful shutdown: open tickets were closed.
    Shutdown {},
    /// The driver's whole state (`driver/snapshot.rs`): a replay may start here.
    Snapshot { snapshot: Box<crate::snapshot::DriverSnapshot> },
}

/// An entry with its time on the log's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logged {
    pub t: u64,
    /// In a cluster: the id of the input-stream entry this was applied for. A router that takes
    /// over reads the input stream after the last one logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<String>,
    #[serde(flatten)]
    pub entry: Entry,
}

impl Logged {
    /// An entry at `t` that no gateway input caused (timers, a single node's inputs).
    pub fn at(t: u64, entry: Entry) -> Self {
        Self { t, src: None, entry }
    }
}

/// Whether a client message changes routing or driver state (and so is logged).
pub fn changes_state(msg: &ClientMessage) -> bool {
    !matches!(
        msg,
        ClientMessage::Hello { .. }
            | ClientMessage::Ping { .. }
            | ClientMessage::Sdp { .. }
            | ClientMessage::IceCandidate { .. }
            | ClientMessage::RequestDocument { .. }
            | ClientMessage::ReviewDocument { .. }
    )
}

/// The entries a replay needs: from the last snapshot on (all of them if there is none).
pub fn from_last_snapshot(entries: &[Logged]) -> &[Logged] {
    let start = entries.iter().rposition(|e| matches!(e.entry, Entry::Snapshot { .. })).unwrap_or(0);
    &entries[start..]
}

/// A note as the log keeps it: a mask of the same length (all the driver's checks look at).
fn mask(note: &str) -> String {
    "*".repeat(note.trim().chars().count())
}

impl Entry {
    /// The log's first ids and wall time at `t = 0`, from its header or from a snapshot (a
    /// trimmed log begins with one).
    pub fn log_start(&self) -> Option<(u64, u64, u64)> {
        match self {
            Entry::Header { first_ticket, first_call, started_unix_ms, .. } => {
                Some((*first_ticket, *first_call, *started_unix_ms))
            }
            Entry::Snapshot { snapshot } => {
                Some((snapshot.first_ticket, snapshot.first_call, snapshot.started_unix_ms))
            }
            _ => None,
        }
    }

    /// The form an entry is logged in. A wrap-up note (staff text that may describe a citizen's
    /// circumstances) is kept in the records database only: the log keeps a mask of the same
    /// length, which is all the driver's checks look at.
    pub fn for_log(&self) -> Entry {
        match self {
            Entry::Message { conn, msg: ClientMessage::EndWrapUp { outcome, note } } => Entry::Message {
                conn: *conn,
                msg: ClientMessage::EndWrapUp { outcome: *outcome, note: note.as_deref().map(mask) },
            },
            Entry::Message { conn, msg: ClientMessage::WrapUpDraft { outcome, note } } => Entry::Message {
                conn: *conn,
                msg: ClientMessage::WrapUpDraft { outcome: *outcome, note: note.as_deref().map(mask) },
            },
            other => other.clone(),
        }
    }
}

/// Where the driver's applied entries go: the file of a single node, or the Redis stream of a
/// cluster's router.
pub trait AppliedLog: Send {
    /// Buffers one entry.
    fn append(&mut self, logged: &Logged) -> io::Result<()>;
    /// Makes what was buffered durable (file: `fdatasync`; Redis: appended under the router's
    /// epoch). An error means nothing can be promised: the driver stops the process.
    fn commit(&mut self) -> Result<(), String>;
    /// The router stops on purpose: let another take over at once (Redis: give up the lease).
    fn release(&mut self) {}
    /// Writes a snapshot entry (after a commit) and lets what it makes unnecessary go: a file
    /// starts anew with the header and the snapshot (the old one kept as `routing.log.1`); a Redis
    /// stream drops what came before the previous snapshot.
    fn snapshot(&mut self, header: Entry, snapshot: &Logged) -> Result<(), String>;
}

impl AppliedLog for LogWriter {
    fn append(&mut self, logged: &Logged) -> io::Result<()> {
        LogWriter::append(self, logged)
    }

    fn commit(&mut self) -> Result<(), String> {
        LogWriter::commit(self).map_err(|e| e.to_string())
    }

    fn snapshot(&mut self, header: Entry, snapshot: &Logged) -> Result<(), String> {
        self.rotate(header, snapshot).map_err(|e| e.to_string())
    }
}

/// Appends entries; [`LogWriter::commit`] makes them durable.
pub struct LogWriter {
    file: BufWriter<File>,
    dirty: bool,
    path: PathBuf,
}

fn sync_dir(path: &Path) -> io::Result<()> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

impl LogWriter {
    /// Starts a new log at `path` with `header` (an existing file is replaced), durably.
    pub fn create(path: &Path, header: Entry) -> io::Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("log.new");
        let mut w = Self { file: BufWriter::new(File::create(&tmp)?), dirty: false, path: path.to_owned() };
        w.append(&Logged { t: 0, src: None, entry: header })?;
        w.commit()?;
        std::fs::rename(&tmp, path)?;
        sync_dir(path)?;
        Ok(w)
    }

    /// Starts the file anew with `header` and `snapshot`: written aside and synced, the current
    /// file hard-linked as `routing.log.1`, then renamed over it — at every instant `routing.log`
    /// is a whole log, the old one or the new one.
    pub fn rotate(&mut self, header: Entry, snapshot: &Logged) -> io::Result<()> {
        self.commit()?;
        let tmp = self.path.with_extension("log.new");
        let mut next = Self { file: BufWriter::new(File::create(&tmp)?), dirty: false, path: self.path.clone() };
        next.append(&Logged { t: 0, src: None, entry: header })?;
        next.append(snapshot)?;
        next.commit()?;
        let previous = self.path.with_extension("log.1");
        let _ = std::fs::remove_file(&previous);
        std::fs::hard_link(&self.path, &previous)?;
        std::fs::rename(&tmp, &self.path)?;
        sync_dir(&self.path)?;
        *self = Self {
            file: BufWriter::new(OpenOptions::new().append(true).open(&self.path)?),
            dirty: false,
            path: self.path.clone(),
        };
        Ok(())
    }

    /// Continues the log at `path` (after it was replayed). A torn last line, left by a crash in
    /// the middle of a write, is cut off first.
    pub fn append_to(path: &Path, valid_len: u64) -> io::Result<Self> {
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(valid_len)?;
        file.sync_all()?;
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(Self { file: BufWriter::new(file), dirty: false, path: path.to_owned() })
    }

    /// Buffers one entry.
    pub fn append(&mut self, logged: &Logged) -> io::Result<()> {
        serde_json::to_writer(&mut self.file, logged).map_err(io::Error::other)?;
        self.file.write_all(b"\n")?;
        self.dirty = true;
        Ok(())
    }

    /// Writes what was buffered and waits until it is on disk.
    pub fn commit(&mut self) -> io::Result<()> {
        if self.dirty {
            self.file.flush()?;
            self.file.get_ref().sync_data()?;
            self.dirty = false;
        }
        Ok(())
    }
}

/// A log read back: its entries and the length of its valid part in bytes.
pub struct ReadLog {
    pub entries: Vec<Logged>,
    pub valid_len: u64,
}

/// Reads a log. A last line that does not parse (a crash mid-write; it was never committed, so
/// nobody was told its outcome) is left out; an unparsable line before the end is an error.
pub fn read(path: &Path) -> io::Result<ReadLog> {
    let mut reader = io::BufReader::new(File::open(path)?);
    let mut entries = Vec::new();
    let (mut valid_len, mut line, mut torn) = (0u64, String::new(), None::<usize>);
    let mut number = 0usize;
    loop {
        line.clear();
        let n = reader.read_line(&mut line)?;
        if n == 0 {
            break;
        }
        number += 1;
        if let Some(at) = torn {
            return Err(io::Error::other(format!("{}: line {at} is damaged", path.display())));
        }
        match serde_json::from_str::<Logged>(line.trim_end()) {
            Ok(e) if line.ends_with('\n') => {
                entries.push(e);
                valid_len += n as u64;
            }
            _ => torn = Some(number),
        }
    }
    match entries.first() {
        Some(Logged { entry: Entry::Header { version, .. }, .. }) if *version <= LOG_VERSION => {}
        Some(Logged { entry: Entry::Header { version, .. }, .. }) => {
            return Err(io::Error::other(format!(
                "{}: log format {version} is newer than this binary's {LOG_VERSION}",
                path.display()
            )))
        }
        _ => return Err(io::Error::other(format!("{}: not a Xiaowu routing log (no header)", path.display()))),
    }
    Ok(ReadLog { entries, valid_len })
}

/// `routing.log` under the data directory.
pub fn default_path(data_dir: &Path) -> PathBuf {
    data_dir.join("routing.log")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_a_torn_tail_is_cut() {
        let dir = std::env::temp_dir().join(format!("xiaowu-routing-log-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("routing.log");
        let header =
            Entry::Header { version: 1, first_ticket: 5 << 32 | 1, first_call: 5 << 32 | 1, started_unix_ms: 9 };
        let mut w = LogWriter::create(&path, header.clone()).unwrap();
        let entries = [
            Logged {
                t: 10,
                src: None,
                entry: Entry::Connect { conn: 3, role: Role::Booth, id: "booth-gudao-1".into(), gateway: None },
            },
            Logged { t: 11, src: None, entry: Entry::Message { conn: 3, msg: ClientMessage::Ping { seq: 1 } } },
            Logged { t: 12, src: None, entry: Entry::Timeout {} },
        ];
        for e in &entries {
            w.append(e).unwrap();
        }
        w.commit().unwrap();
        let line = std::fs::read_to_string(&path).unwrap().lines().nth(1).unwrap().to_owned();
        assert_eq!(line, r#"{"t":10,"connect":{"conn":3,"role":"booth","id":"booth-gudao-1"}}"#);
        // A crash in the middle of the next line.
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(br#"{"t":13,"disc"#).unwrap();
        let back = read(&path).unwrap();
        assert_eq!(back.entries[0].entry, header);
        assert_eq!(back.entries[1..], entries);
        let mut w = LogWriter::append_to(&path, back.valid_len).unwrap();
        w.append(&Logged { t: 14, src: None, entry: Entry::Shutdown {} }).unwrap();
        w.commit().unwrap();
        assert_eq!(read(&path).unwrap().entries.len(), 5);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
