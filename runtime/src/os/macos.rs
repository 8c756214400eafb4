//! The OS layer on macOS, Apple Silicon and Intel (Go: `os_darwin.go`,
//! `mem_darwin.go`).
//!
//! What differs from Linux, and why it is fine for a student:
//! - pages are 16 KiB on Apple Silicon, so each stack's guard is 16 KiB (the
//!   usable stack is 112 KiB instead of 124 KiB);
//! - there are no guard regions, so every guard is an `mprotect`ed page
//!   (macOS has no `vm.max_map_count`; how many goroutines fit there is not
//!   measured);
//! - touching a `PROT_NONE` page raises `SIGBUS` (an unmapped address still
//!   raises `SIGSEGV`), so the stack-overflow handler listens for both;
//! - there is no `/proc`: thread states come from mach `thread_info`, resident
//!   memory from `proc_pidinfo`, the CPU count from `sysctl hw.ncpu`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{GuardKind, ThreadState};

pub(super) const NAME: &str = "macOS";

/// Go's `sigtable` on darwin treats both as a fault to report.
pub(super) const FAULT_SIGNALS: &[libc::c_int] = &[libc::SIGBUS, libc::SIGSEGV];

/// `MAP_NORESERVE` is accepted but does nothing on macOS, which commits
/// anonymous memory lazily anyway (Go's `sysReserve` on darwin passes none).
pub(super) const MAP_RESERVE_ONLY: libc::c_int = 0;

/// A thread, by its mach thread port (what `thread_info` takes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OsThread(libc::mach_port_t);

pub(super) fn current_thread() -> OsThread {
    // SAFETY: pthread_self is always valid for the calling thread, and
    // pthread_mach_thread_np only reads its port (no reference is taken: the
    // port stays valid while the thread lives, and Ms live for ever).
    OsThread(unsafe { libc::pthread_mach_thread_np(libc::pthread_self()) })
}

impl OsThread {
    /// The thread as a number that is never 0 (a mach port), for an atomic.
    pub fn to_raw(self) -> u64 {
        self.0 as u64
    }

    /// The thread [`to_raw`](Self::to_raw) gave this number for.
    pub fn from_raw(raw: u64) -> OsThread {
        OsThread(raw as libc::mach_port_t)
    }
}

/// mach `thread_info(THREAD_BASIC_INFO)` of `thread`, or `None`.
fn basic_info(thread: OsThread) -> Option<libc::thread_basic_info> {
    // SAFETY: thread_info fills at most `count` integers of the zeroed struct
    // we own, and reports the count it wrote.
    let (rc, info) = unsafe {
        let mut info: libc::thread_basic_info = std::mem::zeroed();
        let mut count = libc::THREAD_BASIC_INFO_COUNT;
        let rc = libc::thread_info(
            thread.0,
            libc::THREAD_BASIC_INFO as libc::thread_flavor_t,
            (&raw mut info).cast(),
            &mut count,
        );
        (rc, info)
    };
    (rc == libc::KERN_SUCCESS).then_some(info)
}

/// `THREAD_BASIC_INFO`'s user and system time (to the microsecond).
pub(super) fn thread_cpu_ns(thread: OsThread) -> Option<u64> {
    let info = basic_info(thread)?;
    let micros = |t: libc::time_value_t| t.seconds as u64 * 1_000_000 + t.microseconds as u64;
    Some((micros(info.user_time) + micros(info.system_time)) * 1_000)
}

/// `THREAD_BASIC_INFO`'s `run_state`.
pub(super) fn thread_state(thread: OsThread) -> ThreadState {
    let Some(info) = basic_info(thread) else {
        return ThreadState::Unknown;
    };
    match info.run_state {
        libc::TH_STATE_RUNNING => ThreadState::Running,
        libc::TH_STATE_WAITING | libc::TH_STATE_UNINTERRUPTIBLE => ThreadState::Blocked,
        libc::TH_STATE_STOPPED | libc::TH_STATE_HALTED => ThreadState::Stopped,
        _ => ThreadState::Unknown,
    }
}

/// `proc_pidinfo(PROC_PIDTASKINFO)`'s `pti_resident_size`: works for this
/// process and for this user's children (the grader's runs).
pub(super) fn resident_bytes_of(pid: libc::pid_t) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let size = std::mem::size_of::<libc::proc_taskinfo>() as libc::c_int;
    // SAFETY: proc_pidinfo writes at most `size` bytes into the zeroed struct
    // we own and returns how many it wrote.
    let (n, info) = unsafe {
        let mut info: libc::proc_taskinfo = std::mem::zeroed();
        let n = libc::proc_pidinfo(pid, libc::PROC_PIDTASKINFO, 0, (&raw mut info).cast(), size);
        (n, info)
    };
    (n == size).then_some(info.pti_resident_size)
}

/// `sysctl hw.ncpu` (Go: `getncpu`).
/// No futex on macOS (its `__ulock_wait` is private API): unless the word
/// already changed, nap for `bound` or 50 µs, whichever is shorter, since
/// no wakeup can cut the nap short. The caller re-checks either way.
pub(super) fn futex_wait(word: &AtomicU32, expected: u32, bound: Duration) {
    if word.load(Ordering::Relaxed) == expected {
        std::thread::sleep(bound.min(Duration::from_micros(50)));
    }
}

/// Nothing to wake: [`futex_wait`] naps for a bounded time.
pub(super) fn futex_wake(_word: &AtomicU32) {}

pub(super) fn cpu_count() -> usize {
    let mut n: libc::c_int = 0;
    let mut len = std::mem::size_of_val(&n);
    // SAFETY: sysctlbyname writes at most `len` bytes into `n`.
    let rc = unsafe {
        libc::sysctlbyname(
            c"hw.ncpu".as_ptr(),
            (&raw mut n).cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    if rc == 0 && n > 0 {
        n as usize
    } else {
        1
    }
}

/// macOS has no guard regions.
pub(super) fn guard_regions_work() -> bool {
    false
}

/// Never chosen (see [`guard_regions_work`]); asked for anyway, it fails.
///
/// # Safety
/// As [`super::install_guard`].
pub(super) unsafe fn install_guard_region(_at: usize, _len: usize) -> std::io::Result<()> {
    Err(std::io::Error::from_raw_os_error(libc::ENOTSUP))
}

/// macOS has no `membarrier`: stack compaction, which needs it, is off.
pub(super) fn register_process_barrier() -> bool {
    false
}

/// See [`register_process_barrier`].
pub(super) fn process_barrier() -> bool {
    false
}

/// No `MADV_POPULATE_WRITE` on macOS: pages come in at their first write.
pub(super) fn populate_pages(_starts: &[usize], _len: usize) -> bool {
    false
}

/// Not used on macOS (stack compaction is Linux-only).
///
/// # Safety
/// As on Linux.
pub(super) unsafe fn release_pages(_at: usize, _len: usize) -> std::io::Result<()> {
    Err(std::io::Error::from_raw_os_error(libc::ENOTSUP))
}

/// Not used on macOS (stack compaction is Linux-only).
///
/// # Safety
/// As on Linux.
pub(super) unsafe fn release_page_runs(_runs: &[(usize, usize)]) -> std::io::Result<bool> {
    Ok(false)
}

/// No guard regions on macOS: nothing to batch.
///
/// # Safety
/// As on Linux.
pub(super) unsafe fn install_guard_regions(
    _starts: &[usize],
    _len: usize,
) -> std::io::Result<bool> {
    Ok(false)
}

/// macOS has no small cap on mappings to name; the error says the rest.
pub(super) fn guard_failure_hint(_err: &std::io::Error, _kind: GuardKind) -> Option<String> {
    None
}

/// A string-valued `sysctl`.
fn sysctl_string(name: &std::ffi::CStr) -> Option<String> {
    let mut buf = [0u8; 256];
    let mut len = buf.len();
    // SAFETY: sysctlbyname writes at most `len` bytes into `buf` and sets
    // `len` to what it wrote.
    let rc = unsafe {
        libc::sysctlbyname(
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    if rc != 0 {
        return None;
    }
    let text = &buf[..len.min(buf.len())];
    let text = text.split(|&b| b == 0).next().unwrap_or_default();
    Some(String::from_utf8_lossy(text).trim().to_string()).filter(|s| !s.is_empty())
}

/// `machdep.cpu.brand_string` ("Apple M2", "Intel(R) Core(TM) i7-...").
pub(super) fn cpu_model() -> Option<String> {
    sysctl_string(c"machdep.cpu.brand_string")
}

/// `kern.osproductversion` ("14.5").
pub(super) fn kernel_release() -> Option<String> {
    sysctl_string(c"kern.osproductversion").map(|v| format!("macOS {v}"))
}
