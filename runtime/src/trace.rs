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

#[cfg(not(loom))]
mod chrome;
#[cfg(not(loom))]
mod picture;
#[cfg(not(loom))]
pub(crate) use recorder::{finish, init};

/// On when any of pictures or timeline is on; read by every hook.
static ON: AtomicBool = AtomicBool::new(false);

/// Is tracing on? One relaxed load: the whole cost of a hook when off.
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

#[cfg(not(loom))]
impl Event {
    /// [`Event::Preempt`] or [`Event::Gosched`], by why `g` yielded.
    #[inline(always)]
    pub(crate) fn yielded(g: GRef, m: &'static M, why: &crate::m::Yield) -> Event {
        match why {
            crate::m::Yield::Preempted => Event::Preempt { g, m },
            _ => Event::Gosched { g, m },
        }
    }
}

/// Report a scheduling event. When tracing is off this is one relaxed load
/// and a branch; call it with references you already hold.
#[inline(always)]
pub(crate) fn event(e: Event) {
    if enabled() {
        #[cfg(not(loom))]
        recorder::record(e);
    }
    #[cfg(loom)]
    let _ = e;
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
        #[cfg(not(loom))]
        cold::run(g, m, inherit);
    }
    #[cfg(loom)]
    let _ = (g, m, inherit);
}

/// [`Event::Park`], arguments in registers.
#[inline(always)]
pub(crate) fn park(g: GRef, m: &'static M) {
    if enabled() {
        #[cfg(not(loom))]
        cold::park(g, m);
    }
    #[cfg(loom)]
    let _ = (g, m);
}

/// [`Event::Ready`], argument in a register.
#[inline(always)]
pub(crate) fn ready(g: GRef) {
    if enabled() {
        #[cfg(not(loom))]
        cold::ready(g);
    }
    #[cfg(loom)]
    let _ = g;
}

/// The enabled side of [`run`], [`park`], [`ready`]: out of line.
#[cfg(not(loom))]
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
        #[cfg(not(loom))]
        recorder::global_runq(q);
    }
    #[cfg(loom)]
    let _ = q;
}

/// Go's `allm`: every M ever started, for pictures and `scheddetail`.
/// Written once per OS thread created, so it costs nothing on hot paths.
#[cfg(not(loom))]
static ALLM: std::sync::Mutex<Vec<&'static M>> = std::sync::Mutex::new(Vec::new());

/// `m` starts running the scheduler: remember it (Go's `allm`), and report
/// [`Event::MStart`] when tracing is on. Called once per M.
#[cfg(not(loom))]
pub(crate) fn m_started(m: &'static M) {
    allm_lock().push(m);
    event(Event::MStart { m });
}

#[cfg(not(loom))]
fn allm_lock() -> std::sync::MutexGuard<'static, Vec<&'static M>> {
    ALLM.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every M started so far, oldest first.
#[cfg(not(loom))]
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

/// The enabled side: the recorder behind the one mutex.
#[cfg(not(loom))]
mod recorder {
    use std::cell::Cell;
    use std::collections::{BTreeMap, VecDeque};
    use std::sync::{Mutex, MutexGuard, OnceLock};
    use std::time::Instant;

    use super::{chrome, picture, Ev, Event, MView, PView, Snapshot, ON};
    use crate::g::{GRef, Status};
    use crate::m::{current_g, current_m, current_p};
    use crate::p::PStatus;
    use crate::sync_facade::Ordering;

    /// Queue entries a picture shows before "+N".
    const SHOW: usize = 8;

    /// Everything the recorder keeps, under the one trace mutex.
    struct Recorder {
        /// Time zero of the pictures and the timeline.
        start: Instant,
        /// The story on stderr, if `RUNTIME_TRACE` is set.
        story: Option<picture::Story>,
        /// The timeline file, if `RUNTIME_TRACE_OUT` is set.
        timeline: Option<chrome::Timeline<std::io::BufWriter<std::fs::File>>>,
        /// Copy of the global run queue's head (see `global_runq`).
        grq: Vec<u64>,
        grq_len: usize,
        /// Parked goroutines and why (from Park and Ready events).
        waiting: BTreeMap<u64, &'static str>,
        /// Set by `finish`: record nothing more.
        done: bool,
    }

    static REC: Mutex<Option<Recorder>> = Mutex::new(None);
    static START: OnceLock<Instant> = OnceLock::new();

    thread_local! {
        /// This thread is inside the recorder: a panic there must not
        /// re-enter it from the exit path.
        static INSIDE: Cell<bool> = const { Cell::new(false) };
    }

    /// Time zero of the runtime (Go's `runtimeInitTime`), for `SCHED` lines.
    pub(crate) fn start_time() -> Instant {
        *START.get_or_init(Instant::now)
    }

    /// Read the switches from the environment; called once, before the
    /// first M or G exists.
    pub(crate) fn init() {
        let start = start_time();
        crate::schedtrace::init();
        let story = std::env::var("RUNTIME_TRACE")
            .is_ok_and(|v| !v.is_empty() && v != "0")
            .then(picture::Story::new);
        let timeline = match std::env::var_os("RUNTIME_TRACE_OUT") {
            Some(path) if !path.is_empty() => match std::fs::File::create(&path) {
                Ok(f) => Some(chrome::Timeline::new(std::io::BufWriter::new(f))),
                Err(e) => {
                    crate::fatal::write_stderr(&format!(
                        "runtime: cannot create RUNTIME_TRACE_OUT={}: {e}\n",
                        std::path::Path::new(&path).display()
                    ));
                    None
                }
            },
            _ => None,
        };
        if story.is_none() && timeline.is_none() {
            return;
        }
        if let Some(s) = &story {
            crate::fatal::write_stderr(&s.legend());
        }
        *lock() = Some(Recorder {
            start,
            story,
            timeline,
            grq: Vec::new(),
            grq_len: 0,
            waiting: BTreeMap::new(),
            done: false,
        });
        ON.store(true, std::sync::atomic::Ordering::Release);
    }

    fn lock() -> MutexGuard<'static, Option<Recorder>> {
        REC.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `f` on the recorder, unless this thread is already inside it.
    fn with(f: impl FnOnce(&mut Recorder)) {
        if INSIDE.with(|c| c.replace(true)) {
            return;
        }
        if let Some(rec) = lock().as_mut().filter(|r| !r.done) {
            f(rec);
        }
        INSIDE.with(|c| c.set(false));
    }

    #[cold]
    #[inline(never)]
    pub(super) fn global_runq(q: &VecDeque<GRef>) {
        with(|rec| {
            rec.grq = q.iter().take(SHOW).map(|g| g.goid()).collect();
            rec.grq_len = q.len();
        });
    }

    #[cold]
    #[inline(never)]
    pub(super) fn record(e: Event) {
        let ev = resolve(e);
        with(|rec| rec.record(ev));
    }

    /// The program ends with `code`: draw the last frame, end the open
    /// slices and complete the timeline file. Called on every exit path
    /// (`fatal::exit`); a no-op when tracing is off.
    pub(crate) fn finish(code: i32) {
        if !super::enabled() {
            return;
        }
        with(|rec| {
            rec.record(Ev::ProgramExit { code });
            rec.done = true;
            let t = rec.now();
            if let Some(s) = rec.story.as_mut() {
                crate::fatal::write_stderr(&s.finish());
            }
            if let Some(tl) = rec.timeline.as_mut() {
                if let Err(e) = tl.finish(t) {
                    crate::fatal::write_stderr(&format!(
                        "runtime: cannot write RUNTIME_TRACE_OUT: {e}\n"
                    ));
                }
            }
        });
    }

    /// Turn references into ids, reading what the event leaves implicit
    /// (the creator, the P) from the calling thread.
    fn resolve(e: Event) -> Ev {
        let pid = |m: &crate::m::M| m.p().map(|p| p.id);
        match e {
            Event::MStart { m } => Ev::MStart { m: m.id, p: pid(m) },
            Event::Go { g } => Ev::Go {
                g: g.goid(),
                parent: current_g().map(|g| g.goid()),
                p: current_p().map(|p| p.id),
            },
            Event::Run { g, m, inherit } => Ev::Run {
                g: g.goid(),
                m: m.id,
                p: pid(m).unwrap_or(usize::MAX),
                inherit,
            },
            Event::Park { g, m } => Ev::Park {
                g: g.goid(),
                m: m.id,
                reason: g.wait_reason().as_str(),
            },
            Event::Ready { g } => Ev::Ready {
                g: g.goid(),
                by: current_g().map(|g| g.goid()),
                p: current_p().map(|p| p.id),
            },
            Event::Preempt { g, m } => Ev::Preempt {
                g: g.goid(),
                m: m.id,
            },
            Event::Gosched { g, m } => Ev::Gosched {
                g: g.goid(),
                m: m.id,
            },
            Event::Exit { g, m } => Ev::Exit {
                g: g.goid(),
                m: m.id,
            },
            Event::Steal { p, victim, g } => Ev::Steal {
                m: current_m().map_or(u64::MAX, |m| m.id),
                p: p.id,
                victim: victim.id,
                g: g.goid(),
            },
            Event::MStop { m } => Ev::MStop { m: m.id },
            Event::MWake { m } => Ev::MWake { m: m.id, p: pid(m) },
            Event::Gomaxprocs { old, new } => Ev::Gomaxprocs { old, new },
            Event::SyscallEnter { g, m, p } => Ev::SyscallEnter {
                g: g.goid(),
                m: m.id,
                p: p.id,
            },
            Event::SyscallExit { g, m } => Ev::SyscallExit {
                g: g.goid(),
                m: m.id,
                p: pid(m),
            },
            Event::HandOff { p } => Ev::HandOff { p: p.id },
        }
    }

    impl Recorder {
        fn now(&self) -> u64 {
            self.start.elapsed().as_nanos() as u64
        }

        fn record(&mut self, ev: Ev) {
            match &ev {
                Ev::Park { g, reason, .. } => {
                    self.waiting.insert(*g, reason);
                }
                Ev::Ready { g, .. } => {
                    self.waiting.remove(g);
                }
                _ => {}
            }
            let t = self.now();
            if self.story.is_some() {
                let snap = self.snapshot();
                if let Some(s) = self.story.as_mut() {
                    let text = s.frame(t, &ev, &snap);
                    if !text.is_empty() {
                        crate::fatal::write_stderr(&text);
                    }
                }
            }
            if let Some(tl) = self.timeline.as_mut() {
                // A write error is reported once, at `finish`.
                let _ = tl.event(t, &ev);
            }
        }

        /// Read the scheduler as it is now (see the module doc on races).
        fn snapshot(&self) -> Snapshot {
            let sched = crate::proc::sched_unchecked();
            let ps = sched
                .procs()
                .map(|p| {
                    let next = p.runnext.load(Ordering::Acquire);
                    // SAFETY: runnext is null or made from a `&'static G`.
                    let runnext = unsafe { next.cast_const().as_ref() }.map(|g| g.goid());
                    let (lrq, lrq_len) = p.runq.peek(SHOW);
                    PView {
                        id: p.id,
                        status: match p.status() {
                            PStatus::Idle => "idle",
                            PStatus::Running => "running",
                            PStatus::Syscall => "syscall",
                            PStatus::Dead => "dead",
                        },
                        runnext,
                        lrq: lrq.iter().map(|g| g.goid()).collect(),
                        lrq_len,
                    }
                })
                .collect();
            let ms = super::allm()
                .into_iter()
                .map(|m| MView {
                    id: m.id,
                    p: m.p().map(|p| p.id),
                    curg: m
                        .curg()
                        .filter(|g| g.status() != Status::Free)
                        .map(|g| g.goid()),
                    spinning: m.spinning(),
                })
                .collect();
            Snapshot {
                ps,
                ms,
                grq: self.grq.clone(),
                grq_len: self.grq_len,
                waiting: self.waiting.iter().map(|(g, r)| (*g, *r)).collect(),
            }
        }
    }
}

#[cfg(not(loom))]
pub(crate) use recorder::start_time;
