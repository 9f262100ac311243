//! Recording a call: every recorded party's video and audio into one WebM file, written as the
//! call runs.
//!
//! Readers (one task per track) take the packets the room forwards and hand them to one writer
//! thread, which turns them into frames ([`frames`]) and writes a cluster about every second
//! ([`webm`]), each made durable (`fdatasync`) before the next: a crash loses at most the last
//! second. The header waits up to 3 s for every video track's first keyframe so it can carry the
//! real picture sizes. A video track asks its publisher for a keyframe when recording starts and
//! after a lost packet. When the room closes, [`Recorder::finish`] completes the file (seek
//! index, duration) and returns its size and SHA-256 for the records store.
//!
//! The file's tracks, in order: each recorded party's video, then its audio (for a call: booth
//! video, booth audio, clerk video, clerk audio). A browser's `<video>` plays the first video
//! and audio tracks only, so players show each party from its own [`views`] file; `ffprobe`
//! lists all four tracks of the recording.

pub mod frames;
pub mod sink;
pub mod views;
pub mod webm;

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rtc::rtp::Packet;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use sha2::{Digest, Sha256};
use tokio::sync::{broadcast, oneshot, watch};

use crate::forward::PublisherFeedback;
use crate::PartyId;
use frames::{TrackClock, Vp8Assembler};
use webm::{Block, TrackSpec, WebmWriter};

/// A cluster is closed once it spans this long.
const CLUSTER_SPAN_MS: u64 = 1_000;
/// The header waits at most this long for the video tracks' first keyframes.
const HEADER_WAIT: Duration = Duration::from_secs(3);
/// Packets queued for the writer before the newest are dropped (the disk is stalled).
const QUEUE: usize = 8_192;

/// One track to record.
pub struct RecordedTrack {
    pub party: PartyId,
    pub kind: RtpCodecKind,
    pub source: broadcast::Receiver<Packet>,
    pub keyframes: Arc<PublisherFeedback>,
}

/// A finished recording, as the records store indexes it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordingInfo {
    pub call: u64,
    pub path: PathBuf,
    /// The recorded parties, in track order.
    pub parties: Vec<PartyId>,
    pub started_unix_ms: u64,
    pub ended_unix_ms: u64,
    pub duration_ms: u64,
    /// The recording's length and lower-case hex SHA-256, over its plaintext.
    pub bytes: u64,
    pub sha256: String,
    /// The wrapped data key the file opens with (`vault`), when it is sealed at rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealing: Option<String>,
}

/// A recording in progress.
pub struct Recorder {
    stop: watch::Sender<bool>,
    done: oneshot::Receiver<std::io::Result<RecordingInfo>>,
}

struct Item {
    track: usize,
    packet: Packet,
    at: Instant,
}

impl Recorder {
    /// Creates the file (never overwriting one) and starts recording `tracks`, sealed at rest
    /// when a vault is given.
    pub fn start(
        call: u64,
        path: PathBuf,
        tracks: Vec<RecordedTrack>,
        vault: Option<Arc<vault::Vault>>,
    ) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().write(true).create_new(true).open(&path)?;
        let file: Box<dyn sink::Sink> = match vault {
            Some(vault) => {
                let sealed = sink::SealedFile::new(file, vault);
                let mut key = File::create(sink::key_file(&path))?;
                std::io::Write::write_all(&mut key, sealed.envelope().to_text().as_bytes())?;
                key.sync_all()?;
                Box::new(sealed)
            }
            None => Box::new(file),
        };
        let (stop, _) = watch::channel(false);
        let (tx, rx) = sync_channel(QUEUE);
        let mut specs = vec![];
        let mut keyframes = vec![];
        for (i, track) in tracks.into_iter().enumerate() {
            specs.push((track.party.clone(), track.kind));
            keyframes.push(track.keyframes.clone());
            tokio::spawn(read_track(i, track, tx.clone(), stop.subscribe()));
        }
        drop(tx);
        let (done_tx, done) = oneshot::channel();
        let runtime = tokio::runtime::Handle::current();
        let writer = Writer { call, path, file: Some(file), specs, keyframes, runtime };
        std::thread::Builder::new().name(format!("record-{call}")).spawn(move || {
            let _ = done_tx.send(writer.run(rx));
        })?;
        Ok(Self { stop, done })
    }

    /// Stops the readers, completes the file and returns what the records store keeps.
    pub async fn finish(self) -> std::io::Result<RecordingInfo> {
        let _ = self.stop.send(true);
        match tokio::time::timeout(Duration::from_secs(30), self.done).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(std::io::Error::other("the recording writer stopped")),
            Err(_) => Err(std::io::Error::other("the recording writer did not finish within 30 s")),
        }
    }
}

async fn read_track(index: usize, mut track: RecordedTrack, tx: SyncSender<Item>, mut stop: watch::Receiver<bool>) {
    if track.kind == RtpCodecKind::Video {
        // The recording must start on a keyframe.
        track.keyframes.request_keyframe().await;
    }
    loop {
        let packet = tokio::select! {
            _ = stop.changed() => return,
            p = track.source.recv() => p,
        };
        match packet {
            Ok(packet) => {
                if tx.try_send(Item { track: index, packet, at: Instant::now() }).is_err() {
                    tracing::warn!(track = index, "recording queue full: a packet was dropped");
                }
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(track = index, skipped = n, "recording fell behind")
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

struct Writer {
    call: u64,
    path: PathBuf,
    file: Option<Box<dyn sink::Sink>>,
    specs: Vec<(PartyId, RtpCodecKind)>,
    keyframes: Vec<Arc<PublisherFeedback>>,
    runtime: tokio::runtime::Handle,
}

impl Writer {
    fn run(mut self, rx: Receiver<Item>) -> std::io::Result<RecordingInfo> {
        let start = Instant::now();
        let started_unix_ms = unix_ms();
        let mut clocks: Vec<TrackClock> = self
            .specs
            .iter()
            .map(|(_, k)| TrackClock::new(if *k == RtpCodecKind::Video { 90_000 } else { 48_000 }))
            .collect();
        let mut assemblers: Vec<Vp8Assembler> = self.specs.iter().map(|_| Vp8Assembler::new()).collect();
        let mut sizes: Vec<Option<(u16, u16)>> = vec![None; self.specs.len()];
        let mut asked: Vec<Option<Instant>> = vec![None; self.specs.len()];
        let mut writer: Option<WebmWriter> = None;
        let mut pending: Vec<Block> = vec![];
        let cue_track = self.specs.iter().position(|(_, k)| *k == RtpCodecKind::Video).unwrap_or(0) as u8 + 1;
        loop {
            let received = rx.recv_timeout(Duration::from_millis(200));
            let disconnected = matches!(received, Err(RecvTimeoutError::Disconnected));
            if let Ok(item) = received {
                let (_, kind) = self.specs[item.track];
                let since = item.at.duration_since(start);
                let block = if kind == RtpCodecKind::Video {
                    let assembler = &mut assemblers[item.track];
                    let frame = assembler.push(&item.packet);
                    // Asked at most every PLI_INTERVAL here too: no task per packet while waiting.
                    let due = asked[item.track].is_none_or(|at: Instant| at.elapsed() >= crate::forward::PLI_INTERVAL);
                    if assembler.needs_keyframe() && due {
                        asked[item.track] = Some(Instant::now());
                        let keyframes = self.keyframes[item.track].clone();
                        self.runtime.spawn(async move { keyframes.request_keyframe().await });
                    }
                    frame.map(|f| {
                        if let Some(size) = f.size {
                            sizes[item.track] = Some(size);
                        }
                        let ms = clocks[item.track].ms(f.ssrc, f.rtp_timestamp, since);
                        Block { track: item.track as u8 + 1, ms, keyframe: f.keyframe, data: f.data }
                    })
                } else {
                    let h = &item.packet.header;
                    let ms = clocks[item.track].ms(h.ssrc, h.timestamp, since);
                    (!item.packet.payload.is_empty()).then(|| Block {
                        track: item.track as u8 + 1,
                        ms,
                        keyframe: true,
                        data: item.packet.payload.to_vec(),
                    })
                };
                pending.extend(block);
            }
            let videos_known =
                self.specs.iter().zip(&sizes).all(|((_, k), s)| *k != RtpCodecKind::Video || s.is_some());
            if writer.is_none() && (videos_known || start.elapsed() >= HEADER_WAIT || disconnected) {
                writer = Some(self.header(&sizes)?);
            }
            if let Some(w) = writer.as_mut() {
                let span = match (pending.iter().map(|b| b.ms).min(), pending.iter().map(|b| b.ms).max()) {
                    (Some(lo), Some(hi)) => hi - lo,
                    _ => 0,
                };
                if span >= CLUSTER_SPAN_MS || (disconnected && !pending.is_empty()) {
                    w.write_cluster(&mut pending, cue_track)?;
                    pending.clear();
                }
            }
            if disconnected {
                break;
            }
        }
        let duration_ms = start.elapsed().as_millis() as u64;
        let done = writer.expect("written before the loop ends").finish(duration_ms)?.complete(&self.path)?;
        Ok(RecordingInfo {
            call: self.call,
            path: self.path,
            parties: self.specs.iter().step_by(2).map(|(p, _)| p.clone()).collect(),
            started_unix_ms,
            ended_unix_ms: unix_ms(),
            duration_ms,
            bytes: done.bytes,
            sha256: done.sha256,
            sealing: done.sealing,
        })
    }

    fn header(&mut self, sizes: &[Option<(u16, u16)>]) -> std::io::Result<WebmWriter> {
        let tracks: Vec<TrackSpec> = self
            .specs
            .iter()
            .zip(sizes)
            .map(|((party, kind), size)| match kind {
                RtpCodecKind::Video => {
                    let (width, height) = size.unwrap_or((640, 480));
                    TrackSpec::Vp8 { name: format!("{party} video"), width, height }
                }
                _ => TrackSpec::Opus { name: format!("{party} audio") },
            })
            .collect();
        WebmWriter::create(self.file.take().expect("the header is written once"), &tracks)
    }
}

/// A file's size and lower-case hex SHA-256, read in 64 KiB steps.
pub fn hash_file(path: &std::path::Path) -> std::io::Result<(u64, String)> {
    hash_reader(File::open(path)?)
}

/// What `read` yields: its length and lower-case hex SHA-256, read in 64 KiB steps.
pub fn hash_reader(mut file: impl Read) -> std::io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hasher.update(&buf[..n]);
    }
    let hex = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok((bytes, hex))
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}
