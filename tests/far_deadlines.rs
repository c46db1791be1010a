//! Far deadlines: durations used as "no timeout" sentinels (`u64::MAX` ms, `Duration::MAX`,
//! anything past 2^64 ns) must mean "not for centuries", never wrap around to "now".
//!
//! Each far timer is raced against a short one: the short one must win. Before the fix, the
//! nanosecond count since the runtime's epoch was truncated to 64 bits, so
//! `sleep(Duration::from_nanos(u64::MAX))` fired after under a microsecond and 2^64 ns + 200 ms
//! fired after 200 ms.

use gmp::time::{interval, sleep, sleep_until, timeout, Instant, MissedTickBehavior};
use std::time::Duration;

const TWO_POW_64_NS: Duration = Duration::new(18_446_744_073, 709_551_616);

/// The durations the issue lists, plus 2^64 ns + 200 ms (which used to fire after 200 ms).
fn far_durations() -> Vec<(&'static str, Duration)> {
    vec![
        ("2^63 ns", Duration::from_nanos(1 << 63)),
        ("u64::MAX ns", Duration::from_nanos(u64::MAX)),
        ("2^64 ns", TWO_POW_64_NS),
        (
            "2^64 ns + 200 ms",
            TWO_POW_64_NS + Duration::from_millis(200),
        ),
        ("u64::MAX ms", Duration::from_millis(u64::MAX)),
        ("Duration::MAX", Duration::MAX),
    ]
}

fn rt() -> gmp::Runtime {
    gmp::Runtime::builder().procs(2).build().unwrap()
}

/// A far sleep loses a race against a 300 ms one (long enough to catch the 2^64 + 200 ms
/// wrap, which fired after 200 ms).
#[test]
fn far_sleeps_do_not_fire() {
    let rt = rt();
    rt.block_on(async {
        for (name, d) in far_durations() {
            let start = Instant::now();
            let r = timeout(Duration::from_millis(300), sleep(d)).await;
            assert!(
                r.is_err(),
                "sleep({name}) fired after {:?}",
                start.elapsed()
            );
        }
    });
}

#[test]
fn far_sleep_until_does_not_fire() {
    let rt = rt();
    rt.block_on(async {
        for (name, d) in far_durations() {
            // `Instant + Duration::MAX` overflows std's Instant: such a deadline cannot be
            // built, so saturate the way a caller would (checked_add, else the far end).
            let Some(deadline) = Instant::now().checked_add(d) else {
                continue;
            };
            let r = timeout(Duration::from_millis(300), sleep_until(deadline)).await;
            assert!(r.is_err(), "sleep_until(now + {name}) fired");
        }
    });
}

#[test]
fn far_timeouts_do_not_elapse() {
    let rt = rt();
    rt.block_on(async {
        for (name, d) in far_durations() {
            let r = timeout(d, sleep(Duration::from_millis(20))).await;
            assert_eq!(r, Ok(()), "timeout({name}, 20 ms sleep) elapsed");
        }
    });
}

#[test]
fn zero_and_one_nanosecond_fire_at_once() {
    let rt = rt();
    rt.block_on(async {
        for d in [Duration::ZERO, Duration::from_nanos(1)] {
            let r = timeout(Duration::from_secs(10), sleep(d)).await;
            assert_eq!(r, Ok(()), "sleep({d:?}) did not fire");
            let r = timeout(d, std::future::pending::<()>()).await;
            assert!(r.is_err(), "timeout({d:?}, pending) did not elapse");
        }
    });
}

/// A reset to a far deadline must not fire either (the conversion is the same).
#[test]
fn sleep_reset_to_a_far_deadline_does_not_fire() {
    let rt = rt();
    rt.block_on(async {
        let mut s = Box::pin(sleep(Duration::from_millis(1)));
        s.as_mut()
            .reset(Instant::now() + Duration::from_nanos(u64::MAX));
        assert!(timeout(Duration::from_millis(300), s).await.is_err());
    });
}

/// `interval(Duration::MAX)` ticks once, then never again — and never panics on the
/// schedule arithmetic, whatever the missed-tick behaviour.
#[test]
fn far_intervals_tick_once_then_never() {
    let rt = rt();
    rt.block_on(async {
        for behavior in [
            MissedTickBehavior::Burst,
            MissedTickBehavior::Delay,
            MissedTickBehavior::Skip,
        ] {
            for (name, d) in far_durations() {
                let mut every = interval(d);
                every.set_missed_tick_behavior(behavior);
                let first = timeout(Duration::from_secs(10), every.tick()).await;
                assert!(first.is_ok(), "interval({name}) first tick did not fire");
                let second = timeout(Duration::from_millis(100), every.tick()).await;
                assert!(
                    second.is_err(),
                    "interval({name}, {behavior:?}) ticked a second time"
                );
                every.reset();
                let after_reset = timeout(Duration::from_millis(50), every.tick()).await;
                assert!(after_reset.is_err(), "interval({name}) ticked after reset");
            }
        }
    });
}
