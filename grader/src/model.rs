//! The reference model: what a goroutine program must do, on any schedule.
//!
//! The model runs the program on a toy scheduler (one goroutine at a time,
//! round robin, each until it blocks or ends) with the plain rules of Go:
//! `go` starts a goroutine, `wait` blocks while the counter is not zero,
//! the counter going below zero panics, main returning ends the program,
//! and when main has not returned but no goroutine can run, that is a
//! deadlock.
//!
//! One schedule is enough for the programs the property tests generate:
//! every WaitGroup gets its one `add` before its goroutines start and is
//! only counted down after, so whether a `wait` returns never depends on
//! the interleaving (a counter that reaches zero stays zero). For such
//! programs the runtime must agree with the model under every GOMAXPROCS.

use std::collections::BTreeMap;

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
        /// Goroutines blocked forever (main included).
        asleep: usize,
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
}

struct G<'a> {
    body: &'a [Op],
    pc: usize,
}

/// Run `program` on the model.
pub fn expected(program: &Program) -> Expected {
    let mut wg = vec![0i64; program.wait_groups()];
    let mut gs: Vec<Option<G<'_>>> = vec![Some(G {
        body: &program.main,
        pc: 0,
    })];
    let mut work = BTreeMap::new();
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
                    Op::Go(body) => spawned.push(Some(G { body, pc: 0 })),
                }
                if let Op::Add(w, _) | Op::Done(w) = op {
                    if wg[*w] < 0 {
                        return Expected {
                            ending: Ending::Panics("sync: negative WaitGroup counter".into()),
                            work,
                        };
                    }
                }
                g.pc += 1;
                progressed = true;
            }
            gs.extend(spawned);
        }
        if !progressed {
            let asleep = gs.iter().filter(|g| g.is_some()).count();
            return Expected {
                ending: Ending::Deadlock { asleep },
                work,
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
        assert_eq!(e.ending, Ending::Deadlock { asleep: 1 });
        assert_eq!(e.work.keys().copied().collect::<Vec<_>>(), [1, 2]);
        // A goroutine waiting on its own group never finishes, nor its parent.
        let e = model("add(0,1) go{ add(1,1) go{ wait(1) done(1) } wait(1) done(0) } wait(0)");
        assert_eq!(e.ending, Ending::Deadlock { asleep: 3 });
    }

    #[test]
    fn a_leaked_goroutine_does_not_stop_main() {
        let e = model("add(0,1) go{ wait(0) } work(1)");
        assert_eq!(e.ending, Ending::Exits);
    }

    #[test]
    fn too_many_dones_panic() {
        let e = model("add(0,1) done(0) done(0)");
        assert!(matches!(e.ending, Ending::Panics(_)));
    }
}
