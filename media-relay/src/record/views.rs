//! One party's view of a call recording: a WebM file with only that party's video and audio,
//! cut from the recording without decoding anything.
//!
//! A browser's `<video>` element plays the first video and the first audio track of a file, so
//! the whole recording (booth video and audio, then clerk video and audio) would be heard with the
//! booth's voice only. A player that shows each party in an element of its own, from that party's
//! view, shows and sounds the whole call. Views are made on first request and kept in a `views`
//! directory beside the recordings (they go when the recording goes).
//!
//! The reader understands the files [`super::webm::WebmWriter`] writes: an EBML header, then one
//! segment (its size known, or unknown while the call ran) holding the info, the tracks, clusters
//! of simple blocks and, once finished, the cues. A recording cut by a crash ends in a partial
//! cluster: its view ends at the last whole one.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, ErrorKind, Read};
use std::path::{Path, PathBuf};

// Element ids: the muxer's own, so reader and writer cannot disagree.
use super::webm::{
    Block, TrackSpec, WebmWriter, CLUSTER, DURATION, EBML, INFO, NAME, PIXEL_HEIGHT, PIXEL_WIDTH, SEGMENT,
    SIMPLE_BLOCK, TIMESTAMP, TRACKS, TRACK_ENTRY, TRACK_NUMBER, TRACK_TYPE, VIDEO,
};

/// A cluster larger than this is not one the relay wrote (it writes about one second each).
const MAX_CLUSTER: u64 = 64 << 20;

/// Where the view of `party` of the recording `file` (a name inside `recording_dir`) is kept.
pub fn view_path(recording_dir: &Path, file: &str, party: &str) -> PathBuf {
    let stem = file.strip_suffix(".webm").unwrap_or(file);
    recording_dir.join("views").join(format!("{stem}.{party}.webm"))
}

/// Whether a party name may name a view file (the relay's names: `booth`, `clerk`, `guest`).
pub fn valid_party(party: &str) -> bool {
    (1..=32).contains(&party.len()) && party.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Makes (or keeps, when it is newer than the recording) the view of `party` at `dst`. Returns
/// false when the recording has no track of that party.
/// A recording sealed at rest (`at_rest`: the vault and its envelope) is read as it is opened,
/// and its view sealed under the same data key.
pub fn ensure_view(src: &Path, party: &str, dst: &Path, at_rest: Option<&AtRest>) -> std::io::Result<bool> {
    let fresh = match (std::fs::metadata(dst).and_then(|m| m.modified()), std::fs::metadata(src)?.modified()) {
        (Ok(view), Ok(recording)) => view >= recording,
        _ => false,
    };
    if fresh {
        return Ok(true);
    }
    if let Some(dir) = dst.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Written aside and renamed into place: a reader never sees half a view, and two requests
    // making the same view at once each rename a whole one.
    let mut nonce = [0u8; 8];
    let _ = getrandom::fill(&mut nonce);
    let part = dst.with_extension(format!("{:016x}.part", u64::from_le_bytes(nonce)));
    let made = write_view(src, party, &part, at_rest);
    match made {
        Ok(true) => std::fs::rename(&part, dst).map(|_| true),
        other => {
            let _ = std::fs::remove_file(&part);
            other
        }
    }
}

/// Deletes every view of a recording (when it is purged).
pub fn remove_views(recording_dir: &Path, file: &str) {
    let stem = file.strip_suffix(".webm").unwrap_or(file);
    let Ok(entries) = std::fs::read_dir(recording_dir.join("views")) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let party = name.strip_prefix(stem).and_then(|r| r.strip_prefix('.')).and_then(|r| r.strip_suffix(".webm"));
        if party.is_some_and(valid_party) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// One track of the source, as read from its entry.
#[derive(Debug, Clone, Default)]
struct SourceTrack {
    number: u64,
    kind: u64,
    name: String,
    width: u64,
    height: u64,
}

/// A sealed recording's vault and envelope.
pub type AtRest = (std::sync::Arc<vault::Vault>, vault::Envelope);

fn write_view(src: &Path, party: &str, dst: &Path, at_rest: Option<&AtRest>) -> std::io::Result<bool> {
    let file = BufReader::with_capacity(1 << 16, File::open(src)?);
    // A recording cut by a crash is read up to its last whole chunk, as its last whole cluster.
    let inner: Box<dyn Read> = match at_rest {
        Some((vault, envelope)) => Box::new(BufReader::with_capacity(1 << 16, vault.reader(envelope, file, true)?)),
        None => Box::new(file),
    };
    let mut r = Reader { inner };
    let (id, size) = r.header()?;
    if id != EBML {
        return Err(invalid("not an EBML file"));
    }
    r.skip(size.ok_or_else(|| invalid("EBML header of unknown size"))?)?;
    let (id, _) = r.header()?;
    if id != SEGMENT {
        return Err(invalid("no segment"));
    }
    let mut duration_ms = 0u64;
    // Source track number → (view track number, kind).
    let mut map: Vec<(u64, u8)> = vec![];
    let mut writer: Option<WebmWriter> = None;
    let mut last_ms = 0u64;
    loop {
        let (id, size) = match r.header() {
            Ok(h) => h,
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(e),
        };
        let size = size.ok_or_else(|| invalid("an element of unknown size inside the segment"))?;
        match id {
            INFO => duration_ms = read_duration(&r.body(size, MAX_CLUSTER)?),
            TRACKS => {
                let tracks = read_tracks(&r.body(size, MAX_CLUSTER)?)?;
                let mine: Vec<&SourceTrack> = tracks
                    .iter()
                    .filter(|t| t.name == format!("{party} video") || t.name == format!("{party} audio"))
                    .collect();
                if mine.is_empty() {
                    return Ok(false);
                }
                let specs: Vec<TrackSpec> = mine
                    .iter()
                    .map(|t| match t.kind {
                        1 => TrackSpec::Vp8 { name: t.name.clone(), width: t.width as u16, height: t.height as u16 },
                        _ => TrackSpec::Opus { name: t.name.clone() },
                    })
                    .collect();
                map = mine.iter().enumerate().map(|(i, t)| (t.number, i as u8 + 1)).collect();
                let file = OpenOptions::new().write(true).create_new(true).open(dst)?;
                let sink: Box<dyn super::sink::Sink> = match at_rest {
                    Some((vault, envelope)) => Box::new(super::sink::SealedFile::under(file, vault.clone(), envelope)?),
                    None => Box::new(file),
                };
                writer = Some(WebmWriter::create(sink, &specs)?.without_cluster_sync());
            }
            CLUSTER => {
                let Some(w) = writer.as_mut() else { return Err(invalid("a cluster before the tracks")) };
                let body = match r.body(size, MAX_CLUSTER) {
                    Ok(b) => b,
                    // A recording cut by a crash: its last cluster is incomplete.
                    Err(e) if e.kind() == ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(e),
                };
                let mut blocks = read_cluster(&body, &map)?;
                last_ms = blocks.iter().map(|b| b.ms).max().unwrap_or(last_ms).max(last_ms);
                w.write_cluster(&mut blocks, 1)?;
            }
            _ => r.skip(size)?,
        }
    }
    let Some(w) = writer else { return Err(invalid("no tracks")) };
    w.finish(duration_ms.max(last_ms))?.complete(dst)?;
    Ok(true)
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(ErrorKind::InvalidData, format!("not a recording this relay wrote: {what}"))
}

struct Reader<R> {
    inner: R,
}

impl<R: Read> Reader<R> {
    /// An element's id and size (None: unknown size).
    fn header(&mut self) -> std::io::Result<(u32, Option<u64>)> {
        let mut first = [0u8; 1];
        self.inner.read_exact(&mut first)?;
        let len = first[0].leading_zeros() as usize + 1;
        if len > 4 {
            return Err(invalid("an element id longer than 4 bytes"));
        }
        let mut id = u32::from(first[0]);
        for _ in 1..len {
            self.inner.read_exact(&mut first)?;
            id = (id << 8) | u32::from(first[0]);
        }
        let mut b = [0u8; 1];
        self.inner.read_exact(&mut b)?;
        let len = b[0].leading_zeros() as usize + 1;
        if len > 8 {
            return Err(invalid("a size longer than 8 bytes"));
        }
        let mut value = u64::from(b[0]) & ((1u64 << (8 - len)) - 1);
        let mut all_ones = value == (1u64 << (8 - len)) - 1;
        for _ in 1..len {
            self.inner.read_exact(&mut b)?;
            all_ones &= b[0] == 0xFF;
            value = (value << 8) | u64::from(b[0]);
        }
        Ok((id, (!all_ones).then_some(value)))
    }

    fn body(&mut self, size: u64, limit: u64) -> std::io::Result<Vec<u8>> {
        if size > limit {
            return Err(invalid("an element too large"));
        }
        let mut body = vec![0u8; size as usize];
        self.inner.read_exact(&mut body)?;
        Ok(body)
    }

    fn skip(&mut self, size: u64) -> std::io::Result<()> {
        let skipped = std::io::copy(&mut (&mut self.inner).take(size), &mut std::io::sink())?;
        if skipped < size {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        Ok(())
    }
}

/// The children of an element's body, as (id, body).
fn children(body: &[u8]) -> std::io::Result<Vec<(u32, &[u8])>> {
    let mut out = vec![];
    let mut at = 0usize;
    while at < body.len() {
        let mut r = Reader { inner: &body[at..] };
        let (id, size) = r.header()?;
        let header = body.len() - at - r.inner.len();
        let size = size.ok_or_else(|| invalid("a child of unknown size"))? as usize;
        let start = at + header;
        let end =
            start.checked_add(size).filter(|e| *e <= body.len()).ok_or_else(|| invalid("a child past its parent"))?;
        out.push((id, &body[start..end]));
        at = end;
    }
    Ok(out)
}

fn uint(body: &[u8]) -> u64 {
    body.iter().take(8).fold(0, |v, b| (v << 8) | u64::from(*b))
}

fn read_duration(info: &[u8]) -> u64 {
    let Ok(items) = children(info) else { return 0 };
    items
        .iter()
        .find(|(id, _)| *id == DURATION)
        .and_then(|(_, b)| match b.len() {
            8 => Some(f64::from_be_bytes(b[..8].try_into().ok()?)),
            4 => Some(f64::from(f32::from_be_bytes(b[..4].try_into().ok()?))),
            _ => None,
        })
        .map_or(0, |d| d.max(0.0) as u64)
}

fn read_tracks(tracks: &[u8]) -> std::io::Result<Vec<SourceTrack>> {
    let mut out = vec![];
    for (id, entry) in children(tracks)? {
        if id != TRACK_ENTRY {
            continue;
        }
        let mut t = SourceTrack::default();
        for (id, b) in children(entry)? {
            match id {
                TRACK_NUMBER => t.number = uint(b),
                TRACK_TYPE => t.kind = uint(b),
                NAME => t.name = String::from_utf8_lossy(b).into_owned(),
                VIDEO => {
                    for (id, b) in children(b)? {
                        match id {
                            PIXEL_WIDTH => t.width = uint(b),
                            PIXEL_HEIGHT => t.height = uint(b),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        out.push(t);
    }
    Ok(out)
}

/// The blocks of a cluster that belong to the view, renumbered.
fn read_cluster(cluster: &[u8], map: &[(u64, u8)]) -> std::io::Result<Vec<Block>> {
    let mut start = 0u64;
    let mut blocks = vec![];
    for (id, b) in children(cluster)? {
        match id {
            TIMESTAMP => start = uint(b),
            SIMPLE_BLOCK => {
                // The relay writes 1-byte track numbers and no lacing.
                if b.len() < 4 || b[0] & 0x80 == 0 {
                    return Err(invalid("a block this relay does not write"));
                }
                let source = u64::from(b[0] & 0x7F);
                let Some((_, track)) = map.iter().find(|(n, _)| *n == source) else { continue };
                let relative = i16::from_be_bytes([b[1], b[2]]);
                blocks.push(Block {
                    track: *track,
                    ms: start.saturating_add_signed(i64::from(relative)),
                    keyframe: b[3] & 0x80 != 0,
                    data: b[4..].to_vec(),
                });
            }
            _ => {}
        }
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recording(path: &Path, finish: bool) {
        let specs = [
            TrackSpec::Vp8 { name: "booth video".into(), width: 640, height: 480 },
            TrackSpec::Opus { name: "booth audio".into() },
            TrackSpec::Vp8 { name: "clerk video".into(), width: 320, height: 240 },
            TrackSpec::Opus { name: "clerk audio".into() },
        ];
        let mut w = WebmWriter::create(Box::new(File::create(path).unwrap()), &specs).unwrap();
        for second in 0..3u64 {
            let mut blocks: Vec<Block> = (1..=4u8)
                .flat_map(|track| {
                    (0..5u64).map(move |i| Block {
                        track,
                        ms: second * 1000 + i * 200,
                        keyframe: i == 0,
                        data: vec![track; 10 + i as usize],
                    })
                })
                .collect();
            w.write_cluster(&mut blocks, 1).unwrap();
        }
        if finish {
            w.finish(3000).unwrap();
        }
    }

    fn read_back(path: &Path) -> (Vec<SourceTrack>, Vec<Block>, u64) {
        let all = std::fs::read(path).unwrap();
        let top = children(&all).unwrap();
        let segment = top.iter().find(|(id, _)| *id == SEGMENT).unwrap().1;
        let (mut tracks, mut blocks, mut duration) = (vec![], vec![], 0);
        for (id, b) in children(segment).unwrap() {
            match id {
                TRACKS => tracks = read_tracks(b).unwrap(),
                INFO => duration = read_duration(b),
                CLUSTER => blocks.extend(read_cluster(b, &[(1, 1), (2, 2)]).unwrap()),
                _ => {}
            }
        }
        (tracks, blocks, duration)
    }

    #[test]
    fn a_partys_view_has_its_two_tracks_and_every_one_of_their_blocks() {
        let dir = std::env::temp_dir().join(format!("xiaowu-views-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("call-7.webm");
        recording(&src, true);
        let dst = view_path(&dir, "call-7.webm", "clerk");
        assert!(ensure_view(&src, "clerk", &dst, None).unwrap());
        let (tracks, blocks, duration) = read_back(&dst);
        let names: Vec<&str> = tracks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["clerk video", "clerk audio"]);
        assert_eq!((tracks[0].width, tracks[0].height), (320, 240));
        assert_eq!(blocks.len(), 2 * 5 * 3, "every clerk block, none of the booth's");
        assert!(blocks.iter().all(|b| b.data[0] == b.track + 2), "clerk video was track 3, its audio 4");
        assert_eq!(blocks.iter().filter(|b| b.keyframe).count(), 6);
        assert_eq!(blocks.iter().map(|b| b.ms).max(), Some(2800));
        assert_eq!(duration, 3000);
        // A party that is not in the recording has no view; a name that could leave the
        // directory is never a party.
        assert!(!ensure_view(&src, "guest", &view_path(&dir, "call-7.webm", "guest"), None).unwrap());
        assert!(!valid_party("../x") && !valid_party("") && valid_party("guest"));
        // Purging the recording takes its views, and only its.
        let other = view_path(&dir, "call-77.webm", "clerk");
        std::fs::write(&other, b"x").unwrap();
        remove_views(&dir, "call-7.webm");
        assert!(!dst.exists() && other.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_recording_cut_by_a_crash_gives_a_view_up_to_its_last_whole_cluster() {
        let dir = std::env::temp_dir().join(format!("xiaowu-views-cut-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("call-8.webm");
        recording(&src, false);
        let len = std::fs::metadata(&src).unwrap().len();
        // The crash came in the middle of the third cluster.
        OpenOptions::new().write(true).open(&src).unwrap().set_len(len - 40).unwrap();
        let dst = view_path(&dir, "call-8.webm", "booth");
        assert!(ensure_view(&src, "booth", &dst, None).unwrap());
        let (tracks, blocks, duration) = read_back(&dst);
        assert_eq!(tracks.len(), 2);
        assert_eq!(blocks.len(), 2 * 5 * 2, "the two whole clusters");
        assert_eq!(duration, 1800, "the last block's time");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
