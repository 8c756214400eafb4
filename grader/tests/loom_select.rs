//! Loom models of `select!` (`runtime/src/select.rs`, and the claim in
//! `sudog.rs`).
//!
//! A select that cannot complete at once puts one sudog on every channel of
//! its cases, all pointing at one shared `SelectDone`, and parks. Whoever
//! completes one of those sudogs first must *claim* the select (a
//! compare-and-swap on `SelectDone`); every other waker that finds a sudog of
//! the same select must back off and skip it. When the select wakes, pass 3
//! takes the losing sudogs off their queues. Under loom every select is a
//! loom thread and parks with a loom park, so these models run `select!`
//! itself, macro included, unchanged.
//!
//! The properties: exactly one case fires per select; no value is lost or
//! delivered twice (a value a sender handed to the losing case of a select
//! would vanish); `close` wakes every select parked on the channel; two
//! selects that lock the same channels in opposite textual order do not
//! deadlock (channels are locked in address order).
//!
//! Seeded bugs that these models catch (see `grader/loom-bite.sh`):
//! `select_claim_no_cas` (the claim reads `SelectDone`, then writes it: two
//! wakers on two channels can both claim one select, and one of them loses
//! its value or its partner) and `select_lock_case_order` (a select locks its
//! channels in the order its cases are written, not by address: two selects
//! with opposite orders deadlock).
#![cfg(loom)]

mod loom_support;

use loom::sync::Arc;
use loom::thread;
use runtime::{select, Chan};

use loom_support::check;

/// What one select saw: which case fired, and what it received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fired {
    /// A receive from `a`, with what it got (`None`: closed).
    RecvA(Option<u32>),
    /// A receive from `b`, with what it got.
    RecvB(Option<u32>),
    /// The send case on `a` completed.
    SentA,
}

/// Two channels the selects share.
struct World {
    a: Chan<u32>,
    b: Chan<u32>,
}

impl World {
    fn new(cap_a: usize) -> Arc<World> {
        Arc::new(World {
            a: runtime::chan(cap_a),
            b: runtime::chan(0),
        })
    }

    /// `select { case v := <-a: ...; case v := <-b: ... }`.
    fn recv_a_or_b(&self) -> Fired {
        select! {
            recv(self.a) -> v => Fired::RecvA(v),
            recv(self.b) -> v => Fired::RecvB(v),
        }
    }

    /// The same select, its cases written the other way round.
    fn recv_b_or_a(&self) -> Fired {
        select! {
            recv(self.b) -> v => Fired::RecvB(v),
            recv(self.a) -> v => Fired::RecvA(v),
        }
    }

    /// `select { case a <- 1: ...; case v := <-b: ... }`.
    fn send_a_or_recv_b(&self) -> Fired {
        select! {
            send(self.a, 1) => Fired::SentA,
            recv(self.b) -> v => Fired::RecvB(v),
        }
    }
}

/// A select against a select: S1 offers a value on unbuffered `a` or waits
/// for `b`; S2 waits on `b` or `a` (cases in the opposite order, so the two
/// lock the same channels in opposite textual order); this thread closes
/// `b`. Either S1 hands its value straight to S2 through `a` (both selects
/// fire on `a`: S1 finds S2's sudog in pass 1, or the other way round), or
/// the close wakes both through `b`. Never one without the other: a send
/// case that fired delivered its value to exactly one receiver.
#[test]
fn select_meets_select_while_close_races() {
    check("select: select meets select, close races", || {
        let w = World::new(0);
        let s1 = {
            let w = w.clone();
            thread::spawn(move || w.send_a_or_recv_b())
        };
        let s2 = {
            let w = w.clone();
            thread::spawn(move || w.recv_b_or_a())
        };
        w.b.close();
        let (f1, f2) = (s1.join().unwrap(), s2.join().unwrap());
        match (f1, f2) {
            (Fired::SentA, Fired::RecvA(Some(1))) => {}
            (Fired::RecvB(None), Fired::RecvB(None)) => {}
            other => panic!("select: a value lost or delivered twice: {other:?}"),
        }
        assert_eq!(w.a.try_recv(), Err(()), "select: a value left behind");
    });
}

/// Two selects wait on a value from `a` (room for 1) or the close of `b`;
/// one thread sends one value on `a` while this thread closes `b`. The value
/// is received by exactly one select, or stays in `a`'s buffer, never lost
/// and never received twice; every select that did not get it is woken by
/// the close, however many of them are parked on `b`.
#[test]
fn close_wakes_every_select_and_no_value_is_lost() {
    check("select: close wakes every select, no value lost", || {
        let w = World::new(1);
        let selects: Vec<_> = (0..2)
            .map(|_| {
                let w = w.clone();
                thread::spawn(move || w.recv_a_or_b())
            })
            .collect();
        let sender = {
            let w = w.clone();
            thread::spawn(move || w.a.send(1))
        };
        w.b.close();
        sender.join().unwrap();
        let fired: Vec<Fired> = selects.into_iter().map(|s| s.join().unwrap()).collect();
        let mut got = 0;
        for f in &fired {
            match f {
                Fired::RecvA(Some(1)) => got += 1,
                Fired::RecvB(None) => {}
                other => panic!("select: impossible case {other:?}"),
            }
        }
        let buffered = usize::from(w.a.try_recv() == Ok(Some(1)));
        assert_eq!(
            got + buffered,
            1,
            "select: value lost or received twice ({fired:?}, {buffered} buffered)"
        );
    });
}
