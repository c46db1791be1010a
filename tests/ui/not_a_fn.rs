#[gmp::main]
struct Server;

#[gmp::test]
mod tests {}

fn main() {}
