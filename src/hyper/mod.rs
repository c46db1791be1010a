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
//!
//! ## Servers and clients in one call
//!
//! | item | what it does | tokio-side twin |
//! |---|---|---|
//! | [`serve`] | HTTP/1.1 + HTTP/2 (h2c) server on a [`Listener`] with any tower service (an axum `Router`, tonic `Routes`), upgrades on, [`with_graceful_shutdown`](Serve::with_graceful_shutdown) + [`grace_period`](WithGracefulShutdown::grace_period) | `axum::serve` |
//! | [`ShutdownSignal`] | in every request's extensions under a graceful shutdown: a WebSocket handler closes on it | Go's `RegisterOnShutdown` |
//! | [`Connector`] | hyper-util `Connect` for the pooled `Client` and tonic `Endpoint::connect_with_connector`: timeouts, `TCP_NODELAY`, keep-alive, happy eyeballs | `HttpConnector` |
//!
//! ```no_run
//! # #[derive(Clone)] struct Router;
//! # impl tower_service::Service<hyper::Request<hyper::body::Incoming>> for Router {
//! #     type Response = hyper::Response<String>;
//! #     type Error = std::convert::Infallible;
//! #     type Future = std::future::Ready<Result<Self::Response, Self::Error>>;
//! #     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> { std::task::Poll::Ready(Ok(())) }
//! #     fn call(&mut self, _: hyper::Request<hyper::body::Incoming>) -> Self::Future { std::future::ready(Ok(hyper::Response::new("hi".into()))) }
//! # }
//! # let app = Router;
//! // `app` is an axum::Router, say.
//! # gmp::block_on(async {
//! let listener = gmp::net::TcpListener::bind("127.0.0.1:3000").await?;
//! gmp::hyper::serve(listener, app)
//!     .with_graceful_shutdown(async { let _ = gmp::signal::ctrl_c().await; })
//!     .await
//! # }).unwrap();
//! ```

mod connector;
mod executor;
mod graceful;
mod io;
mod listener;
mod serve;
mod timer;

pub use connector::Connector;
pub use executor::GmpExecutor;
pub use graceful::{ShutdownSignal, Triggered};
pub use io::GmpIo;
pub use listener::Listener;
pub use serve::{serve, Serve, WithGracefulShutdown, DEFAULT_GRACE_PERIOD};
pub use timer::GmpTimer;
