//! tokio's I/O traits for [`File`] (feature `tokio-io`): `tokio::io::AsyncReadExt`,
//! `AsyncWriteExt`, `AsyncSeekExt`, `tokio::io::copy`, codecs, … work on a gmp `File`.
//!
//! The same single in-place syscall as the `futures_io` impls. A read fills the `ReadBuf`'s
//! unfilled part (zeroing whatever of it was never initialized, once: a buffer that was
//! already initialized costs nothing). `poll_flush` and `poll_shutdown` have nothing to do
//! (writes are not buffered). A seek happens in `start_seek`, which returns its error;
//! `poll_complete` hands back the new offset (or, with no seek started, the current one).

use super::file::{poll_in_place, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::ReadBuf;

impl tokio::io::AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let dst = buf.initialize_unfilled();
        let n = std::task::ready!(poll_in_place(cx, self.std(), |mut f| f.read(dst)))?;
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

// Writes delegate to the futures-io impl (one `write`/`writev` per poll, nothing buffered).
crate::net::tokio_io::tokio_write!(File);

impl tokio::io::AsyncSeek for File {
    fn start_seek(self: Pin<&mut Self>, pos: SeekFrom) -> io::Result<()> {
        let this = self.get_mut();
        let file = this.std();
        let offset = crate::executor::syscall::block_in_place(|| {
            super::retry_eintr(|| (&mut &*file).seek(pos))
        })?;
        this.seeked = Some(offset);
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        match this.seeked.take() {
            Some(offset) => Poll::Ready(Ok(offset)),
            None => poll_in_place(cx, this.std(), |mut f| f.stream_position()),
        }
    }
}
