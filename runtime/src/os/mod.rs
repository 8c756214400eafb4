//! The OS layer: everything the runtime asks of the operating system that is
//! not the same on Linux and macOS.
//!
//! Lesson idea: a goroutine runtime sits on an OS, and only a small part of
//! it depends on which one. Go keeps that part in `os_linux.go` /
//! `os_darwin.go` and `mem_linux.go` / `mem_darwin.go`; here it is this
//! module, with `linux.rs` and `macos.rs` behind the same functions:
//!
//! | what | Linux | macOS |
//! |---|---|---|
//! | page size | `sysconf(_SC_PAGESIZE)` (4 KiB on x86_64, 4/16/64 KiB on arm64) | `sysconf(_SC_PAGESIZE)` (16 KiB on Apple Silicon, 4 KiB on Intel) |
//! | stack guard | `madvise(MADV_GUARD_INSTALL)` (6.13+), else `mprotect` | `mprotect` |
//! | memory reservation | `mmap(MAP_NORESERVE)` | `mmap` (macOS always overcommits) |
//! | fault pages in ahead of use | `madvise(MADV_POPULATE_WRITE)` (5.14+) | none (first write) |
//! | guard-hit signal | `SIGSEGV` | `SIGBUS` (and `SIGSEGV`) |
//! | thread state | `/proc/self/task/TID/stat` | mach `thread_info` |
//! | resident memory | `/proc/PID/statm` | `proc_pidinfo(PROC_PIDTASKINFO)` |
//! | CPU count | `sched_getaffinity` | `sysctl hw.ncpu` |
//! | sleep on a lock word | `futex` (`FUTEX_WAIT`/`FUTEX_WAKE`, private) | a short nap (no futex) |
//! | barrier on every thread | `membarrier(PRIVATE_EXPEDITED)` | none (no implicit hand-off) |
//!
//! Nothing outside this module names a Linux-only constant or path. Two
//! switches, read once, exercise the other platforms' layouts on Linux:
//! `RUNTIME_GUARD=mprotect` takes the guard path of macOS and of kernels
//! before 6.13 (WSL2 today), and `RUNTIME_PAGE_SIZE=16384` lays stacks and
//! guards out as on Apple Silicon.

use std::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering};

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as sys;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
use macos as sys;

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
compile_error!(
    "the goroutine runtime runs on Linux and macOS (Windows: through WSL2); \
     this target has no OS layer in runtime/src/os/"
);

pub use sys::OsThread;

/// The platform's name, as a student reads it ("Linux", "macOS").
pub const NAME: &str = sys::NAME;

/// The signals a hit on a stack guard raises here (Go: `sigtable`'s
/// `_SigPanic` entries the runtime turns into a stack-overflow report).
pub const FAULT_SIGNALS: &[libc::c_int] = sys::FAULT_SIGNALS;

/// The kernel's page size in bytes, from `sysconf(_SC_PAGESIZE)`, read once
/// (Go: `physPageSize`, from the auxiliary vector on Linux and `sysconf` on
/// macOS).
pub fn page_size() -> usize {
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    let mut page = PAGE.load(Ordering::Relaxed);
    if page == 0 {
        // SAFETY: sysconf has no preconditions.
        let raw = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        page = usize::try_from(raw)
            .ok()
            .filter(|p| p.is_power_of_two())
            .unwrap_or(4096);
        PAGE.store(page, Ordering::Relaxed);
    }
    page
}

/// The page size the stack allocator lays stacks and guards out with: the
/// kernel's, or `RUNTIME_PAGE_SIZE` when set (a power of two, at least the
/// kernel's, at most 64 KiB), so that Apple Silicon's 16 KiB layout (or
/// arm64 Linux's 64 KiB one) can be exercised on a 4 KiB machine. Read once.
pub fn stack_page_size() -> Result<usize, String> {
    let kernel = page_size();
    match std::env::var("RUNTIME_PAGE_SIZE") {
        Err(_) => Ok(kernel),
        Ok(v) if v.is_empty() => Ok(kernel),
        Ok(v) => match v.parse::<usize>() {
            Ok(n) if n.is_power_of_two() && n >= kernel && n <= 64 * 1024 => Ok(n),
            _ => Err(format!(
                "RUNTIME_PAGE_SIZE={v}: want a power of two from this kernel's page size \
                 ({kernel}) to 65536"
            )),
        },
    }
}

/// How a stack's guard is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuardKind {
    /// A lightweight guard region (`madvise(MADV_GUARD_INSTALL)`, Linux
    /// 6.13+): no extra kernel mapping per stack.
    Region,
    /// A `PROT_NONE` page (`mprotect`): splits the stack's mapping, so each
    /// stack costs two kernel mappings (Linux caps a process at
    /// `vm.max_map_count` of them).
    Mprotect,
}

/// The guard kind, chosen once, up front, before the first stack: the best
/// the platform has (probed on Linux: the call must exist *and* a guarded
/// page must really fault), or `mprotect` when `RUNTIME_GUARD=mprotect`.
/// `RUNTIME_GUARD=auto` (or unset) probes.
pub fn guard_kind() -> Result<GuardKind, String> {
    static KIND: AtomicU8 = AtomicU8::new(0); // 0 = not chosen yet
    match KIND.load(Ordering::Relaxed) {
        1 => return Ok(GuardKind::Region),
        2 => return Ok(GuardKind::Mprotect),
        _ => {}
    }
    let kind = match std::env::var("RUNTIME_GUARD").as_deref() {
        Ok("mprotect") => GuardKind::Mprotect,
        Err(_) | Ok("") | Ok("auto") => {
            if sys::guard_regions_work() {
                GuardKind::Region
            } else {
                GuardKind::Mprotect
            }
        }
        Ok(other) => {
            return Err(format!(
                "RUNTIME_GUARD={other}: want `mprotect` (classic guard pages) or `auto`"
            ))
        }
    };
    // Two threads may probe at once; they agree, so either store is fine.
    KIND.store(
        match kind {
            GuardKind::Region => 1,
            GuardKind::Mprotect => 2,
        },
        Ordering::Relaxed,
    );
    Ok(kind)
}

/// Reserve `len` bytes of zeroed, readable and writable address space that
/// the kernel backs only when touched (Go: `sysReserve` + `sysMap`).
pub fn reserve(len: usize) -> std::io::Result<usize> {
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | sys::MAP_RESERVE_ONLY;
    // SAFETY: an anonymous private mapping at an address of the kernel's
    // choosing; it aliases no existing memory.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            -1,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    Ok(addr as usize)
}

/// [`reserve`] `want` bytes where the system allows, else only `need` (a
/// strict overcommit policy or an address-space limit can refuse a big
/// reservation where a small one fits): the start, and the bytes reserved.
/// How the runtime's growing reservations (stacks, compacted stacks'
/// bytes, goroutine records) degrade instead of failing.
pub fn reserve_up_to(want: usize, need: usize) -> std::io::Result<(usize, usize)> {
    match reserve(want) {
        Ok(at) => Ok((at, want)),
        Err(_) if want > need => reserve(need).map(|at| (at, need)),
        Err(err) => Err(err),
    }
}

/// Make `[at, at + len)` a guard: any access faults with one of
/// [`FAULT_SIGNALS`].
///
/// # Safety
/// The range must be page aligned, lie in memory from [`reserve`], and hold
/// nothing anyone will read or write.
pub unsafe fn install_guard(at: usize, len: usize, kind: GuardKind) -> std::io::Result<()> {
    match kind {
        // SAFETY: the caller guarantees the range is ours and unused.
        GuardKind::Region => unsafe { sys::install_guard_region(at, len) },
        GuardKind::Mprotect => {
            // SAFETY: as above; PROT_NONE only makes accesses fault.
            let rc = unsafe { libc::mprotect(at as *mut libc::c_void, len, libc::PROT_NONE) };
            if rc == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        }
    }
}

/// [`install_guard`] of `len` bytes at each of `starts`: with guard
/// regions on Linux, all of them in one system call where the kernel can
/// (`process_madvise`, 6.13+), else one by one.
///
/// # Safety
/// As [`install_guard`], for every range.
pub unsafe fn install_guards(starts: &[usize], len: usize, kind: GuardKind) -> std::io::Result<()> {
    // SAFETY: the caller's ranges are ours and unused.
    if kind == GuardKind::Region && unsafe { sys::install_guard_regions(starts, len)? } {
        return Ok(());
    }
    for &at in starts {
        // SAFETY: as above.
        unsafe { install_guard(at, len, kind)? };
    }
    Ok(())
}

/// When installing a guard failed with `err`: the platform's explanation
/// and fix, if it knows one (Linux: the `vm.max_map_count` limit).
pub fn guard_failure_hint(err: &std::io::Error, kind: GuardKind) -> Option<String> {
    sys::guard_failure_hint(err, kind)
}

/// Whether this process can issue a barrier on all its threads at once
/// ([`process_barrier`]): Linux's `membarrier(2)`, registered here once.
/// macOS has none.
pub fn process_barrier_available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(sys::register_process_barrier)
}

/// A full memory barrier executed by every running thread of this process
/// (Linux: `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`). The asymmetric
/// half of a Dekker handshake: the fast side needs only a compiler fence.
/// False when unavailable (call [`process_barrier_available`] first).
pub fn process_barrier() -> bool {
    process_barrier_available() && sys::process_barrier()
}

/// Give the pages of `[at, at + len)` back to the kernel, keeping the
/// mapping (Linux: `madvise(MADV_DONTNEED)`; the next touch gets a zeroed
/// page). Guards inside the range stay.
///
/// # Safety
/// Nothing may rely on the range's contents any more.
pub unsafe fn release_pages(at: usize, len: usize) -> std::io::Result<()> {
    // SAFETY: forwarded contract.
    unsafe { sys::release_pages(at, len) }
}

/// [`release_pages`] for every `(at, len)` of `runs`: all in one system
/// call where the kernel has proven it can (Linux 6.13+, `process_madvise`),
/// else one by one. Every range is released unless an error is returned.
///
/// # Safety
/// As [`release_pages`], for every range.
pub unsafe fn release_page_runs(runs: &[(usize, usize)]) -> std::io::Result<()> {
    // SAFETY: forwarded contract.
    if let Ok(true) = unsafe { sys::release_page_runs(runs) } {
        return Ok(());
    }
    for &(at, len) in runs {
        // SAFETY: forwarded contract.
        unsafe { sys::release_pages(at, len)? };
    }
    Ok(())
}

/// Fault in, writable, the `len` bytes at each of `starts`, as their first
/// write would, so that the thread that writes them later does not fault
/// (Linux: `madvise(MADV_POPULATE_WRITE)`). Contents do not change. False
/// where the OS cannot: the pages then come in at their first write.
pub fn populate_pages(starts: &[usize], len: usize) -> bool {
    sys::populate_pages(starts, len)
}

/// Whether `len` bytes at `addr` can be read, asked of the kernel rather than
/// by touching them (a pipe `write` from them fails with `EFAULT` when they
/// cannot): how the guard probe and the tests check that a guard is in place
/// without taking a fault.
pub fn is_readable(addr: usize, len: usize) -> bool {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: pipe fills the two descriptors we pass.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: write only reads from `addr` in the kernel (copy_from_user),
    // which reports an unreadable address as EFAULT instead of faulting; the
    // pipe's buffer holds far more than `len` of the calls we make.
    let n = unsafe { libc::write(fds[1], addr as *const libc::c_void, len) };
    // SAFETY: closing the descriptors pipe gave us.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    n == len as isize
}

/// What an OS thread is doing right now, as the kernel sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadState {
    /// Running on a CPU or ready to (Linux `R`, macOS `TH_STATE_RUNNING`).
    Running,
    /// Waiting in the kernel: a futex, a read, a sleep (Linux `S`/`D`, macOS
    /// `TH_STATE_WAITING`/`TH_STATE_UNINTERRUPTIBLE`).
    Blocked,
    /// Stopped, traced, halted or exiting.
    Stopped,
    /// The kernel would not say.
    Unknown,
}

impl ThreadState {
    /// True when the thread sits in a kernel wait: what sysmon needs to take
    /// the P of an M whose goroutine blocked outside the runtime.
    pub fn is_blocked(self) -> bool {
        self == ThreadState::Blocked
    }
}

/// The calling thread, as [`thread_state`] names it (Linux: its TID; macOS:
/// its mach thread port). Valid while the thread lives.
pub fn current_thread() -> OsThread {
    sys::current_thread()
}

/// The kernel's view of `thread` (a thread of this process), for sysmon
/// (Go's sysmon only knows the syscalls it was told of; see DESIGN.md).
/// Costs a system call or two: call it only for Ms past their time slice.
pub fn thread_state(thread: OsThread) -> ThreadState {
    sys::thread_state(thread)
}

/// The CPU time `thread` (a thread of this process) has used so far, in
/// nanoseconds, or `None` when the platform will not say. sysmon's second
/// opinion on a thread [`thread_state`] calls blocked: one whose CPU time
/// still grows is not (an emulator's threads, for one, wait on the
/// emulator's own locks while they run the program). One system call.
pub fn thread_cpu_ns(thread: OsThread) -> Option<u64> {
    sys::thread_cpu_ns(thread)
}

/// Resident memory of this process in bytes, or `None` when the platform
/// will not say.
pub fn resident_bytes() -> Option<u64> {
    // SAFETY: getpid has no preconditions.
    sys::resident_bytes_of(unsafe { libc::getpid() })
}

/// Resident memory of process `pid` (this user's, e.g. a child) in bytes, or
/// `None` when it is gone or the platform will not say.
pub fn resident_bytes_of(pid: libc::pid_t) -> Option<u64> {
    sys::resident_bytes_of(pid)
}

/// CPUs this process may run on: the default GOMAXPROCS (Go: `ncpu`, from
/// `getproccount` on Linux and `getncpu` on macOS). At least 1.
pub fn cpu_count() -> usize {
    sys::cpu_count().max(1)
}

/// Sleep while `word` holds `expected`, until [`futex_wake`] on it or for
/// at most `bound` (Go's `futexsleep`). May return early, for no reason:
/// the caller looks at the word again. On macOS, which has no futex, a
/// short nap (at most `bound`).
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, bound: std::time::Duration) {
    sys::futex_wait(word, expected, bound)
}

/// Wake one thread sleeping in [`futex_wait`] on `word` (Go's
/// `futexwakeup`). On macOS nothing sleeps that a wakeup could shorten.
pub(crate) fn futex_wake(word: &AtomicU32) {
    sys::futex_wake(word)
}

/// The CPU's model name and the kernel's release, for benchmark headers, or
/// `None` for what the platform will not say.
pub fn machine() -> (Option<String>, Option<String>) {
    (sys::cpu_model(), sys::kernel_release())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_is_a_power_of_two() {
        let page = page_size();
        assert!(page.is_power_of_two() && page >= 4096, "{page}");
    }

    /// A thread blocked in the kernel (a std channel receive: a futex
    /// wait), and what lets it go and joins it.
    fn blocked_thread() -> (OsThread, impl FnOnce()) {
        let (id_tx, id_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let sleeper = std::thread::spawn(move || {
            id_tx.send(current_thread()).unwrap();
            go_rx.recv().unwrap();
        });
        let thread = id_rx.recv().unwrap();
        (thread, move || {
            go_tx.send(()).unwrap();
            sleeper.join().unwrap();
        })
    }

    /// A thread spinning in user space, and what stops and joins it.
    fn spinning_thread() -> (OsThread, impl FnOnce()) {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (id_tx, id_rx) = std::sync::mpsc::channel();
        let spinner = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                id_tx.send(current_thread()).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        };
        let thread = id_rx.recv().unwrap();
        (thread, move || {
            stop.store(true, Ordering::Relaxed);
            spinner.join().unwrap();
        })
    }

    #[test]
    fn a_blocked_thread_reads_blocked_and_a_spinning_one_running() {
        let (thread, release) = blocked_thread();
        let mut state = ThreadState::Unknown;
        for _ in 0..1000 {
            state = thread_state(thread);
            if state == ThreadState::Blocked {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert_eq!(state, ThreadState::Blocked);
        release();

        let (thread, stop) = spinning_thread();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let seen: Vec<ThreadState> = (0..20).map(|_| thread_state(thread)).collect();
        stop();
        assert!(!seen.iter().any(|s| s.is_blocked()), "{seen:?}");
        assert!(seen.contains(&ThreadState::Running), "{seen:?}");
    }

    #[test]
    fn a_spinning_thread_uses_cpu_time_and_a_sleeping_one_does_not() {
        let (thread, stop) = spinning_thread();
        let first = thread_cpu_ns(thread).expect("this platform reports thread CPU time");
        let mut later = first;
        for _ in 0..1000 {
            std::thread::sleep(std::time::Duration::from_millis(1));
            later = thread_cpu_ns(thread).unwrap();
            if later > first {
                break;
            }
        }
        stop();
        assert!(
            later > first,
            "a spinning thread's CPU time stood at {first} ns"
        );

        let (thread, release) = blocked_thread();
        while !thread_state(thread).is_blocked() {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let asleep = thread_cpu_ns(thread).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(
            thread_cpu_ns(thread),
            Some(asleep),
            "a blocked thread used CPU time"
        );
        release();
    }

    #[test]
    fn resident_memory_grows_when_pages_are_touched() {
        let before = resident_bytes().expect("this platform reports resident memory");
        let len = 32 << 20;
        let at = reserve(len).unwrap();
        // SAFETY: `at` is a fresh writable mapping of `len` bytes.
        unsafe { std::ptr::write_bytes(at as *mut u8, 1, len) };
        let after = resident_bytes().unwrap();
        assert!(after >= before + (len as u64) / 2, "{before} -> {after}");
        // SAFETY: unmapping the mapping we made; nothing refers to it.
        unsafe { libc::munmap(at as *mut libc::c_void, len) };
        assert_eq!(resident_bytes_of(-1), None, "no such process");
    }

    #[test]
    fn guards_of_both_kinds_make_pages_unreadable() {
        let page = page_size();
        let at = reserve(4 * page).unwrap();
        assert!(is_readable(at, 1));
        // SAFETY: pages of a mapping we own and do not use.
        unsafe { install_guard(at, page, GuardKind::Mprotect).unwrap() };
        assert!(!is_readable(at, 1));
        assert!(!is_readable(at + page - 1, 1));
        assert!(is_readable(at + page, 1));
        if guard_kind() == Ok(GuardKind::Region) {
            // SAFETY: as above.
            unsafe { install_guard(at + 2 * page, page, GuardKind::Region).unwrap() };
            assert!(!is_readable(at + 2 * page, 1));
            assert!(is_readable(at + 3 * page, 1));
        }
        // SAFETY: our mapping, no longer used.
        unsafe { libc::munmap(at as *mut libc::c_void, 4 * page) };
    }

    #[test]
    fn a_thread_survives_the_round_trip_through_a_number() {
        let me = current_thread();
        assert_ne!(me.to_raw(), 0);
        assert_eq!(OsThread::from_raw(me.to_raw()), me);
    }

    #[test]
    fn cpu_count_is_at_least_one() {
        assert!(cpu_count() >= 1);
    }
}
