//! The tokio twin of `examples/http_hello.rs`, for `scripts/wrk_compare.sh`: a minimal
//! HTTP/1.1 keep-alive server that answers every request with "Hello, world!". The request
//! handling and the response bytes are the gmp example's, line for line; only the runtime
//! differs.
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

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";
const RESPONSE_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, world!";
/// The largest request head accepted.
const MAX_HEAD: usize = 8 * 1024;

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8081".to_string());
    let workers = worker_threads()?;
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

/// Worker threads: `GMAXPROCS` (as for the gmp twin), else 2.
fn worker_threads() -> io::Result<usize> {
    match std::env::var("GMAXPROCS") {
        Ok(s) => match s.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("GMAXPROCS={s:?} is invalid: expected a positive integer"),
            )),
        },
        Err(_) => Ok(2),
    }
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

/// What to do with one parsed request head.
struct Request {
    /// Bytes of the head, through the blank line.
    head_len: usize,
    /// Bytes of body that follow (from `Content-Length`).
    body_len: usize,
    /// Close the connection after responding.
    close: bool,
}

/// Why a request head is refused: the status line to send before closing.
enum Refuse {
    BadRequest,
    HeadTooLarge,
    NotImplemented,
}

impl Refuse {
    fn response(&self) -> &'static [u8] {
        match self {
            Refuse::BadRequest => {
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            }
            Refuse::HeadTooLarge => b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            Refuse::NotImplemented => {
                b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            }
        }
    }
}

/// Serve one connection until the client closes it, asks to close, or misbehaves.
async fn serve(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut filled = 0;
    let mut out = Vec::with_capacity(RESPONSE.len() * 4);
    // Body bytes of the last request still to be skipped.
    let mut skip = 0usize;
    loop {
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(()); // the client closed the connection
        }
        filled += n;

        // Answer every complete request in the buffer (pipelining), in order.
        let mut start = 0;
        let mut close = false;
        loop {
            if skip > 0 {
                let s = skip.min(filled - start);
                start += s;
                skip -= s;
                if skip > 0 {
                    break;
                }
            }
            match parse_head(&buf[start..filled]) {
                Ok(Some(req)) => {
                    start += req.head_len;
                    skip = req.body_len;
                    if req.close {
                        out.extend_from_slice(RESPONSE_CLOSE);
                        close = true;
                        break;
                    }
                    out.extend_from_slice(RESPONSE);
                }
                Ok(None) => {
                    if filled - start >= MAX_HEAD {
                        out.extend_from_slice(Refuse::HeadTooLarge.response());
                        close = true;
                    }
                    break;
                }
                Err(refuse) => {
                    out.extend_from_slice(refuse.response());
                    close = true;
                    break;
                }
            }
        }
        buf.copy_within(start..filled, 0);
        filled -= start;

        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
        if close {
            // Send FIN after the response (shutdown(Write)); the socket closes when `stream`
            // drops.
            let _ = stream.shutdown().await;
            return Ok(());
        }
    }
}

/// Parse the request head at the start of `buf`: `Ok(None)` while it is incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<Request>, Refuse> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = std::str::from_utf8(&buf[..end]).map_err(|_| Refuse::BadRequest)?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (Some(_method), Some(_target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refuse::BadRequest);
    };
    let mut close = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true, // HTTP/1.0 closes unless it asks for keep-alive
        _ => return Err(Refuse::BadRequest),
    };
    let mut body_len = 0;
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(Refuse::BadRequest)?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("connection") {
            for token in value.split(',').map(str::trim) {
                if token.eq_ignore_ascii_case("close") {
                    close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") && version == "HTTP/1.0" {
                    close = false;
                }
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            body_len = value.parse().map_err(|_| Refuse::BadRequest)?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(Refuse::NotImplemented);
        }
    }
    Ok(Some(Request {
        head_len: end + 4,
        body_len,
        close,
    }))
}
