//! Files and directories: tokio's `tokio::fs` surface, run the way Go runs `os` calls.
//!
//! The names and signatures are tokio's, so a port is a rename: [`read`], [`write`](fn@write),
//! [`metadata`], [`read_dir`], [`File`], [`OpenOptions`], … Operating systems offer no
//! readiness-based file I/O, so every call here is an ordinary blocking `std::fs` call — run
//! **in a blocking section on the calling M**, Go's `entersyscall`/`exitsyscall`:
//!
//! - the M marks its P `Syscall` (a store or two), makes the call itself, and takes its P back
//!   with one CAS when the call returns. A short call (a `stat`, a 4 KiB read from the page
//!   cache) costs about as much as a spawn;
//! - a call still running when sysmon looks (after ~20µs, up to 10ms when sysmon is idle)
//!   loses its P: sysmon hands the P to another M, so the other tasks keep running. The task
//!   that made the call carries on without a P until its next `.await`.
//!
//! # Why not a thread-pool hop
//!
//! tokio sends every call (and every `File` chunk) to its blocking pool and back: the task
//! queues a closure on a channel, a pool thread wakes up (a futex wake, a context switch), runs
//! it, and wakes the task again (another cross-thread wakeup, another switch). gmp does none of
//! that: no channel, no cross-thread wakeup, no extra context switch per call, and the call
//! runs on the thread whose caches already hold the task's data. That is most of the cost of a
//! cached read or a `stat`, and why `gmp::fs` is several times faster than `tokio::fs` on
//! small calls (see `benches/fs.rs` and BENCHMARKS.md).
//!
//! # What it costs
//!
//! - A long call (a cold disk read, an `fsync`) holds its M — an OS thread — for its whole
//!   length, as in Go. Its P is handed off, so `procs` Ps' worth of tasks still run, but the
//!   hand-off takes one sysmon tick (~20µs when busy, up to 10ms after a quiet spell).
//! - Every call in flight pins an OS thread: concurrency is capped by the runtime's cap of
//!   blocking sections (Ms up to `max_threads`); past it, calls wait for a slot.
//! - A call cannot be cancelled halfway: dropping a future stops it only before its call
//!   starts (it runs to completion inside one poll).
//!
//! Outside a runtime (a plain thread, a `block_on` thread, another executor) the calls simply
//! run on the calling thread.
//!
//! # Errors
//!
//! Errors are the `io::Error` the OS returned, with its kind (`NotFound`,
//! `PermissionDenied`, `IsADirectory`, …) — never a panic, never a `JoinError` wrapped around
//! one.
//!
//! ```
//! # gmp::block_on(async {
//! let dir = std::env::temp_dir().join(format!("gmp-fs-doc-{}", std::process::id()));
//! gmp::fs::create_dir_all(&dir).await?;
//! let path = dir.join("hello.txt");
//! gmp::fs::write(&path, "hello, gmp").await?;
//! assert_eq!(gmp::fs::read_to_string(&path).await?, "hello, gmp");
//! assert_eq!(gmp::fs::metadata(&path).await?.len(), 10);
//! let missing = gmp::fs::read(dir.join("missing")).await.unwrap_err();
//! assert_eq!(missing.kind(), std::io::ErrorKind::NotFound);
//! gmp::fs::remove_dir_all(&dir).await?;
//! # std::io::Result::Ok(())
//! # }).unwrap();
//! ```

mod file;
mod open_options;
mod read_dir;
#[cfg(feature = "tokio-io")]
mod tokio_io;

pub use file::File;
pub use open_options::OpenOptions;
pub use read_dir::{read_dir, DirEntry, ReadDir};

use crate::executor::syscall::blocking;
use std::fs::{Metadata, Permissions};
use std::io;
use std::path::{Path, PathBuf};

/// Retry `f` while it fails with `ErrorKind::Interrupted` (`EINTR`).
pub(crate) fn retry_eintr<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    }
}

/// Read the whole file at `path` into a `Vec<u8>` ([`std::fs::read`] in a blocking section).
///
/// ```
/// # gmp::block_on(async {
/// let toml = gmp::fs::read("Cargo.toml").await.unwrap();
/// assert!(toml.starts_with(b"[workspace]"));
/// # });
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = path.as_ref();
    blocking(|| std::fs::read(path)).await
}

/// Read the whole file at `path` into a `String`; a file that is not UTF-8 is an
/// `InvalidData` error ([`std::fs::read_to_string`]).
///
/// ```
/// # gmp::block_on(async {
/// let toml = gmp::fs::read_to_string("Cargo.toml").await.unwrap();
/// assert!(toml.contains("name = \"gmp\""));
/// # });
/// ```
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref();
    blocking(|| std::fs::read_to_string(path)).await
}

/// Write `contents` as the whole file at `path`, creating it or truncating it first
/// ([`std::fs::write`]). The bytes are written from the caller's buffer: no copy.
///
/// ```
/// # gmp::block_on(async {
/// let path = std::env::temp_dir().join(format!("gmp-fs-write-{}", std::process::id()));
/// gmp::fs::write(&path, b"bytes").await.unwrap();
/// assert_eq!(gmp::fs::read(&path).await.unwrap(), b"bytes");
/// # gmp::fs::remove_file(&path).await.unwrap();
/// # });
/// ```
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let (path, contents) = (path.as_ref(), contents.as_ref());
    blocking(|| std::fs::write(path, contents)).await
}

/// Copy the file `from` to `to` (contents and permission bits), returning the bytes copied
/// ([`std::fs::copy`]: `copy_file_range` on Linux, so the bytes never enter user space).
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (from.as_ref(), to.as_ref());
    blocking(|| std::fs::copy(from, to)).await
}

/// Rename `from` to `to`, replacing `to` if it exists ([`std::fs::rename`]).
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref(), to.as_ref());
    blocking(|| std::fs::rename(from, to)).await
}

/// Remove a file or symbolic link ([`std::fs::remove_file`]).
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| std::fs::remove_file(path)).await
}

/// Remove an empty directory ([`std::fs::remove_dir`]).
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| std::fs::remove_dir(path)).await
}

/// Remove a directory and everything in it ([`std::fs::remove_dir_all`]), in one blocking
/// section: a big tree holds the M for its whole removal (its P is handed off meanwhile).
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| std::fs::remove_dir_all(path)).await
}

/// Create a directory; its parent must exist ([`std::fs::create_dir`]).
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| std::fs::create_dir(path)).await
}

/// Create a directory and any missing parents; an existing directory is not an error
/// ([`std::fs::create_dir_all`]).
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| std::fs::create_dir_all(path)).await
}

/// The metadata of `path`, following symbolic links ([`std::fs::metadata`]: one `statx`).
///
/// ```
/// # gmp::block_on(async {
/// let meta = gmp::fs::metadata("Cargo.toml").await.unwrap();
/// assert!(meta.is_file() && meta.len() > 0);
/// # });
/// ```
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref();
    blocking(|| std::fs::metadata(path)).await
}

/// The metadata of `path` itself, not following a symbolic link
/// ([`std::fs::symlink_metadata`]).
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref();
    blocking(|| std::fs::symlink_metadata(path)).await
}

/// The absolute path of `path` with every symbolic link, `.` and `..` resolved
/// ([`std::fs::canonicalize`]).
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref();
    blocking(|| std::fs::canonicalize(path)).await
}

/// The target of the symbolic link `path` ([`std::fs::read_link`]).
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref();
    blocking(|| std::fs::read_link(path)).await
}

/// Make `link` a new hard link to the file `original` ([`std::fs::hard_link`]).
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    blocking(|| std::fs::hard_link(original, link)).await
}

/// Make `link` a symbolic link pointing at `original` (Unix;
/// [`std::os::unix::fs::symlink`]).
#[cfg(unix)]
pub async fn symlink(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    blocking(|| std::os::unix::fs::symlink(original, link)).await
}

/// Set the permissions of `path` ([`std::fs::set_permissions`]).
///
/// ```
/// # gmp::block_on(async {
/// let path = std::env::temp_dir().join(format!("gmp-fs-perm-{}", std::process::id()));
/// gmp::fs::write(&path, "x").await.unwrap();
/// let mut perm = gmp::fs::metadata(&path).await.unwrap().permissions();
/// perm.set_readonly(true);
/// gmp::fs::set_permissions(&path, perm).await.unwrap();
/// assert!(gmp::fs::metadata(&path).await.unwrap().permissions().readonly());
/// # gmp::fs::remove_file(&path).await.unwrap();
/// # });
/// ```
pub async fn set_permissions(path: impl AsRef<Path>, perm: Permissions) -> io::Result<()> {
    let path = path.as_ref();
    blocking(|| std::fs::set_permissions(path, perm)).await
}

/// Whether `path` exists: `Ok(false)` when it does not (or is a broken symbolic link), an
/// error when that cannot be told (say, a parent directory cannot be searched)
/// ([`Path::try_exists`]).
///
/// ```
/// # gmp::block_on(async {
/// assert!(gmp::fs::try_exists("Cargo.toml").await.unwrap());
/// assert!(!gmp::fs::try_exists("no/such/file").await.unwrap());
/// # });
/// ```
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    let path = path.as_ref();
    blocking(|| path.try_exists()).await
}

#[cfg(test)]
mod tests {
    use super::retry_eintr;
    use std::io;

    #[test]
    fn retry_eintr_retries_only_interrupted() {
        let mut calls = 0;
        let r = retry_eintr(|| {
            calls += 1;
            if calls < 3 {
                Err(io::Error::from(io::ErrorKind::Interrupted))
            } else {
                Ok(calls)
            }
        });
        assert_eq!(r.unwrap(), 3);

        let mut calls = 0;
        let r: io::Result<()> = retry_eintr(|| {
            calls += 1;
            Err(io::Error::from(io::ErrorKind::NotFound))
        });
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(calls, 1);
    }
}
