//! What the workloads read from the kernel: resident memory, context
//! switches, CPU affinity; and the CPU-bound work used for the speedup row.

/// Resident set size of this process, in bytes, from the runtime's OS layer
/// (Linux: `/proc/self/statm`, page tables not included; macOS:
/// `proc_pidinfo`'s resident size).
pub fn rss_bytes() -> u64 {
    runtime::os::resident_bytes().expect("the OS layer reports resident memory on Linux and macOS")
}

/// The peak resident size of this process so far, in bytes
/// (`getrusage(RUSAGE_SELF)`'s `ru_maxrss`: KiB on Linux, bytes on macOS).
pub fn peak_rss_bytes() -> u64 {
    // SAFETY: getrusage fills the zeroed struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let unit = if cfg!(target_os = "macos") { 1 } else { 1024 };
    usage.ru_maxrss as u64 * unit
}

/// Bytes of this process's page tables (Linux: `VmPTE` in
/// `/proc/self/status`); `None` elsewhere. Resident sizes leave them out,
/// yet they are memory the process costs: a goroutine stack reserved
/// 128 KiB from its neighbours needs its own page-table entries, one 4 KiB
/// page of them per sixteen stacks.
pub fn page_table_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmPTE:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Voluntary plus involuntary context switches of every thread of this
/// process so far (`getrusage(RUSAGE_SELF)`: `ru_nvcsw + ru_nivcsw`).
pub fn context_switches() -> u64 {
    // SAFETY: getrusage fills the zeroed struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    (usage.ru_nvcsw + usage.ru_nivcsw) as u64
}

/// Restrict this process to its first `n` allowed CPUs: how the OS-thread
/// peer gets a "GOMAXPROCS" for the speedup row. False where the OS cannot
/// (macOS has no CPU affinity), so that no figure is printed instead of a
/// wrong one.
#[cfg(target_os = "linux")]
pub fn limit_cpus(n: usize) -> bool {
    // SAFETY: sched_{get,set}affinity on this process with a cpu_set_t we own.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) != 0 {
            return false;
        }
        let mut keep: libc::cpu_set_t = std::mem::zeroed();
        let mut kept = 0;
        for cpu in 0..libc::CPU_SETSIZE as usize {
            if kept < n && libc::CPU_ISSET(cpu, &set) {
                libc::CPU_SET(cpu, &mut keep);
                kept += 1;
            }
        }
        libc::sched_setaffinity(0, std::mem::size_of_val(&keep), &keep) == 0
    }
}

/// See the Linux version: macOS cannot hold threads to `n` CPUs.
#[cfg(not(target_os = "linux"))]
pub fn limit_cpus(_n: usize) -> bool {
    false
}

/// CPU-bound work that calls nothing: `iters` rounds of xorshift. The result
/// goes through `black_box` so the loop is not optimised away.
pub fn cpu_work(iters: u64) -> u64 {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..iters {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    std::hint::black_box(x)
}

/// GOMAXPROCS the driver asked for (the child's environment).
pub fn procs() -> usize {
    std::env::var("GOMAXPROCS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}
