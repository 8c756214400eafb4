//! The goroutine API: `go`, `gosched`, `gomaxprocs`, `main`, `gopark` and
//! `goready`, the panic hook, and the runtime's start-up (Go's `newproc`,
//! `Gosched`, `GOMAXPROCS`, `gopark`, `goready`, `fatalpanic`,
//! `rt0_go`/`schedinit`/`main` in `proc.go` and `panic.go`).
//!
//! Lesson idea: "the keyword `go` creates a goroutine; it does not run it
//! now, it schedules it". `go(f)` makes a G, puts it in `runnext` of the
//! current P and wakes an idle P if there is one. When `main`'s goroutine
//! returns, the program exits at once, whatever the other goroutines are
//! doing: that is why we must wait for them.

use std::panic::{Location, PanicHookInfo};
use std::sync::{Condvar, LazyLock, Mutex, Once};

use crate::fatal::{exit, throw, write_stderr};
use crate::funcval::FuncVal;
use crate::g::{switch_to_scheduler, GRef, Status, WaitReason, Yield};
use crate::m::{current_g, current_m, current_p};
use crate::p::P;
use crate::sched::Sched;
use crate::sync_facade::Ordering;

static SCHED: LazyLock<Sched> = LazyLock::new(Sched::new);
static INIT: Once = Once::new();

/// The process-wide scheduler, started on first use (Go's `schedinit`).
pub(crate) fn sched() -> &'static Sched {
    INIT.call_once(|| {
        let sched: &'static Sched = &SCHED;
        sched.set_global();
        crate::schedtrace::init();
        crate::trace::init(sched);
        crate::g::set_on_panic(goroutine_panicked);
        crate::g::set_on_lost_p(crate::implicit_syscall::settle_at_return);
        crate::traceback::set_world(|| {
            let allgs = crate::sync_facade::lock(&sched_unchecked().allgs).clone();
            (allgs, crate::sigquit::capture_running())
        });
        sched.procresize(initial_gomaxprocs());
        // The M's thread-local is a plain pointer (const-initialised, no
        // destructor) and `curg` an atomic: async-signal safe.
        crate::signal::install(|| current_g().map_or(0, |g| g.goid()));
        crate::sigquit::install();
        install_panic_hook();
        crate::implicit_syscall::install(crate::implicit_syscall::Hooks {
            preempt: preempt_g,
            exitsyscall: crate::syscall::exitsyscall,
        });
        crate::implicit_syscall::init();
        crate::sysmon::set_retake_blocked(crate::implicit_syscall::retake_blocked);
        crate::sysmon::start(sched);
    });
    &SCHED
}

/// The scheduler without the start-up check, for code that only runs once it
/// started (and may run during start-up itself).
pub(crate) fn sched_unchecked() -> &'static Sched {
    &SCHED
}

/// GOMAXPROCS at start: the environment variable if it is a positive
/// 32-bit number, else the number of CPUs this process may use (Go's
/// `schedinit`, `ncpu`: `atoi32`, `n > 0`; anything else, `abc`, `0`, `-1`,
/// `99999999999`, is ignored). Above
/// [`MAX_GOMAXPROCS`](crate::p::MAX_GOMAXPROCS) it is clamped, as
/// [`gomaxprocs`] says.
fn initial_gomaxprocs() -> usize {
    std::env::var("GOMAXPROCS")
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
        .filter(|&n| n > 0)
        .map(|n| n as usize)
        .unwrap_or_else(crate::os::cpu_count)
}

/// Start a goroutine running `f` (Go's `go f()`).
///
/// The new goroutine goes into `runnext` of the current P, ahead of the
/// others, and an idle P is woken to run it if there is one. It does not run
/// before the caller blocks or yields when there is only one P.
///
/// ```
/// use runtime::WaitGroup;
/// use std::sync::Arc;
///
/// runtime::block_on(|| {
///     let wg = Arc::new(WaitGroup::new());
///     wg.add(1);
///     let wg2 = wg.clone();
///     runtime::go(move || {
///         runtime::println!("hello from a goroutine");
///         wg2.done();
///     });
///     wg.wait();
/// });
/// ```
///
/// # Goroutines move between threads
///
/// After any runtime call (`print!`, a channel operation, `wait`, `gosched`,
/// `go`...) a goroutine may continue on another OS thread (M). Do not hold a
/// value that must stay on one thread across such a call: a `!Send` guard
/// (`std::io::stdout().lock()`, a `MutexGuard`), an `Rc` shared with another
/// goroutine, or a borrow of a `thread_local!`. The compiler cannot catch
/// this (the closure is `Send`, but what it keeps on its stack at the call
/// is not checked); breaking the rule can deadlock or corrupt that value.
///
/// Thread-locals: a function that calls into the runtime must not touch
/// `thread_local!` storage *at all*, even with nothing held across the
/// call: LLVM may compute the thread-local's address once per function
/// (llvm#98479) and use the previous thread's slot after the switch. Use
/// [`goroutine_local!`](crate::goroutine_local) for per-goroutine state,
/// and [`runtime::sync`](crate::sync) rather than `std::sync` locks.
#[doc(alias = "newproc")]
#[track_caller]
// Always inlined, so that `here_pc` is an address inside the function that
// called `go`: `created by` names it (Go's `getcallerpc` in `newproc`).
#[inline(always)]
pub fn go<F>(f: F)
where
    F: FnOnce() + Send + 'static,
{
    spawn(f, Location::caller(), crate::traceback::here_pc(), false);
}

/// Start a goroutine from a firing timer (`time::after_func`, Go's
/// `goFunc`): like [`go`], but the caller is the scheduler (an M between
/// goroutines, or sysmon), which must not yield. The goroutine is queued on
/// the firing M's P, or globally from sysmon.
#[track_caller]
pub(crate) fn go_from_timer<F>(f: F)
where
    F: FnOnce() + Send + 'static,
{
    let sched = sched();
    let p = current_p();
    let g = newproc(sched, p, f, 0, Location::caller(), 0);
    sched.runqput(g, p);
    crate::trace::event(crate::trace::Event::Go { g });
}

/// Create a G that will run `f`, reusing a dead one when possible (Go's
/// `newproc1`). The G is returned Runnable but not queued. It gets no stack
/// yet: only when it first runs (see `g.rs`, `gostart`).
fn newproc<F>(
    sched: &Sched,
    p: Option<&'static P>,
    f: F,
    parent: u64,
    at: &'static Location<'static>,
    creator_pc: usize,
) -> GRef
where
    F: FnOnce() + Send + 'static,
{
    // SAFETY: `p` is the P of the calling M (`current_p()`), or P0, which
    // `main` just acquired.
    let mut owned = p.map(|p| unsafe { p.owned() });
    let g = sched.gfget(owned.as_mut()).unwrap_or_else(|| sched.malg());
    g.init_live(sched.next_goid(), parent, at, creator_pc);
    // SAFETY: `g` is Free and in no queue: we are its only owner.
    let exec = unsafe { g.exec.get() };
    debug_assert!(
        exec.coro.is_none() && !exec.start.is_set(),
        "newproc: G not free"
    );
    exec.start = FuncVal::new(f);
    sched.ngoroutines.fetch_add(1, Ordering::Relaxed);
    g.set_status(Status::Free, Status::Runnable);
    g
}

fn spawn<F>(f: F, at: &'static Location<'static>, creator_pc: usize, catches_panics: bool) -> GRef
where
    F: FnOnce() + Send + 'static,
{
    let sched = sched();
    // Uses the caller's P (its free Gs, its run queue).
    let rt = crate::implicit_syscall::enter();
    let parent = rt.g().map_or(0, |g| g.goid());
    let p = current_p();
    let g = newproc(sched, p, f, parent, at, creator_pc);
    g.catches_panics.store(catches_panics, Ordering::Relaxed);
    sched.runqput(g, p);
    crate::trace::event(crate::trace::Event::Go { g });
    if let Some(me) = rt.g() {
        preempt_g(me);
    }
    g
}

/// Yield the processor: the current goroutine goes to the global run queue
/// and others run (Go's `runtime.Gosched`). Outside a goroutine, yields the
/// OS thread.
pub fn gosched() {
    let _rt = crate::implicit_syscall::enter();
    match current_g() {
        Some(g) if g.status() == Status::Syscall => throw("gosched inside runtime::syscall"),
        // Unwinding from a panic: stay on this thread (see `preempt_point`).
        Some(_) if std::thread::panicking() => std::thread::yield_now(),
        Some(g) => switch_to_scheduler(g, Yield::Gosched),
        None => std::thread::yield_now(),
    }
}

/// Set the number of Ps and return the previous value; `0` only queries
/// (Go's `runtime.GOMAXPROCS`). Takes effect at once: new Ps start taking
/// work, surplus Ps are retired at their next scheduling point.
///
/// Where we differ from Go: Go has no upper limit (since 1.10); here a
/// value above [`MAX_GOMAXPROCS`](crate::p::MAX_GOMAXPROCS) (256) is
/// clamped to it, and `gomaxprocs(0)` then reports 256. (Go's `n < 0` has
/// no counterpart: `n` is unsigned.)
///
/// ```
/// runtime::block_on(|| {
///     let before = runtime::gomaxprocs(2);
///     assert_eq!(runtime::gomaxprocs(0), 2);
///     runtime::gomaxprocs(before);
/// });
/// ```
#[doc(alias = "GOMAXPROCS")]
pub fn gomaxprocs(n: usize) -> usize {
    let sched = sched();
    if n == 0 {
        return sched.gomaxprocs();
    }
    let _rt = crate::implicit_syscall::enter();
    let old = sched.set_gomaxprocs(n);
    // If our own P was just retired, move to a live one.
    if let (Some(_), Some(p)) = (current_g(), current_p()) {
        if p.id >= n {
            gosched();
        }
    }
    old
}

/// Number of goroutines that exist now (Go's `runtime.NumGoroutine`).
///
/// ```
/// runtime::block_on(|| assert!(runtime::num_goroutine() >= 1));
/// ```
pub fn num_goroutine() -> usize {
    sched().num_goroutine()
}

/// Compact the stack of every goroutine parked right now in a wait that
/// allows it (WaitGroup, Mutex, RWMutex, Cond, sleep; not channels), however
/// briefly: its bytes go to a small buffer and its pages back to the
/// kernel until it runs again (`compact.rs`). sysmon does this by itself
/// for goroutines parked 20 ms or more; this is for a program that knows it
/// is about to sit idle, as Go's `runtime.GC()` (which shrinks stacks) or
/// `debug.FreeOSMemory()` is. Returns how many were compacted; 0 where
/// compaction is off (macOS, `RUNTIME_STACK_COMPACT=off`).
///
/// ```
/// runtime::block_on(|| {
///     let n = runtime::compact_stacks();
///     assert!(n <= runtime::num_goroutine());
/// });
/// ```
pub fn compact_stacks() -> usize {
    crate::compactor::compact_all(sched())
}

/// Run `f` as the main goroutine (goroutine 1) and exit the process with
/// status 0 as soon as it returns, like a Go program's `main.main`: other
/// goroutines are not waited for. The calling thread becomes M0.
///
/// A panic in any goroutine prints Go's report and exits with status 2; so
/// does a deadlock.
pub fn main<F>(f: F) -> !
where
    F: FnOnce() + Send + 'static,
{
    static MAIN_RUNNING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if MAIN_RUNNING.swap(true, std::sync::atomic::Ordering::AcqRel) {
        // Nested in main's goroutine, or from another thread: the calling
        // thread would become a second M0 (or the process would exit when
        // either main returns). A Go program has one `main.main`.
        crate::fatal::throw(
            "runtime::main called while the runtime's main is running (nested, or from a \
             second thread); a program has one runtime::main: start goroutines with \
             runtime::go, or use runtime::block_on outside it",
        );
    }
    let sched = sched();
    let m0 = crate::m::become_m(sched);
    let p0 = {
        let mut locked = sched.lock();
        let idx = locked
            .pidle
            .iter()
            .position(|p| p.id == 0)
            .expect("P0 is idle at start");
        let p0 = locked.pidle.swap_remove(idx);
        sched.npidle.fetch_sub(1, Ordering::SeqCst);
        p0
    };
    sched.acquirep(m0, p0);
    crate::trace::m_started(m0);
    let g1 = newproc(
        sched,
        Some(p0),
        move || {
            f();
            exit(0)
        },
        0,
        Location::caller(),
        0,
    );
    // Into the ring, not runnext: main starts a fresh time slice, so P0's
    // schedtick is 1 when user code first yields (tick 0 would make the
    // very first decision look at the global queue: "every 61st tick").
    // SAFETY: M0 (this thread) just acquired P0.
    unsafe { p0.owned() }.runqput(g1, false, |_| unreachable!("empty queue cannot overflow"));
    crate::trace::event(crate::trace::Event::Go { g: g1 });
    crate::m::schedule(sched, m0)
}

/// Run `f` on a goroutine and block the calling OS thread until it returns,
/// giving back its result. Meant for tests, benchmarks and doc examples,
/// where the process must outlive one program. A panic in `f` is passed on
/// to the caller; a panic in any other goroutine ends the process as in Go.
///
/// ```
/// let answer = runtime::block_on(|| 6 * 7);
/// assert_eq!(answer, 42);
/// ```
#[track_caller]
pub fn block_on<T, F>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    type Slot<T> = (Mutex<Option<std::thread::Result<T>>>, Condvar);
    let slot: std::sync::Arc<Slot<T>> = std::sync::Arc::new((Mutex::new(None), Condvar::new()));
    let theirs = slot.clone();
    let caller = crate::deadlock::BlockOnCaller::enter();
    let returning = caller.returning();
    spawn(
        move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            // Count the caller as running *before* it can see the result:
            // once this goroutine ends, an idle M may look for deadlock.
            returning.count();
            let (lock, cv) = &*theirs;
            *lock.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
            cv.notify_all();
        },
        Location::caller(),
        crate::traceback::here_pc(),
        true,
    );
    let (lock, cv) = &*slot;
    let mut guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    let result = loop {
        if let Some(r) = guard.take() {
            break r;
        }
        guard = cv.wait(guard).unwrap_or_else(|e| e.into_inner());
    };
    drop(guard);
    drop(caller);
    match result {
        Ok(v) => v,
        Err(payload) => std::panic::resume_unwind(payload),
    }
}

/// Park `g`, the running goroutine (Go's `gopark`): record why and where, switch
/// to the scheduler, and let it run `unlock` once we are off our stack.
pub(crate) fn gopark<U: FnOnce()>(
    g: GRef,
    unlock: U,
    reason: WaitReason,
    at: &'static Location<'static>,
) {
    debug_assert!(
        current_g().is_some_and(|c| std::ptr::eq(c, g)),
        "gopark: not the running goroutine"
    );
    if g.status() == Status::Syscall {
        throw(&format!(
            "blocking runtime call ({}) inside runtime::syscall",
            reason.as_str()
        ));
    }
    crate::implicit_syscall::assert_in_section(g);
    g.set_wait(reason, at);
    let mut unlock = Some(unlock);
    let mut call = move || {
        if let Some(u) = unlock.take() {
            u()
        }
    };
    let ptr: *mut (dyn FnMut() + '_) = &mut call;
    // SAFETY: only the lifetime is erased. The scheduler calls the closure
    // exactly once, right after this G switched away and before anyone can
    // resume it, while `call` is still alive on this (suspended) stack.
    let ptr: *mut (dyn FnMut() + 'static) = unsafe { std::mem::transmute(ptr) };
    switch_to_scheduler(g, Yield::Park(ptr));
}

/// Make a parked goroutine runnable on the caller's P (Go's `goready`).
#[inline]
pub(crate) fn goready(g: GRef) {
    debug_assert_eq!(g.status(), Status::Waiting);
    if cfg!(debug_assertions) {
        if let Some(me) = current_g() {
            crate::implicit_syscall::assert_in_section(me);
        }
    }
    sched().ready(g, current_p());
}

/// A preemption point: if sysmon asked the running goroutine to yield, yield
/// now (Go's stack-guard check in function prologues, made explicit). It is
/// also a runtime entry (see `implicit_syscall.rs`): a goroutine whose P
/// sysmon took while its thread blocked gets one back here.
#[inline]
pub fn preempt_point() {
    if let Some(g) = current_g() {
        if g.preempt.load(Ordering::Relaxed) {
            preempt_requested(g);
        }
    }
}

/// A preemption point was asked to yield: yield inside a runtime section
/// (the switch hands the P to the scheduler, so the P must be ours; see
/// `implicit_syscall.rs`).
#[cold]
#[inline(never)]
fn preempt_requested(g: GRef) {
    let _rt = crate::implicit_syscall::enter_as(g);
    preempt_g(g);
}

/// The preemption check of [`preempt_point`] for `g`, the running
/// goroutine, inside a runtime section.
#[inline]
pub(crate) fn preempt_g(g: GRef) {
    // Inside `runtime::syscall` the goroutine has no P to yield: it
    // keeps the request for after the call.
    // Nor does a goroutine that is unwinding from a panic: it must not
    // change threads before `catch_unwind` ends the panic (std counts
    // panics per thread; see `Waiter::current`).
    if g.preempt.load(Ordering::Relaxed)
        && g.status() != Status::Syscall
        && !std::thread::panicking()
        && g.preempt.swap(false, Ordering::AcqRel)
    {
        switch_to_scheduler(g, Yield::Preempted);
    }
}

/// Number of Ms (OS threads that run goroutines) created so far; sysmon is
/// not counted. Ms are never destroyed: an M that blocked in a
/// [`syscall`](crate::syscall) and lost its P waits idle for the next one. Go
/// shows this number as the `threadcreate` profile.
///
/// ```
/// runtime::block_on(|| assert!(runtime::num_threads() >= 1));
/// ```
pub fn num_threads() -> usize {
    sched().lock().mcount as usize
}

/// The id of the M (OS thread) running the caller, if it is one. Lessons use
/// it to show which thread ran what.
pub fn current_m_id() -> Option<u64> {
    current_m().map(|m| m.id)
}

/// The id of the calling goroutine (Go hides this; lessons show it).
pub fn current_goid() -> Option<u64> {
    current_g().map(|g| g.goid())
}

/// Install the panic hook that turns a goroutine's panic into Go's report
/// (Go's `fatalpanic` / `printpanics`): `panic: <msg>`, a blank line,
/// `goroutine N [running]:` and where it panicked, exit 2. Go does not let
/// a panicking goroutine die alone: the whole program stops, so the bug
/// cannot go unnoticed.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Writing the report is the runtime's work, however long it
            // takes (symbolizing reads the debug info): a runtime section,
            // so sysmon does not hand the P off meanwhile as if the
            // goroutine blocked in its own code (`implicit_syscall.rs`).
            let _rt = crate::implicit_syscall::enter();
            match current_g() {
                // The root of `block_on`: its caller receives the panic.
                Some(g) if g.catches_panics.load(Ordering::Relaxed) => previous(info),
                // A goroutine: keep the report for the top of the goroutine
                // (`gostart` in `g.rs`), and let the panic unwind: its
                // `Drop`s run, and a `catch_unwind` may recover it.
                Some(g) => {
                    let report =
                        crate::traceback::panic_report(g, &payload_text(info), info.location());
                    *g.panic_report.lock().unwrap_or_else(|e| e.into_inner()) = Some(report);
                }
                // The scheduler itself on an M: a runtime bug, Go's `throw`.
                None if current_m().is_some() => {
                    let at = info
                        .location()
                        .map(|l| format!(" at {}:{}", l.file(), l.line()))
                        .unwrap_or_default();
                    throw(&format!("{}{at}", payload_text(info)))
                }
                None => previous(info),
            }
        }));
    });
}

fn payload_text(info: &PanicHookInfo<'_>) -> String {
    if let Some(s) = info.payload().downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = info.payload().downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

/// A panic reached the top of goroutine `g`, its `Drop`s done: print the
/// report the hook kept and end the program with status 2 (Go's
/// `fatalpanic`). Go does not let a panicking goroutine die alone: the
/// whole program stops, so the bug cannot go unnoticed.
pub(crate) fn goroutine_panicked(g: GRef) -> ! {
    let report = g
        .panic_report
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .unwrap_or_else(|| format!("panic: (re-raised)\n\ngoroutine {} [running]:\n", g.goid()));
    write_stderr(&report);
    crate::traceback::die()
}
