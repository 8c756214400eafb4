//! Synchronization for goroutines (Go's `sync` package).
//!
//! Lesson idea: "`var wg sync.WaitGroup`... usable in its zero value": the
//! lesson's programs wait for their goroutines with a WaitGroup.
//!
//! Inside goroutines, use these instead of `std::sync`'s `Mutex`, `RwLock`,
//! `Condvar`, `Once`, `OnceLock` and `LazyLock`: those block the OS thread
//! (the M) while they wait, and the goroutine that would release them may be
//! queued on that very M's P: on one P the program hangs. These park the
//! goroutine, like a channel operation, so the M runs the others meanwhile.
//! They also work outside goroutines (a plain thread, `block_on`'s caller),
//! where they park the thread.

mod cond;
mod mutex;
mod once;
mod rwmutex;
mod waitgroup;

pub use cond::Cond;
pub use mutex::{Mutex, MutexGuard};
pub use once::{LazyLock, Once, OnceLock};
pub use rwmutex::{RwMutex, RwMutexReadGuard, RwMutexWriteGuard};
pub use waitgroup::WaitGroup;

/// An unrecoverable misuse of a lock (Go's `fatal`, as `sync: unlock of
/// unlocked mutex` is in Go: `fatal error: ...`, exit 2, not a panic that
/// `recover` could catch). Under loom, where the models must observe it, a
/// panic.
#[track_caller]
fn fatal(msg: &str) -> ! {
    #[cfg(not(loom))]
    crate::fatal::throw(msg);
    #[cfg(loom)]
    panic!("fatal error: {msg}");
}
