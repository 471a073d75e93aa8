//! Static assets of a release: an unpacked bundle indexed by URL path.
//! (The reply for a found file is built by the proxy's static phase,
//! `proxy/static_files.rs`, so this module never imports the server side.)
//!
//! Only regular files found when the bundle is loaded can ever be served: a
//! request path is decoded and looked up in that index, never joined onto a
//! filesystem path, so `..`, encoded slashes and symlinks lead nowhere.

pub mod bundle;
pub mod grace;
pub mod hashed;

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::HeaderValue;
use paas_types::routing::StaticBundle;
use sha2::{Digest, Sha256};

/// Most files indexed per bundle, a guard against pathological tarballs.
const MAX_FILES: usize = 100_000;

/// One servable file (or a precompressed variant of one).
#[derive(Debug)]
pub struct StaticFile {
    pub path: PathBuf,
    pub len: u64,
    pub modified: SystemTime,
    pub etag: HeaderValue,
    pub last_modified: HeaderValue,
    pub content_type: HeaderValue,
    /// The content, when it fit in the memory budget.
    pub data: Option<Bytes>,
    /// The name carries a content hash ([`hashed::is_hashed`]): cache for a year.
    pub immutable: bool,
    pub gzip: Option<Arc<StaticFile>>,
    pub brotli: Option<Arc<StaticFile>>,
}

#[derive(Debug)]
struct Mapping {
    prefix: String,
    files: HashMap<String, Arc<StaticFile>>,
}

/// Bytes of static content held in memory, shared by all bundles.
#[derive(Debug)]
pub struct MemoryBudget(AtomicU64);

impl MemoryBudget {
    pub fn new(bytes: u64) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget(AtomicU64::new(bytes)))
    }

    fn take(&self, n: u64) -> bool {
        self.0.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(n)).is_ok()
    }
}

/// A loaded bundle.
#[derive(Debug)]
pub struct StaticSite {
    pub sha256: String,
    mappings: Vec<Mapping>,
    budget: Arc<MemoryBudget>,
    held: u64,
}

impl Drop for StaticSite {
    fn drop(&mut self) {
        self.budget.0.fetch_add(self.held, Ordering::Relaxed);
    }
}

impl StaticSite {
    /// Indexes the unpacked bundle at `root` (blocking: call from `spawn_blocking`).
    pub fn load(root: &Path, bundle: &StaticBundle, budget: Arc<MemoryBudget>) -> io::Result<StaticSite> {
        let mut site = StaticSite { sha256: bundle.sha256.clone(), mappings: Vec::new(), budget, held: 0 };
        for mapping in &bundle.mappings {
            if !mapping.url_prefix.starts_with('/') || !mapping.url_prefix.ends_with('/') || !is_relative(&mapping.dir)
            {
                tracing::warn!(prefix = %mapping.url_prefix, dir = %mapping.dir, "ignoring invalid static mapping");
                continue;
            }
            let mut found = Vec::new();
            walk(&root.join(&mapping.dir), String::new(), &mut found)?;
            let files = site.index(found)?;
            site.mappings.push(Mapping { prefix: mapping.url_prefix.clone(), files });
        }
        // Longest prefix wins when mappings nest.
        site.mappings.sort_by_key(|m| std::cmp::Reverse(m.prefix.len()));
        Ok(site)
    }

    fn index(&mut self, found: Vec<(String, PathBuf, fs::Metadata)>) -> io::Result<HashMap<String, Arc<StaticFile>>> {
        let mut plain = HashMap::with_capacity(found.len());
        for (rel, path, meta) in found {
            let file = self.file(&rel, path, &meta)?;
            plain.insert(rel, file);
        }
        let mut files = HashMap::with_capacity(plain.len());
        for (rel, file) in &plain {
            let mut file = StaticFile::clone_shallow(file);
            file.gzip = plain.get(&format!("{rel}.gz")).map(|v| variant_of(v, &file));
            file.brotli = plain.get(&format!("{rel}.br")).map(|v| variant_of(v, &file));
            files.insert(rel.clone(), Arc::new(file));
        }
        Ok(files)
    }

    fn file(&mut self, rel: &str, path: PathBuf, meta: &fs::Metadata) -> io::Result<StaticFile> {
        let len = meta.len();
        let modified = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let data = if self.budget.take(len) {
            self.held += len;
            Some(Bytes::from(fs::read(&path)?))
        } else {
            None
        };
        // Content hashes when we have the bytes: bundles often carry identical mtimes across releases.
        let tag = match &data {
            Some(d) => hex::encode(&Sha256::digest(d)[..8]),
            None => format!(
                "{len:x}-{:x}",
                modified.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
            ),
        };
        Ok(StaticFile {
            path,
            len,
            modified,
            etag: HeaderValue::from_str(&format!("\"{tag}\"")).expect("hex is a valid header"),
            last_modified: HeaderValue::from_str(&httpdate::fmt_http_date(modified)).expect("date is ascii"),
            content_type: HeaderValue::from_static(content_type(rel)),
            data,
            immutable: hashed::is_hashed(rel),
            gzip: None,
            brotli: None,
        })
    }

    /// What a request path names in this bundle.
    pub fn find(&self, path: &str) -> Found {
        let Some(mapping) = self.mappings.iter().find(|m| path.starts_with(&m.prefix)) else {
            return Found::Unmapped;
        };
        let rest = &path[mapping.prefix.len()..];
        match decode_path(rest).and_then(|rel| mapping.files.get(&rel).cloned()) {
            Some(file) => Found::File(file),
            None => Found::Missing,
        }
    }
}

/// Result of looking a path up in a bundle.
#[derive(Debug)]
pub enum Found {
    File(Arc<StaticFile>),
    /// Under a static prefix, but no such file: 404 from the router.
    Missing,
    /// Outside every static prefix: the request belongs to the app.
    Unmapped,
}

impl StaticFile {
    fn clone_shallow(f: &StaticFile) -> StaticFile {
        StaticFile {
            path: f.path.clone(),
            len: f.len,
            modified: f.modified,
            etag: f.etag.clone(),
            last_modified: f.last_modified.clone(),
            content_type: f.content_type.clone(),
            data: f.data.clone(),
            immutable: f.immutable,
            gzip: None,
            brotli: None,
        }
    }
}

/// A precompressed variant keeps the original's content type and a distinct ETag.
fn variant_of(variant: &StaticFile, original: &StaticFile) -> Arc<StaticFile> {
    let mut v = StaticFile::clone_shallow(variant);
    v.content_type = original.content_type.clone();
    v.immutable = original.immutable;
    Arc::new(v)
}

fn is_relative(dir: &str) -> bool {
    Path::new(dir).components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir))
}

/// Collects regular files under `dir` (symlinks are skipped: they could point anywhere).
fn walk(dir: &Path, prefix: String, out: &mut Vec<(String, PathBuf, fs::Metadata)>) -> io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let meta = fs::symlink_metadata(entry.path())?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        let rel = format!("{prefix}{name}");
        if meta.is_dir() {
            walk(&entry.path(), format!("{rel}/"), out)?;
        } else if meta.is_file() && out.len() < MAX_FILES {
            out.push((rel, entry.path(), meta));
        }
    }
    Ok(())
}

/// Percent-decodes a relative URL path; `None` for anything that is not a plain file path.
pub fn decode_path(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let path = String::from_utf8(out).ok()?;
    let clean = !path.is_empty()
        && !path.contains(['\\', '\0'])
        && path.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..");
    clean.then_some(path)
}

/// Content type by extension; text types say UTF-8.
pub fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "pdf" => "application/pdf",
        "wasm" => "application/wasm",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "br" => "application/x-brotli",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paas_types::routing::StaticMapping;

    #[test]
    fn decoding_refuses_traversal() {
        assert_eq!(decode_path("css/app%20x.css").as_deref(), Some("css/app x.css"));
        assert_eq!(decode_path("../etc/passwd"), None);
        assert_eq!(decode_path("a/%2e%2e/b"), None);
        assert_eq!(decode_path("a//b"), None);
        assert_eq!(decode_path("a%5cb"), None);
        assert_eq!(decode_path("a%zz"), None);
        assert_eq!(decode_path(""), None);
    }

    #[test]
    fn loads_files_variants_and_skips_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("static/css")).unwrap();
        fs::write(root.join("static/css/app.css"), "body{}").unwrap();
        fs::write(root.join("static/css/app.css.gz"), "gz").unwrap();
        fs::write(root.join("secret.txt"), "no").unwrap();
        std::os::unix::fs::symlink(root.join("secret.txt"), root.join("static/link.txt")).unwrap();
        let bundle = StaticBundle {
            release: 1,
            path: "/x".into(),
            sha256: "00".into(),
            mappings: vec![StaticMapping { url_prefix: "/static/".into(), dir: "static".into() }],
        };
        let budget = MemoryBudget::new(1 << 20);
        let site = StaticSite::load(root, &bundle, budget.clone()).unwrap();
        let Found::File(css) = site.find("/static/css/app.css") else { panic!("css not found") };
        assert_eq!(css.data.as_deref(), Some(&b"body{}"[..]));
        assert_eq!(css.content_type, "text/css; charset=utf-8");
        assert_eq!(css.gzip.as_ref().unwrap().content_type, "text/css; charset=utf-8");
        assert!(matches!(site.find("/static/link.txt"), Found::Missing));
        assert!(matches!(site.find("/static/../secret.txt"), Found::Missing));
        assert!(matches!(site.find("/other"), Found::Unmapped));
        drop(site);
        assert_eq!(budget.0.load(Ordering::Relaxed), 1 << 20);
    }
}
