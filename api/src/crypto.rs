//! Encryption at rest under the operator's secret key (`PAAS_SECRET_KEY`).
//!
//! XChaCha20-Poly1305 with a fresh random 192-bit nonce per value, stored as
//! `0x01 || key id (4 bytes) || nonce (24) || ciphertext+tag`. The key id
//! (the first 4 bytes of a SHA-256 of the key) says which key sealed a
//! value, so a [`Keyring`] holding the current key and previous ones opens
//! values of any of them, and rotation knows what is left to reseal.
//!
//! Every value is bound to what it is for (the associated data, e.g.
//! `config-var:<app id>:<key>`), together with the header, so a ciphertext
//! copied into another row (or given another key id) does not open there.
//!
//! Values sealed before key ids existed (certificate keys of issue 14) are
//! `nonce (12) || ciphertext+tag` under ChaCha20-Poly1305; they still open,
//! and rotation reseals them in the current format.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// First byte of every value sealed in the current format.
const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 4;
const HEADER_LEN: usize = 1 + KEY_ID_LEN;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const LEGACY_NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("the secret key must be 32 bytes, written as 64 hex digits or in base64 (e.g. `openssl rand -hex 32`)")]
    BadKey,
    #[error("the value does not decrypt with this secret key (another key, or tampered with)")]
    Open,
    #[error(
        "the value was sealed under key {0}, which is neither PAAS_SECRET_KEY nor a PAAS_SECRET_KEY_PREVIOUS: \
         give the key it was sealed with as PAAS_SECRET_KEY_PREVIOUS"
    )]
    UnknownKey(String),
}

/// One 32-byte key; `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey {
    id: [u8; KEY_ID_LEN],
    cipher: XChaCha20Poly1305,
    legacy: ChaCha20Poly1305,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey({})", self.id())
    }
}

impl SecretKey {
    /// Parses 64 hex digits or base64 (standard or URL-safe, padded or not) of exactly 32 bytes.
    pub fn parse(text: &str) -> Result<SecretKey, CryptoError> {
        use base64::Engine;
        let text = text.trim();
        let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(text).map_err(|_| CryptoError::BadKey)?
        } else {
            let engines = [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::STANDARD_NO_PAD,
                &base64::engine::general_purpose::URL_SAFE,
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ];
            engines.iter().find_map(|e| e.decode(text).ok()).ok_or(CryptoError::BadKey)?
        };
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::BadKey)?;
        let digest = Sha256::new().chain_update(b"paas secret key id\0").chain_update(key).finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Ok(SecretKey {
            id,
            cipher: XChaCha20Poly1305::new(Key::from_slice(&key)),
            legacy: ChaCha20Poly1305::new(Key::from_slice(&key)),
        })
    }

    /// A random key, hex-encoded (tests, and a hint for operators).
    pub fn generate_hex() -> String {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        hex::encode(key)
    }

    /// The key's id as 8 hex digits: safe to print (it says which key, not the key).
    pub fn id(&self) -> String {
        hex::encode(self.id)
    }

    fn seal(&self, purpose: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + plaintext.len() + TAG_LEN);
        out.push(VERSION);
        out.extend_from_slice(&self.id);
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let aad = associated_data(&out, purpose);
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad })
            .expect("XChaCha20-Poly1305 encrypts any message that fits in memory");
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    fn open(&self, purpose: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (header, rest) = sealed.split_at(HEADER_LEN);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let aad = associated_data(header, purpose);
        self.cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad })
            .map_err(|_| CryptoError::Open)
    }

    fn open_legacy(&self, purpose: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < LEGACY_NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Open);
        }
        let (nonce, ciphertext) = sealed.split_at(LEGACY_NONCE_LEN);
        self.legacy
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: purpose.as_bytes() })
            .map_err(|_| CryptoError::Open)
    }
}

/// The header and the purpose: a value opens only as what it was sealed for.
fn associated_data(header: &[u8], purpose: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + purpose.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(purpose.as_bytes());
    aad
}

/// The current key (everything is sealed under it) and previous ones (still
/// accepted for reading until `paas-api rotate-secret-key` has resealed
/// everything under the current key).
#[derive(Clone, Debug)]
pub struct Keyring {
    current: SecretKey,
    previous: Vec<SecretKey>,
}

impl Keyring {
    /// A keyring; previous keys equal to the current one are ignored.
    pub fn new(current: SecretKey, previous: Vec<SecretKey>) -> Keyring {
        let previous = previous.into_iter().filter(|k| k.id != current.id).collect();
        Keyring { current, previous }
    }

    /// A keyring of one random key (tests).
    pub fn generate() -> Keyring {
        Keyring::new(SecretKey::parse(&SecretKey::generate_hex()).expect("a generated key parses"), Vec::new())
    }

    /// The id of the key values are sealed under.
    pub fn current_id(&self) -> String {
        self.current.id()
    }

    /// The ids of the previous keys, as configured.
    pub fn previous_ids(&self) -> Vec<String> {
        self.previous.iter().map(SecretKey::id).collect()
    }

    /// Encrypts `plaintext` for `purpose` under the current key.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Vec<u8> {
        self.current.seal(purpose, plaintext)
    }

    /// Decrypts what [`Keyring::seal`] made for the same `purpose`, under any
    /// key of the ring (and values of the format without key ids).
    pub fn open(&self, purpose: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut unknown = None;
        if sealed.len() >= HEADER_LEN + NONCE_LEN + TAG_LEN && sealed[0] == VERSION {
            let id = &sealed[1..HEADER_LEN];
            match self.keys().find(|k| k.id == id) {
                Some(key) => {
                    if let Ok(plain) = key.open(purpose, sealed) {
                        return Ok(plain);
                    }
                }
                None => unknown = Some(hex::encode(id)),
            }
        }
        // A value of the format before key ids whose random nonce happens to
        // start like a header opens here too.
        if let Some(plain) = self.keys().find_map(|k| k.open_legacy(purpose, sealed).ok()) {
            return Ok(plain);
        }
        Err(unknown.map_or(CryptoError::Open, CryptoError::UnknownKey))
    }

    /// [`Keyring::open`] for text.
    pub fn open_string(&self, purpose: &str, sealed: &[u8]) -> Result<String, CryptoError> {
        String::from_utf8(self.open(purpose, sealed)?).map_err(|_| CryptoError::Open)
    }

    /// Whether `sealed` is in the current format under the current key (what
    /// rotation leaves alone).
    pub fn is_current(&self, sealed: &[u8]) -> bool {
        sealed.len() >= HEADER_LEN + NONCE_LEN + TAG_LEN
            && sealed[0] == VERSION
            && sealed[1..HEADER_LEN] == self.current.id
    }

    /// Opens `sealed` and seals it again under the current key, for the same purpose.
    pub fn reseal(&self, purpose: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        Ok(self.seal(purpose, &self.open(purpose, sealed)?))
    }

    fn keys(&self) -> impl Iterator<Item = &SecretKey> {
        std::iter::once(&self.current).chain(&self.previous)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::parse(&SecretKey::generate_hex()).unwrap()
    }

    fn ring() -> Keyring {
        Keyring::new(key(), Vec::new())
    }

    /// What the format before key ids made (ChaCha20-Poly1305, 12-byte nonce).
    fn seal_legacy(key: &SecretKey, purpose: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; LEGACY_NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed =
            key.legacy.encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: purpose.as_bytes() }).unwrap();
        [nonce.as_slice(), &sealed].concat()
    }

    #[test]
    fn round_trip_with_a_fresh_nonce_each_time() {
        let ring = ring();
        let a = ring.seal("certificate-key:1", b"-----BEGIN PRIVATE KEY-----");
        let b = ring.seal("certificate-key:1", b"-----BEGIN PRIVATE KEY-----");
        assert_ne!(a, b, "same plaintext, different nonces");
        assert!(!a.windows(5).any(|w| w == b"BEGIN"), "the plaintext does not show");
        assert_eq!(a[0], VERSION);
        assert_eq!(hex::encode(&a[1..5]), ring.current_id(), "the header names the key");
        assert_eq!(a.len(), 5 + 24 + 27 + 16);
        assert_eq!(ring.open("certificate-key:1", &a).unwrap(), b"-----BEGIN PRIVATE KEY-----");
        assert_eq!(ring.open_string("certificate-key:1", &b).unwrap(), "-----BEGIN PRIVATE KEY-----");
    }

    #[test]
    fn another_key_or_purpose_does_not_open() {
        let sealed = ring().seal("p", b"secret");
        assert!(matches!(ring().open("p", &sealed), Err(CryptoError::UnknownKey(_))));
        let ring = ring();
        let sealed = ring.seal("config-var:app-1:SECRET", b"secret");
        assert_eq!(ring.open("config-var:app-2:SECRET", &sealed), Err(CryptoError::Open), "another row");
        assert_eq!(ring.open("config-var:app-1:OTHER", &sealed), Err(CryptoError::Open), "another key name");
    }

    #[test]
    fn tampered_or_truncated_ciphertext_does_not_open() {
        let ring = ring();
        let sealed = ring.seal("p", b"secret");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(ring.open("p", &bad).is_err(), "byte {i} flipped");
        }
        assert!(ring.open("p", &sealed[..sealed.len() - 1]).is_err());
        assert!(ring.open("p", &sealed[..5]).is_err());
        assert!(ring.open("p", &[]).is_err());
    }

    #[test]
    fn previous_keys_open_and_rotation_reseals_under_the_current_one() {
        let (old, new) = (key(), key());
        let before = Keyring::new(old.clone(), Vec::new());
        let sealed = before.seal("p", b"secret");
        let legacy = seal_legacy(&old, "p", b"older");
        assert!(before.is_current(&sealed) && !before.is_current(&legacy));

        let during = Keyring::new(new.clone(), vec![old.clone(), new.clone()]);
        assert_eq!(during.previous_ids(), vec![old.id()], "the current key is not also a previous one");
        assert!(!during.is_current(&sealed));
        assert_eq!(during.open("p", &sealed).unwrap(), b"secret");
        assert_eq!(during.open("p", &legacy).unwrap(), b"older", "the format before key ids still opens");
        let resealed = during.reseal("p", &sealed).unwrap();
        let resealed_legacy = during.reseal("p", &legacy).unwrap();
        assert!(during.is_current(&resealed) && during.is_current(&resealed_legacy));

        let after = Keyring::new(new, Vec::new());
        assert_eq!(after.open("p", &resealed).unwrap(), b"secret");
        assert_eq!(after.open("p", &resealed_legacy).unwrap(), b"older");
        assert_eq!(after.open("p", &sealed), Err(CryptoError::UnknownKey(old.id())), "says which key is missing");
    }

    #[test]
    fn keys_parse_from_hex_and_base64_of_32_bytes_only() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let from_hex = SecretKey::parse(hex).unwrap();
        let b64 = "ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=";
        let from_b64 = SecretKey::parse(b64).unwrap();
        assert_eq!(from_hex.id(), from_b64.id(), "the same key both ways");
        let sealed = Keyring::new(from_hex, Vec::new()).seal("p", b"x");
        assert_eq!(Keyring::new(from_b64, Vec::new()).open("p", &sealed).unwrap(), b"x");
        assert!(SecretKey::parse(&b64[..b64.len() - 1]).is_ok(), "unpadded base64");
        assert_eq!(SecretKey::parse("too short").unwrap_err(), CryptoError::BadKey);
        assert_eq!(SecretKey::parse(&hex[..62]).unwrap_err(), CryptoError::BadKey);
        assert_eq!(SecretKey::parse("").unwrap_err(), CryptoError::BadKey);
        assert!(!format!("{:?}", SecretKey::parse(hex).unwrap()).contains("0011"), "Debug hides the key");
    }
}
