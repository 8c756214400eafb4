//! The stack carver: a thread that maps goroutine stacks before `go` needs
//! them.
//!
//! Lesson idea: "keep slow work off the goroutine's path". Every new
//! goroutine needs a stack. When the free-stack pool runs dry, the P that
//! runs `go` maps a region of 64 stacks and installs their guards
//! (`stack.rs`), and each stack's first page is faulted in when the
//! goroutine first runs. For a program that starts goroutines by the
//! hundred thousand this is most of the cost of `go`: measured on our VM
//! with a million goroutines, 2.5 s of a 6 s run went into the kernel
//! allocating page-table pages for the guards (one per 2 MiB, that was per
//! eight stacks of 256 KiB), and 2 s more into the first-touch faults, all on the Ms
//! running goroutines.
//!
//! So once a program has carved a few regions, `stack::refill` wakes this
//! thread whenever the pool falls below `stack::LOW_WATER` stacks, and it carves
//! regions until the pool holds that many again, faulting in each new
//! stack's top page (`os::populate_pages`) so that the goroutine's first
//! write does not fault. When a spare CPU exists (GOMAXPROCS below the
//! number of CPUs, or Ms waiting on each other) that work runs beside the
//! goroutines instead of in their way. The P still carves a region itself
//! when it finds the pool empty, so nothing waits for the carver, and a
//! carver that cannot start (a thread limit) changes nothing but speed.
//!
//! Go has no such thread: its stacks come from its heap, whose pages the
//! allocating goroutine faults in. It does keep background workers for
//! memory (the sweeper and the scavenger, `bgsweep` and `bgscavenge`),
//! which are goroutines; ours is an OS thread because all it does is
//! system calls. Cost: at most `LOW_WATER` (128) stacks of address space
//! mapped ahead, and their top pages (512 KiB) resident before they are used.

use std::sync::{Condvar, Mutex, OnceLock};

struct Carver {
    /// Set by [`wake`], cleared by the carver when it starts a round.
    wanted: Mutex<bool>,
    cv: Condvar,
}

static CARVER: OnceLock<Option<&'static Carver>> = OnceLock::new();

/// Ask the carver to run `stock` (which carves regions until the pool is
/// stocked again), starting its thread on first use. Returns
/// at once; a round already asked for and not yet started is not asked
/// again.
pub(crate) fn wake(stock: fn()) {
    let Some(carver) = CARVER.get_or_init(|| start(stock)) else {
        return;
    };
    let mut wanted = carver.wanted.lock().unwrap_or_else(|p| p.into_inner());
    if !*wanted {
        *wanted = true;
        carver.cv.notify_one();
    }
}

/// Start the carver's thread; `None` if the OS refuses a thread.
fn start(stock: fn()) -> Option<&'static Carver> {
    let carver: &'static Carver = Box::leak(Box::new(Carver {
        wanted: Mutex::new(false),
        cv: Condvar::new(),
    }));
    std::thread::Builder::new()
        .name("stack carver".into())
        .stack_size(64 * 1024)
        .spawn(move || loop {
            {
                let mut wanted = carver.wanted.lock().unwrap_or_else(|p| p.into_inner());
                while !*wanted {
                    wanted = carver.cv.wait(wanted).unwrap_or_else(|p| p.into_inner());
                }
                *wanted = false;
            }
            stock();
        })
        .ok()
        .map(|_| carver)
}
