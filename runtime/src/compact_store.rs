//! Where the bytes of compacted stacks wait: buffers carved from address
//! space the runtime reserves itself, not from `malloc`.
//!
//! Lesson idea: "the allocator is part of the runtime". Go allocates
//! everything its scheduler needs from its own heap, which grows by
//! reserving address space in big arenas. We first kept each chunk's saved
//! bytes in a `Vec` from the system allocator, and a million compactions
//! grew glibc's per-thread arena on sysmon's thread in 128 KiB steps: one
//! `mprotect` each, and each `mprotect` takes the address space's lock for
//! writing, so every goroutine that faulted a stack page in meanwhile
//! waited for it (seen with `perf record -e sched:sched_switch`: the Ms
//! blocked in `lock_mm_and_find_vma` behind sysmon's `mprotect`).
//!
//! Here a buffer is an [`Extent`]: a power-of-two number of pages from a
//! reservation that is mapped once (`MAP_NORESERVE`) and never changes its
//! protection, so taking and giving back buffers never write-locks the
//! address space. A freed extent waits, dirty, on its size's free list for
//! the next chunk of the same size (the common case: every chunk of
//! goroutines parked on a WaitGroup saves about the same); sysmon gives the
//! pages of extents left dirty for [`RELEASE_AFTER_NS`] back to the kernel
//! with `MADV_DONTNEED` (only a read lock), as it does for freed stacks.

use std::sync::Mutex;

/// Smallest extent: one page of the kernel's (4 KiB on x86_64; 16 or 64 KiB
/// on some arm64 kernels). Extents are whole kernel pages, aligned, so that
/// giving one back with `MADV_DONTNEED`, which works on whole pages, never
/// touches a neighbour's bytes.
fn page() -> usize {
    crate::os::page_size()
}

/// Size classes: 1, 2, 4, ... pages, up to 2^(CLASSES-1) pages (256 MiB of
/// 4 KiB pages), more than any chunk can save (64 whole stacks are 8 MiB).
const CLASSES: usize = 17;
/// First reservation; each later one doubles, up to [`MAX_RESERVATION`].
const FIRST_RESERVATION: usize = 64 << 20;
const MAX_RESERVATION: usize = 4 << 30;
/// How long a freed extent stays dirty, at least, before its pages go back
/// to the kernel: long enough that the next chunk compacted reuses it warm.
const RELEASE_AFTER_NS: u64 = 10_000_000;

/// A buffer of `page() << class` bytes at `at` (page aligned), owned by
/// whoever holds it.
#[derive(Debug)]
pub(crate) struct Extent {
    at: usize,
    class: usize,
}

impl Extent {
    /// The buffer's bytes.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.at as *mut u8
    }

    /// Usable bytes.
    pub(crate) fn len(&self) -> usize {
        page() << self.class
    }
}

struct Store {
    /// Unused rest of the current reservation: `[next, end)`.
    next: usize,
    end: usize,
    /// Size of the last reservation.
    reserved: usize,
    /// Freed extents whose pages are still in place, the warmest last.
    dirty: [Vec<usize>; CLASSES],
    /// `dirty[c][..aged[c]]` were already there at the last release pass.
    aged: [usize; CLASSES],
    /// When that pass ran.
    since: u64,
    /// Freed extents whose pages went back to the kernel.
    clean: [Vec<usize>; CLASSES],
}

static STORE: Mutex<Store> = Mutex::new(Store::new());

fn store() -> std::sync::MutexGuard<'static, Store> {
    STORE.lock().unwrap_or_else(|p| p.into_inner())
}

/// The size class that holds `len` bytes.
fn class_of(len: usize) -> usize {
    let pages = len.div_ceil(page()).max(1);
    pages.next_power_of_two().trailing_zeros() as usize
}

impl Store {
    const fn new() -> Store {
        Store {
            next: 0,
            end: 0,
            reserved: 0,
            dirty: [const { Vec::new() }; CLASSES],
            aged: [0; CLASSES],
            since: 0,
            clean: [const { Vec::new() }; CLASSES],
        }
    }

    fn alloc(&mut self, len: usize) -> Extent {
        let class = class_of(len);
        assert!(class < CLASSES, "compacted chunk of {len} bytes");
        if let Some(at) = self.dirty[class].pop() {
            self.aged[class] = self.aged[class].min(self.dirty[class].len());
            return Extent { at, class };
        }
        if let Some(at) = self.clean[class].pop() {
            return Extent { at, class };
        }
        let size = page() << class;
        if self.next == 0 || self.next + size > self.end {
            // A new reservation; the rest of the old one is left unused
            // (address space only: nothing there was touched).
            let want = (self.reserved * 2)
                .clamp(FIRST_RESERVATION, MAX_RESERVATION)
                .max(size);
            let (at, len) = crate::os::reserve_up_to(want, size).unwrap_or_else(|err| {
                crate::fatal::throw(&format!(
                    "cannot reserve {} KiB for compacted stacks: {err}",
                    size >> 10
                ))
            });
            self.next = at;
            self.end = at + len;
            self.reserved = len;
        }
        let at = self.next;
        self.next += size;
        Extent { at, class }
    }

    fn free(&mut self, extent: Extent) {
        self.dirty[extent.class].push(extent.at);
    }

    /// Take off the dirty lists the extents that were already there at the
    /// last pass, at least [`RELEASE_AFTER_NS`] ago: `(at, class)` of each.
    /// The caller releases their pages, then hands them to [`Store::clean`].
    fn take_idle(&mut self, now: u64) -> Vec<(usize, usize)> {
        let mut idle = Vec::new();
        if now < self.since + RELEASE_AFTER_NS {
            return idle;
        }
        for class in 0..CLASSES {
            let aged = self.aged[class];
            idle.extend(self.dirty[class].drain(..aged).map(|at| (at, class)));
            self.aged[class] = self.dirty[class].len();
        }
        self.since = now;
        idle
    }

    /// Extents whose pages went back to the kernel.
    fn clean(&mut self, released: &[(usize, usize)]) {
        for &(at, class) in released {
            self.clean[class].push(at);
        }
    }
}

/// A buffer of at least `len` bytes: the warmest freed one of its size, a
/// released one, or fresh address space. Its bytes are unspecified.
pub(crate) fn alloc(len: usize) -> Extent {
    store().alloc(len)
}

/// Give a buffer back; its pages stay until [`release_idle`] returns them.
pub(crate) fn free(extent: Extent) {
    store().free(extent);
}

/// Return to the kernel the pages of the extents freed between one and two
/// [`RELEASE_AFTER_NS`] ago and not reused since (sysmon, every tick).
/// Returns how many bytes it released.
pub(crate) fn release_idle(now: u64) -> usize {
    let idle = store().take_idle(now);
    if idle.is_empty() {
        return 0;
    }
    // Outside the lock: an M that restores the last stack of a chunk
    // frees its buffer and must not wait for our `madvise`. The extents
    // are on no list meanwhile.
    let runs: Vec<(usize, usize)> = idle
        .iter()
        .map(|&(at, class)| (at, page() << class))
        .collect();
    // SAFETY: every run is a whole extent taken off the free lists: no one
    // holds it, so no one reads or writes its bytes.
    if unsafe { crate::os::release_page_runs(&runs) }.is_err() {
        // Keeping the pages is correct, only less frugal.
    }
    store().clean(&idle);
    runs.iter().map(|&(_, len)| len).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_round_up_to_powers_of_two_pages() {
        let p = page();
        assert_eq!(class_of(0), 0);
        assert_eq!(class_of(1), 0);
        assert_eq!(class_of(p), 0);
        assert_eq!(class_of(p + 1), 1);
        assert_eq!(class_of(10 * p - 100), 4);
        assert_eq!(class_of(4096 * p), 12);
    }

    #[test]
    fn a_freed_extent_is_reused_warm_then_released_after_two_passes() {
        let mut s = Store::new();
        let three_pages = 3 * page() - 100;
        let a = s.alloc(three_pages);
        assert!(a.len() >= three_pages);
        assert_eq!(a.at % page(), 0, "extents are page aligned");
        let at = a.at;
        // SAFETY: the extent is ours: `len()` writable bytes at `as_ptr()`.
        unsafe { a.as_ptr().write_bytes(0xAB, a.len()) };
        s.free(a);
        // Dirty and warm: the next buffer of its size is the same one,
        // bytes and all.
        let b = s.alloc(3 * page() - 200);
        assert_eq!(b.at, at);
        // SAFETY: ours again.
        assert_eq!(unsafe { *b.as_ptr() }, 0xAB);
        // A different size class gets other memory.
        let small = s.alloc(100);
        assert_ne!(small.at, at);
        s.free(b);
        // The first pass only notes it; a pass too soon does nothing; the
        // next one gives it back.
        assert!(s.take_idle(RELEASE_AFTER_NS).is_empty());
        assert!(s.take_idle(RELEASE_AFTER_NS + 1).is_empty());
        let idle = s.take_idle(2 * RELEASE_AFTER_NS);
        assert_eq!(idle, vec![(at, 2)]);
        // SAFETY: the extent is on no list: no one uses it.
        unsafe { crate::os::release_page_runs(&[(at, 4 * page())]) }.expect("release");
        s.clean(&idle);
        let again = s.alloc(three_pages);
        assert_eq!(again.at, at);
        if cfg!(target_os = "linux") {
            // SAFETY: ours; every byte of it was released.
            let bytes = unsafe { std::slice::from_raw_parts(again.as_ptr(), again.len()) };
            assert!(
                bytes.iter().all(|&b| b == 0),
                "a released extent kept its bytes"
            );
        }
    }

    #[test]
    fn reservations_grow_and_never_overlap() {
        let mut s = Store::new();
        let mut seen: Vec<(usize, usize)> = (0..200)
            .map(|i| s.alloc(page() << (i % 15)))
            .map(|e| (e.at, e.at + e.len()))
            .collect();
        seen.sort_unstable();
        assert!(seen.windows(2).all(|w| w[0].1 <= w[1].0), "extents overlap");
    }
}
