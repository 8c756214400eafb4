//! The local run queue of a P: a fixed ring of 256 slots with steal-half.
//!
//! Lesson idea: "each P is given a Local Run Queue". Only the P's owner (the M
//! that holds the P) pushes, at the tail; the owner *and* thieves on other Ms
//! take from the head. That single-producer / multi-consumer shape is what
//! lets Go make the queue lock-free (`runqput`, `runqget`, `runqgrab`,
//! `runqsteal` in Go's `runtime/proc.go`); this file is a line-by-line port.
//!
//! The protocol:
//! - `tail` is written only by the owner, with Release, after the slot is
//!   filled; so a consumer that reads `tail` with Acquire sees the slot.
//! - `head` is advanced by whoever takes items, with a compare-and-swap; a
//!   consumer reads the slots first and then claims them by the CAS. If the CAS
//!   fails, someone else took them and the values read are thrown away.
//! - `tail - head` never exceeds the capacity: the owner only writes a slot
//!   that no consumer can claim.
//!
//! Slots are atomics (read with Relaxed) rather than plain cells: a thief may
//! read a slot while the owner rewrites it after a wrap-around; in Go that race
//! is benign because the CAS then fails, but in Rust a plain racing read would
//! be undefined behaviour, and an atomic costs nothing extra on x86-64.
//!
//! Under loom the ring shrinks to 4 slots (tokio does the same) so that
//! overflow and steal-half are reached in a handful of steps.

use crate::sync_facade::{AtomicRef, AtomicU32, Ordering};

/// Slots in a local run queue: 256, as in Go (`runq [256]guintptr`);
/// shrunk to 4 under loom, so that overflow is reachable in a model.
pub const LOCAL_QUEUE_SIZE: u32 = if cfg!(loom) { 4 } else { 256 };

/// Seeded bug for the loom suite: the owner publishes `tail` without Release,
/// so a consumer may see the new tail before the slot it covers.
const TAIL_PUBLISH: Ordering = if cfg!(loom_seeded_bugs = "runq_tail") {
    Ordering::Relaxed
} else {
    Ordering::Release
};

/// A bounded single-producer, multi-consumer ring of `&'static T`.
///
/// `T` is a goroutine ([`crate::g::G`]) in the runtime and in the loom model
/// `grader/tests/loom_runq.rs`.
pub struct LocalQueue<T: 'static> {
    /// Index of the next item to take. Advanced by CAS (owner or thief).
    head: AtomicU32,
    /// Index of the next free slot. Written only by the owner.
    tail: AtomicU32,
    /// The ring itself; `None` means "never written".
    slots: Box<[AtomicRef<T>]>,
}

impl<T: 'static> Default for LocalQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: 'static> LocalQueue<T> {
    /// An empty queue.
    pub fn new() -> LocalQueue<T> {
        let slots = (0..LOCAL_QUEUE_SIZE).map(|_| AtomicRef::none()).collect();
        LocalQueue {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            slots,
        }
    }

    fn slot(&self, i: u32) -> &AtomicRef<T> {
        &self.slots[(i % LOCAL_QUEUE_SIZE) as usize]
    }

    /// Number of items (a racy snapshot when read by a non-owner).
    pub fn len(&self) -> usize {
        // Go's `runqempty` reads head, tail, head again to get a consistent
        // pair; for a length estimate a plain difference is enough.
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Acquire);
        tail.wrapping_sub(head).min(LOCAL_QUEUE_SIZE) as usize
    }

    /// True when the queue holds nothing (racy for non-owners, like Go's
    /// `runqempty`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Owner only: append `item` at the tail. When the ring is full, move half
    /// of it plus `item` to `overflow` (the global queue) in one batch, oldest
    /// first. Go: `runqput(pp, gp, false)` and `runqputslow`.
    #[inline]
    pub fn push_back(&self, item: &'static T, overflow: impl FnOnce(Vec<&'static T>)) {
        let head = self.head.load(Ordering::Acquire);
        // Only the owner writes `tail`, so Relaxed reads our own value.
        let tail = self.tail.load(Ordering::Relaxed);
        if tail.wrapping_sub(head) < LOCAL_QUEUE_SIZE {
            self.slot(tail).store(Some(item), Ordering::Relaxed);
            // Publish: makes the slot visible to consumers.
            self.tail.store(tail.wrapping_add(1), TAIL_PUBLISH);
            return;
        }
        self.push_back_slow(item, overflow);
    }

    /// [`push_back`](Self::push_back) when the ring looked full: the same
    /// steps in a retry loop, kept out of line so the common case stays
    /// small where it is inlined.
    #[cold]
    #[inline(never)]
    fn push_back_slow(&self, item: &'static T, overflow: impl FnOnce(Vec<&'static T>)) {
        let mut overflow = Some(overflow);
        loop {
            let head = self.head.load(Ordering::Acquire);
            // Only the owner writes `tail`, so Relaxed reads our own value.
            let tail = self.tail.load(Ordering::Relaxed);
            if tail.wrapping_sub(head) < LOCAL_QUEUE_SIZE {
                self.slot(tail).store(Some(item), Ordering::Relaxed);
                // Publish: makes the slot visible to consumers.
                self.tail.store(tail.wrapping_add(1), TAIL_PUBLISH);
                return;
            }
            // Full: move half to the global queue (Go's `runqputslow`).
            if let Some(batch) = self.grab_half_for_overflow(head, tail, item) {
                (overflow.take().expect("overflow runs once"))(batch);
                return;
            }
            // A thief took some items meanwhile, so there is room now: retry.
        }
    }

    /// Go's `runqputslow`: claim the older half of a full ring and return it
    /// with `item` appended, or `None` if a consumer raced us.
    fn grab_half_for_overflow(
        &self,
        head: u32,
        tail: u32,
        item: &'static T,
    ) -> Option<Vec<&'static T>> {
        let n = tail.wrapping_sub(head) / 2;
        debug_assert_eq!(n, LOCAL_QUEUE_SIZE / 2, "overflow only when full");
        let mut batch = Vec::with_capacity(n as usize + 1);
        for i in 0..n {
            batch.push(self.slot(head.wrapping_add(i)).load(Ordering::Relaxed));
        }
        if self
            .head
            .compare_exchange(
                head,
                head.wrapping_add(n),
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_err()
        {
            return None;
        }
        // Every slot in [head, tail) was filled by `push_back` before `tail`
        // was published, and our CAS succeeded, so these are ours now.
        let mut out: Vec<&'static T> = batch
            .into_iter()
            .map(|item| item.expect("runqputslow: claimed an empty slot"))
            .collect();
        out.push(item);
        Some(out)
    }

    /// Take the item at the head (owner, or anyone). Go: the ring part of
    /// `runqget`.
    pub fn pop_front(&self) -> Option<&'static T> {
        loop {
            let head = self.head.load(Ordering::Acquire);
            let tail = self.tail.load(Ordering::Acquire);
            if tail == head {
                return None;
            }
            let item = self.slot(head).load(Ordering::Relaxed);
            if self
                .head
                .compare_exchange(
                    head,
                    head.wrapping_add(1),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                // The slot lies in [head, tail), which the owner filled before
                // publishing `tail` (Release), and we read `tail` with
                // Acquire; the CAS made the item ours.
                debug_assert!(item.is_some(), "claimed an empty slot");
                return item;
            }
        }
    }

    /// Thief side of steal-half: move half of `self` (rounded up) into
    /// `dest`, whose owner is the caller, and return one of the stolen items
    /// to run at once. Go: `runqsteal` + `runqgrab`. The caller handles
    /// `runnext` separately (see `p.rs`).
    pub fn steal_half_into(&self, dest: &LocalQueue<T>) -> Option<&'static T> {
        // Only dest's owner (us) writes dest.tail.
        let dest_tail = dest.tail.load(Ordering::Relaxed);
        let n = loop {
            let head = self.head.load(Ordering::Acquire);
            let tail = self.tail.load(Ordering::Acquire);
            let available = tail.wrapping_sub(head);
            let n = available - available / 2;
            if n == 0 {
                return None;
            }
            if n > LOCAL_QUEUE_SIZE / 2 {
                // head and tail read at different moments: inconsistent, retry.
                continue;
            }
            for i in 0..n {
                let item = self.slot(head.wrapping_add(i)).load(Ordering::Relaxed);
                dest.slot(dest_tail.wrapping_add(i))
                    .store(item, Ordering::Relaxed);
            }
            if self
                .head
                .compare_exchange(
                    head,
                    head.wrapping_add(n),
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
            {
                break n;
            }
        };
        // Run the last stolen item now; publish the others in dest.
        let n = n - 1;
        let item = dest.slot(dest_tail.wrapping_add(n)).load(Ordering::Relaxed);
        if n > 0 {
            debug_assert!(
                dest_tail.wrapping_sub(dest.head.load(Ordering::Acquire)) + n <= LOCAL_QUEUE_SIZE,
                "runqsteal: runq overflow"
            );
            dest.tail.store(dest_tail.wrapping_add(n), TAIL_PUBLISH);
        }
        // `item` came from a slot of `self` in [head, head+n), filled before
        // `self.tail` was published (we read it with Acquire), and our CAS on
        // `self.head` made it ours.
        debug_assert!(item.is_some(), "runqsteal: claimed an empty slot");
        item
    }

    /// Owner only: take every item (used when a P is destroyed by
    /// `gomaxprocs`, Go's `procresize` moving a dead P's queue to the global
    /// queue).
    pub fn drain(&self) -> Vec<&'static T> {
        let mut out = Vec::new();
        while let Some(item) = self.pop_front() {
            out.push(item);
        }
        out
    }

    /// Anyone: look at up to `max` items from the head without taking them,
    /// and the queue's length, for the scheduler's pictures (`trace.rs`,
    /// `schedtrace.rs`). Exact when called by the owner; a racy but safe
    /// snapshot otherwise (slots are atomics and items are never freed).
    pub fn peek(&self, max: usize) -> (Vec<&'static T>, usize) {
        let head = self.head.load(Ordering::Acquire);
        let tail = self.tail.load(Ordering::Acquire);
        let len = tail.wrapping_sub(head).min(LOCAL_QUEUE_SIZE);
        let items = (0..len.min(max as u32))
            // Slots never written hold `None`.
            .filter_map(|i| self.slot(head.wrapping_add(i)).load(Ordering::Relaxed))
            .collect();
        (items, len as usize)
    }
}
