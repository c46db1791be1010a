//! A small HTTP/1.1 server on its own one-thread tokio runtime, the same for every test and
//! for both modes of `examples/reqwest_bridge.rs`, so that only the client side differs.
//! Routes: `/hello` (`hello`), `/echo/<s>` (`<s>`), `/slow` (answers after 5 s).

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

/// The server; it stops when dropped.
pub struct Server {
    pub addr: SocketAddr,
    _rt: tokio::runtime::Runtime,
}

async fn route(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path();
    let body = if path == "/hello" {
        Bytes::from_static(b"hello")
    } else if let Some(s) = path.strip_prefix("/echo/") {
        Bytes::copy_from_slice(s.as_bytes())
    } else if path == "/slow" {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Bytes::from_static(b"late")
    } else {
        let mut res = Response::new(Full::new(Bytes::from_static(b"not found")));
        *res.status_mut() = hyper::StatusCode::NOT_FOUND;
        return Ok(res);
    };
    Ok(Response::new(Full::new(body)))
}

/// Start the server on a free loopback port.
pub fn start() -> Server {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("test-http-server")
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    rt.spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, hyper::service::service_fn(route))
                    .await;
            });
        }
    });
    Server { addr, _rt: rt }
}
