//! Lesson 6: a system call hands the P to another M. The seed's "G1 opens a
//! file" story, measured.
//!
//! One P. G2 computes in small steps. G1 sleeps a little (parked on a timer:
//! no thread), then makes a system call that blocks its thread for a while
//! (`nanosleep(2)` inside `runtime::syscall`, standing in for a slow file
//! read). The M that ran G1 is now stuck in the kernel, holding no P; sysmon
//! notices P0 stuck in a syscall and gives it to a second M, which goes on
//! running G2. We print the M/P picture we observed and G2's longest pause.
//!
//! Usage: `syscall [MS]`: how long the system call blocks (default 300).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use runtime::{println, WaitGroup};
use sha1::{Digest, Sha1};

/// No M id recorded yet.
const NONE: u64 = u64::MAX;

/// What G1 saw, for the report.
struct G1Seen {
    m_before: AtomicU64,
    m_after: AtomicU64,
    /// Start and end of the system call, in ns since the program started.
    call_start: AtomicU64,
    call_end: AtomicU64,
    done: AtomicBool,
}

/// One step of G2: when it started and ended (ns since start), on which M.
#[derive(Clone, Copy)]
struct Step {
    start: u64,
    end: u64,
    m: u64,
}

fn main() {
    let call = std::env::args()
        .nth(1)
        .and_then(|a| a.parse::<u64>().ok())
        .map_or(Duration::from_millis(300), Duration::from_millis);
    runtime::main(move || {
        runtime::gomaxprocs(1);
        let t0 = Instant::now();
        let ns = move || t0.elapsed().as_nanos() as u64;
        let ms = |ns: u64| ns as f64 / 1e6;

        println!("GOMAXPROCS=1: one P, so one goroutine at a time runs our code.");
        println!(
            "G1 sleeps 20 ms, then blocks its thread in a system call for {} ms.",
            call.as_millis()
        );
        println!("G2 computes meanwhile, in small steps.\n");

        let g1 = Arc::new(G1Seen {
            m_before: AtomicU64::new(NONE),
            m_after: AtomicU64::new(NONE),
            call_start: AtomicU64::new(0),
            call_end: AtomicU64::new(0),
            done: AtomicBool::new(false),
        });
        let steps = Arc::new(Mutex::new(Vec::<Step>::new()));
        let wg = Arc::new(WaitGroup::new());
        wg.add(2);

        // G2: compute until G1 is back, one ~50 us step at a time, yielding
        // between steps (a runtime call, so G1 gets its turns).
        let (seen, log, wg2) = (g1.clone(), steps.clone(), wg.clone());
        runtime::go(move || {
            let mut local = Vec::with_capacity(1 << 16);
            let mut last_m = NONE;
            let mut data = [7u8; 1024];
            while !seen.done.load(Ordering::SeqCst) {
                let start = ns();
                for _ in 0..20 {
                    let h = Sha1::digest(data);
                    data[..20].copy_from_slice(&h);
                }
                let m = runtime::current_m_id().unwrap_or(NONE);
                local.push(Step {
                    start,
                    end: ns(),
                    m,
                });
                if m != last_m {
                    println!("[{:6.1} ms] G2: computing on M{m}", ms(ns()));
                    last_m = m;
                }
                runtime::gosched();
            }
            println!("[{:6.1} ms] G2: done", ms(ns()));
            *log.lock().unwrap() = local;
            wg2.done();
        });

        // G1: sleep (parked, no thread), then block the thread in the kernel.
        let (seen, wg2) = (g1.clone(), wg.clone());
        runtime::go(move || {
            runtime::time::sleep(Duration::from_millis(20));
            let m = runtime::current_m_id().unwrap_or(NONE);
            seen.m_before.store(m, Ordering::SeqCst);
            println!(
                "[{:6.1} ms] G1: woke up on M{m}, entering a blocking system call",
                ms(ns())
            );
            seen.call_start.store(ns(), Ordering::SeqCst);
            runtime::syscall(|| std::thread::sleep(call));
            seen.call_end.store(ns(), Ordering::SeqCst);
            let m = runtime::current_m_id().unwrap_or(NONE);
            seen.m_after.store(m, Ordering::SeqCst);
            println!(
                "[{:6.1} ms] G1: back from the system call, on M{m}",
                ms(ns())
            );
            seen.done.store(true, Ordering::SeqCst);
            wg2.done();
        });

        wg.wait();
        let steps = steps.lock().unwrap().clone();
        report(&g1, &steps);
    })
}

fn report(g1: &G1Seen, steps: &[Step]) {
    let ms = |ns: u64| ns as f64 / 1e6;
    let (start, end) = (
        g1.call_start.load(Ordering::SeqCst),
        g1.call_end.load(Ordering::SeqCst),
    );
    let m_g1 = g1.m_before.load(Ordering::SeqCst);
    let m_g1_after = g1.m_after.load(Ordering::SeqCst);
    let m_of = |pick: &dyn Fn(&Step) -> bool| {
        let mut ms: Vec<u64> = steps.iter().filter(|s| pick(s)).map(|s| s.m).collect();
        ms.dedup();
        ms.first().copied()
    };
    let m_g2_before = m_of(&|s| s.end <= start);
    let during: Vec<&Step> = steps
        .iter()
        .filter(|s| s.start >= start && s.end <= end)
        .collect();
    let m_g2_during = during.first().map(|s| s.m);
    // G2's gap across the start of the call: the hand-off's cost.
    let handoff = steps
        .windows(2)
        .find(|w| w[0].end <= start && w[1].start >= start)
        .map_or(0, |w| w[1].start - w[0].end);
    // Longest gap between two consecutive steps of G2, anywhere.
    let (pause, pause_at) = steps
        .windows(2)
        .map(|w| (w[1].start.saturating_sub(w[0].end), w[0].end))
        .max()
        .unwrap_or((0, 0));
    let name = |m: Option<u64>| m.map_or("M?".to_string(), |m| format!("M{m}"));

    println!();
    println!(
        "Before the call: G2 computes on {}, holding P0; G1 sleeps on a timer (no thread).",
        name(m_g2_before)
    );
    println!();
    println!("    {}", name(m_g2_before));
    println!("    |");
    println!(" +----+");
    println!(" | P0 |");
    println!(" +----+");
    println!("    |");
    println!("    G2");
    println!();
    match m_g2_during {
        Some(m2) => {
            println!(
                "During the call: M{m_g1} is blocked in the kernel with G1; sysmon gave P0 to M{m2}, which runs G2."
            );
            println!();
            println!("          M{m2}");
            println!("          |");
            println!(" M{m_g1:<4} +----+");
            println!(" |     | P0 |");
            println!(" G1    +----+");
            println!("          |");
            println!("          G2");
        }
        None => {
            println!("During the call: nobody ran G2. P0 stayed with M{m_g1}, blocked in the kernel with G1.");
            println!();
            println!("    M{m_g1}");
            println!("    |");
            println!(" +----+");
            println!(" | P0 |   G2 waits in the run queue");
            println!(" +----+");
            println!("    |");
            println!("    G1 (in the kernel)");
        }
    }
    println!();
    if m_g1_after == m_g1 {
        println!("After the call: G1 got P0 back on M{m_g1}.");
    } else {
        println!(
            "After the call: P0 was busy, so G1 waited in the global run queue and then ran on M{m_g1_after}; M{m_g1} went idle, kept for later."
        );
    }
    println!();
    println!(
        "system call lasted:                {:8.1} ms",
        ms(end - start)
    );
    println!("G2 steps while G1 was in the call: {:8}", during.len());
    println!(
        "G2's pause as G1 entered the call: {:8.3} ms (sysmon's hand-off; without it: the whole call)",
        ms(handoff)
    );
    println!(
        "G2's longest pause between steps:  {:8.3} ms (at {:.1} ms)",
        ms(pause),
        ms(pause_at)
    );
    println!(
        "threads (Ms) created:              {:8}",
        runtime::num_threads()
    );
    println!(
        "compute goroutine finished:        {:>8}",
        if steps.is_empty() { "no" } else { "yes" }
    );
}
