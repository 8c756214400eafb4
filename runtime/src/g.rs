//! G: a goroutine, with its own stack and a status.
//!
//! Lesson idea: "every function can become an independent path of execution
//! that can be scheduled". A G is that path: a closure, the stack it runs on,
//! and a status that says whether it is running, runnable or asleep (Go's
//! `type g struct` in `runtime/runtime2.go`). Dead Gs are not freed: like Go's
//! `gfput`/`gfget` they go to a free list and are reused, stack included, so
//! spawning a goroutine in steady state allocates nothing.
//!
//! Because a G is never freed, it is handed around as `&'static G` (`GRef`):
//! run queues, wait queues and the all-goroutines list hold plain references.

use std::panic::Location;

use crate::sync_facade::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, Ordering};

/// A goroutine as the scheduler passes it around.
pub type GRef = &'static G;

/// Where a goroutine is in its life (Go's `_Gidle`, `_Grunnable`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// On a free list, not a live goroutine (Go: `_Gdead` on `gFree`).
    Free = 0,
    /// In a run queue, waiting for an M (`_Grunnable`).
    Runnable = 1,
    /// On an M, executing user code (`_Grunning`).
    Running = 2,
    /// Inside `runtime::syscall`, its M blocked in the kernel (`_Gsyscall`).
    Syscall = 3,
    /// Parked: blocked on a WaitGroup, channel, timer... (`_Gwaiting`).
    Waiting = 4,
}

impl Status {
    fn from_u8(v: u8) -> Status {
        match v {
            0 => Status::Free,
            1 => Status::Runnable,
            2 => Status::Running,
            3 => Status::Syscall,
            _ => Status::Waiting,
        }
    }
}

/// Why a goroutine is parked: the word between brackets in a goroutine dump,
/// spelled as Go spells it (`waitReasonStrings` in `runtime2.go`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum WaitReason {
    /// Not waiting.
    None = 0,
    /// Blocked on a semaphore: `WaitGroup::wait`.
    Semacquire,
    /// Blocked receiving from a channel.
    ChanReceive,
    /// Blocked sending on a channel.
    ChanSend,
    /// Blocked in `select!`.
    Select,
    /// `select!` with no cases: blocks forever.
    SelectNoCases,
    /// In `time::sleep`.
    Sleep,
    /// Receiving from a nil channel.
    ChanReceiveNilChan,
    /// Sending on a nil channel.
    ChanSendNilChan,
}

impl WaitReason {
    /// Go's text for this reason.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::None => "running",
            WaitReason::Semacquire => "semacquire",
            WaitReason::ChanReceive => "chan receive",
            WaitReason::ChanSend => "chan send",
            WaitReason::Select => "select",
            WaitReason::SelectNoCases => "select (no cases)",
            WaitReason::Sleep => "sleep",
            WaitReason::ChanReceiveNilChan => "chan receive (nil chan)",
            WaitReason::ChanSendNilChan => "chan send (nil chan)",
        }
    }

    fn from_u8(v: u8) -> WaitReason {
        use WaitReason::*;
        [
            None,
            Semacquire,
            ChanReceive,
            ChanSend,
            Select,
            SelectNoCases,
            Sleep,
            ChanReceiveNilChan,
            ChanSendNilChan,
        ]
        .get(v as usize)
        .copied()
        .unwrap_or(None)
    }
}

/// A goroutine.
pub struct G {
    /// Goroutine id (Go's `goid`); main is 1. Reassigned when a free G is reused.
    goid: AtomicU64,
    /// A [`Status`] as `u8`.
    status: AtomicU8,
    /// Set by sysmon when this G has run for 10 ms: yield at the next
    /// preemption point (Go's `g.preempt`).
    pub(crate) preempt: AtomicBool,
    /// If set, a panic in this G is handed to `block_on`'s caller instead of
    /// ending the program.
    pub(crate) catches_panics: AtomicBool,
    /// A [`WaitReason`] as `u8`, valid while `Waiting`.
    wait_reason: AtomicU8,
    /// The user's source line that blocked (from `#[track_caller]`).
    wait_location: AtomicPtr<Location<'static>>,
    /// The `go` statement that created this G.
    created_at: AtomicPtr<Location<'static>>,
    /// The goroutine that executed that `go` statement (0: none).
    parent_goid: AtomicU64,
    /// The coroutine and stack; owned by whichever M runs the G.
    #[cfg(not(loom))]
    pub(crate) exec: crate::m::ExecCell,
}

fn loc_ptr(loc: &'static Location<'static>) -> *mut Location<'static> {
    loc as *const Location<'static> as *mut Location<'static>
}

fn loc_ref(p: *mut Location<'static>) -> Option<&'static Location<'static>> {
    // SAFETY: the pointer is either null or was made by `loc_ptr` from a
    // `&'static Location`, which lives for the whole program.
    unsafe { p.cast_const().as_ref() }
}

impl G {
    /// A fresh G record (Go's `malg`), not yet live.
    pub(crate) fn new() -> G {
        G {
            goid: AtomicU64::new(0),
            status: AtomicU8::new(Status::Free as u8),
            preempt: AtomicBool::new(false),
            catches_panics: AtomicBool::new(false),
            wait_reason: AtomicU8::new(WaitReason::None as u8),
            wait_location: AtomicPtr::new(std::ptr::null_mut()),
            created_at: AtomicPtr::new(std::ptr::null_mut()),
            parent_goid: AtomicU64::new(0),
            #[cfg(not(loom))]
            exec: crate::m::ExecCell::new(),
        }
    }

    /// This goroutine's id.
    pub fn goid(&self) -> u64 {
        self.goid.load(Ordering::Relaxed)
    }

    /// Current status.
    pub fn status(&self) -> Status {
        Status::from_u8(self.status.load(Ordering::Acquire))
    }

    /// Change status, checking the transition is one the scheduler makes
    /// (Go's `casgstatus`, which throws on a bad transition).
    ///
    /// Only the G's owner changes its status, so the check needs no atomic
    /// read-modify-write: release builds store (a locked `xchg` costs ~5 ns,
    /// paid several times per channel round trip), debug builds swap and
    /// check.
    pub(crate) fn set_status(&self, from: Status, to: Status) {
        if cfg!(debug_assertions) {
            let old = self.status.swap(to as u8, Ordering::AcqRel);
            debug_assert_eq!(
                Status::from_u8(old),
                from,
                "goroutine {}: bad status transition to {:?}",
                self.goid(),
                to
            );
        } else {
            self.status.store(to as u8, Ordering::Release);
        }
    }

    /// Make a free G live again with a new id (`newproc1`).
    pub(crate) fn init_live(&self, goid: u64, parent: u64, created_at: &'static Location<'static>) {
        self.goid.store(goid, Ordering::Relaxed);
        self.parent_goid.store(parent, Ordering::Relaxed);
        self.created_at
            .store(loc_ptr(created_at), Ordering::Relaxed);
        self.preempt.store(false, Ordering::Relaxed);
        self.catches_panics.store(false, Ordering::Relaxed);
        self.wait_reason
            .store(WaitReason::None as u8, Ordering::Relaxed);
    }

    /// Record why and where this G is about to park (read by the deadlock
    /// dump). Go: the `reason` argument of `gopark`.
    pub(crate) fn set_wait(&self, reason: WaitReason, at: &'static Location<'static>) {
        self.wait_reason.store(reason as u8, Ordering::Relaxed);
        self.wait_location.store(loc_ptr(at), Ordering::Relaxed);
    }

    /// Why this G is parked.
    pub fn wait_reason(&self) -> WaitReason {
        WaitReason::from_u8(self.wait_reason.load(Ordering::Relaxed))
    }

    /// Where this G parked.
    pub fn wait_location(&self) -> Option<&'static Location<'static>> {
        loc_ref(self.wait_location.load(Ordering::Relaxed))
    }

    /// Where this G was created, and by which goroutine.
    pub fn created(&self) -> (Option<&'static Location<'static>>, u64) {
        (
            loc_ref(self.created_at.load(Ordering::Relaxed)),
            self.parent_goid.load(Ordering::Relaxed),
        )
    }
}
