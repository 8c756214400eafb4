//! Lesson 7: ping-pong. The seed's message-passing picture, measured: two
//! OS threads pass a message back and forth, then two goroutines on one P
//! do the same over unbuffered channels. We time a round trip and count the
//! context switches the OS made meanwhile (`getrusage`: voluntary switches,
//! when a thread blocks; involuntary ones, when the kernel takes the CPU
//! away).
//!
//! Usage: `ping-pong [N]`: the number of round trips (default 100,000).

use std::sync::mpsc;
use std::time::{Duration, Instant};

use runtime::println;

/// What one row measured.
struct Row {
    elapsed: Duration,
    voluntary: i64,
    involuntary: i64,
}

/// The process's context switches so far: (voluntary, involuntary), every
/// thread included (`getrusage(RUSAGE_SELF)`).
fn context_switches() -> (i64, i64) {
    // SAFETY: `getrusage` fills the zeroed struct we pass; RUSAGE_SELF is a
    // valid `who`.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    (ru.ru_nvcsw, ru.ru_nivcsw)
}

fn measure(run: impl FnOnce()) -> Row {
    let (v0, i0) = context_switches();
    let start = Instant::now();
    run();
    let elapsed = start.elapsed();
    let (v1, i1) = context_switches();
    Row {
        elapsed,
        voluntary: v1 - v0,
        involuntary: i1 - i0,
    }
}

/// Two OS threads and std's rendezvous channels (`sync_channel(0)`, the
/// closest thing to an unbuffered Go channel): every send blocks the sender
/// until the other thread, woken by the kernel, takes the value.
fn os_threads(n: u64) {
    let (ping_tx, ping_rx) = mpsc::sync_channel::<u64>(0);
    let (pong_tx, pong_rx) = mpsc::sync_channel::<u64>(0);
    let ponger = std::thread::spawn(move || {
        for v in ping_rx {
            if pong_tx.send(v + 1).is_err() {
                break;
            }
        }
    });
    let mut v = 0;
    for _ in 0..n {
        ping_tx.send(v).expect("ponger alive");
        v = pong_rx.recv().expect("ponger alive");
    }
    drop(ping_tx);
    ponger.join().expect("ponger finished");
    assert_eq!(v, n, "every message went there and back");
}

/// Two goroutines on one P and unbuffered channels: every send hands the
/// value to the parked receiver and readies it into `runnext`; the sender
/// then parks on its own receive, and the M switches stacks to the other
/// goroutine, in user space.
fn goroutines(n: u64) {
    let ping = runtime::chan::<u64>(0);
    let pong = runtime::chan::<u64>(0);
    let (ping_rx, pong_tx) = (ping.clone(), pong.clone());
    runtime::go(move || {
        for v in &ping_rx {
            pong_tx.send(v + 1);
        }
    });
    let mut v = 0;
    for _ in 0..n {
        ping.send(v);
        v = pong.recv().expect("ponger alive");
    }
    ping.close();
    assert_eq!(v, n, "every message went there and back");
}

/// `1234567` as `1,234,567`.
fn thousands(v: i64) -> String {
    let s = v.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0 {
        out.insert(0, '-');
    }
    out
}

fn ns_per(row: &Row, n: u64) -> i64 {
    (row.elapsed.as_nanos() / u128::from(n.max(1))).max(1) as i64
}

fn main() {
    let n = std::env::args()
        .nth(1)
        .and_then(|a| a.parse::<u64>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(100_000);
    // The OS threads first, before the runtime (and its sysmon thread) starts.
    let threads = measure(|| os_threads(n));
    runtime::main(move || {
        runtime::gomaxprocs(1);
        let gs = measure(|| goroutines(n));

        println!(
            "ping-pong: {} round trips, each one message there and one back\n",
            thousands(n as i64)
        );
        println!(
            "{:<28} {:>16}   context switches (voluntary + involuntary)",
            "", "ns per round trip"
        );
        for (name, row) in [("two OS threads", &threads), ("two goroutines, one P", &gs)] {
            println!(
                "{:<28} {:>16}   {:>10} + {}",
                name,
                thousands(ns_per(row, n)),
                thousands(row.voluntary),
                thousands(row.involuntary)
            );
        }
        let speedup = ns_per(&threads, n) as f64 / ns_per(&gs, n) as f64;
        println!(
            "\ngoroutines were {speedup:.0}x faster; the OS switched contexts {} times for the threads, {} times for the goroutines",
            thousands(threads.voluntary + threads.involuntary),
            thousands(gs.voluntary + gs.involuntary)
        );
    })
}
