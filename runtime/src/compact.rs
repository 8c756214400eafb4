//! Stack compaction: a goroutine parked for a long time keeps only the
//! bytes its stack really uses, in a small buffer, and gives the
//! stack's pages back to the kernel; the bytes go back to the *same
//! address* before it runs again.
//!
//! Lesson idea: "an idle goroutine should cost what it uses". Go starts a
//! goroutine on 2 KiB and, at each garbage collection, halves the stack of
//! a goroutine that uses less than a quarter of it (`shrinkstack` in
//! `runtime/stack.go`): it *moves* the stack, adjusting every pointer into
//! it, which Go can do because its compiler knows where every pointer is.
//! A Rust stack cannot move (a reference into it would dangle), so we keep
//! the address and drop the memory: copy `[sp - MARGIN, base)` (a goroutine
//! blocked on a WaitGroup uses about a kilobyte of its 128 KiB reservation)
//! to a buffer, `madvise(MADV_DONTNEED)` the whole usable stack (the kernel
//! takes the pages back; the addresses stay reserved for this goroutine),
//! and copy the buffer back when the goroutine is next switched to. The
//! restore touches the top page again, so the kernel hands it a fresh zero
//! page, which the copy overwrites: every pointer into the stack is valid
//! again because every byte is back where it was.
//!
//! Not every parked goroutine can be compacted: one blocked on a channel
//! or in `select!` has its sudogs on its stack, and the goroutine that
//! completes its operation writes there (`sudog.rs`); Go adjusts those
//! pointers when it moves a stack (`syncadjustsudogs`), we leave such
//! stacks alone (`compactor::compactable`). WaitGroup, Mutex, RWMutex,
//! Cond waits and sleeps keep their queues off the stack.
//!
//! Who compacts, and when (`compactor.rs`): sysmon, for goroutines parked
//! for at least [`COMPACT_AFTER_NS`] (Go shrinks at GC; we have no GC, and
//! a goroutine parked briefly, like either side of a ping-pong, must never
//! pay a copy). `runtime::compact_stacks()` compacts every parked goroutine
//! at once, as Go's `runtime.GC()` shrinks every stack.
//!
//! **The handshake.** The compactor runs on sysmon's thread while Ms run
//! goroutines, and a parked goroutine can be readied and resumed at any
//! moment. Each G has a [`Slot`] whose state says who may touch the stack:
//!
//! | state | meaning | who leaves it |
//! |---|---|---|
//! | `LIVE` | the stack is in place | the compactor claims it (CAS) |
//! | `CLAIMED` | the compactor is copying it out | the compactor: `COMPACTED`, or `LIVE` if it gave up |
//! | `COMPACTED` | bytes in the buffer, pages released | whoever restores it (CAS): the M about to run it, or a traceback |
//! | `RESTORING` | bytes being copied back | the restorer: `LIVE` |
//!
//! The M that resumes a G (`m.rs`, `execute`) has already stored the G's
//! status `Running` and its P's `curg`; it then loads the state once: `LIVE`
//! is the whole cost on the ping-pong path (one load, predicted). Anything
//! else is the slow path below: wait out a claim, restore a compacted stack.
//!
//! The compactor goes the other way: claim every candidate, then
//! `membarrier(2)`, then look at each G's status and at every P's `curg`,
//! and copy only a G that is parked and on no P. This is a Dekker handshake
//! (store one flag, load the other) whose fence on the M's side is supplied
//! by the kernel: `membarrier` runs a full barrier on every thread of the
//! process that is running, so either an M stored `Running` (or `curg`)
//! before that barrier, and the compactor sees it and leaves the G alone,
//! or the M's later load of the state sees the claim and waits. One system
//! call per batch instead of a fence per switch: the asymmetric fence Linux
//! added `membarrier` for. (Go needs none of this: its `casgstatus` is a
//! locked CAS on every transition, and stacks are shrunk only by the
//! goroutine itself or with the world stopped for GC.) `curg` stays set
//! until the parking M has run the park's unlock closure (`m.rs`), which
//! still reads the goroutine's stack: a G on any P is never copied.
//!
//! Batches: the compactor copies up to [`CHUNK`] stacks into one shared
//! buffer ([`ChunkSaver`]; zero words at the bottom of each range are left
//! out, since the zeroed pages give them back), then releases their
//! pages with `MADV_DONTNEED` on runs of adjacent stacks (stacks of a region
//! are contiguous, and guards in between survive it; the compactor sorts
//! its candidates by address so that a chunk's stacks are neighbours), all
//! runs in one `process_madvise` where the kernel can, since each call
//! flushes the TLBs of every CPU running one of our threads; then it
//! publishes them. A resumer that finds its G claimed waits at most one
//! chunk.
//!
//! Linux only: `membarrier` has no macOS counterpart, so there the
//! compactor never runs and every slot stays `LIVE`.

use std::cell::UnsafeCell;
use std::sync::atomic::{compiler_fence, AtomicU8, Ordering};

/// Bytes kept below the stack pointer the goroutine saved when it switched
/// away (`stack::here_sp` in `switch_to_scheduler`): the switch itself goes
/// deeper than that frame (corosensei's `Yielder::suspend`, when not
/// inlined, and the three words its `switch_yield` pushes: return address,
/// `rbp`, `rbx`). A few hundred bytes at most; a margin too small would
/// lose the return address of the switch, and the restore tests crash.
pub(crate) const MARGIN: usize = 512;

/// A goroutine must have been parked at least this long (since sysmon first
/// saw it parked: `G::waitsince`) before sysmon compacts it: long enough
/// that a goroutine in a producer/consumer exchange is never touched, short
/// enough that a million goroutines parking in a burst do not pile up
/// uncompacted.
pub(crate) const COMPACT_AFTER_NS: u64 = 20_000_000;

/// Stacks copied out before their pages are released and the batch
/// published (one region's worth).
pub(crate) const CHUNK: usize = 64;

const LIVE: u8 = 0;
const CLAIMED: u8 = 1;
const COMPACTED: u8 = 2;
const RESTORING: u8 = 3;

/// The bytes of a compacted stack: `[lo, lo + len)`, whose end is the
/// stack's base, kept at `at..at + len` of its chunk's buffer.
struct Saved {
    lo: usize,
    bytes: std::sync::Arc<ChunkBytes>,
    at: usize,
    len: usize,
}

/// The saved bytes of one chunk of compactions, in one buffer shared by
/// the chunk's goroutines and given back when the last of them is
/// restored. One buffer per chunk, not per goroutine, and from the
/// runtime's own store (`compact_store.rs`), not `malloc`: growing the
/// system allocator's arena from sysmon's thread write-locks the address
/// space, and every M faulting a stack page in waits for it. A buffer
/// outlives its first restores by at most the bytes of one chunk.
struct ChunkBytes(Option<crate::compact_store::Extent>);

impl ChunkBytes {
    fn as_ptr(&self) -> *const u8 {
        self.0.as_ref().map_or(std::ptr::null(), |e| e.as_ptr())
    }
}

impl Drop for ChunkBytes {
    fn drop(&mut self) {
        if let Some(extent) = self.0.take() {
            crate::compact_store::free(extent);
        }
    }
}

/// Copies a chunk's stacks into a scratch buffer (kept from chunk to
/// chunk), then, at [`ChunkSaver::finish`], into a buffer of their exact
/// size class.
pub(crate) struct ChunkSaver {
    bytes: Vec<u8>,
    /// `(slot, lo, at, len)` of each stack copied into `bytes`.
    pending: Vec<(&'static Slot, usize, usize, usize)>,
}

impl ChunkSaver {
    pub(crate) fn new() -> ChunkSaver {
        ChunkSaver {
            bytes: Vec::new(),
            pending: Vec::with_capacity(CHUNK),
        }
    }

    /// Copy `[max(sp - MARGIN, lo), base)` of a claimed stack into the
    /// chunk's buffer; [`ChunkSaver::finish`] hands it to the slot.
    ///
    /// # Safety
    /// We hold `slot`'s claim, the goroutine is parked (not running, not
    /// being parked), `sp` is the stack pointer it saved when it switched
    /// away, and `[lo, base)` is the usable part of its stack.
    pub(crate) unsafe fn save(&mut self, slot: &'static Slot, sp: usize, lo: usize, base: usize) {
        // SAFETY: `[sp - MARGIN, sp)`, clamped to `[lo, base)`, is part of
        // the parked goroutine's usable stack (the caller's contract).
        let from =
            unsafe { skip_zero_words(sp.saturating_sub(MARGIN).max(lo) & !15, sp.min(base)) };
        let len = base - from;
        if self.bytes.capacity() == 0 {
            // A goroutine parked on a WaitGroup keeps about 600 bytes.
            self.bytes.reserve(CHUNK * 1024);
        }
        let at = self.bytes.len();
        // SAFETY: `[from, base)` is mapped stack memory (inside the usable
        // part), and the goroutine does not run while we read it.
        self.bytes
            .extend_from_slice(unsafe { std::slice::from_raw_parts(from as *const u8, len) });
        self.pending.push((slot, from, at, len));
    }

    /// Hand each saved stack its bytes (before the pages are released and
    /// the slots published); the saver is empty again.
    pub(crate) fn finish(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let extent = crate::compact_store::alloc(self.bytes.len());
        debug_assert!(extent.len() >= self.bytes.len());
        // SAFETY: the extent is ours alone and holds at least
        // `self.bytes.len()` bytes; the scratch buffer is another allocation.
        unsafe {
            std::ptr::copy_nonoverlapping(self.bytes.as_ptr(), extent.as_ptr(), self.bytes.len())
        };
        self.bytes.clear();
        let bytes = std::sync::Arc::new(ChunkBytes(Some(extent)));
        for (slot, lo, at, len) in self.pending.drain(..) {
            let saved = Saved {
                lo,
                bytes: bytes.clone(),
                at,
                len,
            };
            // SAFETY: we hold the slot's claim: no other thread reads
            // `saved` until it is published.
            unsafe { *slot.saved.get() = Some(saved) };
        }
    }
}

/// A G's stack as the compactor sees it: the state of the table above and,
/// while compacted, the saved bytes.
pub(crate) struct Slot {
    state: AtomicU8,
    saved: UnsafeCell<Option<Saved>>,
}

// SAFETY: `saved` is written only by the thread that moved `state` to
// `CLAIMED` (before it publishes `COMPACTED` with Release) and read only by
// the thread that moved it from `COMPACTED` to `RESTORING` with an Acquire
// CAS; the CASes make those threads take turns.
unsafe impl Sync for Slot {}

impl Slot {
    /// A slot whose stack is in place.
    pub(crate) const fn new() -> Slot {
        Slot {
            state: AtomicU8::new(LIVE),
            saved: UnsafeCell::new(None),
        }
    }

    /// Make sure the stack is in place before the goroutine runs or its
    /// stack is read: one load when it is (the M's side of the handshake;
    /// the caller has stored the G's status and its P's `curg` before).
    #[inline(always)]
    pub(crate) fn ensure_live(&self) {
        // Keep the compiler from hoisting this load above the caller's
        // stores: the kernel's barrier orders them on the CPU.
        compiler_fence(Ordering::SeqCst);
        if self.state.load(Ordering::Acquire) != LIVE {
            self.make_live();
        }
    }

    /// The slow path: wait out a claim, restore a compacted stack.
    #[cold]
    #[inline(never)]
    fn make_live(&self) {
        let mut spins = 0u32;
        loop {
            match self.state.load(Ordering::Acquire) {
                LIVE => return,
                COMPACTED => {
                    if self
                        .state
                        .compare_exchange(
                            COMPACTED,
                            RESTORING,
                            Ordering::Acquire,
                            Ordering::Relaxed,
                        )
                        .is_ok()
                    {
                        // SAFETY: our CAS made us the restorer, and the
                        // G is not running: it runs only after this returns.
                        unsafe { self.restore() };
                        self.state.store(LIVE, Ordering::Release);
                        return;
                    }
                }
                // CLAIMED or RESTORING: another thread is copying; it
                // takes at most one chunk of copies and a madvise.
                _ => {
                    spins += 1;
                    if spins < 64 {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
            }
        }
    }

    /// Whether the stack is in place and unclaimed.
    pub(crate) fn is_live(&self) -> bool {
        self.state.load(Ordering::Relaxed) == LIVE
    }

    /// Claim the stack for compaction (the compactor's first step).
    pub(crate) fn try_claim(&self) -> bool {
        self.state
            .compare_exchange(LIVE, CLAIMED, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    /// Give a claim up: the G turned out to be running or parking.
    pub(crate) fn unclaim(&self) {
        self.state.store(LIVE, Ordering::Release);
    }

    /// The pages are released: the stack is compacted.
    pub(crate) fn publish(&self) {
        self.state.store(COMPACTED, Ordering::Release);
    }

    /// Copy the saved bytes back to where they were.
    ///
    /// # Safety
    /// We moved the state from `COMPACTED` to `RESTORING`.
    unsafe fn restore(&self) {
        // SAFETY: the RESTORING state is ours alone.
        let saved = unsafe { (*self.saved.get()).take() }.expect("compacted stack has its bytes");
        if bite_skips_copy_back() {
            return;
        }
        // SAFETY: `[lo, lo + len)` is the top of this goroutine's own stack
        // (mapped for the life of the process; its pages were released, so
        // the writes fault zero pages in), and the goroutine is not running;
        // `[at, at + len)` of the chunk's buffer holds its bytes (written by
        // `ChunkSaver::finish`), and our `Arc` keeps the buffer alive.
        unsafe {
            std::ptr::copy_nonoverlapping(
                saved.bytes.as_ptr().add(saved.at),
                saved.lo as *mut u8,
                saved.len,
            )
        };
    }
}

/// The first address in `[from, to)` (8-aligned; `from` is) whose word is
/// not zero, or `to`. Zero words at the bottom of the saved range need not
/// be saved: the restore writes into pages the release left zeroed (or, if
/// the release failed, into the untouched originals), so they come back
/// zero either way. The margin below the stack pointer of a goroutine that
/// never went deeper is all zeroes: about half of what a goroutine parked on
/// a WaitGroup would otherwise keep.
///
/// # Safety
/// `[from, to)` is readable memory that no thread writes meanwhile (the
/// stack of a goroutine that is not running).
unsafe fn skip_zero_words(from: usize, to: usize) -> usize {
    let mut at = from;
    while at + 8 <= to {
        // SAFETY: `[at, at + 8)` lies in `[from, to)`, readable and not
        // written meanwhile per the contract, and is 8-aligned.
        if unsafe { (at as *const u64).read() } != 0 {
            break;
        }
        at += 8;
    }
    at
}

/// The deliberately wrong restore of the bite test
/// (`RUNTIME_COMPACT_BITE=skip-copy-back`, read once): the buffer is
/// dropped and the stack left zeroed, which the compaction tests must
/// notice. Never set outside that test.
fn bite_skips_copy_back() -> bool {
    static SKIP: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SKIP.get_or_init(|| std::env::var("RUNTIME_COMPACT_BITE").is_ok_and(|v| v == "skip-copy-back"))
}

/// Give back the pages of compacted stacks' usable ranges `[lo, base)`:
/// merged into runs of adjacent stacks (the gap between two neighbours in
/// a region is the upper one's guard, which `MADV_DONTNEED` keeps), all
/// runs in one system call where the kernel can (`os::release_page_runs`).
///
/// # Safety
/// Every range is the usable part of a stack whose bytes were saved and
/// that nothing uses until it is published and restored.
pub(crate) unsafe fn release(ranges: &mut [(usize, usize)], guard: usize) {
    ranges.sort_unstable();
    let mut runs: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    let mut i = 0;
    while i < ranges.len() {
        let (lo, mut hi) = ranges[i];
        i += 1;
        while i < ranges.len() && ranges[i].0 >= hi && ranges[i].0 - hi <= guard {
            hi = ranges[i].1;
            i += 1;
        }
        runs.push((lo, hi - lo));
    }
    // SAFETY: per the contract, plus the guards in between, which the
    // kernel keeps.
    if let Err(err) = unsafe { crate::os::release_page_runs(&runs) } {
        // Keeping the pages is always correct, only less frugal.
        let _ = err;
    }
}
