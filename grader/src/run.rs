//! Running a student's program without trusting it.
//!
//! A submission may loop forever, deadlock, panic, print without end, spawn
//! goroutines without bound, fork children that `setsid` and hold its pipes
//! open. [`run_in`] starts the program in its sandbox (see `sandbox.rs`)
//! and watches it from one loop that polls both pipes, the exit status, the
//! memory of every process of the sandbox uid and the clock: past its
//! timeout, past the output cap or past the memory cap the whole tree is
//! killed, and the [`Outcome`] says which limit it hit. When the program
//! ends, everything it left behind is killed too, and the pipes are read for
//! a short grace period at most: no pipe held open elsewhere can keep the
//! grader waiting. The grader then fails the checks that needed this run,
//! with that reason, and carries on.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{ChildStderr, ChildStdout, Stdio};
use std::time::{Duration, Instant};

use crate::sandbox::{self, Jail, Kind, Rlimits, Sandbox};

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
    /// Printed more than the output cap on this stream (`stdout`,
    /// `stderr`).
    Flooded(&'static str),
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
    /// What the runtime wrote to the exit-report pipe (empty without one).
    pub report: String,
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
                // The first goroutine of the report and where it stands:
                // the innermost frame in the student's code (the frames
                // above it are the runtime's, `runtime/src/...`).
                let mut report = self
                    .stderr
                    .lines()
                    .skip_while(|s| !s.starts_with("goroutine "));
                let goroutine = report.next().map(|g| g.trim_end_matches(':'));
                let places: Vec<&str> = report
                    .take_while(|l| !l.is_empty() && !l.starts_with("created by "))
                    .filter(|l| l.starts_with('\t'))
                    .map(str::trim)
                    .collect();
                let at = places
                    .iter()
                    .find(|p| !p.contains("runtime/src/"))
                    .or(places.first())
                    .copied();
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
                } else if let Some(p) = std_panic(&self.stderr) {
                    format!("panicked ({p}), exit status {code}")
                } else if let Some(l) = first("bwrap: ").or_else(|| first("setpriv: ")) {
                    format!("the sandbox could not start the program ({l})")
                } else {
                    format!("exited with status {code}")
                }
            }
            Ending::Signaled(sig) => format!("killed by signal {sig}"),
            Ending::TimedOut => format!(
                "did not finish within {:.1} s (an endless loop, or a wait that never returns?); killed",
                self.limits.timeout.as_secs_f64()
            ),
            Ending::Flooded(stream) => format!(
                "printed more than {} KiB on {stream} (an endless loop?); killed",
                self.limits.output_cap / 1024
            ),
            Ending::OutOfMemory => format!(
                "used more than {} MiB of memory (spawning goroutines without bound?); killed",
                self.limits.memory_cap >> 20
            ),
        }
    }
}

/// A panic of Rust's standard library (outside the runtime, status 101):
/// `thread 'main' panicked at src/x.rs:3:5:` and the message on the next
/// line.
fn std_panic(stderr: &str) -> Option<String> {
    let mut lines = stderr.lines();
    // `thread 'main' panicked at` (older) or `thread 'main' (123) panicked at`.
    let head = lines.find(|l| l.starts_with("thread '") && l.contains(" panicked at "))?;
    let at = head.split(" panicked at ").nth(1)?.trim_end_matches(':');
    match lines.next() {
        Some(msg) if !msg.starts_with("note: ") => Some(format!("{msg} at {at}")),
        _ => Some(format!("at {at}")),
    }
}

/// Run `program` with `args` and `env` under `limits`, in `cwd`, with the
/// grader's rights (the student's own `just check`).
///
/// The environment is the grader's, minus `GOMAXPROCS` (the exercises set
/// their own), plus `env`.
pub fn run(
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    cwd: &Path,
    limits: Limits,
) -> io::Result<Outcome> {
    let jail = Jail {
        uid: 0,
        mounts: Vec::new(),
        cwd: cwd.to_path_buf(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        rlimits: Rlimits {
            processes: 0,
            file_size: 0,
        },
        report: false,
    };
    run_in(&Sandbox::none(""), &jail, program, args, limits)
}

/// Run `program` (a host path) with `args` in `jail` under `limits`.
pub fn run_in(
    sandbox: &Sandbox,
    jail: &Jail,
    program: &Path,
    args: &[&str],
    limits: Limits,
) -> io::Result<Outcome> {
    let mut jail = jail.clone();
    let report = if jail.report {
        jail.env
            .push(("RUNTIME_EXIT_REPORT".into(), REPORT_FD.to_string()));
        Some(report_pipe()?)
    } else {
        None
    };
    let jail = &jail;
    let mut cmd = sandbox.command(jail, program, args);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    if let Some((_, write)) = &report {
        let wfd = write.as_raw_fd();
        // SAFETY: between fork and exec; dup2 and fcntl are
        // async-signal-safe. dup2 onto REPORT_FD clears close-on-exec there.
        unsafe {
            cmd.pre_exec(move || {
                if wfd == REPORT_FD {
                    libc::fcntl(wfd, libc::F_SETFD, 0);
                } else if libc::dup2(wfd, REPORT_FD) < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn()?;
    // Only the program may hold the write end now: EOF when it is gone.
    let mut report = report.map(|(read, _write)| Pipe::new(Some(File::from(read)), "report"));
    let pid = child.id() as i32;
    let mut out = Pipe::new(child.stdout.take(), "stdout");
    let mut err = Pipe::new(child.stderr.take(), "stderr");
    let isolated = sandbox.kind != Kind::None;
    let memory = |pid: i32| {
        if isolated {
            sandbox::resident_bytes_of(jail.uid)
        } else {
            resident_bytes(pid)
        }
    };
    let kill_everything = || {
        kill_group(pid);
        sandbox.kill_all(jail.uid);
    };

    let start = Instant::now();
    let deadline = start + limits.timeout;
    let mut next_memory_check = start;
    let ending = loop {
        poll_pipes(
            &mut out,
            &mut err,
            limits.output_cap,
            Duration::from_millis(5),
        );
        if let Some(status) = child.try_wait()? {
            break match (status.code(), status.signal()) {
                // bwrap reports a child killed by signal N as 128 + N.
                (Some(code), _)
                    if isolated && sandbox.kind == Kind::Bwrap && (129..=192).contains(&code) =>
                {
                    Ending::Signaled(code - 128)
                }
                (Some(code), _) => Ending::Exited(code),
                (None, Some(sig)) => Ending::Signaled(sig),
                (None, None) => Ending::Signaled(0),
            };
        }
        let now = Instant::now();
        let limit = if let Some(stream) = out.flooded.or(err.flooded) {
            Some(Ending::Flooded(stream))
        } else if now >= deadline {
            Some(Ending::TimedOut)
        } else if now >= next_memory_check {
            next_memory_check = now + Duration::from_millis(if isolated { 40 } else { 5 });
            (memory(pid) > limits.memory_cap).then_some(Ending::OutOfMemory)
        } else {
            None
        };
        if let Some(ending) = limit {
            kill_everything();
            let _ = child.wait();
            break ending;
        }
    };
    // Anything the program left behind goes too; then whatever is still in
    // the pipes is read, for a short while at most (a process outside the
    // sandbox's reach, with --no-sandbox, may hold them open).
    kill_everything();
    let grace = Instant::now() + Duration::from_millis(250);
    while !(out.closed() && err.closed()) && Instant::now() < grace {
        poll_pipes(
            &mut out,
            &mut err,
            limits.output_cap,
            Duration::from_millis(10),
        );
    }
    let mut report_text = Vec::new();
    if let Some(r) = &mut report {
        r.drain(64 << 10);
        report_text = std::mem::take(&mut r.kept);
    }
    let ending = match (ending, out.flooded.or(err.flooded)) {
        (Ending::Exited(_) | Ending::Signaled(_), Some(stream)) => Ending::Flooded(stream),
        (ending, _) => ending,
    };
    Ok(Outcome {
        ending,
        stdout: String::from_utf8_lossy(&out.kept).into_owned(),
        stderr: String::from_utf8_lossy(&err.kept).into_owned(),
        limits,
        report: String::from_utf8_lossy(&report_text).into_owned(),
    })
}

/// The descriptor the program gets the exit-report pipe on.
const REPORT_FD: i32 = 3;

/// A pipe, both ends close-on-exec.
fn report_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    // std's pipe is close-on-exec everywhere: `pipe2(O_CLOEXEC)` on Linux,
    // `pipe` then `FD_CLOEXEC` on macOS, which has no `pipe2`.
    let (read, write) = io::pipe()?;
    Ok((read.into(), write.into()))
}

/// One output pipe of the program, read without ever blocking.
struct Pipe<R> {
    pipe: Option<R>,
    name: &'static str,
    kept: Vec<u8>,
    flooded: Option<&'static str>,
}

impl<R: Read + AsRawFd> Pipe<R> {
    fn new(pipe: Option<R>, name: &'static str) -> Self {
        if let Some(p) = &pipe {
            // SAFETY: fcntl on a descriptor we own.
            unsafe {
                let fd = p.as_raw_fd();
                let flags = libc::fcntl(fd, libc::F_GETFL);
                libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
            }
        }
        Pipe {
            pipe,
            name,
            kept: Vec::new(),
            flooded: None,
        }
    }

    fn closed(&self) -> bool {
        self.pipe.is_none()
    }

    /// Read what is there, keeping at most `cap` bytes; more raises
    /// `flooded` (and is read and dropped, so the writer never blocks).
    fn drain(&mut self, cap: usize) {
        let Some(pipe) = &mut self.pipe else { return };
        let mut buf = [0u8; 16384];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => {
                    self.pipe = None;
                    return;
                }
                Ok(n) => {
                    let room = cap.saturating_sub(self.kept.len());
                    self.kept.extend_from_slice(&buf[..n.min(room)]);
                    if n > room {
                        self.flooded = Some(self.name);
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(_) => {
                    self.pipe = None;
                    return;
                }
            }
        }
    }
}

/// Wait up to `wait` for output on either pipe and read it.
fn poll_pipes(
    out: &mut Pipe<ChildStdout>,
    err: &mut Pipe<ChildStderr>,
    cap: usize,
    wait: Duration,
) {
    let mut fds: Vec<libc::pollfd> = [
        out.pipe.as_ref().map(|p| p.as_raw_fd()),
        err.pipe.as_ref().map(|p| p.as_raw_fd()),
    ]
    .into_iter()
    .flatten()
    .map(|fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    })
    .collect();
    if fds.is_empty() {
        std::thread::sleep(wait);
        return;
    }
    // SAFETY: `fds` is a valid array of pollfd of the given length.
    unsafe {
        libc::poll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            wait.as_millis() as i32,
        );
    }
    out.drain(cap);
    err.drain(cap);
}

/// `SIGKILL` to the process group `pgid` (harmless when it is gone).
fn kill_group(pgid: i32) {
    // SAFETY: plain syscall; a stale group id yields ESRCH, which we ignore.
    unsafe {
        libc::killpg(pgid, libc::SIGKILL);
    }
}

/// Resident set size of `pid` in bytes, from the runtime's OS layer
/// (`/proc/PID/statm` on Linux, `proc_pidinfo` on macOS); 0 once it is gone.
pub fn resident_bytes(pid: i32) -> u64 {
    runtime::os::resident_bytes_of(pid).unwrap_or(0)
}

/// Make a fresh, empty scratch folder at `dir` owned by `uid` (mode 0700),
/// removing whatever a previous run left there.
pub fn fresh_scratch(dir: &Path, uid: u32) -> io::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    if uid != 0 {
        sandbox::chown_tree(dir, uid)?;
    }
    Ok(dir.to_path_buf())
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
        assert_eq!(o.ending, Ending::Flooded("stdout"));
        assert_eq!(o.stdout.len(), 4096);
        assert!(o.failure().contains("more than 4 KiB on stdout"));
    }

    #[test]
    fn std_panics_show_their_message() {
        let o = sh(
            "printf \"thread 'main' (42) panicked at src/x.rs:3:5:\\nno sums\\nnote: run with RUST_BACKTRACE=1\\n\" >&2; exit 101",
            quick(),
        );
        assert_eq!(
            o.failure(),
            "panicked (no sums at src/x.rs:3:5), exit status 101"
        );
    }

    #[test]
    fn a_child_holding_the_pipes_does_not_hold_the_grader() {
        // Without a sandbox a setsid child escapes the group kill and holds
        // the pipes; the run still returns while that child lives.
        let o = sh("setsid sleep 600 & echo $!", quick());
        assert_eq!(o.ending, Ending::Exited(0));
        let holder: i32 = o.stdout.trim().parse().unwrap();
        // SAFETY: plain syscalls on the pid we were told (signal 0 only
        // asks whether it exists, on every Unix).
        let alive = unsafe { libc::kill(holder, 0) } == 0;
        // SAFETY: as above.
        unsafe { libc::kill(holder, libc::SIGKILL) };
        assert!(alive, "the holder was still running when run() returned");
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
        // With frames: the student's line, not the runtime's.
        let o = sh(
            "printf 'fatal error: all goroutines are asleep - deadlock!\\n\\ngoroutine 1 [semacquire]:\\nruntime::sync::waitgroup::WaitGroup::wait()\\n\\truntime/src/sync/waitgroup.rs:173\\nex::main::{{closure}}()\\n\\tsrc/main.rs:9\\n' >&2; exit 2",
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
