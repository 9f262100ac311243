//! A small WebM (Matroska) muxer for live recording: VP8 and Opus tracks, clusters written whole
//! as they close, and on finish the seek index, the duration and the segment's size patched in.
//!
//! The file is playable at every moment: until [`WebmWriter::finish`] the segment has the
//! "unknown size" marker (as a browser's own `MediaRecorder` output has), so a recording cut by a
//! crash still plays up to its last complete cluster. `finish` appends the cues (one per
//! cluster), replaces the reserved space at the front with a seek head pointing at the info,
//! tracks and cues, writes the duration, and sets the segment's size, so a player can seek.
//!
//! Element ids and layouts follow the Matroska specification (RFC 9559) and the WebM subset.

use std::io::{Seek, SeekFrom, Write};

pub(super) const EBML: u32 = 0x1A45_DFA3;
pub(super) const SEGMENT: u32 = 0x1853_8067;
const SEEK_HEAD: u32 = 0x114D_9B74;
const SEEK: u32 = 0x4DBB;
const SEEK_ID: u32 = 0x53AB;
const SEEK_POSITION: u32 = 0x53AC;
pub(super) const INFO: u32 = 0x1549_A966;
const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
pub(super) const DURATION: u32 = 0x4489;
const MUXING_APP: u32 = 0x4D80;
const WRITING_APP: u32 = 0x5741;
pub(super) const TRACKS: u32 = 0x1654_AE6B;
pub(super) const TRACK_ENTRY: u32 = 0xAE;
pub(super) const TRACK_NUMBER: u32 = 0xD7;
const TRACK_UID: u32 = 0x73C5;
pub(super) const TRACK_TYPE: u32 = 0x83;
const FLAG_LACING: u32 = 0x9C;
pub(super) const NAME: u32 = 0x536E;
const CODEC_ID: u32 = 0x86;
const CODEC_PRIVATE: u32 = 0x63A2;
pub(super) const VIDEO: u32 = 0xE0;
pub(super) const PIXEL_WIDTH: u32 = 0xB0;
pub(super) const PIXEL_HEIGHT: u32 = 0xBA;
const AUDIO: u32 = 0xE1;
const SAMPLING_FREQUENCY: u32 = 0xB5;
const CHANNELS: u32 = 0x9F;
pub(super) const CLUSTER: u32 = 0x1F43_B675;
pub(super) const TIMESTAMP: u32 = 0xE7;
pub(super) const SIMPLE_BLOCK: u32 = 0xA3;
const CUES: u32 = 0x1C53_BB6B;
const CUE_POINT: u32 = 0xBB;
const CUE_TIME: u32 = 0xB3;
const CUE_TRACK_POSITIONS: u32 = 0xB7;
const CUE_TRACK: u32 = 0xF7;
const CUE_CLUSTER_POSITION: u32 = 0xF1;
const VOID: u32 = 0xEC;

/// Bytes kept at the front of the segment for the seek head written at the end.
const SEEK_HEAD_SPACE: usize = 96;
/// Bytes kept in the info for the duration written at the end (an 8-byte float element).
const DURATION_SPACE: usize = 11;

/// One track of the file.
#[derive(Debug, Clone, PartialEq)]
pub enum TrackSpec {
    Vp8 { name: String, width: u16, height: u16 },
    Opus { name: String },
}

/// One encoded frame (video) or packet (audio).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// 1-based track number, in the order the tracks were given.
    pub track: u8,
    /// Milliseconds from the start of the recording.
    pub ms: u64,
    pub keyframe: bool,
    pub data: Vec<u8>,
}

pub struct WebmWriter {
    file: Box<dyn super::sink::Sink>,
    segment_size_at: u64,
    segment_data_at: u64,
    seek_head_at: u64,
    duration_at: u64,
    info_at: u64,
    tracks_at: u64,
    /// (cluster time, cluster position in the segment, a video track with a keyframe in it or
    /// the first track).
    cues: Vec<(u64, u64, u8)>,
    last_ms: u64,
    written: u64,
    /// Each cluster is made durable before the next (a live recording); off for a file made
    /// from another, which `finish` syncs once.
    sync_clusters: bool,
}

impl WebmWriter {
    /// Writes the header (EBML header, segment start, info, tracks) to a new file.
    pub fn create(mut file: Box<dyn super::sink::Sink>, tracks: &[TrackSpec]) -> std::io::Result<Self> {
        let mut head = vec![];
        let mut ebml = vec![];
        uint(&mut ebml, 0x4286, 1); // EBMLVersion
        uint(&mut ebml, 0x42F7, 1); // EBMLReadVersion
        uint(&mut ebml, 0x42F2, 4); // EBMLMaxIDLength
        uint(&mut ebml, 0x42F3, 8); // EBMLMaxSizeLength
        string(&mut ebml, 0x4282, "webm"); // DocType
        uint(&mut ebml, 0x4287, 4); // DocTypeVersion
        uint(&mut ebml, 0x4285, 2); // DocTypeReadVersion
        element(&mut head, EBML, &ebml);
        id(&mut head, SEGMENT);
        let segment_size_at = head.len() as u64;
        head.extend_from_slice(&[0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]); // unknown size
        let segment_data_at = head.len() as u64;
        let seek_head_at = head.len() as u64;
        void(&mut head, SEEK_HEAD_SPACE);
        let info_at = head.len() as u64;
        let mut info = vec![];
        uint(&mut info, TIMESTAMP_SCALE, 1_000_000); // timestamps in milliseconds
        string(&mut info, MUXING_APP, "xiaowu-media-relay");
        string(&mut info, WRITING_APP, "xiaowu-media-relay");
        let duration_in_info = info.len();
        void(&mut info, DURATION_SPACE);
        let info_header = element_header_len(INFO, info.len());
        element(&mut head, INFO, &info);
        let duration_at = info_at + (info_header + duration_in_info) as u64;
        let tracks_at = head.len() as u64;
        let mut entries = vec![];
        for (i, spec) in tracks.iter().enumerate() {
            let mut e = vec![];
            let number = i as u64 + 1;
            uint(&mut e, TRACK_NUMBER, number);
            uint(&mut e, TRACK_UID, number);
            uint(&mut e, FLAG_LACING, 0);
            match spec {
                TrackSpec::Vp8 { name, width, height } => {
                    uint(&mut e, TRACK_TYPE, 1);
                    string(&mut e, NAME, name);
                    string(&mut e, CODEC_ID, "V_VP8");
                    let mut v = vec![];
                    uint(&mut v, PIXEL_WIDTH, u64::from(*width));
                    uint(&mut v, PIXEL_HEIGHT, u64::from(*height));
                    element(&mut e, VIDEO, &v);
                }
                TrackSpec::Opus { name } => {
                    uint(&mut e, TRACK_TYPE, 2);
                    string(&mut e, NAME, name);
                    string(&mut e, CODEC_ID, "A_OPUS");
                    element(&mut e, CODEC_PRIVATE, &opus_head());
                    let mut a = vec![];
                    float(&mut a, SAMPLING_FREQUENCY, 48_000.0);
                    uint(&mut a, CHANNELS, 2);
                    element(&mut e, AUDIO, &a);
                }
            }
            element(&mut entries, TRACK_ENTRY, &e);
        }
        element(&mut head, TRACKS, &entries);
        file.write_all(&head)?;
        file.sync_data()?;
        Ok(Self {
            file,
            segment_size_at,
            segment_data_at,
            seek_head_at,
            duration_at,
            info_at,
            tracks_at,
            cues: vec![],
            last_ms: 0,
            written: head.len() as u64,
            sync_clusters: true,
        })
    }

    /// Clusters are no longer synced one by one (the file is made from another; `finish` syncs).
    pub fn without_cluster_sync(mut self) -> Self {
        self.sync_clusters = false;
        self
    }

    /// Appends one cluster holding `blocks` (sorted here by time) and makes it durable.
    pub fn write_cluster(&mut self, blocks: &mut [Block], cue_track: u8) -> std::io::Result<()> {
        if blocks.is_empty() {
            return Ok(());
        }
        blocks.sort_by_key(|b| b.ms);
        let start = blocks[0].ms;
        let mut body = vec![];
        uint(&mut body, TIMESTAMP, start);
        for b in blocks.iter() {
            // A block's time is relative to its cluster's, as a signed 16-bit number.
            let relative = (b.ms - start).min(i16::MAX as u64) as i16;
            let mut sb = Vec::with_capacity(b.data.len() + 4);
            sb.push(0x80 | b.track); // track number as a 1-byte vint (tracks 1..=126)
            sb.extend_from_slice(&relative.to_be_bytes());
            sb.push(if b.keyframe { 0x80 } else { 0x00 });
            sb.extend_from_slice(&b.data);
            element(&mut body, SIMPLE_BLOCK, &sb);
        }
        let position = self.written - self.segment_data_at;
        let mut cluster = vec![];
        element(&mut cluster, CLUSTER, &body);
        self.file.write_all(&cluster)?;
        if self.sync_clusters {
            self.file.sync_data()?;
        }
        self.written += cluster.len() as u64;
        self.cues.push((start, position, cue_track));
        self.last_ms = self.last_ms.max(blocks.last().map_or(start, |b| b.ms));
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.written
    }

    pub fn is_empty(&self) -> bool {
        self.written == 0
    }

    /// Writes the cues, the seek head, the duration and the segment's size; returns the file, to
    /// be completed ([`super::sink::Sink::complete`]).
    pub fn finish(mut self, duration_ms: u64) -> std::io::Result<Box<dyn super::sink::Sink>> {
        let cues_at = self.written;
        let mut points = vec![];
        for (time, position, track) in &self.cues {
            let mut positions = vec![];
            uint(&mut positions, CUE_TRACK, u64::from(*track));
            uint(&mut positions, CUE_CLUSTER_POSITION, *position);
            let mut point = vec![];
            uint(&mut point, CUE_TIME, *time);
            element(&mut point, CUE_TRACK_POSITIONS, &positions);
            element(&mut points, CUE_POINT, &point);
        }
        let mut cues = vec![];
        element(&mut cues, CUES, &points);
        self.file.write_all(&cues)?;
        self.written += cues.len() as u64;

        let mut seeks = vec![];
        for (target, at) in [(INFO, self.info_at), (TRACKS, self.tracks_at), (CUES, cues_at)] {
            let mut seek = vec![];
            let mut target_id = vec![];
            id(&mut target_id, target);
            element(&mut seek, SEEK_ID, &target_id);
            uint_fixed8(&mut seek, SEEK_POSITION, at - self.segment_data_at);
            element(&mut seeks, SEEK, &seek);
        }
        let mut head = vec![];
        element(&mut head, SEEK_HEAD, &seeks);
        let rest = SEEK_HEAD_SPACE - head.len();
        void(&mut head, rest);
        debug_assert_eq!(head.len(), SEEK_HEAD_SPACE);
        self.file.seek(SeekFrom::Start(self.seek_head_at))?;
        self.file.write_all(&head)?;

        let mut duration = vec![];
        float(&mut duration, DURATION, duration_ms.max(self.last_ms) as f64);
        debug_assert_eq!(duration.len(), DURATION_SPACE);
        self.file.seek(SeekFrom::Start(self.duration_at))?;
        self.file.write_all(&duration)?;

        let size = self.written - self.segment_data_at;
        let mut sized = [0u8; 8];
        sized[0] = 0x01;
        sized[1..].copy_from_slice(&size.to_be_bytes()[1..]);
        self.file.seek(SeekFrom::Start(self.segment_size_at))?;
        self.file.write_all(&sized)?;
        self.file.seek(SeekFrom::End(0))?;
        Ok(self.file)
    }
}

/// The Opus identification header Matroska carries as the codec's private data (RFC 7845 §5.1):
/// two channels, no pre-skip (WebRTC streams start decoding at once), 48 kHz, no gain, family 0.
fn opus_head() -> Vec<u8> {
    let mut h = b"OpusHead".to_vec();
    h.push(1); // version
    h.push(2); // channels
    h.extend_from_slice(&0u16.to_le_bytes()); // pre-skip
    h.extend_from_slice(&48_000u32.to_le_bytes()); // input sample rate
    h.extend_from_slice(&0i16.to_le_bytes()); // output gain
    h.push(0); // channel mapping family
    h
}

fn id(out: &mut Vec<u8>, id: u32) {
    let bytes = id.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    out.extend_from_slice(&bytes[skip..]);
}

fn size_len(n: usize) -> usize {
    (1..=8).find(|len| (n as u64) < (1u64 << (7 * len)) - 1).unwrap_or(8)
}

fn size(out: &mut Vec<u8>, n: usize) {
    let len = size_len(n);
    let value = (n as u64) | (1u64 << (7 * len));
    out.extend_from_slice(&value.to_be_bytes()[8 - len..]);
}

fn element_header_len(element_id: u32, body: usize) -> usize {
    let mut v = vec![];
    id(&mut v, element_id);
    v.len() + size_len(body)
}

fn element(out: &mut Vec<u8>, element_id: u32, body: &[u8]) {
    id(out, element_id);
    size(out, body.len());
    out.extend_from_slice(body);
}

fn uint(out: &mut Vec<u8>, element_id: u32, value: u64) {
    let bytes = value.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(7);
    element(out, element_id, &bytes[skip..]);
}

fn uint_fixed8(out: &mut Vec<u8>, element_id: u32, value: u64) {
    element(out, element_id, &value.to_be_bytes());
}

fn float(out: &mut Vec<u8>, element_id: u32, value: f64) {
    element(out, element_id, &value.to_be_bytes());
}

fn string(out: &mut Vec<u8>, element_id: u32, value: &str) {
    element(out, element_id, value.as_bytes());
}

/// A Void element of exactly `total` bytes (at least 2), kept for a later overwrite.
fn void(out: &mut Vec<u8>, total: usize) {
    assert!((2..16_384).contains(&total), "a Void element here takes 2 to 16,383 bytes");
    id(out, VOID);
    if total - 2 < 127 {
        out.push(0x80 | (total - 2) as u8);
        out.resize(out.len() + total - 2, 0);
    } else {
        // A two-byte size, even where one byte would do, so that the total comes out exact.
        let body = total - 3;
        out.extend_from_slice(&(0x4000 | body as u16).to_be_bytes());
        out.resize(out.len() + body, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_voids_are_exact() {
        let mut v = vec![];
        size(&mut v, 5);
        assert_eq!(v, [0x85]);
        v.clear();
        size(&mut v, 127);
        assert_eq!(v, [0x40, 0x7F], "127 is reserved in one byte (all ones)");
        for total in [2, 11, 96, 129, 130, 200] {
            let mut v = vec![];
            void(&mut v, total);
            assert_eq!(v.len(), total, "void of {total}");
        }
        let mut d = vec![];
        float(&mut d, DURATION, 1.0);
        assert_eq!(d.len(), DURATION_SPACE);
    }
}
