//! Sudogs and wait queues: how a goroutine waits *on a channel* (Go's
//! `sudog` in `runtime2.go`, `waitq` in `chan.go`).
//!
//! Lesson idea: a channel operation is a point where the scheduler decides.
//! A goroutine that cannot send or receive now describes what it wants in a
//! `Sudog` ("pseudo-g"), links it into the channel's send or receive queue and
//! parks. The goroutine that later completes the operation for it unlinks the
//! sudog, moves the value straight into or out of it, and wakes its owner.
//!
//! Where Go allocates sudogs from a per-P cache, ours live on the waiting
//! goroutine's own stack: a parked goroutine's stack stays put (our stacks
//! never move), so a channel operation allocates nothing. The queue is an
//! intrusive doubly linked list of pointers to those stack slots.
//!
//! Invariants (all under the owning channel's lock):
//! - a sudog is in at most one queue, and only while its owner is parked or
//!   about to park (it enqueued itself and still holds the lock);
//! - whoever unlinks a sudog with [`WaitQ::dequeue`] owns the right to fill it
//!   and wake its owner, exactly once; after the wake it must not touch it.
//! - a sudog of a `select!` is only handed out by `dequeue` if the select had
//!   not fired yet: `dequeue` claims it with a compare-and-swap on the
//!   select's shared [`SelectDone`], so of all the sudogs one select put on
//!   various channels, exactly one is ever completed.

use std::cell::Cell;
use std::ptr;

use crate::park::Waiter;
use crate::sync_facade::{AtomicUsize, Ordering, UnsafeCell};

/// Seeded bug for the loom suite: a waker claims a select by reading
/// `SelectDone` and then writing it, instead of one compare-and-swap. Two
/// wakers on two channels (each holding only its own channel's lock) can
/// both see "not fired" and both complete a case of the same select: one
/// value or one partner is lost.
const CLAIM_WITH_CAS: bool = !cfg!(loom_seeded_bugs = "select_claim_no_cas");

/// Shared by the sudogs of one `select!`: which case fired (Go 1.19 keeps a
/// `selectDone` flag in the G and the winning sudog in `g.param`).
#[doc(hidden)]
pub struct SelectDone {
    /// [`SelectDone::NONE`] until a case is claimed, then its index.
    fired: AtomicUsize,
}

impl SelectDone {
    /// No case fired yet.
    pub(crate) const NONE: usize = usize::MAX;

    pub(crate) fn new() -> SelectDone {
        SelectDone {
            fired: AtomicUsize::new(Self::NONE),
        }
    }

    /// Claim the select for `case`; false if another case got there first.
    fn claim(&self, case: usize) -> bool {
        if !CLAIM_WITH_CAS {
            if self.fired.load(Ordering::Acquire) != Self::NONE {
                return false;
            }
            self.fired.store(case, Ordering::Release);
            return true;
        }
        self.fired
            .compare_exchange(Self::NONE, case, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// The case that fired, if any.
    pub(crate) fn fired(&self) -> Option<usize> {
        match self.fired.load(Ordering::Acquire) {
            Self::NONE => None,
            case => Some(case),
        }
    }
}

/// A goroutine (or thread) waiting to send or receive one value.
pub(crate) struct Sudog<T> {
    /// Who to wake.
    pub(crate) waiter: Waiter,
    /// A sender's value, or the slot a receiver's value is delivered to
    /// (Go's `sudog.elem`).
    pub(crate) elem: UnsafeCell<Option<T>>,
    /// True if woken by a completed transfer, false if by `close` (Go's
    /// `sudog.success`).
    pub(crate) success: UnsafeCell<bool>,
    /// Links in the wait queue; touched only under the channel lock.
    next: Cell<*const Sudog<T>>,
    prev: Cell<*const Sudog<T>>,
    /// For a `select!` case: the select's shared state and this case's index
    /// (Go's `sudog.isSelect`).
    select: Option<(*const SelectDone, usize)>,
}

impl<T> Sudog<T> {
    /// A sudog for a plain send (`elem` = the value) or receive (`None`).
    pub(crate) fn new(waiter: Waiter, elem: Option<T>) -> Sudog<T> {
        Sudog {
            waiter,
            elem: UnsafeCell::new(elem),
            success: UnsafeCell::new(false),
            next: Cell::new(ptr::null()),
            prev: Cell::new(ptr::null()),
            select: None,
        }
    }

    /// A sudog for case `case` of a select whose shared state is `sel`.
    pub(crate) fn for_select(
        waiter: Waiter,
        elem: Option<T>,
        sel: &SelectDone,
        case: usize,
    ) -> Sudog<T> {
        Sudog {
            select: Some((sel, case)),
            ..Sudog::new(waiter, elem)
        }
    }

    /// Take the value out (the receiver after a transfer, or the sender
    /// getting its value back). Under the lock or after the wakeup.
    pub(crate) fn take_elem(&self) -> Option<T> {
        // SAFETY: the caller holds the channel lock, or is the owner after its
        // wakeup (ordered after the waker's last access by the wake).
        self.elem.with_mut(|e| unsafe { (*e).take() })
    }

    /// Store a value (a sender delivering to this receiver). Under the lock.
    pub(crate) fn put_elem(&self, v: T) {
        // SAFETY: as for `take_elem`.
        self.elem.with_mut(|e| unsafe { *e = Some(v) });
    }

    /// Record how the wait ended. Under the lock, by whoever dequeued us.
    pub(crate) fn set_success(&self, ok: bool) {
        // SAFETY: as for `take_elem`.
        self.success.with_mut(|s| unsafe { *s = ok });
    }

    /// How the wait ended. By the owner after its wakeup.
    pub(crate) fn success(&self) -> bool {
        // SAFETY: as for `take_elem`.
        self.success.with_mut(|s| unsafe { *s })
    }
}

/// A FIFO of parked sudogs (Go's `waitq`), intrusive: no allocation.
pub(crate) struct WaitQ<T> {
    first: *const Sudog<T>,
    last: *const Sudog<T>,
}

impl<T> WaitQ<T> {
    pub(crate) const fn new() -> WaitQ<T> {
        WaitQ {
            first: ptr::null(),
            last: ptr::null(),
        }
    }

    /// Number of queued sudogs (walks the list; for tests and lessons).
    pub(crate) fn len(&self) -> usize {
        let mut n = 0;
        let mut p = self.first;
        // SAFETY: queued sudogs are valid (see `enqueue`); the caller holds
        // the channel lock.
        while let Some(sg) = unsafe { p.as_ref() } {
            n += 1;
            p = sg.next.get();
        }
        n
    }

    /// Link `sg` at the tail (Go's `waitq.enqueue`).
    ///
    /// # Safety
    /// `sg` stays valid (its owner stays parked) until it is unlinked again by
    /// `dequeue` or `remove`; the caller holds the channel lock.
    pub(crate) unsafe fn enqueue(&mut self, sg: &Sudog<T>) {
        debug_assert!(sg.next.get().is_null() && sg.prev.get().is_null());
        sg.prev.set(self.last);
        // SAFETY: the last sudog, if any, is queued, hence valid.
        if let Some(last) = unsafe { self.last.as_ref() } {
            last.next.set(sg);
        } else {
            self.first = sg;
        }
        self.last = sg;
    }

    /// Unlink and return the oldest sudog, whatever it is.
    ///
    /// # Safety
    /// The caller holds the channel lock (or owns this queue outright).
    pub(crate) unsafe fn pop<'q>(&mut self) -> Option<&'q Sudog<T>> {
        // SAFETY: queued sudogs are valid (see `enqueue`).
        let sg = unsafe { self.first.as_ref() }?;
        let next = sg.next.get();
        // SAFETY: as above, for its successor.
        match unsafe { next.as_ref() } {
            None => {
                self.first = ptr::null();
                self.last = ptr::null();
            }
            Some(y) => {
                y.prev.set(ptr::null());
                self.first = next;
                sg.next.set(ptr::null());
            }
        }
        Some(sg)
    }

    /// Unlink and return the oldest sudog that may still be completed,
    /// skipping (and unlinking) those of selects that already fired elsewhere
    /// (Go's `waitq.dequeue`). The caller now owns the right to complete it.
    ///
    /// # Safety
    /// The caller holds the channel lock.
    pub(crate) unsafe fn dequeue<'q>(&mut self) -> Option<&'q Sudog<T>> {
        loop {
            // SAFETY: per this function's contract.
            let sg = unsafe { self.pop() }?;
            // A select that parked here may have been woken through another
            // channel, and not yet have taken its other sudogs back: the
            // claim fails and we move on.
            if let Some((sel, case)) = sg.select {
                // SAFETY: the select's state lives on its owner's stack,
                // which stays put while any of its sudogs is queued.
                if !unsafe { &*sel }.claim(case) {
                    continue;
                }
            }
            return Some(sg);
        }
    }

    /// Unlink `sg` if it is still queued (Go's `waitq.dequeueSudoG`): a
    /// select taking back the sudogs of the cases that did not fire.
    ///
    /// # Safety
    /// The caller holds the channel lock; `sg` was enqueued on this queue.
    pub(crate) unsafe fn remove(&mut self, sg: &Sudog<T>) {
        let (x, y) = (sg.prev.get(), sg.next.get());
        // SAFETY: neighbours of a queued sudog are queued, hence valid.
        match unsafe { (x.as_ref(), y.as_ref()) } {
            (Some(x), Some(y)) => {
                x.next.set(y);
                y.prev.set(x);
            }
            (Some(x), None) => {
                x.next.set(ptr::null());
                self.last = x;
            }
            (None, Some(y)) => {
                y.prev.set(ptr::null());
                self.first = y;
            }
            // Either the only element, or already unlinked by a `dequeue`.
            (None, None) => {
                if ptr::eq(self.first, sg) {
                    self.first = ptr::null();
                    self.last = ptr::null();
                }
            }
        }
        sg.next.set(ptr::null());
        sg.prev.set(ptr::null());
    }
}
