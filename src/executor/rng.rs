//! The scheduler's random numbers: each M's steal order (Go's `fastrand` per M).
//!
//! Invariants:
//! - The only randomness in scheduling decisions is here: which P a spinning M tries first
//!   and with what stride (`steal_work`), and where `steal_backlog` starts its scan.
//! - Every M's stream is a pure function of the runtime's seed and the M's id:
//!   [`Builder::rng_seed`](crate::Builder::rng_seed) or `GMPDEBUG=seed=N` fix the seed, so a
//!   run can be replayed with the same choices (given the same M ids, which Ms get in the
//!   order they are created). Without either, the seed comes from the OS's hash keys and the
//!   clock, and `GMPDEBUG=schedtrace` prints it.
//! - Streams of different Ms differ (the id is mixed in with splitmix64), and no stream is
//!   stuck at zero (xorshift's one fixed point is avoided by forcing the low bit).

/// An M's generator: xorshift64* over a seed mixed from the runtime's seed and the M's id.
#[derive(Debug, Clone)]
pub(crate) struct FastRand(u64);

/// splitmix64's finaliser: a bijection that spreads nearby inputs far apart.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl FastRand {
    /// The stream of M `m_id` in a runtime seeded with `seed`.
    pub(crate) fn for_m(seed: u64, m_id: usize) -> FastRand {
        FastRand(mix(seed ^ mix(m_id as u64)) | 1)
    }

    /// The next number (32 random bits).
    #[inline]
    pub(crate) fn next(&mut self) -> usize {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as usize
    }
}

/// A seed for a runtime nobody seeded: the OS's per-process hash keys, the clock, and a
/// counter (two runtimes built in the same nanosecond still differ).
pub(crate) fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNT.fetch_add(1, Relaxed));
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(seed: u64, m: usize) -> Vec<usize> {
        let mut r = FastRand::for_m(seed, m);
        (0..1000).map(|_| r.next()).collect()
    }

    #[test]
    fn same_seed_same_stream() {
        assert_eq!(stream(42, 0), stream(42, 0));
        assert_eq!(stream(42, 3), stream(42, 3));
        assert_eq!(stream(0, 0), stream(0, 0));
    }

    #[test]
    fn seeds_and_ms_give_different_streams() {
        assert_ne!(stream(42, 0), stream(43, 0));
        assert_ne!(stream(42, 0), stream(42, 1));
        // Victim choices spread over the Ps (a stuck stream would pick one P forever).
        let mut hits = [0u32; 4];
        for x in stream(7, 0) {
            hits[x % 4] += 1;
        }
        assert!(hits.iter().all(|&h| h > 150), "{hits:?}");
    }

    /// The steal order an M derives from its stream (first victim and stride over 4 Ps, as
    /// `steal_work` does) is the same under the same seed.
    #[test]
    fn same_seed_same_victim_order() {
        let order = |seed| {
            let mut r = FastRand::for_m(seed, 1);
            let coprimes = [1usize, 3];
            (0..50)
                .map(|_| {
                    let start = r.next() % 4;
                    let stride = coprimes[r.next() % 2];
                    (0..4).map(|k| (start + k * stride) % 4).collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(order(99), order(99));
        assert_ne!(order(99), order(100));
    }

    #[test]
    fn random_seeds_differ() {
        assert_ne!(random_seed(), random_seed());
    }
}
