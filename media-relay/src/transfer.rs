//! A finished recording from a relay's own disk to the server's, so relays on machines of their
//! own need no storage shared with the server.
//!
//! The server opens a second connection to the relay's control port, reads the relay's challenge
//! and answers with [`Op::Fetch`](crate::control::Op::Fetch) — its proof of the shared secret for
//! this file (`handshake.rs`) and the file's name, `call-<id>.webm` and nothing else — and the relay answers with one JSON line, `{"size":N}` or
//! `{"error":"not_found"}`, then the file's bytes. The server writes them aside, checks the size
//! and the SHA-256 the relay reported when it finished the recording (of the plaintext, opened
//! with the vault, for a recording sealed at rest: the copy is the sealed file as it is), and
//! renames the copy into its recording directory. A copy that is already there and matches (a
//! shared mount) is kept.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::record::RecordingInfo;

/// How long a whole transfer may take (an hour's call is about 1.5 GB; loopback or a hall's LAN
/// moves that in well under a minute).
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Whether `name` names a recording the relay writes (`call-<digits>.webm`): nothing with a path
/// separator or anything else can be asked for.
pub fn is_recording_name(name: &str) -> bool {
    name.strip_prefix("call-")
        .and_then(|r| r.strip_suffix(".webm"))
        .is_some_and(|id| !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()))
}

/// The relay's side: sends `file` from `record_dir` on `write`.
pub async fn send(
    write: &mut (impl AsyncWriteExt + Unpin),
    record_dir: Option<&Path>,
    file: &str,
) -> std::io::Result<()> {
    let opened = match record_dir {
        Some(dir) if is_recording_name(file) => tokio::fs::File::open(dir.join(file)).await.ok(),
        _ => None,
    };
    let Some(mut f) = opened else {
        return header(write, &Header { size: None, error: Some("not_found".into()) }).await;
    };
    let size = f.metadata().await?.len();
    header(write, &Header { size: Some(size), error: None }).await?;
    tokio::io::copy(&mut (&mut f).take(size), write).await?;
    write.flush().await
}

async fn header(write: &mut (impl AsyncWriteExt + Unpin), h: &Header) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(h).map_err(std::io::Error::other)?;
    line.push(b'\n');
    write.write_all(&line).await
}

/// The server's side: makes `dir/<file name of info.path>` the recording `info` describes,
/// fetching it from the relay at `addr` unless a matching copy is already there.
pub async fn fetch_into(
    dir: &Path,
    addr: &str,
    secret: &str,
    info: &RecordingInfo,
    vault: Option<std::sync::Arc<vault::Vault>>,
) -> std::io::Result<()> {
    let name = info.path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
    if !is_recording_name(&name) {
        return Err(std::io::Error::other(format!("not a recording's name: {name:?}")));
    }
    let local = dir.join(&name);
    if matches(&local, info, vault.clone()).await {
        return Ok(());
    }
    tokio::fs::create_dir_all(dir).await?;
    let part = dir.join(format!(".{name}.part"));
    let fetched = tokio::time::timeout(TRANSFER_TIMEOUT, copy_from(addr, secret, &name, &part)).await;
    let result = match fetched {
        Ok(Ok(())) if matches(&part, info, vault).await => tokio::fs::rename(&part, &local).await,
        Ok(Ok(())) => Err(std::io::Error::other("the copy does not match the recording's size and SHA-256")),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(std::io::Error::other("the transfer took too long")),
    };
    if result.is_err() {
        let _ = tokio::fs::remove_file(&part).await;
    }
    result
}

async fn copy_from(addr: &str, secret: &str, name: &str, to: &Path) -> std::io::Result<()> {
    let stream = TcpStream::connect(addr).await?;
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let challenge = crate::control::read_challenge(&mut reader).await?;
    let proof = crate::handshake::proof(secret, &challenge, crate::handshake::Purpose::Fetch(name));
    let op = crate::control::Op::Fetch { proof, file: name.to_owned() };
    let mut line = serde_json::to_vec(&op).map_err(std::io::Error::other)?;
    line.push(b'\n');
    write.write_all(&line).await?;
    let line = crate::control::read_line(&mut reader).await.ok_or_else(|| std::io::Error::other("no answer"))?;
    let header: Header = serde_json::from_str(&line).map_err(std::io::Error::other)?;
    let size = header.size.ok_or_else(|| std::io::Error::other(header.error.unwrap_or_else(|| "refused".into())))?;
    let mut out = tokio::fs::File::create(to).await?;
    let copied = tokio::io::copy(&mut (&mut reader).take(size), &mut out).await?;
    if copied != size {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    out.sync_all().await
}

/// Whether `path` holds the recording `info` describes (size, then SHA-256; of the plaintext when
/// it is sealed).
async fn matches(path: &Path, info: &RecordingInfo, vault: Option<std::sync::Arc<vault::Vault>>) -> bool {
    let path = path.to_owned();
    let sealing = info.sealing.clone();
    let hashed = tokio::task::spawn_blocking(move || match (sealing, vault) {
        (None, _) => crate::record::hash_file(&path),
        (Some(sealing), Some(vault)) => {
            let envelope = vault::Envelope::parse(&sealing).map_err(std::io::Error::other)?;
            let file = std::io::BufReader::new(std::fs::File::open(&path)?);
            crate::record::hash_reader(vault.reader(&envelope, file, false)?)
        }
        (Some(_), None) => Err(std::io::Error::other("a sealed recording, and no vault to open it")),
    })
    .await;
    matches!(hashed, Ok(Ok((bytes, sha))) if bytes == info.bytes && sha == info.sha256)
}

#[cfg(test)]
mod tests {
    use super::is_recording_name;

    #[test]
    fn only_a_recordings_name_can_be_asked_for() {
        assert!(is_recording_name("call-4294967297.webm"));
        for bad in ["call-.webm", "../call-1.webm", "call-1.webm/..", "call-1a.webm", "x.webm", "call-1.webm.part"] {
            assert!(!is_recording_name(bad), "{bad}");
        }
    }
}
