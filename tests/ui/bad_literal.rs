const N: usize = 4;

#[gmp::main(procs = "4")]
async fn main() {}

#[gmp::test(max_threads = 1.5)]
async fn float() {}

#[gmp::test(time_slice_ms = N)]
async fn constant() {}

#[gmp::test(procs = -1)]
async fn negative() {}

#[gmp::test(procs = 4u8)]
async fn suffix() {}

#[gmp::test(thread_name = worker)]
async fn unquoted_name() {}

#[gmp::test(crate = gmp)]
async fn unquoted_crate() {}

#[gmp::test(crate = "not a path")]
async fn bad_crate_path() {}

#[gmp::test(procs)]
async fn missing_value() {}

#[gmp::test(procs = 2 + 2)]
async fn expression() {}
