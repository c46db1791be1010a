//! Scheduling latency (Go's `/sched/latencies:seconds`): how long a task waited, runnable,
//! before its poll started, sampled and kept in a fixed log-scale histogram per P.
//!
//! **What is measured.** From the moment a task becomes runnable — spawned, woken, re-queued
//! after waking itself in its poll (`yield_now`, a preempted runnext chain), or queued by an
//! abort — to the moment an M starts its poll (`execute`). A stolen task keeps its
//! runnable-since time: it lives in the task's header (`Header::state_since`), which moves with
//! the task, not with the queue.
//!
//! **Sampling** (Go samples 1 in 8, with a per-goroutine counter; gmp 1 in 64, cheaper as
//! measured: 1 in 8 cost the tightest loop +6.6% instructions, 1 in 64 +3%, and 64 still gives
//! thousands of samples a second on a busy runtime). Whoever makes a task runnable decides:
//! the period is sampled when `(task id + polls so far) % SAMPLE_PERIOD == 0` (two loads, an
//! add, a test), so each task has every `SAMPLE_PERIOD`-th of its runnable
//! periods timed, and tasks run once are sampled by id. A sampled period is stamped with the
//! precise clock (`Reactor::now_ns`: `CLOCK_MONOTONIC` read directly, without `Instant`'s
//! checked arithmetic, which cost 2.5x as much per sample) and an **odd** value; every other stamp comes from the coarse clock, whose
//! values are kept even. The M that starts the poll (`execute`) tests the stamp's low bit — one
//! load and a test — and only for an odd one reads the clock again and records the difference;
//! the poll's own stamp (`Running`, coarse, even) then clears the mark, so a period is recorded
//! at most once. Each sample costs two clock reads and about 60 instructions besides; the
//! predicate and the bit test cost every wake and poll a few (BENCHMARKS.md, issue 20). (A task
//! polled 2^30 times or more stops counting its polls, so from then on it
//! is sampled always or never.)
//!
//! **Where it goes.** The M records the sample into its P's [`LatencyHist`]: owner counters (a
//! load and a store each, see `p::OwnerCounter`), one per bucket plus the largest value seen.
//! [`sched_latency`] adds the Ps' histograms up on read (racily: each bucket is exact at some
//! instant). Compiled out with `--cfg gmp_no_metrics`, like the rest of the metric-only
//! bookkeeping.
//!
//! **Buckets.** [`BUCKETS`] fixed buckets, four per power of two (so a bucket's bounds are at
//! most 25% apart): `[0, 128ns)`, then `[2^e + s·2^(e-2), 2^e + (s+1)·2^(e-2))` for `e` from 7
//! to 36 and `s` from 0 to 3, then `[2^37 ns ≈ 137s, ∞)`.

use super::p::{PLocal, METRICS, P};
use super::sched::Sched;
use super::schedule_impl::Notified;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// One runnable period in this many is timed (Go's `gTrackingPeriod` is 8; see the module
/// docs for why gmp's is 64).
pub(crate) const SAMPLE_PERIOD: u64 = 64;

/// Buckets below this power of two collapse into one (`[0, 128ns)`).
const MIN_SHIFT: u32 = 7;
/// The last power of two split into sub-buckets; above it, one open bucket.
const MAX_SHIFT: u32 = 36;
/// Sub-buckets per power of two, as a shift (4).
const SUB_BITS: u32 = 2;
/// Number of buckets: the low one, four per power of two from 2^7 to 2^36, the open one.
pub(crate) const BUCKETS: usize = 2 + ((MAX_SHIFT - MIN_SHIFT + 1) << SUB_BITS) as usize;

/// Whether the runnable period of a task with id `id` that has been polled `polls` times is
/// timed. Decided by whoever makes the task runnable; the stamp's low bit carries the decision
/// to the M that polls it.
#[inline(always)]
pub(crate) fn sampled(id: u64, polls: u32) -> bool {
    METRICS && id.wrapping_add(u64::from(polls)) % SAMPLE_PERIOD == 0
}

/// The bucket holding `ns`.
fn bucket_of(ns: u64) -> usize {
    if ns < 1 << MIN_SHIFT {
        return 0;
    }
    let e = 63 - ns.leading_zeros();
    if e > MAX_SHIFT {
        return BUCKETS - 1;
    }
    let sub = (ns >> (e - SUB_BITS)) & ((1 << SUB_BITS) - 1);
    1 + (((e - MIN_SHIFT) << SUB_BITS) as u64 + sub) as usize
}

/// The lower bound (inclusive, ns) of bucket `i`; `BUCKETS` gives the open bucket's end.
fn bucket_start(i: usize) -> u64 {
    match i {
        0 => 0,
        i if i >= BUCKETS => u64::MAX,
        i if i == BUCKETS - 1 => 1 << (MAX_SHIFT + 1),
        i => {
            let k = (i - 1) as u32;
            let e = MIN_SHIFT + (k >> SUB_BITS);
            let s = u64::from(k & ((1 << SUB_BITS) - 1));
            (1 << e) + (s << (e - SUB_BITS))
        }
    }
}

/// One P's histogram. Written only by the P's owner (a load and a store per counter, as
/// `OwnerCounter`), read by anyone. Plain std atomics even under loom: they order nothing.
pub(crate) struct LatencyHist {
    counts: [AtomicU64; BUCKETS],
    max: AtomicU64,
}

impl LatencyHist {
    pub(crate) fn new() -> LatencyHist {
        LatencyHist {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            max: AtomicU64::new(0),
        }
    }

    /// Count one sample of `ns`. The `&mut PLocal` is the proof of ownership.
    fn record(&self, _owner: &mut PLocal, ns: u64) {
        let c = &self.counts[bucket_of(ns)];
        c.store(c.load(Relaxed) + 1, Relaxed);
        if ns > self.max.load(Relaxed) {
            self.max.store(ns, Relaxed);
        }
    }
}

/// `execute`'s hook, before the poll: if this runnable period is sampled, time it into P
/// `pp`'s histogram. `local` is `pp`'s owned half, in the calling M's hands.
#[inline(always)]
pub(crate) fn on_execute(sched: &Sched, pp: &P, local: &mut PLocal, task: &Notified) {
    let since = task.header().state_since.load(Relaxed);
    if METRICS && since & 1 != 0 {
        record(sched, pp, local, since);
    }
}

#[cold]
#[inline(never)]
fn record(sched: &Sched, pp: &P, local: &mut PLocal, since: u64) {
    let now = sched.reactor.now_ns();
    pp.latency.record(local, now.saturating_sub(since));
}

/// Every P's histogram added up (reserve Ps included).
pub(crate) fn sched_latency(sched: &Sched) -> SchedLatency {
    let mut counts = vec![0u64; BUCKETS];
    let mut max_ns = 0;
    for p in sched.allp.iter() {
        for (sum, c) in counts.iter_mut().zip(p.latency.counts.iter()) {
            *sum += c.load(Relaxed);
        }
        max_ns = max_ns.max(p.latency.max.load(Relaxed));
    }
    SchedLatency { counts, max_ns }
}

/// Scheduling latency: how long tasks waited, runnable, before their poll started (Go's
/// `/sched/latencies:seconds`), in [`RuntimeMetrics::sched_latency`].
///
/// Measured from the moment a task is made runnable (spawned, woken, re-queued after waking
/// itself during its poll — `yield_now`, a time slice used up — or aborted) to the start of its
/// poll; a stolen task keeps the time it became runnable. Sampled as Go does: one runnable
/// period in [`SAMPLE_PERIOD`](Self::SAMPLE_PERIOD) of each task (every 64th of its wakes, by a
/// counter, not at random; Go times every 8th, which measured too dear here), timed with the
/// precise clock; always on (compiled out only with `--cfg gmp_no_metrics`). Totals since the runtime started, per P and added up on read.
///
/// The buckets are fixed, four per power of two: `[0, 128ns)`, then from 128 ns up to
/// 2^37 ns (about 137 s) bounds at most 25% apart, then one open bucket. Quantiles are read
/// from the buckets: [`quantile`](Self::quantile) returns the upper bound of the bucket where
/// the quantile falls (never more than [`max`](Self::max), which is exact), so it is an upper
/// estimate within 25%.
///
/// ```
/// let rt = gmp::Runtime::new().unwrap();
/// rt.block_on(async {
///     for _ in 0..64 {
///         gmp::spawn(async {}).await.unwrap();
///     }
/// });
/// let lat = rt.handle().metrics().sched_latency;
/// assert!(lat.count() > 0);
/// println!("p50 {:?}, p99 {:?}, max {:?}", lat.p50(), lat.p99(), lat.max());
/// ```
///
/// [`RuntimeMetrics::sched_latency`]: crate::RuntimeMetrics::sched_latency
#[derive(Clone, PartialEq, Eq)]
pub struct SchedLatency {
    counts: Vec<u64>,
    max_ns: u64,
}

/// One bucket of a [`SchedLatency`]: `count` samples at least `start` and below `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LatencyBucket {
    /// The lower bound (inclusive).
    pub start: Duration,
    /// The upper bound (exclusive); `Duration::MAX` for the last, open bucket.
    pub end: Duration,
    /// Samples in the bucket.
    pub count: u64,
}

impl SchedLatency {
    /// One runnable period in this many is timed (as in Go).
    pub const SAMPLE_PERIOD: u32 = SAMPLE_PERIOD as u32;

    /// Samples taken (the sum of the buckets).
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Every bucket, in increasing order, empty ones included (the bounds never change).
    pub fn buckets(&self) -> impl Iterator<Item = LatencyBucket> + '_ {
        self.counts
            .iter()
            .enumerate()
            .map(|(i, &count)| LatencyBucket {
                start: Duration::from_nanos(bucket_start(i)),
                end: match bucket_start(i + 1) {
                    u64::MAX => Duration::MAX,
                    ns => Duration::from_nanos(ns),
                },
                count,
            })
    }

    /// The latency at or below which a fraction `q` of the samples fall: the upper bound of the
    /// bucket it falls in, capped at [`max`](Self::max). `None` without samples.
    ///
    /// # Panics
    /// If `q` is not within `0.0..=1.0` (NaN included), with a message naming it.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        assert!(
            (0.0..=1.0).contains(&q),
            "gmp: SchedLatency::quantile({q}): the quantile must be within 0.0..=1.0"
        );
        let total = self.count();
        if total == 0 {
            return None;
        }
        // The rank of the sample wanted, 1-based: at least the first.
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let end = bucket_start(i + 1);
                return Some(Duration::from_nanos(end.min(self.max_ns)));
            }
        }
        Some(Duration::from_nanos(self.max_ns))
    }

    /// The median ([`quantile`](Self::quantile)`(0.5)`).
    pub fn p50(&self) -> Option<Duration> {
        self.quantile(0.5)
    }

    /// The 99th percentile ([`quantile`](Self::quantile)`(0.99)`).
    pub fn p99(&self) -> Option<Duration> {
        self.quantile(0.99)
    }

    /// The longest latency sampled (exact). `None` without samples.
    pub fn max(&self) -> Option<Duration> {
        (self.count() > 0).then(|| Duration::from_nanos(self.max_ns))
    }
}

impl fmt::Debug for SchedLatency {
    /// The count, p50, p99, max and the non-empty buckets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchedLatency")
            .field("count", &self.count())
            .field("p50", &self.p50())
            .field("p99", &self.p99())
            .field("max", &self.max())
            .field(
                "buckets",
                &self.buckets().filter(|b| b.count > 0).collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn buckets_tile_the_line() {
        assert_eq!(BUCKETS, 122);
        for i in 0..BUCKETS {
            let (start, end) = (bucket_start(i), bucket_start(i + 1));
            assert!(start < end, "bucket {i}");
            assert_eq!(bucket_of(start), i, "start of bucket {i}");
            assert_eq!(bucket_of(end - 1), i, "end of bucket {i}");
            if i > 0 && i < BUCKETS - 1 {
                // At most 25% apart.
                assert!((end - start) * 4 <= start, "bucket {i}: {start}..{end}");
            }
        }
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(127), 0);
        assert_eq!(bucket_of(128), 1);
        assert_eq!(bucket_of(160), 2);
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn sampling_is_one_in_sample_period_per_task() {
        let n = 100 * SAMPLE_PERIOD;
        for id in 1..100u64 {
            let k = (0..n as u32).filter(|&k| sampled(id, k)).count();
            assert_eq!(k, 100, "task {id}");
        }
        let tasks = (1..=n).filter(|&id| sampled(id, 0)).count();
        assert_eq!(tasks, 100);
    }

    fn hist(samples: &[u64]) -> SchedLatency {
        let mut counts = vec![0; BUCKETS];
        for &s in samples {
            counts[bucket_of(s)] += 1;
        }
        SchedLatency {
            counts,
            max_ns: samples.iter().copied().max().unwrap_or(0),
        }
    }

    #[test]
    fn quantiles_are_bucket_upper_bounds_capped_at_max() {
        let empty = hist(&[]);
        assert_eq!(empty.count(), 0);
        assert_eq!((empty.p50(), empty.p99(), empty.max()), (None, None, None));
        // 99 samples of 1 µs, one of 1 ms.
        let mut s = vec![1_000; 99];
        s.push(1_000_000);
        let h = hist(&s);
        assert_eq!(h.count(), 100);
        let p50 = h.p50().unwrap();
        assert!(p50 >= Duration::from_nanos(1_000) && p50 <= Duration::from_nanos(1_250));
        assert_eq!(h.p99(), h.p50());
        assert_eq!(h.quantile(1.0), Some(Duration::from_millis(1)));
        assert_eq!(h.max(), Some(Duration::from_millis(1)));
        assert_eq!(h.quantile(0.0), h.p50());
        // The open bucket reads as the max.
        let huge = hist(&[1 << 40]);
        assert_eq!(huge.p50(), Some(Duration::from_nanos(1 << 40)));
        assert_eq!(huge.buckets().last().unwrap().end, Duration::MAX);
        assert_eq!(huge.buckets().count(), BUCKETS);
    }

    #[test]
    #[should_panic(expected = "SchedLatency::quantile(1.5)")]
    fn quantile_out_of_range_panics() {
        hist(&[1]).quantile(1.5);
    }

    #[test]
    #[should_panic(expected = "SchedLatency::quantile(NaN)")]
    fn quantile_nan_panics() {
        hist(&[1]).quantile(f64::NAN);
    }
}
