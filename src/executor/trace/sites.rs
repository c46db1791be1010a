//! Spawn sites, interned: an event names its task's spawn `Location` by a small index (24 bits
//! of its packed word) instead of a pointer, so the rings hold plain numbers and reading them
//! back needs no `unsafe`.
//!
//! The table only grows (a program has a fixed set of spawn sites); index 0 means "unknown".
//! Each P keeps a small direct-mapped cache from a location's address to its index, written
//! only by the P's owner (relaxed atomics: a racy reader is impossible, the cache is never
//! read by anyone else), so the usual lookup is two loads; a miss takes the table's lock.

use crate::loom::lock;
use crate::loom::sync::atomic::{AtomicU32, AtomicUsize, Ordering::Relaxed};
use crate::loom::sync::Mutex;
use std::collections::HashMap;
use std::panic::Location;

/// Entries of a P's cache.
const CACHE: usize = 32;

/// The most sites kept (the packed word's argument field has 24 bits); later ones are
/// "unknown".
const MAX_SITES: usize = (1 << 24) - 1;

/// Every spawn site seen by the recorder.
pub(crate) struct Sites {
    table: Mutex<(HashMap<usize, u32>, Vec<&'static Location<'static>>)>,
}

fn addr(loc: &'static Location<'static>) -> usize {
    loc as *const Location<'static> as usize
}

impl Sites {
    pub(crate) fn new() -> Sites {
        Sites {
            table: Mutex::new((HashMap::new(), Vec::new())),
        }
    }

    /// The index of `loc` (1-based), interned if new; any thread.
    pub(crate) fn intern(&self, loc: &'static Location<'static>) -> u32 {
        let mut t = lock(&self.table);
        let (map, list) = &mut *t;
        if let Some(&i) = map.get(&addr(loc)) {
            return i;
        }
        if list.len() >= MAX_SITES {
            return 0;
        }
        list.push(loc);
        let i = list.len() as u32;
        map.insert(addr(loc), i);
        i
    }

    /// Every site interned so far; entry `i - 1` is index `i`.
    pub(crate) fn all(&self) -> Vec<&'static Location<'static>> {
        lock(&self.table).1.clone()
    }
}

/// A P's cache of [`Sites`] indices; only the P's owner uses it.
pub(crate) struct SiteCache {
    keys: [AtomicUsize; CACHE],
    idx: [AtomicU32; CACHE],
}

impl SiteCache {
    pub(crate) fn new() -> SiteCache {
        SiteCache {
            keys: std::array::from_fn(|_| AtomicUsize::new(0)),
            idx: std::array::from_fn(|_| AtomicU32::new(0)),
        }
    }

    /// The index of `loc`, through the cache; the P's owner only.
    #[inline]
    pub(crate) fn get(&self, sites: &Sites, loc: &'static Location<'static>) -> u32 {
        let a = addr(loc);
        let h = (a >> 3) % CACHE;
        if self.keys[h].load(Relaxed) == a {
            return self.idx[h].load(Relaxed);
        }
        let i = sites.intern(loc);
        self.keys[h].store(a, Relaxed);
        self.idx[h].store(i, Relaxed);
        i
    }
}
