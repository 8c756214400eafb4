//! The timeline: who ran where, and when, as a file Perfetto opens.
//!
//! Lesson idea: "only one goroutine runs on a P at a time", "concurrency is
//! not parallelism", "the M can get swapped out but we are still single
//! threaded". A timeline shows it at a glance: one track per P and one per M,
//! a slice for each stretch a G ran, and markers for `go`, park, ready,
//! steal, preempt and hand-off. With one P the P track is one unbroken line
//! of alternating Gs (concurrency); with two, two tracks run at once
//! (parallelism).
//!
//! The format is Chrome's trace-event JSON (`{"traceEvents": [...]}`), which
//! <https://ui.perfetto.dev> and `chrome://tracing` open: process 1 holds the
//! P tracks, process 2 the M tracks (named with `M` metadata events), G runs
//! are complete events (`"ph": "X"`), the rest instant events (`"ph": "i"`).
//! Times are microseconds since the runtime started. Go's `go tool trace`
//! shows the same with its own format.
//!
//! Invariants the writer keeps, whatever order racing Ms report in: a P track
//! and an M track show at most one G run at a time, and a G runs in one
//! place at a time (a new run closes any run still open for that P, M or
//! G). The file is completed (`]}`) by [`Timeline::finish`], which the
//! runtime calls on every exit path.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};

use super::Ev;

/// Process id of the P tracks.
const PID_P: u32 = 1;
/// Process id of the M tracks.
const PID_M: u32 = 2;

/// A G running: on which P and M, since when.
#[derive(Clone, Copy)]
struct Run {
    g: u64,
    p: usize,
    m: u64,
    start: u64,
}

/// The timeline being written.
pub(crate) struct Timeline<W: Write> {
    out: W,
    /// No event written yet (the next one needs no comma).
    first: bool,
    /// Tracks already named, as (pid, tid).
    named: BTreeSet<(u32, u64)>,
    /// Open runs, by M.
    running: BTreeMap<u64, Run>,
    /// Open system calls, by M: (G, start).
    syscalls: BTreeMap<u64, (u64, u64)>,
}

/// A time in nanoseconds as microseconds with three exact decimals.
fn us(ns: u64) -> String {
    format!("{}.{:03}", ns / 1000, ns % 1000)
}

/// JSON string escaping for the few strings we write.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

impl<W: Write> Timeline<W> {
    /// Start the file: the header and the two processes' names.
    pub(crate) fn new(mut out: W) -> Timeline<W> {
        // Errors surface at `finish`; a lost header then fails visibly.
        let _ = write!(out, "{{\"displayTimeUnit\":\"ns\",\"traceEvents\":[");
        let mut tl = Timeline {
            out,
            first: true,
            named: BTreeSet::new(),
            running: BTreeMap::new(),
            syscalls: BTreeMap::new(),
        };
        for (pid, name) in [
            (PID_P, "Ps (logical processors)"),
            (PID_M, "Ms (OS threads)"),
        ] {
            let _ = tl.line(&format!(
                "{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":{pid},\"args\":{{\"name\":\"{name}\"}}}}"
            ));
            let _ = tl.line(&format!(
                "{{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":{pid},\"args\":{{\"sort_index\":{pid}}}}}"
            ));
        }
        tl
    }

    /// One event object; the first one after the header has no comma.
    fn line(&mut self, obj: &str) -> io::Result<()> {
        let comma = if self.first { "" } else { "," };
        self.first = false;
        write!(self.out, "{comma}\n{obj}")
    }

    /// Name the track (pid, tid) the first time it is used.
    fn track(&mut self, pid: u32, tid: u64) -> io::Result<()> {
        if self.named.insert((pid, tid)) {
            let name = if pid == PID_P {
                format!("P{tid}")
            } else {
                format!("M{tid}")
            };
            self.line(&format!(
                "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{pid},\"tid\":{tid},\"args\":{{\"name\":\"{name}\"}}}}"
            ))?;
            self.line(&format!(
                "{{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":{pid},\"tid\":{tid},\"args\":{{\"sort_index\":{tid}}}}}"
            ))?;
        }
        Ok(())
    }

    /// An instant event on a track (`None`: global).
    fn instant(&mut self, t: u64, track: Option<(u32, u64)>, name: &str) -> io::Result<()> {
        match track {
            Some((pid, tid)) => {
                self.track(pid, tid)?;
                self.line(&format!(
                    "{{\"name\":\"{}\",\"cat\":\"sched\",\"ph\":\"i\",\"s\":\"t\",\"ts\":{},\"pid\":{pid},\"tid\":{tid}}}",
                    esc(name),
                    us(t)
                ))
            }
            None => self.line(&format!(
                "{{\"name\":\"{}\",\"cat\":\"sched\",\"ph\":\"i\",\"s\":\"g\",\"ts\":{},\"pid\":{PID_P},\"tid\":0}}",
                esc(name),
                us(t)
            )),
        }
    }

    /// A complete slice on a track.
    fn slice(
        &mut self,
        pid: u32,
        tid: u64,
        name: &str,
        start: u64,
        end: u64,
        args: &str,
    ) -> io::Result<()> {
        self.track(pid, tid)?;
        self.line(&format!(
            "{{\"name\":\"{}\",\"cat\":\"G\",\"ph\":\"X\",\"ts\":{},\"dur\":{},\"pid\":{pid},\"tid\":{tid},\"args\":{{{args}}}}}",
            esc(name),
            us(start),
            us(end - start)
        ))
    }

    /// End the run open on `m`, if any, at `t`, because of `why`.
    fn end_run(&mut self, m: u64, t: u64, why: &str) -> io::Result<()> {
        let Some(r) = self.running.remove(&m) else {
            return Ok(());
        };
        let name = format!("G{}", r.g);
        let why = esc(why);
        self.slice(
            PID_P,
            r.p as u64,
            &name,
            r.start,
            t,
            &format!("\"goid\":{},\"m\":{},\"end\":\"{why}\"", r.g, r.m),
        )?;
        self.slice(
            PID_M,
            r.m,
            &name,
            r.start,
            t,
            &format!("\"goid\":{},\"p\":{},\"end\":\"{why}\"", r.g, r.p),
        )
    }

    /// `g` starts running on `p` and `m` at `t`. Anything still open there
    /// (or for `g` elsewhere) is ended first: a racing report cannot make
    /// two runs overlap.
    fn start_run(&mut self, g: u64, p: usize, m: u64, t: u64) -> io::Result<()> {
        let stale: Vec<u64> = self
            .running
            .iter()
            .filter(|(&om, r)| om == m || r.p == p || r.g == g)
            .map(|(&om, _)| om)
            .collect();
        for om in stale {
            self.end_run(om, t, "descheduled")?;
        }
        self.track(PID_P, p as u64)?;
        self.track(PID_M, m)?;
        self.running.insert(m, Run { g, p, m, start: t });
        Ok(())
    }

    /// Record one event at time `t` (ns).
    pub(crate) fn event(&mut self, t: u64, ev: &Ev) -> io::Result<()> {
        let on_p = |p: usize| Some((PID_P, p as u64));
        let on_m = |m: u64| Some((PID_M, m));
        match *ev {
            Ev::Run { g, m, p, .. } => self.start_run(g, p, m, t)?,
            Ev::Park { g, m, reason } => {
                let p = self.running.get(&m).map(|r| r.p);
                self.end_run(m, t, &format!("park ({reason})"))?;
                self.instant(
                    t,
                    p.and_then(on_p).or(on_m(m)),
                    &format!("park G{g} ({reason})"),
                )?;
            }
            Ev::Preempt { g, m } | Ev::Gosched { g, m } | Ev::Exit { g, m } => {
                let p = self.running.get(&m).map(|r| r.p);
                self.end_run(m, t, ev.name())?;
                self.instant(
                    t,
                    p.and_then(on_p).or(on_m(m)),
                    &format!("{} G{g}", ev.name()),
                )?;
            }
            Ev::SyscallEnter { g, m, p } => {
                self.end_run(m, t, "syscall")?;
                self.syscalls.insert(m, (g, t));
                self.instant(t, on_p(p), &format!("syscall enter G{g}"))?;
            }
            Ev::SyscallExit { g, m, p } => {
                if let Some((sg, start)) = self.syscalls.remove(&m) {
                    self.slice(
                        PID_M,
                        m,
                        &format!("syscall G{sg}"),
                        start,
                        t,
                        &format!("\"goid\":{sg}"),
                    )?;
                }
                if let Some(p) = p {
                    self.start_run(g, p, m, t)?;
                }
                self.instant(t, on_m(m), &format!("syscall exit G{g}"))?;
            }
            Ev::Go { g, p, .. } => {
                self.instant(t, p.and_then(on_p), &format!("go G{g}"))?;
            }
            Ev::Ready { g, p, .. } => {
                self.instant(t, p.and_then(on_p), &format!("ready G{g}"))?;
            }
            Ev::Steal { p, victim, g, .. } => {
                self.instant(t, on_p(p), &format!("steal G{g} from P{victim}"))?;
            }
            Ev::HandOff { p } => self.instant(t, on_p(p), &format!("hand-off P{p}"))?,
            Ev::MStart { m, .. } | Ev::MStop { m } | Ev::MWake { m, .. } => {
                self.instant(t, on_m(m), ev.name())?;
            }
            Ev::Gomaxprocs { old, new } => {
                self.instant(t, None, &format!("gomaxprocs {old} -> {new}"))?;
            }
            Ev::ProgramExit { code } => {
                self.instant(t, None, &format!("exit {code}"))?;
            }
        }
        Ok(())
    }

    /// End every open run and syscall at `t` and complete the file.
    pub(crate) fn finish(&mut self, t: u64) -> io::Result<()> {
        let ms: Vec<u64> = self.running.keys().copied().collect();
        for m in ms {
            self.end_run(m, t, "program exit")?;
        }
        let open: Vec<(u64, (u64, u64))> = std::mem::take(&mut self.syscalls).into_iter().collect();
        for (m, (g, start)) in open {
            self.slice(
                PID_M,
                m,
                &format!("syscall G{g}"),
                start,
                t,
                &format!("\"goid\":{g}"),
            )?;
        }
        write!(self.out, "\n]}}\n")?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeline(events: &[(u64, Ev)], end: u64) -> String {
        let mut tl = Timeline::new(Vec::new());
        for (t, ev) in events {
            tl.event(*t, ev).unwrap();
        }
        tl.finish(end).unwrap();
        String::from_utf8(tl.out).unwrap()
    }

    /// The X events of a file, as (tid-pid, name, start ns, end ns), read
    /// back from the text the writer produced.
    fn slices(text: &str, pid: u32) -> Vec<(u64, String, u64, u64)> {
        let field = |line: &str, key: &str| -> String {
            let at = line.find(&format!("\"{key}\":")).unwrap() + key.len() + 3;
            let rest = &line[at..];
            let rest = rest.strip_prefix('"').unwrap_or(rest);
            rest.split(['"', ',', '}']).next().unwrap().to_string()
        };
        let ns = |s: String| -> u64 {
            let (a, b) = s.split_once('.').unwrap();
            a.parse::<u64>().unwrap() * 1000 + b.parse::<u64>().unwrap()
        };
        text.lines()
            .filter(|l| l.contains("\"ph\":\"X\"") && l.contains(&format!("\"pid\":{pid},")))
            .map(|l| {
                let start = ns(field(l, "ts"));
                let dur = ns(field(l, "dur"));
                (
                    field(l, "tid").parse().unwrap(),
                    field(l, "name"),
                    start,
                    start + dur,
                )
            })
            .collect()
    }

    #[test]
    fn runs_become_slices_on_p_and_m_tracks() {
        let text = timeline(
            &[
                (
                    1_000,
                    Ev::Run {
                        g: 1,
                        m: 0,
                        p: 0,
                        inherit: false,
                    },
                ),
                (
                    2_500,
                    Ev::Go {
                        g: 2,
                        parent: Some(1),
                        p: Some(0),
                    },
                ),
                (
                    3_000,
                    Ev::Park {
                        g: 1,
                        m: 0,
                        reason: "semacquire",
                    },
                ),
                (
                    4_000,
                    Ev::Run {
                        g: 2,
                        m: 0,
                        p: 0,
                        inherit: true,
                    },
                ),
            ],
            9_123,
        );
        assert!(text.starts_with("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n{"));
        assert!(text.ends_with("\n]}\n"));
        assert_eq!(
            slices(&text, PID_P),
            [
                (0, "G1".into(), 1_000, 3_000),
                (0, "G2".into(), 4_000, 9_123)
            ]
        );
        assert_eq!(slices(&text, PID_M).len(), 2);
        assert!(text.contains(
            "\"name\":\"go G2\",\"cat\":\"sched\",\"ph\":\"i\",\"s\":\"t\",\"ts\":2.500"
        ));
        assert!(text.contains("\"end\":\"park (semacquire)\""));
        assert!(text.contains(
            "\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"name\":\"P0\"}"
        ));
        assert!(text.contains("\"args\":{\"name\":\"M0\"}"));
    }

    #[test]
    fn racing_reports_never_overlap_on_a_p() {
        // M1 reports G2 running on P0 before M0 reported G1's end there.
        let text = timeline(
            &[
                (
                    1_000,
                    Ev::Run {
                        g: 1,
                        m: 0,
                        p: 0,
                        inherit: false,
                    },
                ),
                (
                    2_000,
                    Ev::Run {
                        g: 2,
                        m: 1,
                        p: 0,
                        inherit: false,
                    },
                ),
                (2_100, Ev::Preempt { g: 1, m: 0 }),
                (
                    3_000,
                    Ev::Run {
                        g: 2,
                        m: 1,
                        p: 1,
                        inherit: false,
                    },
                ),
            ],
            4_000,
        );
        let p0 = slices(&text, PID_P);
        assert_eq!(
            p0,
            [
                (0, "G1".into(), 1_000, 2_000),
                (0, "G2".into(), 2_000, 3_000),
                (1, "G2".into(), 3_000, 4_000)
            ]
        );
    }

    #[test]
    fn syscalls_are_slices_on_the_m_track() {
        let text = timeline(
            &[
                (
                    1_000,
                    Ev::Run {
                        g: 4,
                        m: 0,
                        p: 0,
                        inherit: false,
                    },
                ),
                (2_000, Ev::SyscallEnter { g: 4, m: 0, p: 0 }),
                (2_500, Ev::HandOff { p: 0 }),
                (
                    3_000,
                    Ev::Run {
                        g: 5,
                        m: 1,
                        p: 0,
                        inherit: false,
                    },
                ),
                (
                    5_000,
                    Ev::SyscallExit {
                        g: 4,
                        m: 0,
                        p: None,
                    },
                ),
            ],
            6_000,
        );
        let m = slices(&text, PID_M);
        assert!(m.contains(&(0, "syscall G4".into(), 2_000, 5_000)), "{m:?}");
        assert_eq!(
            slices(&text, PID_P),
            [
                (0, "G4".into(), 1_000, 2_000),
                (0, "G5".into(), 3_000, 6_000)
            ]
        );
        assert!(text.contains("hand-off P0"));
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(esc("a\"b\\c\n"), "a\\\"b\\\\c\\u000a");
    }
}
