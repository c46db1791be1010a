//! A hyper 1.x "Hello, world!" server on gmp: keep-alive HTTP/1.1 and HTTP/2 on one port, the
//! protocol picked per connection from its first bytes (hyper-util's `auto` builder; HTTP/2
//! here is prior knowledge, "h2c", as there is no TLS).
//!
//! ```sh
//! cargo run --release --features hyper --example hyper_server -- 127.0.0.1:3000
//! curl http://127.0.0.1:3000/                        # HTTP/1.1
//! curl --http2-prior-knowledge http://127.0.0.1:3000/ # HTTP/2
//! cargo run --release --features hyper --example hyper_client -- 127.0.0.1:3000
//! ```
//!
//! `gmp::hyper` supplies the three runtime pieces hyper asks for: `GmpIo` (the socket),
//! `GmpExecutor` (HTTP/2 streams run as gmp tasks) and `GmpTimer` (header read timeout,
//! keep-alive pings).
//!
//! Besides `/`, it answers `/block/N` (an unmarked `std::thread::sleep(N ms)` in the handler) and
//! `/spin/N` (N ms of CPU, no await): the bad neighbours of `scripts/bad_neighbour.sh`
//! (`examples/support/bad_routes.rs`).

use bytes::Bytes;
use gmp::hyper::{GmpExecutor, GmpIo, GmpTimer};
use gmp::net::TcpListener;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use std::convert::Infallible;
use std::time::Duration;

#[path = "support/bad_routes.rs"]
mod bad_routes;

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // `/block/N` and `/spin/N` run their bad work right here, in the poll, unmarked.
    match bad_routes::run(bad_routes::route(req.uri().path())) {
        Ok(body) if body.is_empty() => {
            let body = format!("Hello, world! ({:?} {})\n", req.version(), req.uri().path());
            Ok(Response::new(Full::new(Bytes::from(body))))
        }
        Ok(body) => Ok(Response::new(Full::new(Bytes::from(body)))),
        Err(why) => {
            let mut resp = Response::new(Full::new(Bytes::from(why)));
            *resp.status_mut() = StatusCode::BAD_REQUEST;
            Ok(resp)
        }
    }
}

#[gmp::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_string());
    let listener = TcpListener::bind(addr.as_str()).await?;
    println!(
        "listening on http://{} (HTTP/1.1 and HTTP/2)",
        listener.local_addr()?
    );

    let mut builder = hyper_util::server::conn::auto::Builder::new(GmpExecutor::new());
    builder
        .http1()
        .timer(GmpTimer::new())
        .keep_alive(true)
        .header_read_timeout(Duration::from_secs(30));
    builder
        .http2()
        .timer(GmpTimer::new())
        .keep_alive_interval(Duration::from_secs(30));

    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("accept: {e}");
                continue;
            }
        };
        let builder = builder.clone();
        // One task per connection, like a goroutine per connection in Go's net/http.
        gmp::spawn(async move {
            if let Err(e) = builder
                .serve_connection(GmpIo::new(stream), service_fn(hello))
                .await
            {
                eprintln!("{peer}: {e}");
            }
        });
    }
}
