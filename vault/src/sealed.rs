//! A sealed object's bytes: a 16-byte header, then the plaintext in chunks of a fixed size, each
//! sealed on its own, so a byte range (a player's seek) opens only the chunks it covers and a file
//! written as it grows (a recording) is sealed chunk by chunk.
//!
//! ```text
//! header  = "XWS1" | cipher (1 byte) | chunk size (u32, big-endian) | nonce prefix (7 random bytes)
//! chunk i = AEAD(data key, nonce = prefix | i (u32, big-endian) | last (1 byte: 1 on the last chunk),
//!                aad = header, plaintext[i·size .. (i+1)·size])          -- size + 16 bytes
//! ```
//! Every chunk but the last is full; the last (possibly empty) carries the flag, so a truncated
//! object (a crash while recording) is detected: [`open`] refuses it, [`open_complete_chunks`]
//! returns what was complete. The chunk's index in its nonce stops chunks being swapped or
//! dropped from the middle unnoticed. (The layout follows the STREAM construction of Hoang,
//! Reyhanitabar, Rogaway and Vizár; it is written here because no well-kept crate seals in
//! chunks with both AES-GCM and SM4-GCM and random access to a range.)

use std::ops::Range;

use crate::cipher::{Cipher, NONCE_LEN, TAG_LEN};
use crate::VaultError;

pub const MAGIC: &[u8; 4] = b"XWS1";
pub const HEADER_LEN: usize = 16;
/// The chunk size objects are sealed with: 64 KiB of plaintext.
pub const CHUNK: usize = 64 * 1024;

/// A sealed object's header, read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub cipher: Cipher,
    pub chunk: usize,
    prefix: [u8; 7],
    bytes: [u8; HEADER_LEN],
}

impl Header {
    pub(crate) fn new(cipher: Cipher, chunk: usize) -> Header {
        let mut prefix = [0u8; 7];
        getrandom::fill(&mut prefix).expect("the OS random source is available");
        let mut bytes = [0u8; HEADER_LEN];
        bytes[..4].copy_from_slice(MAGIC);
        bytes[4] = cipher.code();
        bytes[5..9].copy_from_slice(&(chunk as u32).to_be_bytes());
        bytes[9..].copy_from_slice(&prefix);
        Header { cipher, chunk, prefix, bytes }
    }

    pub fn parse(sealed: &[u8]) -> Result<Header, VaultError> {
        let bytes: [u8; HEADER_LEN] =
            sealed.get(..HEADER_LEN).and_then(|h| h.try_into().ok()).ok_or(VaultError::NotSealed)?;
        if &bytes[..4] != MAGIC {
            return Err(VaultError::NotSealed);
        }
        let cipher = Cipher::from_code(bytes[4]).ok_or(VaultError::NotSealed)?;
        let chunk = u32::from_be_bytes(bytes[5..9].try_into().expect("4 bytes")) as usize;
        if chunk == 0 {
            return Err(VaultError::NotSealed);
        }
        Ok(Header { cipher, chunk, prefix: bytes[9..].try_into().expect("7 bytes"), bytes })
    }

    pub fn bytes(&self) -> &[u8; HEADER_LEN] {
        &self.bytes
    }

    fn nonce(&self, index: u64, last: bool) -> Result<[u8; NONCE_LEN], VaultError> {
        let index = u32::try_from(index).map_err(|_| VaultError::TooLarge)?;
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..7].copy_from_slice(&self.prefix);
        nonce[7..11].copy_from_slice(&index.to_be_bytes());
        nonce[11] = u8::from(last);
        Ok(nonce)
    }

    /// Bytes of one sealed full chunk.
    pub fn sealed_chunk(&self) -> usize {
        self.chunk + TAG_LEN
    }

    pub(crate) fn seal_chunk(&self, key: &[u8], index: u64, last: bool, plain: &[u8]) -> Result<Vec<u8>, VaultError> {
        Ok(self.cipher.seal(key, &self.nonce(index, last)?, &self.bytes, plain))
    }

    fn open_chunk(&self, key: &[u8], index: u64, last: bool, sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
        self.cipher.open(key, &self.nonce(index, last)?, &self.bytes, sealed)
    }

    /// The plaintext length of a complete sealed object of `sealed_len` bytes.
    pub fn plain_len(&self, sealed_len: u64) -> Result<u64, VaultError> {
        let body = sealed_len.checked_sub(HEADER_LEN as u64).ok_or(VaultError::Truncated)?;
        let chunks = body.div_ceil(self.sealed_chunk() as u64).max(1);
        body.checked_sub(chunks * TAG_LEN as u64).ok_or(VaultError::Truncated)
    }

    /// For a plaintext `range` of an object whose plaintext is `plain_len` bytes: the sealed bytes
    /// to read, the index of their first chunk, and where the range starts in their plaintext.
    pub fn locate(&self, range: &Range<u64>, plain_len: u64) -> SealedSpan {
        let chunk = self.chunk as u64;
        let last_chunk = plain_len.saturating_sub(1) / chunk;
        let first = (range.start / chunk).min(last_chunk);
        let end = range.end.min(plain_len).max(range.start);
        let through = (end.saturating_sub(1) / chunk).clamp(first, last_chunk);
        let sealed_chunk = self.sealed_chunk() as u64;
        let sealed_end = HEADER_LEN as u64 + plain_len + (last_chunk + 1) * TAG_LEN as u64;
        let start = HEADER_LEN as u64 + first * sealed_chunk;
        SealedSpan {
            sealed: start..(HEADER_LEN as u64 + (through + 1) * sealed_chunk).min(sealed_end),
            first_chunk: first,
            last_chunk,
            skip: (range.start - first * chunk) as usize,
            len: (end - range.start) as usize,
        }
    }

    /// Opens the chunks of `span` (their sealed bytes, as [`Header::locate`] said to read) and
    /// returns the range's plaintext. `lenient_end`: the object's last chunk may be a whole chunk
    /// not flagged last (a writer that died; the caller knows the length from elsewhere).
    pub fn open_span(
        &self,
        key: &[u8],
        span: &SealedSpan,
        sealed: &[u8],
        lenient_end: bool,
    ) -> Result<Vec<u8>, VaultError> {
        let mut out = Vec::with_capacity(sealed.len());
        for (i, piece) in sealed.chunks(self.sealed_chunk()).enumerate() {
            let index = span.first_chunk + i as u64;
            let last = index == span.last_chunk;
            let opened = match self.open_chunk(key, index, last, piece) {
                Err(_) if last && lenient_end && piece.len() == self.sealed_chunk() => {
                    self.open_chunk(key, index, false, piece)
                }
                other => other,
            };
            out.extend(opened?);
        }
        out.drain(..span.skip.min(out.len()));
        out.truncate(span.len);
        Ok(out)
    }
}

/// What to read of a sealed object for a plaintext range ([`Header::locate`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSpan {
    /// The sealed bytes to read (whole chunks).
    pub sealed: Range<u64>,
    first_chunk: u64,
    last_chunk: u64,
    skip: usize,
    len: usize,
}

/// Seals a whole plaintext.
pub(crate) fn seal(cipher: Cipher, key: &[u8], plaintext: &[u8], chunk: usize) -> Vec<u8> {
    let mut sealer = Sealer::new(cipher, key.to_vec(), chunk);
    let mut out = sealer.push(plaintext);
    out.extend(sealer.finish());
    out
}

/// Opens a whole sealed object; a truncated or altered one is refused.
pub(crate) fn open(key: &[u8], sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
    let header = Header::parse(sealed)?;
    let plain_len = header.plain_len(sealed.len() as u64)?;
    let span = header.locate(&(0..plain_len), plain_len);
    header.open_span(key, &span, &sealed[HEADER_LEN..], false)
}

/// The plaintext of the complete chunks of an object whose writer died before finishing it (no
/// chunk carries the last flag): every full chunk that opens, in order.
pub(crate) fn open_complete_chunks(key: &[u8], sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
    let header = Header::parse(sealed)?;
    let mut out = Vec::new();
    for (i, piece) in sealed[HEADER_LEN..].chunks(header.sealed_chunk()).enumerate() {
        match header.open_chunk(key, i as u64, false, piece) {
            Ok(plain) if plain.len() == header.chunk => out.extend(plain),
            _ => match header.open_chunk(key, i as u64, true, piece) {
                Ok(plain) => {
                    out.extend(plain);
                    break;
                }
                Err(_) => break,
            },
        }
    }
    Ok(out)
}

/// Seals a plaintext that arrives in pieces (a recording as it is written): each full chunk is
/// sealed as soon as it is complete; [`Sealer::finish`] seals the rest as the last chunk.
pub struct Sealer {
    header: Header,
    key: Vec<u8>,
    pending: Vec<u8>,
    index: u64,
    started: bool,
}

impl Sealer {
    pub(crate) fn new(cipher: Cipher, key: Vec<u8>, chunk: usize) -> Sealer {
        Sealer { header: Header::new(cipher, chunk), key, pending: Vec::with_capacity(chunk), index: 0, started: false }
    }

    /// The sealed bytes that `plain` completes (the header first, the first time).
    pub fn push(&mut self, mut plain: &[u8]) -> Vec<u8> {
        let mut out = self.start();
        while !plain.is_empty() {
            // A full chunk is sealed only once more follows: the last chunk must carry the flag.
            if self.pending.len() == self.header.chunk {
                out.extend(self.seal_pending(false));
            }
            let take = (self.header.chunk - self.pending.len()).min(plain.len());
            self.pending.extend_from_slice(&plain[..take]);
            plain = &plain[take..];
        }
        out
    }

    /// The rest, sealed as the last chunk.
    pub fn finish(mut self) -> Vec<u8> {
        let mut out = self.start();
        out.extend(self.seal_pending(true));
        out
    }

    fn start(&mut self) -> Vec<u8> {
        if std::mem::replace(&mut self.started, true) {
            Vec::new()
        } else {
            self.header.bytes().to_vec()
        }
    }

    fn seal_pending(&mut self, last: bool) -> Vec<u8> {
        let sealed =
            self.header.seal_chunk(&self.key, self.index, last, &self.pending).expect("fewer than 2^32 chunks");
        self.index += 1;
        self.pending.clear();
        sealed
    }
}

/// Reads a sealed object's plaintext from `inner` as it goes, one chunk at a time (a recording
/// far larger than memory). With `complete_chunks_only`, an object whose writer died (no last
/// chunk) ends after its last whole chunk instead of failing.
pub struct OpenReader<R> {
    inner: R,
    header: Header,
    key: Vec<u8>,
    index: u64,
    /// The next sealed chunk, read ahead: a chunk is the last one when nothing follows it.
    ahead: Option<Vec<u8>>,
    plain: Vec<u8>,
    at: usize,
    finished: bool,
    complete_chunks_only: bool,
}

impl<R: std::io::Read> OpenReader<R> {
    pub(crate) fn new(mut inner: R, key: Vec<u8>, complete_chunks_only: bool) -> std::io::Result<Self> {
        let mut head = [0u8; HEADER_LEN];
        inner.read_exact(&mut head)?;
        let header = Header::parse(&head).map_err(std::io::Error::other)?;
        let mut reader = OpenReader {
            inner,
            header,
            key,
            index: 0,
            ahead: None,
            plain: Vec::new(),
            at: 0,
            finished: false,
            complete_chunks_only,
        };
        reader.ahead = reader.read_sealed_chunk()?;
        Ok(reader)
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Up to one sealed chunk (fewer bytes only at the end of the object).
    fn read_sealed_chunk(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let mut buf = vec![0u8; self.header.sealed_chunk()];
        let mut filled = 0;
        while filled < buf.len() {
            match self.inner.read(&mut buf[filled..])? {
                0 => break,
                n => filled += n,
            }
        }
        buf.truncate(filled);
        Ok((filled > 0).then_some(buf))
    }

    /// Opens the next chunk into `plain`; `false` at the end.
    fn fill(&mut self) -> std::io::Result<bool> {
        if self.finished {
            return Ok(false);
        }
        let Some(sealed) = self.ahead.take() else {
            // Nothing after the header: a complete object has at least its (flagged) last chunk.
            self.finished = true;
            return if self.complete_chunks_only {
                Ok(false)
            } else {
                Err(std::io::Error::other(VaultError::Truncated))
            };
        };
        self.ahead = self.read_sealed_chunk()?;
        let last = self.ahead.is_none();
        self.plain = match self.header.open_chunk(&self.key, self.index, last, &sealed) {
            Ok(plain) => plain,
            // A writer that died: its last chunk on disk is a whole chunk not flagged last.
            Err(_) if last && self.complete_chunks_only => {
                match self.header.open_chunk(&self.key, self.index, false, &sealed) {
                    Ok(plain) if plain.len() == self.header.chunk => plain,
                    _ => {
                        self.finished = true;
                        return Ok(false);
                    }
                }
            }
            Err(e) => return Err(std::io::Error::other(e)),
        };
        self.finished = last;
        self.index += 1;
        self.at = 0;
        Ok(true)
    }
}

impl<R: std::io::Read> std::io::Read for OpenReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.at < self.plain.len() {
                let n = buf.len().min(self.plain.len() - self.at);
                buf[..n].copy_from_slice(&self.plain[self.at..self.at + n]);
                self.at += n;
                return Ok(n);
            }
            if buf.is_empty() || !self.fill()? {
                return Ok(0);
            }
        }
    }
}
