//! hyper 1.x on gmp (feature `hyper`): the runtime pieces hyper asks its user for.
//!
//! | type | hyper trait | what it does | hyper-util's tokio twin |
//! |---|---|---|---|
//! | [`GmpExecutor`] | [`hyper::rt::Executor`] | runs hyper's background futures (HTTP/2 streams, client connections) with [`gmp::spawn`](crate::spawn) | `TokioExecutor` |
//! | [`GmpTimer`] | [`hyper::rt::Timer`] | timeouts and keep-alive pings on [`gmp::time`](crate::time) | `TokioTimer` |
//! | [`GmpIo`] | [`hyper::rt::Read`] + [`hyper::rt::Write`] | wraps any `futures_io::AsyncRead`/`AsyncWrite`, e.g. [`gmp::net::TcpStream`](crate::net::TcpStream) | `TokioIo` |
//!
//! A server that answers every request on a connection:
//!
//! ```no_run
//! use gmp::hyper::{GmpExecutor, GmpIo, GmpTimer};
//! use gmp::net::TcpListener;
//! use hyper::service::service_fn;
//! use std::convert::Infallible;
//!
//! #[gmp::main]
//! async fn main() -> std::io::Result<()> {
//!     let listener = TcpListener::bind("127.0.0.1:8080").await?;
//!     loop {
//!         let (stream, _) = listener.accept().await?;
//!         gmp::spawn(async move {
//!             let service = service_fn(|_req: hyper::Request<hyper::body::Incoming>| async {
//!                 Ok::<_, Infallible>(hyper::Response::new(String::from("Hello, world!")))
//!             });
//!             let _ = hyper::server::conn::http1::Builder::new()
//!                 .timer(GmpTimer::new())
//!                 .serve_connection(GmpIo::new(stream), service)
//!                 .await;
//!         });
//!     }
//! }
//! ```
//!
//! For HTTP/2 pass [`GmpExecutor`] to `hyper::server::conn::http2::Builder::new` (or to
//! `hyper::client::conn::http2::handshake` on the client side).

mod executor;
mod io;
mod timer;

pub use executor::GmpExecutor;
pub use io::GmpIo;
pub use timer::GmpTimer;
