//! Property tests over the runtime: random goroutine programs against a
//! reference model.
//!
//! Each case generates a spawn tree (goroutines starting goroutines, each
//! group counted by a WaitGroup and waited for by its parent), sprinkles in
//! mistakes that deadlock (a forgotten `done`, a goroutine waiting for its
//! own group), channel pipelines (one producer sends values and closes, one
//! consumer ranges over them, either end in its own goroutine), channel ends
//! nobody serves (a receive nobody sends to, a send beyond the buffer nobody
//! receives from) and goroutines that block forever without stopping main, then
//! runs it with `goprog` at a random GOMAXPROCS in 1..=4 in a child process
//! (a deadlock ends the process, as in Go). The outcome must match
//! `grader::model`: every work item done exactly once, every channel's
//! values received in the order they were sent, exit status 0 exactly when
//! main returns, and `all goroutines are asleep - deadlock!`, listing exactly
//! the goroutines the model says are stuck with their wait reasons
//! (`semacquire`, `chan send`, `chan receive`), exactly when the model says
//! the program cannot go on.
//!
//! Every channel has one sender and one receiver at most, so the model's
//! verdict does not depend on the schedule (see `model.rs`).
//!
//! To add operations: a [`Stmt`] that lowers to the new `Op`s, its rule in
//! the model, its line in `goprog`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use grader::model::{expected, Ending, Expected};
use grader::program::{Op, Program};
use grader::run::{run, Limits, Outcome};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};

/// A statement of the generated program, before numbering.
#[derive(Debug, Clone)]
enum Stmt {
    /// A work item.
    Work,
    /// `runtime::gosched()`.
    Yield,
    /// Start a goroutine that blocks forever on a WaitGroup nobody counts
    /// down: it must not stop main from returning.
    Leak,
    /// Start `children` and wait for them with a fresh WaitGroup, added to
    /// once up front or once before each `go`.
    Group {
        children: Vec<Child>,
        add_each: bool,
    },
    /// A fresh channel of capacity `cap`: a producer sends `values` work
    /// items and closes it, a consumer ranges over it. Where they run:
    Pipe {
        cap: usize,
        values: usize,
        shape: Shape,
    },
    /// A fresh channel of capacity `cap` that only one goroutine uses: it
    /// ranges over it (`send` false) or sends `cap + 1` values to it, and
    /// blocks forever. In a new goroutine (`spawned`), it does not stop
    /// main; in this one, it stops this one.
    Stuck {
        cap: usize,
        send: bool,
        spawned: bool,
    },
}

/// Where the two ends of a [`Stmt::Pipe`] run.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// Both in new goroutines, counted by a fresh WaitGroup; the consumer
    /// started first or second.
    Both { consumer_first: bool },
    /// The producer in a new goroutine, the consumer in this one.
    Producer,
    /// The consumer in a new goroutine (waited for), the producer here.
    Consumer,
}

/// One goroutine of a group.
#[derive(Debug, Clone)]
struct Child {
    body: Vec<Stmt>,
    /// Never calls `done`: the group's `wait` never returns.
    forgets_done: bool,
    /// Waits for its own group before `done`: never returns either.
    waits_own_group: bool,
}

fn stmt() -> impl Strategy<Value = Stmt> {
    let leaf = prop_oneof![
        6 => Just(Stmt::Work),
        1 => Just(Stmt::Yield),
        1 => Just(Stmt::Leak),
        2 => (0usize..=2, 0usize..4, shape())
            .prop_map(|(cap, values, shape)| Stmt::Pipe { cap, values, shape }),
        1 => (0usize..=2, any::<bool>(), prop::bool::weighted(0.85))
            .prop_map(|(cap, send, spawned)| Stmt::Stuck { cap, send, spawned }),
    ];
    leaf.prop_recursive(3, 40, 4, |inner| {
        let child = (
            prop::collection::vec(inner, 0..4),
            prop::bool::weighted(0.06),
            prop::bool::weighted(0.03),
        )
            .prop_map(|(body, forgets_done, waits_own_group)| Child {
                body,
                forgets_done,
                waits_own_group,
            });
        (prop::collection::vec(child, 1..4), any::<bool>())
            .prop_map(|(children, add_each)| Stmt::Group { children, add_each })
    })
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        any::<bool>().prop_map(|consumer_first| Shape::Both { consumer_first }),
        Just(Shape::Producer),
        Just(Shape::Consumer),
    ]
}

fn program() -> impl Strategy<Value = Program> {
    prop::collection::vec(stmt(), 1..5).prop_map(|stmts| {
        let mut names = Names::default();
        let main = lower(&stmts, &mut names);
        Program {
            chans: names.chans,
            main,
        }
    })
}

/// The names given out so far: work items, WaitGroups, channels (their
/// capacities).
#[derive(Default)]
struct Names {
    work: u32,
    wgs: usize,
    chans: Vec<usize>,
}

impl Names {
    fn work(&mut self) -> u32 {
        self.work += 1;
        self.work
    }
    fn wg(&mut self) -> usize {
        self.wgs += 1;
        self.wgs - 1
    }
    fn chan(&mut self, cap: usize) -> usize {
        self.chans.push(cap);
        self.chans.len() - 1
    }
}

/// Number the work items, WaitGroups and channels and spell the statements
/// as `Op`s.
fn lower(stmts: &[Stmt], names: &mut Names) -> Vec<Op> {
    let mut ops = Vec::new();
    for s in stmts {
        match s {
            Stmt::Work => ops.push(Op::Work(names.work())),
            Stmt::Yield => ops.push(Op::Yield),
            Stmt::Leak => {
                let w = names.wg();
                ops.push(Op::Add(w, 1));
                ops.push(Op::Go(vec![Op::Wait(w)]));
            }
            Stmt::Group { children, add_each } => {
                let w = names.wg();
                if !add_each {
                    ops.push(Op::Add(w, children.len() as i32));
                }
                for c in children {
                    let mut body = lower(&c.body, names);
                    if c.waits_own_group {
                        body.push(Op::Wait(w));
                    }
                    if !c.forgets_done {
                        body.push(Op::Done(w));
                    }
                    if *add_each {
                        ops.push(Op::Add(w, 1));
                    }
                    ops.push(Op::Go(body));
                }
                ops.push(Op::Wait(w));
            }
            Stmt::Pipe { cap, values, shape } => {
                let c = names.chan(*cap);
                let mut producer: Vec<Op> =
                    (0..*values).map(|_| Op::Send(c, names.work())).collect();
                producer.push(Op::Close(c));
                let mut consumer = vec![Op::Range(c)];
                match *shape {
                    Shape::Both { consumer_first } => {
                        let w = names.wg();
                        producer.push(Op::Done(w));
                        consumer.push(Op::Done(w));
                        ops.push(Op::Add(w, 2));
                        if consumer_first {
                            ops.extend([Op::Go(consumer), Op::Go(producer)]);
                        } else {
                            ops.extend([Op::Go(producer), Op::Go(consumer)]);
                        }
                        ops.push(Op::Wait(w));
                    }
                    Shape::Producer => {
                        ops.push(Op::Go(producer));
                        ops.extend(consumer);
                    }
                    Shape::Consumer => {
                        let w = names.wg();
                        consumer.push(Op::Done(w));
                        ops.extend([Op::Add(w, 1), Op::Go(consumer)]);
                        ops.extend(producer);
                        ops.push(Op::Wait(w));
                    }
                }
            }
            Stmt::Stuck { cap, send, spawned } => {
                let c = names.chan(*cap);
                let body = if *send {
                    vec![Op::Send(c, 0); cap + 1]
                } else {
                    vec![Op::Range(c)]
                };
                if *spawned {
                    ops.push(Op::Go(body));
                } else {
                    ops.extend(body);
                }
            }
        }
    }
    ops
}

/// Run `program` on the runtime with `procs` Ps.
fn run_on_runtime(program: &Program, procs: usize) -> Outcome {
    let goprog = assert_cmd::cargo::cargo_bin("goprog");
    let text = program.to_string();
    let procs = procs.to_string();
    let limits = Limits {
        timeout: Duration::from_secs(30),
        ..Limits::default()
    };
    run(
        &goprog,
        &[&text],
        &[("GOMAXPROCS", &procs)],
        Path::new("."),
        limits,
    )
    .expect("goprog starts")
}

/// Does the runtime's outcome match the model's?
fn matches(model: &Expected, got: &Outcome) -> Result<(), String> {
    let mut work: BTreeMap<u32, usize> = BTreeMap::new();
    for line in got.stdout.lines() {
        let n = line
            .strip_prefix('w')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("stray output line {line:?}"))?;
        *work.entry(n).or_insert(0) += 1;
    }
    if work != model.work {
        return Err(format!("work done {work:?}, model says {:?}", model.work));
    }
    // Only a channel's one consumer prints its values, so their order in
    // the output is the order it received them: it must be the sent order.
    for (c, sent) in &model.received {
        let got: Vec<u32> = (got.stdout.lines())
            .filter_map(|l| l[1..].parse().ok())
            .filter(|v| sent.contains(v))
            .collect();
        if got != *sent {
            return Err(format!("channel {c} delivered {got:?}, sent {sent:?}"));
        }
    }
    let code = match got.ending {
        grader::run::Ending::Exited(code) => code,
        _ => return Err(format!("the run {}", got.failure())),
    };
    match &model.ending {
        Ending::Exits if code == 0 && got.stderr.is_empty() => Ok(()),
        Ending::Exits => Err(format!(
            "model: exits 0; runtime: status {code}, stderr {:?}",
            got.stderr
        )),
        Ending::Deadlock { asleep } => {
            if code != 2
                || !got
                    .stderr
                    .starts_with("fatal error: all goroutines are asleep - deadlock!\n")
            {
                return Err(format!(
                    "model: deadlock; runtime: status {code}, stderr {:?}",
                    got.stderr
                ));
            }
            // `goroutine 7 [chan send]:` -> `chan send`.
            let mut listed: Vec<&str> = (got.stderr.lines())
                .filter(|l| l.starts_with("goroutine "))
                .map(|l| {
                    l.split_once('[')
                        .and_then(|(_, r)| r.split_once(']'))
                        .map_or(l, |(reason, _)| reason)
                })
                .collect();
            listed.sort_unstable();
            if listed != *asleep {
                return Err(format!(
                    "model: asleep {asleep:?}; the report lists {listed:?}:\n{}",
                    got.stderr
                ));
            }
            Ok(())
        }
        Ending::Panics(msg) => {
            if code == 2 && got.stderr.contains(&format!("panic: {msg}")) {
                Ok(())
            } else {
                Err(format!(
                    "model: panic {msg:?}; runtime: status {code}, stderr {:?}",
                    got.stderr
                ))
            }
        }
    }
}

/// Cases per run: `PROPTEST_CASES`, else 256 (about two seconds here).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(Config { cases: cases(), ..Config::default() })]

    #[test]
    fn runtime_agrees_with_the_model(program in program(), procs in 1usize..=4) {
        let model = expected(&program);
        let got = run_on_runtime(&program, procs);
        if let Err(why) = matches(&model, &got) {
            prop_assert!(false, "GOMAXPROCS={procs} goprog '{program}': {why}");
        }
    }
}

/// The generator makes both kinds of program, in useful numbers: a property
/// that only ever saw programs that exit would not test the detector.
#[test]
fn the_generator_makes_programs_that_exit_and_programs_that_deadlock() {
    let mut runner = TestRunner::deterministic();
    let (mut exits, mut deadlocks, mut leaks) = (0, 0, 0);
    let (mut piped, mut chan_send, mut chan_receive) = (0, 0, 0);
    for _ in 0..400 {
        let p = program().new_tree(&mut runner).unwrap().current();
        let e = expected(&p);
        match &e.ending {
            Ending::Exits => exits += 1,
            Ending::Deadlock { asleep } => {
                deadlocks += 1;
                chan_send += usize::from(asleep.contains(&"chan send"));
                chan_receive += usize::from(asleep.contains(&"chan receive"));
            }
            Ending::Panics(m) => panic!("generated a program that panics: {m}"),
        }
        leaks += usize::from(p.to_string().contains("go{ wait("));
        piped += usize::from(e.received.values().any(|v| v.len() > 1));
    }
    assert!(
        exits > 80 && deadlocks > 80,
        "exits {exits}, deadlocks {deadlocks}"
    );
    assert!(leaks > 40, "leaked goroutines in {leaks} programs");
    assert!(
        piped > 80,
        "several values through a channel in {piped} programs"
    );
    assert!(
        chan_send > 30 && chan_receive > 30,
        "deadlocks listing [chan send] {chan_send}, [chan receive] {chan_receive}"
    );
}

/// The comparison bites: a real run does not match the model of a
/// different program.
#[test]
fn a_mismatch_is_caught() {
    let good: Program = "add(0,2) go{ work(1) done(0) } go{ work(2) done(0) } wait(0) work(3)"
        .parse()
        .unwrap();
    let forgot: Program = "add(0,2) go{ work(1) done(0) } go{ work(2) } wait(0) work(3)"
        .parse()
        .unwrap();
    let leak: Program = "add(0,1) go{ wait(0) } work(1) yield".parse().unwrap();
    let pipe: Program = "chan(0,1) go{ send(0,1) send(0,2) send(0,3) close(0) } range(0)"
        .parse()
        .unwrap();
    let swapped: Program = "chan(0,1) go{ send(0,2) send(0,1) send(0,3) close(0) } range(0)"
        .parse()
        .unwrap();
    let stuck_send: Program = "chan(0,0) add(0,1) go{ send(0,0) } wait(0)"
        .parse()
        .unwrap();
    let stuck_recv: Program = "chan(0,0) add(0,1) go{ range(0) } wait(0)".parse().unwrap();
    for procs in [1, 3] {
        let ran_good = run_on_runtime(&good, procs);
        let ran_forgot = run_on_runtime(&forgot, procs);
        assert_eq!(matches(&expected(&good), &ran_good), Ok(()));
        assert_eq!(matches(&expected(&forgot), &ran_forgot), Ok(()));
        assert!(matches(&expected(&good), &ran_forgot).is_err());
        assert!(matches(&expected(&forgot), &ran_good).is_err());
        // Exits 0 although a goroutine is blocked forever: no false alarm.
        assert_eq!(
            matches(&expected(&leak), &run_on_runtime(&leak, procs)),
            Ok(())
        );
        // Same values, other order: the FIFO check sees it.
        let ran_pipe = run_on_runtime(&pipe, procs);
        assert_eq!(matches(&expected(&pipe), &ran_pipe), Ok(()));
        assert!(matches(&expected(&swapped), &ran_pipe)
            .unwrap_err()
            .contains("delivered [1, 2, 3], sent [2, 1, 3]"));
        // Same number of goroutines asleep, other reasons: caught too.
        let ran_send = run_on_runtime(&stuck_send, procs);
        let ran_recv = run_on_runtime(&stuck_recv, procs);
        assert_eq!(matches(&expected(&stuck_send), &ran_send), Ok(()));
        assert_eq!(matches(&expected(&stuck_recv), &ran_recv), Ok(()));
        assert!(matches(&expected(&stuck_send), &ran_recv).is_err());
        assert!(matches(&expected(&forgot), &ran_send).is_err());
    }
}
