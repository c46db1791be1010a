//! tokio's readiness API on gmp's sockets — `ready`, `readable`, `writable`, `try_io`,
//! `async_io`, and for streams `try_read`/`try_write` (and their vectored forms) — written
//! once here as macros over the socket's `IoSource`, like `io_impls`.
//!
//! `impl_readiness!(Type, |this| io)` gives every socket type the waits and `try_io`/
//! `async_io`; `impl_stream_try_rw!(Type, |this| io)` adds the stream reads and writes.
//! `io` names the `IoSource<_>` of `this: &Type`.
//!
//! Invariants (tokio's rules; see [`crate::io`]):
//! - A wait never clears readiness; a `try_*` call that finds its direction not ready returns
//!   `WouldBlock` without a syscall; one whose syscall returns `WouldBlock` clears the
//!   readiness it saw (newer events are kept); any other outcome keeps it.
//! - A stream `try_read` that is known to drain the socket (short, or `TCP_INQ` says empty)
//!   also clears the readable bit, as gmp's `read` does: the next `readable()` then waits
//!   for new data instead of returning at once for a read that could only say `WouldBlock`.

/// `ready`, `readable`, `writable`, `try_io` and `async_io` for a socket type.
macro_rules! impl_readiness {
    ($ty:ty, |$this:ident| $io:expr) => {
        impl $ty {
            /// Wait until the socket is ready for one of `interest`'s directions; returns
            /// what was ready (a hang-up or error counts, see [`Ready`](crate::io::Ready)).
            /// The readiness is not cleared: follow it with a `try_*` call, which clears it
            /// if the call returns `WouldBlock`. Fails only once the runtime has shut down.
            ///
            /// The reactor keeps one waiter per direction: waiting for both directions takes
            /// both slots.
            pub async fn ready(
                &self,
                interest: $crate::io::Interest,
            ) -> std::io::Result<$crate::io::Ready> {
                let $this = self;
                Ok($io.ready(interest).await?.ready())
            }

            /// Wait until the socket is readable (data, end-of-file, or an error); the next
            /// `try_*` read will not say `WouldBlock` unless the readiness was stale. Same as
            /// `ready(Interest::READABLE)` without the result.
            pub async fn readable(&self) -> std::io::Result<()> {
                self.ready($crate::io::Interest::READABLE).await.map(drop)
            }

            /// Wait until the socket is writable (room in the send buffer, or an error).
            pub async fn writable(&self) -> std::io::Result<()> {
                self.ready($crate::io::Interest::WRITABLE).await.map(drop)
            }

            /// Run `f` — a non-blocking operation on this socket's fd that the type has no
            /// method for (`recvmsg` with flags, `sendmmsg`, …) — if `interest` is ready now.
            /// Returns `WouldBlock` at once when it is not; a `WouldBlock` from `f` clears the
            /// readiness. Waits for nothing.
            ///
            /// `f` must only do non-blocking I/O on this socket's own fd: another fd's
            /// `WouldBlock` would clear the wrong readiness.
            pub fn try_io<R>(
                &self,
                interest: $crate::io::Interest,
                f: impl FnOnce() -> std::io::Result<R>,
            ) -> std::io::Result<R> {
                let $this = self;
                $io.try_io(interest, |_| f())
            }

            /// Wait for `interest` and run `f` until it returns something other than
            /// `WouldBlock` (each `WouldBlock` clears the readiness, then waits again). The
            /// same rules for `f` as for `try_io`.
            pub async fn async_io<R>(
                &self,
                interest: $crate::io::Interest,
                mut f: impl FnMut() -> std::io::Result<R>,
            ) -> std::io::Result<R> {
                let $this = self;
                $io.async_io(interest, |_| f()).await
            }
        }
    };
}

/// `try_read`, `try_read_vectored`, `try_write` and `try_write_vectored` for a stream type.
macro_rules! impl_stream_try_rw {
    ($ty:ty, |$this:ident| $io:expr) => {
        impl $ty {
            /// Read what is there into `buf` without waiting: `Ok(n)` with `n > 0` bytes,
            /// `Ok(0)` at end-of-file (or for an empty `buf`), `WouldBlock` when nothing is
            /// there (the readable readiness is then cleared; wait with `readable()`).
            pub fn try_read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                let $this = self;
                let len = buf.len();
                let io = &$io;
                io.try_read_stream(len, |s| {
                    $crate::net::io_impls::StreamRecv::recv(
                        s,
                        $crate::net::io_impls::as_uninit(buf),
                        io.drain_hint(),
                    )
                })
            }

            /// [`try_read`](Self::try_read) into several buffers (`readv`), filled in order.
            pub fn try_read_vectored(
                &self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                let $this = self;
                let len = bufs.iter().map(|b| b.len()).sum();
                $io.try_read_stream(len, |s| {
                    std::io::Read::read_vectored(&mut &*s, bufs).map(|n| (n, false))
                })
            }

            /// Write what fits of `buf` without waiting: `Ok(n)` bytes, or `WouldBlock` when
            /// the send buffer is full (the writable readiness is then cleared; wait with
            /// `writable()`).
            pub fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
                let $this = self;
                $io.try_io($crate::io::Interest::WRITABLE, |s| {
                    std::io::Write::write(&mut &*s, buf)
                })
            }

            /// [`try_write`](Self::try_write) from several buffers (`writev`), in order.
            pub fn try_write_vectored(
                &self,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::io::Result<usize> {
                let $this = self;
                $io.try_io($crate::io::Interest::WRITABLE, |s| {
                    std::io::Write::write_vectored(&mut &*s, bufs)
                })
            }
        }
    };
}

pub(super) use {impl_readiness, impl_stream_try_rw};
