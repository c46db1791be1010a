//! The flight recorder's rings: fixed arrays of 32-byte event slots, each guarded by its own
//! sequence word (a seqlock per slot), all atomics — no `unsafe`, and a reader racing a writer
//! sees a torn slot as torn, never as an event.
//!
//! A slot holds the `n`th event written to its ring (`n` counts from 0) when its sequence word
//! is `2n + 2`; `2n + 1` means that event is being written. Writers:
//! - [`OwnerRing`] (one per P): only the M holding the P writes, so claiming a slot is a load
//!   and a store of `head`, no read-modify-write;
//! - [`SharedRing`]: anyone (sysmon, Ms without a P, foreign threads) claims a slot with a
//!   `fetch_add` on `head` and then takes the slot with a CAS on its sequence word from an
//!   older, finished event to its own odd value. A writer that finds the slot being written,
//!   or already holding a newer event (the ring lapped it), drops its event and counts it.
//!
//! A reader ([`Ring::read`]) takes the last `len` indices below `head` and, for each, loads the
//! sequence word (acquire), the fields (acquire), then the sequence word again: the event is
//! kept only if both loads read `2n + 2`. Writers store the odd value, then the fields
//! (release), then the even value (release). A field load that reads a newer writer's value
//! synchronizes with that release store, so the odd value stored before it is visible to the
//! recheck, which then fails. (Acquire/release on x86 are plain moves: no cost over relaxed.
//! The fence-based form of the same seqlock is equally correct, but loom cannot check it.)

use crate::loom::sync::atomic::{AtomicU64, Ordering::*};

/// One recorded event, as stored (its `word` is packed by `super::pack`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Raw {
    /// Index of the event in its ring (orders events that share a timestamp).
    pub(crate) index: u64,
    pub(crate) time_ns: u64,
    pub(crate) task: u64,
    pub(crate) word: u64,
}

#[repr(align(32))]
struct Slot {
    seq: AtomicU64,
    time_ns: AtomicU64,
    task: AtomicU64,
    /// Kind, P, M and argument, packed by the caller.
    word: AtomicU64,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            seq: AtomicU64::new(0),
            time_ns: AtomicU64::new(0),
            task: AtomicU64::new(0),
            word: AtomicU64::new(0),
        }
    }

    /// Fill a slot the caller has marked as being written (odd sequence), then publish it.
    #[inline(always)]
    fn fill(&self, n: u64, time_ns: u64, task: u64, word: u64) {
        self.time_ns.store(time_ns, Release);
        self.task.store(task, Release);
        self.word.store(word, Release);
        self.seq.store(2 * n + 2, Release);
    }

    /// Event `n`, if the slot holds it, whole.
    fn read(&self, n: u64) -> Option<Raw> {
        let want = 2 * n + 2;
        if self.seq.load(Acquire) != want {
            return None;
        }
        let raw = Raw {
            index: n,
            time_ns: self.time_ns.load(Acquire),
            task: self.task.load(Acquire),
            word: self.word.load(Acquire),
        };
        (self.seq.load(Acquire) == want).then_some(raw)
    }
}

/// A ring of `2^k` slots and its write index; read by [`Ring::read`].
pub(crate) struct Ring {
    /// Events ever claimed (the next event's index).
    head: AtomicU64,
    slots: Box<[Slot]>,
}

impl Ring {
    /// A ring of `len` slots (rounded up to a power of two), or of none (`len == 0`: the
    /// recorder is off and nothing is ever written).
    pub(crate) fn new(len: usize) -> Ring {
        let len = if len == 0 { 0 } else { len.next_power_of_two() };
        Ring {
            head: AtomicU64::new(0),
            slots: (0..len).map(|_| Slot::new()).collect(),
        }
    }

    #[inline(always)]
    fn slot(&self, n: u64) -> &Slot {
        &self.slots[(n as usize) & (self.slots.len() - 1)]
    }

    /// The last events still in the ring, oldest first, and how many of the indices looked at
    /// held no whole event (being written, overwritten meanwhile, or dropped by a collision).
    pub(crate) fn read(&self) -> (Vec<Raw>, usize) {
        let head = self.head.load(Acquire);
        let from = head.saturating_sub(self.slots.len() as u64);
        let mut out = Vec::with_capacity((head - from) as usize);
        let mut torn = 0;
        for n in from..head {
            match self.slot(n).read(n) {
                Some(raw) => out.push(raw),
                None => torn += 1,
            }
        }
        (out, torn)
    }
}

/// A P's ring: written only by the M holding the P (see the module docs).
pub(crate) struct OwnerRing(pub(crate) Ring);

impl OwnerRing {
    /// Record one event. Caller: the M that holds the P (a second writer would only tear
    /// events, which readers drop, never corrupt memory).
    #[inline]
    pub(crate) fn write(&self, time_ns: u64, task: u64, word: u64) {
        let r = &self.0;
        if r.slots.is_empty() {
            return;
        }
        let n = r.head.load(Relaxed);
        let slot = r.slot(n);
        slot.seq.store(2 * n + 1, Relaxed);
        slot.fill(n, time_ns, task, word);
        r.head.store(n + 1, Release);
    }
}

/// The ring for events of threads that hold no P (see the module docs).
pub(crate) struct SharedRing {
    pub(crate) ring: Ring,
    /// Events dropped because their slot was busy or already held a newer event.
    pub(crate) dropped: AtomicU64,
}

impl SharedRing {
    /// Record one event; any thread.
    pub(crate) fn write(&self, time_ns: u64, task: u64, word: u64) {
        let r = &self.ring;
        if r.slots.is_empty() {
            return;
        }
        let n = r.head.fetch_add(1, AcqRel);
        let slot = r.slot(n);
        // Acquire: the previous writer's fields must come before ours in each field's order,
        // or a reader could see its field after our publication (found by the loom model).
        let cur = slot.seq.load(Acquire);
        if cur % 2 == 1
            || cur > 2 * n
            || slot
                .seq
                .compare_exchange(cur, 2 * n + 1, Acquire, Relaxed)
                .is_err()
        {
            self.dropped.fetch_add(1, Relaxed);
            return;
        }
        slot.fill(n, time_ns, task, word);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_events_in_order() {
        let r = OwnerRing(Ring::new(4));
        for i in 0..10 {
            r.write(i, i * 10, i * 100);
        }
        let (events, torn) = r.0.read();
        assert_eq!(torn, 0);
        let idx: Vec<u64> = events.iter().map(|e| e.index).collect();
        assert_eq!(idx, [6, 7, 8, 9]);
        assert!(events
            .iter()
            .all(|e| e.task == e.time_ns * 10 && e.word == e.time_ns * 100));
        let off = OwnerRing(Ring::new(0));
        off.write(1, 2, 3);
        assert_eq!(off.0.read(), (vec![], 0));
    }

    /// Readers racing writers (one owner, four shared writers) only ever see whole events:
    /// each event's fields are derived from one number, so a torn one would not add up.
    #[test]
    fn readers_never_see_torn_events() {
        use std::sync::atomic::AtomicBool;
        use std::sync::Arc;
        // Tiny rings: writers lap the reader all the time, so it races them on every slot.
        let own = Arc::new(OwnerRing(Ring::new(4)));
        let shared = Arc::new(SharedRing {
            ring: Ring::new(4),
            dropped: AtomicU64::new(0),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        {
            let (own, stop) = (own.clone(), stop.clone());
            writers.push(std::thread::spawn(move || {
                let mut i = 1u64;
                while !stop.load(Relaxed) {
                    own.write(i, i.wrapping_mul(3), !i);
                    i += 1;
                }
            }));
        }
        for w in 0..4u64 {
            let (shared, stop) = (shared.clone(), stop.clone());
            writers.push(std::thread::spawn(move || {
                let mut i = w << 40;
                while !stop.load(Relaxed) {
                    shared.write(i, i.wrapping_mul(3), !i);
                    i += 1;
                }
            }));
        }
        let mut seen = 0usize;
        let start = std::time::Instant::now();
        let mut reads = 0;
        while reads < 100_000 || seen < 1_000 {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(30),
                "the readers saw only {seen} whole events"
            );
            reads += 1;
            for ring in [&own.0, &shared.ring] {
                let (events, _) = ring.read();
                for e in &events {
                    assert_eq!(e.task, e.time_ns.wrapping_mul(3), "torn: {e:?}");
                    assert_eq!(e.word, !e.time_ns, "torn: {e:?}");
                }
                seen += events.len();
            }
        }
        stop.store(true, Relaxed);
        for w in writers {
            w.join().unwrap();
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(3);
        b.check(f);
    }

    /// loom: two writers racing for the one slot of a shared ring, the reader racing both:
    /// the reader never keeps a torn event (without the Acquire on the slot's claim it did).
    #[test]
    fn loom_trace_shared_ring_no_torn_reads() {
        model(|| {
            let shared = Arc::new(SharedRing {
                ring: Ring::new(1),
                dropped: AtomicU64::new(0),
            });
            let s = shared.clone();
            let t = loom::thread::spawn(move || s.write(5, 15, !5));
            shared.write(7, 21, !7);
            for e in shared.ring.read().0 {
                assert_eq!(e.task, e.time_ns * 3);
                assert_eq!(e.word, !e.time_ns);
            }
            t.join().unwrap();
        });
    }

    /// loom: the owner overwriting its one-slot ring while another thread reads it.
    #[test]
    fn loom_trace_owner_ring_no_torn_reads() {
        model(|| {
            let own = Arc::new(OwnerRing(Ring::new(1)));
            let o = own.clone();
            let t = loom::thread::spawn(move || {
                o.write(1, 3, !1);
                o.write(2, 6, !2);
            });
            for e in own.0.read().0 {
                assert_eq!(e.task, e.time_ns * 3);
                assert_eq!(e.word, !e.time_ns);
            }
            t.join().unwrap();
        });
    }
}
