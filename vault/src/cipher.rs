//! The two authenticated ciphers a deployment may choose: AES-256-GCM (the default) and SM4-GCM
//! (GB/T 39786 deployments: SM4 from GB/T 32907 in the same GCM mode). Both take a 96-bit nonce
//! and add a 128-bit tag; only the key length differs. The implementations are RustCrypto's
//! `aes-gcm` (generic over the block cipher) with `aes` and `sm4`.

use aes_gcm::aead::consts::U12;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, AesGcm};

use crate::VaultError;

/// SM4 in GCM mode with a 96-bit nonce.
type Sm4Gcm = AesGcm<sm4::Sm4, U12>;

/// Bytes a GCM tag adds to each sealed piece.
pub const TAG_LEN: usize = 16;
/// Bytes of a GCM nonce.
pub const NONCE_LEN: usize = 12;

/// Which cipher seals an object (its name is stored with the object's wrapped key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cipher {
    #[serde(rename = "aes-256-gcm")]
    Aes256Gcm,
    #[serde(rename = "sm4-gcm")]
    Sm4Gcm,
}

impl Cipher {
    pub fn name(self) -> &'static str {
        match self {
            Cipher::Aes256Gcm => "aes-256-gcm",
            Cipher::Sm4Gcm => "sm4-gcm",
        }
    }

    pub fn from_name(name: &str) -> Option<Cipher> {
        match name {
            "aes-256-gcm" => Some(Cipher::Aes256Gcm),
            "sm4-gcm" => Some(Cipher::Sm4Gcm),
            _ => None,
        }
    }

    /// The byte in a sealed object's header.
    pub(crate) fn code(self) -> u8 {
        match self {
            Cipher::Aes256Gcm => 1,
            Cipher::Sm4Gcm => 2,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Cipher> {
        match code {
            1 => Some(Cipher::Aes256Gcm),
            2 => Some(Cipher::Sm4Gcm),
            _ => None,
        }
    }

    /// Bytes of a key: 32 for AES-256, 16 for SM4.
    pub fn key_len(self) -> usize {
        match self {
            Cipher::Aes256Gcm => 32,
            Cipher::Sm4Gcm => 16,
        }
    }

    /// `plaintext` sealed under `key` with `nonce`, `aad` bound to it.
    pub(crate) fn seal(self, key: &[u8], nonce: &[u8; NONCE_LEN], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let payload = Payload { msg: plaintext, aad };
        let sealed = match self {
            Cipher::Aes256Gcm => Aes256Gcm::new_from_slice(key).map(|c| c.encrypt(nonce.into(), payload)),
            Cipher::Sm4Gcm => Sm4Gcm::new_from_slice(key).map(|c| c.encrypt(nonce.into(), payload)),
        };
        // Only a key of the wrong length fails, and every key here is made for its cipher.
        sealed.expect("a key of the cipher's length").expect("GCM seals any message this small")
    }

    /// The plaintext, or [`VaultError::Tampered`] if the tag does not match.
    pub(crate) fn open(
        self,
        key: &[u8],
        nonce: &[u8; NONCE_LEN],
        aad: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, VaultError> {
        let payload = Payload { msg: sealed, aad };
        let opened = match self {
            Cipher::Aes256Gcm => Aes256Gcm::new_from_slice(key).map(|c| c.decrypt(nonce.into(), payload)),
            Cipher::Sm4Gcm => Sm4Gcm::new_from_slice(key).map(|c| c.decrypt(nonce.into(), payload)),
        };
        opened.map_err(|_| VaultError::BadKey)?.map_err(|_| VaultError::Tampered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sm4_gcm_matches_a_published_test_vector() {
        // RFC 8998, appendix A.1 (SM4-GCM).
        let hex = |s: &str| {
            (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect::<Vec<u8>>()
        };
        let key = hex("0123456789ABCDEFFEDCBA9876543210");
        let nonce: [u8; 12] = hex("00001234567800000000ABCD").try_into().unwrap();
        let aad = hex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2");
        let plain = hex(
            "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDDEEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
        );
        let sealed = Cipher::Sm4Gcm.seal(&key, &nonce, &aad, &plain);
        let expected = hex(
            "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D83DE3541E4C2B58177E065A9BF7B62EC",
        );
        assert_eq!(sealed, expected);
        assert_eq!(Cipher::Sm4Gcm.open(&key, &nonce, &aad, &sealed).unwrap(), plain);
    }

    #[test]
    fn a_changed_byte_or_aad_does_not_open() {
        for cipher in [Cipher::Aes256Gcm, Cipher::Sm4Gcm] {
            let key = vec![7u8; cipher.key_len()];
            let nonce = [1u8; NONCE_LEN];
            let mut sealed = cipher.seal(&key, &nonce, b"head", b"ID card");
            assert_eq!(cipher.open(&key, &nonce, b"other", &sealed), Err(VaultError::Tampered));
            sealed[0] ^= 1;
            assert_eq!(cipher.open(&key, &nonce, b"head", &sealed), Err(VaultError::Tampered));
        }
    }
}
