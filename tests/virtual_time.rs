//! Virtual time (`gmp::time::{pause, resume, advance}`, `start_paused`) on several Ps:
//! auto-advance jumps only when no task can run, and never while a task waits on real I/O or
//! a blocking section runs.

use futures::stream::{FuturesUnordered, StreamExt};
use gmp::time::{advance, interval, pause, resume, sleep, timeout, Instant};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn paused_rt(procs: usize) -> gmp::Runtime {
    gmp::Runtime::builder()
        .procs(procs)
        .start_paused(true)
        .build()
        .unwrap()
}

/// A small deterministic generator (xorshift), so a failure replays.
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

#[test]
fn ten_thousand_sleeps_on_four_ps_complete_in_deadline_order() {
    let rt = paused_rt(4);
    let real = std::time::Instant::now();
    let (start, seen) = rt.block_on(async {
        let start = Instant::now();
        let order = Arc::new(AtomicUsize::new(0));
        let mut next = rng(0x9e37_79b9_7f4a_7c15);
        let tasks: Vec<_> = (0..10_000)
            .map(|_| {
                // 1 s to 1 h, millisecond resolution: ~10,000 distinct deadlines.
                let d = Duration::from_millis(1_000 + next() % 3_599_001);
                let order = order.clone();
                gmp::spawn(async move {
                    sleep(d).await;
                    let at = Instant::now();
                    (order.fetch_add(1, SeqCst), d, at)
                })
            })
            .collect();
        let mut seen = Vec::with_capacity(tasks.len());
        for t in tasks {
            seen.push(t.await.unwrap());
        }
        (start, seen)
    });
    let took = real.elapsed();
    let mut seen = seen;
    seen.sort_by_key(|s| s.0);
    for (_, d, at) in &seen {
        // The clock stops exactly at each deadline.
        assert_eq!(*at - start, *d, "woke at the wrong virtual instant");
    }
    for w in seen.windows(2) {
        assert!(w[0].1 <= w[1].1, "completed out of deadline order: {w:?}");
    }
    let last = seen.last().unwrap().1;
    assert!(last <= Duration::from_secs(3600));
    eprintln!("10,000 sleeps up to {last:?} of virtual time took {took:?} real");
    assert!(took < Duration::from_secs(5), "took {took:?} of real time");
}

#[test]
fn timeout_does_not_fire_while_a_real_read_waits() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let writer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        // Real time passes while the read waits (the scenario, not synchronisation).
        std::thread::sleep(Duration::from_millis(50));
        s.write_all(b"hello").unwrap();
        s
    });
    let rt = paused_rt(4);
    let real = std::time::Instant::now();
    rt.block_on(async {
        let start = Instant::now();
        let fired = Arc::new(AtomicBool::new(false));
        let f = fired.clone();
        // A timer that auto-advance would reach first if it jumped during the read.
        let sleeper = gmp::spawn(async move {
            sleep(Duration::from_millis(500)).await;
            f.store(true, SeqCst);
        });
        let mut stream = gmp::net::TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 5];
        let r = timeout(Duration::from_secs(1), stream.read_exact(&mut buf)).await;
        assert!(
            r.is_ok(),
            "the timeout fired while the read was waiting on real I/O"
        );
        assert_eq!(&buf, b"hello");
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "virtual time moved during the read"
        );
        assert!(
            !fired.load(SeqCst),
            "a timer fired while the read was pending"
        );
        // The read is done: auto-advance goes on.
        sleeper.await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(500));
        sleep(Duration::from_secs(3600)).await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(3600) + Duration::from_millis(500)
        );
    });
    assert!(real.elapsed() >= Duration::from_millis(50));
    drop(writer.join().unwrap());
}

#[test]
fn interval_ticks_are_exact_under_auto_advance() {
    let rt = paused_rt(4);
    rt.block_on(async {
        // Noise: other tasks' timers in between the ticks.
        let mut next = rng(7);
        let noise: Vec<_> = (0..200)
            .map(|_| gmp::spawn(sleep(Duration::from_micros(next() % 5_000_000))))
            .collect();
        let period = Duration::from_millis(250);
        let mut every = interval(period);
        let mut ticks = Vec::new();
        for _ in 0..20 {
            ticks.push(every.tick().await);
            assert_eq!(Instant::now(), *ticks.last().unwrap());
        }
        for w in ticks.windows(2) {
            assert_eq!(w[1] - w[0], period);
        }
        for n in noise {
            n.await.unwrap();
        }
    });
}

#[test]
fn advance_fires_timers_in_deadline_order() {
    let rt = paused_rt(4);
    rt.block_on(async {
        let start = Instant::now();
        let secs = [5u64, 1, 4, 20, 2, 3];
        let mut set: FuturesUnordered<_> = secs
            .iter()
            .map(|&s| async move {
                sleep(Duration::from_secs(s)).await;
                s
            })
            .collect();
        // Register the timers (on the Ps round-robin: the order spans heaps).
        assert!(futures::poll!(set.next()).is_pending());
        advance(Duration::from_secs(10)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        let mut fired = Vec::new();
        for _ in 0..5 {
            fired.push(set.next().await.unwrap());
        }
        // FuturesUnordered polls in wake order: the order the timers fired.
        assert_eq!(fired, [1, 2, 3, 4, 5]);
        assert!(
            futures::poll!(set.next()).is_pending(),
            "20 s fired at 10 s"
        );
        assert_eq!(set.next().await, Some(20));
        assert_eq!(start.elapsed(), Duration::from_secs(20));
    });
}

#[test]
#[should_panic(expected = "time is not paused on this runtime")]
fn advance_when_not_paused_panics() {
    let rt = gmp::Runtime::builder().procs(2).build().unwrap();
    rt.block_on(advance(Duration::from_secs(1)));
}

#[test]
#[should_panic(expected = "resume() called, but time is not paused")]
fn resume_when_not_paused_panics() {
    let rt = gmp::Runtime::builder().procs(2).build().unwrap();
    rt.block_on(async { resume() });
}

#[test]
#[should_panic(expected = "pause() called outside of a gmp runtime")]
fn pause_outside_a_runtime_panics() {
    pause();
}

#[test]
fn pause_twice_is_fine_and_resume_keeps_the_clock_monotonic() {
    let rt = gmp::Runtime::builder().procs(2).build().unwrap();
    rt.block_on(async {
        pause();
        pause();
        let start = Instant::now();
        sleep(Duration::from_secs(3600)).await;
        assert_eq!(start.elapsed(), Duration::from_secs(3600));
        resume();
        // Real time again, from where the virtual clock stood.
        let t = Instant::now();
        assert!(t - start >= Duration::from_secs(3600));
        sleep(Duration::from_millis(5)).await;
        assert!(t.elapsed() >= Duration::from_millis(5));
        pause();
        let p = Instant::now();
        sleep(Duration::from_secs(60)).await;
        assert_eq!(p.elapsed(), Duration::from_secs(60));
    });
}

#[test]
fn paused_time_is_per_runtime() {
    let paused = paused_rt(2);
    let real = gmp::Runtime::builder().procs(2).build().unwrap();
    let frozen = paused.block_on(async { Instant::now() });
    real.block_on(async {
        let t = Instant::now();
        sleep(Duration::from_millis(2)).await;
        assert!(t.elapsed() >= Duration::from_millis(2));
    });
    // Nothing ran on the paused runtime meanwhile: its clock stood still.
    assert_eq!(paused.block_on(async { Instant::now() }), frozen);
}

#[gmp::test(procs = 4, start_paused = true)]
async fn start_paused_through_the_test_macro() {
    let start = Instant::now();
    let real = std::time::Instant::now();
    sleep(Duration::from_secs(86_400)).await;
    assert_eq!(start.elapsed(), Duration::from_secs(86_400));
    assert!(real.elapsed() < Duration::from_secs(60));
}

#[test]
fn a_blocking_section_holds_the_clock_still() {
    let rt = paused_rt(4);
    rt.block_on(async {
        let start = Instant::now();
        let fired = Arc::new(AtomicBool::new(false));
        let f = fired.clone();
        let sleeper = gmp::spawn(async move {
            sleep(Duration::from_secs(1)).await;
            f.store(true, SeqCst);
            Instant::now()
        });
        let f = fired.clone();
        let seen = Arc::new(Mutex::new(None));
        let s = seen.clone();
        gmp::spawn_blocking(move || {
            std::thread::sleep(Duration::from_millis(50));
            *s.lock().unwrap() = Some((Instant::now(), f.load(SeqCst)));
        })
        .await
        .unwrap();
        let (at_end, fired_during) = seen.lock().unwrap().take().unwrap();
        assert_eq!(at_end, start, "the clock moved during the blocking section");
        assert!(!fired_during, "a timer fired during the blocking section");
        let woke = sleeper.await.unwrap();
        assert_eq!(woke - start, Duration::from_secs(1));
    });
}

/// `#[gmp::main(start_paused = true)]` on a `main`-like function.
#[gmp::main(procs = 2, start_paused = true)]
async fn paused_entry_point() -> Duration {
    let start = Instant::now();
    let t = gmp::spawn(sleep(Duration::from_secs(600)));
    t.await.unwrap();
    start.elapsed()
}

#[test]
fn start_paused_through_the_main_macro() {
    assert_eq!(paused_entry_point(), Duration::from_secs(600));
}
