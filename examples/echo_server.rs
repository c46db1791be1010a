//! A TCP echo server on gmp: one task per connection, everything read is written back.
//!
//! ```sh
//! cargo run --release --example echo_server -- 127.0.0.1:7878
//! # elsewhere:
//! nc 127.0.0.1 7878
//! ```
//!
//! The address comes from the first argument (default `127.0.0.1:7878`; port 0 picks a free
//! one); the number of Ps from `GMAXPROCS` (default: the CPU count).

use std::io;
use std::time::Duration;

use gmp::net::{TcpListener, TcpStream};

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7878".to_string());
    let rt = gmp::Runtime::new()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(addr.as_str()).await?;
        println!("echo_server: listening on {}", listener.local_addr()?);
        // The accept loop runs as a task, like every connection.
        gmp::spawn(accept_loop(listener))
            .await
            .map_err(io::Error::other)
    })
}

async fn accept_loop(listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                gmp::spawn(async move {
                    if let Err(e) = echo(stream).await {
                        eprintln!("echo_server: {peer}: {e}");
                    }
                });
            }
            // Out of file descriptors and the like: the error names the OS cause. Back off a
            // little and keep serving the connections we have.
            Err(e) => {
                eprintln!("echo_server: accept: {e}");
                gmp::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn echo(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(()); // the client closed its side
        }
        stream.write_all(&buf[..n]).await?;
    }
}
