//! The timer storm (issue 14, goal 4): `n` goroutines each sleep a random
//! 0–5 ms, all at once, and measure how late they wake (actual wake-up minus
//! deadline). The child reports the median and the 99th percentile of the
//! lateness in microseconds, and how many woke *early* (must be 0).
//!
//! Go's version is `timers` in `../go/bench.go`, with the same durations
//! (the same hash of the goroutine's index), so both runtimes sleep the
//! same distribution.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use runtime::WaitGroup;

use crate::workload::Outcome;

/// Longest sleep, microseconds.
const MAX_SLEEP_US: u64 = 5_000;

/// Sleep of goroutine `i`, microseconds in `0..=MAX_SLEEP_US`: splitmix64
/// of `i` (Go: `sleepUs`).
pub fn sleep_us(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) % (MAX_SLEEP_US + 1)
}

/// Lateness in nanoseconds (negative: early) of a sleep of `d` that was
/// due at `deadline` and returned at `woke`.
fn lateness_ns(deadline: Instant, woke: Instant) -> i64 {
    if woke >= deadline {
        (woke - deadline).as_nanos() as i64
    } else {
        -((deadline - woke).as_nanos() as i64)
    }
}

/// Median and 99th percentile (microseconds) and the early count.
pub fn summarize(mut late_ns: Vec<i64>) -> Outcome {
    late_ns.sort_unstable();
    let at = |q: f64| late_ns[((late_ns.len() - 1) as f64 * q).round() as usize] as f64 / 1e3;
    Outcome {
        value: at(0.50),
        p99: Some(at(0.99)),
        early: Some(late_ns.iter().filter(|&&l| l < 0).count() as u64),
        ..Outcome::default()
    }
}

/// On our runtime: `deadline := now + d; time.Sleep(d); late := now - deadline`.
pub fn ours(n: usize) -> Outcome {
    let late: Arc<Vec<AtomicI64>> = Arc::new((0..n).map(|_| AtomicI64::new(0)).collect());
    let wg = Arc::new(WaitGroup::new());
    wg.add(n as i32);
    for i in 0..n {
        let (late, wg) = (late.clone(), wg.clone());
        runtime::go(move || {
            let d = Duration::from_micros(sleep_us(i as u64));
            let deadline = Instant::now() + d;
            runtime::time::sleep(d);
            late[i].store(lateness_ns(deadline, Instant::now()), Ordering::Relaxed);
            wg.done();
        });
    }
    wg.wait();
    summarize(late.iter().map(|l| l.load(Ordering::Relaxed)).collect())
}

/// On tokio: `tokio::time::sleep` in `n` tasks.
#[cfg(feature = "peers")]
pub async fn tokio(n: usize) -> Outcome {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            tokio::spawn(async move {
                let d = Duration::from_micros(sleep_us(i as u64));
                let deadline = Instant::now() + d;
                tokio::time::sleep(d).await;
                lateness_ns(deadline, Instant::now())
            })
        })
        .collect();
    let mut late = Vec::with_capacity(n);
    for t in tasks {
        late.push(t.await.expect("timer task panicked"));
    }
    summarize(late)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_cover_the_range() {
        let d: Vec<u64> = (0..10_000).map(sleep_us).collect();
        assert!(d.iter().all(|&x| x <= MAX_SLEEP_US));
        assert!(d.iter().any(|&x| x < 100) && d.iter().any(|&x| x > 4_900));
        // The Go side computes the same values (`sleepUs` in bench.go).
        assert_eq!(sleep_us(0), 4_879);
    }

    #[test]
    fn summary_counts_early_wakeups_and_takes_percentiles() {
        let mut late: Vec<i64> = (1..=100).map(|us| us * 1_000).collect();
        late[0] = -5;
        let o = summarize(late);
        assert_eq!(o.early, Some(1));
        assert_eq!(o.value, 51.0);
        assert_eq!(o.p99, Some(99.0));
    }
}
