//! Unpacking a tenant's source tarball into a temporary workspace: only
//! files and directories, nothing outside the tree, bounded in size.

use std::io::Read;
use std::path::Path;

use super::error::BuildError;
use crate::detect::{self, AppSpec};

/// Largest unpacked source tree accepted.
const MAX_SOURCE_BYTES: u64 = 1024 * 1024 * 1024;

/// A source tree unpacked into a temporary directory (deleted on drop).
pub(super) struct Workspace {
    pub _dir: tempfile::TempDir,
    pub src: std::path::PathBuf,
    pub spec: AppSpec,
    /// Links and special files left out of the tree.
    pub skipped: usize,
}

/// Unpacks a source tarball off the runtime and reads how to run it.
pub(super) async fn unpack_source(source: bytes::Bytes) -> Result<Workspace, BuildError> {
    let dir = tempfile::tempdir()?;
    let src = dir.path().join("src");
    std::fs::create_dir(&src)?;
    let unpack_dir = src.clone();
    let skipped = tokio::task::spawn_blocking(move || unpack(&source, &unpack_dir))
        .await
        .map_err(|e| BuildError::Unpack(e.to_string()))??;
    let spec = detect::detect(&src)?;
    Ok(Workspace { _dir: dir, src, spec, skipped })
}

/// Unpacks a gzip tarball, refusing paths that escape and oversized trees.
/// Only regular files and directories are unpacked: a symlink or device in
/// a tenant's source would make the agent (root, on the host) read or pack
/// files outside the tree. Returns how many entries were skipped.
fn unpack(data: &[u8], into: &Path) -> Result<usize, BuildError> {
    let bad = |e: std::io::Error| BuildError::Unpack(e.to_string());
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(data));
    let mut total = 0u64;
    let mut skipped = 0;
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir()) {
            skipped += 1;
            continue;
        }
        total += entry.header().size().map_err(bad)?;
        if total > MAX_SOURCE_BYTES {
            return Err(BuildError::Unpack("the unpacked source is larger than 1 GiB".into()));
        }
        let path = entry.path().map_err(bad)?.into_owned();
        if path.components().any(|c| c.as_os_str() == ".git") {
            continue;
        }
        // `unpack_in` skips (returns false for) entries that would land
        // outside `into`; such a tarball is hostile or broken: refuse it whole.
        if !entry.unpack_in(into).map_err(bad)? {
            return Err(BuildError::Unpack(format!("{} points outside the source tree", path.display())));
        }
    }
    // Drain (bounded) whatever follows the archive, without keeping it.
    std::io::copy(&mut archive.into_inner().take(MAX_SOURCE_BYTES), &mut std::io::sink()).map_err(bad)?;
    Ok(skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpack_refuses_escaping_paths() {
        let mut header = tar::Header::new_gnu();
        let data = b"evil";
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        // `set_path` refuses `..`; write the raw name like a hostile client would.
        header.as_old_mut().name[..9].copy_from_slice(b"../escape");
        header.set_cksum();
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        tar.append(&header, &data[..]).unwrap();
        let gz = tar.into_inner().unwrap().finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("src");
        std::fs::create_dir(&target).unwrap();
        let error = unpack(&gz, &target).expect_err("an escaping entry is refused");
        assert!(matches!(&error, BuildError::Unpack(m) if m.contains("../escape")), "{error:?}");
        assert!(!dir.path().join("escape").exists(), "an entry escaped the source directory");
    }

    #[test]
    fn unpack_skips_symlinks() {
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast()));
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        tar.append_link(&mut link, "static", "/etc").unwrap();
        let mut file = tar::Header::new_gnu();
        file.set_size(3);
        file.set_mode(0o644);
        file.set_cksum();
        tar.append_data(&mut file, "wsgi.py", &b"x=1"[..]).unwrap();
        let gz = tar.into_inner().unwrap().finish().unwrap();
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(unpack(&gz, dir.path()).unwrap(), 1);
        assert!(dir.path().join("wsgi.py").is_file());
        assert!(std::fs::symlink_metadata(dir.path().join("static")).is_err(), "the symlink was not created");
    }
}
