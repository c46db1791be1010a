//! hyper 1.x on gmp (feature `hyper`): client and server on gmp over HTTP/1.1 and HTTP/2,
//! gmp against tokio in both directions, and hyper's header read timeout on `GmpTimer`.
//!
//! Every test runs under a watchdog; waits are on conditions, never bare sleeps.
#![cfg(all(feature = "hyper", not(loom)))]

use bytes::Bytes;
use gmp::hyper::{GmpExecutor, GmpIo, GmpTimer};
use gmp::net::{TcpListener, TcpStream};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::net::SocketAddr;

use std::time::{Duration, Instant};

#[path = "support/mod.rs"]
mod support;

const DEADLINE: Duration = Duration::from_secs(120);
const CONNS: usize = 50;
const PER_CONN: usize = 20; // 1,000 requests in all

fn with_deadline<T: Send + 'static>(what: &str, body: impl FnOnce() -> T + Send + 'static) -> T {
    support::with_deadline(DEADLINE, what, body)
}

/// Echoes the request path (and method) back as the body.
async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let body = format!("{} {}", req.method(), req.uri().path());
    Ok(Response::new(Full::new(Bytes::from(body))))
}

#[derive(Clone, Copy, Debug)]
enum Proto {
    Http1,
    Http2,
}

/// A hyper server on the current gmp runtime; returns its address.
async fn gmp_server(proto: Proto) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    gmp::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            gmp::spawn(async move {
                let io = GmpIo::new(stream);
                let res = match proto {
                    Proto::Http1 => {
                        hyper::server::conn::http1::Builder::new()
                            .timer(GmpTimer::new())
                            .serve_connection(io, service_fn(hello))
                            .await
                    }
                    Proto::Http2 => {
                        hyper::server::conn::http2::Builder::new(GmpExecutor::new())
                            .timer(GmpTimer::new())
                            .serve_connection(io, service_fn(hello))
                            .await
                    }
                };
                let _ = res;
            });
        }
    });
    addr
}

/// `n` GET requests on one connection from a hyper client on gmp; checks every answer.
async fn gmp_client(addr: SocketAddr, proto: Proto, conn: usize, n: usize) {
    let io = GmpIo::new(TcpStream::connect(addr).await.unwrap());
    match proto {
        Proto::Http1 => {
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(io)
                    .await
                    .unwrap();
            gmp::spawn(connection);
            for i in 0..n {
                sender.ready().await.unwrap();
                let req = Request::get(format!("http://{addr}/c{conn}/r{i}"))
                    .body(Empty::new())
                    .unwrap();
                let res = sender.send_request(req).await.unwrap();
                assert_eq!(res.status(), 200);
                let body = res.into_body().collect().await.unwrap().to_bytes();
                assert_eq!(body, format!("GET /c{conn}/r{i}"));
            }
        }
        Proto::Http2 => {
            let (sender, connection) = hyper::client::conn::http2::Builder::new(GmpExecutor::new())
                .timer(GmpTimer::new())
                .handshake::<_, Empty<Bytes>>(io)
                .await
                .unwrap();
            gmp::spawn(connection);
            // HTTP/2: the requests of one connection go out concurrently, as streams.
            let mut streams = Vec::new();
            for i in 0..n {
                let mut sender = sender.clone();
                streams.push(gmp::spawn(async move {
                    sender.ready().await.unwrap();
                    let req = Request::get(format!("http://{addr}/c{conn}/r{i}"))
                        .body(Empty::new())
                        .unwrap();
                    let res = sender.send_request(req).await.unwrap();
                    assert_eq!(res.status(), 200);
                    let body = res.into_body().collect().await.unwrap().to_bytes();
                    assert_eq!(body, format!("GET /c{conn}/r{i}"));
                }));
            }
            for s in streams {
                s.await.unwrap();
            }
        }
    }
}

fn gmp_to_gmp(proto: Proto) {
    with_deadline("gmp client -> gmp server", move || {
        let rt = gmp::Runtime::new().unwrap();
        rt.block_on(rt.spawn(async move {
            let addr = gmp_server(proto).await;
            let clients: Vec<_> = (0..CONNS)
                .map(|c| gmp::spawn(gmp_client(addr, proto, c, PER_CONN)))
                .collect();
            for c in clients {
                c.await.unwrap();
            }
        }))
        .unwrap();
    });
}

#[test]
fn http1_gmp_client_gmp_server_1000_requests() {
    gmp_to_gmp(Proto::Http1);
}

#[test]
fn http2_gmp_client_gmp_server_1000_requests() {
    gmp_to_gmp(Proto::Http2);
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn gmp_server_tokio_client() {
    with_deadline("tokio client -> gmp server", || {
        let grt = gmp::Runtime::new().unwrap();
        for proto in [Proto::Http1, Proto::Http2] {
            let addr = grt.block_on(grt.spawn(gmp_server(proto))).unwrap();
            tokio_rt().block_on(async move {
                let io = hyper_util::rt::TokioIo::new(
                    tokio::net::TcpStream::connect(addr).await.unwrap(),
                );
                let req = || {
                    Request::get(format!("http://{addr}/from-tokio"))
                        .body(Empty::<Bytes>::new())
                        .unwrap()
                };
                let res = match proto {
                    Proto::Http1 => {
                        let (mut sender, conn) =
                            hyper::client::conn::http1::handshake(io).await.unwrap();
                        tokio::spawn(conn);
                        sender.send_request(req()).await.unwrap()
                    }
                    Proto::Http2 => {
                        let (mut sender, conn) = hyper::client::conn::http2::handshake(
                            hyper_util::rt::TokioExecutor::new(),
                            io,
                        )
                        .await
                        .unwrap();
                        tokio::spawn(conn);
                        sender.send_request(req()).await.unwrap()
                    }
                };
                assert_eq!(res.status(), 200);
                let body = res.into_body().collect().await.unwrap().to_bytes();
                assert_eq!(body, "GET /from-tokio");
            });
        }
    });
}

#[test]
fn tokio_server_gmp_client() {
    with_deadline("gmp client -> tokio server", || {
        let trt = tokio_rt();
        let grt = gmp::Runtime::new().unwrap();
        for proto in [Proto::Http1, Proto::Http2] {
            let addr = trt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                tokio::spawn(async move {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        let io = hyper_util::rt::TokioIo::new(stream);
                        tokio::spawn(async move {
                            let _ = match proto {
                                Proto::Http1 => {
                                    hyper::server::conn::http1::Builder::new()
                                        .serve_connection(io, service_fn(hello))
                                        .await
                                }
                                Proto::Http2 => {
                                    hyper::server::conn::http2::Builder::new(
                                        hyper_util::rt::TokioExecutor::new(),
                                    )
                                    .serve_connection(io, service_fn(hello))
                                    .await
                                }
                            };
                        });
                    }
                });
                addr
            });
            grt.block_on(grt.spawn(gmp_client(addr, proto, 7, 10)))
                .unwrap();
        }
    });
}

#[test]
fn header_read_timeout_closes_connection() {
    with_deadline("header read timeout", || {
        let rt = gmp::Runtime::new().unwrap();
        rt.block_on(rt.spawn(async {
            use futures::io::AsyncReadExt;
            let timeout = Duration::from_millis(300);
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = gmp::spawn(async move {
                let (stream, _) = listener.accept().await.unwrap();
                hyper::server::conn::http1::Builder::new()
                    .timer(GmpTimer::new())
                    .header_read_timeout(timeout)
                    .serve_connection(GmpIo::new(stream), service_fn(hello))
                    .await
            });

            let mut client = TcpStream::connect(addr).await.unwrap();
            let start = Instant::now();
            // A request head without its blank line: the server keeps waiting for the rest.
            client
                .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
                .await
                .unwrap();
            let mut rest = Vec::new();
            // The server gives up and closes (possibly after an error response): EOF or reset.
            let read = gmp::time::timeout(Duration::from_secs(60), client.read_to_end(&mut rest))
                .await
                .expect("the server did not close the connection");
            let elapsed = start.elapsed();
            assert!(
                elapsed >= timeout - Duration::from_millis(50),
                "closed after {elapsed:?}, before the {timeout:?} timeout"
            );
            if let Ok(n) = read {
                let text = String::from_utf8_lossy(&rest[..n]);
                assert!(
                    !text.contains("200 OK"),
                    "answered a partial request: {text}"
                );
            }
            let err = server
                .await
                .unwrap()
                .expect_err("the connection should fail");
            assert!(err.is_timeout(), "expected a timeout error, got {err:?}");
        }))
        .unwrap();
    });
}

#[test]
fn timer_reset_moves_deadline() {
    use hyper::rt::Timer;
    with_deadline("timer reset", || {
        let rt = gmp::Runtime::new().unwrap();
        rt.block_on(rt.spawn(async {
            let timer = GmpTimer::new();
            let mut sleep = timer.sleep(Duration::from_secs(3600));
            let start = Instant::now();
            timer.reset(&mut sleep, Instant::now() + Duration::from_millis(20));
            sleep.await;
            let elapsed = start.elapsed();
            assert!(elapsed >= Duration::from_millis(20));
            assert!(
                elapsed < Duration::from_secs(60),
                "reset ignored: {elapsed:?}"
            );
        }))
        .unwrap();
    });
}
