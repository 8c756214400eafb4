//! The scheduler: the global run queue, idle Ps and Ms, and how an M finds
//! its next goroutine (Go's `schedule`, `findrunnable`, `wakep`, `startm`,
//! `stopm` in `runtime/proc.go`).
//!
//! Lesson idea: "Goroutines might find themselves initially in the Global Run
//! Queue... eventually they end up in a Local Run Queue", and "if a P has no
//! work, the M spins a little bit to keep it hot on the core".
//!
//! # Worker parking and unparking (after the essay at the top of Go's proc.go)
//!
//! We want enough running Ms to use the available Ps, and we want to park
//! extra Ms to save CPU. The difficulty is that a G can be made runnable at
//! any moment, from any M, while other Ms are deciding to go to sleep. A naive
//! "park when the queues look empty" loses wakeups: the queue is filled just
//! after an M looked at it and just before it parked, and the new G sits there
//! with every M asleep.
//!
//! The protocol, as in Go:
//! - An M with no work becomes *spinning*: it looks for work in the global
//!   queue and steals from other Ps. At most about half of the busy Ps' worth
//!   of Ms spin at once (`2 * nmspinning < gomaxprocs - npidle`), so idle
//!   cores do not burn CPU all at once.
//! - Whoever makes a G runnable (`go`, `ready`) then calls [`Sched::wakep`]:
//!   if there is an idle P and *no* spinning M, it starts (or wakes) one
//!   spinning M. One spinner is enough: when it finds work it stops spinning
//!   and calls `wakep` again, so wakeups chain to as many Ms as there is work.
//! - A spinning M that finds nothing releases its P, decrements `nmspinning`,
//!   and only then looks at every run queue *once more* before parking. The
//!   submitter publishes its G before reading `nmspinning`; the spinner
//!   publishes its decrement before reading the queues. With a full (SeqCst)
//!   fence on both sides, at least one of them sees the other: either the
//!   submitter sees no spinner and wakes an M, or the spinner sees the G.
//! - Parked Ms sleep on an OS primitive (`Note`), never poll with sleeps.
//!
//! The loom model `grader/tests/loom_idle.rs` checks this protocol.

use std::collections::VecDeque;

use crate::g::{GRef, Status, G};
use crate::m::M;
use crate::p::{PStatus, MAX_GOMAXPROCS, P};
use crate::runq::LOCAL_QUEUE_SIZE;
use crate::sync_facade::{
    fence, lock, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Mutex, MutexGuard, Ordering,
};
use crate::timers::TimerRole;

/// Seeded bug for the loom suite: a spinning M parks without re-checking the
/// run queues after it stops spinning (the lost wakeup this file prevents).
const RECHECK_AFTER_SPINNING: bool = !cfg!(loom_seeded_bugs = "no_recheck");

/// Seeded bug for the loom suite: `wakep` reads the spinning count without
/// the full fence, so that read may pass the submitter's publication of the
/// G, and both sides can miss each other.
const WAKEP_FENCE: bool = !cfg!(loom_seeded_bugs = "wakep_no_fence");

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
    /// Model-only: shutdown flag and deadlock report (see `loom_api.rs`).
    #[cfg(loom)]
    pub(crate) loom: crate::loom_api::LoomState,
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
    allp: Box<[AtomicPtr<P>]>,
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
                #[cfg(loom)]
                loom: Default::default(),
            }),
            runqsize: AtomicUsize::new(0),
            npidle: AtomicU32::new(0),
            nmspinning: AtomicU32::new(0),
            nmidle: AtomicU32::new(0),
            gomaxprocs: AtomicU32::new(0),
            allp: (0..MAX_GOMAXPROCS)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
            allgs: Mutex::new(Vec::new()),
            ngoroutines: AtomicUsize::new(0),
            goidgen: AtomicU64::new(0),
            mnext: AtomicU64::new(0),
            pending_wakeups: AtomicUsize::new(0),
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
        let ptr = self.allp.get(id)?.load(Ordering::Acquire);
        // SAFETY: allp entries are null or point to leaked (never freed) Ps.
        unsafe { ptr.cast_const().as_ref() }
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

    /// Number of idle Ms.
    pub fn idle_ms(&self) -> u32 {
        self.nmidle.load(Ordering::Relaxed)
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
        for id in old..n {
            let p = match self.p(id) {
                Some(p) => p,
                None => {
                    let p: &'static P = Box::leak(Box::new(P::new(id)));
                    self.allp[id].store(p as *const P as *mut P, Ordering::Release);
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
                let queued = p.drain_all();
                self.globrunqput_batch(&mut locked, queued);
            }
        }
        self.gomaxprocs.store(n as u32, Ordering::Release);
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

    /// Take a fair share of the global queue: one G to run, and up to
    /// `len/gomaxprocs` more moved to `p`'s local queue (Go's `globrunqget`).
    /// `max` caps the number taken (0: no cap). Lock held.
    pub(crate) fn globrunqget(&self, locked: &mut Locked, p: &P, max: usize) -> Option<GRef> {
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

    /// Put `g` on the global queue and make sure an M will look at it.
    pub fn globrunqput_and_wake(&self, g: GRef) {
        let mut locked = self.lock();
        self.globrunqput(&mut locked, g);
        drop(locked);
        self.wakep();
    }

    // ---- idle Ps and Ms ------------------------------------------------

    /// Put `p` on the idle list (Go's `pidleput`). Lock held.
    pub(crate) fn pidleput(&self, locked: &mut Locked, p: &'static P) {
        debug_assert!(
            p.runq_is_empty() || p.status() == PStatus::Dead,
            "pidleput: P has run queue"
        );
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

    /// Put `m` on the idle list (Go's `mput`). Lock held.
    fn mput(&self, locked: &mut Locked, m: &'static M) {
        locked.midle.push(m);
        self.nmidle
            .store(locked.midle.len() as u32, Ordering::Relaxed);
    }

    /// Take an idle M (Go's `mget`). Lock held.
    fn mget(&self, locked: &mut Locked) -> Option<&'static M> {
        let m = locked.midle.pop()?;
        self.nmidle
            .store(locked.midle.len() as u32, Ordering::Relaxed);
        Some(m)
    }

    /// Bind `p` to `m` (Go's `acquirep`).
    pub(crate) fn acquirep(&self, m: &M, p: &'static P) {
        debug_assert_eq!(p.status(), PStatus::Idle, "acquirep: P not idle");
        p.set_status(PStatus::Running);
        m.set_p(Some(p));
    }

    /// Unbind `m`'s P and return it (Go's `releasep`).
    pub(crate) fn releasep(&self, m: &M) -> &'static P {
        let p = m.p().expect("releasep: M has no P");
        m.set_p(None);
        p
    }

    /// Try to get one more M running if there is an idle P and no M is
    /// already spinning (Go's `wakep`). Called after a G became runnable.
    pub fn wakep(&self) {
        // Order our publication of the G before reading the spinning count:
        // pairs with the fence a spinner executes after it stops spinning.
        if WAKEP_FENCE {
            fence(Ordering::SeqCst);
        }
        if self.npidle.load(Ordering::SeqCst) == 0 {
            return;
        }
        // Be conservative about spinning threads: one is enough (see above).
        if self.nmspinning.load(Ordering::SeqCst) != 0
            || self
                .nmspinning
                .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
        {
            return;
        }
        self.startm(None, true);
    }

    /// Run some M on `p` (or on an idle P if `p` is `None`): wake an idle M or
    /// create one (Go's `startm`). If `spinning`, the caller already counted
    /// the new M in `nmspinning`.
    pub(crate) fn startm(&self, p: Option<&'static P>, spinning: bool) {
        let mut locked = self.lock();
        let p = match p.or_else(|| self.pidleget(&mut locked)) {
            Some(p) => p,
            None => {
                drop(locked);
                if spinning {
                    // We promised a spinner but there is no P for it.
                    let prev = self.nmspinning.fetch_sub(1, Ordering::SeqCst);
                    debug_assert!(prev > 0, "startm: negative nmspinning");
                }
                return;
            }
        };
        match self.mget(&mut locked) {
            Some(m) => {
                drop(locked);
                debug_assert!(m.p().is_none(), "startm: M has a P");
                m.set_spinning(spinning);
                m.set_nextp(p);
                m.note.wakeup();
            }
            None => {
                // A loom model that shut down has no M left to start.
                #[cfg(loom)]
                if locked.loom.shutdown {
                    return self.undo_startm(&mut locked, p, spinning);
                }
                locked.mcount += 1;
                drop(locked);
                crate::m::newm(p, spinning);
            }
        }
    }

    /// Park `m` until someone hands it a P (Go's `stopm`); returns with the
    /// P acquired. Before sleeping, checks whether the program is deadlocked.
    ///
    /// Returns `false` only in a loom model, when the model shut the
    /// scheduler down (see `loom_api.rs`); the real runtime never does.
    ///
    /// If timers are pending and no M watches them yet, `m` first becomes
    /// the timer M: it sleeps only until the earliest timer (Go's
    /// `netpoll(delay)` in `findrunnable`), off the idle list, then takes an
    /// idle P to fire it (see `timers.rs`).
    pub(crate) fn stopm(&self, m: &'static M) -> bool {
        loop {
            match self.timer_role(m) {
                TimerRole::None => {
                    crate::trace::event(crate::trace::Event::MStop { m });
                    return self.midle_enter(m) && self.mpark(m);
                }
                TimerRole::RunNow(p) => {
                    self.acquirep(m, p);
                    return true;
                }
                TimerRole::SleepUntil(t) => {
                    crate::trace::event(crate::trace::Event::MStop { m });
                    self.timer_m_sleep(m, t);
                    let mut locked = self.lock();
                    if let Some(p) = self.pidleget(&mut locked) {
                        drop(locked);
                        self.acquirep(m, p);
                        crate::trace::event(crate::trace::Event::MWake { m });
                        return true;
                    }
                    // Every P is busy: their Ms fire timers when they
                    // schedule (and sysmon when they are late).
                }
            }
        }
    }

    /// First half of `stopm`: join the idle list and, now that one more M is
    /// idle, check for deadlock. Returns `false` if the (loom) scheduler is
    /// shut down.
    pub(crate) fn midle_enter(&self, m: &'static M) -> bool {
        debug_assert!(m.p().is_none(), "stopm: holding P");
        debug_assert!(!m.spinning(), "stopm: spinning");
        let mut locked = self.lock();
        #[cfg(loom)]
        if locked.loom.shutdown {
            return false;
        }
        self.mput(&mut locked, m);
        if let Some(report) = crate::deadlock::check_dead(self, &locked) {
            crate::deadlock::on_deadlock(self, &mut locked, report);
            // Under loom `on_deadlock` returns, having shut the model down.
            #[cfg(loom)]
            return false;
        }
        true
    }

    /// Second half of `stopm`: sleep until someone hands `m` a P, and take
    /// it (Go's `mPark` + `acquirep`). Returns `false` if woken without a P,
    /// which only a loom model's shutdown does.
    pub(crate) fn mpark(&self, m: &'static M) -> bool {
        m.note.sleep();
        let Some(p) = m.take_nextp() else {
            #[cfg(not(loom))]
            panic!("stopm: woken without a P");
            #[cfg(loom)]
            return false;
        };
        self.acquirep(m, p);
        crate::trace::event(crate::trace::Event::MWake { m });
        true
    }

    /// Find an M for `p`, which sysmon just took from an M blocked in a
    /// system call (Go's `handoffp`): start one at once if there is work;
    /// else, if no M is spinning or idle to notice future work, start a
    /// spinning one; else put `p` on the idle list.
    pub(crate) fn handoffp(&self, p: &'static P) {
        debug_assert_eq!(p.status(), PStatus::Idle, "handoffp: P not idle");
        if !p.runq_is_empty() || self.runqsize.load(Ordering::Acquire) > 0 {
            self.startm(Some(p), false);
            return;
        }
        if self.nmspinning.load(Ordering::SeqCst) + self.npidle.load(Ordering::SeqCst) == 0
            && self
                .nmspinning
                .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        {
            self.startm(Some(p), true);
            return;
        }
        let mut locked = self.lock();
        if !locked.runq.is_empty() {
            drop(locked);
            self.startm(Some(p), false);
            return;
        }
        let when = p.timers.next();
        self.pidleput(&mut locked, p);
        drop(locked);
        if let Some(when) = when {
            self.wake_timer_sleeper(when);
        }
    }

    /// Destroy a P beyond GOMAXPROCS that sysmon took back from a syscall
    /// (the part of Go's `procresize` that our shrink leaves to whoever owns
    /// the P next): its queued Gs go to the global queue. The caller owns `p`.
    pub(crate) fn destroy_p(&self, p: &'static P) {
        debug_assert_eq!(p.status(), PStatus::Idle, "destroy_p: P not owned");
        let mut locked = self.lock();
        if p.id < self.gomaxprocs() {
            // GOMAXPROCS grew back meanwhile: an ordinary hand-off.
            drop(locked);
            self.handoffp(p);
            return;
        }
        p.set_status(PStatus::Dead);
        let queued = p.drain_all();
        self.globrunqput_batch(&mut locked, queued);
        drop(locked);
        self.wakep();
    }

    /// An M that was spinning found work: stop spinning, and since there may
    /// be more work, maybe wake another spinner (Go's `resetspinning`).
    pub(crate) fn reset_spinning(&self, m: &M) {
        debug_assert!(m.spinning());
        m.set_spinning(false);
        let prev = self.nmspinning.fetch_sub(1, Ordering::SeqCst);
        debug_assert!(prev > 0, "resetspinning: negative nmspinning");
        self.wakep();
    }

    /// Make a parked G runnable in `runnext` of the waker's P `p`, or on the
    /// global queue when the waker holds no P (Go's `goready` / `ready`).
    #[doc(alias = "goready")]
    pub fn ready(&self, g: GRef, p: Option<&'static P>) {
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
    pub fn ready_pending(&self, g: GRef, p: Option<&'static P>) {
        self.ready(g, p);
        let prev = self.pending_wakeups.fetch_sub(1, Ordering::SeqCst);
        debug_assert!(prev > 0, "ready_pending: no pending wakeup");
    }

    /// Queue a runnable `g` in `runnext` of `p` (or globally without a P) and
    /// wake an M for it (the tail of Go's `newproc` and `ready`).
    pub fn runqput(&self, g: GRef, p: Option<&'static P>) {
        match p {
            Some(p) => p.runqput(g, true, |batch| {
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

    /// Find a runnable G for `m`, which holds a P; park `m` when there is
    /// none (Go's `findrunnable`). Returns the G and whether it inherits the
    /// current time slice; `None` only when a loom model shut the scheduler
    /// down while `m` was idle.
    #[doc(alias = "findrunnable")]
    pub(crate) fn find_runnable(&self, m: &'static M) -> Option<(GRef, bool)> {
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
        p.runqget()
    }

    #[inline(never)]
    fn find_runnable_slow(&self, m: &'static M) -> Option<(GRef, bool)> {
        'top: loop {
            let p = m.p().expect("findrunnable: no P");

            // Due timers of our P wake their goroutines into our runnext
            // (Go's `checkTimers`). One atomic load when none is due.
            if let Some(when) = p.timers.next() {
                let now = crate::timers::nanotime();
                if when <= now {
                    p.timers.run_due(self, Some(p), now);
                }
            }

            // Every 61st schedule, look at the global queue first, so that two
            // goroutines that keep readying each other through runnext cannot
            // starve it. 61 is Go's choice: prime, not too small, not too big.
            if p.schedtick.load(Ordering::Relaxed).is_multiple_of(61)
                && self.runqsize.load(Ordering::Acquire) > 0
            {
                let mut locked = self.lock();
                if let Some(g) = self.globrunqget(&mut locked, p, 1) {
                    return Some((g, false));
                }
            }

            // Local queue: runnext first.
            if let Some(found) = p.runqget() {
                return Some(found);
            }

            // Global queue.
            if self.runqsize.load(Ordering::Acquire) > 0 {
                let mut locked = self.lock();
                if let Some(g) = self.globrunqget(&mut locked, p, 0) {
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
                    m.set_spinning(true);
                    self.nmspinning.fetch_add(1, Ordering::SeqCst);
                }
                if let Some(g) = self.steal_work(m, p) {
                    return Some((g, false));
                }
            }

            // Due timers of other Ps, idle ones included (Go checks them
            // while stealing).
            if self.run_all_timers(Some(p), crate::timers::nanotime()) > 0 {
                if let Some(found) = p.runqget() {
                    return Some(found);
                }
            }

            // Nothing to do: give up the P. Check the global queue one last
            // time under the lock that protects it.
            let mut locked = self.lock();
            if let Some(g) = self.globrunqget(&mut locked, p, 0) {
                return Some((g, false));
            }
            let p = self.releasep(m);
            self.pidleput(&mut locked, p);
            drop(locked);

            // The delicate dance (see the module doc): stop spinning first,
            // then look at every queue again.
            if m.spinning() {
                m.set_spinning(false);
                let prev = self.nmspinning.fetch_sub(1, Ordering::SeqCst);
                debug_assert!(prev > 0, "findrunnable: negative nmspinning");
                fence(Ordering::SeqCst);
                if RECHECK_AFTER_SPINNING && self.work_exists() {
                    let mut locked = self.lock();
                    if let Some(p) = self.pidleget(&mut locked) {
                        drop(locked);
                        self.acquirep(m, p);
                        m.set_spinning(true);
                        self.nmspinning.fetch_add(1, Ordering::SeqCst);
                        continue 'top;
                    }
                }
            }

            if !self.stopm(m) {
                return None;
            }
        }
    }

    /// Is any G queued anywhere (any P's local queue, or the global queue)?
    /// Go's `checkRunqsNoP`.
    pub(crate) fn work_exists(&self) -> bool {
        self.runqsize.load(Ordering::SeqCst) > 0 || self.procs().any(|p| !p.runq_is_empty())
    }

    /// Four rounds over all Ps in random order, stealing half of a victim's
    /// queue; the last round may also take a victim's `runnext` (Go's
    /// `stealWork`).
    fn steal_work(&self, m: &M, p: &'static P) -> Option<GRef> {
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
                    crate::trace::event(crate::trace::Event::Steal { p, victim, g });
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
    #[cfg(not(loom))]
    pub(crate) fn malg_batch(&self, free: &mut Vec<GRef>, n: usize) {
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
