//! The same Router as `axum_hello_gmp.rs`, on `axum::serve` with a tokio multi-thread
//! runtime of `GMAXPROCS` workers (default 2): the tokio half of the axum pair.

#[path = "support/router.rs"]
mod router;

fn main() -> std::io::Result<()> {
    let (addr, workers) = router::args();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr.as_str()).await?;
        eprintln!(
            "axum_hello_tokio: http://{} ({workers} workers)",
            listener.local_addr()?
        );
        axum::serve(listener, router::hello()).await
    })
}
