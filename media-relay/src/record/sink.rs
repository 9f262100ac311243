//! Where a WebM file is written: a plain file, or a file sealed at rest as it grows (the `vault`'s
//! chunks: each full 64 KiB of the recording is sealed and appended as soon as it is complete, so
//! a crash loses at most the chunk in memory).
//!
//! A WebM writer patches its header when it finishes (the seek index, the duration, the
//! segment's size: a few bytes near the start), which a sealed file cannot take in place. So a
//! [`SealedFile`] keeps those patches and, when completed, reads itself back once, applies them,
//! and writes the final sealed file beside it (the same data key, fresh nonces) before renaming
//! it over the first: the recording's bytes and SHA-256, for the records store, are counted on
//! that pass, over the plaintext.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use vault::{Envelope, Sealer, Vault};

/// What a completed file is, for the records store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    /// The plaintext's length and lower-case hex SHA-256.
    pub bytes: u64,
    pub sha256: String,
    /// The wrapped data key the file opens with; `None` for a file in clear.
    pub sealing: Option<String>,
}

/// A file a [`super::webm::WebmWriter`] writes to.
pub trait Sink: Write + Seek + Send {
    /// What is written so far is on disk (what a sealed file holds in memory excepted).
    fn sync_data(&mut self) -> std::io::Result<()>;
    /// Finishes the file at `path` (this sink's own) and says what it holds.
    fn complete(self: Box<Self>, path: &Path) -> std::io::Result<Completed>;
}

impl Sink for File {
    fn sync_data(&mut self) -> std::io::Result<()> {
        File::sync_data(self)
    }

    fn complete(self: Box<Self>, path: &Path) -> std::io::Result<Completed> {
        self.sync_all()?;
        drop(self);
        let (bytes, sha256) = super::hash_file(path)?;
        Ok(Completed { bytes, sha256, sealing: None })
    }
}

/// A file sealed as it is written (see the module summary).
pub struct SealedFile {
    file: File,
    sealer: Sealer,
    envelope: Envelope,
    vault: Arc<Vault>,
    /// Plaintext bytes appended so far.
    len: u64,
    /// Where the next write goes when it is not an append: a patch of bytes already written.
    at: Option<u64>,
    patches: Vec<(u64, Vec<u8>)>,
}

/// Beside a sealed recording while it is written: its wrapped data key (safe to keep beside it:
/// only the master key opens it), so that what a relay that died mid-call wrote can still be
/// opened. Removed once the recording is complete (its key is then in the records store).
pub fn key_file(path: &Path) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".key");
    path.with_file_name(name)
}

impl SealedFile {
    /// `file` (new and empty) sealed under a new data key.
    pub fn new(file: File, vault: Arc<Vault>) -> SealedFile {
        let (envelope, sealer) = vault.sealer();
        SealedFile { file, sealer, envelope, vault, len: 0, at: None, patches: Vec::new() }
    }

    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// `file` sealed under `envelope`'s data key (a view of a recording shares its key).
    pub fn under(file: File, vault: Arc<Vault>, envelope: &Envelope) -> std::io::Result<SealedFile> {
        let sealer = vault.sealer_under(envelope).map_err(std::io::Error::other)?;
        Ok(SealedFile { file, sealer, envelope: envelope.clone(), vault, len: 0, at: None, patches: Vec::new() })
    }
}

impl Write for SealedFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.at {
            None => {
                self.file.write_all(&self.sealer.push(buf))?;
                self.len += buf.len() as u64;
            }
            Some(at) => {
                if at + buf.len() as u64 > self.len {
                    return Err(std::io::Error::other("a sealed file is patched only within what is written"));
                }
                self.patches.push((at, buf.to_vec()));
                self.at = Some(at + buf.len() as u64);
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Seek for SealedFile {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let at = match to {
            SeekFrom::Start(n) => n,
            SeekFrom::End(n) => self.len.checked_add_signed(n).ok_or(std::io::ErrorKind::InvalidInput)?,
            SeekFrom::Current(n) => {
                self.at.unwrap_or(self.len).checked_add_signed(n).ok_or(std::io::ErrorKind::InvalidInput)?
            }
        };
        if at > self.len {
            return Err(std::io::Error::other("a sealed file cannot seek past its end"));
        }
        self.at = (at < self.len).then_some(at);
        Ok(at)
    }
}

impl Sink for SealedFile {
    fn sync_data(&mut self) -> std::io::Result<()> {
        self.file.sync_data()
    }

    fn complete(self: Box<Self>, path: &Path) -> std::io::Result<Completed> {
        let SealedFile { mut file, sealer, envelope, vault, patches, .. } = *self;
        file.write_all(&sealer.finish())?;
        file.sync_all()?;
        drop(file);
        let final_path = path.with_extension("sealing");
        let mut out = BufWriter::new(File::create(&final_path)?);
        let mut resealer = vault.sealer_under(&envelope).map_err(std::io::Error::other)?;
        let mut reader = vault.reader(&envelope, BufReader::new(File::open(path)?), false)?;
        let (mut hasher, mut offset, mut buf) = (Sha256::new(), 0u64, vec![0u8; 1 << 16]);
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            let piece = &mut buf[..n];
            for (at, bytes) in &patches {
                patch(piece, offset, *at, bytes);
            }
            hasher.update(&*piece);
            out.write_all(&resealer.push(piece))?;
            offset += n as u64;
        }
        out.write_all(&resealer.finish())?;
        let out = out.into_inner().map_err(|e| e.into_error())?;
        out.sync_all()?;
        std::fs::rename(&final_path, path)?;
        if let Some(dir) = path.parent() {
            File::open(dir)?.sync_all()?;
        }
        let _ = std::fs::remove_file(key_file(path));
        let sha256 = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok(Completed { bytes: offset, sha256, sealing: Some(envelope.to_text()) })
    }
}

/// Writes the part of the patch `bytes` at `at` that falls in `piece` (which starts at `offset`).
fn patch(piece: &mut [u8], offset: u64, at: u64, bytes: &[u8]) {
    let end = offset + piece.len() as u64;
    let (from, to) = (at.max(offset), (at + bytes.len() as u64).min(end));
    if from < to {
        let dst = (from - offset) as usize..(to - offset) as usize;
        let src = (from - at) as usize..(to - at) as usize;
        piece[dst].copy_from_slice(&bytes[src]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vault::{Cipher, MasterKey};

    #[test]
    fn patches_land_where_they_were_written_and_the_hash_is_the_plaintexts() {
        let dir = std::env::temp_dir().join(format!("xiaowu-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("call-1.webm");
        let vault = Arc::new(Vault::new(MasterKey::generate(), Cipher::Aes256Gcm).with_chunk(16));
        let mut sink: Box<dyn Sink> = Box::new(SealedFile::new(File::create(&path).unwrap(), vault.clone()));
        let data: Vec<u8> = (0..100u8).collect();
        sink.write_all(&data).unwrap();
        sink.seek(SeekFrom::Start(10)).unwrap();
        sink.write_all(&[0xAA; 12]).unwrap(); // across the first two chunks
        assert!(sink.seek(SeekFrom::Start(101)).is_err());
        sink.seek(SeekFrom::End(0)).unwrap();
        sink.write_all(&[7, 8]).unwrap();
        sink.sync_data().unwrap();
        let done = sink.complete(&path).unwrap();
        let mut expected = data.clone();
        expected[10..22].fill(0xAA);
        expected.extend([7, 8]);
        assert_eq!(done.bytes, 102);
        let sha: String = Sha256::digest(&expected).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(done.sha256, sha);
        let envelope = Envelope::parse(done.sealing.as_deref().unwrap()).unwrap();
        let sealed = std::fs::read(&path).unwrap();
        assert_eq!(vault.open(&envelope, &sealed).unwrap(), expected);
        assert!(!dir.join("call-1.sealing").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
