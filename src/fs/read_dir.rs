//! [`read_dir`]: a directory's entries, [`ReadDir`] and [`DirEntry`].

use crate::executor::syscall::{block_in_place, blocking};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::{FileType, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::task::{Context, Poll};

/// Entries taken from the OS per blocking section (tokio's chunk size).
const CHUNK: usize = 32;

/// Open the directory `path` for listing its entries (`.` and `..` are left out), in a
/// blocking section ([`std::fs::read_dir`]).
///
/// ```
/// # gmp::block_on(async {
/// let mut entries = gmp::fs::read_dir(".").await?;
/// let mut names = Vec::new();
/// while let Some(entry) = entries.next_entry().await? {
///     names.push(entry.file_name());
/// }
/// assert!(names.iter().any(|n| n == "Cargo.toml"));
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref();
    let std = blocking(|| std::fs::read_dir(path)).await?;
    Ok(ReadDir {
        std,
        buf: VecDeque::with_capacity(CHUNK),
        done: false,
    })
}

/// The entries of a directory, from [`read_dir`]: call [`next_entry`](ReadDir::next_entry)
/// until it returns `Ok(None)`.
///
/// Entries come from the OS 32 at a time, one blocking section per 32 (as tokio's do, one
/// pool hop per 32). The order is the file system's.
#[derive(Debug)]
#[must_use = "a ReadDir does nothing until its entries are read"]
pub struct ReadDir {
    std: std::fs::ReadDir,
    /// Entries read from the OS, not yet handed out (an error ends a chunk).
    buf: VecDeque<io::Result<std::fs::DirEntry>>,
    /// The OS has no more entries.
    done: bool,
}

impl ReadDir {
    /// The next entry; `Ok(None)` when there are no more. An error reading one entry is
    /// returned in its place, and the listing can go on after it.
    ///
    /// Cancel safe: an entry is taken only when the call returns it.
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        if self.buf.is_empty() && !self.done {
            let (std, buf) = (&mut self.std, &mut self.buf);
            self.done = blocking(|| fill(std, buf)).await;
        }
        self.pop()
    }

    /// [`next_entry`](ReadDir::next_entry) as a poll function: it never returns `Pending`
    /// (the directory is read in place, in a blocking section), so `cx` is not used.
    pub fn poll_next_entry(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<Option<DirEntry>>> {
        if self.buf.is_empty() && !self.done {
            self.done = block_in_place(|| fill(&mut self.std, &mut self.buf));
        }
        Poll::Ready(self.pop())
    }

    fn pop(&mut self) -> io::Result<Option<DirEntry>> {
        match self.buf.pop_front() {
            Some(entry) => entry.map(|e| Some(DirEntry(e))),
            None => Ok(None),
        }
    }
}

/// Move up to [`CHUNK`] entries from `std` to `buf`, stopping after an error; true when the
/// directory has no more.
fn fill(std: &mut std::fs::ReadDir, buf: &mut VecDeque<io::Result<std::fs::DirEntry>>) -> bool {
    for _ in 0..CHUNK {
        match std.next() {
            None => return true,
            Some(entry) => {
                let failed = entry.is_err();
                buf.push_back(entry);
                if failed {
                    break;
                }
            }
        }
    }
    false
}

/// One entry of a directory listing, from [`ReadDir::next_entry`].
#[derive(Debug)]
pub struct DirEntry(std::fs::DirEntry);

impl DirEntry {
    /// The entry's full path: the path given to [`read_dir`] joined with its file name.
    pub fn path(&self) -> PathBuf {
        self.0.path()
    }

    /// The entry's name, without any leading path.
    pub fn file_name(&self) -> OsString {
        self.0.file_name()
    }

    /// The entry's inode number (from the listing itself: no syscall).
    #[cfg(unix)]
    pub fn ino(&self) -> u64 {
        std::os::unix::fs::DirEntryExt::ino(&self.0)
    }

    /// The entry's metadata, not following a symbolic link (an `lstat` relative to the
    /// directory, in a blocking section).
    pub async fn metadata(&self) -> io::Result<Metadata> {
        blocking(|| self.0.metadata()).await
    }

    /// The entry's type, not following a symbolic link: most file systems report it in the
    /// listing itself; where one does not, this makes an `lstat` in a blocking section.
    ///
    /// ```
    /// # gmp::block_on(async {
    /// let mut entries = gmp::fs::read_dir(".").await?;
    /// while let Some(entry) = entries.next_entry().await? {
    ///     if entry.file_name() == "src" {
    ///         assert!(entry.file_type().await?.is_dir());
    ///     }
    /// }
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub async fn file_type(&self) -> io::Result<FileType> {
        blocking(|| self.0.file_type()).await
    }
}
