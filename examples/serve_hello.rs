//! `gmp::hyper::serve` with the same hello service as `hyper_server.rs` (which assembles
//! hyper-util's builder by hand): the pair that shows what the helper costs.
//!
//! ```sh
//! cargo build --release --features hyper --example hyper_server --example serve_hello
//! scripts/abba.sh 12 'scripts/wrk_once.sh target/release/examples/hyper_server 18093' \
//!                    'scripts/wrk_once.sh target/release/examples/serve_hello 18094'
//! ```

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::future::Ready;
use std::task::{Context, Poll};

/// `hyper_server.rs`'s `hello`, as a tower service (what `serve` takes; an axum Router is one).
#[derive(Clone, Copy)]
struct Hello;

impl tower_service::Service<Request<Incoming>> for Hello {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        let body = format!("Hello, world! ({:?} {})\n", req.version(), req.uri().path());
        std::future::ready(Ok(Response::new(Full::new(Bytes::from(body)))))
    }
}

#[gmp::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_string());
    let listener = gmp::net::TcpListener::bind(addr.as_str()).await?;
    println!(
        "listening on http://{} (HTTP/1.1 and HTTP/2)",
        listener.local_addr()?
    );
    gmp::hyper::serve(listener, Hello).await
}
