//! Task memory recycling: Go's `gFree` lists (`gfget`/`gfput`).
//!
//! Go never frees a dead G: it goes on its P's free list and the next `newproc` on that P
//! takes it, with a global list to even out Ps that only create and Ps that only retire. gmp
//! does the same with task cells, by size class: a spawn storm then costs no `malloc`/`free`
//! per task, and — what matters most on many cores — no allocator arena lock taken by a thread
//! freeing a task that another thread allocated (the cross-thread free of a work-stealing
//! runtime, where glibc's `free` takes the owning arena's lock).
//!
//! Invariants:
//! - Every task cell whose layout has a size class is allocated with that class's layout
//!   (size rounded up to the class's, align 16), whichever path allocates it, so any path may
//!   free it: a P's list, the global list or the allocator.
//! - Class sizes are the sizes a glibc chunk can hold: chunks are multiples of 16 bytes with
//!   an 8-byte header, so they hold 24, 40, 56, … bytes (`16k + 8`). A 104-byte cell asks for
//!   104 and gets a 112-byte chunk; rounding it to 112 would cost a 128-byte chunk.
//! - A P's lists live in its owned half (`p::PLocal`), so only the M holding the P reaches
//!   them (through `&mut`, lent by the thread context while it polls): they need no
//!   synchronisation. A thread holding no P (one
//!   outside the runtime spawning tasks or dropping the last `JoinHandle`, an M in a blocking
//!   section) keeps a small thread-local stash of one class instead, refilled from and
//!   spilled to the global list in batches, so a thread that spawns from outside the runtime
//!   takes one lock per [`BATCH`] spawns instead of a `malloc` per spawn.
//! - Lists are bounded: [`LOCAL_MAX`] blocks per class per P and per stash (over it, half
//!   move to the global list), the global list [`GLOBAL_BYTES`] per class (over it, blocks go
//!   back to the allocator). Dropping the scheduler frees every block in its lists; a thread's
//!   exit frees its stash. Blocks are plain memory of a class layout, so a block may move
//!   between runtimes' lists and stashes.

use super::schedule::TaskAlloc;
use super::TaskId;
use crate::executor::context;
use crate::executor::prefetch::prefetch_write;
use crate::executor::sched::Sched;
use crate::executor::sched_ref::SchedRef;
use crate::loom::sync::atomic::Ordering::Relaxed;
use crate::loom::sync::Mutex;
use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::cell::RefCell;
use std::ptr::NonNull;
use std::sync::Arc;

/// Class sizes step by this many bytes (malloc's chunk granularity on 64-bit glibc).
const CLASS_STEP: usize = 16;
/// What a chunk holds beyond a multiple of [`CLASS_STEP`]: glibc's chunk header is one word,
/// so a 16k-byte chunk holds 16k - 8 bytes. Class `c` holds `(c + 1) * 16 + 8` bytes.
const CLASS_SLACK: usize = 8;
/// Classes up to 64 x 16 + 8 = 1,032 bytes (glibc's largest per-thread-cached size); larger
/// (or over-aligned) tasks go straight to the allocator.
const NCLASSES: usize = 64;
/// Block alignment of every class (enough for any task whose layout asks for at most 16).
const CLASS_ALIGN: usize = 16;
/// Blocks a P keeps per class (Go keeps 64 Gs per P before moving half to the global list).
pub(crate) const LOCAL_MAX: usize = 64;
/// Bytes the global list keeps per class; beyond that, memory goes back to the allocator.
/// (1 MiB holds about 10,000 cells of 104 bytes: a burst of remote spawns that large is
/// served from the list the next time.)
const GLOBAL_BYTES: usize = 1024 * 1024;
/// Blocks a P's list or a stash takes from the global list at once, and half of what it
/// moves there when it overflows.
const BATCH: usize = LOCAL_MAX / 2;

/// A free block of one class.
struct Block(NonNull<u8>);

// SAFETY: a free block is plain memory owned by whichever list holds it.
unsafe impl Send for Block {}

/// `(class index, the class's layout)` for a task cell of `layout`, if it has one.
#[inline]
fn class_of(layout: Layout) -> Option<(usize, Layout)> {
    if layout.align() > CLASS_ALIGN || layout.size() == 0 {
        return None;
    }
    // The smallest class holding `size`: (c + 1) * 16 + 8 >= size.
    let c = layout
        .size()
        .saturating_sub(CLASS_SLACK)
        .div_ceil(CLASS_STEP)
        .max(1)
        - 1;
    if c >= NCLASSES {
        return None;
    }
    Some((c, class_layout(c)))
}

/// The layout every block of class `c` is allocated with.
fn class_layout(c: usize) -> Layout {
    Layout::from_size_align((c + 1) * CLASS_STEP + CLASS_SLACK, CLASS_ALIGN)
        .expect("a size up to 1,032 bytes with align 16 is a valid layout")
}

fn raw_alloc(layout: Layout) -> NonNull<u8> {
    // SAFETY: task layouts are never zero-sized (the header alone is not).
    let p = unsafe { alloc(layout) };
    NonNull::new(p).unwrap_or_else(|| handle_alloc_error(layout))
}

/// One P's free lists (Go's `p.gFree`), in the P's owned half.
pub(crate) struct LocalFree {
    lists: [Vec<Block>; NCLASSES],
}

impl LocalFree {
    pub(crate) fn new() -> LocalFree {
        LocalFree {
            lists: std::array::from_fn(|_| Vec::new()),
        }
    }
}

impl Drop for LocalFree {
    fn drop(&mut self) {
        free_all(&mut self.lists);
    }
}

/// The global free lists (Go's `sched.gFree`), for Ps whose own lists ran dry or overflowed.
///
/// On a cache-line pair of its own: its lock is taken by every M in turn during a spawn
/// storm, and a hot field of `Sched` beside it made each refill wait for that line
/// (`refill` was 7% of `timers_100k`'s time on 2 workers while they shared one).
#[repr(align(128))]
pub(crate) struct GlobalFree {
    lists: Mutex<[Vec<Block>; NCLASSES]>,
}

impl GlobalFree {
    pub(crate) fn new() -> GlobalFree {
        GlobalFree {
            lists: Mutex::new(std::array::from_fn(|_| Vec::new())),
        }
    }
}

impl Drop for GlobalFree {
    fn drop(&mut self) {
        free_all(self.lists.get_mut().unwrap_or_else(|e| e.into_inner()));
    }
}

fn free_all(lists: &mut [Vec<Block>; NCLASSES]) {
    for (c, list) in lists.iter_mut().enumerate() {
        free_list(c, list);
    }
}

/// Give every block of `list` (all of class `c`) back to the allocator.
fn free_list(c: usize, list: &mut Vec<Block>) {
    let layout = class_layout(c);
    for b in list.drain(..) {
        // SAFETY: every block in a class list was allocated with that class's layout and is
        // owned by the list.
        unsafe { dealloc(b.0.as_ptr(), layout) };
    }
}

/// A thread's free blocks of one class, for when it holds no P (see the module invariants).
struct Stash {
    /// The class of `blocks` (meaningless while empty).
    class: usize,
    blocks: Vec<Block>,
}

impl Stash {
    /// The stash as a list of class `c`: blocks of another class go to the global list first.
    fn list(&mut self, sched: &Sched, c: usize) -> &mut Vec<Block> {
        if self.class != c {
            let old = self.class;
            spill(sched, old, &mut self.blocks, 0);
            self.class = c;
        }
        &mut self.blocks
    }
}

impl Drop for Stash {
    fn drop(&mut self) {
        free_list(self.class, &mut self.blocks);
    }
}

crate::loom::thread_local! {
    static STASH: RefCell<Stash> = const {
        RefCell::new(Stash {
            class: 0,
            blocks: Vec::new(),
        })
    };
}

/// Run `f` on this thread's stash, if it is there (not during thread exit) and not in use.
fn with_stash<R>(f: impl FnOnce(&mut Stash) -> R) -> Option<R> {
    STASH
        .try_with(|s| s.try_borrow_mut().ok().map(|mut s| f(&mut s)))
        .ok()
        .flatten()
}

/// Move `list`'s blocks from index `keep` on to the global list of class `c`; what it has
/// no room for goes back to the allocator.
fn spill(sched: &Sched, c: usize, list: &mut Vec<Block>, keep: usize) {
    if keep >= list.len() {
        return; // nothing to move: no lock
    }
    let block = class_layout(c);
    let room = GLOBAL_BYTES / block.size();
    let mut global = crate::loom::lock(&sched.gfree.lists);
    let g = &mut global[c];
    for b in list.drain(keep..) {
        if g.len() < room {
            g.push(b);
        } else {
            // SAFETY: a class block, owned by the list it was just taken from.
            unsafe { dealloc(b.0.as_ptr(), block) };
        }
    }
}

/// A block from `list` (a P's list or a stash, of class `c`), refilling it with up to
/// [`BATCH`] blocks from the global list when it is empty (one lock per `BATCH` spawns).
#[inline]
fn take(sched: &Sched, c: usize, list: &mut Vec<Block>) -> Option<Block> {
    if list.is_empty() {
        refill(sched, c, list);
    }
    let b = list.pop()?;
    // The next spawn's block was often last written on another core (a thief ran and freed
    // that task; the block came back through the global list): fetch its lines for writing
    // now, while this spawn goes on, instead of waiting for them in the next one. In
    // `spawn_many_local` with two Ps that wait was 12% of the samples, at the join handle's
    // first access to the new task's state.
    if let Some(next) = list.last() {
        prefetch_write(next.0.as_ptr(), class_layout(c).size());
    }
    Some(b)
}

#[cold]
fn refill(sched: &Sched, c: usize, list: &mut Vec<Block>) {
    let mut global = crate::loom::lock(&sched.gfree.lists);
    let g = &mut global[c];
    let n = g.len().min(BATCH);
    list.extend(g.drain(g.len() - n..));
}

/// Put `b` on `list` (a P's list or a stash, of class `c`); over [`LOCAL_MAX`], [`BATCH`]
/// blocks move to the global list.
#[inline]
fn put(sched: &Sched, c: usize, list: &mut Vec<Block>, b: Block) {
    list.push(b);
    if list.len() > LOCAL_MAX {
        let keep = list.len() - BATCH;
        spill(sched, c, list, keep);
    }
}

/// Memory for a new task's cell of `layout` (Go's `gfget`, else a fresh allocation), with the
/// task's id (from the spawning P's id cache, else the global counter) and the spawning P: one
/// visit to the P's owned half for both.
pub(crate) fn alloc_task(sched: &Arc<Sched>, layout: Layout) -> TaskAlloc<SchedRef> {
    let class = class_of(layout);
    let local = context::with_local(sched, (), |l, ()| {
        let id = l.next_task_id(&sched.next_task_id);
        let found = class.and_then(|(c, _)| take(sched, c, &mut l.gfree.lists[c]));
        (found, id, l.id, SchedRef::on_p(sched, l))
    });
    let (found, id, p, cell_ref) = match local {
        Ok((found, id, p, r)) => (found, id, Some(p), r),
        Err(()) => {
            let found = class
                .and_then(|(c, _)| with_stash(|st| take(sched, c, st.list(sched, c))).flatten());
            let id = sched.next_task_id.fetch_add(1, Relaxed);
            (found, id, None, SchedRef::remote(sched))
        }
    };
    let mem = match (found, class) {
        (Some(b), _) => b.0,
        (None, Some((_, block))) => raw_alloc(block),
        (None, None) => raw_alloc(layout),
    };
    TaskAlloc {
        mem,
        id: TaskId::new(id),
        p,
        sched: cell_ref,
    }
}

/// Give back the memory of a task cell of `layout` (Go's `gfput`), and then the cell's
/// reference on the runtime, `cell_ref` (on the P whose lists take the block, in the same
/// visit), which may be the last one.
///
/// # Safety
/// `ptr` came from [`alloc_task`] with the same `layout` and its contents are already dropped.
pub(crate) unsafe fn free_task(cell_ref: SchedRef, ptr: NonNull<u8>, layout: Layout) {
    // Valid until `cell_ref` is released, which is the last thing done on either path.
    let sched = &*cell_ref.alias();
    let Some((c, block)) = class_of(layout) else {
        // SAFETY: allocated by `raw_alloc(layout)` in `alloc_task` (no class).
        unsafe { dealloc(ptr.as_ptr(), layout) };
        return;
    };
    let Err((b, cell_ref)) = context::with_local(sched, (Block(ptr), cell_ref), |l, (b, r)| {
        put(sched, c, &mut l.gfree.lists[c], b);
        r.release_on_p(l);
    }) else {
        return;
    };
    // A stash keeps the class this thread freed last.
    let stashed = with_stash(|st| put(sched, c, st.list(sched, c), b));
    if stashed.is_none() {
        // SAFETY: class blocks are allocated with `block` on every path.
        unsafe { dealloc(ptr.as_ptr(), block) };
    }
    drop(cell_ref);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A thread holding no P (this test's) recycles through its stash and the global list.
    #[test]
    fn a_thread_without_a_p_reuses_blocks_through_its_stash_and_the_global_list() {
        let rt = crate::Runtime::builder().procs(1).build().unwrap();
        let sched = &rt.handle().sched;
        let layout = Layout::from_size_align(120, 8).unwrap();
        let (c, _) = class_of(layout).unwrap();
        let take = || {
            let a = alloc_task(sched, layout);
            (a.mem, a.sched)
        };
        let give = |(mem, r)| {
            // SAFETY: a block from `take()` (so from `alloc_task(layout)`) with the reference
            // that came with it, holding nothing to drop, freed once.
            unsafe { free_task(r, mem, layout) }
        };
        let a = take();
        let first = a.0;
        give(a);
        let a = take();
        assert_eq!(a.0, first, "the block just freed comes back");
        give(a);
        // More than a stash keeps: the surplus goes to the global list, and comes back.
        let n = 4 * LOCAL_MAX;
        let taken: Vec<_> = (0..n).map(|_| take()).collect();
        let blocks: std::collections::HashSet<_> = taken.iter().map(|t| t.0).collect();
        taken.into_iter().for_each(give);
        let global = sched.gfree.lists.lock().unwrap()[c].len();
        assert!(
            global >= n - LOCAL_MAX,
            "{global} blocks on the global list"
        );
        let taken: Vec<_> = (0..n).map(|_| take()).collect();
        let again: std::collections::HashSet<_> = taken.iter().map(|t| t.0).collect();
        assert_eq!(
            again, blocks,
            "every block is reused, none comes from the allocator"
        );
        taken.into_iter().for_each(give);
    }

    #[test]
    fn classes_are_the_sizes_a_malloc_chunk_holds_and_stop_at_1032_bytes() {
        let l = |size, align| Layout::from_size_align(size, align).unwrap();
        assert_eq!(class_of(l(1, 8)), Some((0, l(24, 16))));
        assert_eq!(class_of(l(24, 8)), Some((0, l(24, 16))));
        assert_eq!(class_of(l(25, 8)), Some((1, l(40, 16))));
        // The 104-byte cell of a task with a 24-byte future: a 112-byte chunk, not 128.
        assert_eq!(class_of(l(104, 8)), Some((5, l(104, 16))));
        assert_eq!(class_of(l(120, 8)), Some((6, l(120, 16))));
        assert_eq!(class_of(l(128, 16)), Some((7, l(136, 16))));
        assert_eq!(class_of(l(152, 8)), Some((8, l(152, 16))));
        assert_eq!(class_of(l(1032, 16)), Some((63, l(1032, 16))));
        assert_eq!(class_of(l(1033, 8)), None);
        assert_eq!(class_of(l(64, 32)), None);
        // Every size maps to the smallest class that holds it.
        for size in 1..=1032 {
            let (c, layout) = class_of(l(size, 8)).unwrap();
            assert!(layout.size() >= size && (c == 0 || class_layout(c - 1).size() < size));
        }
    }
}
