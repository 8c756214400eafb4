//! Running a student's program without trusting it.
//!
//! A submission may loop forever, deadlock, panic, print without end or spawn
//! goroutines without bound. [`run`] starts the program in a process group of
//! its own and watches it: past its timeout, past the output cap or past the
//! memory cap the whole group is killed (`SIGKILL` to the group, so no child
//! survives), and the [`Outcome`] says which limit it hit. The grader then
//! fails the checks that needed this run, with that reason, and carries on.

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Limits for one run.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Wall-clock time before the program is killed.
    pub timeout: Duration,
    /// Bytes kept of stdout, and of stderr; more and the program is killed.
    pub output_cap: usize,
    /// Resident memory before the program is killed.
    pub memory_cap: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(10),
            output_cap: 1 << 20,
            memory_cap: 1 << 30,
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// Exited with this status.
    Exited(i32),
    /// Killed by this signal, not by us.
    Signaled(i32),
    /// Still running at the timeout.
    TimedOut,
    /// Printed more than the output cap.
    Flooded,
    /// Used more than the memory cap.
    OutOfMemory,
}

/// What a run printed and how it ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// How it ended.
    pub ending: Ending,
    /// Stdout, lossily decoded, at most the output cap.
    pub stdout: String,
    /// Stderr, lossily decoded, at most the output cap.
    pub stderr: String,
    /// The limits it ran under (for messages).
    pub limits: Limits,
}

impl Outcome {
    /// `Ok` when the program exited with status 0; otherwise the reason, in
    /// one line, the way a student should read it.
    pub fn clean(&self) -> Result<(), String> {
        match self.ending {
            Ending::Exited(0) => Ok(()),
            _ => Err(self.failure()),
        }
    }

    /// One line saying how the run went wrong (or `exited with status 0`).
    pub fn failure(&self) -> String {
        let first = |prefix: &str| {
            self.stderr
                .lines()
                .find(|l| l.starts_with(prefix))
                .map(str::to_string)
        };
        match &self.ending {
            Ending::Exited(code) => {
                // The first goroutine of the report and where it stands.
                let mut report = self
                    .stderr
                    .lines()
                    .skip_while(|s| !s.starts_with("goroutine "));
                let goroutine = report.next().map(|g| g.trim_end_matches(':'));
                let at = report.next().map(str::trim);
                if let Some(l) = first("fatal error: all goroutines are asleep") {
                    let who = match (goroutine, at) {
                        (Some(g), Some(at)) => format!("; {g} at {at}"),
                        _ => String::new(),
                    };
                    format!("deadlock ({l}{who}), exit status {code}")
                } else if let Some(l) = first("panic: ") {
                    let at = at.map(|a| format!(" at {a}")).unwrap_or_default();
                    format!("panicked ({l}{at}), exit status {code}")
                } else if let Some(l) = first("fatal error: ") {
                    format!("{l}, exit status {code}")
                } else {
                    format!("exited with status {code}")
                }
            }
            Ending::Signaled(sig) => format!("killed by signal {sig}"),
            Ending::TimedOut => format!(
                "did not finish within {:.1} s (an endless loop, or a wait that never returns?); killed",
                self.limits.timeout.as_secs_f64()
            ),
            Ending::Flooded => format!(
                "printed more than {} KiB (an endless loop?); killed",
                self.limits.output_cap / 1024
            ),
            Ending::OutOfMemory => format!(
                "used more than {} MiB of memory (spawning goroutines without bound?); killed",
                self.limits.memory_cap >> 20
            ),
        }
    }
}

/// Run `program` with `args` and `env` under `limits`, in `cwd`.
///
/// The environment is the grader's, minus `GOMAXPROCS` (the exercises set
/// their own), plus `env`.
pub fn run(
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    cwd: &Path,
    limits: Limits,
) -> std::io::Result<Outcome> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(cwd)
        .env_remove("GOMAXPROCS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A group of its own, so that one kill reaches everything it started.
        .process_group(0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn()?;
    let pid = child.id() as i32;
    let flooded = Arc::new(AtomicBool::new(false));
    let out = capture(child.stdout.take(), limits.output_cap, flooded.clone());
    let err = capture(child.stderr.take(), limits.output_cap, flooded.clone());

    let deadline = Instant::now() + limits.timeout;
    let ending = loop {
        if let Some(status) = child.try_wait()? {
            break match (status.code(), status.signal()) {
                (Some(code), _) => Ending::Exited(code),
                (None, Some(sig)) => Ending::Signaled(sig),
                (None, None) => Ending::Signaled(0),
            };
        }
        let limit = if flooded.load(Ordering::Relaxed) {
            Some(Ending::Flooded)
        } else if resident_bytes(pid) > limits.memory_cap {
            Some(Ending::OutOfMemory)
        } else if Instant::now() >= deadline {
            Some(Ending::TimedOut)
        } else {
            None
        };
        if let Some(ending) = limit {
            kill_group(pid);
            let _ = child.wait();
            break ending;
        }
        thread::sleep(Duration::from_millis(5));
    };
    // Anything the program left behind in its group goes too.
    kill_group(pid);
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok(Outcome {
        ending,
        stdout,
        stderr,
        limits,
    })
}

/// Read a pipe to its end on a thread, keeping at most `cap` bytes and
/// raising `flooded` when there was more.
fn capture<R: Read + Send + 'static>(
    pipe: Option<R>,
    cap: usize,
    flooded: Arc<AtomicBool>,
) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut kept = Vec::new();
        let Some(mut pipe) = pipe else {
            return String::new();
        };
        let mut buf = [0u8; 8192];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let room = cap.saturating_sub(kept.len());
                    kept.extend_from_slice(&buf[..n.min(room)]);
                    if n > room {
                        flooded.store(true, Ordering::Relaxed);
                        // Keep draining so the program is not stuck on a
                        // full pipe before the watcher kills it.
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        String::from_utf8_lossy(&kept).into_owned()
    })
}

/// `SIGKILL` to the process group `pgid` (harmless when it is gone).
fn kill_group(pgid: i32) {
    // SAFETY: plain syscall; a stale group id yields ESRCH, which we ignore.
    unsafe {
        libc::killpg(pgid, libc::SIGKILL);
    }
}

/// Resident set size of `pid` in bytes, from `/proc/PID/statm` (0 when
/// unknown).
fn resident_bytes(pid: i32) -> u64 {
    let Ok(statm) = std::fs::read_to_string(format!("/proc/{pid}/statm")) else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * page.max(4096) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, limits: Limits) -> Outcome {
        run(
            Path::new("/bin/sh"),
            &["-c", script],
            &[],
            Path::new("/"),
            limits,
        )
        .unwrap()
    }

    fn quick() -> Limits {
        Limits {
            timeout: Duration::from_millis(300),
            output_cap: 4096,
            memory_cap: 1 << 30,
        }
    }

    #[test]
    fn exit_status_and_output_are_kept() {
        let o = sh("echo out; echo err >&2; exit 3", quick());
        assert_eq!(o.ending, Ending::Exited(3));
        assert_eq!(o.stdout, "out\n");
        assert_eq!(o.stderr, "err\n");
        assert_eq!(o.failure(), "exited with status 3");
    }

    #[test]
    fn an_endless_program_is_killed_with_its_children() {
        // The child `sleep` would keep the pipe open if it survived.
        let o = sh("sleep 30 & while :; do :; done", quick());
        assert_eq!(o.ending, Ending::TimedOut);
        assert!(o.failure().contains("did not finish within 0.3 s"));
    }

    #[test]
    fn a_flood_is_capped_and_killed() {
        let o = sh("yes flood", quick());
        assert_eq!(o.ending, Ending::Flooded);
        assert_eq!(o.stdout.len(), 4096);
        assert!(o.failure().contains("more than 4 KiB"));
    }

    #[test]
    fn runtime_failures_are_named() {
        let o = sh(
            "printf 'fatal error: all goroutines are asleep - deadlock!\\n\\ngoroutine 1 [semacquire]:\\n\\tsrc/main.rs:9\\n' >&2; exit 2",
            quick(),
        );
        assert_eq!(
            o.failure(),
            "deadlock (fatal error: all goroutines are asleep - deadlock!; goroutine 1 [semacquire] at src/main.rs:9), exit status 2"
        );
        let o = sh(
            "printf 'panic: boom\\n\\ngoroutine 5 [running]:\\n\\tsrc/x.rs:3\\n' >&2; exit 2",
            quick(),
        );
        assert_eq!(
            o.failure(),
            "panicked (panic: boom at src/x.rs:3), exit status 2"
        );
    }
}
