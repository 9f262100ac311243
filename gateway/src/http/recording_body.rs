//! A recording's bytes `[start, end)` as a response body, streamed: from a file in clear in
//! 64 KiB reads, or from a file sealed at rest one 64 KiB chunk at a time — each chunk read,
//! opened and cut to the range (`vault`), so a seek in a long recording opens only what it asks
//! for and nothing sits in memory.

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use vault::{Envelope, Header, Vault};

/// One read of a file in clear per this many bytes.
const CHUNK: usize = 64 * 1024;

/// A sealed recording: its vault and envelope, and its header (read once).
pub(crate) struct Sealed {
    pub vault: Arc<Vault>,
    pub envelope: Envelope,
    pub header: Header,
}

impl Sealed {
    /// Reads the header of the sealed file at `path`.
    pub async fn open(path: &Path, vault: Arc<Vault>, envelope: Envelope) -> std::io::Result<Sealed> {
        let mut file = tokio::fs::File::open(path).await?;
        let mut head = [0u8; vault::HEADER_LEN];
        file.read_exact(&mut head).await?;
        let header = Header::parse(&head).map_err(std::io::Error::other)?;
        Ok(Sealed { vault, envelope, header })
    }

    /// The plaintext length of the complete sealed file at `path` (a view: always complete).
    pub async fn plain_len(&self, path: &Path) -> std::io::Result<u64> {
        let sealed = tokio::fs::metadata(path).await?.len();
        self.header.plain_len(sealed).map_err(std::io::Error::other)
    }
}

/// The body of `[start, end)` of the file at `path` whose plaintext is `len` bytes.
pub(crate) async fn body(path: &Path, sealed: Option<Sealed>, len: u64, start: u64, end: u64) -> std::io::Result<Body> {
    let mut file = tokio::fs::File::open(path).await?;
    let Some(sealed) = sealed else {
        file.seek(std::io::SeekFrom::Start(start)).await?;
        let stream = futures_util::stream::unfold((file, end - start), |(mut file, left)| async move {
            if left == 0 {
                return None;
            }
            let mut buf = vec![0u8; CHUNK.min(left as usize)];
            match file.read_exact(&mut buf).await {
                Ok(_) => Some((Ok::<_, std::io::Error>(buf), (file, left - CHUNK.min(left as usize) as u64))),
                Err(e) => Some((Err(e), (file, 0))),
            }
        });
        return Ok(Body::from_stream(stream));
    };
    let chunk = sealed.header.chunk as u64;
    let stream =
        futures_util::stream::unfold((file, start, Arc::new(sealed)), move |(mut file, at, sealed)| async move {
            if at >= end {
                return None;
            }
            // Up to the end of the chunk `at` is in, or of the range.
            let to = end.min((at / chunk + 1) * chunk);
            match sealed_piece(&mut file, &sealed, at..to, len).await {
                Ok(plain) => Some((Ok(plain), (file, to, sealed))),
                Err(e) => Some((Err(e), (file, end, sealed))),
            }
        });
    Ok(Body::from_stream(stream))
}

/// The plaintext `range` (inside one chunk) of a sealed file whose plaintext is `len` bytes.
async fn sealed_piece(
    file: &mut tokio::fs::File,
    sealed: &Sealed,
    range: std::ops::Range<u64>,
    len: u64,
) -> std::io::Result<Vec<u8>> {
    let span = sealed.header.locate(&range, len);
    let mut bytes = vec![0u8; (span.sealed.end - span.sealed.start) as usize];
    file.seek(std::io::SeekFrom::Start(span.sealed.start)).await?;
    file.read_exact(&mut bytes).await?;
    // The length comes from the records store, so a whole last chunk not flagged last (a relay
    // that died mid-call) is the end of what was recorded.
    sealed.vault.open_span(&sealed.envelope, &sealed.header, &span, &bytes, true).map_err(std::io::Error::other)
}
