//! A child's standard streams as non-blocking pipes on the reactor: [`ChildStdin`],
//! [`ChildStdout`], [`ChildStderr`].
//!
//! Our end of each pipe is switched to non-blocking (the child's end, a separate open file,
//! is untouched) and registered on the spawning runtime's reactor: a read or write that
//! would block parks the task until epoll says otherwise, as with sockets. A short read
//! empties the pipe, so it clears the readiness at once (the next read waits for new data
//! instead of making a syscall that would only say `WouldBlock`).
//!
//! They implement `futures_io`'s traits and, with the `tokio-io` feature, tokio's. Closing
//! [`ChildStdin`] (`close()`; tokio's `shutdown()`) closes the pipe, so the child sees
//! end-of-file; later writes fail with `BrokenPipe`. Dropping it does the same.

use crate::reactor::IoSource;
use crate::runtime::Handle;
use mio::unix::pipe::{Receiver, Sender};
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};

/// The child's standard input: write to it. A field of [`Child`](super::Child) when spawned
/// with `stdin(Stdio::piped())`.
///
/// ```
/// use futures::AsyncWriteExt;
/// use gmp::process::Command;
/// use std::process::Stdio;
///
/// gmp::block_on(async {
///     let mut child = Command::new("cat")
///         .stdin(Stdio::piped())
///         .stdout(Stdio::piped())
///         .spawn()
///         .unwrap();
///     let mut stdin = child.stdin.take().unwrap();
///     stdin.write_all(b"hello").await.unwrap();
///     drop(stdin); // end-of-file for cat
///     let out = child.wait_with_output().await.unwrap();
///     assert_eq!(out.stdout, b"hello");
/// });
/// ```
#[derive(Debug)]
pub struct ChildStdin {
    /// `None` once closed.
    io: Option<IoSource<Sender>>,
}

/// The child's standard output: read from it. A field of [`Child`](super::Child) when
/// spawned with `stdout(Stdio::piped())`.
#[derive(Debug)]
pub struct ChildStdout {
    io: IoSource<Receiver>,
}

/// The child's standard error: read from it. A field of [`Child`](super::Child) when
/// spawned with `stderr(Stdio::piped())`.
#[derive(Debug)]
pub struct ChildStderr {
    io: IoSource<Receiver>,
}

fn current_handle() -> Handle {
    Handle::try_current().unwrap_or_else(|_| crate::runtime::global_handle().clone())
}

impl ChildStdin {
    pub(crate) fn new_with(handle: &Handle, std: std::process::ChildStdin) -> io::Result<Self> {
        let tx = Sender::from(std);
        tx.set_nonblocking(true)?;
        Ok(ChildStdin {
            io: Some(IoSource::new_with(handle, tx)?),
        })
    }

    /// Adopt std's handle, on the current runtime (or the global one outside any runtime).
    pub fn from_std(std: std::process::ChildStdin) -> io::Result<Self> {
        ChildStdin::new_with(&current_handle(), std)
    }

    fn io(&self) -> io::Result<&IoSource<Sender>> {
        self.io.as_ref().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "gmp: write to a ChildStdin that was closed",
            )
        })
    }
}

macro_rules! reader {
    ($ty:ident, $std:ty) => {
        impl $ty {
            pub(crate) fn new_with(handle: &Handle, std: $std) -> io::Result<Self> {
                let rx = Receiver::from(std);
                rx.set_nonblocking(true)?;
                Ok($ty {
                    io: IoSource::new_with(handle, rx)?,
                })
            }

            /// Adopt std's handle, on the current runtime (or the global one outside any
            /// runtime).
            pub fn from_std(std: $std) -> io::Result<Self> {
                $ty::new_with(&current_handle(), std)
            }
        }

        impl AsRawFd for $ty {
            fn as_raw_fd(&self) -> RawFd {
                self.io.get_ref().as_raw_fd()
            }
        }

        impl futures_io::AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                poll_read_uninit(&self.io, cx, as_uninit(buf))
            }

            fn poll_read_vectored(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [IoSliceMut<'_>],
            ) -> Poll<io::Result<usize>> {
                let len = bufs.iter().map(|b| b.len()).sum();
                self.io
                    .poll_read_stream(cx, len, |rx| (&*rx).read_vectored(bufs).map(|n| (n, false)))
            }
        }

        #[cfg(feature = "tokio-io")]
        impl tokio::io::AsyncRead for $ty {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                // SAFETY: the slice only goes to `poll_read_uninit`, which writes bytes into
                // it (read(2)) and never de-initializes any.
                let dst = unsafe { buf.unfilled_mut() };
                let n = std::task::ready!(poll_read_uninit(&self.io, cx, dst))?;
                // SAFETY: `poll_read_uninit` initialized the first `n` bytes of the unfilled
                // part.
                unsafe { buf.assume_init(n) };
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
        }
    };
}

reader!(ChildStdout, std::process::ChildStdout);
reader!(ChildStderr, std::process::ChildStderr);

/// `buf` as possibly uninitialized bytes, for a read into it.
fn as_uninit(buf: &mut [u8]) -> &mut [MaybeUninit<u8>] {
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`; the only writer is read(2), which
    // stores initialized bytes, so `buf` is still initialized when the borrow ends.
    unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) }
}

/// Read from the pipe into `buf`, which need not be initialized, waiting for readiness. On
/// `Ready(Ok(n))` the first `n` bytes of `buf` are initialized.
fn poll_read_uninit(
    io: &IoSource<Receiver>,
    cx: &mut Context<'_>,
    buf: &mut [MaybeUninit<u8>],
) -> Poll<io::Result<usize>> {
    let len = buf.len();
    io.poll_read_stream(cx, len, |rx| loop {
        // SAFETY: `buf` is valid for writes of `len` bytes and borrowed mutably for this
        // call; read(2) writes at most `len` bytes there; the fd is our open pipe end.
        let n = unsafe { libc::read(rx.as_raw_fd(), buf.as_mut_ptr().cast(), len) };
        if n >= 0 {
            return Ok((n as usize, false));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    })
}

impl AsRawFd for ChildStdin {
    /// The pipe's descriptor; -1 once closed.
    fn as_raw_fd(&self) -> RawFd {
        self.io.as_ref().map_or(-1, |io| io.get_ref().as_raw_fd())
    }
}

impl futures_io::AsyncWrite for ChildStdin {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.io()?.poll_write_io(cx, |tx| (&*tx).write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.io()?
            .poll_write_io(cx, |tx| (&*tx).write_vectored(bufs))
    }

    /// A no-op: there is no user-space buffer.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Close the pipe: the child reads end-of-file.
    fn poll_close(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.io = None;
        Poll::Ready(Ok(()))
    }
}

// `poll_shutdown` closes the pipe (`poll_close`): the child reads end-of-file.
#[cfg(feature = "tokio-io")]
crate::net::tokio_io::tokio_write!(ChildStdin);
