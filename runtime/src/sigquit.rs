//! Ctrl-\ (SIGQUIT): print every goroutine's stack and exit 2, as Go does
//! (Go's `sighandler` for SIGQUIT, then `tracebackothers`).
//!
//! Lesson idea: a program that hangs without deadlocking (a goroutine
//! spinning, a thread blocked outside the runtime) can still be asked what
//! every goroutine is doing.
//!
//! A signal handler may only do async-signal-safe things (no allocation,
//! no lock: the thread it interrupted may hold the allocator's lock), so
//! the SIGQUIT handler only raises a flag; sysmon, a thread that never runs
//! goroutine code and so is never stuck in it, sees the flag within one
//! nap and prints the dump (`traceback::sigquit`). The stacks of goroutines
//! that are *running* can only be read by their own thread: the dump sends
//! each M a SIGURG (the signal Go uses to preempt), and the handler walks
//! the interrupted goroutine's frame pointers into a slot the dump reads
//! ([`capture_running`]). Read racily, and said so where it happens: the
//! other goroutines' statuses and stacks (they may move while we look).

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::m::M;
use crate::traceback::MAX_FRAMES;

/// Install the SIGQUIT handler: on the current stack (an M's alternate
/// stack may be busy with a fault), restarting interrupted system calls.
pub(crate) fn install() {
    // SAFETY: a plain sigaction call with a zero-initialised struct that we
    // fill in.
    unsafe {
        let mut quit: libc::sigaction = std::mem::zeroed();
        quit.sa_sigaction = on_sigquit as *const () as usize;
        quit.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigemptyset(&mut quit.sa_mask);
        libc::sigaction(libc::SIGQUIT, &quit, std::ptr::null_mut());
    }
}

/// List the calling thread, a new M, for [`capture_running`].
pub(crate) fn on_new_m() {
    if let Some(m) = crate::m::current_m() {
        // SAFETY: pthread_self has no preconditions.
        let thread = unsafe { libc::pthread_self() } as usize;
        threads().push((m, thread));
    }
}

// ---------------------------------------------------------------------------
// SIGQUIT: Ctrl-\ prints every goroutine
// ---------------------------------------------------------------------------

/// Set by the SIGQUIT handler, read by sysmon.
static QUIT: AtomicBool = AtomicBool::new(false);
/// What the handler saw, for the dump's `PC=... m=... sigcode=...` line.
static QUIT_PC: AtomicUsize = AtomicUsize::new(0);
static QUIT_M: AtomicU64 = AtomicU64::new(u64::MAX);
static QUIT_CODE: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_sigquit(_: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // Only atomic stores and the thread-local pointer read (a const
    // thread-local without destructor, as in `handler`): async-signal safe.
    if QUIT.load(Ordering::Relaxed) {
        return; // A dump is under way.
    }
    QUIT_PC.store(context_of(ctx).map_or(0, |c| c.pc), Ordering::Relaxed);
    QUIT_M.store(
        crate::m::current_m().map_or(u64::MAX, |m| m.id),
        Ordering::Relaxed,
    );
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    QUIT_CODE.store(unsafe { (*info).si_code } as usize, Ordering::Relaxed);
    QUIT.store(true, Ordering::Release);
}

/// A SIGQUIT arrived: `Some((pc, m id, si_code))` of where it landed
/// (m id `u64::MAX`: a thread that is not an M). Sysmon asks on every look.
pub(crate) fn quit_requested() -> Option<(usize, u64, usize)> {
    QUIT.load(Ordering::Acquire).then(|| {
        (
            QUIT_PC.load(Ordering::Relaxed),
            QUIT_M.load(Ordering::Relaxed),
            QUIT_CODE.load(Ordering::Relaxed),
        )
    })
}

// ---------------------------------------------------------------------------
// Reading the stacks of running goroutines
// ---------------------------------------------------------------------------

/// Every M's OS thread (`pthread_t` as a number), for `pthread_kill`.
fn threads() -> std::sync::MutexGuard<'static, Vec<(&'static M, usize)>> {
    static THREADS: Mutex<Vec<(&'static M, usize)>> = Mutex::new(Vec::new());
    THREADS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registers of an interrupted thread.
#[derive(Clone, Copy)]
struct Context {
    pc: usize,
    sp: usize,
    fp: usize,
}

/// The interrupted registers, from the `ucontext_t` the kernel passes.
#[allow(unused_variables)]
fn context_of(ctx: *mut libc::c_void) -> Option<Context> {
    if ctx.is_null() {
        return None;
    }
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    // SAFETY: for an SA_SIGINFO handler the third argument is the
    // interrupted thread's ucontext_t.
    unsafe {
        let g = &(*ctx.cast::<libc::ucontext_t>()).uc_mcontext.gregs;
        return Some(Context {
            pc: g[libc::REG_RIP as usize] as usize,
            sp: g[libc::REG_RSP as usize] as usize,
            fp: g[libc::REG_RBP as usize] as usize,
        });
    }
    #[cfg(all(target_os = "linux", target_arch = "aarch64"))]
    // SAFETY: as above.
    unsafe {
        let m = &(*ctx.cast::<libc::ucontext_t>()).uc_mcontext;
        return Some(Context {
            pc: m.pc as usize,
            sp: m.sp as usize,
            fp: m.regs[29] as usize,
        });
    }
    #[cfg(all(target_os = "macos", target_arch = "x86_64"))]
    // SAFETY: as above; uc_mcontext points to the saved state.
    unsafe {
        let ss = &(*(*ctx.cast::<libc::ucontext_t>()).uc_mcontext).__ss;
        return Some(Context {
            pc: ss.__rip as usize,
            sp: ss.__rsp as usize,
            fp: ss.__rbp as usize,
        });
    }
    #[cfg(all(target_os = "macos", target_arch = "aarch64"))]
    // SAFETY: as above.
    unsafe {
        let ss = &(*(*ctx.cast::<libc::ucontext_t>()).uc_mcontext).__ss;
        return Some(Context {
            pc: ss.__pc as usize,
            sp: ss.__sp as usize,
            fp: ss.__fp as usize,
        });
    }
    #[allow(unreachable_code)]
    None
}

/// Where one M writes what its goroutine was doing when the SIGURG came.
struct Slot {
    /// Set by the dump before signalling; cleared by the handler.
    requested: AtomicBool,
    /// Set by the handler when it is done (even with nothing to say).
    done: AtomicBool,
    /// The goroutine it found running (0: none, e.g. in the scheduler).
    goid: AtomicU64,
    len: AtomicUsize,
    /// The interrupted pc, then the return addresses of the frames.
    pcs: [AtomicUsize; MAX_FRAMES],
}

/// The slots of the capture under way, indexed by M id (null: none).
static SLOTS: AtomicPtr<Slot> = AtomicPtr::new(std::ptr::null_mut());
static NSLOTS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_sigurg(_: libc::c_int, _: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // Async-signal safe: atomics, the thread-local M pointer, and reads of
    // this goroutine's own stack (bounded by `stack.rs`).
    let Some(m) = crate::m::current_m() else {
        return;
    };
    let slots = SLOTS.load(Ordering::Acquire);
    let id = m.id as usize;
    if slots.is_null() || id >= NSLOTS.load(Ordering::Acquire) {
        return;
    }
    // SAFETY: the slots are leaked (never freed) once published, and `id`
    // is in bounds.
    let slot = unsafe { &*slots.add(id) };
    if !slot.requested.swap(false, Ordering::AcqRel) {
        return;
    }
    if let (Some(g), Some(c)) = (m.curg(), context_of(ctx)) {
        // Only if the thread was on a goroutine stack, and the frame
        // pointer lies on that same stack: in the scheduler, `curg` may be
        // set while the M still runs on its own stack.
        let stack = crate::stack::usable_bounds(c.sp);
        if stack.is_some() && stack == crate::stack::usable_bounds(c.fp) {
            let mut buf = [0usize; MAX_FRAMES];
            buf[0] = c.pc;
            let n = 1 + crate::traceback::walk_frame_pointers(c.fp, &mut buf[1..]);
            for (dst, &pc) in slot.pcs.iter().zip(&buf[..n]) {
                dst.store(pc, Ordering::Relaxed);
            }
            slot.len.store(n, Ordering::Relaxed);
            slot.goid.store(g.goid(), Ordering::Relaxed);
        }
    }
    slot.done.store(true, Ordering::Release);
}

/// Ask every M but the caller's where its running goroutine is, and wait
/// (at most half a second) for the answers: `(goid, pcs)` with the exact
/// interrupted pc first, then return addresses. An M that does not answer
/// in time (its thread blocks signals, or is not scheduled) is left out,
/// and its goroutine shows as "stack unavailable".
///
/// One capture per process: the caller is about to print a fatal report
/// and exit. The goroutines keep running after they answered: this is a
/// snapshot taken M by M, not a stopped world.
pub(crate) fn capture_running() -> Vec<(u64, Vec<usize>)> {
    static ONCE: AtomicBool = AtomicBool::new(false);
    if ONCE.swap(true, Ordering::AcqRel) {
        return Vec::new();
    }
    // SAFETY: installing a handler for SIGURG, which the runtime uses for
    // nothing else; from here on the process only prints and exits.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigurg as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGURG, &action, std::ptr::null_mut());
    }
    let me = crate::m::current_m().map(|m| m.id);
    let targets: Vec<(&'static M, usize)> = threads()
        .iter()
        .copied()
        .filter(|(m, _)| Some(m.id) != me && m.curg().is_some())
        .collect();
    let n = targets
        .iter()
        .map(|(m, _)| m.id as usize + 1)
        .max()
        .unwrap_or(0);
    let slots: &'static [Slot] = Vec::leak(
        (0..n)
            .map(|_| Slot {
                requested: AtomicBool::new(false),
                done: AtomicBool::new(false),
                goid: AtomicU64::new(0),
                len: AtomicUsize::new(0),
                pcs: [const { AtomicUsize::new(0) }; MAX_FRAMES],
            })
            .collect(),
    );
    NSLOTS.store(n, Ordering::Release);
    SLOTS.store(slots.as_ptr().cast_mut(), Ordering::Release);
    for (m, thread) in &targets {
        slots[m.id as usize]
            .requested
            .store(true, Ordering::Release);
        // SAFETY: `thread` is the pthread_t of a live M (Ms never exit).
        unsafe { libc::pthread_kill(*thread as libc::pthread_t, libc::SIGURG) };
    }
    let deadline = Instant::now() + Duration::from_millis(500);
    while Instant::now() < deadline
        && !targets
            .iter()
            .all(|(m, _)| slots[m.id as usize].done.load(Ordering::Acquire))
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    let mut found = Vec::new();
    for (m, _) in &targets {
        let slot = &slots[m.id as usize];
        if !slot.done.load(Ordering::Acquire) {
            continue;
        }
        let goid = slot.goid.load(Ordering::Relaxed);
        let len = slot.len.load(Ordering::Relaxed);
        if goid != 0 && len > 0 {
            let pcs = slot.pcs[..len]
                .iter()
                .map(|p| p.load(Ordering::Relaxed))
                .collect();
            found.push((goid, pcs));
        }
    }
    found
}
