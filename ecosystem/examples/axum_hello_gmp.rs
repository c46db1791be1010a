//! An axum Router served by `gmp::hyper::serve`: the gmp half of the axum pair in
//! BENCHMARKS.md (its tokio twin is `axum_hello_tokio.rs`, the same Router on `axum::serve`).
//!
//! ```sh
//! cargo build --release -p gmp-ecosystem --example axum_hello_gmp --example axum_hello_tokio
//! scripts/abba.sh 6 'scripts/wrk_once.sh target/release/examples/axum_hello_tokio 18095' \
//!                   'scripts/wrk_once.sh target/release/examples/axum_hello_gmp 18096'
//! ```

#[path = "support/router.rs"]
mod router;

fn main() -> std::io::Result<()> {
    let (addr, workers) = router::args();
    let rt = gmp::Runtime::builder().procs(workers).build()?;
    rt.block_on(rt.spawn(async move {
        let listener = gmp::net::TcpListener::bind(addr.as_str()).await?;
        eprintln!(
            "axum_hello_gmp: http://{} ({workers} Ps)",
            listener.local_addr()?
        );
        gmp::hyper::serve(listener, router::hello()).await
    }))
    .map_err(std::io::Error::other)?
}
