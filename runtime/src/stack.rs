//! Goroutine stacks: carved from big regions, each with a guard page.
//!
//! Lesson idea: "goroutines are cheap". Go starts a goroutine on a 2 KB stack
//! that it grows by copying. We cannot move a Rust stack (references into it
//! would dangle), so each goroutine gets a fixed *virtual* reservation of
//! [`STACK_SIZE`]; the kernel only backs the pages the goroutine actually
//! touches, so an idle goroutine costs a page or two of RAM.
//!
//! Cost: one `mmap` per goroutine would cost ~9 us, so stacks are carved from
//! regions of [`STACKS_PER_REGION`] stacks, regions from reservations mapped
//! with `MAP_NORESERVE` that double as the program grows (`Reserved::carve`:
//! each `mmap` write-locks the address space, which stack faults wait on),
//! and dead goroutines keep their stack for the next `go` (the P's stack
//! cache, `stackalloc`/`stackfree` in `p.rs`). A program that starts
//! goroutines by the hundred gets its next regions carved ahead, off the
//! Ms' path (`stack_carver.rs`).
//!
//! Safety: every stack has a guard below it, one page of the allocator's
//! page size (`os::stack_page_size`: the kernel's, 4 KiB on x86_64 and 16 KiB
//! on Apple Silicon), so an overflow faults instead of silently writing into
//! the neighbour. A classic guard page (`mprotect`) splits the mapping in two,
//! and Linux caps a process's mappings (`vm.max_map_count`, 65530 by
//! default): about 32,700 goroutines. Linux 6.13 added lightweight guard
//! regions, which do not split mappings; the OS layer (`os/`) chooses, once
//! and before the first stack, which kind this machine gets: regions where
//! they work, `mprotect` elsewhere (macOS, WSL2, older kernels, or
//! `RUNTIME_GUARD=mprotect`). `signal.rs` turns a guard hit into
//! `fatal error: stack overflow`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use crate::os::{self, GuardKind};

/// Virtual size of one goroutine stack, guard included: 128 KiB, a
/// multiple of every page size Linux and macOS use (up to 64 KiB).
///
/// This is all the stack a goroutine ever has (Go's grows; ours cannot
/// move), so it should be large; and it sets how far apart two
/// goroutines' top pages sit, so it should be small: the kernel keeps one
/// 4 KiB page of page-table entries per 2 MiB that holds a touched page or
/// a guard, that is per `2 MiB / STACK_SIZE` goroutines. At 256 KiB that
/// was 516 bytes of kernel memory per goroutine, and the page-table pages
/// cost a million goroutines about a sixth of their running time on our
/// VM (README, *Eighth round*). 128 KiB halves both and leaves 124 KiB of
/// usable stack (112 KiB with Apple Silicon's 16 KiB guard), tens of times
/// what the lessons' goroutines use (about a kilobyte parked, measured by
/// compaction); a deeper recursion ends in `fatal error: stack overflow`.
pub const STACK_SIZE: usize = 128 * 1024;
/// Stacks mapped at once (one region is 8 MiB of address space).
pub const STACKS_PER_REGION: usize = 64;

const REGION_SIZE: usize = STACK_SIZE * STACKS_PER_REGION;
/// Free stacks the carver (`stack_carver.rs`) keeps in the pool: two regions.
const LOW_WATER: usize = 2 * STACKS_PER_REGION;
/// Regions a program carves itself before the carver starts: a program
/// with a few hundred goroutines never starts it.
const START_AFTER_REGIONS: usize = 4;
/// Most regions we track for the signal handler (64 Ki regions = 4 M stacks).
const MAX_REGIONS: usize = 65536;

/// Start addresses of every region, readable from a signal handler.
static REGIONS: [AtomicUsize; MAX_REGIONS] = [const { AtomicUsize::new(0) }; MAX_REGIONS];
static NREGIONS: AtomicUsize = AtomicUsize::new(0);
/// The guard size of [`LAYOUT`], as a plain atomic for the signal handler
/// (0 until the first region is mapped).
static GUARD: AtomicUsize = AtomicUsize::new(0);
/// How stacks are laid out and guarded in this process, chosen once.
static LAYOUT: OnceLock<Layout> = OnceLock::new();

/// Free stacks not in any P's cache (Go's `stackpool`).
static POOL: std::sync::Mutex<Vec<Stack>> = std::sync::Mutex::new(Vec::new());

fn pool() -> std::sync::MutexGuard<'static, Vec<Stack>> {
    match POOL.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Free stacks given back by the Ps whose pages sysmon has not yet returned
/// to the kernel ([`scavenge`]); handed out first, while still warm.
static DIRTY: std::sync::Mutex<Dirty> = std::sync::Mutex::new(Dirty {
    stacks: Vec::new(),
    aged: 0,
    since: 0,
});

/// The dirty stacks, oldest first, and how many of them are old enough
/// to scavenge.
struct Dirty {
    /// Freed stacks with their pages still in place; the warmest last.
    stacks: Vec<Stack>,
    /// `stacks[..aged]` were already dirty at the last scavenging pass.
    aged: usize,
    /// When that pass ran (`nanotime`).
    since: u64,
}

/// How long a freed stack stays dirty, at least, before its pages go back
/// to the kernel (it goes between one and two of these after it was
/// freed). Goroutines that finish while others start, as in a storm of
/// short sleepers, reuse the freed stacks within microseconds: returning
/// their pages at once made every reuse fault them in again (about 2 us
/// each on our VM), and each `madvise` interrupts every running M for its
/// TLB shootdown. Go's background scavenger also waits: it returns freed
/// memory gradually, not as soon as a span is freed.
const SCAVENGE_AGE_NS: u64 = 10_000_000;

fn dirty() -> std::sync::MutexGuard<'static, Dirty> {
    match DIRTY.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// The shape of every stack: `[limit, limit + guard)` is the guard,
/// `[limit + guard, limit + STACK_SIZE)` the usable stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Layout {
    /// Bytes of guard at the bottom of each stack: one page.
    guard: usize,
    /// How the guard is made.
    kind: GuardKind,
}

/// This process's layout: the page size and guard kind the OS layer chose
/// (a bad `RUNTIME_PAGE_SIZE` or `RUNTIME_GUARD` is a fatal error here, at
/// the first stack, rather than a silent default).
fn layout() -> Layout {
    *LAYOUT.get_or_init(|| {
        let layout = os::stack_page_size()
            .and_then(|page| Ok((page, os::guard_kind()?)))
            .map(|(guard, kind)| Layout { guard, kind })
            .unwrap_or_else(|e| crate::fatal::throw(&e));
        GUARD.store(layout.guard, Ordering::Release);
        layout
    })
}

/// Bytes of guard below each stack (one page of the allocator's page size).
pub fn guard_size() -> usize {
    layout().guard
}

/// Bytes of a stack a goroutine can use: [`STACK_SIZE`] minus the guard.
pub fn usable_size() -> usize {
    STACK_SIZE - guard_size()
}

/// One goroutine stack: `[limit, limit + guard_size())` is the guard,
/// `[limit + guard_size(), base)` is usable.
pub struct Stack {
    limit: usize,
}

/// Move up to `n` free stacks (at least one) from the global pool into a P's
/// cache `dst`, mapping a new region when the pool is empty (Go's
/// `stackcacherefill`).
pub(crate) fn refill(dst: &mut Vec<Stack>, n: usize) {
    {
        let mut warm = dirty();
        if !warm.stacks.is_empty() {
            let at = warm.stacks.len() - n.clamp(1, warm.stacks.len());
            dst.extend(warm.stacks.drain(at..));
            warm.aged = warm.aged.min(at);
            return;
        }
    }
    let mut pool = pool();
    if pool.is_empty() {
        // Carve a region without holding the pool: its guards take a
        // while, and another P that runs dry meanwhile carves its own.
        drop(pool);
        let region = map_region(layout());
        register_region(region);
        pool = self::pool();
        pool.extend(stacks_of(region));
    }
    let take = n.clamp(1, pool.len());
    let at = pool.len() - take;
    dst.extend(pool.drain(at..));
    // Running low in a program that starts goroutines by the hundred: let
    // the carver map the next regions off this P's path.
    if pool.len() < LOW_WATER && NREGIONS.load(Ordering::Relaxed) >= START_AFTER_REGIONS {
        drop(pool);
        crate::stack_carver::wake(stock_pool);
    }
}

/// The carver's round (`stack_carver.rs`): carve regions until the pool
/// holds [`LOW_WATER`] stacks, each new stack's top page already faulted in.
fn stock_pool() {
    while pool().len() < LOW_WATER {
        // Out of address space or mappings: the carver only stops; a P
        // that then needs a stack reports the error.
        let Ok((region, _)) = carve_warm_region() else {
            return;
        };
        pool().extend(stacks_of(region));
    }
}

/// The stacks of a new region, for the pool: highest address first, so that
/// the lowest is popped first.
fn stacks_of(region: usize) -> impl Iterator<Item = Stack> {
    (0..STACKS_PER_REGION).rev().map(move |i| Stack {
        limit: region + i * STACK_SIZE,
    })
}

/// A new region whose stacks' top pages are already faulted in (the page
/// a goroutine writes first); true if they are (the OS could populate).
fn carve_warm_region() -> Result<(usize, bool), String> {
    let region = try_map_region(layout())?;
    register_region(region);
    let page = os::page_size();
    let tops: Vec<usize> = (1..=STACKS_PER_REGION)
        .map(|i| region + i * STACK_SIZE - page)
        .collect();
    Ok((region, os::populate_pages(&tops, page)))
}

/// Give stacks back to the global pool (Go's `stackcacherelease`). On
/// Linux they wait in [`DIRTY`] until sysmon gives their pages back to the
/// kernel ([`scavenge`]): a million goroutines that finish at once would
/// otherwise leave a million dirty pages behind, and the `madvise` is not
/// on the path of the P that frees them.
pub(crate) fn release(stacks: impl Iterator<Item = Stack>) {
    if cfg!(target_os = "linux") {
        dirty().stacks.extend(stacks);
    } else {
        pool().extend(stacks);
    }
}

/// Give the pages of the free stacks that stayed in [`DIRTY`] for
/// [`SCAVENGE_AGE_NS`] back to the kernel (`madvise(MADV_DONTNEED)` on runs
/// of adjacent stacks, all runs in one system call where the kernel can),
/// and move them to the pool (sysmon, every tick;
/// Go's background scavenger returns freed stack spans to the OS the same
/// way, gradually). Returns how many stacks it cleaned.
pub(crate) fn scavenge(now: u64) -> usize {
    let mut stacks = {
        let mut dirty = dirty();
        if now < dirty.since + SCAVENGE_AGE_NS {
            return 0;
        }
        // The stacks dirty at the last pass and not reused since go now;
        // the others are old enough at the next pass.
        let aged = dirty.aged;
        let old: Vec<Stack> = dirty.stacks.drain(..aged).collect();
        dirty.aged = dirty.stacks.len();
        dirty.since = now;
        old
    };
    if stacks.is_empty() {
        return 0;
    }
    let guard = guard_size();
    stacks.sort_unstable_by_key(|s| s.limit);
    let mut runs = Vec::new();
    let mut i = 0;
    while i < stacks.len() {
        let lo = stacks[i].limit + guard;
        let mut hi = stacks[i].base();
        i += 1;
        while i < stacks.len() && stacks[i].limit == hi {
            hi = stacks[i].base();
            i += 1;
        }
        runs.push((lo, hi - lo));
    }
    // SAFETY: free stacks, in neither list while we hold them here:
    // nothing runs on them or points into them; the guards inside the
    // runs stay (see os::release_pages).
    let _ = unsafe { os::release_page_runs(&runs) };
    let n = stacks.len();
    pool().extend(stacks);
    n
}

impl Stack {
    /// A guarded stack from the global pool, mapping a new region when needed.
    pub fn new() -> Stack {
        let mut one = Vec::with_capacity(1);
        refill(&mut one, 1);
        one.pop().expect("refill gives at least one stack")
    }

    /// Highest address (the stack grows down from here).
    pub fn base(&self) -> usize {
        self.limit + STACK_SIZE
    }
}

impl Default for Stack {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: `base` and `limit` bound a mapping that is never unmapped; the
// lowest guard_size() bytes are a guard (installed by `map_region` before any
// stack of the region is handed out), and the usable part is far above
// MIN_STACK_SIZE. Both ends are page aligned, hence STACK_ALIGNMENT aligned.
unsafe impl corosensei::stack::Stack for Stack {
    fn base(&self) -> corosensei::stack::StackPointer {
        corosensei::stack::StackPointer::new(self.base()).expect("non-null stack")
    }

    fn limit(&self) -> corosensei::stack::StackPointer {
        corosensei::stack::StackPointer::new(self.limit).expect("non-null stack")
    }
}

/// Map a region aligned to the layout's page and install a guard at the
/// bottom of each of its stacks. The kernel aligns a mapping to its own page;
/// when the layout's page is larger (`RUNTIME_PAGE_SIZE`), we reserve that
/// much more and start at the first aligned address, as a 16 KiB kernel would.
fn map_region(layout: Layout) -> usize {
    try_map_region(layout).unwrap_or_else(|why| crate::fatal::throw(&why))
}

/// [`map_region`], or why it could not: a P that needs a stack makes that
/// a fatal error; the carver just stops (the P will meet the error itself
/// if it really needs the region).
fn try_map_region(layout: Layout) -> Result<usize, String> {
    let region = RESERVED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .carve(layout)?;
    let guards: [usize; STACKS_PER_REGION] = std::array::from_fn(|i| region + i * STACK_SIZE);
    // SAFETY: each `at..at + guard` is page aligned (the region is aligned
    // to the layout's page), inside a reservation of ours, and in a region
    // just carved from it: no stack of it has been handed out yet. One
    // system call for the region where the kernel allows (`os/linux.rs`):
    // a million goroutines map 15,625 regions.
    if let Err(err) = unsafe { os::install_guards(&guards, layout.guard, layout.kind) } {
        let why = os::guard_failure_hint(&err, layout.kind)
            .unwrap_or_else(|| format!("{:?}: {err}", layout.kind));
        return Err(format!("cannot install a stack guard page: {why}"));
    }
    Ok(region)
}

/// Regions reserved at once, at most: 1,024 regions, 16 GiB of address space
/// (64 K stacks) in one `mmap`.
const MAX_REGIONS_PER_RESERVATION: usize = 1024;

/// The address space reserved for regions and not yet carved: `next` is
/// where the next region starts, `end` where the reservation ends, `size`
/// how many regions the last reservation held.
struct Reserved {
    next: usize,
    end: usize,
    size: usize,
}

static RESERVED: std::sync::Mutex<Reserved> = std::sync::Mutex::new(Reserved::new());

impl Reserved {
    const fn new() -> Reserved {
        Reserved {
            next: 0,
            end: 0,
            size: 0,
        }
    }

    /// The start of a fresh region, aligned to the layout's page, from the
    /// current reservation or a new one.
    ///
    /// Why reserve many regions at once: a new mapping beside the previous
    /// one merges with it, and the kernel then write-locks the merged
    /// mapping and the address space, so every page fault on any
    /// goroutine's stack waits for the `mmap`. One `mmap` per region
    /// (15,625 for a million goroutines) kept the Ms that fault stack pages
    /// in waiting for each other. Each reservation doubles the last (up to
    /// [`MAX_REGIONS_PER_RESERVATION`]), as Go's heap grows by arenas: a
    /// small program reserves 8 MiB, a million goroutines take about
    /// twenty `mmap` calls. The address space costs nothing until touched
    /// (`MAP_NORESERVE`); where a big reservation is refused (a strict
    /// overcommit policy, an address-space limit), we fall back to one
    /// region at a time.
    fn carve(&mut self, layout: Layout) -> Result<usize, String> {
        let slack = layout.guard.saturating_sub(os::page_size());
        let mut region = self.next.next_multiple_of(layout.guard);
        if self.next == 0 || region + REGION_SIZE > self.end {
            let regions = (self.size * 2).clamp(1, MAX_REGIONS_PER_RESERVATION);
            let (start, len) =
                os::reserve_up_to(regions * REGION_SIZE + slack, REGION_SIZE + slack).map_err(
                    |err| {
                        format!(
                            "cannot allocate goroutine stacks: mmap of {} MiB failed: {err}",
                            REGION_SIZE >> 20
                        )
                    },
                )?;
            region = start.next_multiple_of(layout.guard);
            self.end = start + len;
            self.size = (len - slack) / REGION_SIZE;
        }
        self.next = region + REGION_SIZE;
        Ok(region)
    }
}

/// Let the signal handler know of a region.
fn register_region(region: usize) {
    let idx = NREGIONS.fetch_add(1, Ordering::AcqRel);
    if idx < MAX_REGIONS {
        REGIONS[idx].store(region, Ordering::Release);
    }
}

/// True when `addr` lies in the guard of one of our stacks. Async-signal
/// safe: only atomic loads.
pub fn is_guard_address(addr: usize) -> bool {
    let guard = GUARD.load(Ordering::Acquire);
    let n = NREGIONS.load(Ordering::Acquire).min(MAX_REGIONS);
    REGIONS
        .iter()
        .take(n)
        .find_map(|slot| in_guard(addr, slot.load(Ordering::Acquire), guard))
        .unwrap_or(false)
}

/// Whether `addr` is in a guard of the region at `region` with guards of
/// `guard` bytes; `None` when it is not in that region at all.
fn in_guard(addr: usize, region: usize, guard: usize) -> Option<bool> {
    (region != 0 && addr >= region && addr < region + REGION_SIZE)
        .then(|| (addr - region) % STACK_SIZE < guard)
}

/// The usable bytes of a stack, for the signal handler's report: only an
/// atomic load (the layout is chosen before the first stack exists).
pub(crate) fn usable_size_in_handler() -> usize {
    STACK_SIZE - GUARD.load(Ordering::Acquire)
}

/// The usable part `[lo, hi)` of the goroutine stack that contains `addr`
/// (guard excluded), if `addr` lies in one. Async-signal safe: only atomic
/// loads. Tracebacks use it to read a goroutine's stack without ever
/// touching memory outside it.
pub fn usable_bounds(addr: usize) -> Option<(usize, usize)> {
    let guard = GUARD.load(Ordering::Acquire);
    let n = NREGIONS.load(Ordering::Acquire).min(MAX_REGIONS);
    REGIONS
        .iter()
        .take(n)
        .find_map(|slot| {
            let region = slot.load(Ordering::Acquire);
            (region != 0 && addr >= region && addr < region + REGION_SIZE).then(|| {
                let limit = addr - (addr - region) % STACK_SIZE;
                (limit + guard, limit + STACK_SIZE)
            })
        })
        .filter(|&(lo, _)| addr >= lo)
}

/// Whether stacks use `mprotect` guards rather than guard regions.
pub fn uses_mprotect_guards() -> bool {
    layout().kind == GuardKind::Mprotect
}

// ---------------------------------------------------------------------------
// Where a walk of this stack starts: the current frame (for tracebacks)
// ---------------------------------------------------------------------------

/// The address of this instruction in the caller (inlined everywhere it is
/// used). `go` stores it to name the creating function; a goroutine that
/// switches away stores it as the innermost frame.
#[inline(always)]
pub(crate) fn here_pc() -> usize {
    let pc: usize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads the instruction pointer into a register; no memory, no
    // stack, no flags.
    unsafe {
        std::arch::asm!("lea {0}, [rip]", out(reg) pc, options(nomem, nostack, preserves_flags))
    };
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above (`adr` of the current instruction).
    unsafe {
        std::arch::asm!("adr {0}, .", out(reg) pc, options(nomem, nostack, preserves_flags))
    };
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        pc = 0;
    }
    pc
}

/// The frame pointer of the function this is inlined into.
#[inline(always)]
pub(crate) fn here_fp() -> usize {
    let fp: usize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: copies a register; no memory, no stack, no flags.
    unsafe {
        std::arch::asm!("mov {0}, rbp", out(reg) fp, options(nomem, nostack, preserves_flags))
    };
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above.
    unsafe {
        std::arch::asm!("mov {0}, x29", out(reg) fp, options(nomem, nostack, preserves_flags))
    };
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        fp = 0;
    }
    fp
}

/// The stack pointer of the function this is inlined into (stack
/// compaction keeps the bytes from a little below it to the base).
#[inline(always)]
pub(crate) fn here_sp() -> usize {
    let sp: usize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: copies a register; no memory, no stack, no flags.
    unsafe {
        std::arch::asm!("mov {0}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags))
    };
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above.
    unsafe {
        std::arch::asm!("mov {0}, sp", out(reg) sp, options(nomem, nostack, preserves_flags))
    };
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        sp = 0;
    }
    sp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_size_is_a_multiple_of_the_page_size() {
        let page = os::page_size();
        assert_eq!(STACK_SIZE % page, 0, "page {page}");
        assert!(STACK_SIZE >= 16 * page, "page {page}");
    }

    #[test]
    fn stacks_are_distinct_and_guarded() {
        let guard = guard_size();
        assert_eq!(guard, os::page_size(), "no RUNTIME_PAGE_SIZE in unit tests");
        let a = Stack::new();
        let b = Stack::new();
        assert_ne!(a.limit, b.limit);
        assert!(is_guard_address(a.limit));
        assert!(is_guard_address(a.limit + guard - 1));
        assert!(!is_guard_address(a.limit + guard));
        assert!(!is_guard_address(a.base() - 8));
        assert!(!os::is_readable(a.limit, 1));
        assert!(!os::is_readable(a.limit + guard - 1, 1));
        assert!(os::is_readable(a.limit + guard, 1));
        let usable = (a.limit + guard, a.base());
        assert_eq!(usable_bounds(a.base() - 8), Some(usable));
        assert_eq!(usable_bounds(a.limit + guard), Some(usable));
        assert_eq!(usable_bounds(a.limit), None, "the guard is not usable");
        assert_ne!(
            usable_bounds(a.base()),
            Some(usable),
            "base is one past the end"
        );
    }

    /// Regions come from reservations that double: many regions, few
    /// `mmap`s, none overlapping, each aligned to its layout's page.
    #[test]
    fn regions_are_carved_from_growing_reservations() {
        let layout = layout();
        // A reservation of the test's own: other tests and the carver carve
        // from the process's meanwhile.
        let mut reserved = Reserved::new();
        let mut regions: Vec<usize> = (0..40)
            .map(|_| reserved.carve(layout).expect("address space"))
            .collect();
        assert!(regions.iter().all(|r| r % layout.guard == 0));
        regions.sort_unstable();
        assert!(
            regions.windows(2).all(|w| w[0] + REGION_SIZE <= w[1]),
            "regions overlap"
        );
        // Forty regions in six reservations of 1, 2, 4, ... 32 regions:
        // all but the reservations' ends are next to another one.
        let adjacent = regions
            .windows(2)
            .filter(|w| w[0] + REGION_SIZE == w[1])
            .count();
        assert!(adjacent >= 34, "only {adjacent} of 40 regions are adjacent");
    }

    /// The carver's regions: every stack guarded as usual, and its top
    /// page already resident where the OS can populate (Linux 5.14+), so
    /// the goroutine's first write does not fault.
    #[test]
    fn a_warm_region_has_its_guards_and_its_top_pages_resident() {
        let (region, populated) = carve_warm_region().expect("a warm region");
        let emulated = std::env::var_os("CROSS_RUNNER").is_some();
        let page = os::page_size();
        for i in 0..STACKS_PER_REGION {
            let limit = region + i * STACK_SIZE;
            assert!(!os::is_readable(limit, 1), "stack {i}: guard missing");
            assert!(is_guard_address(limit));
            let top = limit + STACK_SIZE - page;
            // (qemu-user answers the advice without doing it.)
            if populated && !emulated {
                assert!(resident(top), "stack {i}: top page not faulted in");
            }
            assert!(!resident(top - page), "stack {i}: more than the top page");
        }
        if cfg!(target_os = "linux") && !emulated && os::guard_kind() == Ok(GuardKind::Region) {
            // A kernel with guard regions (6.13) can populate (5.14).
            assert!(populated, "MADV_POPULATE_WRITE refused");
        }
    }

    /// Whether the page at `at` is resident (`mincore`).
    fn resident(at: usize) -> bool {
        let mut vec = [0u8; 1];
        // SAFETY: `at` is page aligned and inside a mapping of ours;
        // mincore only writes one byte per page into `vec`.
        let rc = unsafe {
            libc::mincore(
                at as *mut libc::c_void,
                os::page_size(),
                vec.as_mut_ptr().cast(),
            )
        };
        assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
        vec[0] & 1 == 1
    }

    /// Woken, the carver stocks the pool again, on its own thread.
    #[test]
    fn the_carver_stocks_the_pool_when_woken() {
        crate::stack_carver::wake(stock_pool);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while pool().len() < LOW_WATER {
            assert!(
                std::time::Instant::now() < deadline,
                "the carver never stocked the pool"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Apple Silicon's layout on this machine: 16 KiB pages, so 16 KiB
    /// guards, 16 KiB aligned, whichever guard kind. Every 4 KiB page of each
    /// guard must fault, and the first byte above it must not (with the old
    /// `GUARD_SIZE = 4096` constant, three quarters of the guard would be
    /// usable stack).
    #[test]
    fn the_allocator_with_16k_pages_guards_16k_below_every_stack() {
        const PAGE_16K: usize = 16 * 1024;
        let mut kinds = vec![GuardKind::Mprotect];
        if os::guard_kind() == Ok(GuardKind::Region) {
            kinds.push(GuardKind::Region);
        }
        for kind in kinds {
            let layout = Layout {
                guard: PAGE_16K,
                kind,
            };
            let region = map_region(layout);
            assert_eq!(region % PAGE_16K, 0, "{kind:?}: region aligned to 16 KiB");
            for i in 0..STACKS_PER_REGION {
                let limit = region + i * STACK_SIZE;
                for off in (0..PAGE_16K).step_by(os::page_size()).chain([PAGE_16K - 1]) {
                    assert!(
                        !os::is_readable(limit + off, 1),
                        "{kind:?}: stack {i}, guard byte {off} is readable"
                    );
                    assert_eq!(in_guard(limit + off, region, PAGE_16K), Some(true));
                }
                assert!(os::is_readable(limit + PAGE_16K, 1), "{kind:?}: stack {i}");
                assert_eq!(in_guard(limit + PAGE_16K, region, PAGE_16K), Some(false));
                let top = limit + STACK_SIZE - 1;
                // SAFETY: the top byte of a usable stack in a region we own.
                unsafe { (top as *mut u8).write_volatile(7) };
                assert!(os::is_readable(top, 1));
            }
            assert_eq!(in_guard(region - 1, region, PAGE_16K), None);
            assert_eq!(in_guard(region + REGION_SIZE, region, PAGE_16K), None);
        }
    }
}
