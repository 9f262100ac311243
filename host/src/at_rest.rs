//! `[storage]` in the configuration, and the vault it opens: which cipher seals new objects and
//! where the master key comes from. In order:
//! 1. `XIAOWU_MASTER_KEY` (base64 of 32 bytes) in the environment;
//! 2. `[storage] master_key_file` (created with a new key, mode 0600, if it does not exist);
//! 3. a cluster node given neither: a key derived from the cluster's shared token secret (HKDF,
//!    with a label of its own), so that every node opens what another sealed;
//! 4. a single node given neither: `<data_dir>/master.key`, created at the first start.
//!
//! A rotation (`signaling-server rotate-key`) leaves the key it replaces, or the key it is about
//! to put in place, beside the key file (`.old`, `.new`) while it works: both are loaded as older
//! keys, so a rotation cut short still opens everything.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use vault::{Cipher, MasterKey, Vault, VaultError};

/// `[storage]` in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `aes-256-gcm` (the default) or `sm4-gcm` (deployments assessed under GB/T 39786).
    pub cipher: String,
    /// The master key's file (default: `master.key` in the data directory).
    pub master_key_file: Option<PathBuf>,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self { cipher: Cipher::Aes256Gcm.name().to_owned(), master_key_file: None }
    }
}

impl StorageConfig {
    /// What is wrong with it, if anything.
    pub fn problem(&self) -> Option<&'static str> {
        Cipher::from_name(&self.cipher).is_none().then_some("[storage] cipher must be aes-256-gcm or sm4-gcm")
    }

    /// The master key file in use when the key does not come from the environment or the cluster.
    pub fn key_file(&self, data_dir: &Path) -> PathBuf {
        self.master_key_file.clone().unwrap_or_else(|| data_dir.join("master.key"))
    }
}

/// Where the current master key came from (logged at start, never the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Environment,
    File { path: PathBuf, created: bool },
    ClusterSecret,
}

/// The vault for these settings: the current master key, and a cut-short rotation's keys.
pub fn open_vault(
    cfg: &StorageConfig,
    data_dir: &Path,
    cluster_secret: Option<&[u8]>,
) -> Result<(Vault, KeySource), VaultError> {
    let cipher = Cipher::from_name(&cfg.cipher).ok_or(VaultError::BadEnvelope("cipher"))?;
    let file = cfg.key_file(data_dir);
    let (current, source) = if let Some(key) = MasterKey::from_env()? {
        (key, KeySource::Environment)
    } else if let (None, Some(secret)) = (&cfg.master_key_file, cluster_secret) {
        (cluster_key(secret), KeySource::ClusterSecret)
    } else {
        let (key, created) = MasterKey::read_or_create(&file)?;
        (key, KeySource::File { path: file.clone(), created })
    };
    let mut vault = Vault::new(current, cipher);
    for leftover in [rotation_file(&file, "new"), rotation_file(&file, "old")] {
        if leftover.exists() {
            vault = vault.with_older(MasterKey::read_file(&leftover)?);
        }
    }
    Ok((vault, source))
}

/// `master.key.new` / `master.key.old` beside the key file.
pub fn rotation_file(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{suffix}"));
    file.with_file_name(name)
}

/// The master key of a cluster given no key of its own, from its shared token secret.
pub fn cluster_key(secret: &[u8]) -> MasterKey {
    use hmac::{Hmac, Mac};
    // HKDF-Extract and one block of HKDF-Expand with SHA-256 (RFC 5869), written with the HMAC
    // the host links already: the label keeps this key apart from the token-signing key.
    let prk = Hmac::<sha2::Sha256>::new_from_slice(b"xiaowu master key salt")
        .expect("HMAC takes any key")
        .chain_update(secret)
        .finalize()
        .into_bytes();
    let okm = Hmac::<sha2::Sha256>::new_from_slice(&prk)
        .expect("HMAC takes any key")
        .chain_update(b"xiaowu master key from the cluster secret\x01")
        .finalize()
        .into_bytes();
    MasterKey::from_bytes(okm.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_node_of_a_cluster_derives_the_same_key_and_a_file_wins_over_it() {
        let dir = std::env::temp_dir().join(format!("xiaowu-at-rest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = StorageConfig::default();
        let secret = b"a shared token secret of at least thirty-two bytes";
        let (a, source) = open_vault(&cfg, &dir.join("a"), Some(secret)).unwrap();
        let (b, _) = open_vault(&cfg, &dir.join("b"), Some(secret)).unwrap();
        assert_eq!(source, KeySource::ClusterSecret);
        assert_eq!(a.master_id(), b.master_id());
        let (env, sealed) = a.seal(b"photo");
        assert_eq!(b.open(&env, &sealed).unwrap(), b"photo");
        assert!(!dir.join("a/master.key").exists(), "no key file beside the data");
        // A single node keeps its own key in its data directory.
        let (single, source) = open_vault(&cfg, &dir.join("a"), None).unwrap();
        assert_eq!(source, KeySource::File { path: dir.join("a/master.key"), created: true });
        assert_ne!(single.master_id(), a.master_id());
        let bad = StorageConfig { cipher: "des".into(), ..StorageConfig::default() };
        assert!(bad.problem().is_some());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
