//! Whether a file name carries a content hash, so its bytes can never change
//! under that name and browsers may keep it for a year (`immutable`).
//!
//! Recognised: Django's `ManifestStaticFilesStorage` and whitenoise's
//! `CompressedManifestStaticFilesStorage` (`app.3f2a1b9c0d4e.css`, 12 hex
//! digits of an MD5), and webpack/Parcel-style `name.<hash>.ext` or
//! `name-<hash>.ext` with 8 to 64 hex digits. A precompressed sibling
//! (`.gz`, `.br`) is judged by the name it compresses.

/// Fewest hex digits taken for a hash; shorter runs are too often words or versions.
const MIN_HASH: usize = 8;
/// Most hex digits taken for a hash (a full SHA-256).
const MAX_HASH: usize = 64;

/// Whether the last path segment of `path` names a content-hashed file.
pub fn is_hashed(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let name = name.strip_suffix(".gz").or_else(|| name.strip_suffix(".br")).unwrap_or(name);
    // The hash sits before the extension: `stem.<hash>.ext` or `stem-<hash>.ext`.
    let Some((stem, _ext)) = name.rsplit_once('.') else { return false };
    let candidate = match stem.rfind(['.', '-']) {
        Some(at) if at > 0 => &stem[at + 1..],
        _ => return false,
    };
    looks_like_hash(candidate)
}

/// 8-64 hex digits with at least one digit and one letter: rules out
/// version numbers (`20240101`) and hex-only words (`deadbeef`... rarely).
fn looks_like_hash(s: &str) -> bool {
    (MIN_HASH..=MAX_HASH).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes().any(|b| b.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::is_hashed;

    #[test]
    fn hashed_names() {
        let cases: &[(&str, bool)] = &[
            // Django ManifestStaticFilesStorage / whitenoise.
            ("css/app.3f2a1b9c0d4e.css", true),
            ("admin/js/core.9c1d1e0a2b7f.js", true),
            ("css/app.3f2a1b9c0d4e.css.gz", true),
            ("css/app.3f2a1b9c0d4e.css.br", true),
            ("img/logo.5d41402abc4b.svg", true),
            // webpack / parcel.
            ("main.1a2b3c4d.js", true),
            ("vendors-node_modules.0f9e8d7c6b5a4f3e2d1c.js", true),
            ("chunk-4e5f6a7b.css", true),
            ("bundle.8d969eef6ecad3c29a3a629280e686cf0c3f5d5a86aff3ca12020c923adc6c92.js", true),
            // Not hashed.
            ("css/app.css", false),
            ("css/app.css.gz", false),
            ("jquery-3.7.1.min.js", false),
            ("backup-20240101.css", false),
            ("logo.deadbeef.png", false),
            ("app.1a2b3c4.js", false),
            ("favicon.ico", false),
            ("README", false),
            (".3f2a1b9c0d4e.css", false),
            ("staticfiles.json", false),
            ("font.ABCDEF123456.woff2", false),
            ("x.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0.js", false),
        ];
        for (name, expected) in cases {
            assert_eq!(is_hashed(name), *expected, "{name}");
        }
    }
}
