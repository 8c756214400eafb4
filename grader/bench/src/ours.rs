//! The workloads on our runtime. The child runs them as goroutine 1 inside
//! `runtime::main`, with GOMAXPROCS from its environment, as a Go program
//! would.

use std::time::Instant;

use runtime::WaitGroup;

use crate::measure::{context_switches, cpu_work, page_table_bytes, peak_rss_bytes, rss_bytes};
use crate::workload::{Outcome, Workload, CPU_ITERS};

/// Run `w` with size `n` as the whole program; prints the outcome and exits.
pub fn main(w: Workload, n: usize) -> ! {
    runtime::main(move || {
        let out = match w {
            Workload::Spawn => spawn(n),
            Workload::PingPong => match pingpong(n) {
                Some(out) => out,
                None => {
                    eprintln!("ping-pong needs channels (runtime::chan), not built yet");
                    std::process::exit(3)
                }
            },
            Workload::Idle => idle(n),
            Workload::Cpu => cpu(n),
            Workload::Alive => alive(n),
            Workload::TimerStorm => crate::timer_storm::ours(n),
        };
        println!("{}", out.line());
    })
}

/// `wg.Add(n); for i := 0; i < n; i++ { go func() { wg.Done() }() }; wg.Wait()`
fn spawn(n: usize) -> Outcome {
    static WG: WaitGroup = WaitGroup::new();
    let t0 = Instant::now();
    WG.add(n as i32);
    for _ in 0..n {
        runtime::go(|| WG.done());
    }
    WG.wait();
    Outcome::per_op(t0.elapsed(), n)
}

/// Two goroutines bounce a value over two unbuffered channels.
fn pingpong(n: usize) -> Option<Outcome> {
    let (ping, pong) = (runtime::chan::<u64>(0), runtime::chan::<u64>(0));
    let (ping_rx, pong_tx) = (ping.clone(), pong.clone());
    runtime::go(move || {
        while let Some(v) = ping_rx.recv() {
            pong_tx.send(v);
        }
    });
    let (t0, c0) = (Instant::now(), context_switches());
    for i in 0..n as u64 {
        ping.send(i);
        assert_eq!(pong.recv(), Some(i), "lost a message");
    }
    let (elapsed, csw) = (t0.elapsed(), context_switches() - c0);
    ping.close();
    Some(Outcome {
        csw: Some(csw),
        ..Outcome::per_op(elapsed, n)
    })
}

/// `n` goroutines each check in, then block on one WaitGroup forever.
fn idle(n: usize) -> Outcome {
    static STARTED: WaitGroup = WaitGroup::new();
    static BLOCK: WaitGroup = WaitGroup::new();
    let before = rss_bytes();
    BLOCK.add(1);
    STARTED.add(n as i32);
    for _ in 0..n {
        runtime::go(|| {
            STARTED.done();
            BLOCK.wait();
        });
    }
    STARTED.wait();
    // The last goroutine readied us from `done` and parks right after.
    runtime::gosched();
    let after = rss_bytes();
    Outcome {
        value: after.saturating_sub(before) as f64 / n as f64,
        ..Outcome::default()
    }
}

/// `n` goroutines of CPU-bound work; wall seconds until all are done.
fn cpu(n: usize) -> Outcome {
    static WG: WaitGroup = WaitGroup::new();
    let t0 = Instant::now();
    WG.add(n as i32);
    for _ in 0..n {
        runtime::go(|| {
            cpu_work(CPU_ITERS);
            WG.done();
        });
    }
    WG.wait();
    Outcome {
        value: t0.elapsed().as_secs_f64(),
        ..Outcome::default()
    }
}

/// `n` goroutines alive at once: each checks in and blocks on one
/// WaitGroup; once all have checked in, main releases them and waits until
/// all have finished. Wall seconds for the whole, and the peak resident size.
fn alive(n: usize) -> Outcome {
    static STARTED: WaitGroup = WaitGroup::new();
    static RELEASE: WaitGroup = WaitGroup::new();
    static FINISHED: WaitGroup = WaitGroup::new();
    let t0 = Instant::now();
    RELEASE.add(1);
    STARTED.add(n as i32);
    FINISHED.add(n as i32);
    for _ in 0..n {
        runtime::go(|| {
            STARTED.done();
            RELEASE.wait();
            FINISHED.done();
        });
    }
    STARTED.wait();
    // All alive: the most page tables the run needs.
    let pte = page_table_bytes();
    RELEASE.done();
    FINISHED.wait();
    Outcome {
        value: t0.elapsed().as_secs_f64(),
        peak: Some(peak_rss_bytes()),
        pte,
        ..Outcome::default()
    }
}
