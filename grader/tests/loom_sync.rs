//! Loom models of Go's `sync` for goroutines (`runtime/src/sync/mutex.rs`,
//! `rwmutex.rs`, `once.rs`, `cond.rs`) and the semaphore under them.
//!
//! Under loom every goroutine is a loom thread and parking is a loom park
//! (`Waiter::Thread`), so these models run the runtime's code unchanged.
//! What a lock protects lives in a `loom::cell::UnsafeCell` (`Data`): two
//! holders at once, or a holder whose writes are not ordered before the
//! next one's reads, is a data race loom reports ("Causality violation").
//! A waiter nobody wakes is a loom deadlock. Under loom the Mutex's
//! starvation threshold is "woken once and lost the race" instead of 1 ms,
//! so the models reach starvation mode and its handoff.
//!
//! Seeded bugs that these models catch (see `grader/loom-bite.sh`):
//! `mutex_unlock_no_wake`, `mutex_unlock_relaxed`, `once_done_before_f`,
//! `rwmutex_writer_skips_readers`, `cond_ticket_after_unlock`.
#![cfg(loom)]

mod loom_support;

use loom::sync::Arc;
use loom::thread;
use runtime::sync::{Cond, Mutex, Once, RwMutex};

use loom_support::{check, Data};

/// Read-modify-write of a plain value under the lock.
fn bump(m: &Mutex<()>, d: &Data) {
    let _g = m.lock();
    d.write(d.read() + 1);
}

/// Two goroutines increment a plain value under the Mutex: never at the
/// same time (no race), each sees the other's write (Release/Acquire), and
/// a goroutine that parks because the other holds the lock is woken.
#[test]
fn mutex_excludes_and_wakes_waiters() {
    check("mutex: exclusion and wakeup", || {
        let s = Arc::new((Mutex::new(()), Data::new()));
        let t = {
            let s = s.clone();
            thread::spawn(move || bump(&s.0, &s.1))
        };
        bump(&s.0, &s.1);
        t.join().unwrap();
        assert_eq!(s.1.read(), 2);
    });
}

/// One goroutine locks twice while another locks once: the second can be
/// woken, lose to the first's barging `lock` and queue again at the front,
/// then (here: after its second wakeup) switch the mutex to starvation mode
/// and be handed the lock. Whatever the interleaving, all three sections
/// run exclusively and the mutex ends unlocked, in normal mode, with no
/// waiter (`try_lock` succeeds).
#[test]
fn mutex_starvation_handoff_keeps_the_state_consistent() {
    check("mutex: barging, LIFO requeue, starvation handoff", || {
        let s = Arc::new((Mutex::new(()), Data::new()));
        let t = {
            let s = s.clone();
            thread::spawn(move || bump(&s.0, &s.1))
        };
        bump(&s.0, &s.1);
        bump(&s.0, &s.1);
        t.join().unwrap();
        assert_eq!(s.1.read(), 3);
        assert!(
            s.0.try_lock().is_some(),
            "mutex left locked or starving: {:?}",
            s.0
        );
    });
}

/// Two goroutines call `call_once`: the function runs once, and *both*
/// return only after it finished (each reads what it wrote).
#[test]
fn once_runs_once_and_returns_after_it() {
    check("once: once, and done means finished", || {
        let s = Arc::new((Once::new(), Data::new()));
        let t = {
            let s = s.clone();
            thread::spawn(move || {
                s.0.call_once(|| s.1.write(s.1.read() + 1));
                s.1.read()
            })
        };
        s.0.call_once(|| s.1.write(s.1.read() + 1));
        assert_eq!(s.1.read(), 1);
        assert_eq!(t.join().unwrap(), 1);
    });
}

/// A reader and a writer never overlap, and the reader sees either the
/// value before or after the write, never a torn one.
#[test]
fn rwmutex_excludes_reader_and_writer() {
    check("rwmutex: reader and writer exclude each other", || {
        let s = Arc::new((RwMutex::new(()), Data::new()));
        let w = {
            let s = s.clone();
            thread::spawn(move || {
                let _g = s.0.write();
                s.1.write(1);
            })
        };
        let seen = {
            let _g = s.0.read();
            s.1.read()
        };
        assert!(seen == 0 || seen == 1);
        w.join().unwrap();
    });
}

/// A waiter checks its condition under the mutex and waits; the signaller
/// sets it under the mutex and signals. Whenever the signal comes (before
/// the wait, between the waiter's unlock and its park, or after), the
/// waiter wakes: no lost wakeup.
#[test]
fn cond_signal_is_never_lost() {
    check("cond: signal between unlock and park", || {
        let s = Arc::new((Mutex::new(false), Cond::new()));
        let signaller = {
            let s = s.clone();
            thread::spawn(move || {
                *s.0.lock() = true;
                s.1.signal();
            })
        };
        let mut ready = s.0.lock();
        while !*ready {
            ready = s.1.wait(ready);
        }
        drop(ready);
        signaller.join().unwrap();
    });
}
