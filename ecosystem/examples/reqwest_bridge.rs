//! The cost of the `tokio-compat` bridge: a reqwest GET loop against a local HTTP/1.1
//! server, from gmp tasks through the bridge (`gmp`) or from tokio tasks on a plain tokio
//! multi-thread runtime (`tokio`). Both use the default worker count (the CPU count, or
//! `GMAXPROCS` for gmp) and one shared pooled `reqwest::Client`; the server is the same
//! one-thread tokio server in both (`tests/support/http_server.rs`).
//!
//! Prints one number, µs per request (wall time of the timed loop / requests), for
//! `scripts/abba.sh`:
//!
//! ```sh
//! cargo build --release -p gmp-ecosystem --example reqwest_bridge
//! scripts/abba.sh 12 'target/release/examples/reqwest_bridge tokio 8 4000' \
//!                    'target/release/examples/reqwest_bridge gmp 8 4000'
//! ```
//!
//! Arguments: `gmp|tokio [TASKS] [REQUESTS]` (defaults 8 tasks, 4,000 requests in all, after
//! a warm-up of one request per task).

#[path = "../tests/support/http_server.rs"]
mod http_server;

use std::time::Instant;

async fn get_loop(client: reqwest::Client, url: String, n: usize) {
    for _ in 0..n {
        let res = client.get(&url).send().await.expect("GET");
        assert_eq!(res.bytes().await.expect("body").as_ref(), b"hello");
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "gmp".into());
    let tasks: usize = args.next().map_or(8, |s| s.parse().expect("TASKS"));
    let requests: usize = args.next().map_or(4000, |s| s.parse().expect("REQUESTS"));
    let per_task = requests.div_ceil(tasks);
    let server = http_server::start();
    let url = format!("http://{}/hello", server.addr);
    let client = reqwest::Client::new();

    let elapsed = match mode.as_str() {
        "gmp" => {
            let rt = gmp::Runtime::builder().tokio_compat(true).build().unwrap();
            rt.block_on(async {
                let run = |n: usize| {
                    let handles: Vec<_> = (0..tasks)
                        .map(|_| gmp::spawn(get_loop(client.clone(), url.clone(), n)))
                        .collect();
                    async move {
                        for h in handles {
                            h.await.unwrap();
                        }
                    }
                };
                run(1).await;
                let start = Instant::now();
                run(per_task).await;
                start.elapsed()
            })
        }
        "tokio" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let run = |n: usize| {
                    let handles: Vec<_> = (0..tasks)
                        .map(|_| tokio::spawn(get_loop(client.clone(), url.clone(), n)))
                        .collect();
                    async move {
                        for h in handles {
                            h.await.unwrap();
                        }
                    }
                };
                run(1).await;
                let start = Instant::now();
                run(per_task).await;
                start.elapsed()
            })
        }
        other => panic!("mode must be gmp or tokio, not {other:?}"),
    };
    let us = elapsed.as_secs_f64() * 1e6 / (per_task * tasks) as f64;
    println!("{us:.2}");
}
