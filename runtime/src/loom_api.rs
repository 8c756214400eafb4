//! Entry points for the loom models in `grader/tests/loom_*.rs` (built only
//! with `--cfg loom`; not part of the runtime's API).
//!
//! Lesson idea: the scheduler "has to make decisions" while Ms go to sleep
//! and goroutines become runnable at the same moment; the models check
//! every interleaving of those decisions, not just the ones a run happens
//! to hit.
//!
//! The models must explore *the same source* the runtime runs, so everything
//! here is a thin wrapper that makes a crate-private function of the
//! scheduler callable from a test, plus the one thing a model needs and the
//! runtime does not: a way to stop. The runtime never stops its Ms (the
//! process exits under them); a loom model must end every thread, or loom
//! reports a deadlock. So under loom the scheduler lock also guards a
//! shutdown flag (`Shutdown` in `idle.rs`, the one seam): [`shutdown`] sets
//! it and wakes every idle M, and `stopm` returns `false` instead of
//! sleeping once it is set, which makes `find_runnable` return `None`. The
//! deadlock detector, which ends the process in the runtime, records its
//! report and shuts down the same way.
//!
//! Under loom the stack-switching executor is not built: an M is a loom
//! thread that the model creates up front, and a G is a bare record (a
//! token) that the model "runs" by calling whatever it likes in its place.
//! The M loop of `m.rs` (`schedule` / `execute`) is three lines the models
//! spell out themselves.

pub use crate::deadlock::DeadlockReport;
pub use crate::g::{GRef, Status, WaitReason, G};
pub use crate::m::M;
pub use crate::p::{PStatus, P};
pub use crate::runq::{LocalQueue, LOCAL_QUEUE_SIZE};
pub use crate::sched::Sched;
pub use crate::sema::Sema;

use std::panic::Location;

use crate::idle::Shutdown;
use crate::sync_facade::Ordering;

/// A new scheduler with no Ps, leaked like the runtime's (which is a
/// `static`): whatever may start an M takes `&'static Sched`, because a new
/// M's thread keeps it.
pub fn new_sched() -> &'static Sched {
    Box::leak(Box::new(Sched::new()))
}

/// A new M record, counted among the scheduler's Ms (what `newm` and
/// `become_m` do, minus the OS thread: the model's loom thread is the M).
/// Leaked: the scheduler hands Ms around as `&'static M`.
pub fn new_m(sched: &Sched) -> &'static M {
    let id = sched.mnext.fetch_add(1, Ordering::Relaxed);
    sched.lock().mcount += 1;
    Box::leak(Box::new(M::new(id)))
}

/// Give `m` an idle P, as `startm` + `mstart` do for a new M.
///
/// # Panics
/// If no P is idle.
pub fn acquire_idle_p(sched: &Sched, m: &'static M) -> &'static P {
    let p = sched
        .pidleget(&mut sched.lock())
        .expect("acquire_idle_p: no idle P");
    sched.acquirep(m, p);
    p
}

/// Go's `findrunnable`; `None` once the model shut the scheduler down.
pub fn find_runnable(sched: &'static Sched, m: &'static M) -> Option<(GRef, bool)> {
    sched.find_runnable(m)
}

/// Go's `resetspinning`: a spinning M found work.
pub fn reset_spinning(sched: &'static Sched, m: &M) {
    sched.reset_spinning(m)
}

/// First half of `stopm`: put `m` on the idle list (and check for
/// deadlock). Lets a model start with an M that is already idle, before the
/// other threads run; that M's thread then calls [`mpark`].
pub fn midle_enter(sched: &Sched, m: &'static M) -> bool {
    sched.midle_enter(m)
}

/// Second half of `stopm`: sleep until handed a P (`true`), or until the
/// model shuts down (`false`).
pub fn mpark(sched: &Sched, m: &'static M) -> bool {
    sched.mpark(m)
}

/// Stop the model: every idle M wakes and returns, every M that would go
/// idle returns instead.
pub fn shutdown(sched: &Sched) {
    Shutdown::stop_locked(sched, &mut sched.lock());
}

/// The deadlock detector's report, if it fired.
pub fn deadlock_report(sched: &Sched) -> Option<DeadlockReport> {
    sched.lock().shutdown.deadlock.clone()
}

/// A new live G, Runnable and in no queue: the bookkeeping of Go's
/// `newproc1` (the runtime's `newproc` adds a coroutine, which loom cannot
/// run). Leaked, like every G (see `g.rs`).
#[track_caller]
pub fn new_g(sched: &Sched) -> GRef {
    let g = sched.malg();
    g.init_live(sched.next_goid(), 0, Location::caller(), 0);
    sched.ngoroutines.fetch_add(1, Ordering::Relaxed);
    g.set_status(Status::Free, Status::Runnable);
    g
}

/// Change `g`'s status (Go's `casgstatus`), checking the transition.
pub fn set_status(g: GRef, from: Status, to: Status) {
    g.set_status(from, to)
}

/// Record why and where `g` blocks, then mark it Waiting: what `gopark` and
/// the M's `park_m` do to a running G.
#[track_caller]
pub fn park_g(g: GRef, reason: WaitReason) {
    g.set_wait(reason, Location::caller());
    g.set_status(Status::Running, Status::Waiting);
}

/// Owner of `p`: put `g` in `runnext` (`next`) or at the tail of the ring;
/// a full ring hands half of itself plus one to `overflow` (Go's `runqput`).
/// [`Sched::runqput`] is the same with the global queue as `overflow`.
pub fn runqput(p: &P, g: GRef, next: bool, overflow: impl FnOnce(Vec<GRef>)) {
    // SAFETY: the model calls this from the thread that plays `p`'s owner;
    // the run queue is atomics only, so even a model that breaks this rule
    // gets a wrong answer from loom, not undefined behaviour.
    unsafe { p.owned() }.runqput(g, next, overflow)
}

/// Owner of `p`: Go's `runqget` (runnext first, then the ring).
pub fn runqget(p: &P) -> Option<(GRef, bool)> {
    // SAFETY: as in `runqput`.
    unsafe { p.owned() }.runqget()
}

/// `thief` steals half of `victim`'s queue (Go's `runqsteal`).
pub fn runqsteal(thief: &P, victim: &P, steal_runnext: bool) -> Option<GRef> {
    // SAFETY: as in `runqput`: the calling thread plays `thief`'s owner.
    unsafe { thief.owned() }.steal_half_from(victim, steal_runnext)
}

/// Take everything on the global run queue.
pub fn globrunq_take_all(sched: &Sched) -> Vec<GRef> {
    let mut locked = sched.lock();
    let all: Vec<GRef> = locked.runq.drain(..).collect();
    sched.runqsize.store(0, Ordering::Release);
    all
}

/// Go's `schedule` up to `execute`: retire `m`'s P if GOMAXPROCS shrank
/// below it, stop `m` while it has no P, find a runnable G (parking while
/// there is none), stop spinning. `None` once the model shut down.
pub fn schedule_one(sched: &'static Sched, m: &'static M) -> Option<(GRef, bool)> {
    sched.schedule_one(m)
}

/// The ids of the Ps on the idle list.
pub fn idle_ps(sched: &Sched) -> Vec<usize> {
    let mut ids: Vec<usize> = sched.lock().pidle.iter().map(|p| p.id).collect();
    ids.sort_unstable();
    ids
}

/// `runtime::gomaxprocs(n)`, `n > 0`: resize and wake an M for new Ps.
pub fn gomaxprocs(sched: &'static Sched, n: usize) -> usize {
    sched.set_gomaxprocs(n)
}

/// Go's `entersyscall`: `g`, running on `m`, enters a system call; `m`
/// lets go of its P, which it returns.
pub fn entersyscall(sched: &Sched, m: &'static M, g: GRef) -> &'static P {
    sched.entersyscall(m, g)
}

/// Go's `exitsyscall` fast paths: `m` gets `oldp` back, or any idle P
/// (`true`); `false` if there is none (then call [`exitsyscall0`]).
pub fn exitsyscall(sched: &Sched, m: &'static M, g: GRef, oldp: &'static P) -> bool {
    sched.exitsyscall(m, g, oldp)
}

/// Go's `exitsyscall0`: no P for `g`: it goes to the global queue. `m`
/// holds no P; [`schedule_one`] stops it until it is handed one.
pub fn exitsyscall0(sched: &'static Sched, m: &'static M, g: GRef) {
    sched.exitsyscall0(m, g)
}

/// sysmon's retake step for a P it has seen in the same system call for
/// long enough (`sysmon::retake_p`): take it and hand it off, or destroy it
/// beyond GOMAXPROCS. `false` if the syscall returned first.
pub fn retake(sched: &'static Sched, p: &'static P) -> bool {
    crate::sysmon::retake_p(sched, p, PStatus::Syscall)
}

/// `time::sleep` for `g`, running on `p`, until `when` on the model's
/// clock: add its timer, park it (`Running` -> `Waiting`), then release the
/// heap and wake whoever must watch the timers, as `gopark`'s unlock step
/// does (`Sched::add_timer`).
#[track_caller]
pub fn sleep(sched: &'static Sched, p: &'static P, g: GRef, when: u64) {
    let unlock = sched.add_timer(p, when, g);
    park_g(g, WaitReason::Sleep);
    unlock();
}

/// The runtime's clock (the model's, under loom).
pub fn nanotime() -> u64 {
    crate::sync_facade::clock::nanotime()
}

/// Time passes: move the model's clock to `t`, and, as the kernel does for
/// a timed wait, let the timer M look at the clock if its deadline passed.
///
/// The clock moves under the scheduler lock: reading the clock is not a
/// step loom can put another thread before, and taking the lock is, so every
/// thread can run before the clock moves.
pub fn advance_clock(sched: &Sched, t: u64) {
    let locked = sched.lock();
    crate::sync_facade::clock::advance(t);
    if let Some((m, until)) = locked.timer_m {
        if until <= t {
            m.note.time_out();
        }
    }
}

/// A stoppable timer (the core of `time::Timer`: `timers::RTimer`) whose
/// function is `f`, run by whoever fires it.
pub struct Timer(crate::sync_facade::Arc<crate::timers::RTimer>);

/// A new, unarmed timer.
pub fn timer_new(f: impl Fn() + Send + Sync + 'static) -> Timer {
    Timer(crate::timers::RTimer::new(Box::new(f)))
}

/// Arm `t` on `p`'s heap to fire at `when` (`Timer::new`, `Timer::reset`):
/// whether it was armed before.
pub fn timer_start(sched: &'static Sched, p: &'static P, t: &Timer, when: u64) -> bool {
    sched.start_timer_on(p, &t.0, when)
}

/// Stop `t` (`Timer::stop`): whether it was armed, i.e. will not fire.
pub fn timer_stop(sched: &'static Sched, t: &Timer) -> bool {
    sched.stop_timer(&t.0)
}

/// Fire `p`'s timers due at `now`, as its M does in `find_runnable`;
/// returns how many fired.
pub fn run_timers(sched: &'static Sched, p: &'static P, now: u64) -> usize {
    sched.run_timers(p, Some(p), now)
}

/// Timers armed (and sleepers asleep) that the deadlock detector counts.
pub fn pending_wakeups(sched: &Sched) -> usize {
    sched.pending_wakeups.load(Ordering::SeqCst)
}

/// `g`, running on `p`, starts running its own code (`gostart`, or the
/// end of its outermost runtime section): from here on sysmon may take its
/// P if its thread blocks (`implicit_syscall.rs`). Marks `g` as `p`'s
/// current goroutine, as `execute` does.
pub fn run_user_code(p: &P, g: GRef) {
    p.curg.store(Some(g), Ordering::Release);
    g.in_user.store(true, Ordering::Release);
}

/// `g`, running on `m`, enters the runtime (a channel operation, a
/// preemption point): the fast side of the hand-off handshake. `true` if
/// `g` still owns its P; `false` if sysmon took it: then `m` has let go of
/// the P, returned in the second field, and `g` is in `Syscall` status,
/// for the model to call [`exitsyscall`] with.
pub fn enter_runtime(m: &'static M, g: GRef) -> (bool, Option<&'static P>) {
    let mut oldp = None;
    let section = crate::implicit_syscall::enter_then(g, |_| {
        oldp = Some(crate::implicit_syscall::let_go_of_p(m));
    });
    // The model's G stays in the runtime from here on.
    std::mem::forget(section);
    (oldp.is_none(), oldp)
}

/// sysmon's claim on `g`, running on `p` and (the model says) blocked in
/// the kernel for a whole time slice (`implicit_syscall::claim`), with a
/// SeqCst fence standing in for `membarrier`. `true`: `g` and `p` are in
/// `Syscall` status; hand the P off with [`retake`].
pub fn claim_blocked(g: GRef, p: &P) -> bool {
    crate::implicit_syscall::claim(
        g,
        p,
        || {
            crate::sync_facade::fence(Ordering::SeqCst);
            true
        },
        || true,
    )
}
