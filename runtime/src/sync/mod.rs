//! Synchronization for goroutines (Go's `sync` package).
//!
//! Lesson idea: "`var wg sync.WaitGroup`... usable in its zero value": the
//! lesson's programs wait for their goroutines with a WaitGroup.

mod waitgroup;

pub use waitgroup::WaitGroup;
