//! [`File`]: an open file whose reads, writes and seeks run in place, in a blocking section.

use super::{retry_eintr, OpenOptions};
use crate::executor::coop;
use crate::executor::syscall::{block_in_place, blocking};
use std::fs::{Metadata, Permissions};
use std::io::{self, IoSlice, IoSliceMut, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

/// An open file (tokio's `tokio::fs::File`), read and written through the `futures_io`
/// traits (`futures::AsyncReadExt`, …) or, with the `tokio-io` feature, tokio's
/// (`tokio::io::AsyncReadExt`, …).
///
/// Every `poll_read`, `poll_write` and `poll_seek` makes **one** syscall, in place, inside a
/// blocking section on the M that polls it (see the [module docs](super)): no buffer, no
/// background task, no per-chunk hop to another thread, and it never returns `Pending`
/// except to yield when the task's time slice is used up. A read or write interrupted by a
/// signal (`EINTR`) is retried.
///
/// # Writes and `flush`
///
/// tokio's `File` copies a write into its buffer, returns at once, writes in the background and
/// reports a failed write at the next `flush` (or write). gmp's write has already reached
/// the kernel when it returns, so its error is returned **by that write**, and `flush` has
/// nothing left to do (it returns `Ok`). tokio's guarantee holds either way — a write error is
/// never lost — it is just reported earlier. As with tokio and `std`, a successful write is
/// not yet on disk: call [`sync_all`](File::sync_all) or [`sync_data`](File::sync_data) for
/// that.
///
/// ```
/// use futures::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
/// use std::io::SeekFrom;
/// # gmp::block_on(async {
/// let path = std::env::temp_dir().join(format!("gmp-file-doc-{}", std::process::id()));
/// let mut file = gmp::fs::File::create(&path).await?;
/// file.write_all(b"hello, world").await?;
/// file.sync_all().await?;
///
/// let mut file = gmp::fs::File::open(&path).await?;
/// file.seek(SeekFrom::Start(7)).await?;
/// let mut rest = String::new();
/// file.read_to_string(&mut rest).await?;
/// assert_eq!(rest, "world");
/// # gmp::fs::remove_file(&path).await?;
/// # std::io::Result::Ok(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct File {
    std: std::fs::File,
    /// The offset a tokio `start_seek` moved to, for its `poll_complete`.
    #[cfg_attr(not(feature = "tokio-io"), allow(dead_code))]
    pub(super) seeked: Option<u64>,
}

impl File {
    /// Open the file at `path` read-only.
    ///
    /// A missing file is a `NotFound` error.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Open the file at `path` write-only, creating it if it does not exist and truncating it
    /// if it does.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// Create a new file at `path`, read-write; an `AlreadyExists` error if there is one.
    pub async fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .await
    }

    /// An [`OpenOptions`] builder, for other modes (append, create-new, read-write, …).
    ///
    /// ```
    /// # gmp::block_on(async {
    /// let path = std::env::temp_dir().join(format!("gmp-options-doc-{}", std::process::id()));
    /// let file = gmp::fs::File::options().write(true).create(true).open(&path).await?;
    /// assert_eq!(file.metadata().await?.len(), 0);
    /// # gmp::fs::remove_file(&path).await?;
    /// # std::io::Result::Ok(())
    /// # }).unwrap();
    /// ```
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Wrap an open [`std::fs::File`]; its offset carries over.
    pub fn from_std(std: std::fs::File) -> File {
        File { std, seeked: None }
    }

    /// The [`std::fs::File`] inside. Async for tokio's signature: gmp has no write in flight
    /// to wait for, so it returns at once.
    pub async fn into_std(self) -> std::fs::File {
        self.std
    }

    /// The [`std::fs::File`] inside; never fails on gmp (tokio's fails while an operation is
    /// in flight, and gmp never leaves one in flight).
    pub fn try_into_std(self) -> Result<std::fs::File, File> {
        Ok(self.std)
    }

    /// Flush the file's data and metadata to the device (`fsync`).
    pub async fn sync_all(&self) -> io::Result<()> {
        blocking(|| retry_eintr(|| self.std.sync_all())).await
    }

    /// Flush the file's data to the device, and only the metadata needed to read it back
    /// (`fdatasync`).
    pub async fn sync_data(&self) -> io::Result<()> {
        blocking(|| retry_eintr(|| self.std.sync_data())).await
    }

    /// Truncate or extend the file to `size` bytes (extending fills with zeros); the offset
    /// does not move.
    pub async fn set_len(&self, size: u64) -> io::Result<()> {
        blocking(|| retry_eintr(|| self.std.set_len(size))).await
    }

    /// The file's metadata (`fstat`).
    pub async fn metadata(&self) -> io::Result<Metadata> {
        blocking(|| self.std.metadata()).await
    }

    /// A new `File` for the same open file description (`dup`): the offset is shared.
    pub async fn try_clone(&self) -> io::Result<File> {
        blocking(|| self.std.try_clone()).await.map(File::from_std)
    }

    /// Set the file's permissions (`fchmod`).
    pub async fn set_permissions(&self, perm: Permissions) -> io::Result<()> {
        blocking(|| self.std.set_permissions(perm)).await
    }

    /// The underlying file, for a synchronous call of your own.
    pub(super) fn std(&self) -> &std::fs::File {
        &self.std
    }
}

impl From<std::fs::File> for File {
    fn from(std: std::fs::File) -> File {
        File::from_std(std)
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for File {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.std.as_raw_fd()
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for File {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.std.as_fd()
    }
}

/// One read/write/seek syscall on `file`, in place, in a blocking section; `EINTR` retried.
/// Yields first if the task has used up its time slice (a read loop that never waits must
/// still let others run).
pub(super) fn poll_in_place<T>(
    cx: &mut Context<'_>,
    file: &std::fs::File,
    mut op: impl FnMut(&std::fs::File) -> io::Result<T>,
) -> Poll<io::Result<T>> {
    ready!(coop::poll_proceed(cx));
    Poll::Ready(block_in_place(|| retry_eintr(|| op(file))))
}

impl futures_io::AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        poll_in_place(cx, self.std(), |mut f| f.read(buf))
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        poll_in_place(cx, self.std(), |mut f| f.read_vectored(bufs))
    }
}

impl futures_io::AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        poll_in_place(cx, self.std(), |mut f| f.write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        poll_in_place(cx, self.std(), |mut f| f.write_vectored(bufs))
    }

    /// Nothing is buffered: every write reached the kernel before it returned (and returned
    /// its own error), so there is nothing to flush.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Nothing to flush; the file is closed when the `File` is dropped.
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl futures_io::AsyncSeek for File {
    fn poll_seek(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        pos: SeekFrom,
    ) -> Poll<io::Result<u64>> {
        poll_in_place(cx, self.std(), |mut f| f.seek(pos))
    }
}
