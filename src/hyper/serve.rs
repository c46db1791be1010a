//! `serve`: an HTTP server on a listener in one call, the replacement for `axum::serve`.
//!
//! Invariants:
//! - One gmp task per connection, spawned by the accept loop; HTTP/1.1 and HTTP/2 (h2c prior
//!   knowledge) are told apart by hyper-util's `auto` builder from the first bytes. HTTP/2
//!   streams are tasks of their own (hyper spawns them through [`ServeExecutor`]).
//! - A panic in the service is caught where it unwinds: in the connection task (HTTP/1: the
//!   connection is dropped, so the client sees it close without a response) or in the HTTP/2
//!   stream task (that stream is reset). The server keeps serving; each of the two sites
//!   reports its first panic once on stderr.
//! - Accept errors never end the loop unless the listener itself is broken (`EBADF`,
//!   `EINVAL`, `ENOTSOCK`, `EFAULT`, or gmp's "runtime has shut down"), which is returned as
//!   `Err`. Per-connection errors (`ECONNABORTED`, …) are retried at once: each one used up a
//!   queued connection, so this cannot spin. Anything else (`EMFILE`, `ENFILE`, `ENOBUFS`,
//!   `ENOMEM`, …) backs off, 1 ms doubling to 1 s (reset by the next success); the first
//!   such error of a server is reported once on stderr.
//! - Graceful mode (see [`graceful`](super::graceful)): on the signal the listener is dropped
//!   (nothing more is accepted), every connection is told (`graceful_shutdown`: HTTP/1 closes
//!   once idle, HTTP/2 sends GOAWAY), handlers see their [`ShutdownSignal`] fire, and `serve`
//!   resolves when every connection — upgraded ones included — has closed, or when the grace
//!   period ends, at which point the remaining sockets are shut down.

use std::any::Any;
use std::error::Error as StdError;
use std::future::{poll_fn, Future, IntoFuture};
use std::io;
use std::os::fd::AsRawFd;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;

use super::graceful::{ConnGuard, Shared, ShutdownSignal, Triggered};
use super::{GmpIo, GmpTimer, Listener};

type BoxError = Box<dyn StdError + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The default grace period of a graceful shutdown: 30 s.
///
/// ```
/// assert_eq!(gmp::hyper::DEFAULT_GRACE_PERIOD, std::time::Duration::from_secs(30));
/// ```
pub const DEFAULT_GRACE_PERIOD: Duration = Duration::from_secs(30);

/// How long a connection may take to send a request head (hyper's `header_read_timeout`).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serve HTTP/1.1 and HTTP/2 on `listener` with `service`, one gmp task per connection: the
/// one-line replacement for `axum::serve`.
///
/// `service` is any tower `Service<Request<Incoming>>` that is `Clone + Send + 'static` — an
/// `axum::Router`, a tonic `Routes`, a `tower::ServiceBuilder` stack, or
/// `hyper_util::service::TowerToHyperService`'s input in general. It is cloned per
/// connection and per request (as axum does), and driven by hyper-util's `auto` builder with
/// [`GmpTimer`] (header-read timeout 30 s, HTTP/2 keep-alive), HTTP upgrades on (WebSockets),
/// and `TCP_NODELAY` on TCP connections.
///
/// Await the returned [`Serve`] to run until the listener fails for good (`Err`); chain
/// [`with_graceful_shutdown`](Serve::with_graceful_shutdown) to stop on a signal.
///
/// Make-services (`Router::into_make_service`, `into_make_service_with_connect_info`) are
/// not accepted: pass the `Router` itself. A make-service's target type is axum's own
/// (`IncomingStream` of axum's `Listener`), which gmp cannot name without depending on axum,
/// and one blanket impl for both shapes would overlap. So axum's `ConnectInfo` extractor
/// has nothing to read; a service that needs the peer can wrap a [`Listener`].
///
/// ```no_run
/// use gmp::hyper::serve;
/// use http_body_util::Full;
/// use hyper::body::{Bytes, Incoming};
/// use hyper::{Request, Response};
/// use std::convert::Infallible;
///
/// # #[derive(Clone)] struct Hello;
/// # impl tower_service::Service<Request<Incoming>> for Hello {
/// #     type Response = Response<Full<Bytes>>;
/// #     type Error = Infallible;
/// #     type Future = std::future::Ready<Result<Self::Response, Infallible>>;
/// #     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Infallible>> {
/// #         std::task::Poll::Ready(Ok(()))
/// #     }
/// #     fn call(&mut self, _: Request<Incoming>) -> Self::Future {
/// #         std::future::ready(Ok(Response::new(Full::new(Bytes::from("Hello, world!")))))
/// #     }
/// # }
/// #[gmp::main]
/// async fn main() -> std::io::Result<()> {
///     let listener = gmp::net::TcpListener::bind("127.0.0.1:3000").await?;
///     let app = Hello; // or an axum::Router
///     serve(listener, app)
///         .with_graceful_shutdown(async { let _ = gmp::signal::ctrl_c().await; })
///         .await
/// }
/// ```
pub fn serve<L, S, B>(listener: L, service: S) -> Serve<L, S>
where
    L: Listener,
    S: tower_service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    Serve { listener, service }
}

/// A server that has not started yet: await it (it implements [`IntoFuture`]) or add a
/// graceful shutdown. Made by [`serve`].
///
/// ```no_run
/// # #[derive(Clone)] struct Hello;
/// # impl tower_service::Service<hyper::Request<hyper::body::Incoming>> for Hello {
/// #     type Response = hyper::Response<String>;
/// #     type Error = std::convert::Infallible;
/// #     type Future = std::future::Ready<Result<Self::Response, Self::Error>>;
/// #     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> { std::task::Poll::Ready(Ok(())) }
/// #     fn call(&mut self, _: hyper::Request<hyper::body::Incoming>) -> Self::Future { std::future::ready(Ok(hyper::Response::new("hi".into()))) }
/// # }
/// # async fn f(app: Hello) -> std::io::Result<()> {
/// let listener = gmp::net::TcpListener::bind("127.0.0.1:0").await?;
/// let server = gmp::hyper::serve(listener, app);
/// println!("listening on {}", server.local_addr()?);
/// server.await
/// # }
/// ```
#[must_use = "a server does nothing until it is awaited"]
pub struct Serve<L, S> {
    listener: L,
    service: S,
}

impl<L: Listener, S> std::fmt::Debug for Serve<L, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serve")
            .field("local_addr", &self.listener.local_addr().ok())
            .finish_non_exhaustive()
    }
}

impl<L: Listener, S> Serve<L, S> {
    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<L::Addr> {
        self.listener.local_addr()
    }

    /// Stop gracefully once `signal` resolves: stop accepting, let in-flight requests
    /// finish, close idle keep-alive connections, fire every request's [`ShutdownSignal`]
    /// (an upgraded connection, e.g. a WebSocket, should close itself on it), and resolve
    /// when every connection — upgraded ones included — is closed, or after the
    /// [`grace_period`](WithGracefulShutdown::grace_period) (30 s unless set), shutting down
    /// the sockets still open.
    ///
    /// ```no_run
    /// # #[derive(Clone)] struct Hello;
    /// # impl tower_service::Service<hyper::Request<hyper::body::Incoming>> for Hello {
    /// #     type Response = hyper::Response<String>;
    /// #     type Error = std::convert::Infallible;
    /// #     type Future = std::future::Ready<Result<Self::Response, Self::Error>>;
    /// #     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> { std::task::Poll::Ready(Ok(())) }
    /// #     fn call(&mut self, _: hyper::Request<hyper::body::Incoming>) -> Self::Future { std::future::ready(Ok(hyper::Response::new("hi".into()))) }
    /// # }
    /// # async fn f(app: Hello) -> std::io::Result<()> {
    /// use std::time::Duration;
    /// let listener = gmp::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let (tx, rx) = futures::channel::oneshot::channel::<()>();
    /// gmp::spawn(async move { gmp::time::sleep(Duration::from_secs(60)).await; let _ = tx.send(()); });
    /// gmp::hyper::serve(listener, app)
    ///     .with_graceful_shutdown(async move { let _ = rx.await; })
    ///     .grace_period(Duration::from_secs(5))
    ///     .await
    /// # }
    /// ```
    pub fn with_graceful_shutdown<F>(self, signal: F) -> WithGracefulShutdown<L, S>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        WithGracefulShutdown {
            listener: self.listener,
            service: self.service,
            signal: Box::pin(signal),
            grace: DEFAULT_GRACE_PERIOD,
        }
    }
}

/// A server with a graceful shutdown: await it (it implements [`IntoFuture`]). Made by
/// [`Serve::with_graceful_shutdown`].
#[must_use = "a server does nothing until it is awaited"]
pub struct WithGracefulShutdown<L, S> {
    listener: L,
    service: S,
    signal: BoxFuture<()>,
    grace: Duration,
}

impl<L: Listener, S> std::fmt::Debug for WithGracefulShutdown<L, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithGracefulShutdown")
            .field("local_addr", &self.listener.local_addr().ok())
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

impl<L: Listener, S> WithGracefulShutdown<L, S> {
    /// How long to wait for connections after the signal before shutting the rest down
    /// (default 30 s). `Duration::MAX` waits for ever.
    ///
    /// ```no_run
    /// # #[derive(Clone)] struct Hello;
    /// # impl tower_service::Service<hyper::Request<hyper::body::Incoming>> for Hello {
    /// #     type Response = hyper::Response<String>;
    /// #     type Error = std::convert::Infallible;
    /// #     type Future = std::future::Ready<Result<Self::Response, Self::Error>>;
    /// #     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> { std::task::Poll::Ready(Ok(())) }
    /// #     fn call(&mut self, _: hyper::Request<hyper::body::Incoming>) -> Self::Future { std::future::ready(Ok(hyper::Response::new("hi".into()))) }
    /// # }
    /// # async fn f(app: Hello) -> std::io::Result<()> {
    /// let listener = gmp::net::TcpListener::bind("127.0.0.1:0").await?;
    /// gmp::hyper::serve(listener, app)
    ///     .with_graceful_shutdown(async { let _ = gmp::signal::ctrl_c().await; })
    ///     .grace_period(std::time::Duration::from_secs(5))
    ///     .await
    /// # }
    /// ```
    pub fn grace_period(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<L::Addr> {
        self.listener.local_addr()
    }
}

impl<L, S, B> IntoFuture for Serve<L, S>
where
    L: Listener,
    S: tower_service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Output = io::Result<()>;
    type IntoFuture = BoxFuture<io::Result<()>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(run(self.listener, self.service, None))
    }
}

impl<L, S, B> IntoFuture for WithGracefulShutdown<L, S>
where
    L: Listener,
    S: tower_service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Output = io::Result<()>;
    type IntoFuture = BoxFuture<io::Result<()>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(run(
            self.listener,
            self.service,
            Some((self.signal, self.grace)),
        ))
    }
}

/// The accept loop.
async fn run<L, S, B>(
    mut listener: L,
    service: S,
    graceful: Option<(BoxFuture<()>, Duration)>,
) -> io::Result<()>
where
    L: Listener,
    S: tower_service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let mut builder = auto::Builder::new(ServeExecutor);
    builder
        .http1()
        .timer(GmpTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder.http2().timer(GmpTimer::new());

    let (mut signal, grace) = match graceful {
        Some((signal, grace)) => (Some(signal), grace),
        None => (None, DEFAULT_GRACE_PERIOD),
    };
    let shared = signal.as_ref().map(|_| Shared::new());
    let mut backoff = Backoff::new();
    let mut reported_accept_error = false;

    loop {
        let step = poll_fn(|cx| {
            if let Some(sig) = signal.as_mut() {
                if sig.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(None);
                }
            }
            listener.poll_accept(cx).map(Some)
        })
        .await;
        let (io, _peer) = match step {
            None => break,
            Some(Ok(accepted)) => {
                backoff.reset();
                accepted
            }
            Some(Err(e)) => match classify(&e) {
                AcceptError::Fatal => return Err(e),
                AcceptError::Connection => continue,
                AcceptError::Resource => {
                    let delay = backoff.next_delay();
                    if !reported_accept_error {
                        reported_accept_error = true;
                        eprintln!(
                            "gmp::hyper::serve: accept failed ({e}); backing off \
                             ({delay:?} doubling to {:?}) until it succeeds (reported once \
                             per server; later failures back off silently)",
                            Backoff::MAX
                        );
                    }
                    let mut sleep = crate::time::sleep(delay);
                    let stop = poll_fn(|cx| {
                        if let Some(sig) = signal.as_mut() {
                            if sig.as_mut().poll(cx).is_ready() {
                                return Poll::Ready(true);
                            }
                        }
                        Pin::new(&mut sleep).poll(cx).map(|()| false)
                    })
                    .await;
                    if stop {
                        break;
                    }
                    continue;
                }
            },
        };

        let guard = shared.as_ref().map(|s| s.register(io.as_raw_fd()));
        let io = ConnIo {
            _guard: guard,
            io: GmpIo::new(io),
        };
        let service = TowerToHyperService::new(AddSignal {
            inner: service.clone(),
            signal: shared.as_ref().map(ShutdownSignal::new),
        });
        let conn = builder
            .serve_connection_with_upgrades(io, service)
            .into_owned();
        let trig = shared.as_ref().map(Triggered::new);
        drop(crate::spawn(CatchUnwind {
            fut: ConnTask { conn, trig },
            site: &CONNECTION_SITE,
        }));
    }

    // Graceful shutdown: stop accepting, tell every connection, wait (within the grace).
    drop(listener);
    let Some(shared) = shared else {
        return Ok(());
    };
    shared.trigger();
    let drained = crate::time::timeout(grace, poll_fn(|cx| shared.poll_drained(cx))).await;
    if drained.is_err() {
        let n = shared.force_close();
        if n > 0 {
            eprintln!(
                "gmp::hyper::serve: the grace period ({grace:?}) ended with {n} connection(s) \
                 open; shut them down"
            );
        }
    }
    debug_assert!(drained.is_err() || shared.live() == 0);
    Ok(())
}

/// A connection's I/O: the stream, and (in graceful mode) its registration, which lives as
/// long as the stream does — through an upgrade too.
struct ConnIo<T> {
    // First: dropped (deregistered) before the socket closes.
    _guard: Option<ConnGuard>,
    io: GmpIo<T>,
}

impl<T> hyper::rt::Read for ConnIo<T>
where
    T: futures_io::AsyncRead + Unpin + 'static,
{
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T> hyper::rt::Write for ConnIo<T>
where
    T: futures_io::AsyncWrite + Unpin,
{
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    #[inline]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        // As `GmpIo` says (hyper picks its write strategy from it): one buffer, one write.
        self.io.is_write_vectored()
    }

    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    #[inline]
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// The user's service, with the [`ShutdownSignal`] put in each request (graceful mode).
#[derive(Clone)]
struct AddSignal<S> {
    inner: S,
    signal: Option<ShutdownSignal>,
}

impl<S> tower_service::Service<Request<Incoming>> for AddSignal<S>
where
    S: tower_service::Service<Request<Incoming>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, mut req: Request<Incoming>) -> S::Future {
        if let Some(signal) = &self.signal {
            req.extensions_mut().insert(signal.clone());
        }
        self.inner.call(req)
    }
}

pin_project_lite::pin_project! {
    /// One connection's task: hyper's connection, told to shut down gracefully when the
    /// signal fires.
    struct ConnTask<C> {
        #[pin]
        conn: C,
        trig: Option<Triggered>,
    }
}

/// A connection that can be told to finish gracefully.
trait GracefulConn {
    fn graceful_shutdown(self: Pin<&mut Self>);
}

impl<I, S, B> GracefulConn for auto::UpgradeableConnection<'static, I, S, ServeExecutor>
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>>,
    S::Future: 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + 'static,
    B::Error: Into<BoxError>,
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    ServeExecutor: auto::HttpServerConnExec<S::Future, B>,
{
    fn graceful_shutdown(self: Pin<&mut Self>) {
        auto::UpgradeableConnection::graceful_shutdown(self)
    }
}

impl<C: Future + GracefulConn> Future for ConnTask<C> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        if let Some(trig) = this.trig.as_mut() {
            if Pin::new(trig).poll(cx).is_ready() {
                *this.trig = None;
                this.conn.as_mut().graceful_shutdown();
            }
        }
        // A connection error (a reset, a malformed request, a header-read timeout) ends
        // that connection only; like axum, nothing is reported.
        this.conn.poll(cx).map(|_| ())
    }
}

/// Where a service's panic can unwind to; each reports its first panic once.
struct PanicSite {
    what: &'static str,
    reported: AtomicBool,
}

impl PanicSite {
    fn report(&self, payload: &(dyn Any + Send)) {
        if self.reported.swap(true, Ordering::Relaxed) {
            return;
        }
        let msg = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a non-string payload");
        eprintln!(
            "gmp::hyper::serve: the service panicked ({msg}) in {}; the panic was caught and \
             the server keeps serving (reported once; later panics here are not)",
            self.what
        );
    }
}

static CONNECTION_SITE: PanicSite = PanicSite {
    what: "a connection task: that connection was closed without a response",
    reported: AtomicBool::new(false),
};

static STREAM_SITE: PanicSite = PanicSite {
    what: "an HTTP/2 stream task: that stream was reset",
    reported: AtomicBool::new(false),
};

pin_project_lite::pin_project! {
    /// Runs a future, turning a panic into completion plus a report.
    struct CatchUnwind<F> {
        #[pin]
        fut: F,
        site: &'static PanicSite,
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.project();
        let fut = this.fut;
        match catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Ready(_)) => Poll::Ready(()),
            Ok(Poll::Pending) => Poll::Pending,
            Err(payload) => {
                this.site.report(&*payload);
                Poll::Ready(())
            }
        }
    }
}

/// `serve`'s executor for hyper's HTTP/2 stream tasks: [`GmpExecutor`](super::GmpExecutor)
/// with each task's panic caught and reported.
#[derive(Clone, Copy, Debug)]
struct ServeExecutor;

impl<F> hyper::rt::Executor<F> for ServeExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        drop(crate::spawn(CatchUnwind {
            fut,
            site: &STREAM_SITE,
        }));
    }
}

/// What an accept error means for the loop.
#[derive(Debug, PartialEq, Eq)]
enum AcceptError {
    /// The listener is broken: return the error.
    Fatal,
    /// One connection failed (and was used up): accept the next at once.
    Connection,
    /// Out of something (descriptors, memory): back off.
    Resource,
}

fn classify(e: &io::Error) -> AcceptError {
    match e.raw_os_error() {
        Some(libc::EBADF | libc::EINVAL | libc::ENOTSOCK | libc::EFAULT | libc::EOPNOTSUPP) => {
            AcceptError::Fatal
        }
        // accept(2): "Linux accept() passes already-pending network errors on the new socket
        // as an error code from accept()… treat them like EAGAIN by retrying."
        Some(
            libc::ECONNABORTED
            | libc::ECONNRESET
            | libc::EPROTO
            | libc::ENETDOWN
            | libc::ENOPROTOOPT
            | libc::EHOSTDOWN
            | libc::EHOSTUNREACH
            | libc::ENETUNREACH
            | libc::EPERM
            | libc::EINTR,
        ) => AcceptError::Connection,
        // Linux only ("machine is not on the network").
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Some(libc::ENONET) => AcceptError::Connection,
        Some(_) => AcceptError::Resource,
        // Not from the OS: gmp's "the runtime has shut down", or a custom listener's own.
        None => AcceptError::Fatal,
    }
}

/// The accept loop's back-off: 1 ms doubling to 1 s, reset by a successful accept.
#[derive(Debug)]
struct Backoff {
    next: Duration,
}

impl Backoff {
    const MIN: Duration = Duration::from_millis(1);
    const MAX: Duration = Duration::from_secs(1);

    fn new() -> Self {
        Backoff { next: Self::MIN }
    }

    /// The delay before the next accept; doubles each time.
    fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        d
    }

    fn reset(&mut self) {
        self.next = Self::MIN;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_second_and_resets() {
        let mut b = Backoff::new();
        let delays: Vec<u64> = (0..13).map(|_| b.next_delay().as_millis() as u64).collect();
        assert_eq!(
            delays,
            [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000, 1000, 1000]
        );
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(1));
        assert_eq!(b.next_delay(), Duration::from_millis(2));
    }

    #[test]
    fn accept_errors_are_classified() {
        let os = io::Error::from_raw_os_error;
        assert_eq!(classify(&os(libc::EMFILE)), AcceptError::Resource);
        assert_eq!(classify(&os(libc::ENFILE)), AcceptError::Resource);
        assert_eq!(classify(&os(libc::ENOBUFS)), AcceptError::Resource);
        assert_eq!(classify(&os(libc::ECONNABORTED)), AcceptError::Connection);
        assert_eq!(classify(&os(libc::EBADF)), AcceptError::Fatal);
        assert_eq!(classify(&io::Error::other("gone")), AcceptError::Fatal);
    }
}
