//! The workloads on may, stackful coroutines for Rust (the closest peer to
//! our runtime: it also gives each coroutine its own stack). GOMAXPROCS
//! becomes may's worker count. The measured code runs in a coroutine, like
//! Go's main goroutine. Ping-pong uses may's `mpsc::channel` (may has no
//! unbuffered channel).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use may::sync::{mpsc, Semphore};

use crate::measure::{context_switches, cpu_work, procs, rss_bytes};
use crate::workload::{Outcome, Workload, CPU_ITERS};

/// Run `w` with size `n`; prints the outcome and exits.
pub fn main(w: Workload, n: usize) -> ! {
    may::config().set_workers(procs());
    let out = go(move || match w {
        Workload::Spawn => spawn(n),
        Workload::PingPong => pingpong(n),
        Workload::Idle => idle(n),
        Workload::Alive => crate::unavailable(w),
        Workload::Cpu => cpu(n),
        // Not measured on may (the driver does not ask).
        Workload::TimerStorm => std::process::exit(crate::EXIT_UNAVAILABLE),
    })
    .join()
    .expect("benchmark coroutine panicked");
    println!("{}", out.line());
    std::process::exit(0)
}

fn go<F, T>(f: F) -> may::coroutine::JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    // SAFETY: may's spawn is unsafe because a coroutine must not block its
    // worker thread with thread-local tricks or OS blocking calls for long;
    // our closures only use may's own primitives and atomics.
    unsafe { may::coroutine::spawn(f) }
}

/// A countdown that posts a semaphore at zero: a WaitGroup for coroutines.
struct Countdown {
    left: AtomicUsize,
    zero: Semphore,
}

impl Countdown {
    fn new(n: usize) -> Arc<Countdown> {
        Arc::new(Countdown {
            left: AtomicUsize::new(n),
            zero: Semphore::new(0),
        })
    }

    fn done(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.zero.post();
        }
    }
}

fn spawn(n: usize) -> Outcome {
    let t0 = Instant::now();
    let wg = Countdown::new(n);
    for _ in 0..n {
        let wg = wg.clone();
        go(move || wg.done());
    }
    wg.zero.wait();
    Outcome::per_op(t0.elapsed(), n)
}

fn pingpong(n: usize) -> Outcome {
    let (ping_tx, ping_rx) = mpsc::channel::<u64>();
    let (pong_tx, pong_rx) = mpsc::channel::<u64>();
    go(move || {
        while let Ok(v) = ping_rx.recv() {
            pong_tx.send(v).expect("pong");
        }
    });
    let (t0, c0) = (Instant::now(), context_switches());
    for i in 0..n as u64 {
        ping_tx.send(i).expect("ping");
        assert_eq!(pong_rx.recv().expect("pong"), i);
    }
    Outcome {
        csw: Some(context_switches() - c0),
        ..Outcome::per_op(t0.elapsed(), n)
    }
}

fn idle(n: usize) -> Outcome {
    let before = rss_bytes();
    let started = Countdown::new(n);
    let block = Arc::new(Semphore::new(0));
    for _ in 0..n {
        let (started, block) = (started.clone(), block.clone());
        go(move || {
            started.done();
            block.wait();
        });
    }
    started.zero.wait();
    may::coroutine::yield_now();
    let after = rss_bytes();
    Outcome {
        value: after.saturating_sub(before) as f64 / n as f64,
        ..Outcome::default()
    }
}

fn cpu(n: usize) -> Outcome {
    let t0 = Instant::now();
    let handles: Vec<_> = (0..n).map(|_| go(|| cpu_work(CPU_ITERS))).collect();
    for h in handles {
        h.join().expect("coroutine");
    }
    Outcome {
        value: t0.elapsed().as_secs_f64(),
        ..Outcome::default()
    }
}
