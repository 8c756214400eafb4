//! Synchronization for goroutines (Go's `sync` package).

mod waitgroup;

pub use waitgroup::WaitGroup;
