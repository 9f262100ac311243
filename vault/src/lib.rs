//! Encryption at rest. Every object (a document photo, its thumbnail, a recording) is sealed with
//! a data key of its own, in fixed-size chunks ([`sealed`]); the data key is wrapped by the master
//! key ([`master`]) and the wrapped key ([`Envelope`]) is stored beside the object's metadata in
//! the database, never in the object store and never in clear. Rotating the master key re-wraps
//! the envelopes ([`Vault::rewrap`]): the objects are not rewritten.
//!
//! - `cipher.rs`: AES-256-GCM and SM4-GCM;
//! - `sealed.rs`: the chunked layout, whole objects, ranges, and objects written as they grow;
//! - `master.rs`: master keys from the environment or a file, and their ids.

#![forbid(unsafe_code)]

pub mod cipher;
pub mod master;
pub mod sealed;

use std::ops::Range;

use base64::Engine as _;
use hkdf::Hkdf;
use sha2::Sha256;

pub use cipher::Cipher;
pub use master::{MasterKey, MASTER_KEY_ENV};
pub use sealed::{Header, OpenReader, SealedSpan, Sealer, HEADER_LEN};

/// Why an object or a key did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    #[error("the object or its key was altered (the authentication tag does not match)")]
    Tampered,
    #[error("the object was cut short")]
    Truncated,
    #[error("not a sealed object")]
    NotSealed,
    #[error("not a wrapped key: {0}")]
    BadEnvelope(&'static str),
    #[error("the key of the wrong length for its cipher")]
    BadKey,
    #[error("the master key {0} that wrapped this object's key is not loaded")]
    UnknownMasterKey(String),
    #[error("a master key must be 32 bytes in base64")]
    BadMasterKey,
    #[error("master key file {0}: {1}")]
    KeyFile(String, std::io::ErrorKind),
    #[error("the object is too large to seal")]
    TooLarge,
}

/// An object's data key, wrapped by a master key: what is stored beside the object. Written as
/// one line, `cipher:master key id:base64(nonce | wrapped key | tag)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub cipher: Cipher,
    pub master_id: String,
    wrapped: Vec<u8>,
}

impl Envelope {
    pub fn to_text(&self) -> String {
        let wrapped = base64::engine::general_purpose::STANDARD.encode(&self.wrapped);
        format!("{}:{}:{wrapped}", self.cipher.name(), self.master_id)
    }

    pub fn parse(text: &str) -> Result<Envelope, VaultError> {
        let mut parts = text.splitn(3, ':');
        let cipher = parts.next().and_then(Cipher::from_name).ok_or(VaultError::BadEnvelope("cipher"))?;
        let master_id = parts.next().filter(|id| !id.is_empty()).ok_or(VaultError::BadEnvelope("master key id"))?;
        let wrapped = parts
            .next()
            .and_then(|w| base64::engine::general_purpose::STANDARD.decode(w).ok())
            .filter(|w| w.len() == cipher::NONCE_LEN + cipher.key_len() + cipher::TAG_LEN)
            .ok_or(VaultError::BadEnvelope("wrapped key"))?;
        Ok(Envelope { cipher, master_id: master_id.to_owned(), wrapped })
    }
}

/// The master keys loaded (the current one wraps new data keys; older ones only open what they
/// wrapped until it is re-wrapped) and the cipher new objects are sealed with.
#[derive(Debug, Clone)]
pub struct Vault {
    current: MasterKey,
    older: Vec<MasterKey>,
    cipher: Cipher,
    chunk: usize,
}

impl Vault {
    pub fn new(current: MasterKey, cipher: Cipher) -> Vault {
        Vault { current, older: Vec::new(), cipher, chunk: sealed::CHUNK }
    }

    /// Also opens what `older` wrapped (a rotation's old key).
    pub fn with_older(mut self, older: MasterKey) -> Vault {
        self.older.push(older);
        self
    }

    /// Seals with chunks of `chunk` bytes instead of [`sealed::CHUNK`] (tests of the layout).
    pub fn with_chunk(mut self, chunk: usize) -> Vault {
        self.chunk = chunk.max(1);
        self
    }

    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    pub fn master_id(&self) -> &str {
        self.current.id()
    }

    /// A new object: its sealed bytes and its envelope.
    pub fn seal(&self, plaintext: &[u8]) -> (Envelope, Vec<u8>) {
        let (envelope, key) = self.new_data_key();
        (envelope, sealed::seal(self.cipher, &key, plaintext, self.chunk))
    }

    /// A new object written as it grows: the sealer and the envelope to store with it.
    pub fn sealer(&self) -> (Envelope, Sealer) {
        let (envelope, key) = self.new_data_key();
        (envelope, Sealer::new(self.cipher, key, self.chunk))
    }

    /// Another object sealed under `envelope`'s data key (a recording's views share its key, and
    /// so its envelope): a fresh nonce prefix of its own.
    pub fn sealer_under(&self, envelope: &Envelope) -> Result<Sealer, VaultError> {
        Ok(Sealer::new(envelope.cipher, self.unwrap_key(envelope)?, self.chunk))
    }

    /// The plaintext of the sealed object `inner` reads, as it is read (see [`OpenReader`]).
    pub fn reader<R: std::io::Read>(
        &self,
        envelope: &Envelope,
        inner: R,
        complete_chunks_only: bool,
    ) -> std::io::Result<OpenReader<R>> {
        let key = self.unwrap_key(envelope).map_err(std::io::Error::other)?;
        OpenReader::new(inner, key, complete_chunks_only)
    }

    /// A whole object's plaintext; refused if any byte was changed or the end is missing.
    pub fn open(&self, envelope: &Envelope, sealed_bytes: &[u8]) -> Result<Vec<u8>, VaultError> {
        sealed::open(&self.unwrap_key(envelope)?, sealed_bytes)
    }

    /// What a writer that died mid-object had completed (whole chunks).
    pub fn open_complete_chunks(&self, envelope: &Envelope, sealed_bytes: &[u8]) -> Result<Vec<u8>, VaultError> {
        sealed::open_complete_chunks(&self.unwrap_key(envelope)?, sealed_bytes)
    }

    /// A plaintext range: the chunks `span` names (read by the caller from the object, after its
    /// header: [`Header::parse`], [`Header::plain_len`], [`Header::locate`]) opened and cut.
    /// `lenient_end`: see [`Header::open_span`].
    pub fn open_span(
        &self,
        envelope: &Envelope,
        header: &Header,
        span: &SealedSpan,
        sealed_chunks: &[u8],
        lenient_end: bool,
    ) -> Result<Vec<u8>, VaultError> {
        header.open_span(&self.unwrap_key(envelope)?, span, sealed_chunks, lenient_end)
    }

    /// `range` of an object held whole in memory.
    pub fn open_range(
        &self,
        envelope: &Envelope,
        sealed_bytes: &[u8],
        range: Range<u64>,
    ) -> Result<Vec<u8>, VaultError> {
        let header = Header::parse(sealed_bytes)?;
        let plain_len = header.plain_len(sealed_bytes.len() as u64)?;
        let span = header.locate(&range, plain_len);
        let bytes =
            sealed_bytes.get(span.sealed.start as usize..span.sealed.end as usize).ok_or(VaultError::Truncated)?;
        self.open_span(envelope, &header, &span, bytes, false)
    }

    /// The envelope wrapped by the current master key (`None` if it already is).
    pub fn rewrap(&self, envelope: &Envelope) -> Result<Option<Envelope>, VaultError> {
        if envelope.master_id == self.current.id() {
            return Ok(None);
        }
        let key = self.unwrap_key(envelope)?;
        Ok(Some(self.wrap(envelope.cipher, &key)))
    }

    fn new_data_key(&self) -> (Envelope, Vec<u8>) {
        let mut key = vec![0u8; self.cipher.key_len()];
        getrandom::fill(&mut key).expect("the OS random source is available");
        (self.wrap(self.cipher, &key), key)
    }

    fn wrap(&self, cipher: Cipher, key: &[u8]) -> Envelope {
        let mut nonce = [0u8; cipher::NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the OS random source is available");
        let kek = key_encryption_key(&self.current, cipher);
        let mut wrapped = nonce.to_vec();
        wrapped.extend(cipher.seal(&kek, &nonce, wrap_aad(cipher).as_bytes(), key));
        Envelope { cipher, master_id: self.current.id().to_owned(), wrapped }
    }

    fn unwrap_key(&self, envelope: &Envelope) -> Result<Vec<u8>, VaultError> {
        let master = std::iter::once(&self.current)
            .chain(&self.older)
            .find(|k| k.id() == envelope.master_id)
            .ok_or_else(|| VaultError::UnknownMasterKey(envelope.master_id.clone()))?;
        let cipher = envelope.cipher;
        let (nonce, wrapped) = envelope.wrapped.split_at(cipher::NONCE_LEN);
        let nonce: [u8; cipher::NONCE_LEN] = nonce.try_into().map_err(|_| VaultError::BadEnvelope("nonce"))?;
        cipher.open(&key_encryption_key(master, cipher), &nonce, wrap_aad(cipher).as_bytes(), wrapped)
    }
}

/// The key that wraps data keys of `cipher`: derived from the master key with HKDF-SHA-256, one
/// per cipher (so an SM4 deployment's wrapping key is its own 128 bits).
fn key_encryption_key(master: &MasterKey, cipher: Cipher) -> Vec<u8> {
    let mut kek = vec![0u8; cipher.key_len()];
    Hkdf::<Sha256>::new(None, master.bytes())
        .expand(format!("xiaowu key wrap {}", cipher.name()).as_bytes(), &mut kek)
        .expect("a key of at most 32 bytes");
    kek
}

fn wrap_aad(cipher: Cipher) -> String {
    format!("xiaowu data key {}", cipher.name())
}
