//! Lesson 3 (Go: `example3/example3.go`): goroutines and parallelism. With
//! two Ps, two Ms run the two goroutines at the same moment on two cores.
//!
//! The seed's goroutines print 78 letters each and finish before a second M
//! even starts, so every letter here also does about 1 ms of CPU work (a busy
//! loop with no runtime call in it). While working, each goroutine raises a
//! flag and watches the other's: seeing both raised at once is only possible
//! when they run in parallel, on two Ms. On one P it cannot happen, because a
//! goroutine only gives up its M at a runtime call, outside the flagged part.
//!
//! Usage: `example3 [PROCS]` (default 2). The report goes to stderr.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use runtime::{print, println, WaitGroup};

static WG: WaitGroup = WaitGroup::new();
/// `BUSY[i]`: goroutine i is in the middle of a letter's work.
static BUSY: [AtomicBool; 2] = [AtomicBool::new(false), AtomicBool::new(false)];
/// Times a goroutine saw the other busy while it was busy itself.
static OVERLAPS: AtomicU32 = AtomicU32::new(0);
/// Bit set of the Ms each goroutine ran on.
static MS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// CPU work per letter.
const WORK: Duration = Duration::from_millis(1);

fn main() {
    let procs = std::env::args()
        .nth(1)
        .and_then(|a| a.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(2);
    runtime::main(move || {
        // Go does this in `init()`: two logical processors.
        runtime::gomaxprocs(procs);

        WG.add(2);
        println!("Start Goroutines");

        runtime::go(|| {
            letters(0, 'a');
            WG.done();
        });

        runtime::go(|| {
            letters(1, 'A');
            WG.done();
        });

        println!("Waiting To Finish");
        WG.wait();

        println!("\nTerminating Program");
        report(procs);
    })
}

/// Display the alphabet three times starting at `first`, working ~1 ms per
/// letter.
fn letters(me: usize, first: char) {
    let other = 1 - me;
    for _ in 0..3 {
        for i in 0..26u8 {
            if let Some(m) = runtime::current_m_id() {
                MS[me].fetch_or(1 << (m % 64), Ordering::Relaxed);
            }
            BUSY[me].store(true, Ordering::SeqCst);
            let start = Instant::now();
            let mut seen = false;
            while start.elapsed() < WORK {
                seen |= BUSY[other].load(Ordering::SeqCst);
                std::hint::spin_loop();
            }
            BUSY[me].store(false, Ordering::SeqCst);
            if seen {
                OVERLAPS.fetch_add(1, Ordering::Relaxed);
            }
            print!("{} ", (first as u8 + i) as char);
        }
    }
}

fn report(procs: usize) {
    let ms = |i: usize| {
        let bits = MS[i].load(Ordering::Relaxed);
        (0..64)
            .filter(|b| bits & (1 << b) != 0)
            .map(|b| format!("M{b}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let overlaps = OVERLAPS.load(Ordering::Relaxed);
    eprintln!("GOMAXPROCS={procs}");
    eprintln!("lowercase ran on {}", ms(0));
    eprintln!("uppercase ran on {}", ms(1));
    eprintln!("letters worked on while the other goroutine was working too: {overlaps}");
    if overlaps > 0 {
        eprintln!("=> the goroutines ran in parallel, on two Ms at once");
    } else {
        eprintln!("=> the goroutines took turns: concurrency without parallelism");
    }
}
