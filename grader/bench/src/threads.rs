//! The workloads on plain OS threads (`std::thread`): the baseline that
//! goroutines are meant to beat. Sizes are smaller (tens of thousands, not
//! millions), and results are per operation, so they stay comparable.

use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::time::Instant;

use crate::measure::{context_switches, cpu_work, limit_cpus, procs, rss_bytes};
use crate::workload::{Outcome, Workload, CPU_ITERS};

/// Run `w` with size `n`; prints the outcome and exits.
pub fn main(w: Workload, n: usize) -> ! {
    let out = match w {
        Workload::Spawn => spawn(n),
        Workload::PingPong => pingpong(n),
        Workload::Idle => idle(n),
        Workload::Alive => crate::unavailable(w),
        Workload::Cpu => {
            // "GOMAXPROCS" for threads: the number of CPUs they may use.
            if !limit_cpus(procs()) {
                eprintln!(
                    "bench: threads cannot be held to {} CPUs on {}: no speedup figure",
                    procs(),
                    runtime::os::NAME
                );
                std::process::exit(1);
            }
            cpu(n)
        }
        // A hundred thousand sleeping threads: not what threads are for
        // (the driver does not ask).
        Workload::TimerStorm => std::process::exit(crate::EXIT_UNAVAILABLE),
    };
    println!("{}", out.line());
    // Idle threads are still blocked: leave without joining them.
    std::process::exit(0)
}

/// Start `n` threads that finish at once, join them all.
fn spawn(n: usize) -> Outcome {
    let t0 = Instant::now();
    let handles: Vec<_> = (0..n).map(|_| std::thread::spawn(|| {})).collect();
    for h in handles {
        h.join().expect("thread");
    }
    Outcome::per_op(t0.elapsed(), n)
}

/// Two threads bounce a value over two rendezvous channels
/// (`sync_channel(0)`, the unbuffered channel of std).
fn pingpong(n: usize) -> Outcome {
    let (ping_tx, ping_rx) = sync_channel::<u64>(0);
    let (pong_tx, pong_rx) = sync_channel::<u64>(0);
    let echo = std::thread::spawn(move || {
        while let Ok(v) = ping_rx.recv() {
            pong_tx.send(v).expect("pong");
        }
    });
    let (t0, c0) = (Instant::now(), context_switches());
    for i in 0..n as u64 {
        ping_tx.send(i).expect("ping");
        assert_eq!(pong_rx.recv().expect("pong"), i);
    }
    let (elapsed, csw) = (t0.elapsed(), context_switches() - c0);
    drop(ping_tx);
    echo.join().expect("echo thread");
    Outcome {
        csw: Some(csw),
        ..Outcome::per_op(elapsed, n)
    }
}

/// `n` threads check in at a barrier, then block on a condition variable.
fn idle(n: usize) -> Outcome {
    let before = rss_bytes();
    let started = Arc::new(Barrier::new(n + 1));
    let block = Arc::new((Mutex::new(()), Condvar::new()));
    for _ in 0..n {
        let (started, block) = (started.clone(), block.clone());
        std::thread::spawn(move || {
            started.wait();
            let (lock, cv) = &*block;
            let mut guard = lock.lock().expect("lock");
            loop {
                guard = cv.wait(guard).expect("wait");
            }
        });
    }
    started.wait();
    std::thread::sleep(std::time::Duration::from_millis(50));
    let after = rss_bytes();
    Outcome {
        value: after.saturating_sub(before) as f64 / n as f64,
        ..Outcome::default()
    }
}

/// `n` threads of CPU-bound work.
fn cpu(n: usize) -> Outcome {
    let t0 = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|_| std::thread::spawn(|| cpu_work(CPU_ITERS)))
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    Outcome {
        value: t0.elapsed().as_secs_f64(),
        ..Outcome::default()
    }
}
