//! Tests for `#[gmp::main]` and `#[gmp::test]`.
//!
//! The `#[gmp::test]` functions below exercise the expansion at run time; the
//! `ui` test checks the compile errors of `tests/ui/*.rs` with trybuild.
//! Regenerate the expected `.stderr` files with
//! `TRYBUILD=overwrite cargo test --test macros ui` and review the diff.

use std::error::Error;
use std::fmt;

#[gmp::test]
async fn runs_the_body() {
    let handle = gmp::spawn(async { 6 * 7 });
    assert_eq!(handle.await.unwrap(), 42);
}

#[gmp::test(procs = 1)]
async fn procs_argument() {
    assert_eq!(gmp::Handle::current().metrics().procs, 1);
    let sum: u64 = {
        let handles: Vec<_> = (0..10u64).map(|i| gmp::spawn(async move { i })).collect();
        let mut sum = 0;
        for handle in handles {
            sum += handle.await.unwrap();
        }
        sum
    };
    assert_eq!(sum, 45);
}

#[gmp::test(
    procs = 2,
    max_threads = 32,
    time_slice_ms = 5,
    thread_name = "gmp-macro-test"
)]
async fn all_arguments() {
    assert_eq!(gmp::Handle::current().metrics().procs, 2);
    let name = gmp::spawn(async { std::thread::current().name().map(str::to_owned) })
        .await
        .unwrap();
    let name = name.expect("worker threads are named");
    assert!(name.starts_with("gmp-macro-test"), "thread name: {name}");
}

#[gmp::test(crate = "::gmp")]
async fn crate_argument() {
    gmp::yield_now().await;
}

#[derive(Debug)]
struct Failure;

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("failure")
    }
}

impl Error for Failure {}

async fn fallible(fail: bool) -> Result<u32, Failure> {
    gmp::yield_now().await;
    if fail {
        Err(Failure)
    } else {
        Ok(7)
    }
}

// `?` converts `Failure` and `JoinError` into the declared error type, and an
// early `return` works from inside the body.
#[gmp::test]
async fn returns_a_result() -> Result<(), Box<dyn Error>> {
    assert!(fallible(true).await.is_err());
    let value = fallible(false).await?;
    assert_eq!(value, 7);
    let joined = gmp::spawn(async { 1 }).await?;
    if joined == 1 {
        return Ok(());
    }
    Err("unreachable".into())
}

#[gmp::test]
#[should_panic(expected = "boom")]
async fn should_panic_is_kept() {
    gmp::yield_now().await;
    panic!("boom");
}

#[gmp::test]
#[ignore = "checks that #[ignore] is kept; it must never run"]
async fn ignore_is_kept() {
    panic!("an #[ignore]d test ran");
}

/// The attribute can be used on a private, documented `main`-like function
/// too; it becomes a plain blocking function.
#[gmp::main(procs = 1)]
async fn blocking_entry_point() -> u32 {
    gmp::spawn(async { 5 }).await.unwrap() + 1
}

#[test]
fn main_attribute_blocks_on_the_body() {
    assert_eq!(blocking_entry_point(), 6);
}

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/*.rs");
}
