//! A cache prefetch-for-write hint, for memory that another core wrote last and this core is
//! about to overwrite: the next free task block of a P or stash (`task/gfree.rs`), which a
//! thief or another M often freed.
//!
//! `prefetchw` (AMD's 3DNowPrefetch, Intel's PRFCHW since Broadwell) asks for the lines in
//! the exclusive state a store needs. A plain read prefetch (`prefetcht0`) was measured and
//! not kept: it fetches the line shared, so the store that follows still has to take it from
//! the other core, and remote spawns got slower with it (`spawn_many_remote_idle` 1.095 and
//! 1.087 of the time without, A B B A) while `prefetchw` made them faster (0.843).
//!
//! A hint only: it never faults, reads nothing the program can observe and writes nothing,
//! so any address is allowed (a block freed meanwhile). Where the CPU lacks `prefetchw`
//! (checked once, with `cpuid`), off x86_64, and under Miri (no caches, no inline assembly),
//! it does nothing.

/// Bytes per cache line on the CPUs gmp is measured on.
pub(crate) const LINE: usize = 64;

/// Ask the CPU to bring the `len` bytes at `p` (whole lines) into this core's cache, ready to
/// be written.
#[inline(always)]
pub(crate) fn prefetch_write(p: *const u8, len: usize) {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    if has_prefetchw() {
        let mut off = 0;
        while off < len {
            // SAFETY: `prefetchw` is a hint that never faults, whatever the address, and has
            // no effect the program can observe (it touches no register but its address
            // operand, and no flags or stack); `has_prefetchw` checked that the CPU knows
            // the instruction. `wrapping_add` computes the address without claiming it is in
            // bounds.
            unsafe {
                std::arch::asm!(
                    "prefetchw [{}]",
                    in(reg) p.wrapping_add(off),
                    options(nostack, readonly, preserves_flags)
                );
            }
            off += LINE;
        }
    }
    #[cfg(any(not(target_arch = "x86_64"), miri))]
    let _ = (p, len);
}

/// Whether this CPU has `prefetchw`: `cpuid` leaf 0x8000_0001, ECX bit 8, read once.
#[cfg(all(target_arch = "x86_64", not(miri)))]
#[inline(always)]
fn has_prefetchw() -> bool {
    use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
    const UNKNOWN: u8 = 0;
    const YES: u8 = 1;
    const NO: u8 = 2;
    static HAS: AtomicU8 = AtomicU8::new(UNKNOWN);
    match HAS.load(Relaxed) {
        YES => true,
        NO => false,
        _ => {
            use std::arch::x86_64::__cpuid;
            // cpuid is on every x86_64 CPU; leaf 0x8000_0001 exists when the highest
            // extended leaf (leaf 0x8000_0000's EAX) reaches it.
            // `__cpuid` is an unsafe fn in older Rust (the MSRV is 1.80), a safe one in newer.
            #[allow(unused_unsafe)]
            // SAFETY: `cpuid` only reads identification registers.
            let has = unsafe {
                __cpuid(0x8000_0000).eax >= 0x8000_0001 && __cpuid(0x8000_0001).ecx & (1 << 8) != 0
            };
            HAS.store(if has { YES } else { NO }, Relaxed);
            has
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{prefetch_write, LINE};

    /// The hint is allowed on any address: null, unmapped, freed, misaligned, the top of the
    /// address space. None of these may fault, and live memory keeps its contents.
    #[test]
    fn any_address_is_allowed() {
        let freed = Box::into_raw(Box::new([7u8; 3 * LINE]));
        // SAFETY: from `Box::into_raw` just above; dropped once.
        drop(unsafe { Box::from_raw(freed) });
        for p in [
            std::ptr::null::<u8>(),
            freed.cast::<u8>(),
            1usize as *const u8,
            0xdead_beefusize as *const u8,
            usize::MAX as *const u8,
            (usize::MAX - LINE / 2) as *const u8,
        ] {
            prefetch_write(p, 3 * LINE);
        }
        let live = [1u8; 2 * LINE];
        prefetch_write(live.as_ptr().wrapping_add(3), LINE + 1);
        assert_eq!(live.iter().map(|&b| b as usize).sum::<usize>(), 2 * LINE);
    }

    /// On the x86_64 machines gmp is measured on, the instruction is there (AMD since the
    /// K6-2, Intel since Broadwell): the hint is not silently off where it was measured.
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    #[test]
    fn cpuid_agrees_with_the_kernel() {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        if let Some(flags) = cpuinfo.lines().find(|l| l.starts_with("flags")) {
            let kernel = flags.split_whitespace().any(|f| f == "3dnowprefetch");
            assert_eq!(super::has_prefetchw(), kernel, "{flags}");
        }
    }
}
