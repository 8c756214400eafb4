//! `goprog PROGRAM`: run a little goroutine program (see the grader's
//! `program.rs`) on the real runtime, printing `w<N>` for each work item
//! (and for each value a `range` receives).
//!
//! The property tests start it in a child process, because the runtime ends
//! the process on a deadlock or a panic, as Go does. GOMAXPROCS comes from
//! the environment, as in Go.

#[cfg(not(loom))]
fn main() {
    use std::sync::Arc;

    use grader::program::{Op, Program};
    use runtime::{Chan, WaitGroup};

    /// What every goroutine of the program shares.
    struct Shared {
        wgs: Vec<WaitGroup>,
        chans: Vec<Chan<u32>>,
    }

    fn exec(ops: &[Op], sh: &Arc<Shared>) {
        for op in ops {
            match op {
                Op::Work(n) => runtime::println!("w{n}"),
                Op::Add(w, n) => sh.wgs[*w].add(*n),
                Op::Done(w) => sh.wgs[*w].done(),
                Op::Wait(w) => sh.wgs[*w].wait(),
                Op::Yield => runtime::gosched(),
                Op::Go(body) => {
                    let (body, sh) = (body.clone(), sh.clone());
                    runtime::go(move || exec(&body, &sh));
                }
                Op::Send(c, v) => sh.chans[*c].send(*v),
                Op::Close(c) => sh.chans[*c].close(),
                Op::Range(c) => {
                    for v in &sh.chans[*c] {
                        runtime::println!("w{v}");
                    }
                }
            }
        }
    }

    let text = std::env::args().nth(1).unwrap_or_default();
    let program: Program = match text.parse() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("goprog: {e}\nusage: goprog 'add(0,1) go{{ work(1) done(0) }} wait(0)'");
            std::process::exit(64);
        }
    };
    let shared = Arc::new(Shared {
        wgs: (0..program.wait_groups())
            .map(|_| WaitGroup::new())
            .collect(),
        chans: program
            .chans
            .iter()
            .map(|&cap| runtime::chan(cap))
            .collect(),
    });
    runtime::main(move || exec(&program.main, &shared))
}

/// Under loom only the runtime's synchronization core is built.
#[cfg(loom)]
fn main() {}
