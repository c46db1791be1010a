#[gmp::main]
fn main() {}

#[gmp::test]
fn not_async_test() {}
