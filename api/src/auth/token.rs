//! API token secrets: `paas_` + 32 random bytes in hex. They carry enough
//! entropy that a plain SHA-256 is a safe way to store them.

use rand::RngCore;
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "paas_";

/// A new secret and the short prefix shown in listings.
pub fn generate() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = format!("{PREFIX}{}", hex::encode(bytes));
    let shown = secret[..PREFIX.len() + 6].to_string();
    (secret, shown)
}

/// What the database stores for a secret.
pub fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_and_prefixed() {
        let (a, shown) = generate();
        let (b, _) = generate();
        assert_ne!(a, b);
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 64);
        assert!(a.starts_with(&shown));
        assert_eq!(hash(&a).len(), 32);
        assert_ne!(hash(&a), hash(&b));
    }
}
