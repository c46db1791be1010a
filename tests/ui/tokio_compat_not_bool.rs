#[gmp::test(tokio_compat = 1)]
async fn not_a_bool() {}

#[gmp::test(tokio_compat = "true")]
async fn a_string() {}

#[gmp::test(tokio_compat)]
async fn missing_value() {}

fn main() {}
