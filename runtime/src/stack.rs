//! Goroutine stacks: carved from big regions, each with a guard page.
//!
//! Lesson idea: "goroutines are cheap". Go starts a goroutine on a 2 KB stack
//! that it grows by copying. We cannot move a Rust stack (references into it
//! would dangle), so each goroutine gets a fixed *virtual* reservation of
//! [`STACK_SIZE`]; the kernel only backs the pages the goroutine actually
//! touches, so an idle goroutine costs a page or two of RAM.
//!
//! Cost: one `mmap` per goroutine would cost ~9 us, so stacks are carved from
//! regions of [`STACKS_PER_REGION`] stacks mapped once with `MAP_NORESERVE`,
//! and dead goroutines keep their stack for the next `go` (see `m.rs`).
//!
//! Safety: every stack has a guard page below it, so an overflow faults
//! instead of silently writing into the neighbour. A classic guard page
//! (`mprotect`) splits the mapping in two, and Linux caps a process at
//! `vm.max_map_count` (65530) mappings: about 32,700 goroutines. Linux 6.13
//! added lightweight guard regions, `madvise(MADV_GUARD_INSTALL)`, which do not
//! split mappings; we use them and fall back to `mprotect` on older kernels.
//! `signal.rs` turns a guard hit into `fatal error: stack overflow`.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Virtual size of one goroutine stack, guard page included (256 KiB).
pub const STACK_SIZE: usize = 256 * 1024;
/// Stacks mapped at once (one region is 16 MiB of address space).
pub const STACKS_PER_REGION: usize = 64;
/// Size of the guard at the bottom of each stack.
pub const GUARD_SIZE: usize = 4096;

const REGION_SIZE: usize = STACK_SIZE * STACKS_PER_REGION;
/// `MADV_GUARD_INSTALL` (Linux 6.13+), not yet in every libc crate release.
const MADV_GUARD_INSTALL: libc::c_int = 102;
/// Most regions we track for the signal handler (64 Ki regions = 4 M stacks).
const MAX_REGIONS: usize = 65536;

/// Start addresses of every region, readable from a signal handler.
static REGIONS: [AtomicUsize; MAX_REGIONS] = [const { AtomicUsize::new(0) }; MAX_REGIONS];
static NREGIONS: AtomicUsize = AtomicUsize::new(0);
/// Set once `MADV_GUARD_INSTALL` failed with EINVAL: use `mprotect`.
static OLD_KERNEL: AtomicBool = AtomicBool::new(false);

/// Free stacks not in any P's cache (Go's `stackpool`).
static POOL: std::sync::Mutex<Vec<Stack>> = std::sync::Mutex::new(Vec::new());

fn pool() -> std::sync::MutexGuard<'static, Vec<Stack>> {
    match POOL.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// One goroutine stack: `[limit, limit + GUARD_SIZE)` is the guard,
/// `[limit + GUARD_SIZE, base)` is usable.
pub struct Stack {
    limit: usize,
}

/// Move up to `n` free stacks (at least one) from the global pool into a P's
/// cache `dst`, mapping a new region when the pool is empty (Go's
/// `stackcacherefill`).
pub(crate) fn refill(dst: &mut Vec<Stack>, n: usize) {
    let mut pool = pool();
    if pool.is_empty() {
        let region = map_region();
        // Highest address first, so the lowest is popped first.
        pool.extend((0..STACKS_PER_REGION).rev().map(|i| Stack {
            limit: region + i * STACK_SIZE,
        }));
    }
    let take = n.clamp(1, pool.len());
    let at = pool.len() - take;
    dst.extend(pool.drain(at..));
}

/// Give stacks back to the global pool (Go's `stackcacherelease`).
pub(crate) fn release(stacks: impl Iterator<Item = Stack>) {
    pool().extend(stacks);
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
// lowest GUARD_SIZE bytes are a guard (installed by `map_region` before any
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

/// Map a region and install a guard at the bottom of each of its stacks.
fn map_region() -> usize {
    // SAFETY: an anonymous private mapping at an address of the kernel's
    // choosing; it does not alias any existing memory.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            REGION_SIZE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        crate::fatal::throw(&format!(
            "cannot allocate goroutine stacks: mmap of {} MiB failed: {}",
            REGION_SIZE >> 20,
            std::io::Error::last_os_error()
        ));
    }
    let region = addr as usize;
    for i in 0..STACKS_PER_REGION {
        install_guard(region + i * STACK_SIZE);
    }
    let idx = NREGIONS.fetch_add(1, Ordering::AcqRel);
    if idx < MAX_REGIONS {
        REGIONS[idx].store(region, Ordering::Release);
    }
    region
}

fn install_guard(at: usize) {
    if !OLD_KERNEL.load(Ordering::Relaxed) {
        // SAFETY: `at..at+GUARD_SIZE` lies inside a region we just mapped and
        // that no stack uses yet; a guard only makes accesses fault.
        let rc = unsafe { libc::madvise(at as *mut libc::c_void, GUARD_SIZE, MADV_GUARD_INSTALL) };
        if rc == 0 {
            return;
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINVAL) {
            crate::fatal::throw(&format!("cannot install a stack guard: madvise: {err}"));
        }
        OLD_KERNEL.store(true, Ordering::Relaxed);
    }
    // SAFETY: as above; PROT_NONE on pages no one uses yet.
    let rc = unsafe { libc::mprotect(at as *mut libc::c_void, GUARD_SIZE, libc::PROT_NONE) };
    if rc != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ENOMEM) {
            crate::fatal::throw(&format!(
                "cannot install a stack guard page: the process reached the kernel's limit \
                 on memory mappings (vm.max_map_count = {}). This kernel has no lightweight \
                 guard regions (Linux 6.13+), so each goroutine stack costs 2 mappings. \
                 Raise the limit, e.g. `sudo sysctl -w vm.max_map_count=1048576`, \
                 or run fewer goroutines at once.",
                read_max_map_count()
            ));
        }
        crate::fatal::throw(&format!(
            "cannot install a stack guard page: mprotect: {err}"
        ));
    }
}

fn read_max_map_count() -> String {
    std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// True when `addr` lies in the guard page of one of our stacks. Async-signal
/// safe: only atomic loads.
pub fn is_guard_address(addr: usize) -> bool {
    let n = NREGIONS.load(Ordering::Acquire).min(MAX_REGIONS);
    for slot in REGIONS.iter().take(n) {
        let start = slot.load(Ordering::Acquire);
        if start != 0 && addr >= start && addr < start + REGION_SIZE {
            return (addr - start) % STACK_SIZE < GUARD_SIZE;
        }
    }
    false
}

/// Whether stacks use `mprotect` guards (old kernel) rather than guard regions.
pub fn uses_mprotect_guards() -> bool {
    OLD_KERNEL.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacks_are_distinct_and_guarded() {
        let a = Stack::new();
        let b = Stack::new();
        assert_ne!(a.limit, b.limit);
        assert!(is_guard_address(a.limit));
        assert!(is_guard_address(a.limit + GUARD_SIZE - 1));
        assert!(!is_guard_address(a.limit + GUARD_SIZE));
        assert!(!is_guard_address(a.base() - 8));
    }
}
