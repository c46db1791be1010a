//! The `tokio-compat` bridge: tokio-bound libraries inside gmp tasks (feature `tokio-compat`).
//!
//! Many libraries call tokio directly: `tokio::spawn` for a background connection task,
//! `tokio::time::sleep` for a timeout, `tokio::net::TcpStream::connect`. Inside a gmp task
//! those calls panic ("there is no reactor running, must be called from the context of a
//! Tokio 1.x runtime"). A runtime built with [`Builder::tokio_compat(true)`] (or
//! `#[gmp::main(tokio_compat = true)]`, `#[gmp::test(tokio_compat = true)]`) starts one small
//! tokio runtime beside it — a multi-thread runtime with **one** worker thread named
//! `<thread_name>-tokio`, IO and timers on — and enters its context on every gmp thread that
//! runs user code: every M (including Ms started later, spare Ms and Ms running blocking
//! sections), every `block_on` thread, and `Runtime::enter`. Then `tokio::spawn`,
//! `tokio::time`, `tokio::net`, `tokio::fs` and `tokio::runtime::Handle::current()` work in a
//! gmp task. The tokio runtime belongs to the gmp runtime: it is shut down after the gmp
//! runtime has stopped its Ms and dropped its tasks.
//!
//! ```
//! use std::time::Duration;
//!
//! let rt = gmp::Runtime::builder().tokio_compat(true).build().unwrap();
//! rt.block_on(async {
//!     // tokio code, unchanged, in a gmp task:
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     let server = tokio::spawn(async move { listener.accept().await.map(|_| ()) });
//!     let client = gmp::spawn(async move {
//!         tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
//!             .await
//!     });
//!     client.await.unwrap().unwrap().unwrap();
//!     server.await.unwrap().unwrap();
//!     assert!(gmp::tokio_compat::handle().is_some());
//! });
//! ```
//!
//! # What runs where — honestly
//!
//! The bridge does not move tokio's work onto gmp. What a library hands to tokio runs on the
//! tokio side:
//!
//! - tasks it spawns with `tokio::spawn` (reqwest's and hyper-util's connection tasks, sqlx's
//!   pool maintenance, an SDK's background refresh) run on the one tokio worker thread;
//! - its `tokio::net` sockets and `tokio::time` timers are registered with tokio's reactor,
//!   so their readiness is noticed by that worker thread, which then wakes the gmp task that
//!   awaits them (a cross-thread wake per event);
//! - `tokio::fs` and `tokio::task::spawn_blocking` run on tokio's blocking pool.
//!
//! The gmp task that awaits a reqwest response still runs on a P; the bytes travel through
//! the tokio worker first. So the bridge costs a thread hop per I/O event and one more
//! thread, and tokio's work is not scheduled, stolen, preempted or traced by gmp (it is
//! invisible to `Handle::dump`, `GMPDEBUG=schedtrace` and sysmon). MIGRATING.md and
//! BENCHMARKS.md give the measured cost of a reqwest GET loop, bridge vs plain tokio.
//!
//! # When to use it
//!
//! - **Servers: prefer gmp's own path.** An axum or tonic server served by
//!   `gmp::hyper::serve` on a `gmp::net::TcpListener` keeps every connection on gmp's Ps;
//!   through the bridge (`axum::serve` on a tokio listener) every connection would be a tokio
//!   task on one tokio thread.
//! - **Clients and SDKs: the bridge is the right tool.** reqwest, an sqlx pool, a cloud SDK,
//!   a Redis client — libraries that own their connections and spawn their own tokio tasks,
//!   where the work per request is small and there is no gmp counterpart to plug in. Use
//!   `gmp::hyper::Connector` with hyper-util's pooled client instead when you want the client
//!   connections on gmp too.
//! - `tokio::sync`, `tokio::select!`, `tokio::join!`, `tokio::task_local!` and tokio-util
//!   codecs need no bridge at all: they are runtime-independent.
//!
//! Things the bridge does not make work: `tokio::task::block_in_place` (it needs a tokio
//! worker; use [`crate::block_in_place`]), `tokio::task::spawn_local`/`LocalSet`, and
//! `tokio::runtime::Handle::current().block_on(..)` inside a gmp task (it would block an M
//! that holds a P; `.await` instead). The lazily started global runtime (`gmp::spawn`
//! outside any runtime) has no bridge.
//!
//! [`Builder::tokio_compat(true)`]: crate::Builder::tokio_compat

/// The bridge's tokio runtime handle for the current gmp runtime (the one whose task,
/// `block_on` or `enter` is running on this thread), or `None` when that runtime was built
/// without `tokio_compat(true)` or there is no current runtime.
///
/// ```
/// let rt = gmp::Runtime::builder().tokio_compat(true).build().unwrap();
/// let tokio = rt.block_on(async { gmp::tokio_compat::handle() }).unwrap();
/// assert_eq!(tokio.block_on(async { 1 + 1 }), 2); // outside any runtime: allowed
/// ```
pub fn handle() -> Option<tokio::runtime::Handle> {
    crate::executor::context::current_sched().and_then(|s| s.config.tokio.handle().cloned())
}
