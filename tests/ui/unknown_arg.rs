#[gmp::main(worker_threads = 4)]
async fn main() {}

#[gmp::test(proc = 1)]
async fn misspelled() {}

#[gmp::test(flavor = "current_thread")]
async fn tokio_flavor() {}

#[gmp::test(stack_size = 1)]
async fn unknown() {}

#[gmp::test(4)]
async fn not_a_name() {}
