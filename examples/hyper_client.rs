//! A hyper 1.x client on gmp: a few requests over one keep-alive HTTP/1.1 connection, then
//! the same over one HTTP/2 connection (prior knowledge, "h2c"), concurrently as streams.
//!
//! ```sh
//! cargo run --release --features hyper --example hyper_server -- 127.0.0.1:3000 &
//! cargo run --release --features hyper --example hyper_client -- 127.0.0.1:3000
//! ```
//!
//! Without an address it starts its own HTTP/1 + HTTP/2 server on a free port first, so it
//! also runs on its own.

use bytes::Bytes;
use gmp::hyper::{GmpExecutor, GmpIo, GmpTimer};
use gmp::net::{TcpListener, TcpStream};
use http_body_util::{BodyExt, Empty, Full};
use hyper::{Request, Response};
use std::convert::Infallible;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const REQUESTS: usize = 3;

#[gmp::main]
async fn main() -> Result<(), BoxError> {
    let addr = match std::env::args().nth(1) {
        Some(addr) => addr,
        None => start_local_server().await?,
    };

    // HTTP/1.1: one connection, requests one after another (keep-alive).
    let io = GmpIo::new(TcpStream::connect(addr.as_str()).await?);
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    gmp::spawn(async move {
        if let Err(e) = conn.await {
            eprintln!("http1 connection: {e}");
        }
    });
    for i in 0..REQUESTS {
        sender.ready().await?;
        let res = sender
            .send_request(get(&addr, &format!("/h1/{i}"))?)
            .await?;
        print_response(res).await?;
    }

    // HTTP/2: one connection, requests in parallel as streams.
    let io = GmpIo::new(TcpStream::connect(addr.as_str()).await?);
    let (sender, conn) = hyper::client::conn::http2::Builder::new(GmpExecutor::new())
        .timer(GmpTimer::new())
        .handshake(io)
        .await?;
    gmp::spawn(async move {
        if let Err(e) = conn.await {
            eprintln!("http2 connection: {e}");
        }
    });
    let streams: Vec<_> = (0..REQUESTS)
        .map(|i| {
            let mut sender = sender.clone();
            let req = get(&addr, &format!("/h2/{i}"));
            gmp::spawn(async move {
                let res = sender.send_request(req?).await?;
                print_response(res).await
            })
        })
        .collect();
    for s in streams {
        s.await??;
    }
    Ok(())
}

fn get(addr: &str, path: &str) -> Result<Request<Empty<Bytes>>, BoxError> {
    Ok(Request::get(format!("http://{addr}{path}")).body(Empty::new())?)
}

async fn print_response(res: Response<hyper::body::Incoming>) -> Result<(), BoxError> {
    let (parts, body) = res.into_parts();
    let body = body.collect().await?.to_bytes();
    print!(
        "{:?} {}: {}",
        parts.version,
        parts.status,
        String::from_utf8_lossy(&body)
    );
    Ok(())
}

/// A hello-world server (HTTP/1 and HTTP/2 auto-detected) on a free local port.
async fn start_local_server() -> std::io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?.to_string();
    gmp::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            gmp::spawn(async move {
                let service = hyper::service::service_fn(|req: Request<_>| async move {
                    let body = format!("Hello, world! ({:?} {})\n", req.version(), req.uri());
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(body))))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(GmpExecutor::new())
                    .serve_connection(GmpIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(addr)
}
