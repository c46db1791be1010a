#[gmp::main]
async fn main(args: Vec<String>) {
    println!("{}", args.len());
}

#[gmp::test]
async fn test_with_params(a: u32, b: u32) {
    assert_eq!(a, b);
}

#[gmp::test]
async fn generic_test<T: Default>() {
    let _ = T::default();
}

#[gmp::main]
async fn entry_point(port: u16) {
    println!("{port}");
}
