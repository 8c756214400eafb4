//! The channel rules of Go, one test each, run on goroutines with `block_on`.
//!
//! No test may leave a goroutine parked forever: the runtime would rightly
//! call that a deadlock and end the test process. Deadlocks are tested in
//! `deadlock.rs`, in a child process.

// The executor (goroutines, block_on) is not built under loom.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use runtime::{chan, Chan, WaitGroup};

/// Let other goroutines run until `cond` holds (no timing involved).
fn until(cond: impl Fn() -> bool) {
    while !cond() {
        runtime::gosched();
    }
}

#[test]
fn unbuffered_send_waits_for_the_receiver() {
    runtime::block_on(|| {
        let ch = chan::<u32>(0);
        let sent = Arc::new(AtomicBool::new(false));
        let (tx, flag) = (ch.clone(), sent.clone());
        let wg = Arc::new(WaitGroup::new());
        wg.add(1);
        let wg2 = wg.clone();
        runtime::go(move || {
            tx.send(42);
            flag.store(true, Ordering::SeqCst);
            wg2.done();
        });
        until(|| ch.waiting_senders() == 1);
        // No receiver yet: a rendezvous send cannot have completed.
        assert!(
            !sent.load(Ordering::SeqCst),
            "send completed without a receiver"
        );
        assert_eq!(ch.recv(), Some(42));
        wg.wait();
        assert!(sent.load(Ordering::SeqCst));
    });
}

#[test]
fn buffered_channel_holds_cap_values_in_order() {
    runtime::block_on(|| {
        let ch = chan(3);
        for i in 0..3 {
            ch.send(i); // would deadlock the test if it blocked
        }
        assert_eq!((ch.len(), ch.cap()), (3, 3));
        assert_eq!(ch.try_send(99), Err(99), "a full buffer must refuse");
        for i in 0..3 {
            assert_eq!(ch.recv(), Some(i));
        }
        assert!(ch.is_empty());
    });
}

#[test]
fn receiver_from_a_full_buffer_lets_the_parked_sender_in_at_the_tail() {
    runtime::block_on(|| {
        let ch = chan(2);
        ch.send(1);
        ch.send(2);
        let tx = ch.clone();
        let wg = Arc::new(WaitGroup::new());
        wg.add(1);
        let wg2 = wg.clone();
        runtime::go(move || {
            tx.send(3); // parks: the buffer is full
            wg2.done();
        });
        until(|| ch.waiting_senders() == 1);
        assert_eq!(ch.len(), 2, "the third value must wait outside the buffer");
        assert_eq!(ch.recv(), Some(1));
        wg.wait(); // the sender was let in by that receive
        assert_eq!(ch.len(), 2);
        assert_eq!(ch.recv(), Some(2));
        assert_eq!(ch.recv(), Some(3));
    });
}

#[test]
fn a_parked_receiver_gets_the_value_directly() {
    runtime::block_on(|| {
        let ch = chan::<String>(0);
        let got = chan::<String>(1);
        let (rx, out) = (ch.clone(), got.clone());
        runtime::go(move || out.send(rx.recv().expect("a value")));
        until(|| ch.waiting_receivers() == 1);
        ch.send("hello".to_string());
        assert_eq!(got.recv().as_deref(), Some("hello"));
    });
}

#[test]
fn receive_after_close_drains_then_returns_none() {
    runtime::block_on(|| {
        let ch = chan(4);
        ch.send('a');
        ch.send('b');
        ch.close();
        assert!(ch.is_closed());
        assert_eq!(ch.recv(), Some('a'));
        assert_eq!(ch.recv(), Some('b'));
        assert_eq!(ch.recv(), None);
        assert_eq!(ch.recv(), None, "a closed channel stays closed");
        assert_eq!(ch.try_recv(), Ok(None));
    });
}

#[test]
fn close_wakes_every_parked_receiver_with_none() {
    runtime::block_on(|| {
        let ch = chan::<u8>(0);
        let nones = Arc::new(AtomicUsize::new(0));
        let wg = Arc::new(WaitGroup::new());
        for _ in 0..5 {
            wg.add(1);
            let (rx, n, wg) = (ch.clone(), nones.clone(), wg.clone());
            runtime::go(move || {
                if rx.recv().is_none() {
                    n.fetch_add(1, Ordering::SeqCst);
                }
                wg.done();
            });
        }
        until(|| ch.waiting_receivers() == 5);
        ch.close();
        wg.wait();
        assert_eq!(nones.load(Ordering::SeqCst), 5);
    });
}

#[test]
#[should_panic(expected = "send on closed channel")]
fn send_on_closed_channel_panics() {
    runtime::block_on(|| {
        let ch = chan(1);
        ch.close();
        ch.send(1);
    });
}

#[test]
#[should_panic(expected = "send on closed channel")]
fn try_send_on_closed_channel_panics() {
    runtime::block_on(|| {
        let ch = chan(1);
        ch.close();
        let _ = ch.try_send(1);
    });
}

#[test]
#[should_panic(expected = "close of closed channel")]
fn closing_twice_panics() {
    runtime::block_on(|| {
        let ch = chan::<()>(0);
        ch.close();
        ch.close();
    });
}

#[test]
#[should_panic(expected = "send on closed channel")]
fn a_parked_sender_panics_when_the_channel_is_closed() {
    runtime::block_on(|| {
        let ch = chan(0);
        let closer = ch.clone();
        runtime::go(move || {
            until(|| closer.waiting_senders() == 1); // let the sender park
            closer.close();
        });
        ch.send(1); // the root goroutine parks here, then panics
    });
}

#[test]
fn range_receives_until_closed() {
    runtime::block_on(|| {
        let ch = chan(0);
        let tx = ch.clone();
        runtime::go(move || {
            for i in 1..=100u64 {
                tx.send(i);
            }
            tx.close();
        });
        let got: Vec<u64> = (&ch).into_iter().collect();
        assert_eq!(got, (1..=100).collect::<Vec<_>>());
        let mut again = 0;
        for _ in &ch {
            again += 1;
        }
        assert_eq!(
            again, 0,
            "ranging over a closed, drained channel ends at once"
        );
    });
}

#[test]
fn many_senders_and_receivers_lose_and_duplicate_nothing() {
    for cap in [0, 1, 16] {
        let total = runtime::block_on(move || {
            let ch = chan::<u64>(cap);
            let sums = chan::<u64>(4);
            let senders = Arc::new(WaitGroup::new());
            for s in 0..4u64 {
                senders.add(1);
                let (tx, wg) = (ch.clone(), senders.clone());
                runtime::go(move || {
                    for i in 0..500 {
                        tx.send(s * 1000 + i);
                    }
                    wg.done();
                });
            }
            for _ in 0..4 {
                let (rx, out) = (ch.clone(), sums.clone());
                runtime::go(move || out.send((&rx).into_iter().sum()));
            }
            senders.wait();
            ch.close();
            (0..4).map(|_| sums.recv().unwrap()).sum::<u64>()
        });
        let want: u64 = (0..4u64)
            .flat_map(|s| (0..500).map(move |i| s * 1000 + i))
            .sum();
        assert_eq!(total, want, "cap {cap}");
    }
}

#[test]
fn try_recv_and_try_send_never_block() {
    runtime::block_on(|| {
        let ch = chan::<i32>(0);
        assert_eq!(ch.try_recv(), Err(()), "nothing to receive");
        assert_eq!(ch.try_send(5), Err(5), "no receiver waiting");
        let rx = ch.clone();
        let got = chan(1);
        let out = got.clone();
        runtime::go(move || out.send(rx.recv()));
        until(|| ch.waiting_receivers() == 1);
        assert_eq!(ch.try_send(5), Ok(()), "a parked receiver takes it");
        assert_eq!(got.recv(), Some(Some(5)));
    });
}

#[test]
fn buffered_values_are_dropped_with_the_channel() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    runtime::block_on(move || {
        let ch = chan(3);
        for _ in 0..3 {
            ch.send(Counted(d.clone()));
        }
        drop(ch.recv());
    });
    assert_eq!(drops.load(Ordering::SeqCst), 3);
}

#[test]
fn a_plain_thread_can_park_on_a_channel() {
    // A plain OS thread (not an M) parks its thread; goroutines wake it. The
    // goroutines never wait for the thread (the buffer has room): a goroutine
    // waiting on a plain thread would look deadlocked to the detector, which
    // only knows about goroutines (see `Chan`'s docs).
    let ch = chan::<u32>(64);
    let rx = ch.clone();
    let thread = std::thread::spawn(move || (&rx).into_iter().sum::<u32>());
    runtime::block_on(move || {
        for i in 0..50 {
            runtime::gosched(); // give the thread time to park
            ch.send(i);
        }
        ch.close();
    });
    assert_eq!(thread.join().unwrap(), (0..50).sum());
}

#[test]
fn channel_handles_are_send_sync_and_clone() {
    fn assert_traits<T: Send + Sync + Clone>() {}
    assert_traits::<Chan<String>>();
    assert_traits::<Chan<Box<u8>>>();
}
