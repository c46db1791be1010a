//! `gmp::hyper::serve` and `gmp::hyper::Connector` (feature `hyper`): HTTP/1.1 and h2c,
//! keep-alive, graceful shutdown (in-flight requests finish, idle connections close,
//! upgraded connections are told and waited for, the grace period ends what is left), a
//! panicking service, accept back-off out of descriptors, and the connector with hyper-util's
//! pooled client.
//!
//! Every test runs under a watchdog; waits are on conditions (channels, EOF), never sleeps.
#![cfg(all(feature = "hyper", not(loom)))]

use std::convert::Infallible;
use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use gmp::hyper::{serve, Connector, GmpExecutor, GmpIo, GmpTimer, Listener, ShutdownSignal};
use gmp::net::{TcpListener, TcpStream};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use tokio::sync::{mpsc, oneshot, Notify};

#[path = "support/mod.rs"]
mod support;

const DEADLINE: Duration = Duration::from_secs(120);

fn run<T: Send + 'static>(what: &str, body: impl Future<Output = T> + Send + 'static) -> T {
    support::with_deadline(DEADLINE, what, move || {
        let rt = gmp::Runtime::builder().procs(2).build().unwrap();
        rt.block_on(rt.spawn(body)).unwrap()
    })
}

/// What the test service shares with the test.
#[derive(Default)]
struct Hooks {
    /// `/slow` has started (one message per request).
    slow_started: Option<mpsc::UnboundedSender<()>>,
    /// Lets `/slow` answer.
    release: Notify,
}

/// The test service: `/` hello, `/slow` waits for `release`, `/hang` never answers,
/// `/panic` panics, `/upgrade` switches protocols (the upgraded stream says "bye" and
/// closes when the shutdown signal fires), `/upgrade-stubborn` ignores the signal.
#[derive(Clone)]
struct App(Arc<Hooks>);

type Resp = Response<Full<Bytes>>;

impl tower_service::Service<Request<Incoming>> for App {
    type Response = Resp;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Resp, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<Incoming>) -> Self::Future {
        let hooks = self.0.clone();
        Box::pin(async move {
            let text = |s: &str| Response::new(Full::new(Bytes::from(s.to_owned())));
            Ok(match req.uri().path() {
                "/" => text("Hello, world!"),
                "/slow" => {
                    if let Some(tx) = &hooks.slow_started {
                        let _ = tx.send(());
                    }
                    hooks.release.notified().await;
                    text("slow done")
                }
                "/hang" => std::future::pending().await,
                "/panic" => panic!("boom"),
                path @ ("/upgrade" | "/upgrade-stubborn") => {
                    let stubborn = path == "/upgrade-stubborn";
                    let signal = req.extensions().get::<ShutdownSignal>().cloned();
                    let on_upgrade = hyper::upgrade::on(&mut req);
                    gmp::spawn(async move {
                        let upgraded = on_upgrade.await.unwrap();
                        let mut io = hyper_util::rt::TokioIo::new(upgraded);
                        match (signal, stubborn) {
                            (Some(signal), false) => {
                                signal.triggered().await;
                                use tokio::io::AsyncWriteExt;
                                let _ = io.write_all(b"bye").await;
                                let _ = io.shutdown().await;
                            }
                            // Hold the stream without reading: only the grace period ends it.
                            _ => std::future::pending::<()>().await,
                        }
                    });
                    Response::builder()
                        .status(StatusCode::SWITCHING_PROTOCOLS)
                        .header("connection", "upgrade")
                        .header("upgrade", "test")
                        .body(Full::new(Bytes::new()))
                        .unwrap()
                }
                _ => Response::builder()
                    .status(StatusCode::NOT_FOUND)
                    .body(Full::new(Bytes::new()))
                    .unwrap(),
            })
        })
    }
}

/// Write a GET on a raw connection.
async fn send_get(stream: &mut TcpStream, path: &str, extra: &str) {
    let req = format!("GET {path} HTTP/1.1\r\nhost: test\r\n{extra}\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
}

/// Read one response (head and `content-length` body) from a raw connection.
async fn read_response(stream: &mut TcpStream) -> io::Result<(u16, String)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let status: u16 = head[9..12].parse().unwrap();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = String::from_utf8_lossy(&buf[end + 4..end + 4 + len]).to_string();
            return Ok((status, body));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Read until EOF (or an error, e.g. a reset); returns what came before it.
async fn read_to_eof(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return out,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
        }
    }
}

type Server = (
    SocketAddr,
    oneshot::Sender<()>,
    gmp::JoinHandle<io::Result<()>>,
);

/// `serve` with a graceful shutdown on the returned sender.
async fn start_graceful(app: App, grace: Duration) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let server = gmp::spawn(async move {
        serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .grace_period(grace)
            .await
    });
    (addr, tx, server)
}

type H2 = hyper::client::conn::http2::SendRequest<Empty<Bytes>>;

/// An h2c client connection; the handle resolves when the connection closes.
async fn h2_client(addr: SocketAddr) -> (H2, gmp::JoinHandle<Result<(), hyper::Error>>) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (send, conn) = hyper::client::conn::http2::Builder::new(GmpExecutor::new())
        .timer(GmpTimer::new())
        .handshake(GmpIo::new(stream))
        .await
        .unwrap();
    (send, gmp::spawn(conn))
}

async fn h2_get(send: &mut H2, path: &str) -> Result<(StatusCode, Bytes), hyper::Error> {
    let req = Request::get(format!("http://test{path}"))
        .body(Empty::new())
        .unwrap();
    let resp = send.send_request(req).await?;
    let status = resp.status();
    Ok((status, resp.into_body().collect().await?.to_bytes()))
}

#[test]
fn serves_http1_keep_alive_and_h2c() {
    run("serve http1 + h2c", async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        gmp::spawn(serve(listener, App(Arc::default())).into_future());

        // HTTP/1.1: three requests on one keep-alive connection.
        let mut conn = TcpStream::connect(addr).await.unwrap();
        for _ in 0..3 {
            send_get(&mut conn, "/", "").await;
            let (status, body) = read_response(&mut conn).await.unwrap();
            assert_eq!((status, body.as_str()), (200, "Hello, world!"));
        }
        send_get(&mut conn, "/missing", "").await;
        assert_eq!(read_response(&mut conn).await.unwrap().0, 404);

        // h2c with prior knowledge: concurrent streams on one connection.
        let (send, _conn) = h2_client(addr).await;
        let mut streams = Vec::new();
        for _ in 0..20 {
            let mut send = send.clone();
            streams.push(gmp::spawn(async move { h2_get(&mut send, "/").await }));
        }
        for s in streams {
            let (status, body) = s.await.unwrap().unwrap();
            assert_eq!(status, StatusCode::OK);
            assert_eq!(&body[..], b"Hello, world!");
        }
    });
}

#[test]
fn serves_a_unix_listener() {
    run("serve unix", async {
        let dir = std::env::temp_dir().join(format!("gmp-serve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("s.sock");
        let _ = std::fs::remove_file(&path);
        let listener = gmp::net::UnixListener::bind(&path).unwrap();
        gmp::spawn(serve(listener, App(Arc::default())).into_future());
        let stream = gmp::net::UnixStream::connect(&path).await.unwrap();
        let (mut send, conn) = hyper::client::conn::http1::handshake(GmpIo::new(stream))
            .await
            .unwrap();
        gmp::spawn(conn);
        let resp = send
            .send_request(Request::get("/").body(Empty::<Bytes>::new()).unwrap())
            .await
            .unwrap();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"Hello, world!");
        let _ = std::fs::remove_dir_all(&dir);
    });
}

/// The signal fires with one slow request in flight, one idle HTTP/1 keep-alive connection,
/// one idle HTTP/2 connection and one upgraded connection: the idle ones close at once, the
/// upgraded one is told (it says "bye" and closes), new connections are refused, the slow
/// request still gets its answer, and `serve` resolves only after it.
#[test]
fn graceful_shutdown_finishes_in_flight_and_closes_idle() {
    run("graceful shutdown", async {
        let (started_tx, mut started) = mpsc::unbounded_channel();
        let hooks = Arc::new(Hooks {
            slow_started: Some(started_tx),
            ..Hooks::default()
        });
        let (addr, stop, server) = start_graceful(App(hooks.clone()), Duration::MAX).await;

        let mut idle = TcpStream::connect(addr).await.unwrap();
        send_get(&mut idle, "/", "").await;
        assert_eq!(read_response(&mut idle).await.unwrap().0, 200);

        let (mut h2, h2_conn) = h2_client(addr).await;
        assert_eq!(h2_get(&mut h2, "/").await.unwrap().0, StatusCode::OK);

        let mut upgraded = TcpStream::connect(addr).await.unwrap();
        send_get(
            &mut upgraded,
            "/upgrade",
            "connection: upgrade\r\nupgrade: test\r\n",
        )
        .await;
        assert_eq!(read_response(&mut upgraded).await.unwrap().0, 101);

        let mut slow = TcpStream::connect(addr).await.unwrap();
        send_get(&mut slow, "/slow", "").await;
        started.recv().await.unwrap();

        stop.send(()).unwrap();

        // Idle connections close; the upgraded one says goodbye first.
        assert_eq!(read_to_eof(&mut idle).await, b"");
        assert_eq!(read_to_eof(&mut upgraded).await, b"bye");
        h2_conn.await.unwrap().unwrap(); // GOAWAY, then the connection ends
        assert!(h2.is_closed());
        // Nothing is accepted any more.
        let refused = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);

        // The slow request is still in flight, so `serve` is still waiting.
        assert!(!server.is_finished());
        hooks.release.notify_one();
        let (status, body) = read_response(&mut slow).await.unwrap();
        assert_eq!((status, body.as_str()), (200, "slow done"));
        // ... and after it, the connection closes (keep-alive is off now).
        assert_eq!(read_to_eof(&mut slow).await, b"");
        server.await.unwrap().unwrap();
    });
}

/// A request that never ends and an upgraded stream that ignores the signal: `serve` gives
/// up after the grace period, shuts both sockets down, and the clients see them close.
#[test]
fn grace_period_ends_held_connections() {
    run("grace period", async {
        let grace = Duration::from_millis(200);
        let (addr, stop, server) = start_graceful(App(Arc::default()), grace).await;

        let mut hang = TcpStream::connect(addr).await.unwrap();
        send_get(&mut hang, "/hang", "").await;
        let mut stubborn = TcpStream::connect(addr).await.unwrap();
        send_get(
            &mut stubborn,
            "/upgrade-stubborn",
            "connection: upgrade\r\nupgrade: test\r\n",
        )
        .await;
        assert_eq!(read_response(&mut stubborn).await.unwrap().0, 101);

        let start = Instant::now();
        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
        let took = start.elapsed();
        assert!(
            took >= grace,
            "serve returned after {took:?}, before the grace period"
        );
        assert!(
            took < grace * 20,
            "serve took {took:?} for a {grace:?} grace period"
        );
        assert_eq!(read_to_eof(&mut hang).await, b"");
        assert_eq!(read_to_eof(&mut stubborn).await, b"");
    });
}

/// A listener that counts the connections it hands out.
struct Counting {
    inner: TcpListener,
    accepted: Arc<AtomicUsize>,
}

impl Listener for Counting {
    type Io = TcpStream;
    type Addr = SocketAddr;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let r = std::task::ready!(Listener::poll_accept(&mut self.inner, cx));
        if r.is_ok() {
            self.accepted.fetch_add(1, Ordering::SeqCst);
        }
        Poll::Ready(r)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

#[test]
fn connector_with_pooled_client_reuses_one_connection() {
    run("pooled client", async {
        let inner = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = inner.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let listener = Counting {
            inner,
            accepted: accepted.clone(),
        };
        gmp::spawn(serve(listener, App(Arc::default())).into_future());

        let client: Client<Connector, Empty<Bytes>> = Client::builder(GmpExecutor::new())
            .timer(GmpTimer::new())
            .pool_timer(GmpTimer::new())
            .build(Connector::new().connect_timeout(Some(Duration::from_secs(10))));
        for _ in 0..2 {
            let resp = client
                .get(format!("http://{addr}/").parse().unwrap())
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], b"Hello, world!");
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "the pool reused the connection"
        );

        // "localhost" goes through the resolver (a blocking section) and happy eyeballs.
        let uri = format!("http://localhost:{}/", addr.port())
            .parse()
            .unwrap();
        let resp = client.get(uri).await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    });
}

#[test]
fn connector_errors_refused_no_host_and_timeout() {
    run("connector errors", async {
        let connector = Connector::new();
        // A closed port.
        let port = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let uri = format!("http://127.0.0.1:{port}/").parse().unwrap();
        let err = connector.connect(&uri).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);

        // No host: an error, not a panic, through the client too.
        let err = connector
            .connect(&"/path".parse().unwrap())
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let client: Client<Connector, Empty<Bytes>> =
            Client::builder(GmpExecutor::new()).build(connector.clone());
        assert!(client.get("/path".parse().unwrap()).await.is_err());

        // A listener whose accept queue is full drops new SYNs: connect hangs, the timeout
        // ends it. Fill the queue (backlog 0 holds one) until a connect does not finish.
        let socket = gmp::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let full = socket.listen(0).unwrap();
        let addr = full.local_addr().unwrap();
        let mut held = Vec::new();
        loop {
            match gmp::time::timeout(Duration::from_millis(300), TcpStream::connect(addr)).await {
                Ok(stream) => held.push(stream.unwrap()),
                Err(_) => break,
            }
            assert!(held.len() < 64, "the accept queue never filled");
        }
        let uri = format!("http://{addr}/").parse().unwrap();
        let start = Instant::now();
        let err = Connector::new()
            .connect_timeout(Some(Duration::from_millis(100)))
            .connect(&uri)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(start.elapsed() < Duration::from_secs(5));
    });
}

const CHILD: &str = "GMP_SERVE_CHILD";

/// The children of the tests below (they change process-wide state or read stderr).
#[test]
fn serve_child() {
    match std::env::var(CHILD).as_deref() {
        Ok("panic") => panic_child(),
        Ok("emfile") => emfile_child(),
        _ => return, // only meaningful when run by a parent test
    }
    println!("scenario {} ok", std::env::var(CHILD).unwrap());
}

fn panic_child() {
    run("panic child", async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        gmp::spawn(serve(listener, App(Arc::default())).into_future());
        for _ in 0..3 {
            // HTTP/1: the connection closes without a response.
            let mut conn = TcpStream::connect(addr).await.unwrap();
            send_get(&mut conn, "/panic", "").await;
            assert!(read_response(&mut conn).await.is_err());
            // The server keeps serving.
            let mut ok = TcpStream::connect(addr).await.unwrap();
            send_get(&mut ok, "/", "").await;
            assert_eq!(read_response(&mut ok).await.unwrap().0, 200);
        }
        // HTTP/2: that stream is reset, the connection goes on.
        let (mut h2, _conn) = h2_client(addr).await;
        for _ in 0..3 {
            assert!(h2_get(&mut h2, "/panic").await.is_err());
            assert_eq!(h2_get(&mut h2, "/").await.unwrap().0, StatusCode::OK);
        }
    });
}

#[test]
fn panicking_service_closes_that_connection_and_is_reported_once() {
    let (_, stderr) = support::run_child("serve_child", CHILD, "panic", DEADLINE, |_| {});
    let h1 = "gmp::hyper::serve: the service panicked (boom) in a connection task";
    let h2 = "gmp::hyper::serve: the service panicked (boom) in an HTTP/2 stream task";
    assert_eq!(stderr.matches(h1).count(), 1, "{stderr}");
    assert_eq!(stderr.matches(h2).count(), 1, "{stderr}");
}

/// Out of descriptors: the accept loop backs off (little CPU), reports once, and accepts the
/// waiting clients once descriptors free up.
fn emfile_child() {
    run("emfile child", async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        gmp::spawn(serve(listener, App(Arc::default())).into_future());
        // Leave 16 descriptors, then use them up with clients (each also costs the server
        // one to accept, so the server runs out first and the rest wait in the queue).
        let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
        let limit = libc::rlimit {
            rlim_cur: open + 16,
            rlim_max: libc::RLIM_INFINITY,
        };
        let mut old = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the `rlimit` it is given, a live local.
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut old) };
        let limit = libc::rlimit {
            rlim_max: old.rlim_max,
            ..limit
        };
        // SAFETY: a plain setrlimit on this process (a child running only this test); it only
        // reads `limit`.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
        let mut clients = Vec::new();
        loop {
            match std::net::TcpStream::connect(addr) {
                Ok(c) => clients.push(c),
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
                    break;
                }
            }
        }
        // The server now fails to accept. Measure its CPU over a window: a hot accept loop
        // would burn the whole window, the back-off almost nothing.
        let cpu = || {
            // SAFETY: `rusage` is a plain C struct of integers: all-zero is a valid value.
            let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: fills `ru`.
            unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
            Duration::from_micros(
                (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) as u64 * 1_000_000
                    + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) as u64,
            )
        };
        let (c0, t0) = (cpu(), Instant::now());
        gmp::time::sleep(Duration::from_millis(500)).await; // a measuring window, not a wait
        let (burnt, wall) = (cpu() - c0, t0.elapsed());
        assert!(
            burnt < wall / 4,
            "the accept loop burnt {burnt:?} CPU in {wall:?}"
        );
        // Free descriptors: the waiting clients get served.
        let mut last = clients.pop().unwrap();
        drop(clients);
        use std::io::{Read, Write};
        last.write_all(b"GET / HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
            .unwrap();
        let mut resp = String::new();
        gmp::spawn_blocking(move || last.read_to_string(&mut resp).map(|_| resp))
            .await
            .unwrap()
            .map(|resp| assert!(resp.starts_with("HTTP/1.1 200"), "{resp}"))
            .unwrap();
    });
}

#[test]
fn accept_backs_off_out_of_descriptors() {
    let (_, stderr) = support::run_child("serve_child", CHILD, "emfile", DEADLINE, |_| {});
    let line = "gmp::hyper::serve: accept failed (";
    assert_eq!(stderr.matches(line).count(), 1, "{stderr}");
    assert!(stderr.contains("Too many open files"), "{stderr}");
}
