// tokio's `flavor` argument: gmp points at `procs = 1` and says what differs.
#[gmp::test(flavor = "current_thread")]
async fn single_threaded() {}

#[gmp::main(flavor = "multi_thread")]
async fn main() {}
