//! Side-by-side I/O and timer benchmarks: `gmp` vs. tokio's multi-thread runtime,
//! with smol as a third reference point.
//!
//! Same conventions as `benches/rt_multi_threaded.rs`: every shape is one
//! criterion `BenchmarkGroup` with three functions, `gmp`, `tokio` and `smol`
//! (`target/criterion/<shape>/{gmp,tokio,smol}/`, so `scripts/bench_ratios.py`
//! picks them up), all runtimes get the same number of workers (env
//! `BENCH_PROCS`, else 2), and each runtime is built once per group, outside
//! the timed loop, and shut down before the next one is built.
//!
//! smol runs every shape here: `smol::net` streams (async-io's reactor,
//! driven by whichever idle worker thread holds it) through the same
//! `futures::io` extension traits as gmp, `smol::Timer` for sleeps, and for
//! `timeout` the inner future polled first, then a `smol::Timer` (registered on
//! its first poll, like the other two; see `SmolTimeout` in
//! `benches/support/mod.rs`).
//!
//! What each shape measures (one iteration):
//!
//! - `tcp_echo`: 50 loopback TCP connections (`TCP_NODELAY` on both ends),
//!   one echo-server task per accepted connection (`read_exact` 64 bytes,
//!   `write_all` them back, until EOF). The connections are set up once per
//!   group; an iteration spawns 50 client tasks (from the bench thread), each
//!   doing 2,000 round trips (`write_all` 64 bytes, `read_exact` 64 bytes),
//!   and waits for all of them. 100,000 round trips per iteration; criterion
//!   prints them as elements/s. gmp uses the `futures-io` traits through
//!   `futures::io::{AsyncReadExt, AsyncWriteExt}`, tokio its own `io-util`
//!   extension traits.
//! - `timers_100k`: one task spawns 100,000 tasks, each sleeping a random
//!   1..10 ms (fixed-seed xorshift, the same durations every iteration), and
//!   awaits all of them. Timer insertion and expiry at scale, plus the wake-up
//!   of sleeping workers by the timer.
//! - `timers_cancel_1m`: 10 tasks in parallel, 100,000 `timeout`s each (random
//!   1..60 s deadlines), each around a future that completes at once: the
//!   timer is created and immediately cancelled (the heavy-cancellation case:
//!   gmp's per-P 4-ary heap with lazy deletion vs. tokio's timer wheel).
//!   Both runtimes register a timer lazily, on the first poll of the sleep
//!   that finds the inner future pending, so a future ready on its *first*
//!   poll would never touch either timer structure. The inner future here is
//!   therefore pending on its first poll (without waking anyone) and ready on
//!   the second; the task polls the `Timeout` twice back to back within one
//!   poll of its own (register, then complete and drop = cancel), with no
//!   trip through the scheduler.
//! - `timers_cancel_pending_100k`: 10 tasks in parallel, 10,000 `timeout`s
//!   each (random 1..60 s) around `std::future::pending()`: each is polled
//!   once (registered, pending) and kept; then all of them are dropped at
//!   once. Cancellation of many live timers (gmp cleans its heaps lazily, on a
//!   later add; the cost of that lands in the next iteration, which is part of
//!   the measured total).
//!
//! The timer-cancel tasks yield every 32 timeouts so neither runtime's
//! cooperative budget (tokio: 128 operations per poll) ever makes a sleep
//! return `Pending` without registering.
//!
//! Defaults: 10 samples, 3 s measurement, 1 s warm-up per function (a full run
//! is about one minute on 2 cores). Criterion's CLI flags (`--sample-size`,
//! `--measurement-time`, `--warm-up-time`) override them.

use std::future::{poll_fn, Future};
use std::io;
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

#[path = "support/mod.rs"]
mod support;

use support::{config, run_group, Exec, Gmp, Group, Smol, Tokio};

/// `tcp_echo`: connections, round trips per connection, message size.
const CONNS: usize = 50;
const ROUND_TRIPS: usize = 2_000;
const MSG: usize = 64;

/// `timers_100k`: tasks, each sleeping 1..10 ms.
const SLEEPERS: usize = 100_000;

/// `timers_cancel_*`: parallel tasks, timeouts per task.
const CANCEL_TASKS: usize = 10;
const CANCEL_READY_PER_TASK: usize = 100_000;
const CANCEL_PENDING_PER_TASK: usize = 10_000;
/// Yield every this many timeouts (keeps tokio's coop budget, 128, from running out).
const YIELD_EVERY: usize = 32;

/// The TCP operations of `tcp_echo`, on top of the shared [`Exec`] operations.
trait NetExec: Exec {
    type Listener: Send + 'static;
    type Stream: Send + 'static;

    fn bind(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Listener>> + Send;

    fn local_addr(listener: &Self::Listener) -> io::Result<SocketAddr>;

    fn accept(
        listener: &Self::Listener,
    ) -> impl Future<Output = io::Result<Self::Stream>> + Send + '_;

    fn connect(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    fn set_nodelay(stream: &Self::Stream) -> io::Result<()>;

    fn write_all<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;

    fn read_exact<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a mut [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a;
}

/// `NetExec` for a runtime whose `net` types take a `SocketAddr` and whose streams implement
/// the `futures_io` traits (gmp and smol: the same calls, other types).
macro_rules! futures_io_net_exec {
    ($rt:ty, $listener:ty, $stream:ty) => {
        impl NetExec for $rt {
            type Listener = $listener;
            type Stream = $stream;

            fn bind(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Listener>> + Send {
                <$listener>::bind(addr)
            }

            fn local_addr(listener: &Self::Listener) -> io::Result<SocketAddr> {
                listener.local_addr()
            }

            async fn accept(listener: &Self::Listener) -> io::Result<Self::Stream> {
                listener.accept().await.map(|(s, _)| s)
            }

            fn connect(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send {
                <$stream>::connect(addr)
            }

            fn set_nodelay(stream: &Self::Stream) -> io::Result<()> {
                stream.set_nodelay(true)
            }

            fn write_all<'a>(
                stream: &'a mut Self::Stream,
                buf: &'a [u8],
            ) -> impl Future<Output = io::Result<()>> + Send + 'a {
                futures::io::AsyncWriteExt::write_all(stream, buf)
            }

            fn read_exact<'a>(
                stream: &'a mut Self::Stream,
                buf: &'a mut [u8],
            ) -> impl Future<Output = io::Result<()>> + Send + 'a {
                futures::io::AsyncReadExt::read_exact(stream, buf)
            }
        }
    };
}

futures_io_net_exec!(Gmp, gmp::net::TcpListener, gmp::net::TcpStream);

impl NetExec for Tokio {
    type Listener = tokio::net::TcpListener;
    type Stream = tokio::net::TcpStream;

    fn bind(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Listener>> + Send {
        tokio::net::TcpListener::bind(addr)
    }

    fn local_addr(listener: &Self::Listener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }

    async fn accept(listener: &Self::Listener) -> io::Result<Self::Stream> {
        listener.accept().await.map(|(s, _)| s)
    }

    fn connect(addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send {
        tokio::net::TcpStream::connect(addr)
    }

    fn set_nodelay(stream: &Self::Stream) -> io::Result<()> {
        stream.set_nodelay(true)
    }

    fn write_all<'a>(
        stream: &'a mut Self::Stream,
        buf: &'a [u8],
    ) -> impl Future<Output = io::Result<()>> + Send + 'a {
        tokio::io::AsyncWriteExt::write_all(stream, buf)
    }

    async fn read_exact<'a>(stream: &'a mut Self::Stream, buf: &'a mut [u8]) -> io::Result<()> {
        tokio::io::AsyncReadExt::read_exact(stream, buf)
            .await
            .map(drop)
    }
}

futures_io_net_exec!(Smol, smol::net::TcpListener, smol::net::TcpStream);

/// Echo 64-byte messages back until the peer closes (or anything fails).
async fn echo_server<E: NetExec>(mut stream: E::Stream) {
    let mut buf = [0u8; MSG];
    while E::read_exact(&mut stream, &mut buf).await.is_ok() {
        if E::write_all(&mut stream, &buf).await.is_err() {
            break;
        }
    }
}

/// `ROUND_TRIPS` ping-pongs of `MSG` bytes; gives the stream back for the next iteration.
async fn echo_client<E: NetExec>(mut stream: E::Stream, tag: u8) -> E::Stream {
    let out = [tag; MSG];
    let mut back = [0u8; MSG];
    for _ in 0..ROUND_TRIPS {
        E::write_all(&mut stream, &out)
            .await
            .expect("client write_all");
        E::read_exact(&mut stream, &mut back)
            .await
            .expect("client read_exact");
    }
    assert_eq!(back, out, "echo returned other bytes");
    stream
}

fn tcp_echo<E: NetExec>(group: &mut Group<'_>, procs: usize) {
    let rt = E::build(procs);

    // Set up the connections and their server tasks once, outside the timed loop.
    let mut clients: Vec<E::Stream> = rt.block_on(async {
        let listener = E::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind 127.0.0.1:0");
        let addr = E::local_addr(&listener).expect("local_addr");
        let acceptor = E::spawn(async move {
            for _ in 0..CONNS {
                let stream = E::accept(&listener).await?;
                E::set_nodelay(&stream)?;
                drop(E::spawn(echo_server::<E>(stream)));
            }
            io::Result::Ok(())
        });
        let mut clients = Vec::with_capacity(CONNS);
        for _ in 0..CONNS {
            let stream = E::connect(addr).await.expect("connect");
            E::set_nodelay(&stream).expect("set_nodelay");
            clients.push(stream);
        }
        acceptor.await.expect("acceptor task").expect("accept");
        clients
    });

    group.bench_function(E::NAME, |b| {
        b.iter(|| {
            let handles: Vec<_> = clients
                .drain(..)
                .enumerate()
                .map(|(i, s)| rt.spawn_remote(echo_client::<E>(s, i as u8)))
                .collect();
            rt.block_on(async {
                for h in handles {
                    clients.push(h.await.expect("client task"));
                }
            });
        })
    });

    // Closing the clients ends the server tasks (EOF).
    rt.block_on(async move { drop(clients) });
    rt.shutdown();
}

fn timers_100k<E: Exec>(group: &mut Group<'_>, procs: usize) {
    let rt = E::build(procs);
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let durations: Arc<Vec<Duration>> = Arc::new(
        (0..SLEEPERS)
            .map(|_| rng.between(Duration::from_millis(1), Duration::from_millis(10)))
            .collect(),
    );

    group.bench_function(E::NAME, |b| {
        b.iter(|| {
            let durations = durations.clone();
            let driver = rt.spawn_remote(async move {
                let handles: Vec<_> = durations
                    .iter()
                    .map(|&d| E::spawn(async move { E::sleep(d).await }))
                    .collect();
                for h in handles {
                    h.await.expect("sleeper task");
                }
            });
            rt.block_on(driver).expect("driver task");
        })
    });

    rt.shutdown();
}

/// Pending on its first poll (without waking anyone), ready on the second.
struct ReadyOnSecondPoll(bool);

impl Future for ReadyOnSecondPoll {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

/// Deadlines for the cancel shapes: far enough that none fires during a run.
fn cancel_deadline(rng: &mut XorShift) -> Duration {
    rng.between(Duration::from_secs(1), Duration::from_secs(60))
}

async fn cancel_ready_task<E: Exec>(seed: u64) {
    let mut rng = XorShift::new(seed);
    for i in 0..CANCEL_READY_PER_TASK {
        let mut t = pin!(E::timeout(
            cancel_deadline(&mut rng),
            ReadyOnSecondPoll(false)
        ));
        poll_fn(|cx| {
            // First poll: the inner future is pending, so the timer gets registered.
            assert!(t.as_mut().poll(cx).is_pending(), "timeout completed early");
            // Second poll: the inner future is ready; dropping `t` cancels the timer.
            match t.as_mut().poll(cx) {
                Poll::Ready(Ok(())) => Poll::Ready(()),
                Poll::Ready(Err(e)) => panic!("timeout fired: {e:?}"),
                Poll::Pending => panic!("ready inner future reported pending"),
            }
        })
        .await;
        if i % YIELD_EVERY == YIELD_EVERY - 1 {
            E::yield_now().await;
        }
    }
}

async fn cancel_pending_task<E: Exec>(seed: u64) {
    let mut rng = XorShift::new(seed);
    let mut live = Vec::with_capacity(CANCEL_PENDING_PER_TASK);
    for i in 0..CANCEL_PENDING_PER_TASK {
        let mut t = Box::pin(E::timeout(
            cancel_deadline(&mut rng),
            std::future::pending::<()>(),
        ));
        poll_fn(|cx| {
            assert!(t.as_mut().poll(cx).is_pending(), "timeout completed early");
            Poll::Ready(())
        })
        .await;
        live.push(t);
        if i % YIELD_EVERY == YIELD_EVERY - 1 {
            E::yield_now().await;
        }
    }
    // Cancel all of them.
    drop(live);
}

/// Run `CANCEL_TASKS` copies of `task` in parallel and wait for all of them.
fn run_cancel_tasks<E: Exec, F, Fut>(rt: &E, task: F)
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let handles: Vec<_> = (0..CANCEL_TASKS as u64)
        .map(|t| rt.spawn_remote(task(0x2545_F491_4F6C_DD1D ^ (t + 1))))
        .collect();
    rt.block_on(async {
        for h in handles {
            h.await.expect("cancel task");
        }
    });
}

fn timers_cancel_1m<E: Exec>(group: &mut Group<'_>, procs: usize) {
    let rt = E::build(procs);

    group.bench_function(E::NAME, |b| {
        b.iter(|| run_cancel_tasks(&rt, cancel_ready_task::<E>))
    });

    rt.shutdown();
}

fn timers_cancel_pending_100k<E: Exec>(group: &mut Group<'_>, procs: usize) {
    let rt = E::build(procs);

    group.bench_function(E::NAME, |b| {
        b.iter(|| run_cancel_tasks(&rt, cancel_pending_task::<E>))
    });

    rt.shutdown();
}

/// xorshift64: fixed seeds, so both runtimes see the same durations.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> XorShift {
        XorShift(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `[lo, hi)`, microsecond granularity.
    fn between(&mut self, lo: Duration, hi: Duration) -> Duration {
        let (lo, hi) = (lo.as_micros() as u64, hi.as_micros() as u64);
        Duration::from_micros(lo + self.next() % (hi - lo))
    }
}

fn bench_tcp_echo(c: &mut Criterion) {
    run_group(
        c,
        "tcp_echo",
        Some((CONNS * ROUND_TRIPS) as u64),
        &[tcp_echo::<Gmp>, tcp_echo::<Tokio>, tcp_echo::<Smol>],
    );
}

fn bench_timers_100k(c: &mut Criterion) {
    run_group(
        c,
        "timers_100k",
        None,
        &[
            timers_100k::<Gmp>,
            timers_100k::<Tokio>,
            timers_100k::<Smol>,
        ],
    );
}

fn bench_timers_cancel_1m(c: &mut Criterion) {
    run_group(
        c,
        "timers_cancel_1m",
        None,
        &[
            timers_cancel_1m::<Gmp>,
            timers_cancel_1m::<Tokio>,
            timers_cancel_1m::<Smol>,
        ],
    );
}

fn bench_timers_cancel_pending_100k(c: &mut Criterion) {
    run_group(
        c,
        "timers_cancel_pending_100k",
        None,
        &[
            timers_cancel_pending_100k::<Gmp>,
            timers_cancel_pending_100k::<Tokio>,
            timers_cancel_pending_100k::<Smol>,
        ],
    );
}

criterion_group! {
    name = net_time;
    config = config(10);
    targets =
        bench_tcp_echo,
        bench_timers_100k,
        bench_timers_cancel_1m,
        bench_timers_cancel_pending_100k,
}

criterion_main!(net_time);
