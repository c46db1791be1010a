//! The bad-neighbour routes of the hyper hello servers (`examples/hyper_server.rs` and its
//! tokio twin), for `scripts/bad_neighbour.sh`: a handler that blocks or burns CPU without
//! telling the runtime, the way a sync database driver, a big JSON document or a contended
//! lock does in a real service.
//!
//! - `/block/N`: `std::thread::sleep(N ms)` in the handler, unmarked (no `block_in_place`, no
//!   `spawn_blocking`): the worker thread is gone for N ms.
//! - `/spin/N`: N ms (wall clock) of CPU in a loop with no `.await`: the worker is busy for N ms.
//! - anything else: the hello body.
//!
//! N must be a whole number of milliseconds, 1 to [`MAX_MS`]; anything else is a `400` with the
//! reason, so that a typo cannot park a worker for hours.

use std::time::{Duration, Instant};

/// The longest `/block/N` or `/spin/N` accepted, in milliseconds.
pub const MAX_MS: u64 = 10_000;

/// What a request path asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// The hello body.
    Hello,
    /// Sleep the worker thread this long, unmarked.
    Block(Duration),
    /// Burn CPU this long, no await.
    Spin(Duration),
    /// `/block/…` or `/spin/…` with a bad N: answer 400 with this reason.
    BadRequest(String),
}

/// The route for `path`.
pub fn route(path: &str) -> Route {
    let (kind, n) = if let Some(n) = path.strip_prefix("/block/") {
        ("block", n)
    } else if let Some(n) = path.strip_prefix("/spin/") {
        ("spin", n)
    } else {
        return Route::Hello;
    };
    match n.parse::<u64>() {
        Ok(ms) if (1..=MAX_MS).contains(&ms) => {
            let d = Duration::from_millis(ms);
            if kind == "block" {
                Route::Block(d)
            } else {
                Route::Spin(d)
            }
        }
        _ => Route::BadRequest(format!(
            "/{kind}/N: N must be a whole number of milliseconds, 1 to {MAX_MS} (got {n:?})\n"
        )),
    }
}

/// Run the route's bad work on this thread (nothing for `Hello` and `BadRequest`) and return
/// the response body, or `Err(reason)` for a 400.
pub fn run(route: Route) -> Result<String, String> {
    match route {
        Route::Hello => Ok(String::new()),
        Route::Block(d) => {
            std::thread::sleep(d);
            Ok(format!("blocked {} ms\n", d.as_millis()))
        }
        Route::Spin(d) => {
            let start = Instant::now();
            let mut x = 0u64;
            while start.elapsed() < d {
                // Some arithmetic the optimiser cannot drop, between clock reads.
                for i in 0..1_000u64 {
                    x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
                }
            }
            Ok(format!("spun {} ms ({})\n", d.as_millis(), x & 1))
        }
        Route::BadRequest(why) => Err(why),
    }
}
