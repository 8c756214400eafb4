//! Properties of timers (no timing assertions: only orderings that must
//! hold however slow the machine is):
//! - none fires early: a goroutine sleeping `d` sees at least `d` elapse; a
//!   value of `time::after(d)` or of a `Timer` is at least `d` after the
//!   timer was set;
//! - a timer whose `stop` returned `true` never fires (its channel stays
//!   empty, its `after_func` never runs); one whose `stop` returned `false`
//!   had fired (its value is there, its function runs);
//! - `reset` as Go 1.19: `true` when the timer was armed, and then the one
//!   value that arrives is at least the new duration after the reset.
//!
//! Random programs of such goroutines, all at once, at GOMAXPROCS 1 to 3.

// The executor (goroutines, block_on) is not built under loom.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use runtime::time::{after, after_func, sleep, Timer};
use runtime::{chan, select, WaitGroup};

/// What one goroutine does with its timer; durations in microseconds.
#[derive(Debug, Clone)]
enum Op {
    Sleep(u64),
    After(u64),
    /// `time::after` as the timeout of a `select!` on a channel nobody
    /// sends to.
    SelectTimeout(u64),
    /// Stop after sleeping `.1`: the stop may come before or after it fired.
    Stop(u64, u64),
    /// Reset to `.1` after sleeping `.2`.
    Reset(u64, u64, u64),
    /// `after_func`, stopped after sleeping `.1`.
    AfterFunc(u64, u64),
}

fn op() -> impl Strategy<Value = Op> {
    let us = 0u64..3_000;
    prop_oneof![
        us.clone().prop_map(Op::Sleep),
        us.clone().prop_map(Op::After),
        us.clone().prop_map(Op::SelectTimeout),
        (us.clone(), us.clone()).prop_map(|(d, w)| Op::Stop(d, w)),
        (us.clone(), us.clone(), us.clone()).prop_map(|(d, r, w)| Op::Reset(d, r, w)),
        (us.clone(), us).prop_map(|(d, w)| Op::AfterFunc(d, w)),
    ]
}

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

/// Run `op` in the calling goroutine; `Err` says what went wrong.
fn check(op: &Op) -> Result<(), String> {
    match *op {
        Op::Sleep(d) => {
            let start = Instant::now();
            sleep(us(d));
            let took = start.elapsed();
            (took >= us(d))
                .then_some(())
                .ok_or(format!("sleep({d} us) woke after {took:?}"))
        }
        Op::After(d) => {
            let start = Instant::now();
            let t = after(us(d))
                .recv()
                .expect("a timer channel is never closed");
            (t >= start + us(d))
                .then_some(())
                .ok_or(format!("after({d} us) fired {:?} early", start + us(d) - t))
        }
        Op::SelectTimeout(d) => {
            let never = chan::<u8>(0);
            let start = Instant::now();
            let t = select! {
                recv(never) => return Err("received from a channel nobody sends to".into()),
                recv(after(us(d))) -> t => t.expect("a timer channel is never closed"),
            };
            (t >= start + us(d))
                .then_some(())
                .ok_or(format!("select timeout {d} us fired early"))
        }
        Op::Stop(d, wait) => {
            let start = Instant::now();
            let timer = Timer::new(us(d));
            sleep(us(wait));
            if timer.stop() {
                // Stopped before it fired: it never will. Wait past its
                // deadline, then look.
                sleep(us(d + 1_000));
                match timer.c().try_recv() {
                    Err(()) => Ok(()),
                    Ok(_) => Err(format!("Timer({d} us) fired after stop() = true")),
                }
            } else {
                let t = timer.c().recv().expect("fired: its value is there");
                (t >= start + us(d))
                    .then_some(())
                    .ok_or(format!("Timer({d} us) fired early"))
            }
        }
        Op::Reset(d, r, wait) => {
            let timer = Timer::new(us(d));
            sleep(us(wait));
            let reset_at = Instant::now();
            if timer.reset(us(r)) {
                // The first arming is dead: exactly one value comes, from
                // the second.
                let t = timer.c().recv().expect("never closed");
                if t < reset_at + us(r) {
                    return Err(format!("reset({r} us) = true, then fired early"));
                }
                sleep(us(r + 1_000));
                match timer.c().try_recv() {
                    Err(()) => Ok(()),
                    Ok(_) => Err(format!("Timer({d} us) reset to {r} us fired twice")),
                }
            } else {
                // It had fired: its value waits in the channel (the
                // second firing's may be dropped, as Go's sendTime does
                // when the buffer is full).
                match timer.c().try_recv() {
                    Ok(Some(_)) => {
                        timer.stop();
                        Ok(())
                    }
                    _ => Err(format!("reset = false, but Timer({d} us) had not fired")),
                }
            }
        }
        Op::AfterFunc(d, wait) => {
            let ran = Arc::new(AtomicUsize::new(0));
            let done = chan::<Instant>(1);
            let (ran2, tx) = (ran.clone(), done.clone());
            let start = Instant::now();
            let timer = after_func(us(d), move || {
                ran2.fetch_add(1, Ordering::SeqCst);
                tx.send(Instant::now());
            });
            sleep(us(wait));
            if timer.stop() {
                sleep(us(d + 1_000));
                match ran.load(Ordering::SeqCst) {
                    0 => Ok(()),
                    n => Err(format!("after_func({d} us) ran {n}x after stop() = true")),
                }
            } else {
                let t = done.recv().expect("never closed");
                (t >= start + us(d) && ran.load(Ordering::SeqCst) == 1)
                    .then_some(())
                    .ok_or(format!("after_func({d} us) early or not once"))
            }
        }
    }
}

proptest! {
    // Each case runs its goroutines at once, a few milliseconds in all.
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn timers_never_fire_early_and_stopped_ones_never_fire(
        ops in proptest::collection::vec(op(), 1..40),
        procs in 1usize..=3,
    ) {
        let errors = runtime::block_on(move || {
            let before = runtime::gomaxprocs(procs);
            let wg = Arc::new(WaitGroup::new());
            let errors = chan::<String>(ops.len());
            for op in ops {
                wg.add(1);
                let (wg, errors) = (wg.clone(), errors.clone());
                runtime::go(move || {
                    if let Err(e) = check(&op) {
                        errors.send(format!("{op:?}: {e}"));
                    }
                    wg.done();
                });
            }
            wg.wait();
            runtime::gomaxprocs(before);
            errors.close();
            errors.into_iter().collect::<Vec<_>>()
        });
        prop_assert!(errors.is_empty(), "{errors:#?}");
    }
}
