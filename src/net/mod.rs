//! Networking: TCP, UDP and Unix domain sockets on gmp's reactor (Go's netpoll).
//!
//! Every socket here is non-blocking and registered with the reactor of the runtime that
//! created it. An operation that would block parks only the task: the M moves on to other
//! tasks, and the reactor wakes the task when the socket is ready — the way a goroutine blocks
//! in `net.Conn.Read` while its M runs other goroutines.
//!
//! | type | what |
//! |---|---|
//! | [`TcpListener`] | `bind(addr).await`, `accept().await` |
//! | [`TcpSocket`] | options before `bind`/`listen(backlog)`/`connect`: `SO_REUSEADDR`, `SO_REUSEPORT`, buffer sizes, `TCP_NODELAY`, keepalive, linger |
//! | [`TcpStream`] | `connect(addr).await`; `futures_io::AsyncRead` + `AsyncWrite`; [`into_split`](TcpStream::into_split) into [`tcp::OwnedReadHalf`] / [`tcp::OwnedWriteHalf`] |
//! | [`UdpSocket`] | `bind`, `connect`, `send`/`recv`, `send_to`/`recv_from` |
//! | [`UnixListener`], [`UnixStream`], [`UnixDatagram`] | the same over Unix domain sockets (Unix only) |
//! | [`ToSocketAddrs`] | what `bind`/`connect`/`send_to` accept: `"127.0.0.1:8080"`, `("localhost", 80)`, a `SocketAddr`, … |
//!
//! Every socket also has tokio's readiness API — `ready(Interest)`, `readable()`,
//! `writable()`, `try_io`, `async_io`, and `try_read`/`try_write` on streams,
//! `try_send`/`try_recv`/`try_send_to`/`try_recv_from` on datagram sockets — see
//! [`crate::io`].
//!
//! Errors are [`std::io::Error`]s carrying the OS cause:
//! [`ConnectionRefused`](std::io::ErrorKind::ConnectionRefused),
//! [`AddrInUse`](std::io::ErrorKind::AddrInUse),
//! [`ConnectionReset`](std::io::ErrorKind::ConnectionReset), …. Nothing here panics on an
//! I/O error.
//!
//! Host names are resolved with the blocking system resolver (literal addresses are not); see
//! [`ToSocketAddrs`].
//!
//! The stream types implement the `futures-io` traits, so the `futures` crate's
//! `AsyncReadExt`, `AsyncWriteExt`, `BufReader`, `copy`, … work on them:
//!
//! ```
//! use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
//! use gmp::net::{TcpListener, TcpStream};
//!
//! let rt = gmp::Runtime::new().unwrap();
//! rt.block_on(rt.spawn(async move {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     gmp::spawn(async move {
//!         // A line-echo server: one task per connection.
//!         loop {
//!             let Ok((conn, _)) = listener.accept().await else { continue };
//!             gmp::spawn(async move {
//!                 let (rd, mut wr) = conn.into_split();
//!                 let mut rd = BufReader::new(rd);
//!                 let mut line = String::new();
//!                 while rd.read_line(&mut line).await.unwrap_or(0) > 0 {
//!                     if AsyncWriteExt::write_all(&mut wr, line.as_bytes()).await.is_err() {
//!                         break;
//!                     }
//!                     line.clear();
//!                 }
//!             });
//!         }
//!     });
//!
//!     let stream = TcpStream::connect(addr).await?;
//!     let (rd, mut wr) = stream.into_split();
//!     let mut rd = BufReader::new(rd);
//!     AsyncWriteExt::write_all(&mut wr, b"hello\n").await?;
//!     let mut line = String::new();
//!     rd.read_line(&mut line).await?;
//!     assert_eq!(line, "hello\n");
//!     Ok::<(), std::io::Error>(())
//! }))
//! .unwrap()
//! .unwrap();
//! ```

mod addr;
pub(crate) mod io_impls;
mod readiness;
mod sys;
mod tcp_listener;
mod tcp_socket;
mod tcp_split;
mod tcp_stream;
#[cfg(feature = "tokio-io")]
pub(crate) mod tokio_io;
mod udp;
#[cfg(unix)]
mod unix;

pub use addr::ToSocketAddrs;
pub use tcp_listener::TcpListener;
pub use tcp_socket::TcpSocket;
pub use tcp_stream::TcpStream;
pub use udp::UdpSocket;
#[cfg(unix)]
pub use unix::{UnixDatagram, UnixListener, UnixStream};

/// The owned halves of a split [`TcpStream`].
pub mod tcp {
    pub use super::tcp_split::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
}
