//! `signaling-server rotate-key`: a new master key wraps every stored data key (documents' and
//! recordings'); the sealed bytes are not rewritten, and afterwards the old master key is no longer needed. Run it with the
//! server (every node of a cluster) stopped: a server still running would go on wrapping new
//! data keys with the old master key.
//!
//! Where the new key comes from follows where the current one does (`host::at_rest`):
//! - a key file: a new key is made beside it (`master.key.new`, mode 0600) before anything is
//!   re-wrapped; once every envelope is re-wrapped (one transaction), the old key is copied to
//!   `master.key.old`, the new file is renamed over the key file, and the copy is deleted. A
//!   rotation cut short at any point leaves a key file, and the server loads the `.new` and
//!   `.old` files beside it as older keys, so everything still opens; running `rotate-key` again
//!   finishes it.
//! - `XIAOWU_MASTER_KEY`, or a cluster's key derived from its token secret: the new key is given
//!   in `XIAOWU_NEW_MASTER_KEY`; afterwards set `XIAOWU_MASTER_KEY` to it on every node.

use std::path::Path;

use host::at_rest::{open_vault, rotation_file, KeySource};
use vault::{Envelope, MasterKey, Vault, VaultError};

use crate::config::Settings;

/// The environment variable the new key comes from when the current one is not in a file.
pub const NEW_MASTER_KEY_ENV: &str = "XIAOWU_NEW_MASTER_KEY";

#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error("主密钥 / master key: {0}")]
    Key(#[from] VaultError),
    #[error("数据库 / database: {}", .0.bilingual())]
    Store(#[from] store::StoreError),
    #[error("当前主密钥不在文件中，请在 {NEW_MASTER_KEY_ENV} 中提供新主密钥 / the current master key is not in a file: give the new one (base64 of 32 bytes) in {NEW_MASTER_KEY_ENV}")]
    NewKeyNeeded,
    #[error("密钥文件 / key file {0}: {1}")]
    File(String, std::io::Error),
}

/// What a rotation did.
#[derive(Debug)]
pub struct Rotated {
    pub old_ids: Vec<String>,
    pub new_id: String,
    pub rewrapped: u64,
    /// Where the new key is (a file), or `None` when the operator must put it in place.
    pub key_file: Option<std::path::PathBuf>,
}

/// Re-wraps every stored data key with a new master key (see the module summary).
pub fn rotate_key(settings: &Settings) -> Result<Rotated, RotateError> {
    let f = &settings.file;
    let cluster_secret = f.cluster.redis_url.as_ref().and(f.server.token_secret.as_deref()).map(str::as_bytes);
    let (current, source) = open_vault(&f.storage, &f.documents.data_dir, cluster_secret)?;
    let url = f
        .database
        .url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", f.documents.data_dir.join("xiaowu.db").display()));
    let store = store::Store::open_url(&url)?;
    let key_file = f.storage.key_file(&f.documents.data_dir);
    let new_key = match &source {
        KeySource::File { .. } => new_key_beside(&key_file)?,
        KeySource::Environment | KeySource::ClusterSecret => {
            MasterKey::from_base64(&std::env::var(NEW_MASTER_KEY_ENV).map_err(|_| RotateError::NewKeyNeeded)?)?
        }
    };
    let mut old_ids = vec![current.master_id().to_owned()];
    let mut rotating = Vault::new(new_key.clone(), current.cipher()).with_older(current_key(&source, &key_file, f)?);
    let leftover = rotation_file(&key_file, "old");
    if leftover.exists() && matches!(source, KeySource::File { .. }) {
        let key = MasterKey::read_file(&leftover)?;
        old_ids.push(key.id().to_owned());
        rotating = rotating.with_older(key);
    }
    let rewrapped = rewrap_documents(&store, &rotating)? + rewrap_recordings(&store, &rotating)?;
    let key_file = match source {
        KeySource::File { .. } => {
            put_new_key_in_place(&key_file)?;
            Some(key_file)
        }
        _ => None,
    };
    Ok(Rotated { old_ids, new_id: new_key.id().to_owned(), rewrapped, key_file })
}

/// The current master key itself (the vault does not hand it out).
fn current_key(source: &KeySource, key_file: &Path, f: &crate::config::FileConfig) -> Result<MasterKey, RotateError> {
    Ok(match source {
        KeySource::Environment => MasterKey::from_env()?.ok_or(VaultError::BadMasterKey)?,
        KeySource::File { .. } => MasterKey::read_file(key_file)?,
        KeySource::ClusterSecret => {
            host::at_rest::cluster_key(f.server.token_secret.as_deref().unwrap_or_default().as_bytes())
        }
    })
}

/// `master.key.new`: kept from a rotation cut short, else made now (before anything changes).
fn new_key_beside(key_file: &Path) -> Result<MasterKey, RotateError> {
    let path = rotation_file(key_file, "new");
    Ok(MasterKey::read_or_create(&path)?.0)
}

/// Every document blob's two wrapped keys re-wrapped with the new key, in one transaction.
fn rewrap_documents(store: &store::Store, vault: &Vault) -> Result<u64, RotateError> {
    let mut rewrapped = Vec::new();
    for (sha, image, thumbnail) in store.document_sealings()? {
        let again = |text: &str| -> Result<String, VaultError> {
            let envelope = Envelope::parse(text)?;
            Ok(vault.rewrap(&envelope)?.unwrap_or(envelope).to_text())
        };
        rewrapped.push((sha, again(&image)?, again(&thumbnail)?));
    }
    if rewrapped.is_empty() {
        return Ok(0);
    }
    Ok(store.reseal_document_keys(&rewrapped)? * 2)
}

/// Every recording's wrapped key re-wrapped with the new key, in one transaction.
fn rewrap_recordings(store: &store::Store, vault: &Vault) -> Result<u64, RotateError> {
    let mut rewrapped = Vec::new();
    for (call, sealing) in store.recording_sealings()? {
        let envelope = Envelope::parse(&sealing)?;
        rewrapped.push((call, vault.rewrap(&envelope)?.unwrap_or(envelope).to_text()));
    }
    if rewrapped.is_empty() {
        return Ok(0);
    }
    Ok(store.reseal_recording_keys(&rewrapped)?)
}

/// The old key copied to `.old`, the new one renamed over the key file (atomic), the copy gone.
fn put_new_key_in_place(key_file: &Path) -> Result<(), RotateError> {
    let file_error = |path: &Path| {
        let path = path.display().to_string();
        move |e: std::io::Error| RotateError::File(path, e)
    };
    let (new, old) = (rotation_file(key_file, "new"), rotation_file(key_file, "old"));
    if !old.exists() {
        let key = MasterKey::read_file(key_file)?;
        write_key(&old, &key).map_err(file_error(&old))?;
    }
    std::fs::rename(&new, key_file).map_err(file_error(key_file))?;
    if let Some(dir) = key_file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(file_error(dir))?;
    }
    std::fs::remove_file(&old).map_err(file_error(&old))?;
    Ok(())
}

fn write_key(path: &Path, key: &MasterKey) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(format!("{}\n", key.to_base64()).as_bytes())?;
    file.sync_all()
}
