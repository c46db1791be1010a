//! The Router both halves of the axum pair serve.

use axum::routing::get;
use axum::Router;

/// `GET /` answers "Hello, world!".
pub fn hello() -> Router {
    Router::new().route("/", get(|| async { "Hello, world!" }))
}

/// The address from the first argument (default 127.0.0.1:3000), the worker count from
/// `GMAXPROCS` (default 2).
pub fn args() -> (String, usize) {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_string());
    let workers = std::env::var("GMAXPROCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    (addr, workers)
}
