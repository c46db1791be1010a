//! The worker count of the examples' tokio twins (and of both runtimes in `echo_rounds`).

use std::io;

/// Worker threads: `GMAXPROCS` (as for the gmp examples), else 2. A value that is not a
/// positive integer is an error, not a silent default.
pub fn worker_threads() -> io::Result<usize> {
    match std::env::var("GMAXPROCS") {
        Ok(s) => match s.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("GMAXPROCS={s:?} is invalid: expected a positive integer"),
            )),
        },
        Err(_) => Ok(2),
    }
}
