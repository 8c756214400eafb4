//! The reference model: what a goroutine program must do, on any schedule.
//!
//! The model runs the program on a toy scheduler (one goroutine at a time,
//! round robin, each until it blocks or ends) with the plain rules of Go:
//! `go` starts a goroutine, `wait` blocks while the counter is not zero,
//! the counter going below zero panics, a send waits for room in the buffer
//! or for a receiver (`chansend`), a receive takes the oldest value or a
//! waiting sender's (`chanrecv`), main returning ends the program, and when
//! main has not returned but no goroutine can run, that is a deadlock.
//!
//! One schedule is enough for the programs the property tests generate:
//! every WaitGroup gets its one `add` before its goroutines start and is
//! only counted down after, so whether a `wait` returns never depends on
//! the interleaving (a counter that reaches zero stays zero); and each
//! channel has at most one sender and one receiver, so which values it
//! carries, in which order, and whether either end blocks forever does not
//! depend on it either. For such programs the runtime must agree with the
//! model under every GOMAXPROCS.

use std::collections::{BTreeMap, VecDeque};

use crate::program::{Op, Program};

/// How the program ends, according to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Main returned: exit status 0.
    Exits,
    /// Every goroutine is blocked and main has not returned: the runtime
    /// must report `all goroutines are asleep - deadlock!` and list
    /// `asleep` goroutines.
    Deadlock {
        /// The wait reason of each goroutine blocked forever (main
        /// included), sorted: `semacquire`, `chan send`, `chan receive`.
        asleep: Vec<&'static str>,
    },
    /// A WaitGroup counter went below zero.
    Panics(String),
}

/// What the program does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// How it ends.
    pub ending: Ending,
    /// Work items done, with how many times each (always once here).
    pub work: BTreeMap<u32, usize>,
    /// Per channel, the values `range` received, in order (FIFO).
    pub received: BTreeMap<usize, Vec<u32>>,
}

struct G<'a> {
    body: &'a [Op],
    pc: usize,
    /// Stopped at a `send` whose value waits in the channel's `sendq`.
    sending: bool,
}

/// A channel of the model (`hchan`): the buffer and the senders waiting
/// with their value. A receiver never has to wait in a queue here: it
/// simply retries on its next turn.
#[derive(Default)]
struct Chan {
    cap: usize,
    buf: VecDeque<u32>,
    sendq: VecDeque<(usize, u32)>,
    closed: bool,
}

impl Chan {
    /// `chanrecv`: `Ok(Some(v))`, `Ok(None)` once closed and drained, or
    /// `Err(())` when it must wait. A waiting sender's value moves into the
    /// buffer behind the oldest one (or straight to us when unbuffered).
    fn recv(&mut self) -> Result<Option<u32>, ()> {
        if let Some(v) = self.buf.pop_front() {
            if let Some((_, sent)) = self.sendq.pop_front() {
                self.buf.push_back(sent);
            }
            Ok(Some(v))
        } else if let Some((_, sent)) = self.sendq.pop_front() {
            Ok(Some(sent))
        } else if self.closed {
            Ok(None)
        } else {
            Err(())
        }
    }
}

/// Why a goroutine stopped at `op` is asleep (Go's `waitReason`).
fn reason(op: &Op) -> &'static str {
    match op {
        Op::Wait(_) => "semacquire",
        Op::Send(..) => "chan send",
        Op::Range(_) => "chan receive",
        _ => unreachable!("{op:?} never blocks"),
    }
}

/// Run `program` on the model.
pub fn expected(program: &Program) -> Expected {
    let mut wg = vec![0i64; program.wait_groups()];
    let mut gs: Vec<Option<G<'_>>> = vec![Some(G {
        body: &program.main,
        pc: 0,
        sending: false,
    })];
    let mut chans: Vec<Chan> = (program.chans.iter())
        .map(|&cap| Chan {
            cap,
            ..Chan::default()
        })
        .collect();
    let mut work = BTreeMap::new();
    let mut received: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
    let panics = |msg: &str, work, received| Expected {
        ending: Ending::Panics(msg.into()),
        work,
        received,
    };
    loop {
        let mut progressed = false;
        for i in 0..gs.len() {
            // Run goroutine i until it blocks or ends.
            let mut spawned = Vec::new();
            while let Some(g) = &mut gs[i] {
                let Some(op) = g.body.get(g.pc) else {
                    if i == 0 {
                        return Expected {
                            ending: Ending::Exits,
                            work,
                            received,
                        };
                    }
                    gs[i] = None;
                    progressed = true;
                    break;
                };
                match op {
                    Op::Wait(w) if wg[*w] != 0 => break,
                    Op::Wait(_) | Op::Yield => {}
                    Op::Work(n) => *work.entry(*n).or_insert(0) += 1,
                    Op::Add(w, n) => wg[*w] += i64::from(*n),
                    Op::Done(w) => wg[*w] -= 1,
                    Op::Go(body) => spawned.push(Some(G {
                        body,
                        pc: 0,
                        sending: false,
                    })),
                    Op::Send(c, v) => {
                        let ch = &mut chans[*c];
                        if g.sending {
                            if ch.sendq.iter().any(|&(s, _)| s == i) {
                                break; // no receiver has taken our value yet
                            }
                            g.sending = false;
                        } else if ch.closed {
                            return panics("send on closed channel", work, received);
                        } else if ch.buf.len() < ch.cap {
                            ch.buf.push_back(*v);
                        } else {
                            // Full (or unbuffered): leave the value for a
                            // receiver and wait on this same `send`.
                            ch.sendq.push_back((i, *v));
                            g.sending = true;
                            progressed = true;
                            break;
                        }
                    }
                    Op::Close(c) => {
                        let ch = &mut chans[*c];
                        if ch.closed {
                            return panics("close of closed channel", work, received);
                        }
                        if !ch.sendq.is_empty() {
                            return panics("send on closed channel", work, received);
                        }
                        ch.closed = true;
                    }
                    Op::Range(c) => match chans[*c].recv() {
                        Ok(Some(v)) => {
                            *work.entry(v).or_insert(0) += 1;
                            received.entry(*c).or_default().push(v);
                            progressed = true;
                            continue; // stay on `range` for the next value
                        }
                        Ok(None) => {}
                        Err(()) => break,
                    },
                }
                if let Op::Add(w, _) | Op::Done(w) = op {
                    if wg[*w] < 0 {
                        return panics("sync: negative WaitGroup counter", work, received);
                    }
                }
                g.pc += 1;
                progressed = true;
            }
            gs.extend(spawned);
        }
        if !progressed {
            let mut asleep: Vec<_> = gs.iter().flatten().map(|g| reason(&g.body[g.pc])).collect();
            asleep.sort_unstable();
            return Expected {
                ending: Ending::Deadlock { asleep },
                work,
                received,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(text: &str) -> Expected {
        expected(&text.parse().unwrap())
    }

    #[test]
    fn a_waited_tree_exits_with_all_work_done() {
        let e = model("add(0,2) go{ work(1) done(0) } go{ add(1,1) go{ work(2) done(1) } wait(1) done(0) } wait(0) work(3)");
        assert_eq!(e.ending, Ending::Exits);
        assert_eq!(e.work.keys().copied().collect::<Vec<_>>(), [1, 2, 3]);
    }

    #[test]
    fn a_forgotten_done_deadlocks_after_the_reachable_work() {
        let e = model("add(0,2) go{ work(1) done(0) } go{ work(2) } wait(0) work(3)");
        assert_eq!(
            e.ending,
            Ending::Deadlock {
                asleep: vec!["semacquire"]
            }
        );
        assert_eq!(e.work.keys().copied().collect::<Vec<_>>(), [1, 2]);
        // A goroutine waiting on its own group never finishes, nor its parent.
        let e = model("add(0,1) go{ add(1,1) go{ wait(1) done(1) } wait(1) done(0) } wait(0)");
        assert_eq!(
            e.ending,
            Ending::Deadlock {
                asleep: vec!["semacquire"; 3]
            }
        );
    }

    #[test]
    fn a_leaked_goroutine_does_not_stop_main() {
        let e = model("add(0,1) go{ wait(0) } work(1)");
        assert_eq!(e.ending, Ending::Exits);
    }

    #[test]
    fn a_range_receives_every_value_once_in_order() {
        for cap in 0..=2 {
            let e = model(&format!(
                "chan(0,{cap}) add(0,1) go{{ range(0) done(0) }} send(0,3) send(0,1) send(0,2) close(0) wait(0)"
            ));
            assert_eq!(e.ending, Ending::Exits);
            assert_eq!(e.work.keys().copied().collect::<Vec<_>>(), [1, 2, 3]);
            assert_eq!(e.received[&0], [3, 1, 2]);
            // The other way round: main ranges, a goroutine sends.
            let e = model(&format!(
                "chan(0,{cap}) go{{ send(0,3) send(0,1) close(0) }} range(0) work(2)"
            ));
            assert_eq!(e.ending, Ending::Exits);
            assert_eq!(e.received[&0], [3, 1]);
        }
    }

    #[test]
    fn channels_nobody_serves_deadlock_with_their_reasons() {
        let e = model("chan(0,0) range(0)");
        assert_eq!(
            e.ending,
            Ending::Deadlock {
                asleep: vec!["chan receive"]
            }
        );
        let e = model("chan(0,0) send(0,0)");
        assert_eq!(
            e.ending,
            Ending::Deadlock {
                asleep: vec!["chan send"]
            }
        );
        // Two values fit in the buffer, the third blocks.
        let e = model("chan(0,2) send(0,0) send(0,0) work(1) send(0,0) work(2)");
        assert_eq!(
            e.ending,
            Ending::Deadlock {
                asleep: vec!["chan send"]
            }
        );
        assert_eq!(e.work.keys().copied().collect::<Vec<_>>(), [1]);
        // A stuck receiver in a goroutine does not stop main ...
        let e = model("chan(0,1) go{ range(0) } work(1)");
        assert_eq!(e.ending, Ending::Exits);
        // ... but is listed when main is stuck too.
        let e = model("chan(0,1) chan(1,0) add(0,1) go{ range(0) } go{ send(1,0) } wait(0)");
        assert_eq!(
            e.ending,
            Ending::Deadlock {
                asleep: vec!["chan receive", "chan send", "semacquire"]
            }
        );
    }

    #[test]
    fn channel_misuse_panics() {
        assert!(
            matches!(model("chan(0,0) close(0) close(0)").ending, Ending::Panics(m) if m == "close of closed channel")
        );
        assert!(
            matches!(model("chan(0,1) close(0) send(0,1)").ending, Ending::Panics(m) if m == "send on closed channel")
        );
    }

    #[test]
    fn too_many_dones_panic() {
        let e = model("add(0,1) done(0) done(0)");
        assert!(matches!(e.ending, Ending::Panics(_)));
    }
}
