//! A busy machine on demand: CPU burners for the "ping-pong on a busy
//! machine" rows.
//!
//! A runtime that is fast on a quiet machine can still fall apart when the
//! cores are shared: a lock holder descheduled mid-section, spinning Ms
//! burning the time slice the busy M needs, a monitor thread waking on a
//! full core. To see it in the table, the driver starts [`BURNERS`] child
//! processes (this binary re-executed as `bench burn`) that do nothing but
//! compute, runs a row's measurements among them (ours and each peer, one
//! after the other, under the same burners), then stops them. Each burner
//! exits by itself if the driver dies (it watches its parent) and after
//! [`MAX_BURN`] at the latest, so a crashed run never leaves the machine
//! busy.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How many CPU-bound processes make the machine busy: two, the load of the
/// issue's measurement (on a 2-core machine, one more runnable thread per
/// core than our busy M).
pub const BURNERS: usize = 2;

/// A burner stops after this long even if no one stops it.
const MAX_BURN: Duration = Duration::from_secs(600);

/// Running burner processes; dropping this stops them.
pub struct Burners {
    children: Vec<Child>,
}

impl Burners {
    /// Start `n` burners; `None` (with a note on stderr) if one cannot start.
    pub fn start(n: usize) -> Option<Burners> {
        let exe = std::env::current_exe().ok()?;
        let mut burners = Burners {
            children: Vec::with_capacity(n),
        };
        for _ in 0..n {
            match Command::new(&exe)
                .args(["burn", &std::process::id().to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            {
                Ok(child) => burners.children.push(child),
                Err(e) => {
                    eprintln!("bench: cannot start a CPU burner: {e}");
                    return None; // the ones started stop on drop
                }
            }
        }
        // Let the scheduler see them as CPU-bound before we measure.
        std::thread::sleep(Duration::from_millis(100));
        Some(burners)
    }
}

impl Drop for Burners {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Body of `bench burn [PARENT]`: compute until the parent (by default the
/// process that started us) is gone, or for [`MAX_BURN`]. The driver names
/// itself: a parent that died before we first looked would otherwise go
/// unnoticed.
pub fn burn(parent: Option<libc::pid_t>) -> ! {
    // SAFETY: getppid has no preconditions.
    let parent = parent.unwrap_or_else(|| unsafe { libc::getppid() });
    let start = Instant::now();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    loop {
        // ~a millisecond of pure computation between looks.
        for _ in 0..1_000_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        std::hint::black_box(x);
        // SAFETY: as above.
        let orphaned = unsafe { libc::getppid() } != parent;
        if orphaned || start.elapsed() > MAX_BURN {
            std::process::exit(0);
        }
    }
}
