#[gmp::test(start_paused = "yes")]
async fn string() {}

#[gmp::test(start_paused = 1)]
async fn integer() {}

fn main() {}
