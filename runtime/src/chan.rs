//! Channels: `make(chan T)`, `make(chan T, n)`, send, receive, close, range
//! (Go's `hchan`, `chansend`, `chanrecv`, `closechan` in `runtime/chan.go`).
//!
//! Lesson idea: a channel operation is one of the places where the scheduler
//! makes a decision. A goroutine that cannot complete its send or receive
//! parks (its M goes on running other goroutines); the goroutine that later
//! completes the operation for it hands the value over and readies it into
//! its own P's `runnext`, so the two run back to back on one thread.
//!
//! A channel is a lock, a ring buffer of `cap` values and two queues of parked
//! goroutines (`Sudog`s, see `sudog.rs`): senders waiting for room, receivers
//! waiting for a value. The rules, as in Go:
//! - a send to a channel with a parked receiver hands the value *directly* to
//!   that receiver (no trip through the buffer); else it goes in the buffer
//!   if there is room; else the sender parks;
//! - a receive from a channel with a parked sender takes the value from it
//!   (unbuffered), or takes the buffer's head and moves the sender's value to
//!   the tail (buffered and full); else it takes from the buffer; else, if
//!   the channel is closed, it returns `None`; else the receiver parks;
//! - `close` wakes every parked receiver (they get `None`) and sender (they
//!   panic `send on closed channel`); a receive drains what is buffered first.
//!
//! Every decision is made under the channel lock, and a parking goroutine
//! releases it only once parked (`park.rs`), so a waker never finds it
//! half-asleep. Waking happens after the lock is released, so the lock is
//! held for a few dozen instructions only. A channel operation allocates
//! nothing: a parked goroutine's sudog lives on its own stack.
//!
//! All the synchronization comes from `sync_facade`, so loom models can check
//! this very code.

use crate::g::WaitReason;
use crate::implicit_syscall::enter_and_preempt;
use crate::park::{park_unlock, Waiter};
use crate::sudog::{Sudog, WaitQ};
use crate::sync_facade::{Arc, SpinGuard, SpinLock, UnsafeCell};
use std::collections::VecDeque;

/// Seeded bug for the loom suite: `close` wakes only the first parked
/// receiver; the others sleep forever.
const CLOSE_WAKES_ALL: bool = !cfg!(loom_seeded_bugs = "chan_close_wakes_one");

/// Seeded bug for the loom suite: a receive from a full buffer with a parked
/// sender takes the sender's value instead of the buffer's head, so values
/// come out of order.
const RECV_TAKES_HEAD: bool = !cfg!(loom_seeded_bugs = "chan_recv_takes_sender_value");

/// Make a channel of `T` with room for `cap` buffered values; `0` makes an
/// unbuffered channel, where every send waits for its receiver (Go's
/// `make(chan T, cap)`, `makechan`).
///
/// ```
/// runtime::block_on(|| {
///     let ch = runtime::chan::<&str>(0);
///     let tx = ch.clone();
///     runtime::go(move || tx.send("ping"));
///     assert_eq!(ch.recv(), Some("ping"));
/// });
/// ```
///
/// # Panics
/// `makechan: size out of range` when the buffer could never be allocated
/// (`cap` times the size of `T` overflows, or passes Go's `maxAlloc`, 2^48
/// bytes). A buffer that is merely larger than the memory available ends
/// the program with `fatal error: out of memory`, exit 2, as in Go.
#[doc(alias = "makechan")]
#[track_caller]
pub fn chan<T: Send>(cap: usize) -> Chan<T> {
    Chan {
        c: Arc::new(HChan {
            lock: SpinLock::new(),
            state: UnsafeCell::new(State {
                buf: makechan_buf(cap),
                closed: false,
                recvq: WaitQ::new(),
                sendq: WaitQ::new(),
            }),
            cap,
        }),
    }
}

/// Go's `maxAlloc` on 64-bit Linux and macOS: the largest allocation the
/// runtime will attempt (`1 << heapAddrBits`).
const MAX_ALLOC: usize = 1 << 48;

/// The buffer of a new channel, checked and allocated as Go's `makechan`
/// does: `make(chan T, n)` allocates it at once.
#[track_caller]
fn makechan_buf<T>(cap: usize) -> VecDeque<T> {
    // Go: `mem, overflow := math.MulUintptr(elem.size, uintptr(size));
    // if overflow || mem > maxAlloc-hchanSize || size < 0 { panic(...) }`.
    let hchan_size = std::mem::size_of::<HChan<T>>();
    match std::mem::size_of::<T>().checked_mul(cap) {
        Some(mem) if mem <= MAX_ALLOC - hchan_size => {}
        _ => panic!("makechan: size out of range"),
    }
    let mut buf = VecDeque::new();
    if buf.try_reserve_exact(cap).is_err() {
        out_of_memory();
    }
    buf
}

/// The allocation failed: Go's `throw("out of memory")`, not a panic.
fn out_of_memory() -> ! {
    #[cfg(not(loom))]
    crate::fatal::throw("out of memory");
    #[cfg(loom)]
    panic!("fatal error: out of memory");
}

/// A channel handle (Go's `chan T`). Cloning it is cheap and gives another
/// handle to the *same* channel, like copying a Go channel value.
///
/// Plain OS threads (not goroutines) may use a channel too: a blocked thread
/// parks itself. But the deadlock detector only knows about goroutines, so a
/// goroutine that waits for a plain thread to send may be reported as
/// deadlocked when every goroutine is asleep. Go has no such threads.
pub struct Chan<T> {
    pub(crate) c: Arc<HChan<T>>,
}

/// The channel itself (Go's `hchan`).
pub(crate) struct HChan<T> {
    /// Guards `state` (Go's `hchan.lock`). Kept apart from the data so that
    /// `select!` can lock channels of different element types in one order.
    /// A spin lock: see `SpinLock` for why.
    pub(crate) lock: SpinLock,
    /// Everything else, only touched with `lock` held.
    state: UnsafeCell<State<T>>,
    /// Buffer size (Go's `dataqsiz`).
    cap: usize,
}

/// What the lock protects.
pub(crate) struct State<T> {
    /// The ring buffer (Go's `buf`, `qcount`, `sendx`, `recvx`); allocated
    /// once with room for `cap`, never grown.
    pub(crate) buf: VecDeque<T>,
    /// Set once by `close` (Go's `closed`).
    pub(crate) closed: bool,
    /// Parked receivers (Go's `recvq`).
    pub(crate) recvq: WaitQ<T>,
    /// Parked senders (Go's `sendq`).
    pub(crate) sendq: WaitQ<T>,
}

// SAFETY: the state, and every sudog its queues point to, is only accessed
// with `lock` held; the sudogs stay valid while queued (their owners are
// parked). Values of `T` move between threads, hence `T: Send`.
unsafe impl<T: Send> Send for HChan<T> {}
// SAFETY: as above; `&HChan` only gives access through the lock.
unsafe impl<T: Send> Sync for HChan<T> {}

impl<T> Clone for Chan<T> {
    fn clone(&self) -> Self {
        Chan { c: self.c.clone() }
    }
}

impl<T> std::fmt::Debug for Chan<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Chan({:p}, cap {})", Arc::as_ptr(&self.c), self.c.cap)
    }
}

impl<T> HChan<T> {
    /// Run `f` on the state; `_guard` proves the lock is held.
    #[inline]
    pub(crate) fn with_state<R>(
        &self,
        _guard: &SpinGuard<'_>,
        f: impl FnOnce(&mut State<T>) -> R,
    ) -> R {
        // SAFETY: the caller holds `lock` (the guard), so no one else
        // touches the state during `f`.
        self.state.with_mut(|s| f(unsafe { &mut *s }))
    }

    /// Run `f` on the state.
    ///
    /// # Safety
    /// The caller holds `lock` (`select!` holds several locks at once and
    /// keeps the guards apart from the cases).
    #[inline]
    pub(crate) unsafe fn with_state_locked<R>(&self, f: impl FnOnce(&mut State<T>) -> R) -> R {
        // SAFETY: per this function's contract.
        self.state.with_mut(|s| f(unsafe { &mut *s }))
    }

    /// Buffer size (Go's `dataqsiz`).
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }
}

impl<T> State<T> {
    /// The part of Go's `chansend` that cannot block, under the lock: fails
    /// if closed; hands `v` to a parked receiver (returning it, to be woken);
    /// or buffers it. `Err(SendFail::Full(v))` when the sender must wait.
    pub(crate) fn try_send(&mut self, v: T, cap: usize) -> Result<Option<Waiter>, SendFail<T>> {
        if self.closed {
            // The value goes back to the caller, to be dropped *after* the
            // lock is released: its `Drop` is user code and may touch this
            // very channel (Go has no destructors; we must not run one
            // under a spin lock).
            return Err(SendFail::Closed(v));
        }
        // SAFETY: we hold the lock (we have `&mut State`).
        if let Some(sg) = unsafe { self.recvq.dequeue() } {
            // Go's `send`: straight into the receiver's slot.
            sg.put_elem(v);
            sg.set_success(true);
            return Ok(Some(sg.waiter.clone()));
        }
        if self.buf.len() < cap {
            self.buf.push_back(v);
            return Ok(None);
        }
        Err(SendFail::Full(v))
    }

    /// The part of Go's `chanrecv` that cannot block, under the lock: the
    /// value (`None`: closed and drained) and maybe a sender to wake.
    /// `Err(())` when the receiver must wait.
    pub(crate) fn try_recv(&mut self, cap: usize) -> Result<Received<T>, ()> {
        if self.closed && self.buf.is_empty() {
            return Ok((None, None));
        }
        // SAFETY: we hold the lock.
        if let Some(sg) = unsafe { self.sendq.dequeue() } {
            // Go's `recv`. A parked sender means the buffer is full (or
            // there is none): take the head, and the sender's value goes to
            // the tail, so values keep their order.
            let theirs = sg.take_elem();
            let v = if cap == 0 || !RECV_TAKES_HEAD {
                theirs
            } else {
                debug_assert_eq!(self.buf.len(), cap, "parked sender but room in buffer");
                let head = self.buf.pop_front();
                self.buf.extend(theirs);
                head
            };
            debug_assert!(v.is_some(), "sender's sudog without a value");
            sg.set_success(true);
            return Ok((v, Some(sg.waiter.clone())));
        }
        if let Some(v) = self.buf.pop_front() {
            return Ok((Some(v), None));
        }
        Err(())
    }
}

/// A received value (`None`: the channel is closed and drained) and the
/// parked sender it came from, to wake once the lock is released.
pub(crate) type Received<T> = (Option<T>, Option<Waiter>);

/// Why a send could not complete at once.
pub(crate) enum SendFail<T> {
    /// The channel is closed: the caller drops the value (lock released)
    /// and panics.
    Closed(T),
    /// No receiver and no room: the value comes back.
    Full(T),
}

/// Wake a waiter handed out by a decision, now that the lock is released.
#[inline]
fn wake(w: Option<Waiter>) {
    if let Some(w) = w {
        w.wake();
    }
}

impl<T: Send> Chan<T> {
    /// Send `v`, parking until a receiver takes it (unbuffered) or there is
    /// room in the buffer (Go's `ch <- v`, `chansend`).
    ///
    /// # Panics
    /// `send on closed channel` if the channel is closed, or gets closed
    /// while we wait.
    ///
    /// ```
    /// runtime::block_on(|| {
    ///     let ch = runtime::chan(1);
    ///     ch.send(7); // room in the buffer: does not block
    ///     assert_eq!(ch.recv(), Some(7));
    /// });
    /// ```
    #[doc(alias = "chansend")]
    #[track_caller]
    pub fn send(&self, v: T) {
        let rt = enter_and_preempt();
        let c = &*self.c;
        let mut mine: Option<Sudog<T>> = None;
        let guard = c.lock.lock();
        let r = c.with_state(&guard, |st| {
            st.try_send(v, c.cap).map_err(|fail| match fail {
                SendFail::Full(v) => {
                    // Block: our sudog, on our stack, carries the value.
                    let sg = mine.insert(Sudog::new(Waiter::of(rt.g()), Some(v)));
                    // SAFETY: `sg` lives in this frame, which stays put until
                    // we are woken, and whoever wakes us unlinks it first.
                    unsafe { st.sendq.enqueue(sg) };
                    None
                }
                // Closed: the value comes back, to drop without the lock.
                SendFail::Closed(v) => Some(v),
            })
        });
        match r {
            Ok(w) => {
                drop(guard);
                wake(w);
            }
            Err(Some(v)) => {
                drop(guard);
                drop(v);
                panic!("send on closed channel");
            }
            Err(None) => {
                let sg = mine.as_ref().expect("parked sender has a sudog");
                park_unlock(&sg.waiter, move || drop(guard), WaitReason::ChanSend);
                // Woken by a receiver (success), or by close.
                if !sg.success() {
                    panic!("send on closed channel");
                }
            }
        }
    }

    /// Receive a value, parking until there is one; `None` once the channel
    /// is closed and drained (Go's `v, ok := <-ch`, `chanrecv`).
    ///
    /// ```
    /// runtime::block_on(|| {
    ///     let ch = runtime::chan(2);
    ///     ch.send("a");
    ///     ch.close();
    ///     assert_eq!(ch.recv(), Some("a")); // buffered values first
    ///     assert_eq!(ch.recv(), None); // then closed
    /// });
    /// ```
    #[doc(alias = "chanrecv")]
    #[track_caller]
    pub fn recv(&self) -> Option<T> {
        let rt = enter_and_preempt();
        let c = &*self.c;
        let mut mine: Option<Sudog<T>> = None;
        let guard = c.lock.lock();
        let r = c.with_state(&guard, |st| {
            st.try_recv(c.cap).inspect_err(|()| {
                let sg = mine.insert(Sudog::new(Waiter::of(rt.g()), None));
                // SAFETY: as in `send`.
                unsafe { st.recvq.enqueue(sg) };
            })
        });
        match r {
            Ok((v, w)) => {
                drop(guard);
                wake(w);
                v
            }
            Err(()) => {
                let sg = mine.as_ref().expect("parked receiver has a sudog");
                park_unlock(&sg.waiter, move || drop(guard), WaitReason::ChanReceive);
                // Woken with a value (success), or by close (`None`).
                let v = sg.take_elem();
                debug_assert_eq!(v.is_some(), sg.success());
                v
            }
        }
    }

    /// Send without blocking: `Err(v)` gives the value back when no receiver
    /// is waiting and the buffer is full (Go's `select` with one send case
    /// and a `default`, `selectnbsend`).
    ///
    /// # Panics
    /// `send on closed channel`.
    ///
    /// ```
    /// runtime::block_on(|| {
    ///     let ch = runtime::chan(1);
    ///     assert_eq!(ch.try_send(1), Ok(()));
    ///     assert_eq!(ch.try_send(2), Err(2)); // full
    /// });
    /// ```
    #[doc(alias = "selectnbsend")]
    #[track_caller]
    pub fn try_send(&self, v: T) -> Result<(), T> {
        let _rt = enter_and_preempt();
        let c = &*self.c;
        let guard = c.lock.lock();
        let r = c.with_state(&guard, |st| st.try_send(v, c.cap));
        drop(guard);
        match r {
            Ok(w) => {
                wake(w);
                Ok(())
            }
            Err(SendFail::Closed(v)) => {
                drop(v); // lock already released
                panic!("send on closed channel")
            }
            Err(SendFail::Full(v)) => Err(v),
        }
    }

    /// A timer's send (Go's `sendTime`: `select { case c <- Now(): default:
    /// }`), made by the scheduler rather than a goroutine: it never blocks
    /// and never yields (there may be no goroutine to yield), and a parked
    /// receiver is readied into the P of the M firing the timer (the global
    /// queue when sysmon fires it). `false` if the value was dropped: the
    /// buffer still holds an earlier one, or the channel was closed (Go's
    /// timer channel cannot be closed; ours is an ordinary `Chan`, and a
    /// closed one is left alone rather than panicking in the scheduler).
    pub(crate) fn send_from_timer(&self, v: T) -> bool {
        let c = &*self.c;
        let guard = c.lock.lock();
        let r = c.with_state(&guard, |st| st.try_send(v, c.cap));
        drop(guard);
        match r {
            Ok(w) => {
                wake(w);
                true
            }
            Err(SendFail::Closed(v) | SendFail::Full(v)) => {
                drop(v);
                false
            }
        }
    }

    /// Receive without blocking: `Ok(Some(v))` a value, `Ok(None)` closed and
    /// drained, `Err(())` nothing yet (Go's `select` with one receive case
    /// and a `default`, `selectnbrecv`).
    ///
    /// ```
    /// runtime::block_on(|| {
    ///     let ch = runtime::chan::<i32>(1);
    ///     assert_eq!(ch.try_recv(), Err(()));
    ///     ch.close();
    ///     assert_eq!(ch.try_recv(), Ok(None));
    /// });
    /// ```
    #[doc(alias = "selectnbrecv")]
    #[allow(clippy::result_unit_err)]
    pub fn try_recv(&self) -> Result<Option<T>, ()> {
        let _rt = enter_and_preempt();
        let c = &*self.c;
        let guard = c.lock.lock();
        let r = c.with_state(&guard, |st| st.try_recv(c.cap));
        drop(guard);
        r.map(|(v, w)| {
            wake(w);
            v
        })
    }

    /// Close the channel: no more sends; receivers drain the buffer and then
    /// get `None` (Go's `close(ch)`, `closechan`).
    ///
    /// # Panics
    /// `close of closed channel` if it is already closed.
    ///
    /// ```
    /// runtime::block_on(|| {
    ///     let ch = runtime::chan::<u8>(0);
    ///     let rx = ch.clone();
    ///     runtime::go(move || ch.close());
    ///     assert_eq!(rx.recv(), None); // woken by close
    /// });
    /// ```
    #[doc(alias = "closechan")]
    #[track_caller]
    pub fn close(&self) {
        let _rt = enter_and_preempt();
        let c = &*self.c;
        let guard = c.lock.lock();
        // Unlink every waiter under the lock, chaining them through a local
        // list, and wake them after it: Go collects them in a `gList`.
        let woken = c.with_state(&guard, |st| {
            if st.closed {
                return None;
            }
            st.closed = true;
            let mut woken = WaitQ::new();
            // SAFETY: we hold the lock; the unlinked sudogs stay valid until
            // we wake their owners below.
            unsafe {
                while let Some(sg) = st.recvq.dequeue() {
                    // A receiver gets no value: `elem` stays `None`.
                    sg.set_success(false);
                    woken.enqueue(sg);
                    if !CLOSE_WAKES_ALL {
                        break;
                    }
                }
                while let Some(sg) = st.sendq.dequeue() {
                    // A sender keeps its value; it will panic.
                    sg.set_success(false);
                    woken.enqueue(sg);
                }
            }
            Some(woken)
        });
        drop(guard);
        let Some(mut woken) = woken else {
            panic!("close of closed channel");
        };
        // SAFETY: these sudogs are ours to complete (see above); each is read
        // (next link, waiter) before its owner is woken, never after.
        while let Some(sg) = unsafe { woken.pop() } {
            sg.waiter.clone().wake();
        }
    }

    /// Number of values in the buffer (Go's `len(ch)`).
    pub fn len(&self) -> usize {
        let guard = self.c.lock.lock();
        self.c.with_state(&guard, |st| st.buf.len())
    }

    /// True when no value is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Buffer size given to [`chan`] (Go's `cap(ch)`).
    pub fn cap(&self) -> usize {
        self.c.cap
    }

    /// Number of goroutines (or threads) parked sending on this channel,
    /// `select!`s included. Go has no such function; tests and lessons use
    /// it to see who waits where.
    ///
    /// ```
    /// runtime::block_on(|| {
    ///     let ch = runtime::chan(0);
    ///     let tx = ch.clone();
    ///     runtime::go(move || tx.send(1));
    ///     while ch.waiting_senders() == 0 {
    ///         runtime::gosched();
    ///     }
    ///     assert_eq!(ch.recv(), Some(1));
    /// });
    /// ```
    pub fn waiting_senders(&self) -> usize {
        let guard = self.c.lock.lock();
        self.c.with_state(&guard, |st| st.sendq.len())
    }

    /// Number of goroutines (or threads) parked receiving from this channel,
    /// `select!`s included (see [`waiting_senders`](Self::waiting_senders)).
    pub fn waiting_receivers(&self) -> usize {
        let guard = self.c.lock.lock();
        self.c.with_state(&guard, |st| st.recvq.len())
    }

    /// Has `close` been called? (Go has no such query; lessons use it.)
    pub fn is_closed(&self) -> bool {
        let guard = self.c.lock.lock();
        self.c.with_state(&guard, |st| st.closed)
    }
}

/// `for v in &ch`: receive until the channel is closed and drained (Go's
/// `for v := range ch`).
///
/// ```
/// runtime::block_on(|| {
///     let ch = runtime::chan(3);
///     for i in 1..=3 {
///         ch.send(i);
///     }
///     ch.close();
///     let mut sum = 0;
///     for v in &ch {
///         sum += v;
///     }
///     assert_eq!(sum, 6);
/// });
/// ```
impl<'a, T: Send> IntoIterator for &'a Chan<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        Iter { ch: self }
    }
}

/// The iterator of `for v in &ch`.
pub struct Iter<'a, T> {
    ch: &'a Chan<T>,
}

impl<T: Send> Iterator for Iter<'_, T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.ch.recv()
    }
}
