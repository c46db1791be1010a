//! The tokio twin of `examples/http_hello.rs`, for `scripts/wrk_compare.sh`: a minimal
//! HTTP/1.1 keep-alive server that answers every request with "Hello, world!". The request
//! handling and the response bytes are the gmp example's (both use `examples/support/http.rs`);
//! only the runtime differs.
//!
//! ```sh
//! GMAXPROCS=2 cargo run --release --example http_hello_tokio -- 127.0.0.1:8081
//! wrk -t2 -c50 -d10s http://127.0.0.1:8081/
//! ```
//!
//! The address comes from the first argument (default `127.0.0.1:8081`); tokio's multi-thread
//! runtime gets `GMAXPROCS` worker threads (default 2).
//!
//! HTTP handling, enough to be correct for keep-alive clients and load generators:
//! - A request head is read up to its blank line (`\r\n\r\n`); pipelined requests already in
//!   the buffer are answered in order, all their responses in one write.
//! - Connections are kept alive, except after `Connection: close` (or an HTTP/1.0 request
//!   without `Connection: keep-alive`): that response says `Connection: close` and the
//!   connection is closed after it.
//! - A request body announced with `Content-Length` is skipped; `Transfer-Encoding` (chunked
//!   bodies) is not supported and gets `501` and a close, as does a head over 8 KiB (`431`) or
//!   one that cannot be parsed (`400`).

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[path = "support/http.rs"]
mod http;
#[path = "support/procs.rs"]
mod procs;

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8081".to_string());
    let workers = procs::worker_threads()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(addr.as_str()).await?;
        eprintln!(
            "http_hello_tokio: listening on http://{} ({workers} worker threads)",
            listener.local_addr()?
        );
        tokio::spawn(accept_loop(listener))
            .await
            .map_err(io::Error::other)
    })
}

async fn accept_loop(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(async move {
                    // Resets and the like end the connection; nothing to report.
                    let _ = serve(stream).await;
                });
            }
            // Out of file descriptors and the like: back off a little, keep serving.
            Err(e) => {
                eprintln!("http_hello_tokio: accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Serve one connection until the client closes it, asks to close, or misbehaves.
async fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut conn = http::Conn::new();
    loop {
        let n = stream.read(conn.unfilled()).await?;
        if n == 0 {
            return Ok(()); // the client closed the connection
        }
        // Answer every complete request in the buffer (pipelining), in order.
        let close = conn.received(n);

        if !conn.out.is_empty() {
            stream.write_all(&conn.out).await?;
            conn.out.clear();
        }
        if close {
            // Send FIN after the response (shutdown(Write)); the socket closes when `stream`
            // drops.
            let _ = stream.shutdown().await;
            return Ok(());
        }
    }
}
