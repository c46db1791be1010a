#[gmp::main(procs = 2, thread_name = "a", procs = 4)]
async fn main() {}

#[gmp::test]
#[test]
async fn duplicate_test_attribute() {}
