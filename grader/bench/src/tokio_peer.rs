//! The workloads on tokio, multi-thread (GOMAXPROCS workers) and
//! current-thread. tokio has no unbuffered channel; ping-pong uses
//! `mpsc::channel(1)`, the closest it offers. The measured code runs inside a
//! spawned task (on a worker), like Go's main goroutine.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{mpsc, Notify};

use crate::measure::{context_switches, cpu_work, procs, rss_bytes};
use crate::workload::{Outcome, Workload, CPU_ITERS};

/// Run `w` with size `n` on tokio's multi-thread (`multi`) or current-thread
/// scheduler; prints the outcome and exits.
pub fn main(w: Workload, n: usize, multi: bool) -> ! {
    let rt = if multi {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(procs())
            .enable_time()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
    }
    .expect("tokio runtime");
    let out = rt.block_on(async move {
        tokio::spawn(run(w, n))
            .await
            .expect("benchmark task panicked")
    });
    println!("{}", out.line());
    std::process::exit(0)
}

async fn run(w: Workload, n: usize) -> Outcome {
    match w {
        Workload::Spawn => spawn(n).await,
        Workload::PingPong => pingpong(n).await,
        Workload::Idle => idle(n).await,
        Workload::Cpu => cpu(n).await,
        Workload::Alive => crate::unavailable(w),
        Workload::TimerStorm => crate::timer_storm::tokio(n).await,
    }
}

/// A countdown that wakes one waiter at zero: a WaitGroup for tasks.
struct Countdown {
    left: AtomicUsize,
    zero: Notify,
}

impl Countdown {
    fn new(n: usize) -> Arc<Countdown> {
        Arc::new(Countdown {
            left: AtomicUsize::new(n),
            zero: Notify::new(),
        })
    }

    fn done(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.zero.notify_one();
        }
    }

    async fn wait(&self) {
        self.zero.notified().await
    }
}

async fn spawn(n: usize) -> Outcome {
    let t0 = Instant::now();
    let wg = Countdown::new(n);
    for _ in 0..n {
        let wg = wg.clone();
        tokio::spawn(async move { wg.done() });
    }
    wg.wait().await;
    Outcome::per_op(t0.elapsed(), n)
}

async fn pingpong(n: usize) -> Outcome {
    let (ping_tx, mut ping_rx) = mpsc::channel::<u64>(1);
    let (pong_tx, mut pong_rx) = mpsc::channel::<u64>(1);
    tokio::spawn(async move {
        while let Some(v) = ping_rx.recv().await {
            pong_tx.send(v).await.expect("pong");
        }
    });
    let (t0, c0) = (Instant::now(), context_switches());
    for i in 0..n as u64 {
        ping_tx.send(i).await.expect("ping");
        assert_eq!(pong_rx.recv().await, Some(i));
    }
    Outcome {
        csw: Some(context_switches() - c0),
        ..Outcome::per_op(t0.elapsed(), n)
    }
}

async fn idle(n: usize) -> Outcome {
    let before = rss_bytes();
    let started = Countdown::new(n);
    let block = Arc::new(Notify::new());
    for _ in 0..n {
        let (started, block) = (started.clone(), block.clone());
        tokio::spawn(async move {
            let blocked = block.notified();
            tokio::pin!(blocked);
            blocked.as_mut().enable();
            started.done();
            blocked.await;
        });
    }
    started.wait().await;
    tokio::task::yield_now().await;
    let after = rss_bytes();
    Outcome {
        value: after.saturating_sub(before) as f64 / n as f64,
        ..Outcome::default()
    }
}

async fn cpu(n: usize) -> Outcome {
    let t0 = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|_| tokio::spawn(async { cpu_work(CPU_ITERS) }))
        .collect();
    for h in handles {
        h.await.expect("task");
    }
    Outcome {
        value: t0.elapsed().as_secs_f64(),
        ..Outcome::default()
    }
}
