//! `soak`: a long run that checks the runtime neither leaks nor loses work.
//!
//! 1. Warm-up: 1,000,000 goroutines alive at once, blocked on a WaitGroup;
//!    then released. `num_goroutine()` must go from 1,000,001 back to 1.
//!    The resident size after this is the reference ("post-warm-up").
//!    Each goroutine keeps values and a pointer on its stack across the
//!    wait, while its stack is compacted (`runtime/src/compact.rs`: sysmon
//!    compacts the ones parked 20 ms or more, `compact_stacks()` the rest)
//!    and restored: a million compactions and restores, every value checked,
//!    and (on Linux, where stacks are compacted) fewer than
//!    [`COMPACTED_BYTES`] resident per parked goroutine.
//! 2. Channels: 10,000,000 channel operations between producers and
//!    consumers on GOMAXPROCS=2; every value sent is received exactly once.
//! 3. Churn: 15,000,000 short goroutines in 100 waves, each counted.
//!
//! Phases 2 and 3 repeat for 10 rounds (`--rounds R`). After every churn
//! wave, every round and at the end, the resident size must be within 10%
//! of the reference (dead goroutines' records and stacks are reused, not
//! leaked); at the end one goroutine must be left; every message and
//! goroutine must have been counted. Any failure prints `soak: FAIL ...` and
//! exits 1.
//!
//! `soak --scale N` divides every size by N (the test suite runs it small);
//! `--rounds R` sets the number of rounds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use runtime::WaitGroup;

/// Goroutines alive at once in the warm-up.
const WARM: usize = 1_000_000;
/// Rounds of phases 2 and 3 after the warm-up.
const ROUNDS: usize = 10;
/// Goroutines per churn wave, and waves.
const WAVE: usize = 100_000;
const WAVES: usize = 100;
/// Channel operations in phase 2 (each message is a send and a receive).
const CHAN_OPS: usize = 10_000_000;
/// Producer goroutines in phase 2 (and as many consumers).
const PRODUCERS: usize = 8;
/// Allowed growth of resident memory over the warm-up level.
const RSS_SLACK: f64 = 0.10;
/// Most resident bytes per parked warm-up goroutine once their stacks are
/// compacted (one uncompacted stack page is 4,096).
const COMPACTED_BYTES: u64 = 2_500;

fn main() {
    let (scale, rounds) = parse_args();
    runtime::main(move || {
        runtime::gomaxprocs(2);
        let t0 = Instant::now();
        let reference = warm_up((WARM / scale).max(1));
        report(t0, &format!("warm-up done, RSS {} MiB", reference >> 20));
        for round in 1..=rounds {
            channels(scale);
            churn((WAVE / scale).max(1), WAVES, reference);
            let rss = check_rss(reference, &format!("after round {round}"));
            report(
                t0,
                &format!(
                    "round {round}/{rounds}: channels and churn done, RSS {} MiB",
                    rss >> 20
                ),
            );
        }
        settle();
        let rss = check_rss(reference, "at the end");
        report(
            t0,
            &format!(
                "PASS: RSS {} MiB (warm-up {} MiB), {} goroutine left",
                rss >> 20,
                reference >> 20,
                runtime::num_goroutine()
            ),
        );
    })
}

/// `[--scale N] [--rounds R]`.
fn parse_args() -> (usize, usize) {
    let (mut scale, mut rounds) = (1, ROUNDS);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| usage());
        match flag.as_str() {
            "--scale" => scale = value,
            "--rounds" => rounds = value,
            _ => usage(),
        }
    }
    (scale, rounds)
}

/// Phase 1. Returns the resident size once all of them are gone.
fn warm_up(n: usize) -> u64 {
    static STARTED: WaitGroup = WaitGroup::new();
    static RELEASE: WaitGroup = WaitGroup::new();
    static FINISHED: WaitGroup = WaitGroup::new();
    static RAN: AtomicU64 = AtomicU64::new(0);
    static BAD: AtomicU64 = AtomicU64::new(0);
    let before = rss_bytes();
    RELEASE.add(1);
    STARTED.add(n as i32);
    FINISHED.add(n as i32);
    for i in 0..n as u64 {
        runtime::go(move || {
            // Values and a pointer on this goroutine's stack, across a wait
            // during which its stack is compacted and then restored.
            let mine = std::hint::black_box([i ^ 0x5A5A, i, !i, i.rotate_left(7)]);
            let ptr: &u64 = &mine[1];
            STARTED.done();
            RELEASE.wait();
            if mine != [i ^ 0x5A5A, i, !i, i.rotate_left(7)] || *ptr != i {
                BAD.fetch_add(1, Ordering::Relaxed);
            }
            RAN.fetch_add(1, Ordering::Relaxed);
            FINISHED.done();
        });
    }
    STARTED.wait();
    expect_goroutines(n + 1, "with every warm-up goroutine alive");
    // sysmon compacted those parked 20 ms or more; compact the rest now.
    runtime::compact_stacks();
    let parked = rss_bytes().saturating_sub(before) / n as u64;
    eprintln!("soak: warm-up: {parked} resident bytes per parked goroutine");
    // Small runs (`--scale`) are dominated by allocator noise: only a big
    // warm-up says something about the bytes per goroutine.
    if cfg!(target_os = "linux") && n >= 100_000 && parked > COMPACTED_BYTES {
        fail(&format!(
            "{parked} resident bytes per parked goroutine: stacks were not compacted"
        ));
    }
    RELEASE.done();
    FINISHED.wait();
    settle();
    check_count(
        "warm-up goroutines that ran",
        RAN.load(Ordering::Relaxed),
        n as u64,
    );
    check_count(
        "warm-up goroutines whose stack values changed across compaction",
        BAD.load(Ordering::Relaxed),
        0,
    );
    rss_bytes()
}

/// Phase 2: [`CHAN_OPS`] channel operations (a send and its receive are two)
/// between [`PRODUCERS`] producers and as many consumers, half through an
/// unbuffered channel and half through a buffered one. Every value must be
/// received exactly once: the count and the sum of what arrived must match
/// what was sent.
fn channels(scale: usize) {
    static SENT: WaitGroup = WaitGroup::new();
    static RECEIVED: WaitGroup = WaitGroup::new();
    static COUNT: AtomicU64 = AtomicU64::new(0);
    static SUM: AtomicU64 = AtomicU64::new(0);
    COUNT.store(0, Ordering::Relaxed);
    SUM.store(0, Ordering::Relaxed);
    let per_producer = ((CHAN_OPS / 2 / PRODUCERS) / scale).max(1) as u64;
    let chans = [runtime::chan::<u64>(0), runtime::chan::<u64>(64)];
    for ch in &chans {
        for _ in 0..PRODUCERS / 2 {
            let (rx, tx) = (ch.clone(), ch.clone());
            RECEIVED.add(1);
            runtime::go(move || {
                let (mut count, mut sum) = (0, 0);
                for v in &rx {
                    count += 1;
                    sum += v;
                }
                COUNT.fetch_add(count, Ordering::Relaxed);
                SUM.fetch_add(sum, Ordering::Relaxed);
                RECEIVED.done();
            });
            SENT.add(1);
            runtime::go(move || {
                for v in 1..=per_producer {
                    tx.send(v);
                }
                SENT.done();
            });
        }
    }
    SENT.wait();
    for ch in &chans {
        ch.close();
    }
    RECEIVED.wait();
    let messages = PRODUCERS as u64 * per_producer;
    check_count("messages received", COUNT.load(Ordering::Relaxed), messages);
    check_count(
        "sum of the values received",
        SUM.load(Ordering::Relaxed),
        PRODUCERS as u64 * per_producer * (per_producer + 1) / 2,
    );
    settle();
}

/// Phase 3: `waves` waves of `n` goroutines; half of each wave starts one
/// more goroutine of its own, so `go` runs from goroutines on both Ps. The
/// resident size is checked after every wave, so a leak fails here rather
/// than exhausting the machine's memory.
fn churn(n: usize, waves: usize, reference: u64) {
    static WG: WaitGroup = WaitGroup::new();
    static RAN: AtomicU64 = AtomicU64::new(0);
    RAN.store(0, Ordering::Relaxed);
    for wave in 0..waves {
        WG.add(n as i32);
        for i in 0..n {
            if i % 2 == 0 {
                runtime::go(|| {
                    RAN.fetch_add(1, Ordering::Relaxed);
                    WG.done();
                });
            } else {
                WG.add(1);
                runtime::go(|| {
                    runtime::go(|| {
                        RAN.fetch_add(1, Ordering::Relaxed);
                        WG.done();
                    });
                    RAN.fetch_add(1, Ordering::Relaxed);
                    WG.done();
                });
            }
        }
        WG.wait();
        let expected = (wave + 1) as u64 * (n + n / 2) as u64;
        check_count(
            "churn goroutines that ran",
            RAN.load(Ordering::Relaxed),
            expected,
        );
        check_rss(reference, &format!("after churn wave {}", wave + 1));
    }
    settle();
}

/// Wait until only main is left: a goroutine that called `done` may still be
/// on its way out when `wait` returns. Fails after 10 s.
fn settle() {
    let deadline = Instant::now() + Duration::from_secs(10);
    while runtime::num_goroutine() != 1 {
        if Instant::now() > deadline {
            expect_goroutines(1, "after everything finished");
        }
        runtime::gosched();
        std::thread::yield_now();
    }
}

/// Fail if the resident size is more than [`RSS_SLACK`] above `reference`.
fn check_rss(reference: u64, when: &str) -> u64 {
    let rss = rss_bytes();
    if rss as f64 > reference as f64 * (1.0 + RSS_SLACK) {
        fail(&format!(
            "RSS grew from {reference} to {rss} bytes {when} (more than {:.0}%): something leaks",
            RSS_SLACK * 100.0
        ));
    }
    rss
}

fn expect_goroutines(want: usize, when: &str) {
    let got = runtime::num_goroutine();
    if got != want {
        fail(&format!("num_goroutine() = {got} {when}, want {want}"));
    }
}

fn check_count(what: &str, got: u64, want: u64) {
    if got != want {
        fail(&format!("{what}: {got}, want {want} (lost or duplicated)"));
    }
}

fn report(t0: Instant, what: &str) {
    eprintln!("soak: {:>7.2}s {what}", t0.elapsed().as_secs_f64());
}

fn fail(msg: &str) -> ! {
    eprintln!("soak: FAIL {msg}");
    std::process::exit(1)
}

fn usage() -> ! {
    eprintln!("usage: soak [--scale N] [--rounds R]");
    std::process::exit(2)
}

/// Resident set size, from the runtime's OS layer (`/proc/self/statm` on
/// Linux, `proc_pidinfo` on macOS).
fn rss_bytes() -> u64 {
    runtime::os::resident_bytes().expect("the OS layer reports resident memory on Linux and macOS")
}
