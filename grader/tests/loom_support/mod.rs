//! Shared helpers of the loom models (`grader/tests/loom_*.rs`).
//!
//! Each model runs through [`check`], which counts the executions loom
//! explores and prints the count, so README can say how much each model
//! explores (`just loom` shows the lines).

#![allow(dead_code)] // each model file uses a different subset

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use runtime::loom_api::{self as rt, GRef, Sched, Status, M};

/// Preemption bound used when `LOOM_MAX_PREEMPTIONS` is not set (`just loom`
/// sets it). Unbounded exploration of these models takes hours; 2
/// preemptions already reach the interleavings the seeded bugs need.
const DEFAULT_PREEMPTIONS: usize = 2;

/// Run `model` under loom, exploring every interleaving within the
/// preemption bound, and print how many executions that took.
pub fn check(name: &str, model: impl Fn() + Sync + Send + 'static) {
    let executions = Arc::new(AtomicUsize::new(0));
    let counter = executions.clone();
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(DEFAULT_PREEMPTIONS);
    }
    let bound = builder.preemption_bound;
    builder.check(move || {
        counter.fetch_add(1, Ordering::Relaxed);
        model();
    });
    println!(
        "loom model {name}: {} executions (preemption bound {})",
        executions.load(Ordering::Relaxed),
        bound.map_or("none".to_string(), |b| b.to_string())
    );
}

/// The M loop of `m.rs` (`schedule` + `execute`) with Gs as tokens: find a
/// runnable G (parking when there is none), stop spinning, mark it running
/// and "run" it by calling `run`, which decides how it ends. Returns when the
/// model shuts the scheduler down.
pub fn m_loop(sched: &Sched, m: &'static M, mut run: impl FnMut(GRef)) {
    while let Some((g, _inherit)) = rt::find_runnable(sched, m) {
        if m.spinning() {
            rt::reset_spinning(sched, m);
        }
        rt::set_status(g, Status::Runnable, Status::Running);
        run(g);
    }
}

/// A G that has finished (Go's `goexit0`).
pub fn g_exit(g: GRef) {
    rt::set_status(g, Status::Running, Status::Free);
}
