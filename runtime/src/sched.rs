//! The scheduler's shared state and decisions: the global run queue, the
//! idle P list, the free G list, timers, and how an M finds its next
//! goroutine (Go's `schedt`, `globrunqput`, `findrunnable`, `stealWork`,
//! `gfget`/`gfput`, `ready` in `runtime/proc.go`). The M's loop that calls
//! it (`schedule`, `execute`) is in `m.rs`; how idle Ms spin, park and are
//! woken is in `idle.rs`.
//!
//! Lesson idea: "Goroutines might find themselves initially in the Global Run
//! Queue... eventually they end up in a Local Run Queue", and "if a P has no
//! work, the M spins a little bit to keep it hot on the core".

use std::collections::VecDeque;

use crate::g::{GRef, Status, G};
use crate::idle::Shutdown;
use crate::m::M;
use crate::p::{Owned, PStatus, MAX_GOMAXPROCS, P};
use crate::runq::LOCAL_QUEUE_SIZE;
use crate::sync_facade::{
    lock, Arc, AtomicBool, AtomicRef, AtomicU32, AtomicU64, AtomicUsize, Mutex, MutexGuard, Note,
    Ordering,
};
use crate::timers::{nanotime, Due, RTimer};

/// Gs moved at once from the global free list to a P's, or allocated at
/// once when there are none.
const G_BATCH: usize = 32;

/// Seeded bug for the loom suite: adding a timer earlier than the deadline
/// the timer M sleeps until does not wake it. The new timer fires only when
/// the timer M wakes for the later one: late.
const WAKE_TIMER_M: bool = !cfg!(loom_seeded_bugs = "timer_add_no_wake");

/// Seeded bug for the loom suite: a shrink also destroys the Ps beyond the
/// limit that look idle but are not on the idle list, such as one in
/// hand-off to a waking M (taken off the list, not yet acquired), or one
/// sysmon just took back from a syscall: that M then holds a dead P.
const SHRINK_SPARES_HANDOFF: bool = !cfg!(loom_seeded_bugs = "shrink_kills_handoff");

/// Everything protected by the scheduler lock (Go's `sched.lock`).
pub(crate) struct Locked {
    /// The global run queue (Go's `sched.runq`).
    pub(crate) runq: VecDeque<GRef>,
    /// Idle Ps (Go's `sched.pidle`).
    pub(crate) pidle: Vec<&'static P>,
    /// Idle Ms, parked on their notes (Go's `sched.midle`).
    pub(crate) midle: Vec<&'static M>,
    /// Ms created, sysmon excluded (Go's `mcount() - sched.nmsys`).
    pub(crate) mcount: u32,
    /// Dead Gs with stacks, shared by all Ps (Go's `sched.gFree`).
    pub(crate) gfree: Vec<GRef>,
    /// The M sleeping until the earliest timer, and that deadline (Go: the M
    /// blocked in `netpoll(delay)`). Not on `midle`: `startm` leaves it alone.
    pub(crate) timer_m: Option<(&'static M, u64)>,
    /// Whether the scheduler was shut down: never in the runtime, a flag in
    /// a loom model (see `idle.rs`).
    pub(crate) shutdown: Shutdown,
}

/// The scheduler's global state (Go's `schedt`).
pub struct Sched {
    /// The lock and what it protects.
    pub(crate) locked: Mutex<Locked>,
    /// Length of the global queue, readable without the lock.
    pub(crate) runqsize: AtomicUsize,
    /// Number of idle Ps.
    pub(crate) npidle: AtomicU32,
    /// Number of spinning Ms.
    pub(crate) nmspinning: AtomicU32,
    /// Number of Ms parked on their notes (mirrors `midle.len()`).
    pub(crate) nmidle: AtomicU32,
    /// Current GOMAXPROCS.
    pub(crate) gomaxprocs: AtomicU32,
    /// Every P ever created, by id (Go's `allp`); null beyond.
    allp: Box<[AtomicRef<P>]>,
    /// Every G ever created (Go's `allgs`), for the deadlock dump.
    pub(crate) allgs: Mutex<Vec<GRef>>,
    /// Live goroutines (Go's `gcount()`).
    pub(crate) ngoroutines: AtomicUsize,
    /// Next goroutine id (Go's `sched.goidgen`).
    pub(crate) goidgen: AtomicU64,
    /// Next M id.
    pub(crate) mnext: AtomicU64,
    /// Timers not yet fired (see `timers.rs`): while any exists the program
    /// is not deadlocked, someone will wake up. (Goroutines in a syscall
    /// count through their status, `Syscall`.)
    pub(crate) pending_wakeups: AtomicUsize,
    /// Where sysmon naps between looks (see `sysmon.rs`).
    pub(crate) sysmon_nap: Nap,
}

/// The process's scheduler, registered by `proc` when it starts it: for
/// the code below `proc` that runs on a goroutine's stack and needs it
/// (`syscall.rs`, whose `exitsyscall` `implicit_syscall.rs` also calls), so
/// that it need not import the layer that starts programs.
#[cfg(not(loom))]
static GLOBAL: std::sync::OnceLock<&'static Sched> = std::sync::OnceLock::new();

#[cfg(not(loom))]
impl Sched {
    /// Register `self` as the process's scheduler (once, at start-up).
    pub(crate) fn set_global(&'static self) {
        let _ = GLOBAL.set(self);
    }

    /// The process's scheduler; only code that runs once it started (on a
    /// goroutine) calls this.
    pub(crate) fn global() -> &'static Sched {
        GLOBAL.get().expect("the scheduler is started")
    }
}

impl Default for Sched {
    fn default() -> Self {
        Self::new()
    }
}

impl Sched {
    /// A scheduler with no Ps yet.
    pub fn new() -> Sched {
        Sched {
            locked: Mutex::new(Locked {
                runq: VecDeque::new(),
                pidle: Vec::new(),
                midle: Vec::new(),
                mcount: 0,
                gfree: Vec::new(),
                timer_m: None,
                shutdown: Shutdown::new(),
            }),
            runqsize: AtomicUsize::new(0),
            npidle: AtomicU32::new(0),
            nmspinning: AtomicU32::new(0),
            nmidle: AtomicU32::new(0),
            gomaxprocs: AtomicU32::new(0),
            allp: (0..MAX_GOMAXPROCS).map(|_| AtomicRef::none()).collect(),
            allgs: Mutex::new(Vec::new()),
            ngoroutines: AtomicUsize::new(0),
            goidgen: AtomicU64::new(0),
            mnext: AtomicU64::new(0),
            pending_wakeups: AtomicUsize::new(0),
            sysmon_nap: Nap::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Locked> {
        lock(&self.locked)
    }

    /// Current GOMAXPROCS.
    pub fn gomaxprocs(&self) -> usize {
        self.gomaxprocs.load(Ordering::Acquire) as usize
    }

    /// The P with this id, if it was ever created.
    pub fn p(&self, id: usize) -> Option<&'static P> {
        self.allp.get(id)?.load(Ordering::Acquire)
    }

    /// Every P ever created, dead ones included (they may still hold
    /// timers).
    pub(crate) fn allps(&self) -> impl Iterator<Item = &'static P> + '_ {
        (0..MAX_GOMAXPROCS).map_while(|id| self.p(id))
    }

    /// The live Ps, `allp[..gomaxprocs]`.
    pub fn procs(&self) -> impl Iterator<Item = &'static P> + '_ {
        (0..self.gomaxprocs()).filter_map(|id| self.p(id))
    }

    /// Resize the set of Ps (Go's `procresize`); returns the previous value.
    ///
    /// Go stops the world for this. We do not: new Ps go on the idle list at
    /// once; a P beyond the new limit that is idle is removed now, and one
    /// that is running is retired by its own M at its next scheduling point
    /// (see `m.rs`), which moves its queue to the global queue. The caller
    /// calls `wakep` if new Ps should pick up queued work.
    pub fn procresize(&self, n: usize) -> usize {
        let n = n.clamp(1, MAX_GOMAXPROCS);
        let mut locked = self.lock();
        let old = self.gomaxprocs();
        // The new limit first: `pidleput` lets only Ps below it on the list.
        self.gomaxprocs.store(n as u32, Ordering::Release);
        for id in old..n {
            let p = match self.p(id) {
                Some(p) => p,
                None => {
                    let p: &'static P = Box::leak(Box::new(P::new(id)));
                    self.allp[id].store(Some(p), Ordering::Release);
                    p
                }
            };
            // A P that is still Running was retired by nobody yet (its M
            // has not reached a scheduling point): it simply stays alive.
            if p.status() == PStatus::Dead {
                self.pidleput(&mut locked, p);
            }
        }
        if n < old {
            // Idle Ps beyond the limit die now. A P that is being handed to
            // an M (taken off the idle list, not yet acquired) or that an M
            // is running is retired by that M at its next scheduling point.
            let (dead, alive): (Vec<_>, Vec<_>) = locked.pidle.drain(..).partition(|p| p.id >= n);
            locked.pidle = alive;
            self.npidle.fetch_sub(dead.len() as u32, Ordering::SeqCst);
            for p in dead {
                p.set_status(PStatus::Dead);
                // SAFETY: we took `p` off the idle list under the lock, so
                // no M holds it or can acquire it.
                let queued = unsafe { p.owned() }.drain_all();
                self.globrunqput_batch(&mut locked, queued);
            }
            if !SHRINK_SPARES_HANDOFF {
                for p in (n..old).filter_map(|id| self.p(id)) {
                    if p.status() == PStatus::Idle {
                        p.set_status(PStatus::Dead);
                    }
                }
            }
        }
        old
    }

    /// `runtime::gomaxprocs(n)` for `n > 0`: resize, and if Ps were added,
    /// wake an M to use them. Returns the previous value.
    pub(crate) fn set_gomaxprocs(&'static self, n: usize) -> usize {
        let old = self.procresize(n);
        crate::trace::event(crate::trace::Event::Gomaxprocs {
            old,
            new: self.gomaxprocs(),
        });
        if n > old {
            self.wakep();
        }
        old
    }

    // ---- the global run queue ------------------------------------------

    /// Append to the global queue (Go's `globrunqput`). Lock held.
    pub(crate) fn globrunqput(&self, locked: &mut Locked, g: GRef) {
        locked.runq.push_back(g);
        self.runqsize.store(locked.runq.len(), Ordering::Release);
        crate::trace::global_runq(&locked.runq);
    }

    /// Append a batch to the global queue (Go's `globrunqputbatch`). Lock held.
    pub(crate) fn globrunqput_batch(&self, locked: &mut Locked, batch: Vec<GRef>) {
        locked.runq.extend(batch);
        self.runqsize.store(locked.runq.len(), Ordering::Release);
        crate::trace::global_runq(&locked.runq);
    }

    /// Put a batch at the head of the global queue, in order (Go's
    /// `globrunqputhead`, for a batch): sleepers whose timers fired. Lock
    /// held.
    pub(crate) fn globrunqputhead_batch(&self, locked: &mut Locked, batch: Vec<GRef>) {
        for g in batch.into_iter().rev() {
            locked.runq.push_front(g);
        }
        self.runqsize.store(locked.runq.len(), Ordering::Release);
        crate::trace::global_runq(&locked.runq);
    }

    /// Take a fair share of the global queue: one G to run, and up to
    /// `len/gomaxprocs` more moved to `p`'s local queue (Go's `globrunqget`).
    /// `max` caps the number taken (0: no cap). Lock held.
    pub(crate) fn globrunqget(
        &self,
        locked: &mut Locked,
        p: &Owned<'_>,
        max: usize,
    ) -> Option<GRef> {
        let size = locked.runq.len();
        if size == 0 {
            return None;
        }
        let mut n = size.min(size / self.gomaxprocs().max(1) + 1);
        if max > 0 {
            n = n.min(max);
        }
        n = n.min(LOCAL_QUEUE_SIZE as usize / 2);
        let first = locked.runq.pop_front();
        let rest: Vec<GRef> = locked.runq.drain(..n - 1).collect();
        for g in rest {
            p.runqput(g, false, |overflow| locked.runq.extend(overflow));
        }
        self.runqsize.store(locked.runq.len(), Ordering::Release);
        crate::trace::global_runq(&locked.runq);
        first
    }

    // ---- idle Ps, and binding a P to an M (idle Ms: `idle.rs`) ---------

    /// Put `p`, which the caller owns, on the idle list (Go's `pidleput`).
    /// Lock held.
    ///
    /// A P beyond GOMAXPROCS dies instead: GOMAXPROCS shrank while its owner
    /// held it (an M looking for work, sysmon handing it off), and the idle
    /// list holds only live Ps, or `wakep` would start Ms for dead ones. (Go
    /// never meets this case: its `procresize` stops the world. The loom
    /// model `loom_gomaxprocs.rs` found it here: a P that sysmon retook and
    /// handed off just as a shrink ran stayed on the idle list.)
    pub(crate) fn pidleput(&self, locked: &mut Locked, p: &'static P) {
        debug_assert!(
            p.runq_is_empty() || p.status() == PStatus::Dead,
            "pidleput: P has run queue"
        );
        if p.id >= self.gomaxprocs() {
            p.set_status(PStatus::Dead);
            return;
        }
        p.set_status(PStatus::Idle);
        locked.pidle.push(p);
        self.npidle.fetch_add(1, Ordering::SeqCst);
    }

    /// Take an idle P (Go's `pidleget`). Lock held.
    pub(crate) fn pidleget(&self, locked: &mut Locked) -> Option<&'static P> {
        let p = locked.pidle.pop()?;
        self.npidle.fetch_sub(1, Ordering::SeqCst);
        Some(p)
    }

    /// Bind `p` to `m` (Go's `acquirep`).
    pub(crate) fn acquirep(&self, m: &M, p: &'static P) {
        debug_assert_eq!(p.status(), PStatus::Idle, "acquirep: P not idle");
        p.thread
            .store(m.os_thread(), std::sync::atomic::Ordering::Relaxed);
        p.set_status(PStatus::Running);
        m.set_p(Some(p));
    }

    /// Unbind `m`'s P and return it (Go's `releasep`).
    pub(crate) fn releasep(&self, m: &M) -> &'static P {
        let p = m.p().expect("releasep: M has no P");
        p.curg.store(None, Ordering::Release);
        m.set_p(None);
        p
    }

    /// GOMAXPROCS shrank below `m`'s P: give its queue to the global queue
    /// and retire it (the part of Go's `procresize` that runs on the old
    /// owner).
    pub(crate) fn retire_p(&'static self, m: &M) {
        if m.spinning() {
            self.stop_spinning(m);
        }
        let p = self.releasep(m);
        let mut locked = self.lock();
        // SAFETY: we just released `p` and it is on no idle list: no other M
        // can reach it.
        let queued = unsafe { p.owned() }.drain_all();
        self.globrunqput_batch(&mut locked, queued);
        // Dies, unless GOMAXPROCS grew back meanwhile: then it is idle.
        self.pidleput(&mut locked, p);
        drop(locked);
        self.wakep();
    }

    /// Destroy a P beyond GOMAXPROCS that sysmon took back from a syscall
    /// (the part of Go's `procresize` that our shrink leaves to whoever owns
    /// the P next): its queued Gs go to the global queue. The caller owns `p`.
    pub(crate) fn destroy_p(&'static self, p: &'static P) {
        debug_assert_eq!(p.status(), PStatus::Idle, "destroy_p: P not owned");
        let mut locked = self.lock();
        if p.id < self.gomaxprocs() {
            // GOMAXPROCS grew back meanwhile: an ordinary hand-off.
            drop(locked);
            self.handoffp(p);
            return;
        }
        p.set_status(PStatus::Dead);
        // SAFETY: the caller owns `p` (sysmon retook it from a syscall).
        let queued = unsafe { p.owned() }.drain_all();
        self.globrunqput_batch(&mut locked, queued);
        drop(locked);
        self.wakep();
    }

    /// Make a parked G runnable in `runnext` of the waker's P `p`, or on the
    /// global queue when the waker holds no P (Go's `goready` / `ready`).
    #[doc(alias = "goready")]
    pub fn ready(&'static self, g: GRef, p: Option<&'static P>) {
        g.set_status(Status::Waiting, Status::Runnable);
        self.runqput(g, p);
        crate::trace::ready(g);
    }

    /// A timer was armed: some G will be made
    /// runnable later by [`ready_pending`](Self::ready_pending), even if
    /// every M sleeps meanwhile, so the deadlock detector must stay quiet.
    pub fn add_pending_wakeup(&self) {
        self.pending_wakeups.fetch_add(1, Ordering::SeqCst);
    }

    /// The timer fired: make `g` runnable, *then* drop the pending count.
    /// In that order there is no moment at which the deadlock detector sees
    /// `g` neither runnable nor pending (the loom model `loom_deadlock.rs`
    /// checks it).
    pub fn ready_pending(&'static self, g: GRef, p: Option<&'static P>) {
        self.ready(g, p);
        let prev = self.pending_wakeups.fetch_sub(1, Ordering::SeqCst);
        debug_assert!(prev > 0, "ready_pending: no pending wakeup");
    }

    /// Queue a runnable `g` in `runnext` of `p`, the caller's own P (or
    /// globally when the caller has none) and wake an M for it (the tail of
    /// Go's `newproc` and `ready`).
    pub fn runqput(&'static self, g: GRef, p: Option<&'static P>) {
        match p {
            // SAFETY: `p` is the caller's P (`current_p()`, or the P a loom
            // model's thread holds); the run queue methods touch no cache.
            Some(p) => unsafe { p.owned() }.runqput(g, true, |batch| {
                let mut locked = self.lock();
                self.globrunqput_batch(&mut locked, batch);
            }),
            None => {
                let mut locked = self.lock();
                self.globrunqput(&mut locked, g);
            }
        }
        // With one P, held by the caller, there is no idle P to wake: skip
        // `wakep` and its full fence (~10 ns, twice per channel round trip).
        // A `gomaxprocs` growing concurrently calls `wakep` itself.
        if p.is_some() && self.gomaxprocs.load(Ordering::Relaxed) == 1 {
            return;
        }
        self.wakep();
    }

    /// One scheduling decision for `m` (Go's `schedule`, up to `execute`):
    /// retire `m`'s P if GOMAXPROCS shrank below it, find a runnable G
    /// (parking `m` while there is none), and stop spinning. `m` may hold no
    /// P (back from a syscall with none free): it stops until handed one.
    /// Returns the G and whether it inherits the time slice; `None` only in
    /// a loom model that shut the scheduler down. The M's loop in `m.rs`
    /// runs the G; a loom model's loop "runs" it in its own way.
    pub(crate) fn schedule_one(&'static self, m: &'static M) -> Option<(GRef, bool)> {
        loop {
            match m.p() {
                None => {
                    if !self.stopm(m) {
                        return None;
                    }
                }
                Some(p) if p.id >= self.gomaxprocs() => {
                    self.retire_p(m);
                    if !self.stopm(m) {
                        return None;
                    }
                }
                Some(_) => break,
            }
        }
        let found = self.find_runnable(m)?;
        if m.spinning() {
            self.reset_spinning(m);
        }
        Some(found)
    }

    /// Find a runnable G for `m`, which holds a P; park `m` when there is
    /// none (Go's `findrunnable`). Returns the G and whether it inherits the
    /// current time slice; `None` only when a loom model shut the scheduler
    /// down while `m` was idle.
    #[doc(alias = "findrunnable")]
    pub(crate) fn find_runnable(&'static self, m: &'static M) -> Option<(GRef, bool)> {
        match self.find_runnable_fast(m) {
            Some(found) => Some(found),
            None => self.find_runnable_slow(m),
        }
    }

    /// The common case of [`find_runnable`](Self::find_runnable), small
    /// enough to inline into the scheduler loop: no timer armed, not the
    /// 61st tick with work in the global queue, and a G in our local queue.
    /// `None` sends the caller down the full search, which makes the same
    /// checks again in the same order. (Keeping the rare paths out of line
    /// spares every goroutine switch their register saves: ~30 instructions
    /// per channel round trip.)
    #[inline]
    fn find_runnable_fast(&self, m: &M) -> Option<(GRef, bool)> {
        let p = m.p()?;
        if p.timers.next().is_some() {
            return None;
        }
        if p.schedtick.load(Ordering::Relaxed).is_multiple_of(61)
            && self.runqsize.load(Ordering::Acquire) > 0
        {
            return None;
        }
        // SAFETY: `m` is the calling M, and it holds `p`.
        unsafe { p.owned() }.runqget()
    }

    #[inline(never)]
    fn find_runnable_slow(&'static self, m: &'static M) -> Option<(GRef, bool)> {
        'top: loop {
            let p = m.p().expect("findrunnable: no P");
            // SAFETY: `m` is the calling M, and it holds `p` until
            // `releasep` below, after the last use of `owned`.
            let mut owned = unsafe { p.owned() };

            // A sleeper whose timer is due goes first: into our runnext,
            // one per schedule (see `ready_due_sleeper`).
            self.ready_due_sleeper(&mut owned);

            // Every 61st schedule, look at the global queue first, so that two
            // goroutines that keep readying each other through runnext cannot
            // starve it. 61 is Go's choice: prime, not too small, not too big.
            if p.schedtick.load(Ordering::Relaxed).is_multiple_of(61)
                && self.runqsize.load(Ordering::Acquire) > 0
            {
                let mut locked = self.lock();
                if let Some(g) = self.globrunqget(&mut locked, &owned, 1) {
                    return Some((g, false));
                }
            }

            // Local queue: runnext first.
            if let Some(found) = owned.runqget() {
                return Some(found);
            }

            // Global queue.
            if self.runqsize.load(Ordering::Acquire) > 0 {
                let mut locked = self.lock();
                if let Some(g) = self.globrunqget(&mut locked, &owned, 0) {
                    return Some((g, false));
                }
            }

            // Steal. Limit spinning Ms to half the busy Ps: when GOMAXPROCS is
            // large and the program has little parallelism, spinning would
            // burn CPU for nothing.
            let procs = self.gomaxprocs() as u32;
            let busy = procs.saturating_sub(self.npidle.load(Ordering::SeqCst));
            if m.spinning() || 2 * self.nmspinning.load(Ordering::SeqCst) < busy {
                if !m.spinning() {
                    self.start_spinning(m);
                }
                if let Some(g) = self.steal_work(m, &owned) {
                    return Some((g, false));
                }
            }

            // Due timers of other Ps, idle ones included (Go checks them
            // while stealing).
            if self.run_all_timers(Some(p), crate::timers::nanotime()) > 0 {
                if let Some(found) = owned.runqget() {
                    return Some(found);
                }
            }

            // Nothing to do: give up the P. Check the global queue one last
            // time under the lock that protects it.
            let mut locked = self.lock();
            if let Some(g) = self.globrunqget(&mut locked, &owned, 0) {
                return Some((g, false));
            }
            // We give the P up: `owned` is not used past this point.
            let p = self.releasep(m);
            self.pidleput(&mut locked, p);
            drop(locked);

            // The delicate dance (see `idle.rs`): stop spinning first,
            // then look at every queue again.
            if m.spinning() && self.spinner_gives_up(m).is_some() {
                continue 'top;
            }

            if !self.stopm(m) {
                return None;
            }
        }
    }

    /// Fire the earliest due timer of our P, or else the earliest one of
    /// another P that is [`TIMER_HELP_LATE`] late, its sleeper into our
    /// `runnext`, where this schedule finds it (part of Go's `checkTimers`,
    /// called from `schedule` and, for other Ps, from `stealWork`). One
    /// atomic load per P when none is due.
    ///
    /// Where we differ from Go: Go fires *every* due timer of its P at
    /// each schedule and readies each sleeper into `runnext`, which kicks
    /// the previous one to the tail of the local queue, behind up to 256
    /// goroutines that have not even started: in a storm of new goroutines
    /// that sleep, such a sleeper wakes hundreds of microseconds late
    /// (measured: nearly all of our late sleepers were woken on time and
    /// then waited in the queue). We fire one per schedule instead, so that
    /// the heap itself is the queue of due sleepers, in deadline order,
    /// ahead of the run queue. And Go's other Ps look at a P's timers only
    /// when they have no work at all; ours also fire the timers of a P that
    /// is late to fire them itself (its M runs a long goroutine, or the
    /// kernel descheduled it): one P's backlog of due sleepers is not left
    /// to that P alone.
    ///
    /// So that a stream of due timers cannot starve the run queue, at most
    /// [`WOKEN_FIRST_MAX`] schedules in a row go to due sleepers while other
    /// goroutines wait; then one goroutine of the run queue has its turn.
    fn ready_due_sleeper(&'static self, owned: &mut Owned<'static>) {
        let p = owned.p();
        let streak = owned.local().woken_first;
        if streak >= WOKEN_FIRST_MAX && !p.runq_is_empty() {
            owned.local().woken_first = 0;
            return;
        }
        let fired = self.fire_one_due_timer(p);
        owned.local().woken_first = if fired { streak + 1 } else { 0 };
    }

    /// The firing step of [`ready_due_sleeper`](Self::ready_due_sleeper):
    /// our P's earliest due timer, or another P's that is
    /// [`TIMER_HELP_LATE`] late, into `p`. Returns whether one fired.
    fn fire_one_due_timer(&'static self, p: &'static P) -> bool {
        let mut now = 0;
        if let Some(when) = p.timers.next() {
            now = nanotime();
            if when <= now && self.run_timers_max(p, Some(p), now, 1) > 0 {
                return true;
            }
        }
        let help = TIMER_HELP_LATE.as_nanos() as u64;
        for other in self.procs() {
            let Some(when) = other.timers.next() else {
                continue;
            };
            if std::ptr::eq(other, p) {
                continue;
            }
            if now == 0 {
                now = nanotime();
            }
            if when + help <= now && self.run_timers_max(other, Some(p), now, 1) > 0 {
                return true;
            }
        }
        false
    }

    /// Four rounds over all Ps in random order, stealing half of a victim's
    /// queue; the last round may also take a victim's `runnext` (Go's
    /// `stealWork`).
    fn steal_work(&self, m: &M, p: &Owned<'static>) -> Option<GRef> {
        const STEAL_TRIES: usize = 4;
        let n = self.gomaxprocs();
        for round in 0..STEAL_TRIES {
            let steal_runnext = round == STEAL_TRIES - 1;
            for id in RandomOrder::new(n, m.fastrand()) {
                if id == p.id {
                    continue;
                }
                let Some(victim) = self.p(id) else { continue };
                if let Some(g) = p.steal_half_from(victim, steal_runnext) {
                    crate::trace::event(crate::trace::Event::Steal {
                        p: p.p(),
                        victim,
                        g,
                    });
                    return Some(g);
                }
            }
        }
        None
    }

    /// Register a freshly allocated G (Go's `allgadd`).
    pub(crate) fn allgadd(&self, g: GRef) {
        lock(&self.allgs).push(g);
    }

    /// A new goroutine id.
    pub(crate) fn next_goid(&self) -> u64 {
        self.goidgen.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Number of live goroutines.
    pub fn num_goroutine(&self) -> usize {
        self.ngoroutines.load(Ordering::Relaxed)
    }

    /// Allocate `n` new G records in one allocation and register them in
    /// `allgs` under one lock, handing them to the free list `free` (Go's
    /// `malg`, batched: a million goroutines started at once would otherwise
    /// pay a `malloc` and two lock operations each).
    pub(crate) fn malg_batch(&self, free: &mut Vec<GRef>, n: usize) {
        // Never freed: from the runtime's own reservation (`persistent.rs`),
        // not `malloc`, whose arena growth write-locks the address space.
        #[cfg(not(loom))]
        let gs: &'static [G] = crate::persistent::alloc_slice(n, G::new);
        #[cfg(loom)]
        let gs: &'static [G] = Box::leak((0..n).map(|_| G::new()).collect::<Box<[G]>>());
        lock(&self.allgs).extend(gs.iter());
        // Reversed, so the free list hands them out in allocation order.
        free.extend(gs.iter().rev());
    }

    /// Allocate a brand new G record (never freed; see `g.rs`).
    pub(crate) fn malg(&self) -> GRef {
        let g: GRef = Box::leak(Box::new(G::new()));
        self.allgadd(g);
        g
    }

    /// Put a dead G on `p`'s free list; move half to the global list when
    /// the local one grows long (Go's `gfput`). Inlined into the one
    /// caller, the exit of every goroutine (the spawn row counts it).
    #[inline]
    pub(crate) fn gfput(&self, p: &mut Owned<'_>, g: GRef) {
        let local = p.local();
        local.gfree.push(g);
        if local.gfree.len() >= 64 {
            let half = local.gfree.len() / 2;
            let mut locked = self.lock();
            locked.gfree.extend(local.gfree.drain(..half));
        }
    }

    /// Take a dead G from `p`'s free list, refilling it from the global list,
    /// or allocating a batch when there is none anywhere (Go's `gfget`, and
    /// `malg` when it finds nothing). `p` is the caller's P, if it has one.
    pub(crate) fn gfget(&self, p: Option<&mut Owned<'_>>) -> Option<GRef> {
        let Some(p) = p else {
            return self.lock().gfree.pop();
        };
        let local = p.local();
        if local.gfree.is_empty() {
            let mut locked = self.lock();
            let take = locked.gfree.len().min(G_BATCH);
            let at = locked.gfree.len() - take;
            local.gfree.extend(locked.gfree.drain(at..));
        }
        if local.gfree.is_empty() {
            // No dead G anywhere: make a batch of new ones at once.
            self.malg_batch(&mut local.gfree, G_BATCH);
        }
        local.gfree.pop()
    }
}

/// What an M going idle does about timers (see [`Sched::timer_role`]).
pub(crate) enum TimerRole {
    /// No timer needs it: sleep on the idle list.
    None,
    /// A timer is overdue: take this idle P and fire it.
    RunNow(&'static P),
    /// Sleep until this `nanotime` as the timer M.
    SleepUntil(u64),
}

// ---- timers (the per-P heaps are in `timers.rs`) ----------------------

impl Sched {
    /// `g`, running on `p`, goes to sleep until `when`: count the promise
    /// (before the sleeper can be seen asleep, so the deadlock detector
    /// stays quiet), add its timer to `p`'s heap (Go's `addtimer`), and
    /// return what to run once `g` is parked: release the heap, which stays
    /// locked until then so the timer cannot fire for a goroutine that is
    /// not asleep yet, and make sure an M will be awake in time (Go's
    /// `resetForSleep`, the unlock function of `gopark` in `timeSleep`).
    pub(crate) fn add_timer(
        &'static self,
        p: &'static P,
        when: u64,
        g: GRef,
    ) -> impl FnOnce() + 'static {
        self.add_pending_wakeup();
        let heap = p.timers.add(when, g);
        move || {
            drop(heap);
            self.wake_timer_sleeper(when);
        }
    }

    /// The earliest timer over every P, dead Ps included (Go's
    /// `timeSleepUntil`).
    pub(crate) fn next_timer(&self) -> Option<u64> {
        self.allps().filter_map(|p| p.timers.next()).min()
    }

    /// Fire the due timers of every P (Go's `checkTimers` over `allp`, done
    /// by a stealing M and by sysmon), readying their goroutines into `p`.
    /// Returns how many fired.
    pub(crate) fn run_all_timers(&'static self, p: Option<&'static P>, now: u64) -> usize {
        self.allps().map(|t| self.run_timers(t, p, now)).sum()
    }

    /// Fire the timers of `owner`'s heap due at `now` (Go's `checkTimers`,
    /// `runOneTimer`), for the M holding `p` (`None`: sysmon). A timer's
    /// function runs at once (it readies a receiver or starts a goroutine
    /// into the calling M's P, or globally from sysmon); the sleepers woken
    /// are readied together afterwards, see [`ready_woken`](Self::ready_woken).
    /// Returns how many fired.
    pub(crate) fn run_timers(
        &'static self,
        owner: &'static P,
        p: Option<&'static P>,
        now: u64,
    ) -> usize {
        self.run_timers_max(owner, p, now, usize::MAX)
    }

    /// [`run_timers`](Self::run_timers), firing at most `max` timers,
    /// earliest first.
    fn run_timers_max(
        &'static self,
        owner: &'static P,
        p: Option<&'static P>,
        now: u64,
        max: usize,
    ) -> usize {
        let mut woken = Vec::new();
        let fired = owner.timers.run_due(now, max, |due| match due {
            Due::Wake(g) => woken.push(g),
            Due::Timer(t) => {
                t.run();
                // After the goroutine it readied is runnable (see
                // `ready_pending`).
                let prev = self.pending_wakeups.fetch_sub(1, Ordering::SeqCst);
                debug_assert!(prev > 0, "run_timers: no pending wakeup");
            }
        });
        if !woken.is_empty() {
            self.ready_woken(woken, p);
        }
        fired
    }

    /// Make the sleepers whose timers just fired runnable, in deadline
    /// order, ahead of the goroutines that are merely new: the earliest in
    /// `runnext` of `p` (so the calling M runs it next), the others in
    /// `p`'s local queue, and what does not fit (or everything, from
    /// sysmon) at the *head* of the global queue (Go's `globrunqputhead`).
    /// Then drop their pending count (as `ready_pending`: runnable first).
    ///
    /// Where we differ from Go: Go readies each one with `ready(gp, next =
    /// true)`, so a burst of due timers kicks one another out of `runnext`,
    /// and once the local queue is full, half of it goes to the *tail* of
    /// the global queue, behind every goroutine queued there; in a storm of
    /// 100k new goroutines that sleep, a woken sleeper can wait behind tens
    /// of thousands of goroutines that have not even started. A sleeper that
    /// is due is late already; new work can wait a little.
    fn ready_woken(&'static self, woken: Vec<GRef>, p: Option<&'static P>) {
        let n = woken.len();
        for &g in &woken {
            g.set_status(Status::Waiting, Status::Runnable);
            crate::trace::ready(g);
        }
        match p {
            Some(p) => {
                // SAFETY: `p` is the caller's P (see `runqput`).
                let owned = unsafe { p.owned() };
                for (i, g) in woken.into_iter().enumerate() {
                    owned.runqput(g, i == 0, |batch| {
                        let mut locked = self.lock();
                        self.globrunqputhead_batch(&mut locked, batch);
                    });
                }
            }
            None => {
                let mut locked = self.lock();
                self.globrunqputhead_batch(&mut locked, woken);
            }
        }
        let prev = self.pending_wakeups.fetch_sub(n, Ordering::SeqCst);
        debug_assert!(prev >= n, "ready_woken: no pending wakeup");
        if !(p.is_some() && self.gomaxprocs.load(Ordering::Relaxed) == 1) {
            self.wakep();
        }
    }

    /// Arm `t` to fire at `when` (Go's `modtimer`, or `addtimer` for a
    /// timer not armed yet): on the caller's P's heap, or P0's for a plain
    /// thread (any heap is watched: `next_timer` looks at all of them).
    /// Returns whether it was armed before (Go's `Reset` result).
    ///
    /// The promise is counted before the timer can be seen armed, so the
    /// deadlock detector never sees an armed timer uncounted; re-arming an
    /// armed timer keeps its one promise.
    pub(crate) fn start_timer(&'static self, t: &Arc<RTimer>, when: u64) -> bool {
        match crate::m::current_p().or_else(|| self.p(0)) {
            Some(p) => self.start_timer_on(p, t, when),
            None => unreachable!("start_timer: the runtime has no P"),
        }
    }

    /// [`start_timer`](Self::start_timer) on `p`'s heap (a loom model names
    /// the P; its threads are no Ms).
    pub(crate) fn start_timer_on(&'static self, p: &'static P, t: &Arc<RTimer>, when: u64) -> bool {
        let heap = &p.timers;
        self.add_pending_wakeup();
        let was_armed = RTimer::arm(t, heap, when);
        if was_armed {
            self.pending_wakeups.fetch_sub(1, Ordering::SeqCst);
        }
        self.wake_timer_sleeper(when);
        was_armed
    }

    /// Stop `t` (Go's `deltimer`): `true` if it was armed, and now will not
    /// fire. Its promise is withdrawn: a program whose goroutines all wait
    /// with only stopped timers left is deadlocked.
    pub(crate) fn stop_timer(&self, t: &RTimer) -> bool {
        if !t.disarm() {
            return false;
        }
        let prev = self.pending_wakeups.fetch_sub(1, Ordering::SeqCst);
        debug_assert!(prev > 0, "stop_timer: no pending wakeup");
        self.timer_deleted();
        true
    }

    /// A timer was stopped. If the timer M sleeps until a deadline that is
    /// no longer the earliest (that timer was it), wake it to sleep again
    /// with the new one, or, with no timer left, to go idle, where it checks
    /// for deadlock: else a program left with nothing but a stopped timer
    /// would wait for the timer's old deadline before its deadlock is seen.
    /// (Go gets there by another road: its `deltimer` wakes nobody, but an M
    /// about to sleep first clears deleted timers in `checkTimers`, so none
    /// sleeps until a stopped timer's deadline.)
    fn timer_deleted(&self) {
        let mut locked = self.lock();
        if let Some((m, until)) = locked.timer_m {
            if self.next_timer().is_none_or(|t| t > until) {
                locked.timer_m = None;
                drop(locked);
                m.note.wakeup();
            }
        }
    }

    /// What an M about to go idle should do about timers (part of Go's
    /// `findrunnable`): sleep until the earliest one as the timer M, if
    /// there are timers and no M watches them yet; fire overdue ones itself
    /// with an idle P; or nothing (idle list, sleep until woken).
    pub(crate) fn timer_role(&self, m: &'static M) -> TimerRole {
        if self.next_timer().is_none() {
            // The common case; a timer added right now finds no timer M and
            // calls `wakep`, as it would with no timer M at all.
            return TimerRole::None;
        }
        // Read the timers again under the lock: `wake_timer_sleeper` publishes a
        // new timer before it takes the lock to look for a timer M, so either
        // we see the new timer or it sees us.
        let mut locked = self.lock();
        if locked.timer_m.is_some() {
            return TimerRole::None;
        }
        let Some(next) = self.next_timer() else {
            return TimerRole::None;
        };
        if next > nanotime() {
            locked.timer_m = Some((m, next));
            return TimerRole::SleepUntil(next);
        }
        match self.pidleget(&mut locked) {
            Some(p) => TimerRole::RunNow(p),
            // Every P is busy; they (or sysmon) will fire it.
            None => TimerRole::None,
        }
    }

    /// Sleep as the timer M until `until` or until woken for an earlier
    /// timer (`wake_timer_sleeper`), and give up the role. Leaves `m`'s
    /// note clean, so its next sleep is a real one.
    pub(crate) fn timer_m_sleep(&self, m: &'static M, until: u64) {
        if m.note.sleep_until(until) {
            // `wake_timer_sleeper` cleared the role before waking us.
            return;
        }
        let mut locked = self.lock();
        match locked.timer_m {
            Some((tm, _)) if std::ptr::eq(tm, m) => locked.timer_m = None,
            // Timed out just as `wake_timer_sleeper` took the role away: its
            // wakeup is on the way; take it now.
            _ => {
                drop(locked);
                m.note.sleep();
            }
        }
    }

    /// A timer due at `when` was added: make sure some M will be awake to
    /// fire it (Go's `wakeNetPoller`). If an M sleeps until a later time, wake
    /// it so it sleeps again with the new deadline; if none is sleeping on
    /// the timers, wake an idle P's M.
    pub(crate) fn wake_timer_sleeper(&'static self, when: u64) {
        let mut locked = self.lock();
        match locked.timer_m {
            Some((m, until)) if when < until && WAKE_TIMER_M => {
                locked.timer_m = None;
                drop(locked);
                m.note.wakeup();
            }
            Some(_) => drop(locked),
            None => {
                drop(locked);
                self.wakep();
            }
        }
        // Every P busy: a timer M that wakes finds no P to fire the timer
        // with, and only sysmon notices if it is late; make sure sysmon
        // looks in time.
        #[cfg(not(loom))]
        if self.npidle.load(Ordering::Relaxed) == 0 {
            self.sysmon_nap.kick_for_timer(when);
        }
    }
}

/// Visit `0..n` in a pseudo-random order: a random start and a random stride
/// coprime with `n` (Go's `randomOrder` / `stealOrder`).
struct RandomOrder {
    n: usize,
    pos: usize,
    inc: usize,
    left: usize,
}

impl RandomOrder {
    fn new(n: usize, rand: u32) -> RandomOrder {
        let n = n.max(1);
        let mut inc = (rand as usize >> 8) % n + 1;
        while gcd(inc, n) != 1 {
            inc += 1;
        }
        RandomOrder {
            n,
            pos: rand as usize % n,
            inc,
            left: n,
        }
    }
}

impl Iterator for RandomOrder {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let cur = self.pos;
        self.pos = (self.pos + self.inc) % self.n;
        Some(cur)
    }
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Schedules in a row that may run a sleeper whose timer is due, ahead of
/// goroutines waiting in the run queue (see `Sched::ready_due_sleeper`):
/// then one of those has its turn. 61 as for the global queue (Go's
/// `schedule`): a run queue is never starved for long, and a burst of due
/// timers is barely slowed down.
const WOKEN_FIRST_MAX: u32 = 61;

/// How late another P's timer must be before a scheduling M fires it for
/// that P (see `Sched::ready_due_sleeper`). A P fires its own timers at its
/// next schedule, normally within microseconds; one that has not done so
/// for this long is busy with a long goroutine or not running at all.
const TIMER_HELP_LATE: std::time::Duration = std::time::Duration::from_micros(50);

/// How late a timer may be before sysmon fires it itself: normally the timer
/// M or the P's own M fires it on time; sysmon steps in when every M is busy.
pub(crate) const TIMER_GRACE: std::time::Duration = std::time::Duration::from_millis(1);

/// Where sysmon naps between looks, so that a goroutine entering a system
/// call can cut a long nap short (a field of [`Sched`]; used by `sysmon.rs`).
pub(crate) struct Nap {
    /// sysmon sleeps here.
    pub(crate) note: Note,
    /// True while sysmon takes a nap longer than its `KICKABLE_DELAY`.
    pub(crate) long: AtomicBool,
    /// When the current nap ends (`nanotime`), 0 when not napping or when
    /// a new timer cut the nap short ([`Nap::kick_for_timer`]).
    pub(crate) until: AtomicU64,
}

impl Nap {
    pub(crate) fn new() -> Nap {
        Nap {
            note: Note::new(),
            long: AtomicBool::new(false),
            until: AtomicU64::new(0),
        }
    }

    /// A timer due at `when` was added while every P is busy: if sysmon naps
    /// past the moment that timer would be [`TIMER_GRACE`] late, cut the nap
    /// short, so that it looks (and asks the P's goroutine to yield, see
    /// `sysmon::run_late_timers`) in time. Costs one load when sysmon's nap
    /// ends in time. Go does not do this (its sysmon naps up to 10 ms
    /// regardless). Here rather than in `sysmon.rs`, so that the scheduler,
    /// which adds timers, need not import sysmon.
    #[cfg(not(loom))]
    pub(crate) fn kick_for_timer(&self, when: u64) {
        let until = self.until.load(Ordering::Relaxed);
        if until > when.saturating_add(TIMER_GRACE.as_nanos() as u64)
            && self
                .until
                .compare_exchange(until, 0, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.note.wakeup();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_order_visits_every_p_once() {
        for n in 1..=9 {
            for seed in [0u32, 1, 77, 12345, u32::MAX] {
                let mut seen: Vec<usize> = RandomOrder::new(n, seed).collect();
                seen.sort_unstable();
                assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n={n} seed={seed}");
            }
        }
    }
}
