//! Real programs on gmp: this crate has no code of its own, only tests (`tests/`) and
//! examples (`examples/`) that run popular libraries on gmp. Not published.
