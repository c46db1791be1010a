//! Readiness-based I/O on gmp's reactor: [`AsyncFd`] for any file descriptor, and the
//! [`Interest`]/[`Ready`] types the sockets' `ready`, `try_read`, `try_io`, … use. The names
//! and signatures are tokio's (`tokio::io::unix::AsyncFd`, `tokio::io::{Interest, Ready}`),
//! so a port is a rename.
//!
//! How readiness works here (Go's `pollDesc`): the reactor registers an fd edge-triggered
//! and records each event in an atomic word with an event tick. A wait returns once the bit
//! for its direction is set; the bit stays set until an operation on the fd returns
//! `WouldBlock` and the caller clears it — `try_io` does that for you. A clear forgets only
//! the event it saw (same tick), so data that arrives between the failed read and the clear
//! is never missed.
//!
//! Invariants:
//! - Readiness is cleared only on `WouldBlock` (or an explicit `clear_ready`), and for streams
//!   also after a read that is known to drain the socket (short, or `TCP_INQ` says empty).
//!   Anything else — success, another error — keeps it, so the next wait returns at once.
//! - A hang-up (`READ_CLOSED`/`WRITE_CLOSED`) is final: it is never cleared.
//! - The reactor keeps one waiter per direction per fd (like gmp's sockets).
//!
//! | type | what |
//! |---|---|
//! | [`AsyncFd`] | `new`, `with_interest`, `readable`/`writable`/`ready` (and `_mut`) returning a guard, `async_io`, `try_io`, `get_ref`, `into_inner` |
//! | [`AsyncFdReadyGuard`], [`AsyncFdReadyMutGuard`] | `try_io`, `clear_ready`, `retain_ready`, `ready`, `get_inner` |
//! | [`Interest`], [`Ready`] | what to wait for; what was seen |
//! | [`TryIoError`], [`AsyncFdTryNewError`] | `try_io`'s `WouldBlock`; a failed `try_new` with the object handed back |
//!
//! A socket's own readiness API (tokio's), on [`TcpStream`](crate::net::TcpStream) for
//! example:
//!
//! ```
//! use gmp::io::Interest;
//! use gmp::net::{TcpListener, TcpStream};
//!
//! let rt = gmp::Runtime::new().unwrap();
//! rt.block_on(rt.spawn(async move {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let client = TcpStream::connect(listener.local_addr()?).await?;
//!     let (server, _) = listener.accept().await?;
//!     client.writable().await?;
//!     assert_eq!(client.try_write(b"ping")?, 4);
//!     let mut buf = [0; 16];
//!     let n = loop {
//!         let ready = server.ready(Interest::READABLE).await?;
//!         assert!(ready.is_readable());
//!         match server.try_read(&mut buf) {
//!             Ok(n) => break n,
//!             Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
//!             Err(e) => return Err(e),
//!         }
//!     };
//!     assert_eq!(&buf[..n], b"ping");
//!     Ok::<(), std::io::Error>(())
//! }))
//! .unwrap()
//! .unwrap();
//! ```

mod async_fd;
mod error;
mod guard;
mod interest;
mod ready;

pub use async_fd::AsyncFd;
pub use error::{AsyncFdTryNewError, TryIoError};
pub use guard::{AsyncFdReadyGuard, AsyncFdReadyMutGuard};
pub use interest::Interest;
pub use ready::Ready;
