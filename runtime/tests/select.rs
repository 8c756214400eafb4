//! `select!` behaves like Go's `select`, one rule per test.

// The executor (goroutines, block_on) is not built under loom.
#![cfg(not(loom))]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use runtime::{chan, select, WaitGroup};

/// Let other goroutines run until `cond` holds (no timing involved).
fn until(cond: impl Fn() -> bool) {
    while !cond() {
        runtime::gosched();
    }
}

#[test]
fn default_runs_when_nothing_is_ready() {
    runtime::block_on(|| {
        let a = chan::<i32>(0);
        let b = chan::<i32>(1);
        let which = select! {
            recv(a) -> _v => "a",
            send(a, 1) => "send a",
            recv(b) => "b",
            default => "default",
        };
        assert_eq!(which, "default");
        b.send(5);
        let which = select! {
            recv(a) => "a",
            recv(b) -> v => { assert_eq!(v, Some(5)); "b" }
            default => "default",
        };
        assert_eq!(which, "b");
        assert_eq!(select! { default => 7 }, 7);
    });
}

#[test]
fn ready_cases_are_chosen_uniformly_at_random() {
    let counts = runtime::block_on(|| {
        let chans = [chan::<usize>(1), chan::<usize>(1), chan::<usize>(1)];
        let mut counts = [0usize; 3];
        for _ in 0..3000 {
            for (i, c) in chans.iter().enumerate() {
                if c.is_empty() {
                    c.send(i);
                }
            }
            let got = select! {
                recv(chans[0]) -> v => v,
                recv(chans[1]) -> v => v,
                recv(chans[2]) -> v => v,
            };
            counts[got.unwrap()] += 1;
        }
        counts
    });
    // Each of 3000 draws picks one of three: expect ~1000 each. Below 800
    // has probability far under 1e-9 for a fair choice; a select that always
    // polls in source order would give [3000, 0, 0].
    for (i, n) in counts.iter().enumerate() {
        assert!(*n > 800, "case {i} chosen {n} times of 3000: {counts:?}");
    }
}

#[test]
fn a_blocked_select_is_woken_by_any_of_its_channels() {
    runtime::block_on(|| {
        let a = chan::<&str>(0);
        let b = chan::<&str>(0);
        for round in 0..200 {
            let tx = if round % 2 == 0 { a.clone() } else { b.clone() };
            let (wa, wb) = (a.clone(), b.clone());
            runtime::go(move || {
                // Wait until the select is parked on both channels.
                until(|| wa.waiting_receivers() + wb.waiting_receivers() == 2);
                tx.send("hi");
            });
            let got = select! {
                recv(a) -> v => ("a", v),
                recv(b) -> v => ("b", v),
            };
            let want = if round % 2 == 0 { "a" } else { "b" };
            assert_eq!(got, (want, Some("hi")));
            // The case that did not fire took its sudog back: nobody is
            // waiting on either channel any more.
            assert_eq!((a.waiting_receivers(), b.waiting_receivers()), (0, 0));
            let other = if round % 2 == 0 { &b } else { &a };
            assert_eq!(other.try_send("stale?"), Err("stale?"));
        }
    });
}

#[test]
fn a_send_case_hands_its_value_to_a_parked_receiver() {
    runtime::block_on(|| {
        let ch = chan::<String>(0);
        let out = chan::<Option<String>>(1);
        let (rx, tx) = (ch.clone(), out.clone());
        runtime::go(move || tx.send(rx.recv()));
        until(|| ch.waiting_receivers() == 1);
        select! {
            send(ch, "value".to_string()) => {},
        }
        assert_eq!(out.recv(), Some(Some("value".to_string())));
    });
}

#[test]
fn select_to_select_rendezvous() {
    runtime::block_on(|| {
        let ch = chan::<u32>(0);
        let never = chan::<u32>(0);
        let wg = Arc::new(WaitGroup::new());
        wg.add(1);
        let (tx, never2, wg2) = (ch.clone(), never.clone(), wg.clone());
        runtime::go(move || {
            for i in 0..100 {
                select! {
                    send(tx, i) => {},
                    recv(never2) => unreachable!(),
                }
            }
            wg2.done();
        });
        let mut sum = 0;
        for _ in 0..100 {
            select! {
                recv(ch) -> v => sum += v.unwrap(),
                recv(never) => unreachable!(),
            }
        }
        wg.wait();
        assert_eq!(sum, (0..100).sum());
    });
}

#[test]
fn receive_case_on_a_closed_channel_gets_none() {
    runtime::block_on(|| {
        let ch = chan::<i32>(0);
        ch.close();
        let v = select! {
            recv(ch) -> v => v,
        };
        assert_eq!(v, None);
    });
}

#[test]
fn close_wakes_a_blocked_select_with_none() {
    runtime::block_on(|| {
        let a = chan::<i32>(0);
        let b = chan::<i32>(0);
        let closer = b.clone();
        runtime::go(move || {
            until(|| closer.waiting_receivers() == 1);
            closer.close();
        });
        let got = select! {
            recv(a) -> v => ("a", v),
            recv(b) -> v => ("b", v),
        };
        assert_eq!(got, ("b", None));
    });
}

#[test]
#[should_panic(expected = "send on closed channel")]
fn send_case_on_a_closed_channel_panics() {
    runtime::block_on(|| {
        let ch = chan::<i32>(1);
        ch.close();
        select! {
            send(ch, 1) => {},
            default => {},
        }
    });
}

#[test]
#[should_panic(expected = "send on closed channel")]
fn a_select_parked_on_send_panics_when_closed() {
    runtime::block_on(|| {
        let ch = chan::<i32>(0);
        let other = chan::<i32>(0);
        let closer = ch.clone();
        runtime::go(move || {
            until(|| closer.waiting_senders() == 1);
            closer.close();
        });
        select! {
            send(ch, 1) => {},
            recv(other) => {},
        }
    });
}

#[test]
fn one_channel_in_two_cases() {
    runtime::block_on(|| {
        // Go allows it; the channel is locked once, and the select parks on
        // both of its queues.
        let ch = chan::<i32>(1);
        for _ in 0..10 {
            select! {
                send(ch, 1) => {},
                recv(ch) -> v => assert_eq!(v, Some(1)),
            }
        }
        let _ = ch.try_recv();

        let ch = chan::<i32>(0);
        let got = chan::<Option<i32>>(1);
        let (rx, out) = (ch.clone(), got.clone());
        runtime::go(move || {
            until(|| rx.waiting_senders() == 1);
            out.send(rx.recv()); // takes the select's send case
        });
        let which = select! {
            send(ch, 2) => "send",
            recv(ch) -> _v => "recv",
        };
        assert_eq!((which, got.recv()), ("send", Some(Some(2))));

        let tx = ch.clone();
        runtime::go(move || {
            until(|| tx.waiting_receivers() == 1);
            tx.send(3); // takes the select's receive case
        });
        let which = select! {
            send(ch, 4) => ("send", None),
            recv(ch) -> v => ("recv", v),
        };
        assert_eq!(which, ("recv", Some(3)));
    });
}

#[test]
fn many_producers_one_selecting_consumer() {
    let total = runtime::block_on(|| {
        let chans: Vec<_> = (0..3).map(|_| chan::<u64>(2)).collect();
        let done = chan::<()>(0);
        let left = Arc::new(AtomicUsize::new(3));
        for (k, ch) in chans.iter().enumerate() {
            let (ch, done, left) = (ch.clone(), done.clone(), left.clone());
            runtime::go(move || {
                for i in 0..300 {
                    ch.send(k as u64 * 1000 + i);
                }
                if left.fetch_sub(1, Ordering::SeqCst) == 1 {
                    done.close();
                }
            });
        }
        let mut total = 0;
        let mut finished = false;
        loop {
            select! {
                recv(chans[0]) -> v => total += v.unwrap(),
                recv(chans[1]) -> v => total += v.unwrap(),
                recv(chans[2]) -> v => total += v.unwrap(),
                recv(done) => finished = true,
            }
            if finished {
                // Drain what is left after the last producer finished.
                for ch in &chans {
                    while let Ok(Some(v)) = ch.try_recv() {
                        total += v;
                    }
                }
                break total;
            }
        }
    });
    let want: u64 = (0..3u64)
        .flat_map(|k| (0..300).map(move |i| k * 1000 + i))
        .sum();
    assert_eq!(total, want);
}

#[test]
fn unsent_values_are_dropped_not_leaked() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let d = drops.clone();
    runtime::block_on(move || {
        let full = chan::<Counted>(0);
        let ready = chan::<u8>(1);
        ready.send(1);
        select! {
            send(full, Counted(d.clone())) => unreachable!(),
            recv(ready) => {},
        }
    });
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}
