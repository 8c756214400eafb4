//! The recorder: what tracing does when it is on (see `trace.rs`).
//!
//! Lesson idea: a picture of the scheduler at one instant. At each event the
//! recorder reads the live scheduler into a plain [`Snapshot`] (Ms, Ps,
//! `runnext`, the local rings through `LocalQueue::peek`, and its own copy of
//! the global queue), then hands the event and the snapshot to the story
//! (`picture.rs`) and the timeline (`chrome.rs`). Everything happens under
//! one mutex, which is never held while taking a scheduler lock.

use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use super::{chrome, picture, report, Ev, Event, MView, PView, Snapshot, ON};
use crate::g::{GRef, Status};
use crate::m::{current_g, current_m, current_p};
use crate::p::PStatus;
use crate::sched::Sched;
use crate::sync_facade::Ordering;

/// Queue entries a picture shows before "+N".
const SHOW: usize = 8;

/// Everything the recorder keeps, under the one trace mutex.
struct Recorder {
    /// The scheduler whose pictures we draw, given at `init`.
    sched: &'static Sched,
    /// Time zero of the pictures and the timeline.
    start: Instant,
    /// The story on stderr, if `RUNTIME_TRACE` is set.
    story: Option<picture::Story>,
    /// The timeline file, if `RUNTIME_TRACE_OUT` is set.
    timeline: Option<chrome::Timeline<std::io::BufWriter<std::fs::File>>>,
    /// The exit report for a grader, if `RUNTIME_EXIT_REPORT` is set.
    report: Option<report::Report>,
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

/// Read the switches from the environment; called once by the start-up of
/// `sched`, before the first M or G exists. When tracing is on, [`finish`]
/// becomes an exit hook (see `fatal.rs`).
pub(crate) fn init(sched: &'static Sched) {
    let start = start_time();
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
    let report = report::Report::from_env();
    if story.is_none() && timeline.is_none() && report.is_none() {
        return;
    }
    if let Some(s) = &story {
        crate::fatal::write_stderr(&s.legend());
    }
    *lock() = Some(Recorder {
        sched,
        start,
        story,
        timeline,
        report,
        grq: Vec::new(),
        grq_len: 0,
        waiting: BTreeMap::new(),
        done: false,
    });
    ON.store(true, std::sync::atomic::Ordering::Release);
    crate::fatal::add_exit_hook(finish);
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
/// slices and complete the timeline file. Called on every exit path, as an
/// exit hook of `fatal::exit`.
pub(crate) fn finish(code: i32) {
    if !super::enabled() {
        return;
    }
    with(|rec| {
        rec.record(Ev::ProgramExit { code });
        rec.done = true;
        if let Some(r) = rec.report.as_mut() {
            r.finish(code);
        }
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
        if let Some(r) = self.report.as_mut() {
            r.observe(&ev);
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
        let ps = self
            .sched
            .procs()
            .map(|p| {
                let runnext = p.runnext.load(Ordering::Acquire).map(|g| g.goid());
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
