//! tokio's I/O traits on gmp's streams (feature `tokio-io`): tokio-util's `LinesCodec` over a
//! gmp `TcpStream` and its owned halves, tokio's `AsyncReadExt`/`AsyncWriteExt` over a
//! `UnixStream`, and hyper-util's `TokioIo` serving HTTP over a gmp socket.
//!
//! Every test runs under a watchdog; waits are on conditions, never bare sleeps.
#![cfg(all(feature = "tokio-io", not(loom)))]

use futures::{SinkExt, StreamExt};
use gmp::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use std::time::Duration;
use tokio_util::codec::{Framed, FramedRead, FramedWrite, LinesCodec};

#[path = "support/mod.rs"]
mod support;

const DEADLINE: Duration = Duration::from_secs(120);

fn with_deadline<T: Send + 'static>(what: &str, body: impl FnOnce() -> T + Send + 'static) -> T {
    support::with_deadline(DEADLINE, what, body)
}

#[test]
fn lines_codec_over_tcp() {
    with_deadline("LinesCodec echo", || {
        let rt = gmp::Runtime::new().unwrap();
        rt.block_on(rt.spawn(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            // Server: upper-cases each line, over the owned halves.
            let server = gmp::spawn(async move {
                let (stream, _) = listener.accept().await.unwrap();
                let (rd, wr) = stream.into_split();
                let mut lines = FramedRead::new(rd, LinesCodec::new());
                let mut out = FramedWrite::new(wr, LinesCodec::new());
                let mut n = 0;
                while let Some(line) = lines.next().await {
                    out.send(line.unwrap().to_uppercase()).await.unwrap();
                    n += 1;
                }
                // EOF from the client: close our side too.
                SinkExt::<String>::close(&mut out).await.unwrap();
                n
            });

            // Client: the whole stream as one `Framed`.
            let stream = TcpStream::connect(addr).await.unwrap();
            let (mut sink, mut stream) = Framed::new(stream, LinesCodec::new()).split();
            let writer = gmp::spawn(async move {
                for i in 0..1000 {
                    sink.send(format!("line number {i}")).await.unwrap();
                }
                // `poll_shutdown`: the server reads EOF.
                sink.close().await.unwrap();
            });
            for i in 0..1000 {
                let line = stream.next().await.unwrap().unwrap();
                assert_eq!(line, format!("LINE NUMBER {i}"));
            }
            assert!(
                stream.next().await.is_none(),
                "expected EOF after the server closed"
            );
            writer.await.unwrap();
            assert_eq!(server.await.unwrap(), 1000);
        }))
        .unwrap();
    });
}

#[test]
fn tokio_io_ext_over_unix_stream() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    with_deadline("unix stream", || {
        let dir = std::env::temp_dir().join(format!("gmp-tokio-io-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sock");
        let rt = gmp::Runtime::new().unwrap();
        let p = path.clone();
        rt.block_on(rt.spawn(async move {
            let listener = UnixListener::bind(&p).unwrap();
            let server = gmp::spawn(async move {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut got = Vec::new();
                AsyncReadExt::read_to_end(&mut s, &mut got).await.unwrap();
                AsyncWriteExt::write_all(&mut s, &got).await.unwrap();
                AsyncWriteExt::shutdown(&mut s).await.unwrap();
            });
            let mut c = UnixStream::connect(&p).await.unwrap();
            let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
            let expected = data.clone();
            // Write and read concurrently: neither side's buffers need to hold everything.
            let (mut rd, mut wr) = tokio::io::split(c);
            let writer = gmp::spawn(async move {
                wr.write_all(&data).await.unwrap();
                wr.shutdown().await.unwrap();
                wr
            });
            let mut back = Vec::new();
            rd.read_to_end(&mut back).await.unwrap();
            assert_eq!(back, expected);
            c = rd.unsplit(writer.await.unwrap());
            drop(c);
            server.await.unwrap();
        }))
        .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    });
}

#[test]
fn tokio_copy_between_gmp_streams() {
    with_deadline("tokio::io::copy", || {
        let rt = gmp::Runtime::new().unwrap();
        rt.block_on(rt.spawn(async {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            // An echo server made of tokio::io::copy between the owned halves.
            let server = gmp::spawn(async move {
                let (s, _) = listener.accept().await.unwrap();
                let (mut rd, mut wr) = s.into_split();
                let n = tokio::io::copy(&mut rd, &mut wr).await.unwrap();
                AsyncWriteExt::shutdown(&mut wr).await.unwrap();
                n
            });
            let (mut rd, mut wr) = TcpStream::connect(addr).await.unwrap().into_split();
            let writer = gmp::spawn(async move {
                let chunk = [7u8; 4096];
                for _ in 0..64 {
                    AsyncWriteExt::write_all(&mut wr, &chunk).await.unwrap();
                }
                AsyncWriteExt::shutdown(&mut wr).await.unwrap();
            });
            let mut back = Vec::new();
            AsyncReadExt::read_to_end(&mut rd, &mut back).await.unwrap();
            assert_eq!(back.len(), 64 * 4096);
            assert!(back.iter().all(|&b| b == 7));
            writer.await.unwrap();
            assert_eq!(server.await.unwrap(), 64 * 4096);
        }))
        .unwrap();
    });
}
