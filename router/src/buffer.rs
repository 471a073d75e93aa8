//! Whole-body buffering of requests: in memory up to a limit, then in an
//! unlinked-on-drop temp file.
//!
//! Request bodies are complete before a backend is chosen, so a slow upload
//! costs the router memory or disk, never a WSGI worker. Responses go the other
//! way through [`crate::relay`], whose spool reads ahead of a slow client without
//! holding back the first byte.

use std::io;
use std::path::Path;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tempfile::NamedTempFile;
use tokio::io::AsyncWriteExt;

/// A complete body.
#[derive(Debug, Clone)]
pub enum Buffered {
    Mem(Bytes),
    File { file: Arc<NamedTempFile>, len: u64 },
}

impl Default for Buffered {
    fn default() -> Self {
        Buffered::Mem(Bytes::new())
    }
}

impl Buffered {
    pub fn len(&self) -> u64 {
        match self {
            Buffered::Mem(b) => b.len() as u64,
            Buffered::File { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a body could not be buffered.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("body exceeds {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("writing the spill file")]
    Io(#[source] io::Error),
}

/// Accumulates a body, spilling to `dir` past `mem_limit`, refusing past `max`.
pub struct Spooler<'a> {
    mem_limit: usize,
    max: u64,
    dir: &'a Path,
    mem: Joined,
    file: Option<(NamedTempFile, tokio::fs::File)>,
    len: u64,
}

impl<'a> Spooler<'a> {
    pub fn new(mem_limit: usize, max: u64, dir: &'a Path) -> Self {
        Spooler { mem_limit, max, dir, mem: Joined::default(), file: None, len: 0 }
    }

    /// Adds the next piece of the body.
    pub async fn push(&mut self, data: Bytes) -> Result<(), SpoolError> {
        self.len += data.len() as u64;
        if self.len > self.max {
            return Err(SpoolError::TooLarge { limit: self.max });
        }
        if let Some((_, file)) = &mut self.file {
            return file.write_all(&data).await.map_err(SpoolError::Io);
        }
        if self.len as usize > self.mem_limit {
            return self.spill(data).await;
        }
        self.mem.push(data);
        Ok(())
    }

    async fn spill(&mut self, data: Bytes) -> Result<(), SpoolError> {
        let named = NamedTempFile::new_in(self.dir).map_err(SpoolError::Io)?;
        let mut file = tokio::fs::File::from_std(named.reopen().map_err(SpoolError::Io)?);
        file.write_all(&std::mem::take(&mut self.mem).finish()).await.map_err(SpoolError::Io)?;
        file.write_all(&data).await.map_err(SpoolError::Io)?;
        self.file = Some((named, file));
        Ok(())
    }

    /// The complete body.
    pub async fn finish(self) -> Result<Buffered, SpoolError> {
        match self.file {
            Some((named, mut file)) => {
                file.flush().await.map_err(SpoolError::Io)?;
                Ok(Buffered::File { file: Arc::new(named), len: self.len })
            }
            None => Ok(Buffered::Mem(self.mem.finish())),
        }
    }
}

/// Pieces of a body joined into one, without a copy when there is only one (the usual case).
#[derive(Debug, Default)]
pub struct Joined {
    first: Option<Bytes>,
    more: BytesMut,
}

impl Joined {
    pub fn push(&mut self, data: Bytes) {
        match self.first.take() {
            None if self.more.is_empty() => self.first = Some(data),
            first => {
                if let Some(first) = first {
                    self.more.extend_from_slice(&first);
                }
                self.more.extend_from_slice(&data);
            }
        }
    }

    pub fn finish(self) -> Bytes {
        self.first.unwrap_or_else(|| self.more.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn spills_past_the_memory_limit() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spooler::new(4, 100, dir.path());
        s.push(Bytes::from_static(b"ab")).await.unwrap();
        s.push(Bytes::from_static(b"cd")).await.unwrap();
        s.push(Bytes::from_static(b"ef")).await.unwrap();
        let body = s.finish().await.unwrap();
        let Buffered::File { file, len } = &body else { panic!("expected a spill file") };
        assert_eq!(*len, 6);
        assert_eq!(std::fs::read(file.path()).unwrap(), b"abcdef");
    }

    #[tokio::test]
    async fn keeps_small_bodies_in_memory_and_refuses_huge_ones() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Spooler::new(10, 100, dir.path());
        s.push(Bytes::from_static(b"ab")).await.unwrap();
        s.push(Bytes::from_static(b"cd")).await.unwrap();
        assert!(matches!(s.finish().await.unwrap(), Buffered::Mem(b) if &b[..] == b"abcd"));
        let mut s = Spooler::new(10, 3, dir.path());
        assert!(matches!(s.push(Bytes::from_static(b"abcd")).await, Err(SpoolError::TooLarge { limit: 3 })));
    }
}
