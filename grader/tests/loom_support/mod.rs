//! Shared helpers of the loom models (`grader/tests/loom_*.rs`).
//!
//! Each model runs through [`check`], which counts the executions loom
//! explores and prints the count, so README can say how much each model
//! explores (`just loom` shows the lines).

#![allow(dead_code)] // each model file uses a different subset

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use runtime::loom_api::{self as rt, GRef, Sched, Status, M};

pub mod one_p;

/// Preemption bound used when `LOOM_MAX_PREEMPTIONS` is not set (`just loom`
/// sets it). Unbounded exploration of these models takes hours; 2
/// preemptions already reach the interleavings the seeded bugs need.
const DEFAULT_PREEMPTIONS: usize = 2;

/// Run `model` under loom, exploring every interleaving within the
/// preemption bound (`LOOM_MAX_PREEMPTIONS`, default 2), and print how many
/// executions that took.
pub fn check(name: &str, model: impl Fn() + Sync + Send + 'static) {
    check_capped(name, usize::MAX, usize::MAX, model)
}

/// [`check`] for a model too big to explore at the full bound within CI's
/// budget: `just loom` explores it at no more than `ci` preemptions, `just
/// loom-deep` (`LOOM_DEEP` set) at no more than `deep`. (Past `deep` a model
/// runs out of Ms: the runtime would start a new thread where the model has
/// none left.)
pub fn check_capped(name: &str, ci: usize, deep: usize, model: impl Fn() + Sync + Send + 'static) {
    let executions = Arc::new(AtomicUsize::new(0));
    let counter = executions.clone();
    let mut builder = loom::model::Builder::new();
    let mut bound = builder.preemption_bound.unwrap_or(DEFAULT_PREEMPTIONS);
    let deep_run = std::env::var_os("LOOM_DEEP").is_some_and(|v| !v.is_empty());
    bound = bound.min(if deep_run { deep } else { ci });
    builder.preemption_bound = Some(bound);
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        model();
    });
    println!(
        "loom model {name}: {} executions (preemption bound {bound})",
        executions.load(Ordering::Relaxed),
    );
}

/// The M loop of `m.rs` (`schedule` + `execute`) with Gs as tokens: one
/// scheduling decision after another (`schedule_one`: retire a P beyond
/// GOMAXPROCS, stop while holding no P, find a runnable G, parking when
/// there is none, stop spinning), then mark the G running and "run" it by
/// calling `run`, which decides how it ends. Returns when the model shuts
/// the scheduler down.
pub fn m_loop(sched: &'static Sched, m: &'static M, mut run: impl FnMut(GRef)) {
    while let Some((g, _inherit)) = rt::schedule_one(sched, m) {
        rt::set_status(g, Status::Runnable, Status::Running);
        run(g);
    }
}

/// A G that has finished (Go's `goexit0`).
pub fn g_exit(g: GRef) {
    rt::set_status(g, Status::Running, Status::Free);
}

/// A plain (non-atomic) value shared between model threads. Loom checks every
/// access: a read or write not ordered after the previous write by some
/// happens-before edge (a lock, a Release/Acquire pair, a wakeup) is
/// reported as a data race ("Causality violation").
pub struct Data(loom::cell::UnsafeCell<u32>);

// SAFETY: accesses are not synchronized by `Data` itself; loom checks that
// the code under test orders them, which is what the models assert.
unsafe impl Sync for Data {}

impl Data {
    pub fn new() -> Data {
        Data(loom::cell::UnsafeCell::new(0))
    }

    pub fn write(&self, v: u32) {
        // SAFETY: checked by loom (see the Sync impl).
        self.0.with_mut(|p| unsafe { *p = v });
    }

    pub fn read(&self) -> u32 {
        // SAFETY: checked by loom (see the Sync impl).
        self.0.with(|p| unsafe { *p })
    }
}

/// The text of a panic payload.
pub fn panic_text(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| e.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Run `f`, catching a panic: `Err(message)` if it panicked.
pub fn catch(f: impl FnOnce()) -> Result<(), String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|e| panic_text(&*e))
}

/// Some models make the runtime panic on purpose (Go's misuse messages) in
/// many executions: keep panics whose message is in `expected` off stderr,
/// and print every other panic as usual. Installed once per test binary.
pub fn quiet_expected_panics(expected: &'static [&'static str]) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !expected.contains(&panic_text(info.payload()).as_str()) {
                default(info);
            }
        }));
    });
}
