//! `GODEBUG=schedtrace=X,scheddetail=1`: Go's own periodic summary of the
//! scheduler, printed to stderr by sysmon every X milliseconds (Go's
//! `schedtrace` in `runtime/proc.go`, `parsedebugvars` in `runtime1.go`).
//!
//! Lesson idea: "every P is given a Local Run Queue; there is also a Global
//! Run Queue; Ms spin a little when there is no work". One line says how
//! many Ps there are and how many are idle, how many threads exist, spin or
//! sleep, and how long each run queue is:
//!
//! ```text
//! SCHED 20ms: gomaxprocs=1 idleprocs=0 threads=2 spinningthreads=0 idlethreads=0 runqueue=1 [0]
//! ```
//!
//! With `scheddetail=1`, every P, M and G gets a line of its own, in Go's
//! format, with the fields that exist here: a P's status (Go's numbers:
//! 0 idle, 1 running, 2 syscall, 4 dead), `schedtick` (time slices started),
//! `syscalltick` (system calls entered), its M and the length of its ring; an M's P, running G, whether it spins
//! and whether it sleeps (`blocked`); a G's status (1 runnable, 2 running,
//! 3 syscall, 4 waiting, 6 dead) with its wait reason, and its M. Like Go's,
//! per-P queue lengths count the ring only, not `runnext`.
//!
//! sysmon prints the lines, so while a period is set it never sleeps longer
//! than that period.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::g::Status;
use crate::p::PStatus;
use crate::sched::Sched;

/// `schedtrace=X`: print every X ms (0: never).
static PERIOD_MS: AtomicU64 = AtomicU64::new(0);
/// `scheddetail=1`: one line per P, M and G.
static DETAIL: AtomicBool = AtomicBool::new(false);
/// When the last lines were printed, in ms since start-up (`u64::MAX`: never).
static LAST_MS: AtomicU64 = AtomicU64::new(u64::MAX);

/// The settings of `GODEBUG` that this runtime understands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct GoDebug {
    /// `schedtrace=X`, in milliseconds.
    pub schedtrace: u64,
    /// `scheddetail=N`, N > 0.
    pub scheddetail: bool,
}

/// Parse `GODEBUG` as Go does: comma-separated `key=value` pairs, unknown
/// keys ignored, a value that is not a number leaves the setting alone, the
/// last occurrence wins.
pub(crate) fn parse(godebug: &str) -> GoDebug {
    let mut d = GoDebug::default();
    for field in godebug.split(',') {
        let Some((key, value)) = field.split_once('=') else {
            continue;
        };
        let Ok(n) = value.parse::<i64>() else {
            continue;
        };
        match key {
            "schedtrace" => d.schedtrace = n.max(0) as u64,
            "scheddetail" => d.scheddetail = n > 0,
            _ => {}
        }
    }
    d
}

/// Read `GODEBUG` once at start-up.
pub(crate) fn init() {
    let d = parse(&std::env::var("GODEBUG").unwrap_or_default());
    DETAIL.store(d.scheddetail, Ordering::Relaxed);
    PERIOD_MS.store(d.schedtrace, Ordering::Relaxed);
}

/// Called by sysmon on each round, before it sleeps for `delay`: print the
/// lines when a period has passed, and return how long sysmon may sleep.
pub(crate) fn sysmon_tick(sched: &Sched, delay: Duration) -> Duration {
    let period = PERIOD_MS.load(Ordering::Relaxed);
    if period == 0 {
        return delay;
    }
    let now = crate::trace::start_time().elapsed().as_millis() as u64;
    let last = LAST_MS.load(Ordering::Relaxed);
    if last == u64::MAX || last + period <= now {
        LAST_MS.store(now, Ordering::Relaxed);
        crate::fatal::write_stderr(&format(
            &collect(sched, now),
            DETAIL.load(Ordering::Relaxed),
        ));
    }
    delay.min(Duration::from_millis(period))
}

/// What one round of `schedtrace` prints, as plain data.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct View {
    pub t_ms: u64,
    pub gomaxprocs: usize,
    pub idleprocs: u32,
    pub threads: u32,
    pub spinningthreads: u32,
    pub idlethreads: u32,
    pub runqueue: usize,
    /// (id, Go status, schedtick, syscalltick, M id or -1, ring length)
    pub ps: Vec<(usize, u8, u32, u32, i64, usize)>,
    /// (id, P id or -1, G id or -1, spinning, blocked)
    pub ms: Vec<(u64, i64, i64, bool, bool)>,
    /// (goid, Go status, wait reason, M id or -1)
    pub gs: Vec<(u64, u8, &'static str, i64)>,
}

/// Go's status numbers (`_Pidle`... and `_Gidle`... in `runtime2.go`).
fn p_status(s: PStatus) -> u8 {
    match s {
        PStatus::Idle => 0,
        PStatus::Running => 1,
        PStatus::Syscall => 2,
        PStatus::Dead => 4,
    }
}

fn g_status(s: Status) -> u8 {
    match s {
        Status::Runnable => 1,
        Status::Running => 2,
        Status::Syscall => 3,
        Status::Waiting => 4,
        Status::Free => 6,
    }
}

/// Read the scheduler under its lock, as Go's `schedtrace` does.
fn collect(sched: &Sched, t_ms: u64) -> View {
    let allm = crate::trace::allm();
    let locked = sched.lock();
    let m_of_p = |id: usize| {
        allm.iter()
            .find(|m| m.p().is_some_and(|p| p.id == id))
            .map_or(-1, |m| m.id as i64)
    };
    let ps = sched
        .procs()
        .map(|p| {
            let tick = p.schedtick.load(Ordering::Relaxed);
            let systick = p.syscalltick.load(Ordering::Relaxed);
            let status = p_status(p.status());
            (p.id, status, tick, systick, m_of_p(p.id), p.runq.len())
        })
        .collect();
    let ms = allm
        .iter()
        .map(|m| {
            let blocked = locked.midle.iter().any(|i| std::ptr::eq(*i, *m));
            (
                m.id,
                m.p().map_or(-1, |p| p.id as i64),
                m.curg().map_or(-1, |g| g.goid() as i64),
                m.spinning(),
                blocked,
            )
        })
        .collect();
    let gs = crate::sync_facade::lock(&sched.allgs)
        .iter()
        .map(|g| {
            let status = g.status();
            let reason = if status == Status::Waiting {
                g.wait_reason().as_str()
            } else {
                ""
            };
            let m = allm
                .iter()
                .find(|m| m.curg().is_some_and(|c| std::ptr::eq(c, *g)))
                .map_or(-1, |m| m.id as i64);
            (g.goid(), g_status(status), reason, m)
        })
        .collect();
    View {
        t_ms,
        gomaxprocs: sched.gomaxprocs(),
        idleprocs: sched.npidle.load(Ordering::Relaxed),
        // Go counts sysmon among its threads; `mcount` does not.
        threads: locked.mcount + 1,
        spinningthreads: sched.nmspinning.load(Ordering::Relaxed),
        idlethreads: locked.midle.len() as u32,
        runqueue: locked.runq.len(),
        ps,
        ms,
        gs,
    }
}

/// Go's text for one round.
pub(crate) fn format(v: &View, detail: bool) -> String {
    let mut out = format!(
        "SCHED {}ms: gomaxprocs={} idleprocs={} threads={} spinningthreads={} idlethreads={} runqueue={}",
        v.t_ms, v.gomaxprocs, v.idleprocs, v.threads, v.spinningthreads, v.idlethreads, v.runqueue
    );
    if !detail {
        let lens: Vec<String> = v.ps.iter().map(|p| p.5.to_string()).collect();
        let _ = writeln!(out, " [{}]", lens.join(" "));
        return out;
    }
    out.push('\n');
    for &(id, status, tick, systick, m, len) in &v.ps {
        let _ = writeln!(
            out,
            "  P{id}: status={status} schedtick={tick} syscalltick={systick} m={m} runqsize={len}"
        );
    }
    for &(id, p, g, spinning, blocked) in &v.ms {
        let _ = writeln!(
            out,
            "  M{id}: p={p} curg={g} spinning={spinning} blocked={blocked}"
        );
    }
    for &(goid, status, reason, m) in &v.gs {
        let _ = writeln!(out, "  G{goid}: status={status}({reason}) m={m}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn godebug_is_parsed_like_go() {
        assert_eq!(parse(""), GoDebug::default());
        assert_eq!(
            parse("schedtrace=10"),
            GoDebug {
                schedtrace: 10,
                scheddetail: false
            }
        );
        assert_eq!(
            parse("gctrace=1,scheddetail=1,schedtrace=250"),
            GoDebug {
                schedtrace: 250,
                scheddetail: true
            }
        );
        // Not a number: ignored. Last one wins. No `=`: ignored.
        assert_eq!(parse("schedtrace=5,schedtrace=x,junk").schedtrace, 5);
        assert_eq!(parse("schedtrace=5,schedtrace=7").schedtrace, 7);
        assert_eq!(parse("schedtrace=-3").schedtrace, 0);
    }

    fn view() -> View {
        View {
            t_ms: 40,
            gomaxprocs: 2,
            idleprocs: 1,
            threads: 3,
            spinningthreads: 0,
            idlethreads: 1,
            runqueue: 2,
            ps: vec![(0, 1, 17, 4, 0, 3), (1, 0, 2, 0, -1, 0)],
            ms: vec![(0, 0, 5, false, false), (1, -1, -1, false, true)],
            gs: vec![(1, 4, "semacquire", -1), (5, 2, "", 0), (6, 6, "", -1)],
        }
    }

    #[test]
    fn summary_line_is_gos() {
        assert_eq!(
            format(&view(), false),
            "SCHED 40ms: gomaxprocs=2 idleprocs=1 threads=3 spinningthreads=0 \
             idlethreads=1 runqueue=2 [3 0]\n"
        );
    }

    #[test]
    fn detail_lines_are_gos_for_the_fields_we_have() {
        let text = format(&view(), true);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "SCHED 40ms: gomaxprocs=2 idleprocs=1 threads=3 spinningthreads=0 idlethreads=1 runqueue=2",
                "  P0: status=1 schedtick=17 syscalltick=4 m=0 runqsize=3",
                "  P1: status=0 schedtick=2 syscalltick=0 m=-1 runqsize=0",
                "  M0: p=0 curg=5 spinning=false blocked=false",
                "  M1: p=-1 curg=-1 spinning=false blocked=true",
                "  G1: status=4(semacquire) m=-1",
                "  G5: status=2() m=0",
                "  G6: status=6() m=-1",
            ]
        );
    }
}
