//! The OS layer on Linux (Go: `os_linux.go`, `mem_linux.go`). WSL2 is Linux
//! too: its kernel (6.6 at the time of writing) predates guard regions, so it takes the
//! `mprotect` guards.

use std::sync::atomic::AtomicU32;
use std::time::Duration;

use super::{GuardKind, ThreadState};

pub(super) const NAME: &str = "Linux";

/// A guard hit is a plain segmentation fault.
pub(super) const FAULT_SIGNALS: &[libc::c_int] = &[libc::SIGSEGV];

/// Reserve address space without committing swap for it: stacks are 128 KiB
/// of address space each, of which a goroutine touches a page or two.
pub(super) const MAP_RESERVE_ONLY: libc::c_int = libc::MAP_NORESERVE;

/// `MADV_GUARD_INSTALL` (Linux 6.13+), not yet in every libc crate release.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// A thread, by its kernel thread id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OsThread(libc::pid_t);

pub(super) fn current_thread() -> OsThread {
    // SAFETY: gettid has no preconditions.
    OsThread(unsafe { libc::gettid() })
}

impl OsThread {
    /// The thread as a number that is never 0 (a TID), for an atomic.
    pub fn to_raw(self) -> u64 {
        self.0 as u32 as u64
    }

    /// The thread [`to_raw`](Self::to_raw) gave this number for.
    pub fn from_raw(raw: u64) -> OsThread {
        OsThread(raw as u32 as libc::pid_t)
    }
}

/// The thread's CPU-time clock (`clock_gettime` on the clock id the kernel
/// derives from a TID: `MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)` in
/// `include/linux/posix-timers.h`, what glibc's `pthread_getcpuclockid`
/// returns): the nanoseconds it has run, exact to the moment of the call.
pub(super) fn thread_cpu_ns(thread: OsThread) -> Option<u64> {
    const CPUCLOCK_PERTHREAD: libc::clockid_t = 4;
    const CPUCLOCK_SCHED: libc::clockid_t = 2;
    let clock = (!thread.0 << 3) | CPUCLOCK_PERTHREAD | CPUCLOCK_SCHED;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the timespec we own.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return None;
    }
    Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// The state letter of `/proc/self/task/TID/stat` (see proc(5)).
pub(super) fn thread_state(thread: OsThread) -> ThreadState {
    let Ok(stat) = std::fs::read(format!("/proc/self/task/{}/stat", thread.0)) else {
        return ThreadState::Unknown;
    };
    state_of_stat(&stat)
}

/// The third field of a `stat` line, after the command name in parentheses
/// (which may itself hold `)` and spaces, hence the last `)`).
fn state_of_stat(stat: &[u8]) -> ThreadState {
    let Some(close) = stat.iter().rposition(|&b| b == b')') else {
        return ThreadState::Unknown;
    };
    match stat.get(close + 2) {
        Some(b'R') => ThreadState::Running,
        Some(b'S' | b'D') => ThreadState::Blocked,
        Some(b'T' | b't' | b'Z' | b'X' | b'x') => ThreadState::Stopped,
        _ => ThreadState::Unknown,
    }
}

/// Second field of `/proc/PID/statm` (resident pages) times the page size.
pub(super) fn resident_bytes_of(pid: libc::pid_t) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * super::page_size() as u64)
}

/// CPUs in this process's affinity mask (Go: `getproccount`).
pub(super) fn cpu_count() -> usize {
    // SAFETY: sched_getaffinity fills the zeroed set we own; CPU_COUNT reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) != 0 {
            return 1;
        }
        libc::CPU_COUNT(&set) as usize
    }
}

/// `FUTEX_WAIT` on `word` while it holds `expected`, for at most `bound`
/// (Go's `futexsleep` in `os_linux.go`). Every outcome (woken, timed out,
/// the word already changed, a signal) just returns: the caller re-checks.
pub(super) fn futex_wait(word: &AtomicU32, expected: u32, bound: Duration) {
    let ts = libc::timespec {
        tv_sec: bound.as_secs() as libc::time_t,
        tv_nsec: bound.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `word` is a live, aligned u32 for the whole call; the kernel
    // only reads it and the timespec we own.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            &ts as *const libc::timespec,
        );
    }
}

/// `FUTEX_WAKE` one waiter on `word` (Go's `futexwakeup`).
pub(super) fn futex_wake(word: &AtomicU32) {
    // SAFETY: `word` is a live, aligned u32; waking touches no memory.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        );
    }
}

/// Whether this kernel has guard regions that really fault: the call must
/// succeed (6.13+) and the guarded page must then be unreadable. The second
/// check matters under emulators: `qemu-user` answers 0 to any `madvise` it
/// does not know and installs nothing, which would leave stacks unguarded.
pub(super) fn guard_regions_work() -> bool {
    let page = super::page_size();
    let Ok(at) = super::reserve(2 * page) else {
        return false;
    };
    // SAFETY: the first page of a probe mapping nobody else knows of.
    let installed = unsafe { install_guard_region(at, page) }.is_ok();
    let works = installed && !super::is_readable(at, 1) && super::is_readable(at + page, 1);
    // SAFETY: unmapping the probe mapping we made.
    unsafe { libc::munmap(at as *mut libc::c_void, 2 * page) };
    works
}

/// `madvise(MADV_GUARD_INSTALL)`: the range faults on access, without
/// splitting its mapping.
///
/// # Safety
/// As [`super::install_guard`].
pub(super) unsafe fn install_guard_region(at: usize, len: usize) -> std::io::Result<()> {
    // SAFETY: the caller's range is ours, page aligned and unused.
    let rc = unsafe { libc::madvise(at as *mut libc::c_void, len, MADV_GUARD_INSTALL) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// `membarrier(2)` commands (Linux 4.14+), not in every libc crate release.
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

/// Register this process for expedited private membarriers; true when the
/// kernel offers them.
pub(super) fn register_process_barrier() -> bool {
    // SAFETY: membarrier takes plain integers and touches no memory of ours.
    unsafe {
        libc::syscall(
            libc::SYS_membarrier,
            MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
            0,
            0,
        ) == 0
    }
}

/// A full memory barrier on every thread of this process that is running
/// now (the others pass through the scheduler, itself a barrier).
pub(super) fn process_barrier() -> bool {
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0 }
}

/// `madvise(MADV_DONTNEED)`: the pages' contents are dropped and their
/// memory returned to the kernel; the next touch maps a zeroed page. The
/// mapping stays, and so do guard regions inside the range (Linux keeps
/// their markers on `MADV_DONTNEED`) and `mprotect`ed guards (a property of
/// the mapping, not of the pages).
///
/// # Safety
/// Nothing may rely on the range's contents any more.
pub(super) unsafe fn release_pages(at: usize, len: usize) -> std::io::Result<()> {
    // SAFETY: per the contract, the contents may go.
    let rc = unsafe { libc::madvise(at as *mut libc::c_void, len, libc::MADV_DONTNEED) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// `MADV_POPULATE_WRITE` (Linux 5.14+), not in every libc crate release.
const MADV_POPULATE_WRITE: libc::c_int = 23;

/// Whether `MADV_POPULATE_WRITE` has not failed here yet.
static POPULATE_WORKS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Fault in, writable, the `len` bytes at each of `starts`
/// (`madvise(MADV_POPULATE_WRITE)`): what a first write would do, without
/// the fault. Contents do not change (a page not yet there comes in zeroed).
/// False when the kernel refused (older than 5.14: then never asked again;
/// or out of memory for now): the pages are then faulted in by their first
/// write, as always.
pub(super) fn populate_pages(starts: &[usize], len: usize) -> bool {
    use std::sync::atomic::Ordering::Relaxed;
    for &at in starts {
        if !POPULATE_WORKS.load(Relaxed) {
            return false;
        }
        // SAFETY: populating changes no byte of the range, and fails
        // (without effect) on a range that is not mapped writable.
        let rc = unsafe { libc::madvise(at as *mut libc::c_void, len, MADV_POPULATE_WRITE) };
        if rc != 0 {
            // EINVAL: this kernel does not know the advice; stop asking.
            // Anything else (ENOMEM under memory pressure) fails this
            // call only.
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
                POPULATE_WORKS.store(false, Relaxed);
            }
            return false;
        }
    }
    POPULATE_WORKS.load(Relaxed)
}

/// `pidfd_open(2)` and `process_madvise(2)` (Linux 5.10+), by number: not
/// in every libc crate release.
#[cfg(target_arch = "x86_64")]
const SYS_PIDFD_OPEN: libc::c_long = 434;
#[cfg(target_arch = "x86_64")]
const SYS_PROCESS_MADVISE: libc::c_long = 440;
#[cfg(target_arch = "aarch64")]
const SYS_PIDFD_OPEN: libc::c_long = 434;
#[cfg(target_arch = "aarch64")]
const SYS_PROCESS_MADVISE: libc::c_long = 440;

/// This process as a pidfd, for `process_madvise` (-1: none). Opened once.
fn self_pidfd() -> libc::c_int {
    static FD: std::sync::OnceLock<libc::c_int> = std::sync::OnceLock::new();
    *FD.get_or_init(|| {
        // SAFETY: pidfd_open takes a pid and flags and returns a new fd.
        let fd = unsafe { libc::syscall(SYS_PIDFD_OPEN, libc::getpid(), 0) };
        libc::c_int::try_from(fd).unwrap_or(-1)
    })
}

/// `process_madvise(2)` with `advice` on every `(at, len)` of `ranges`
/// (at most `UIO_MAXIOV`), through `fd`, this process's pidfd: the bytes
/// advised, or -1.
///
/// # Safety
/// The advice must be safe for every range (the callers' contracts).
unsafe fn process_madvise_self(
    fd: libc::c_int,
    ranges: &[(usize, usize)],
    advice: libc::c_int,
) -> libc::c_long {
    let iov: Vec<libc::iovec> = ranges
        .iter()
        .map(|&(at, len)| libc::iovec {
            iov_base: at as *mut libc::c_void,
            iov_len: len,
        })
        .collect();
    // SAFETY: the iovecs name ranges the caller vouches for; the kernel
    // only reads the array.
    unsafe { libc::syscall(SYS_PROCESS_MADVISE, fd, iov.as_ptr(), iov.len(), advice, 0) }
}

/// Whether `process_madvise(2)` on ourselves does what it says here: 0
/// not yet known, 1 proven (the guards it installed fault), 2 not usable
/// (older kernel, emulator). Proven only by [`install_guard_regions`]; the
/// batched release relies on that proof.
static PROCESS_MADVISE_WORKS: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// `MADV_DONTNEED` on every `(at, len)` of `runs` with one
/// `process_madvise(2)` call (in slices of `UIO_MAXIOV`): one system call
/// and, since Linux 6.16, one TLB flush for all of them, where `madvise`
/// flushes once per range. A flush interrupts every other CPU running one
/// of our threads (an inter-processor interrupt, costly in a virtual
/// machine). `Ok(false)`: not proven to work here, use [`release_pages`].
///
/// # Safety
/// As [`release_pages`], for every range.
pub(super) unsafe fn release_page_runs(runs: &[(usize, usize)]) -> std::io::Result<bool> {
    use std::sync::atomic::Ordering::Relaxed;
    if PROCESS_MADVISE_WORKS.load(Relaxed) != 1 {
        return Ok(false);
    }
    const UIO_MAXIOV: usize = 1024;
    for slice in runs.chunks(UIO_MAXIOV) {
        // SAFETY: the caller vouches for the ranges.
        let done = unsafe { process_madvise_self(self_pidfd(), slice, libc::MADV_DONTNEED) };
        let want: usize = slice.iter().map(|&(_, len)| len).sum();
        if done < 0 || done as usize != want {
            // Part may be done: `MADV_DONTNEED` twice is harmless, so the
            // caller's one-by-one release redoes the slice.
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(true)
}

/// `MADV_GUARD_INSTALL` on `len` bytes at each of `starts` with one
/// `process_madvise(2)` call on ourselves (Linux 6.13+ accepts any advice
/// for the calling process): a region's 64 guards in one system call
/// instead of 64. `Ok(false)` when this kernel cannot (the caller then
/// installs them one by one); a guard that the call did not install is an
/// error like `madvise`'s.
///
/// # Safety
/// As [`install_guard_region`], for every range.
pub(super) unsafe fn install_guard_regions(starts: &[usize], len: usize) -> std::io::Result<bool> {
    use PROCESS_MADVISE_WORKS as WORKS;
    if WORKS.load(std::sync::atomic::Ordering::Relaxed) == 2 || starts.is_empty() {
        return Ok(false);
    }
    let fd = self_pidfd();
    if fd < 0 {
        WORKS.store(2, std::sync::atomic::Ordering::Relaxed);
        return Ok(false);
    }
    let ranges: Vec<(usize, usize)> = starts.iter().map(|&at| (at, len)).collect();
    // SAFETY: the caller vouches for the ranges.
    let done = unsafe { process_madvise_self(fd, &ranges, MADV_GUARD_INSTALL) };
    if done < 0 {
        let err = std::io::Error::last_os_error();
        if WORKS.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            // Never worked here (older kernel, emulator): one by one.
            WORKS.store(2, std::sync::atomic::Ordering::Relaxed);
            return Ok(false);
        }
        return Err(err);
    }
    if done as usize != starts.len() * len {
        return Err(std::io::Error::other(format!(
            "process_madvise installed {done} of {} guard bytes",
            starts.len() * len
        )));
    }
    // The first time, check that the guards really fault (an emulator may
    // answer success and do nothing, as `guard_regions_work` explains).
    if WORKS.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        let ok = starts.iter().all(|&at| !super::is_readable(at, 1));
        WORKS.store(if ok { 1 } else { 2 }, std::sync::atomic::Ordering::Relaxed);
        return Ok(ok);
    }
    Ok(true)
}

/// `ENOMEM` from `mprotect` on a fresh mapping means the process is at
/// `vm.max_map_count`.
pub(super) fn guard_failure_hint(err: &std::io::Error, kind: GuardKind) -> Option<String> {
    if kind != GuardKind::Mprotect || err.raw_os_error() != Some(libc::ENOMEM) {
        return None;
    }
    let limit = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    Some(format!(
        "the process reached the kernel's limit on memory mappings \
         (vm.max_map_count = {limit}). This kernel has no lightweight guard regions \
         (Linux 6.13+), or RUNTIME_GUARD=mprotect asked for classic guard pages, so each \
         goroutine stack costs 2 mappings. Raise the limit, e.g. \
         `sudo sysctl -w vm.max_map_count=1048576`, or run fewer goroutines at once."
    ))
}

/// `/proc/cpuinfo`'s model name (x86) or CPU part (arm64).
pub(super) fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let field = |key: &str| {
        info.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    field("model name").or_else(|| field("CPU part").map(|p| format!("arm64 CPU part {p}")))
}

pub(super) fn kernel_release() -> Option<String> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    Some(format!("Linux {}", release.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_letter_follows_the_last_parenthesis() {
        assert_eq!(state_of_stat(b"123 (a) b) S 1 2 3"), ThreadState::Blocked);
        assert_eq!(state_of_stat(b"7 (x) R 0"), ThreadState::Running);
        assert_eq!(state_of_stat(b"7 (x) D 0"), ThreadState::Blocked);
        assert_eq!(state_of_stat(b"7 (x) t 0"), ThreadState::Stopped);
        assert_eq!(state_of_stat(b"garbage"), ThreadState::Unknown);
    }

    /// The batched release drops exactly the pages of its ranges, in one
    /// `process_madvise` where guard regions proved that call works (a
    /// stack is made first, which installs a region's guards that way),
    /// else through the one-by-one fallback.
    #[test]
    #[cfg(not(loom))]
    fn releasing_runs_zeroes_their_pages_and_only_theirs() {
        let _stack = crate::stack::Stack::new();
        let page = super::super::page_size();
        // SAFETY: a fresh private anonymous mapping of our own.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4 * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED);
        let at = |i: usize| base as usize + i * page;
        for i in 0..4 {
            // SAFETY: inside the mapping above.
            unsafe { std::ptr::write_bytes(at(i) as *mut u8, 0xA5, page) };
        }
        // SAFETY: nothing relies on pages 0 and 2 any more.
        unsafe { super::super::release_page_runs(&[(at(0), page), (at(2), page)]) }
            .expect("released");
        // SAFETY: inside the mapping; released pages read as zeroes.
        let first = |i: usize| unsafe { *(at(i) as *const u8) };
        assert_eq!((first(0), first(1), first(2), first(3)), (0, 0xA5, 0, 0xA5));
        if super::super::guard_kind() == Ok(super::super::GuardKind::Region) {
            assert_eq!(
                PROCESS_MADVISE_WORKS.load(std::sync::atomic::Ordering::Relaxed),
                1,
                "guard regions were installed by process_madvise, so the release used it too"
            );
        }
        // SAFETY: our mapping, no longer used.
        unsafe { libc::munmap(base, 4 * page) };
    }
}
