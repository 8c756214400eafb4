//! `select!`: wait on several channel operations, run the first that can
//! proceed (Go's `select` statement, `selectgo` in `runtime/select.go`).
//!
//! Lesson idea: like a single send or receive, a select is a point where the
//! scheduler decides; here the goroutine parks on *several* channels at once
//! and whichever is ready first wakes it.
//!
//! The algorithm, as in Go:
//! 1. Pick a random *poll order* (so no case is favoured when several are
//!    ready) and a *lock order*: the channels sorted by address, so two
//!    selects locking the same channels cannot deadlock each other.
//! 2. Lock every channel (each once, even if it appears in several cases).
//! 3. Pass 1: in poll order, look for a case that can complete now; if one
//!    does, unlock all and return it. With a `default`, return `None` here.
//! 4. Pass 2: enqueue a sudog on every channel, all pointing to one shared
//!    [`SelectDone`], then park; the locks are released once parked.
//! 5. Whoever wakes us claimed the select through `SelectDone` (see
//!    `sudog.rs`): exactly one case fires, even if several channels became
//!    ready at once.
//! 6. Pass 3: lock everything again and take our sudogs off the queues of the
//!    cases that did not fire.

use crate::chan::{Chan, HChan, SendFail};
use crate::g::WaitReason;
use crate::implicit_syscall::enter_and_preempt;
use crate::park::{park_unlock, Waiter};
use crate::sudog::{SelectDone, Sudog};
use crate::sync_facade::SpinGuard;

/// Seeded bug for the loom suite: lock the channels in the order the cases
/// are written instead of by address. Two selects naming the same two
/// channels in opposite orders each take one lock and wait for the other's.
const LOCK_BY_ADDRESS: bool = !cfg!(loom_seeded_bugs = "select_lock_case_order");

/// Wait on channel operations and run the first one that can proceed
/// (Go's `select`). When several are ready, one is chosen at random.
///
/// ```
/// use runtime::{chan, select};
///
/// runtime::block_on(|| {
///     let numbers = chan::<i32>(1);
///     let words = chan::<&str>(1);
///     let quit = chan::<()>(0);
///     numbers.send(1);
///     words.send("two");
///     quit.close();
///     let mut seen = 0;
///     loop {
///         select! {
///             recv(numbers) -> n => { assert_eq!(n, Some(1)); seen += 1 },
///             recv(words) -> w => { assert_eq!(w, Some("two")); seen += 1 },
///             recv(quit) => if seen == 2 { break },
///         }
///     }
/// });
/// ```
///
/// Cases, in any order, each followed by `=>` and an expression (a block, or
/// an expression and a comma):
/// - `recv(ch) -> v => ...`: receive; `v` is `Some(value)`, or `None` if the
///   channel is closed (Go's `case v, ok := <-ch:`);
/// - `recv(ch) => ...`: receive and drop the value (Go's `case <-ch:`);
/// - `send(ch, value) => ...`: send `value` (Go's `case ch <- value:`); the
///   value is dropped unsent if another case fires;
/// - `default => ...`: run when no case is ready now, instead of blocking.
///
/// A channel expression may make a new channel: `recv(time::after(d)) =>`
/// is a timeout (Go's `case <-time.After(d):`, see [`crate::time::after`]).
///
/// All channel expressions and sent values are evaluated once, in order,
/// before anything else, as in Go. `select! {}` blocks forever (Go's
/// `select {}`), which the deadlock detector reports as
/// `[select (no cases)]`.
///
/// # Panics
/// `send on closed channel` if a send case's channel is closed when it is
/// chosen.
#[macro_export]
macro_rules! select {
    // ---- parsing: one arm at a time into [cases] [default] ----
    // `case` is a fresh identifier in each step (macro hygiene), so every
    // case gets its own variable.
    (@parse [$($cases:tt)*] $def:tt ($($i:tt)*)
        recv($ch:expr) -> $v:pat => $body:block $($rest:tt)*) => {
        $crate::select!(@parse [$($cases)* (case recv ($ch) ($v) ($($i)*) $body)] $def
            ($($i)* + 1) $($rest)*)
    };
    (@parse [$($cases:tt)*] $def:tt ($($i:tt)*)
        recv($ch:expr) -> $v:pat => $body:expr $(, $($rest:tt)*)?) => {
        $crate::select!(@parse [$($cases)* (case recv ($ch) ($v) ($($i)*) { $body })] $def
            ($($i)* + 1) $($($rest)*)?)
    };
    (@parse [$($cases:tt)*] $def:tt ($($i:tt)*)
        recv($ch:expr) => $body:block $($rest:tt)*) => {
        $crate::select!(@parse [$($cases)* (case recv ($ch) (_) ($($i)*) $body)] $def
            ($($i)* + 1) $($rest)*)
    };
    (@parse [$($cases:tt)*] $def:tt ($($i:tt)*)
        recv($ch:expr) => $body:expr $(, $($rest:tt)*)?) => {
        $crate::select!(@parse [$($cases)* (case recv ($ch) (_) ($($i)*) { $body })] $def
            ($($i)* + 1) $($($rest)*)?)
    };
    (@parse [$($cases:tt)*] $def:tt ($($i:tt)*)
        send($ch:expr, $val:expr) => $body:block $($rest:tt)*) => {
        $crate::select!(@parse [$($cases)* (case send ($ch) ($val) ($($i)*) $body)] $def
            ($($i)* + 1) $($rest)*)
    };
    (@parse [$($cases:tt)*] $def:tt ($($i:tt)*)
        send($ch:expr, $val:expr) => $body:expr $(, $($rest:tt)*)?) => {
        $crate::select!(@parse [$($cases)* (case send ($ch) ($val) ($($i)*) { $body })] $def
            ($($i)* + 1) $($($rest)*)?)
    };
    (@parse $cases:tt [] $i:tt default => $body:block $($rest:tt)*) => {
        $crate::select!(@parse $cases [$body] $i $($rest)*)
    };
    (@parse $cases:tt [] $i:tt default => $body:expr $(, $($rest:tt)*)?) => {
        $crate::select!(@parse $cases [{ $body }] $i $($($rest)*)?)
    };
    (@parse $cases:tt [$($def:tt)+] $i:tt default $($rest:tt)*) => {
        ::std::compile_error!("select!: more than one `default` case")
    };
    // The comma after a block arm is optional, as in `match`.
    (@parse $cases:tt $def:tt $i:tt , $($rest:tt)*) => {
        $crate::select!(@parse $cases $def $i $($rest)*)
    };
    (@parse $cases:tt $def:tt $i:tt) => {
        $crate::select!(@emit $cases $def)
    };
    (@parse $cases:tt $def:tt $i:tt $($rest:tt)+) => {
        ::std::compile_error!(::std::concat!(
            "select!: expected `recv(ch) -> v => ...`, `recv(ch) => ...`, ",
            "`send(ch, value) => ...` or `default => ...`, found: ",
            ::std::stringify!($($rest)+)
        ))
    };

    // ---- code generation ----
    // `$ch` is a reference to the channel, bound by `@emit`.
    (@case recv $ch:ident $x:tt) => { $crate::select::RecvCase::new($ch) };
    (@case send $ch:ident ($val:expr)) => { $crate::select::SendCase::new($ch, $val) };
    (@bind $c:ident recv ($v:pat)) => { let $v = $c.take(); };
    (@bind $c:ident send $x:tt) => {};
    (@emit [] [$($def:tt)*]) => {{
        // Only a default: Go runs it at once.
        $crate::select::selectgo::<0>([], false);
        $($def)*
    }};
    (@emit [$(($c:ident $kind:ident $ch:tt $x:tt ($($i:tt)*) $body:block))+] []) => {{
        // `let c = &expr;` keeps a temporary channel alive to the end of
        // the select: `recv(time::after(d))`, Go's `case <-time.After(d):`.
        $(let $c = &$ch; let mut $c = $crate::select!(@case $kind $c $x);)+
        match $crate::select::selectgo(
            [$(&mut $c as &mut dyn $crate::select::SelectCase<'_>),+],
            true,
        ) {
            $(::std::option::Option::Some(w) if w == $($i)* => {
                $crate::select!(@bind $c $kind $x);
                $body
            })+
            _ => ::std::unreachable!("select! fired an unknown case"),
        }
    }};
    (@emit [$(($c:ident $kind:ident $ch:tt $x:tt ($($i:tt)*) $body:block))+] [$def:block]) => {{
        // `let c = &expr;` keeps a temporary channel alive to the end of
        // the select: `recv(time::after(d))`, Go's `case <-time.After(d):`.
        $(let $c = &$ch; let mut $c = $crate::select!(@case $kind $c $x);)+
        match $crate::select::selectgo(
            [$(&mut $c as &mut dyn $crate::select::SelectCase<'_>),+],
            false,
        ) {
            $(::std::option::Option::Some(w) if w == $($i)* => {
                $crate::select!(@bind $c $kind $x);
                $body
            })+
            ::std::option::Option::None => $def,
            _ => ::std::unreachable!("select! fired an unknown case"),
        }
    }};

    // ---- entry points (last, so that the rules above match first) ----
    () => {
        $crate::select::block()
    };
    ($($arms:tt)+) => {
        $crate::select!(@parse [] [] (0) $($arms)+)
    };
}

/// `select {}`: park forever (Go's `block`). The deadlock detector reports
/// this goroutine as `[select (no cases)]`.
#[doc(hidden)]
#[track_caller]
pub fn block() -> ! {
    let rt = enter_and_preempt();
    let me = Waiter::of(rt.g());
    park_unlock(&me, || {}, WaitReason::SelectNoCases);
    unreachable!("a goroutine in `select {{}}` was woken")
}

/// The channel lock of one case, held by `selectgo`.
#[doc(hidden)]
pub struct Locked<'a>(#[allow(dead_code)] SpinGuard<'a>);

/// What pass 1 found for one case.
#[doc(hidden)]
pub enum Poll {
    /// Completed; wake this waiter once the locks are released.
    Ready(Option<Waiter>),
    /// Would block.
    NotReady,
    /// A send case on a closed channel.
    SendClosed,
}

/// One case of a `select!`, seen by [`selectgo`] without its element type.
/// Implemented by [`RecvCase`] and [`SendCase`]; not meant for users.
#[doc(hidden)]
pub trait SelectCase<'a> {
    /// The channel's place in the lock order (its lock's rank: the
    /// channel's address, as in Go).
    fn lock_rank(&self) -> usize;
    /// Lock the channel.
    fn lock(&self) -> Locked<'a>;
    /// Pass 1: complete now if possible.
    ///
    /// # Safety
    /// The channel's lock is held.
    unsafe fn poll(&mut self) -> Poll;
    /// Pass 2: park a sudog for `me` on the channel.
    ///
    /// # Safety
    /// The channel's lock is held; `self` and `sel` stay put until pass 3.
    unsafe fn enqueue(&mut self, me: &Waiter, sel: &SelectDone, index: usize);
    /// Pass 3: take the sudog back if it is still queued.
    ///
    /// # Safety
    /// The channel's lock is held.
    unsafe fn dequeue(&mut self);
    /// After pass 3, for the case that fired: pick up the result.
    fn fired(&mut self);
}

/// A `recv(ch)` case.
#[doc(hidden)]
pub struct RecvCase<'a, T> {
    ch: &'a HChan<T>,
    sg: Option<Sudog<T>>,
    /// The result once fired: `Some(None)` means closed.
    got: Option<Option<T>>,
}

impl<'a, T: Send> RecvCase<'a, T> {
    pub fn new(ch: &'a Chan<T>) -> Self {
        RecvCase {
            ch: &ch.c,
            sg: None,
            got: None,
        }
    }

    /// The received value, `None` if the channel was closed.
    pub fn take(&mut self) -> Option<T> {
        self.got.take().expect("select!: case did not fire")
    }
}

impl<'a, T: Send> SelectCase<'a> for RecvCase<'a, T> {
    fn lock_rank(&self) -> usize {
        self.ch.lock.rank()
    }
    fn lock(&self) -> Locked<'a> {
        Locked(self.ch.lock.lock())
    }
    unsafe fn poll(&mut self) -> Poll {
        // SAFETY: the caller holds the lock.
        match unsafe { self.ch.with_state_locked(|st| st.try_recv(self.ch.cap())) } {
            Ok((v, w)) => {
                self.got = Some(v);
                Poll::Ready(w)
            }
            Err(()) => Poll::NotReady,
        }
    }
    unsafe fn enqueue(&mut self, me: &Waiter, sel: &SelectDone, index: usize) {
        let sg = self
            .sg
            .insert(Sudog::for_select(me.clone(), None, sel, index));
        // SAFETY: the caller holds the lock and keeps `self` in place until
        // pass 3 has taken the sudog back.
        unsafe { self.ch.with_state_locked(|st| st.recvq.enqueue(sg)) };
    }
    unsafe fn dequeue(&mut self) {
        if let Some(sg) = &self.sg {
            // SAFETY: the caller holds the lock; `sg` was queued there.
            unsafe { self.ch.with_state_locked(|st| st.recvq.remove(sg)) };
        }
    }
    fn fired(&mut self) {
        let sg = self.sg.as_ref().expect("fired case has a sudog");
        let v = sg.take_elem();
        debug_assert_eq!(v.is_some(), sg.success());
        self.got = Some(v);
    }
}

/// A `send(ch, value)` case.
#[doc(hidden)]
pub struct SendCase<'a, T> {
    ch: &'a HChan<T>,
    value: Option<T>,
    sg: Option<Sudog<T>>,
}

impl<'a, T: Send> SendCase<'a, T> {
    pub fn new(ch: &'a Chan<T>, value: T) -> Self {
        SendCase {
            ch: &ch.c,
            value: Some(value),
            sg: None,
        }
    }
}

impl<'a, T: Send> SelectCase<'a> for SendCase<'a, T> {
    fn lock_rank(&self) -> usize {
        self.ch.lock.rank()
    }
    fn lock(&self) -> Locked<'a> {
        Locked(self.ch.lock.lock())
    }
    unsafe fn poll(&mut self) -> Poll {
        let v = self.value.take().expect("send case has its value");
        // SAFETY: the caller holds the lock.
        match unsafe {
            self.ch
                .with_state_locked(|st| st.try_send(v, self.ch.cap()))
        } {
            Ok(w) => Poll::Ready(w),
            Err(SendFail::Closed(v)) => {
                // Keep the value: it is dropped with the case, after every
                // channel lock is released (its `Drop` may use a channel).
                self.value = Some(v);
                Poll::SendClosed
            }
            Err(SendFail::Full(v)) => {
                self.value = Some(v);
                Poll::NotReady
            }
        }
    }
    unsafe fn enqueue(&mut self, me: &Waiter, sel: &SelectDone, index: usize) {
        let v = self.value.take();
        let sg = self.sg.insert(Sudog::for_select(me.clone(), v, sel, index));
        // SAFETY: as for `RecvCase`.
        unsafe { self.ch.with_state_locked(|st| st.sendq.enqueue(sg)) };
    }
    unsafe fn dequeue(&mut self) {
        if let Some(sg) = &self.sg {
            // SAFETY: as for `RecvCase`.
            unsafe { self.ch.with_state_locked(|st| st.sendq.remove(sg)) };
        }
    }
    fn fired(&mut self) {
        let sg = self.sg.as_ref().expect("fired case has a sudog");
        if !sg.success() {
            panic!("send on closed channel");
        }
    }
}

/// A random number for the poll order (Go's `cheaprand`). Under loom the
/// order is fixed: a model must replay the same way every time.
fn fastrand() -> u32 {
    if cfg!(loom) {
        return 0;
    }
    if let Some(m) = crate::m::current_m() {
        return m.fastrand();
    }
    use std::cell::Cell;
    thread_local!(static STATE: Cell<u32> = const { Cell::new(0x9E37_79B9) });
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        s.set(x);
        x
    })
}

/// Lock every case's channel once, in address order (Go's `sellock`).
fn sellock<'a, const N: usize>(
    cases: &[&mut dyn SelectCase<'a>; N],
    lockorder: &[usize; N],
) -> [Option<Locked<'a>>; N] {
    let mut locks: [Option<Locked<'a>>; N] = std::array::from_fn(|_| None);
    let mut last = None;
    for (k, &i) in lockorder.iter().enumerate() {
        let rank = cases[i].lock_rank();
        if last != Some(rank) {
            locks[k] = Some(cases[i].lock());
            last = Some(rank);
        }
    }
    locks
}

/// Run a select over `cases` (Go's `selectgo`). Returns the index of the
/// case that fired, or `None` if `block` is false and none was ready.
/// Called by [`select!`].
#[doc(hidden)]
#[track_caller]
pub fn selectgo<'a, const N: usize>(
    cases: [&mut dyn SelectCase<'a>; N],
    block: bool,
) -> Option<usize> {
    let rt = enter_and_preempt();
    debug_assert!(N > 0 || !block, "select {{}} goes through block()");

    // Poll order: a random permutation (Fisher-Yates).
    let mut pollorder: [usize; N] = std::array::from_fn(|i| i);
    for i in (1..N).rev() {
        let j = fastrand() as usize % (i + 1);
        pollorder.swap(i, j);
    }
    // Lock order: by channel address (Go heap-sorts; N is small).
    let mut lockorder: [usize; N] = std::array::from_fn(|i| i);
    if LOCK_BY_ADDRESS {
        lockorder.sort_unstable_by_key(|&i| cases[i].lock_rank());
    }

    let locks = sellock(&cases, &lockorder);

    // Pass 1: anything ready now?
    for &i in &pollorder {
        // SAFETY: every channel is locked.
        match unsafe { cases[i].poll() } {
            Poll::NotReady => {}
            Poll::Ready(w) => {
                drop(locks);
                if let Some(w) = w {
                    w.wake();
                }
                return Some(i);
            }
            Poll::SendClosed => {
                drop(locks);
                panic!("send on closed channel");
            }
        }
    }
    if !block {
        return None;
    }

    // Pass 2: wait on every channel at once.
    let me = Waiter::of(rt.g());
    let sel = SelectDone::new();
    for &i in &lockorder {
        // SAFETY: every channel is locked; `cases` and `sel` live in this
        // frame or the caller's until pass 3.
        unsafe { cases[i].enqueue(&me, &sel, i) };
    }
    park_unlock(&me, move || drop(locks), WaitReason::Select);

    // Pass 3: one case fired; take back the sudogs of the others.
    let winner = sel.fired().expect("select woken without a case firing");
    let locks = sellock(&cases, &lockorder);
    for &i in &lockorder {
        if i != winner {
            // SAFETY: every channel is locked.
            unsafe { cases[i].dequeue() };
        }
    }
    drop(locks);
    cases[winner].fired();
    Some(winner)
}
