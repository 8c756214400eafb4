//! `bench`: the runtime's benchmarks, side by side with OS threads, tokio,
//! may and Go, in one run (see `driver.rs` for the table it prints).
//!
//! Usage:
//!   bench [--runs N] [--quick] [--only IMPL,...]   run everything, print the table
//!   bench child IMPL WORKLOAD N                    one measurement (used by the driver)
//!   bench burn [PARENT_PID]                        compute until stopped (the driver's CPU burners)
//!
//! Every measurement runs in a fresh child process (this binary re-executed
//! with `child`), so GOMAXPROCS is set per run through the environment, as in
//! Go, and resident memory starts clean. IMPL is `ours`, `threads`, and with
//! the `peers` feature `tokio-mt`, `tokio-ct`, `may`; WORKLOAD is `spawn`,
//! `pingpong`, `idle`, `cpu`, `alive` or `timers`.

mod driver;
mod load;
#[cfg(feature = "peers")]
mod may_peer;
mod measure;
mod ours;
mod threads;
mod timer_storm;
#[cfg(feature = "peers")]
mod tokio_peer;
mod workload;

use workload::Workload;

/// Exit status of a child asked for something this build cannot do.
pub const EXIT_UNAVAILABLE: i32 = 3;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("child") => child(&args[1..]),
        Some("burn") => match &args[1..] {
            [] => load::burn(None),
            [pid] => load::burn(Some(pid.parse().unwrap_or_else(|_| usage()))),
            _ => usage(),
        },
        _ => {}
    }
    driver::main(&args);
}

fn child(args: &[String]) -> ! {
    let (imp, w, n) = match args {
        [imp, w, n] => match (Workload::parse(w), n.parse::<usize>()) {
            (Some(w), Ok(n)) if n > 0 => (imp.as_str(), w, n),
            _ => usage(),
        },
        _ => usage(),
    };
    match imp {
        "ours" => ours::main(w, n),
        "threads" => threads::main(w, n),
        #[cfg(feature = "peers")]
        "tokio-mt" => tokio_peer::main(w, n, true),
        #[cfg(feature = "peers")]
        "tokio-ct" => tokio_peer::main(w, n, false),
        #[cfg(feature = "peers")]
        "may" => may_peer::main(w, n),
        _ => {
            eprintln!("bench: `{imp}` is not built in (peers need `--features peers`)");
            std::process::exit(EXIT_UNAVAILABLE)
        }
    }
}

/// A workload only ours and Go run (the driver asks no one else): say so
/// and exit with [`EXIT_UNAVAILABLE`].
pub fn unavailable(w: Workload) -> ! {
    eprintln!(
        "bench: the {} workload is measured for ours and Go only",
        w.name()
    );
    std::process::exit(EXIT_UNAVAILABLE)
}

fn usage() -> ! {
    eprintln!("usage: bench [--runs N] [--quick] [--only IMPL,...]");
    eprintln!("       bench child IMPL spawn|pingpong|idle|cpu|alive|timers N");
    eprintln!("       bench burn [PARENT_PID]");
    std::process::exit(2)
}
