//! Idle Ms: spinning, parking and waking OS threads (Go's `wakep`, `startm`,
//! `stopm`, `handoffp`, `resetspinning` in `runtime/proc.go`; tokio keeps
//! the same protocol in `multi_thread/idle.rs`, "coordinates idling
//! workers").
//!
//! Lesson idea: "if a P has no work, the M spins a little bit to keep it hot
//! on the core", and then sleeps until someone has work for it.
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
//!   and only then looks at every run queue *once more* before parking
//!   ([`Sched::spinner_gives_up`]). The submitter publishes its G before
//!   reading `nmspinning`; the spinner publishes its decrement before reading
//!   the queues. With a full (SeqCst) fence on both sides, at least one of
//!   them sees the other: either the submitter sees no spinner and wakes an
//!   M, or the spinner sees the G.
//! - Parked Ms sleep on an OS primitive (`Note`), never poll with sleeps.
//!
//! `nmspinning` counts the Ms whose `spinning` flag is set, plus the one
//! spinner `wakep` (or `handoffp`) promised and `startm` has not handed to
//! an M yet. Every change goes through [`Sched::start_spinning`],
//! [`Sched::stop_spinning`], a promise (a CAS from 0 to 1) or its
//! withdrawal (`uncount_spinner`), so the count cannot drift from the flags;
//! a decrement below zero trips a `debug_assert!`.
//!
//! The loom model `grader/tests/loom_idle.rs` checks this protocol.

use crate::deadlock::DeadlockReport;
use crate::m::M;
use crate::p::{PStatus, P};
use crate::sched::{Locked, Sched, TimerRole};
use crate::sync_facade::{fence, Ordering};

/// Seeded bug for the loom suite: a spinning M parks without re-checking the
/// run queues after it stops spinning (the lost wakeup this file prevents).
const RECHECK_AFTER_SPINNING: bool = !cfg!(loom_seeded_bugs = "no_recheck");

/// Seeded bug for the loom suite: `wakep` reads the spinning count without
/// the full fence, so that read may pass the submitter's publication of the
/// G, and both sides can miss each other.
const WAKEP_FENCE: bool = !cfg!(loom_seeded_bugs = "wakep_no_fence");

impl Sched {
    // ---- spinning ------------------------------------------------------

    /// `m` starts looking for work to steal (the top of Go's `stealWork`
    /// path in `findrunnable`). The caller saw `m` not spinning.
    pub(crate) fn start_spinning(&self, m: &M) {
        m.set_spinning(true);
        self.nmspinning.fetch_add(1, Ordering::SeqCst);
    }

    /// `m` stops spinning: clear its flag and uncount it. Every M that
    /// stops spinning goes through here; the caller saw `m` spinning.
    ///
    /// (The flag is not read again to check it: under loom every atomic
    /// access is a scheduling point, and the models' execution counts must
    /// not grow for a check the callers already made.)
    pub(crate) fn stop_spinning(&self, m: &M) {
        m.set_spinning(false);
        self.uncount_spinner();
    }

    /// Promise a spinning M (the first half of `wakep`): succeeds only if
    /// no M spins. The promise is kept by `startm` handing it to an M, or
    /// withdrawn by [`uncount_spinner`](Self::uncount_spinner).
    fn promise_spinner(&self) -> bool {
        self.nmspinning.load(Ordering::SeqCst) == 0
            && self
                .nmspinning
                .compare_exchange(0, 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
    }

    /// One spinner fewer: an M stopped spinning, or a promised spinner never
    /// got an M.
    fn uncount_spinner(&self) {
        let prev = self.nmspinning.fetch_sub(1, Ordering::SeqCst);
        debug_assert!(prev > 0, "nmspinning would go negative");
    }

    /// An M that was spinning found work: stop spinning, and since there may
    /// be more work, maybe wake another spinner (Go's `resetspinning`).
    pub(crate) fn reset_spinning(&'static self, m: &M) {
        debug_assert!(m.spinning());
        self.stop_spinning(m);
        self.wakep();
    }

    /// A spinning M found nothing and put its P on the idle list: stop
    /// spinning, *then* look at every queue once more (see the module doc).
    /// The caller saw `m` spinning.
    /// Returns an idle P to go on spinning with when work turned up, `None`
    /// when `m` may park.
    pub(crate) fn spinner_gives_up(&self, m: &'static M) -> Option<&'static P> {
        self.stop_spinning(m);
        fence(Ordering::SeqCst);
        if RECHECK_AFTER_SPINNING && self.work_exists() {
            let mut locked = self.lock();
            if let Some(p) = self.pidleget(&mut locked) {
                drop(locked);
                self.acquirep(m, p);
                self.start_spinning(m);
                return Some(p);
            }
        }
        None
    }

    /// Is any G queued anywhere (any P's local queue, or the global queue)?
    /// Go's `checkRunqsNoP`.
    pub(crate) fn work_exists(&self) -> bool {
        self.runqsize.load(Ordering::SeqCst) > 0 || self.procs().any(|p| !p.runq_is_empty())
    }

    // ---- waking --------------------------------------------------------

    /// Try to get one more M running if there is an idle P and no M is
    /// already spinning (Go's `wakep`). Called after a G became runnable.
    pub fn wakep(&'static self) {
        // Order our publication of the G before reading the spinning count:
        // pairs with the fence a spinner executes after it stops spinning.
        if WAKEP_FENCE {
            fence(Ordering::SeqCst);
        }
        if self.npidle.load(Ordering::SeqCst) == 0 {
            return;
        }
        // Be conservative about spinning threads: one is enough (see above).
        if !self.promise_spinner() {
            return;
        }
        self.startm(None, true);
    }

    /// Run some M on `p` (or on an idle P if `p` is `None`): wake an idle M or
    /// create one (Go's `startm`). If `spinning`, the caller already counted
    /// the new M in `nmspinning`.
    pub(crate) fn startm(&'static self, p: Option<&'static P>, spinning: bool) {
        let mut locked = self.lock();
        let p = match p.or_else(|| self.pidleget(&mut locked)) {
            Some(p) => p,
            None => {
                drop(locked);
                if spinning {
                    // We promised a spinner but there is no P for it.
                    self.uncount_spinner();
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
            // A loom model that shut down has no M left to start.
            None if locked.shutdown.is_set() => self.undo_startm(&mut locked, p, spinning),
            None => {
                locked.mcount += 1;
                drop(locked);
                crate::m::newm(self, p, spinning);
            }
        }
    }

    /// `startm` after shutdown: there is no M to wake, and the real runtime
    /// would be exiting rather than creating one. Give the P back and drop
    /// the spinning M that `wakep` promised. Lock held.
    fn undo_startm(&self, locked: &mut Locked, p: &'static P, spinning: bool) {
        self.pidleput(locked, p);
        if spinning {
            self.uncount_spinner();
        }
    }

    /// Find an M for `p`, which sysmon just took from an M blocked in a
    /// system call (Go's `handoffp`): start one at once if there is work;
    /// else, if no M is spinning or idle to notice future work, start a
    /// spinning one; else put `p` on the idle list.
    pub(crate) fn handoffp(&'static self, p: &'static P) {
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

    // ---- parking -------------------------------------------------------

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

    /// Park `m` until someone hands it a P (Go's `stopm`); returns with the
    /// P acquired. Before sleeping, checks whether the program is deadlocked.
    ///
    /// Returns `false` only in a loom model, when the model shut the
    /// scheduler down (see [`Shutdown`]); the real runtime never does.
    ///
    /// If timers are pending and no M watches them yet, `m` first becomes
    /// the timer M: it sleeps only until the earliest timer (Go's
    /// `netpoll(delay)` in `findrunnable`), off the idle list, then takes an
    /// idle P to fire it (see `Sched::timer_role`).
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
        if locked.shutdown.is_set() {
            return false;
        }
        self.mput(&mut locked, m);
        if let Some(report) = crate::deadlock::check_dead(self, &locked) {
            return Shutdown::deadlocked(self, &mut locked, report);
        }
        true
    }

    /// Second half of `stopm`: sleep until someone hands `m` a P, and take
    /// it (Go's `mPark` + `acquirep`). Returns `false` if woken without a P,
    /// which only a loom model's shutdown does.
    pub(crate) fn mpark(&self, m: &'static M) -> bool {
        m.note.sleep();
        let Some(p) = m.take_nextp() else {
            return Shutdown::woken_without_p();
        };
        self.acquirep(m, p);
        crate::trace::event(crate::trace::Event::MWake { m });
        true
    }
}

pub(crate) use stop::Shutdown;

/// Stopping the scheduler: the one place where the idle protocol of a loom
/// model differs from the runtime's.
///
/// The runtime never stops its Ms: the program ends by exiting the process
/// under them (`fatal::exit`, Go's `exit`), a deadlock included. A loom
/// model cannot exit and must end every thread, or loom reports a deadlock.
/// So under loom the scheduler lock also guards a shutdown flag:
/// `loom_api::shutdown` sets it and wakes every idle M; `stopm` returns
/// `false` instead of sleeping once it is set, which makes `find_runnable`
/// return `None`. The deadlock detector records its report and shuts down
/// the same way.
#[cfg(not(loom))]
mod stop {
    use super::{DeadlockReport, Locked, Sched};

    /// A runtime is never shut down: nothing to keep.
    pub(crate) struct Shutdown;

    impl Shutdown {
        pub(crate) fn new() -> Shutdown {
            Shutdown
        }

        /// Never: the process exits under its Ms instead.
        #[inline(always)]
        pub(crate) fn is_set(&self) -> bool {
            false
        }

        /// The deadlock detector fired: print Go's report and exit 2.
        pub(crate) fn deadlocked(_: &Sched, _: &mut Locked, report: DeadlockReport) -> bool {
            crate::fatal::write_stderr(&report.text);
            crate::traceback::die()
        }

        /// An idle M is only ever woken with a P in its hand.
        pub(crate) fn woken_without_p() -> bool {
            panic!("stopm: woken without a P");
        }
    }
}

#[cfg(loom)]
mod stop {
    use super::{DeadlockReport, Locked, Sched};
    use crate::sync_facade::Ordering;

    /// Model-only state kept under the scheduler lock.
    #[derive(Default)]
    pub(crate) struct Shutdown {
        /// Set once the model stops: idle Ms return instead of sleeping.
        done: bool,
        /// What the deadlock detector reported, if it fired.
        pub(crate) deadlock: Option<DeadlockReport>,
    }

    impl Shutdown {
        pub(crate) fn new() -> Shutdown {
            Shutdown::default()
        }

        /// Has the model stopped?
        #[inline(always)]
        pub(crate) fn is_set(&self) -> bool {
            self.done
        }

        /// The deadlock detector fired: keep the report, stop the model.
        /// Returns `false`: the M that found it does not park.
        pub(crate) fn deadlocked(
            sched: &Sched,
            locked: &mut Locked,
            report: DeadlockReport,
        ) -> bool {
            assert!(
                locked.shutdown.deadlock.is_none(),
                "deadlock reported twice:\n{}",
                report.text
            );
            locked.shutdown.deadlock = Some(report);
            Shutdown::stop_locked(sched, locked);
            false
        }

        /// Woken without a P: the model shut down.
        pub(crate) fn woken_without_p() -> bool {
            false
        }

        /// Stop every M: set the flag and wake every idle M without a P.
        /// Lock held, so an M on its way into `stopm` either sees the flag
        /// or is already on the idle list and gets woken here.
        pub(crate) fn stop_locked(sched: &Sched, locked: &mut Locked) {
            locked.shutdown.done = true;
            for m in locked.midle.drain(..) {
                m.note.wakeup();
            }
            sched.nmidle.store(0, Ordering::Relaxed);
        }
    }
}
