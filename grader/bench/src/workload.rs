//! The workloads, named once, and what a child process reports back.
//!
//! Every implementation (ours, OS threads, tokio, may, Go) runs the same four
//! workloads; the driver starts one child process per measurement and reads
//! one line `value=<f64> [csw=<u64>]` from its stdout.

use std::time::Duration;

/// One thing we measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Workload {
    /// Start `n` goroutines that each call `done` on one WaitGroup, wait for
    /// them: nanoseconds per goroutine.
    Spawn,
    /// `n` round trips over two unbuffered channels between two goroutines:
    /// nanoseconds per round trip, and OS context switches during the loop.
    PingPong,
    /// `n` goroutines blocked on one WaitGroup: resident bytes per goroutine.
    Idle,
    /// `n` goroutines each doing [`CPU_ITERS`] rounds of CPU-bound work:
    /// wall seconds (the driver turns two of these into a speedup).
    Cpu,
    /// `n` goroutines alive at once: spawned, all blocked on one WaitGroup,
    /// released, all finished. Wall seconds, and the peak resident size.
    Alive,
    /// `n` goroutines each sleep a random 0–5 ms at once: median lateness of
    /// their wake-ups in microseconds, with the 99th percentile and the
    /// number of early wake-ups (see `timer_storm.rs`).
    TimerStorm,
}

/// The workloads, in the order the command line lists them.
const ALL: [Workload; 6] = [
    Workload::Spawn,
    Workload::PingPong,
    Workload::Idle,
    Workload::Cpu,
    Workload::Alive,
    Workload::TimerStorm,
];

/// Iterations of `measure::cpu_work` per goroutine in the CPU workload
/// (about 40 ms on this machine).
pub const CPU_ITERS: u64 = 40_000_000;

impl Workload {
    /// The name used on the command line (and by the Go program).
    pub fn name(self) -> &'static str {
        match self {
            Workload::Spawn => "spawn",
            Workload::PingPong => "pingpong",
            Workload::Idle => "idle",
            Workload::Cpu => "cpu",
            Workload::Alive => "alive",
            Workload::TimerStorm => "timers",
        }
    }

    /// Parse a command-line name.
    pub fn parse(s: &str) -> Option<Workload> {
        ALL.into_iter().find(|w| w.name() == s)
    }
}

/// What a child measured.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Outcome {
    /// ns per op, bytes per goroutine, or seconds, depending on the workload.
    pub value: f64,
    /// OS context switches during the measured part (ping-pong only).
    pub csw: Option<u64>,
    /// Peak resident bytes of the whole child (`getrusage`'s `ru_maxrss`;
    /// the alive workload only).
    pub peak: Option<u64>,
    /// Bytes of page tables while every goroutine is alive (Linux's
    /// `VmPTE`, which the resident size leaves out; the alive workload
    /// only).
    pub pte: Option<u64>,
    /// 99th percentile, same unit as `value` (timer storm only).
    pub p99: Option<f64>,
    /// Early wake-ups (timer storm only).
    pub early: Option<u64>,
}

impl Outcome {
    /// Time per operation.
    pub fn per_op(elapsed: Duration, n: usize) -> Outcome {
        Outcome {
            value: elapsed.as_nanos() as f64 / n as f64,
            ..Outcome::default()
        }
    }

    /// The line a child prints.
    pub fn line(&self) -> String {
        let mut line = format!("value={}", self.value);
        if let Some(c) = self.csw {
            line += &format!(" csw={c}");
        }
        if let Some(p) = self.peak {
            line += &format!(" peak={p}");
        }
        if let Some(p) = self.pte {
            line += &format!(" pte={p}");
        }
        if let Some(p) = self.p99 {
            line += &format!(" p99={p}");
        }
        if let Some(e) = self.early {
            line += &format!(" early={e}");
        }
        line
    }

    /// Parse a child's line.
    pub fn parse(line: &str) -> Option<Outcome> {
        let mut out = Outcome::default();
        let mut seen_value = false;
        for field in line.split_whitespace() {
            let (k, v) = field.split_once('=')?;
            match k {
                "value" => {
                    out.value = v.parse().ok()?;
                    seen_value = true;
                }
                "csw" => out.csw = Some(v.parse().ok()?),
                "peak" => out.peak = Some(v.parse().ok()?),
                "pte" => out.pte = Some(v.parse().ok()?),
                "p99" => out.p99 = Some(v.parse().ok()?),
                "early" => out.early = Some(v.parse().ok()?),
                _ => {}
            }
        }
        seen_value.then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_line_round_trips() {
        let o = Outcome {
            value: 12.5,
            csw: Some(7),
            ..Outcome::default()
        };
        assert_eq!(Outcome::parse(&o.line()), Some(o));
        let o = Outcome {
            value: 2.5,
            peak: Some(2_670_000_000),
            pte: Some(6_000_000),
            ..Outcome::default()
        };
        assert_eq!(Outcome::parse(&o.line()), Some(o));
        let o = Outcome {
            value: 3.0,
            ..Outcome::default()
        };
        assert_eq!(Outcome::parse(&o.line()), Some(o));
        let o = Outcome {
            value: 40.5,
            p99: Some(812.25),
            early: Some(0),
            ..Outcome::default()
        };
        assert_eq!(Outcome::parse(&o.line()), Some(o));
        assert_eq!(Outcome::parse("csw=3"), None);
        assert_eq!(Outcome::parse("value=abc"), None);
    }

    #[test]
    fn workload_names_parse_back() {
        for w in ALL {
            assert_eq!(Workload::parse(w.name()), Some(w));
        }
        assert_eq!(Workload::parse("nope"), None);
    }
}
