//! A fixed amount of `tcp_echo`'s work on one runtime, timed: for A/B runs on a noisy machine.
//!
//! ```sh
//! cargo build --release --example echo_rounds
//! target/release/examples/echo_rounds gmp 1200     # prints the seconds it took
//! target/release/examples/echo_rounds tokio 1200
//! scripts/abba.sh 30 'target/release/examples/echo_rounds tokio 1200' \
//!                    'target/release/examples/echo_rounds gmp 1200'
//! ```
//!
//! The work is `benches/net_time.rs`'s `tcp_echo` shape: 50 loopback connections
//! (`TCP_NODELAY`), one echo task per accepted connection (`read_exact` 64 bytes,
//! `write_all` them back), and 50 client tasks doing ROUNDS round trips each (`write_all`,
//! `read_exact`; on gmp through the `futures-io` traits, as the bench does), on a runtime
//! with `GMAXPROCS` workers (default 2). It prints the time from the first round trip to the
//! last, in seconds, on stdout.
//!
//! Why not only criterion: on a 2-vCPU VM the machine's speed drifts by tens of percent
//! within seconds, so criterion's samples of one runtime, taken seconds apart from the
//! other's, spread 0.7–1.3x. Runs of under a second, ordered A B B A and compared per
//! quadruple (`scripts/abba.sh`), see the same drift on both sides and resolve a few percent.

use std::time::Instant;

#[path = "support/procs.rs"]
mod procs;

const CONNS: usize = 50;
const MSG: usize = 64;

fn usage() -> ! {
    eprintln!("usage: echo_rounds gmp|tokio ROUNDS");
    std::process::exit(2);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 2 {
        usage();
    }
    let Ok(rounds) = args[1].parse::<usize>() else {
        usage()
    };
    let workers = procs::worker_threads().unwrap_or_else(|e| {
        eprintln!("echo_rounds: {e}");
        std::process::exit(2);
    });
    let secs = match args[0].as_str() {
        "gmp" => on_gmp(workers, rounds),
        "tokio" => on_tokio(workers, rounds),
        _ => usage(),
    };
    println!("{secs:.4}");
}

/// The timed work on one runtime, as an `async` block yielding the seconds taken: `$spawn`
/// spawns a task, `$listener`/`$stream` are the runtime's TCP types, `$read_exact` and
/// `$write_all` its extension-trait methods.
macro_rules! echo_work {
    ($rounds:expr, $spawn:path, $listener:ty, $stream:ty, $read_exact:path, $write_all:path) => {
        async move {
            let rounds: usize = $rounds;
            let listener = <$listener>::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            $spawn(async move {
                for _ in 0..CONNS {
                    let (mut s, _) = listener.accept().await.unwrap();
                    s.set_nodelay(true).unwrap();
                    $spawn(async move {
                        let mut buf = [0u8; MSG];
                        while $read_exact(&mut s, &mut buf).await.is_ok() {
                            if $write_all(&mut s, &buf).await.is_err() {
                                break;
                            }
                        }
                    });
                }
            });
            let mut streams = Vec::new();
            for _ in 0..CONNS {
                let s = <$stream>::connect(addr).await.unwrap();
                s.set_nodelay(true).unwrap();
                streams.push(s);
            }
            let start = Instant::now();
            let clients: Vec<_> = streams
                .into_iter()
                .enumerate()
                .map(|(i, mut s)| {
                    $spawn(async move {
                        let out = [i as u8; MSG];
                        let mut back = [0u8; MSG];
                        for _ in 0..rounds {
                            $write_all(&mut s, &out).await.unwrap();
                            $read_exact(&mut s, &mut back).await.unwrap();
                        }
                        assert_eq!(back, out, "echo returned other bytes");
                    })
                })
                .collect();
            for c in clients {
                c.await.unwrap();
            }
            start.elapsed().as_secs_f64()
        }
    };
}

fn on_gmp(workers: usize, rounds: usize) -> f64 {
    use futures::io::{AsyncReadExt, AsyncWriteExt};

    let rt = gmp::Runtime::builder().procs(workers).build().unwrap();
    let work = echo_work!(
        rounds,
        gmp::spawn,
        gmp::net::TcpListener,
        gmp::net::TcpStream,
        AsyncReadExt::read_exact,
        AsyncWriteExt::write_all
    );
    rt.block_on(rt.spawn(work)).unwrap()
}

fn on_tokio(workers: usize, rounds: usize) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(echo_work!(
        rounds,
        tokio::spawn,
        tokio::net::TcpListener,
        tokio::net::TcpStream,
        AsyncReadExt::read_exact,
        AsyncWriteExt::write_all
    ))
}
