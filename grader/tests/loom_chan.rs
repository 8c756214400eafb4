//! Loom models of channels (`runtime/src/chan.rs`, `sudog.rs`, `park.rs`).
//!
//! Under loom every goroutine is a loom thread and a blocked send or
//! receive parks it with a loom park (`Waiter::Thread`), so these models run
//! the channel code of the runtime unchanged. The channel's state and every
//! sudog's value slot are loom `UnsafeCell`s (through `sync_facade`), so a
//! transfer not ordered by the channel lock or the wakeup is reported as a
//! data race; so is a read of the models' own `Data` that the channel
//! operations fail to order, which is how the happens-before edges of Go's
//! memory model are checked.
//!
//! Seeded bugs that these models catch (see `grader/loom-bite.sh`):
//! `chan_close_wakes_one` (close wakes only the first parked receiver) and
//! `chan_recv_takes_sender_value` (a receive from a full buffer with a parked
//! sender takes the sender's value instead of the buffer's head).
#![cfg(loom)]

mod loom_support;

use loom::sync::Arc;
use loom::thread;
use runtime::Chan;

use loom_support::{catch, check, quiet_expected_panics, Data};

/// A channel of `u32` and two plain values its operations must order.
struct World {
    ch: Chan<u32>,
    before_send: Data,
    before_recv: Data,
}

impl World {
    fn new(cap: usize) -> Arc<World> {
        Arc::new(World {
            ch: runtime::chan(cap),
            before_send: Data::new(),
            before_recv: Data::new(),
        })
    }
}

/// Unbuffered send and receive meet: the receiver gets the value, what the
/// sender wrote before `send` is visible after `recv` returns, and — the
/// rendezvous — what the receiver wrote before `recv` is visible after
/// `send` returns (Go's memory model: a receive from an unbuffered channel
/// is synchronized before the completion of the send). Either side may
/// arrive first and park.
#[test]
fn unbuffered_rendezvous() {
    check("chan: unbuffered rendezvous", || {
        let w = World::new(0);
        let receiver = {
            let w = w.clone();
            thread::spawn(move || {
                w.before_recv.write(2);
                let v = w.ch.recv();
                (v, w.before_send.read())
            })
        };
        w.before_send.write(1);
        w.ch.send(42);
        assert_eq!(w.before_recv.read(), 2, "send returned before the receive");
        assert_eq!(receiver.join().unwrap(), (Some(42), 1));
    });
}

/// A buffered channel is FIFO: with room for 2, three sends (the third
/// parks on a full buffer, and its value is moved to the buffer's tail by
/// the receive that unblocks it) arrive in order, whatever the interleaving.
#[test]
fn buffered_fifo() {
    check("chan: buffered FIFO", || {
        let w = World::new(2);
        let sender = {
            let w = w.clone();
            thread::spawn(move || {
                for v in 1..=3 {
                    w.ch.send(v);
                }
            })
        };
        let got: Vec<Option<u32>> = (0..3).map(|_| w.ch.recv()).collect();
        assert_eq!(got, [Some(1), Some(2), Some(3)], "values out of order");
        sender.join().unwrap();
    });
}

/// `close` wakes every parked receiver: two receivers block on an empty
/// unbuffered channel (or arrive after the close), and both get `None`;
/// what the closer wrote before `close` is visible to both.
#[test]
fn close_wakes_every_receiver() {
    check("chan: close wakes every receiver", || {
        let w = World::new(0);
        let receivers: Vec<_> = (0..2)
            .map(|_| {
                let w = w.clone();
                thread::spawn(move || {
                    let v = w.ch.recv();
                    (v, w.before_send.read())
                })
            })
            .collect();
        w.before_send.write(9);
        w.ch.close();
        for r in receivers {
            assert_eq!(r.join().unwrap(), (None, 9));
        }
    });
}

/// Go's message for a send on a closed channel.
const SEND_ON_CLOSED: &str = "send on closed channel";

/// A send racing with `close` on an unbuffered channel with no receiver
/// panics with Go's message: at once if the close came first, or when the
/// close wakes the parked sender.
#[test]
fn send_on_closed_channel_panics() {
    quiet_expected_panics(&[SEND_ON_CLOSED]);
    check("chan: send on closed channel panics", || {
        let w = World::new(0);
        let sender = {
            let w = w.clone();
            thread::spawn(move || catch(|| w.ch.send(1)))
        };
        w.ch.close();
        assert_eq!(sender.join().unwrap(), Err(SEND_ON_CLOSED.to_string()));
        assert_eq!(w.ch.recv(), None, "the value must not be delivered");
    });
}
