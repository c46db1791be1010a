//! The tokio twin of `hyper_server.rs`, for side-by-side wrk runs
//! (`GMP_EXAMPLE=hyper_server TOKIO_EXAMPLE=hyper_server_tokio FEATURES=hyper bash
//! scripts/wrk_compare.sh`): the same service and the same hyper-util `auto` builder, on
//! tokio's multi-thread runtime with hyper-util's `TokioExecutor`/`TokioTimer`/`TokioIo`.
//! Worker count from `GMAXPROCS` (default 2), address from argv (default 127.0.0.1:3001).
//! The same `/block/N` and `/spin/N` routes as `hyper_server.rs`, for `scripts/bad_neighbour.sh`.

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
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

fn main() -> std::io::Result<()> {
    let workers = std::env::var("GMAXPROCS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3001".to_string());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
        println!("listening on http://{}", listener.local_addr()?);
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .keep_alive(true)
            .header_read_timeout(Duration::from_secs(30));
        builder
            .http2()
            .timer(TokioTimer::new())
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
            tokio::spawn(async move {
                if let Err(e) = builder
                    .serve_connection(TokioIo::new(stream), service_fn(hello))
                    .await
                {
                    eprintln!("{peer}: {e}");
                }
            });
        }
    })
}
