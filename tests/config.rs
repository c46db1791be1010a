//! Configuration errors name the bad value. One test, so the `GMAXPROCS` changes cannot race
//! with other tests of this binary.

use std::io::ErrorKind;

fn err(b: &mut gmp::Builder) -> String {
    let e = b.build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    e.to_string()
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let msg = err(gmp::Runtime::builder().procs(0));
    assert!(msg.contains("procs(0)"), "{msg}");

    let msg = err(gmp::Runtime::builder().procs(4).max_threads(2));
    assert!(
        msg.contains("max_threads(2)") && msg.contains("procs (4)"),
        "{msg}"
    );

    let msg = err(gmp::Runtime::builder().procs(100_000));
    assert!(msg.contains("procs(100000)"), "{msg}");

    let msg = err(gmp::Runtime::builder()
        .procs(1)
        .time_slice(std::time::Duration::ZERO));
    assert!(msg.contains("time_slice"), "{msg}");

    std::env::set_var("GMAXPROCS", "abc");
    let msg = err(&mut gmp::Runtime::builder());
    assert!(msg.contains("GMAXPROCS=\"abc\""), "{msg}");
    assert!(gmp::Runtime::new().is_err());

    std::env::set_var("GMAXPROCS", "0");
    let msg = err(&mut gmp::Runtime::builder());
    assert!(msg.contains("GMAXPROCS=\"0\""), "{msg}");

    // An explicit procs() overrides a bad environment.
    assert!(gmp::Runtime::builder().procs(1).build().is_ok());

    std::env::set_var("GMAXPROCS", "3");
    let rt = gmp::Runtime::new().unwrap();
    assert_eq!(rt.handle().metrics().procs, 3);
    drop(rt);
    std::env::remove_var("GMAXPROCS");
    assert!(gmp::Runtime::new().is_ok());
}
