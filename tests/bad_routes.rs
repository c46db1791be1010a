//! The bad-neighbour routes of the hyper hello examples (`examples/support/bad_routes.rs`,
//! used by `scripts/bad_neighbour.sh`): `/block/N` and `/spin/N` parse N, reject anything
//! outside 1..=10000 ms with a reason, and do their bad work for about N ms.

#[path = "../examples/support/bad_routes.rs"]
mod bad_routes;

use bad_routes::{route, run, Route, MAX_MS};
use std::time::{Duration, Instant};

#[test]
fn paths_map_to_routes() {
    assert_eq!(route("/"), Route::Hello);
    assert_eq!(route("/blockx"), Route::Hello);
    assert_eq!(route("/block/50"), Route::Block(Duration::from_millis(50)));
    assert_eq!(route("/spin/7"), Route::Spin(Duration::from_millis(7)));
    assert_eq!(
        route(&format!("/spin/{MAX_MS}")),
        Route::Spin(Duration::from_millis(MAX_MS))
    );
}

#[test]
fn bad_n_is_a_400_with_the_reason() {
    for path in [
        "/block/0",
        "/spin/-1",
        "/block/abc",
        "/spin/",
        "/block/10001",
        "/spin/1.5",
    ] {
        let Route::BadRequest(why) = route(path) else {
            panic!("{path} was accepted");
        };
        assert!(why.contains("1 to 10000"), "{path}: {why}");
        assert_eq!(run(route(path)), Err(why));
    }
}

#[test]
fn block_and_spin_take_about_n_ms() {
    for path in ["/block/20", "/spin/20"] {
        let t = Instant::now();
        let body = run(route(path)).unwrap();
        let took = t.elapsed();
        assert!(took >= Duration::from_millis(20), "{path} took {took:?}");
        assert!(took < Duration::from_secs(5), "{path} took {took:?}");
        assert!(body.contains("20 ms"), "{path}: {body}");
    }
    assert_eq!(run(Route::Hello), Ok(String::new()));
}
