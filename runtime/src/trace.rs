//! Seeing the scheduler: the hook points, the events they report, and the
//! one switch that turns them on.
//!
//! Lesson idea: the lesson explains the scheduler with pictures (an M above
//! its P, the running G below it, the local run queue beside it, the global
//! run queue on top) and says the scheduler only makes decisions at a few
//! moments: `go`, a blocking call, a system call, a time slice running out.
//! This module lets a student see those pictures drawn from their own
//! running program, at exactly those moments:
//!
//! | switch | what you get | file |
//! |---|---|---|
//! | `RUNTIME_TRACE=1` (`just lesson N --trace`) | a picture on stderr at each scheduling event | `trace/picture.rs` |
//! | `RUNTIME_TRACE_OUT=FILE` (`--trace-out FILE`) | a timeline for <https://ui.perfetto.dev> | `trace/chrome.rs` |
//! | `GODEBUG=schedtrace=X,scheddetail=1` | Go's periodic `SCHED` lines | `schedtrace.rs` |
//! | `RUNTIME_EXIT_REPORT=FD` (the grader) | the runtime's account of the run, at exit | `trace/report.rs` |
//!
//! Go's counterpart is its execution tracer (`runtime/trace.go`: `traceGoCreate`
//! in `newproc`, `traceGoStart` in `execute`, `traceGoPark` in `park_m`, ...),
//! read with `go tool trace`.
//!
//! **Free when off.** Every hook ([`event`], [`run`], [`park`], [`ready`],
//! [`global_runq`]) is `#[inline(always)]` and starts with one relaxed load
//! of a global flag that is set once at start-up; the event is built from
//! references the caller already holds, so when tracing is off nothing is
//! formatted, allocated or locked: the hook is a single predictable branch,
//! and the recording code is out of line (`#[cold]`).
//!
//! **One lock when on.** Every event is recorded under one mutex, which also
//! gives all events a single order and a single clock. The recorder reads
//! the live scheduler (Ms, Ps, `runnext`, the rings) with atomics and keeps
//! a copy of the global run queue, which hooks under the scheduler lock hand
//! it, so it never takes the scheduler lock itself: lock order is
//! `sched.lock` → trace, never the reverse. With one P the pictures are
//! exact; with several, another M may move a G while the picture is drawn.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::g::GRef;
use crate::m::M;
use crate::p::P;

mod chrome;
mod picture;
mod recorder;
mod report;

pub(crate) use recorder::{init, start_time};

/// On when any of pictures or timeline is on; read by every hook.
static ON: AtomicBool = AtomicBool::new(false);

/// Is tracing on? One relaxed load: the whole cost of a hook when off.
///
/// Never under loom: the models check the scheduler's synchronization, and
/// the recorder (which reads the scheduler from outside) is no part of it.
/// This constant is the whole of tracing's loom seam: every hook folds to
/// nothing there, and the rest of this module is built but never run.
#[inline(always)]
pub(crate) fn enabled() -> bool {
    !cfg!(loom) && ON.load(Ordering::Relaxed)
}

/// A scheduling event, as the code that makes it happen reports it (Go's
/// `traceEv*`). Built from references the caller already holds; the
/// recorder derives the rest (the P, the creating G) from them.
#[derive(Clone, Copy)]
pub(crate) enum Event {
    /// An M (OS thread) starts running the scheduler (`mstart`).
    MStart { m: &'static M },
    /// `go`: `g` was created and queued on the creator's P (`newproc`).
    /// Report it after the G is queued.
    Go { g: GRef },
    /// `m` switches to `g` on its P (`execute`); `inherit`: it came from
    /// `runnext` and continues the current time slice.
    Run {
        g: GRef,
        m: &'static M,
        inherit: bool,
    },
    /// `g` blocked and left `m` (`park_m`); its wait reason is set.
    Park { g: GRef, m: &'static M },
    /// A parked `g` is runnable again, queued on the caller's P or globally
    /// (`goready`). Report it after the G is queued.
    Ready { g: GRef },
    /// sysmon's time-slice request made `g` yield (`gopreempt_m`). Report it
    /// after the G is queued.
    Preempt { g: GRef, m: &'static M },
    /// `g` called `gosched` (`gosched_m`). Report it after the G is queued.
    Gosched { g: GRef, m: &'static M },
    /// `g` returned (`goexit0`).
    Exit { g: GRef, m: &'static M },
    /// The M holding `p` stole from `victim`'s queue and will run `g`
    /// (`runqsteal`).
    Steal {
        p: &'static P,
        victim: &'static P,
        g: GRef,
    },
    /// `m` found no work, released its P and goes to sleep (`stopm`).
    MStop { m: &'static M },
    /// `m` was woken with a P (`mPark` returning, `acquirep`).
    MWake { m: &'static M },
    /// `runtime::gomaxprocs(new)` changed the number of Ps.
    Gomaxprocs { old: usize, new: usize },
    /// `g` on `m` enters a system call; `p` is left in `Syscall` status
    /// (`entersyscall`). Report it before the P can be handed off.
    SyscallEnter {
        g: GRef,
        m: &'static M,
        p: &'static P,
    },
    /// `g` on `m` is back from its system call (`exitsyscall`). Report it
    /// once the outcome is known: with the P it runs on (`m.p()` set), or,
    /// when there was none, after `g` went to the global queue.
    SyscallExit { g: GRef, m: &'static M },
    /// sysmon took `p` from an M blocked in a system call and hands it to
    /// another M (`retake` → `handoffp`).
    HandOff { p: &'static P },
}

impl Event {
    /// [`Event::Preempt`] or [`Event::Gosched`], by why `g` yielded.
    #[inline(always)]
    pub(crate) fn yielded(g: GRef, m: &'static M, why: &crate::g::Yield) -> Event {
        match why {
            crate::g::Yield::Preempted => Event::Preempt { g, m },
            _ => Event::Gosched { g, m },
        }
    }
}

/// Report a scheduling event. When tracing is off this is one relaxed load
/// and a branch; call it with references you already hold.
#[inline(always)]
pub(crate) fn event(e: Event) {
    if enabled() {
        recorder::record(e);
    }
}

// The three hooks of the hottest path (a channel round trip passes six of
// them: two of each) take their arguments in registers. An `Event` is passed
// through memory, and the compiler fills it in before the branch even when
// tracing is off; measured with callgrind on the ping-pong benchmark, these
// shortcuts bring the off cost from ~7.7 to ~4.5 instructions per hook (load
// the flag's address, load the flag, test, branch).

/// [`Event::Run`], arguments in registers.
#[inline(always)]
pub(crate) fn run(g: GRef, m: &'static M, inherit: bool) {
    if enabled() {
        cold::run(g, m, inherit);
    }
}

/// [`Event::Park`], arguments in registers.
#[inline(always)]
pub(crate) fn park(g: GRef, m: &'static M) {
    if enabled() {
        cold::park(g, m);
    }
}

/// [`Event::Ready`], argument in a register.
#[inline(always)]
pub(crate) fn ready(g: GRef) {
    if enabled() {
        cold::ready(g);
    }
}

/// The enabled side of [`run`], [`park`], [`ready`]: out of line.
mod cold {
    use super::{recorder::record, Event, GRef, M};

    #[cold]
    #[inline(never)]
    pub(super) fn run(g: GRef, m: &'static M, inherit: bool) {
        record(Event::Run { g, m, inherit })
    }

    #[cold]
    #[inline(never)]
    pub(super) fn park(g: GRef, m: &'static M) {
        record(Event::Park { g, m })
    }

    #[cold]
    #[inline(never)]
    pub(super) fn ready(g: GRef) {
        record(Event::Ready { g })
    }
}

/// Report the new contents of the global run queue. Call it under the
/// scheduler lock, after every change (`globrunqput`, `globrunqget`, ...):
/// the recorder never takes that lock, so this is how it sees the queue.
#[inline(always)]
pub(crate) fn global_runq(q: &std::collections::VecDeque<GRef>) {
    if enabled() {
        recorder::global_runq(q);
    }
}

/// Go's `allm`: every M ever started, for pictures and `scheddetail`.
/// Written once per OS thread created, so it costs nothing on hot paths.
static ALLM: std::sync::Mutex<Vec<&'static M>> = std::sync::Mutex::new(Vec::new());

/// `m` starts running the scheduler: remember it (Go's `allm`), and report
/// [`Event::MStart`] when tracing is on. Called once per M.
pub(crate) fn m_started(m: &'static M) {
    allm_lock().push(m);
    event(Event::MStart { m });
}

fn allm_lock() -> std::sync::MutexGuard<'static, Vec<&'static M>> {
    ALLM.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every M started so far, oldest first.
pub(crate) fn allm() -> Vec<&'static M> {
    allm_lock().clone()
}

/// A plain-data view of the scheduler at one instant: what a picture shows.
/// Ids only, so the renderer can be tested without a running scheduler.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    /// The live Ps (`allp[..gomaxprocs]`).
    pub ps: Vec<PView>,
    /// Every M.
    pub ms: Vec<MView>,
    /// The head of the global run queue, and its length.
    pub grq: Vec<u64>,
    pub grq_len: usize,
    /// Parked goroutines and why, by goid.
    pub waiting: Vec<(u64, &'static str)>,
}

/// One P in a [`Snapshot`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PView {
    pub id: usize,
    /// `idle`, `running` or `syscall`.
    pub status: &'static str,
    pub runnext: Option<u64>,
    /// The head of the local run queue, and its length (`runnext` excluded).
    pub lrq: Vec<u64>,
    pub lrq_len: usize,
}

/// One M in a [`Snapshot`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MView {
    pub id: u64,
    /// The P it holds.
    pub p: Option<usize>,
    /// The G it runs (or is blocked in a system call with).
    pub curg: Option<u64>,
    pub spinning: bool,
}

/// An [`Event`] with its references resolved to ids, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ev {
    MStart {
        m: u64,
        p: Option<usize>,
    },
    Go {
        g: u64,
        parent: Option<u64>,
        p: Option<usize>,
    },
    Run {
        g: u64,
        m: u64,
        p: usize,
        inherit: bool,
    },
    Park {
        g: u64,
        m: u64,
        reason: &'static str,
    },
    Ready {
        g: u64,
        by: Option<u64>,
        p: Option<usize>,
    },
    Preempt {
        g: u64,
        m: u64,
    },
    Gosched {
        g: u64,
        m: u64,
    },
    Exit {
        g: u64,
        m: u64,
    },
    Steal {
        m: u64,
        p: usize,
        victim: usize,
        g: u64,
    },
    MStop {
        m: u64,
    },
    MWake {
        m: u64,
        p: Option<usize>,
    },
    Gomaxprocs {
        old: usize,
        new: usize,
    },
    SyscallEnter {
        g: u64,
        m: u64,
        p: usize,
    },
    SyscallExit {
        g: u64,
        m: u64,
        p: Option<usize>,
    },
    HandOff {
        p: usize,
    },
    ProgramExit {
        code: i32,
    },
}

impl Ev {
    /// The short name of the event, as shown in frame titles and timelines.
    pub fn name(&self) -> &'static str {
        match self {
            Ev::MStart { .. } => "M start",
            Ev::Go { .. } => "go",
            Ev::Run { .. } => "run",
            Ev::Park { .. } => "park",
            Ev::Ready { .. } => "ready",
            Ev::Preempt { .. } => "preempt",
            Ev::Gosched { .. } => "yield",
            Ev::Exit { .. } => "goexit",
            Ev::Steal { .. } => "steal",
            Ev::MStop { .. } => "M sleep",
            Ev::MWake { .. } => "M wake",
            Ev::Gomaxprocs { .. } => "gomaxprocs",
            Ev::SyscallEnter { .. } => "syscall enter",
            Ev::SyscallExit { .. } => "syscall exit",
            Ev::HandOff { .. } => "hand-off",
            Ev::ProgramExit { .. } => "exit",
        }
    }
}
