#[gmp::main(procs = 0)]
async fn main() {}

#[gmp::test(max_threads = 0)]
async fn zero_threads() {}
