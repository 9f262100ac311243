//! Master keys: 32 random bytes that wrap the data keys and never leave the server's memory. One
//! comes from the environment (`XIAOWU_MASTER_KEY`, base64) or from a file holding it in base64
//! (mode 0600), which a single node creates at its first start. Each key has an id (a hash of the
//! key, safe to store and log) that is recorded with every data key it wraps, so that after a
//! rotation the vault knows which key opens what.

use std::io::Write;
use std::path::Path;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::VaultError;

/// The environment variable a master key may come from (base64 of 32 bytes).
pub const MASTER_KEY_ENV: &str = "XIAOWU_MASTER_KEY";
const KEY_LEN: usize = 32;

/// A master key and its id.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    key: [u8; KEY_LEN],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey").field("id", &self.id).finish_non_exhaustive()
    }
}

impl MasterKey {
    /// A new random key.
    pub fn generate() -> MasterKey {
        let mut key = [0u8; KEY_LEN];
        getrandom::fill(&mut key).expect("the OS random source is available");
        MasterKey::from_bytes(key)
    }

    pub fn from_bytes(key: [u8; KEY_LEN]) -> MasterKey {
        let digest = Sha256::new().chain_update(b"xiaowu master key id\0").chain_update(key).finalize();
        let id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        MasterKey { id, key }
    }

    /// A key written in base64 (surrounding white space ignored).
    pub fn from_base64(text: &str) -> Result<MasterKey, VaultError> {
        let bytes =
            base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|_| VaultError::BadMasterKey)?;
        let key: [u8; KEY_LEN] = bytes.try_into().map_err(|_| VaultError::BadMasterKey)?;
        Ok(MasterKey::from_bytes(key))
    }

    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.key)
    }

    /// The key in the file at `path`.
    pub fn read_file(path: &Path) -> Result<MasterKey, VaultError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| VaultError::KeyFile(path.display().to_string(), e.kind()))?;
        MasterKey::from_base64(&text)
    }

    /// The key in the file at `path`; if there is no file, a new key written there first (mode
    /// 0600, created only if it does not exist, so two starts cannot write two keys).
    pub fn read_or_create(path: &Path) -> Result<(MasterKey, bool), VaultError> {
        match MasterKey::read_file(path) {
            Err(VaultError::KeyFile(_, std::io::ErrorKind::NotFound)) => {}
            other => return other.map(|k| (k, false)),
        }
        let key = MasterKey::generate();
        let failed = |e: std::io::Error| VaultError::KeyFile(path.display().to_string(), e.kind());
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(failed)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(failed)?;
        file.write_all(format!("{}\n", key.to_base64()).as_bytes()).map_err(failed)?;
        file.sync_all().map_err(failed)?;
        Ok((key, true))
    }

    /// The key from [`MASTER_KEY_ENV`] if it is set.
    pub fn from_env() -> Result<Option<MasterKey>, VaultError> {
        match std::env::var(MASTER_KEY_ENV) {
            Ok(text) => MasterKey::from_base64(&text).map(Some),
            Err(_) => Ok(None),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn bytes(&self) -> &[u8; KEY_LEN] {
        &self.key
    }
}
