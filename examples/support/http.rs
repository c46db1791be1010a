//! The runtime-independent half of `examples/http_hello.rs` and `examples/http_hello_tokio.rs`:
//! request-head parsing and response building for one connection. Each example does only the
//! socket I/O on its own runtime; the bytes sent are the same for both.
//!
//! Included with `#[path = "support/http.rs"] mod http;` (cargo does not treat files in a
//! subdirectory of `examples/` as examples).

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";
const RESPONSE_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, world!";
/// The largest request head accepted.
const MAX_HEAD: usize = 8 * 1024;

/// The HTTP state of one connection: received bytes not answered yet, and the responses to
/// send.
pub struct Conn {
    buf: Vec<u8>,
    filled: usize,
    /// Responses to write, in order; the caller writes and clears it.
    pub out: Vec<u8>,
    /// Body bytes of the last request still to be skipped.
    skip: usize,
}

impl Conn {
    pub fn new() -> Conn {
        Conn {
            buf: vec![0u8; 16 * 1024],
            filled: 0,
            out: Vec::with_capacity(RESPONSE.len() * 4),
            skip: 0,
        }
    }

    /// Where the next read goes.
    pub fn unfilled(&mut self) -> &mut [u8] {
        &mut self.buf[self.filled..]
    }

    /// Take `n` more bytes just read into [`unfilled`](Conn::unfilled): answer every complete
    /// request in the buffer (pipelining), in order, into `out`. Returns whether to close the
    /// connection after writing `out`.
    pub fn received(&mut self, n: usize) -> bool {
        self.filled += n;
        let filled = self.filled;
        let buf = &self.buf;
        let out = &mut self.out;
        let skip = &mut self.skip;

        let mut start = 0;
        let mut close = false;
        loop {
            if *skip > 0 {
                let s = (*skip).min(filled - start);
                start += s;
                *skip -= s;
                if *skip > 0 {
                    break;
                }
            }
            match parse_head(&buf[start..filled]) {
                Ok(Some(req)) => {
                    start += req.head_len;
                    *skip = req.body_len;
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
        self.buf.copy_within(start..filled, 0);
        self.filled -= start;
        close
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
