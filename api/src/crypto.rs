//! Encryption at rest under the operator's secret key (`PAAS_SECRET_KEY`).
//!
//! ChaCha20-Poly1305 with a fresh random 96-bit nonce per value, stored as
//! `nonce || ciphertext+tag`. Every value is bound to what it is for (the
//! associated data, e.g. `certificate-key:<domain id>`), so a ciphertext copied
//! into another row does not open there.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("the secret key must be 32 bytes, written as 64 hex digits or in base64 (e.g. `openssl rand -hex 32`)")]
    BadKey,
    #[error("the value does not decrypt with this secret key (another key, or tampered with)")]
    Open,
}

/// The operator's 32-byte key; `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey(ChaCha20Poly1305);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
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
        Ok(SecretKey(ChaCha20Poly1305::new(Key::from_slice(&key))))
    }

    /// A random key, hex-encoded (tests, and a hint for operators).
    pub fn generate_hex() -> String {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        hex::encode(key)
    }

    /// Encrypts `plaintext` for `purpose`: `nonce || ciphertext`.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let sealed = self
            .0
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: purpose.as_bytes() })
            .expect("ChaCha20-Poly1305 encrypts any message that fits in memory");
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts what [`SecretKey::seal`] made for the same `purpose`.
    pub fn open(&self, purpose: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sealed.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Open);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        self.0
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: purpose.as_bytes() })
            .map_err(|_| CryptoError::Open)
    }

    /// [`SecretKey::open`] for text.
    pub fn open_string(&self, purpose: &str, sealed: &[u8]) -> Result<String, CryptoError> {
        String::from_utf8(self.open(purpose, sealed)?).map_err(|_| CryptoError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SecretKey {
        SecretKey::parse(&SecretKey::generate_hex()).unwrap()
    }

    #[test]
    fn round_trip_with_a_fresh_nonce_each_time() {
        let key = key();
        let a = key.seal("certificate-key:1", b"-----BEGIN PRIVATE KEY-----");
        let b = key.seal("certificate-key:1", b"-----BEGIN PRIVATE KEY-----");
        assert_ne!(a, b, "same plaintext, different nonces");
        assert!(!a.windows(5).any(|w| w == b"BEGIN"), "the plaintext does not show");
        assert_eq!(key.open("certificate-key:1", &a).unwrap(), b"-----BEGIN PRIVATE KEY-----");
        assert_eq!(key.open_string("certificate-key:1", &b).unwrap(), "-----BEGIN PRIVATE KEY-----");
    }

    #[test]
    fn another_key_or_purpose_does_not_open() {
        let sealed = key().seal("p", b"secret");
        assert_eq!(key().open("p", &sealed), Err(CryptoError::Open));
        let key = key();
        let sealed = key.seal("certificate-key:1", b"secret");
        assert_eq!(key.open("certificate-key:2", &sealed), Err(CryptoError::Open));
    }

    #[test]
    fn tampered_or_truncated_ciphertext_does_not_open() {
        let key = key();
        let sealed = key.seal("p", b"secret");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert_eq!(key.open("p", &bad), Err(CryptoError::Open), "byte {i} flipped");
        }
        assert_eq!(key.open("p", &sealed[..sealed.len() - 1]), Err(CryptoError::Open));
        assert_eq!(key.open("p", &sealed[..5]), Err(CryptoError::Open));
    }

    #[test]
    fn keys_parse_from_hex_and_base64_of_32_bytes_only() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let from_hex = SecretKey::parse(hex).unwrap();
        let b64 = "ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=";
        let from_b64 = SecretKey::parse(b64).unwrap();
        assert_eq!(from_b64.open("p", &from_hex.seal("p", b"x")).unwrap(), b"x", "the same key both ways");
        assert!(SecretKey::parse(&b64[..b64.len() - 1]).is_ok(), "unpadded base64");
        assert_eq!(SecretKey::parse("too short").unwrap_err(), CryptoError::BadKey);
        assert_eq!(SecretKey::parse(&hex[..62]).unwrap_err(), CryptoError::BadKey);
        assert_eq!(SecretKey::parse("").unwrap_err(), CryptoError::BadKey);
    }
}
