//! `Connector`: hyper-util's client connector on gmp's sockets.
//!
//! Invariants:
//! - A call resolves the URI's host (a literal IP without a system call; a name with
//!   `getaddrinfo` in a blocking section, [`gmp::spawn_blocking`](crate::spawn_blocking)),
//!   then connects with happy eyeballs as Go's dialer does: the addresses of the first
//!   address's family are tried in order; the other family starts 300 ms later, or at once
//!   when the first family has failed; the first connection wins and the loser is dropped.
//! - Every error is an `io::Error`: a URI without a host is `InvalidInput`, a connect timeout
//!   `TimedOut`, otherwise the OS's error for the last address tried. Nothing panics on input.

use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};

use super::GmpIo;
use crate::net::{TcpSocket, TcpStream};

/// Go's `fallbackDelay`: the head start of the first address family.
const HAPPY_EYEBALLS_DELAY: Duration = Duration::from_millis(300);

/// A TCP connector for hyper-util's pooled client and for tonic channels: a tower
/// `Service<Uri>` answering [`GmpIo`]`<`[`TcpStream`]`>` (which implements hyper-util's
/// `Connection`), so it is a hyper-util `Connect`.
///
/// Defaults follow Go's `net.Dialer`: `TCP_NODELAY` on, TCP keep-alive probes after 15 s
/// idle, happy eyeballs with a 300 ms head start, no connect timeout (the OS's, about two
/// minutes on Linux). Plain `http` only; for TLS, wrap it (e.g. with tokio-rustls over the
/// stream, gmp's `tokio-io` feature).
///
/// ```
/// use gmp::hyper::{Connector, GmpExecutor, GmpTimer};
/// use http_body_util::Empty;
/// use hyper::body::Bytes;
/// use hyper_util::client::legacy::Client;
/// use std::time::Duration;
///
/// gmp::block_on(async {
///     let connector = Connector::new().connect_timeout(Some(Duration::from_secs(5)));
///     let client: Client<_, Empty<Bytes>> = Client::builder(GmpExecutor::new())
///         .timer(GmpTimer::new())
///         .pool_timer(GmpTimer::new())
///         .build(connector);
///     // Nothing listens on port 9 (discard) here: the error comes back, no panic.
///     let err = client.get("http://127.0.0.1:9/".parse().unwrap()).await.unwrap_err();
///     assert!(err.is_connect());
/// });
/// ```
#[derive(Clone)]
pub struct Connector {
    connect_timeout: Option<Duration>,
    nodelay: bool,
    keepalive: Option<Duration>,
    happy_eyeballs: Duration,
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("connect_timeout", &self.connect_timeout)
            .field("nodelay", &self.nodelay)
            .field("keepalive", &self.keepalive)
            .field("happy_eyeballs", &self.happy_eyeballs)
            .finish()
    }
}

impl Default for Connector {
    fn default() -> Self {
        Self::new()
    }
}

impl Connector {
    /// A connector with Go's defaults (see the type's docs).
    ///
    /// ```
    /// let connector = gmp::hyper::Connector::new();
    /// # let _ = connector;
    /// ```
    pub fn new() -> Self {
        Connector {
            connect_timeout: None,
            nodelay: true,
            keepalive: Some(Duration::from_secs(15)),
            happy_eyeballs: HAPPY_EYEBALLS_DELAY,
        }
    }

    /// Give up connecting after `timeout` in all (resolution and every address): the error
    /// is `TimedOut`. `None` (the default) leaves it to the OS.
    ///
    /// ```
    /// let c = gmp::hyper::Connector::new().connect_timeout(Some(std::time::Duration::from_secs(3)));
    /// # let _ = c;
    /// ```
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Set `TCP_NODELAY` on new connections (default on).
    ///
    /// ```
    /// let c = gmp::hyper::Connector::new().set_nodelay(false);
    /// # let _ = c;
    /// ```
    pub fn set_nodelay(mut self, nodelay: bool) -> Self {
        self.nodelay = nodelay;
        self
    }

    /// TCP keep-alive: `Some(idle)` probes a connection idle for `idle` (and every `idle`
    /// after); `None` turns it off. Default 15 s, Go's.
    ///
    /// ```
    /// let c = gmp::hyper::Connector::new().set_keepalive(None);
    /// # let _ = c;
    /// ```
    pub fn set_keepalive(mut self, idle: Option<Duration>) -> Self {
        self.keepalive = idle;
        self
    }

    /// The head start of the first address family over the other (default 300 ms, Go's
    /// `fallbackDelay`).
    ///
    /// ```
    /// let c = gmp::hyper::Connector::new().happy_eyeballs_delay(std::time::Duration::from_millis(50));
    /// # let _ = c;
    /// ```
    pub fn happy_eyeballs_delay(mut self, delay: Duration) -> Self {
        self.happy_eyeballs = delay;
        self
    }

    /// Connect to the host and port of `uri` (port 80 for `http`, 443 for `https`, unless
    /// given).
    ///
    /// ```
    /// gmp::block_on(async {
    ///     let uri = "/no/host".parse().unwrap();
    ///     let err = gmp::hyper::Connector::new().connect(&uri).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// });
    /// ```
    pub async fn connect(&self, uri: &Uri) -> io::Result<TcpStream> {
        let Some(host) = uri.host() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("gmp::hyper::Connector: the URI `{uri}` has no host"),
            ));
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
            Some("https") | Some("wss") => 443,
            _ => 80,
        });
        let attempt = self.resolve_and_connect(host.clone(), port);
        match self.connect_timeout {
            None => attempt.await,
            Some(limit) => match crate::time::timeout(limit, attempt).await {
                Ok(result) => result,
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("gmp::hyper::Connector: connecting to {host}:{port} timed out after {limit:?}"),
                )),
            },
        }
    }

    async fn resolve_and_connect(&self, host: String, port: u16) -> io::Result<TcpStream> {
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => crate::spawn_blocking(move || {
                (host.as_str(), port)
                    .to_socket_addrs()
                    .map(|a| a.collect::<Vec<_>>())
            })
            .await
            .map_err(io::Error::other)??,
        };
        let Some(first) = addrs.first() else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "gmp::hyper::Connector: the host resolved to no address",
            ));
        };
        let (primary, fallback): (Vec<_>, Vec<_>) =
            addrs.iter().partition(|a| a.is_ipv4() == first.is_ipv4());
        if fallback.is_empty() {
            return self.connect_each(primary).await;
        }
        race(
            self.connect_each(primary),
            self.connect_each(fallback),
            self.happy_eyeballs,
        )
        .await
    }

    /// Try `addrs` in order; the first connection wins, else the last error.
    async fn connect_each(&self, addrs: Vec<SocketAddr>) -> io::Result<TcpStream> {
        let mut last = None;
        for addr in addrs {
            match self.connect_one(addr).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address")))
    }

    async fn connect_one(&self, addr: SocketAddr) -> io::Result<TcpStream> {
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_nodelay(self.nodelay)?;
        socket.set_keepalive(self.keepalive.is_some())?;
        if let Some(idle) = self.keepalive {
            let secs = idle.as_secs().clamp(1, i32::MAX as u64) as libc::c_int;
            // Idle time before the first probe: TCP_KEEPALIVE on Apple targets.
            #[cfg(any(target_os = "macos", target_os = "ios"))]
            let keepidle = libc::TCP_KEEPALIVE;
            #[cfg(not(any(target_os = "macos", target_os = "ios")))]
            let keepidle = libc::TCP_KEEPIDLE;
            set_tcp_opt(socket.as_raw_fd(), keepidle, secs)?;
            set_tcp_opt(socket.as_raw_fd(), libc::TCP_KEEPINTVL, secs)?;
        }
        socket.connect(addr).await
    }
}

fn set_tcp_opt(fd: std::os::fd::RawFd, opt: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: `fd` is an open socket and `value` a live `c_int` of the size passed.
    let r = unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            opt,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Happy eyeballs: `primary` at once, `fallback` after `delay` (or as soon as `primary`
/// fails); the first success wins. Both failing gives the primary's error.
async fn race<P, F>(primary: P, fallback: F, delay: Duration) -> io::Result<TcpStream>
where
    P: Future<Output = io::Result<TcpStream>>,
    F: Future<Output = io::Result<TcpStream>>,
{
    let mut primary = std::pin::pin!(primary);
    let mut fallback = std::pin::pin!(fallback);
    let mut head_start = crate::time::sleep(delay);
    let mut primary_err: Option<io::Error> = None;
    let mut fallback_err: Option<io::Error> = None;
    let mut fallback_started = false;
    poll_fn(|cx: &mut Context<'_>| {
        if primary_err.is_none() {
            match primary.as_mut().poll(cx) {
                Poll::Ready(Ok(s)) => return Poll::Ready(Ok(s)),
                Poll::Ready(Err(e)) => {
                    primary_err = Some(e);
                    fallback_started = true;
                }
                Poll::Pending => {}
            }
        }
        if !fallback_started && Pin::new(&mut head_start).poll(cx).is_ready() {
            fallback_started = true;
        }
        if fallback_started && fallback_err.is_none() {
            match fallback.as_mut().poll(cx) {
                Poll::Ready(Ok(s)) => return Poll::Ready(Ok(s)),
                Poll::Ready(Err(e)) => fallback_err = Some(e),
                Poll::Pending => {}
            }
        }
        match (primary_err.take(), fallback_err.take()) {
            (Some(p), Some(_)) => Poll::Ready(Err(p)),
            (p, f) => {
                primary_err = p;
                fallback_err = f;
                Poll::Pending
            }
        }
    })
    .await
}

impl tower_service::Service<Uri> for Connector {
    type Response = GmpIo<TcpStream>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<GmpIo<TcpStream>>> + Send + 'static>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { this.connect(&uri).await.map(GmpIo::new) })
    }
}

/// What hyper-util's pool asks of a connection: a plain TCP connection, no ALPN (HTTP/2 to
/// a plain-text server is chosen with the client builder's `http2_only`).
impl Connection for GmpIo<TcpStream> {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fallback family wins when the primary never answers; the primary's error is the one
    /// returned when both fail.
    #[test]
    fn happy_eyeballs_race() {
        crate::block_on(async {
            let listener = crate::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let never = std::future::pending::<io::Result<TcpStream>>();
            let won = race(never, TcpStream::connect(addr), Duration::from_millis(1)).await;
            assert!(won.is_ok());

            let refuse = |kind| async move { Err::<TcpStream, _>(io::Error::from(kind)) };
            let err = race(
                refuse(io::ErrorKind::ConnectionRefused),
                refuse(io::ErrorKind::TimedOut),
                Duration::from_secs(3600),
            )
            .await
            .unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
        });
    }
}
