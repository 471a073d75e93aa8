//! A first-in first-out byte spool between an instance and a slower client: memory up
//! to a limit, then an unnamed temp file up to a larger one; past that it is full and
//! the relay stops reading the instance (back-pressure) until the client catches up.
//!
//! Bytes sit in three segments, oldest first: `head` (memory, what is written to the
//! client next), the file (`read..write`), then `tail` (memory, a batch on its way to
//! the file, so the disk sees few large writes). New bytes go to `head` only while the
//! file and `tail` are empty, which keeps the order. The file is rewound once drained.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};

/// Bytes moved between memory and the file per disk operation.
const BATCH: usize = 256 * 1024;

/// Pending bytes in order, in memory and (past `mem_limit`) a temp file.
#[derive(Debug)]
pub struct Spool {
    head: VecDeque<Bytes>,
    head_len: usize,
    mem_limit: usize,
    file: Option<Arc<File>>,
    file_limit: u64,
    /// Next file offset to hand out, and where the next batch is written.
    read: u64,
    write: u64,
    tail: BytesMut,
    dir: PathBuf,
}

impl Spool {
    /// A spool holding up to `mem_limit` bytes in memory and `file_limit` more in a file under `dir`.
    pub fn new(mem_limit: usize, file_limit: u64, dir: PathBuf) -> Spool {
        Spool {
            head: VecDeque::new(),
            head_len: 0,
            mem_limit,
            file: None,
            file_limit,
            read: 0,
            write: 0,
            tail: BytesMut::new(),
            dir,
        }
    }

    /// Bytes waiting, wherever they are.
    pub fn len(&self) -> u64 {
        self.head_len as u64 + (self.write - self.read) + self.tail.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn spilling(&self) -> bool {
        self.write > self.read || !self.tail.is_empty()
    }

    /// Whether another piece may be pushed (false means: stop reading, let the client drain).
    /// A piece may overshoot a limit by its own size.
    pub fn has_room(&self) -> bool {
        if self.spilling() {
            self.write + (self.tail.len() as u64) < self.file_limit
        } else {
            self.head_len < self.mem_limit || self.file_limit > 0
        }
    }

    /// Puts `data` in front of everything (a message head).
    pub fn push_front(&mut self, data: Bytes) {
        self.head_len += data.len();
        self.head.push_front(data);
    }

    /// Appends `data`; may write a batch to the temp file.
    pub async fn push(&mut self, data: Bytes) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let fits = self.head_len + data.len() <= self.mem_limit || self.head.is_empty() || self.file_limit == 0;
        if !self.spilling() && fits {
            self.head_len += data.len();
            self.head.push_back(data);
            return Ok(());
        }
        self.tail.extend_from_slice(&data);
        if self.tail.len() >= BATCH {
            self.flush_tail().await?;
        }
        Ok(())
    }

    async fn flush_tail(&mut self) -> io::Result<()> {
        let file = match &self.file {
            Some(file) => file.clone(),
            None => {
                let dir = self.dir.clone();
                let file = Arc::new(blocking(move || tempfile::tempfile_in(dir)).await?);
                self.file = Some(file.clone());
                file
            }
        };
        let batch = self.tail.split().freeze();
        let at = self.write;
        self.write += batch.len() as u64;
        blocking(move || file.write_all_at(&batch, at)).await
    }

    /// Makes sure the oldest bytes are in memory for [`Spool::front`] (reads the file if needed).
    pub async fn fill_front(&mut self) -> io::Result<()> {
        if !self.head.is_empty() {
            return Ok(());
        }
        if self.write > self.read {
            let file = self.file.clone().expect("a file holds the bytes between read and write");
            let (at, len) = (self.read, (self.write - self.read).min(BATCH as u64) as usize);
            let data = blocking(move || {
                let mut buf = vec![0; len];
                file.read_exact_at(&mut buf, at).map(|()| buf)
            })
            .await?;
            self.read += len as u64;
            if self.read == self.write {
                // Drained: the next batch reuses the file from its start.
                (self.read, self.write) = (0, 0);
            }
            self.push_front(Bytes::from(data));
        } else if !self.tail.is_empty() {
            // Nothing on disk: the batch goes out from memory.
            let data = self.tail.split().freeze();
            self.push_front(data);
        }
        Ok(())
    }

    /// Up to `slices.len()` of the oldest in-memory pieces; returns how many were filled.
    pub fn front<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, piece) in slices.iter_mut().zip(&self.head) {
            *slot = IoSlice::new(piece);
            n += 1;
        }
        n
    }

    /// Drops the first `n` bytes of the in-memory front (they were written).
    pub fn consume(&mut self, mut n: usize) {
        self.head_len -= n;
        while n > 0 {
            let piece = self.head.front_mut().expect("consumed bytes were in the front");
            if piece.len() > n {
                piece.advance(n);
                return;
            }
            n -= piece.len();
            self.head.pop_front();
        }
    }
}

/// Runs blocking file work off the event loop (only while a client is slower than its instance).
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|join| Err(io::Error::other(join)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drains `spool` the way the relay does: fill the front, take what it offers.
    async fn drain(spool: &mut Spool, max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while out.len() < max {
            spool.fill_front().await.unwrap();
            let mut slices = [IoSlice::new(&[]); 4];
            let n = spool.front(&mut slices);
            if n == 0 {
                break;
            }
            let first = slices[0].len().min(max - out.len());
            out.extend_from_slice(&slices[0][..first]);
            spool.consume(first);
        }
        out
    }

    #[tokio::test]
    async fn keeps_order_across_memory_file_and_tail() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::new(10, 10 * BATCH as u64, dir.path().into());
        let data: Vec<u8> = (0..3 * BATCH + 77).map(|i| (i % 251) as u8).collect();
        let mut expected = Vec::new();
        let mut got = Vec::new();
        for (i, piece) in data.chunks(4099).enumerate() {
            spool.push(Bytes::copy_from_slice(piece)).await.unwrap();
            expected.extend_from_slice(piece);
            if i % 7 == 0 {
                // The client takes a little now and then, while the file is in use.
                got.extend(drain(&mut spool, 5000).await);
            }
        }
        assert!(spool.file.is_some(), "pieces past the memory limit went to the file");
        got.extend(drain(&mut spool, usize::MAX).await);
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "bytes out of order");
        assert!(spool.is_empty());
        assert_eq!((spool.read, spool.write), (0, 0), "a drained file is rewound");
    }

    #[tokio::test]
    async fn is_full_past_the_file_limit_and_memory_only_without_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::new(4, BATCH as u64, dir.path().into());
        spool.push(Bytes::from_static(b"abcd")).await.unwrap();
        assert!(spool.has_room());
        spool.push(Bytes::from(vec![1; BATCH])).await.unwrap();
        assert!(!spool.has_room(), "memory and file limits reached");
        assert_eq!(drain(&mut spool, 4).await, b"abcd");
        let mut memory_only = Spool::new(4, 0, dir.path().into());
        memory_only.push(Bytes::from_static(b"abcdef")).await.unwrap();
        assert!(!memory_only.has_room());
        memory_only.push_front(Bytes::from_static(b"head "));
        assert_eq!(drain(&mut memory_only, 100).await, b"head abcdef");
        assert!(memory_only.file.is_none());
    }
}
