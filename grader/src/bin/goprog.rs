//! `goprog PROGRAM`: run a little goroutine program (see the grader's
//! `program.rs`) on the real runtime, printing `w<N>` for each work item.
//!
//! The property tests start it in a child process, because the runtime ends
//! the process on a deadlock or a panic, as Go does. GOMAXPROCS comes from
//! the environment, as in Go.

#[cfg(not(loom))]
fn main() {
    use std::sync::Arc;

    use grader::program::{Op, Program};
    use runtime::WaitGroup;

    fn exec(ops: &[Op], wgs: &Arc<Vec<WaitGroup>>) {
        for op in ops {
            match op {
                Op::Work(n) => runtime::println!("w{n}"),
                Op::Add(w, n) => wgs[*w].add(*n),
                Op::Done(w) => wgs[*w].done(),
                Op::Wait(w) => wgs[*w].wait(),
                Op::Yield => runtime::gosched(),
                Op::Go(body) => {
                    let (body, wgs) = (body.clone(), wgs.clone());
                    runtime::go(move || exec(&body, &wgs));
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
    let wgs: Arc<Vec<WaitGroup>> = Arc::new(
        (0..program.wait_groups())
            .map(|_| WaitGroup::new())
            .collect(),
    );
    runtime::main(move || exec(&program.main, &wgs))
}

/// Under loom only the runtime's synchronization core is built.
#[cfg(loom)]
fn main() {}
