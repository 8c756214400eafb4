//! `just watch`, driven as a student would drive it: the real `grader watch`
//! in a pseudo-terminal of 80×24 (its screen read back through a terminal
//! emulator, `vt100`), and with plain pipes (what CI and `tee` see).
//!
//! Both run in a student kit of the workspace, with the reference solutions
//! laid over the exercises except for known-wrong ones, and save files
//! there as an editor would. Every wait is for something to appear,
//! with a generous limit: a loaded two-core machine may take minutes for a
//! cold build, and nothing here measures time.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use grader::catalog::EXERCISES;

/// Time allowed for something to appear on the screen.
const PATIENCE: Duration = Duration::from_secs(600);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

fn solution(file: &str) -> Vec<u8> {
    fs::read(root().join("lessons/solutions").join(file)).unwrap()
}

fn fixture(name: &str, file: &str) -> Vec<u8> {
    fs::read(root().join("grader/tests/fixtures").join(name).join(file)).unwrap()
}

/// The student's workspace of these tests: a student kit (`grader
/// student-kit`, as an instructor hands it out) where exercise 1 (the
/// first), 5 and 6 fail and every other exercise holds its solution. The
/// kit and its target folder are the ones `grader_cli.rs` uses too, so a
/// warm build serves both; the tests here take turns through `TURNS`.
struct Kit {
    root: PathBuf,
    target: PathBuf,
    _turn: MutexGuard<'static, ()>,
}

static TURNS: Mutex<()> = Mutex::new(());

fn kit() -> Kit {
    let turn = TURNS.lock().unwrap_or_else(|e| e.into_inner());
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("grader-tests");
    let root = scratch.join("kit");
    let _ = fs::remove_dir_all(&root);
    let made = Command::new(assert_cmd::cargo::cargo_bin("grader"))
        .arg("student-kit")
        .arg(&root)
        .arg("--workspace")
        .arg(self::root())
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let mut files = BTreeMap::new();
    for ex in EXERCISES {
        files.insert(ex.file_name(), solution(&ex.file_name()));
    }
    files.insert(
        "exercise1.rs".into(),
        fixture("wrong-range", "exercise1.rs"),
    );
    files.insert("exercise5.rs".into(), fixture("no-close", "exercise5.rs"));
    files.insert(
        "exercise6.rs".into(),
        fixture("drained-in-turn", "exercise6.rs"),
    );
    for (file, bytes) in files {
        fs::write(root.join("lessons/exercises").join(file), bytes).unwrap();
    }
    Kit {
        root,
        target: scratch.join("kit-target"),
        _turn: turn,
    }
}

/// Save `bytes` as `file` in the kit's exercises, as an editor does: a new
/// file renamed over the old one.
fn save(kit: &Kit, file: &str, bytes: &[u8]) {
    let dir = kit.root.join("lessons/exercises");
    let tmp = dir.join(format!(".{file}.swp"));
    fs::write(&tmp, bytes).unwrap();
    fs::rename(&tmp, dir.join(file)).unwrap();
}

fn grader(kit: &Kit) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("grader"));
    cmd.current_dir(kit.root.join("lessons"))
        .env("CARGO_TARGET_DIR", &kit.target)
        .env_remove("GRADER_WATCH")
        .env("TERM", "xterm-256color");
    cmd
}

/// A program running in a pseudo-terminal, and its screen.
struct Pty {
    master: File,
    child: Child,
    screen: Arc<Mutex<vt100::Parser>>,
}

impl Pty {
    fn spawn(mut cmd: Command) -> Pty {
        let (mut master, mut slave) = (0, 0);
        let mut size = libc::winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: openpty writes two fds into the ints we pass; the name and
        // termios pointers may be null; `size` outlives the call.
        let rc = unsafe {
            // (`*mut` pointers: macOS's openpty takes them mutable.)
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &raw mut size,
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both fds were just opened for us and are owned by nobody
        // else.
        let (master, slave) = unsafe { (File::from_raw_fd(master), File::from_raw_fd(slave)) };
        cmd.stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave);
        // SAFETY: only async-signal-safe calls between fork and exec: a new
        // session, with the pty (now stdin) as its controlling terminal.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        drop(cmd); // our copies of the slave side
        let screen = Arc::new(Mutex::new(vt100::Parser::new(24, 80, 0)));
        let mut reader = master.try_clone().unwrap();
        let sink = screen.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().process(&buf[..n]);
            }
        });
        Pty {
            master,
            child,
            screen,
        }
    }

    fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// Wait until the screen shows every one of `texts`; the screen.
    fn wait_for(&mut self, texts: &[&str]) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.contents();
            if texts.iter().all(|t| screen.contains(t)) {
                return screen;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("watch ended ({status}) before showing {texts:?}:\n{screen}");
            }
            assert!(
                Instant::now() < deadline,
                "the screen never showed {texts:?}:\n{screen}"
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn press(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).unwrap();
        self.master.flush().unwrap();
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "watch did not quit:\n{}",
                self.contents()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

const DOWN: &str = "\x1b[B";

#[test]
fn the_screen_follows_the_student() {
    let kit = kit();
    let mut pty = Pty::spawn({
        let mut cmd = grader(&kit);
        cmd.arg("watch");
        cmd
    });

    // It starts at the first exercise that does not pass, and says why.
    let screen = pty.wait_for(&["Exercise 1 of 7", "✘ 0/2", "-[A:0]", "exercises"]);
    assert!(screen.contains("h hint  l list  r run  t trace  c check  q quit"));
    // Everything fits in 80×24: the key line is the last row.
    assert_eq!(
        screen.lines().last().map(str::trim),
        Some("h hint  l list  r run  t trace  c check  q quit"),
        "{screen}"
    );

    // `l` lists every exercise; the arrows and Enter jump to exercise 5.
    pty.press("l");
    pty.wait_for(&["Exercises (", "1b  the same two counters", "6   fan-in"]);
    pty.press(&DOWN.repeat(5));
    pty.press("\r");
    pty.wait_for(&[
        "Exercise 5 of 7",
        "deadlock (fatal error: all goroutines are asleep",
    ]);

    // `h` shows the hint; Esc closes it.
    pty.press("h");
    pty.wait_for(&[
        "Hint: exercise 5",
        "Never close a channel from the receiving side",
    ]);
    pty.press("\x1b");
    pty.wait_for(&["Exercise 5 of 7", "✘ 0/2"]);

    // A broken save: the compile error, on the screen.
    save(
        &kit,
        "exercise5.rs",
        b"fn main() { let n: u64 = \"ten\"; }\n",
    );
    pty.wait_for(&["does not compile: error[E0308]: mismatched types"]);

    // The fixed file: every check turns green, and it asks before moving on.
    save(&kit, "exercise5.rs", &solution("exercise5.rs"));
    let screen = pty.wait_for(&["Exercise 5 passes! Move on to exercise 6?"]);
    assert_eq!(
        screen.matches("✔ ").count(),
        5,
        "four checks and the prompt: {screen}"
    );
    assert!(!screen.contains('✘'), "{screen}");
    pty.press("y");
    pty.wait_for(&["Exercise 6 of 7", "every fast value came before"]);

    // `r` runs the program and shows what it printed; `t` adds the
    // scheduler's pictures (RUNTIME_TRACE=1).
    pty.press("r");
    pty.wait_for(&["output of exercise6", "fast 1", "slow 1"]);
    pty.press("\x1b");
    pty.press("t");
    pty.wait_for(&[
        "scheduler trace of exercise6 (RUNTIME_TRACE=1)",
        "M0, the program's main thread",
    ]);
    pty.press("\x1b");
    pty.wait_for(&["Exercise 6 of 7", "every fast value came before"]);

    // `q` quits, and gives the terminal back.
    pty.press("q");
    assert!(pty.wait_exit().success());
}

#[test]
fn plain_lines_when_stdout_is_not_a_terminal() {
    let kit = kit();
    let mut child = grader(&kit)
        .args(["watch", "5"])
        // Polling: the fallback for WSL and network mounts.
        .env("GRADER_WATCH", "poll")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let out = Arc::new(Mutex::new(String::new()));
    let sink = out.clone();
    let stdout = child.stdout.take().unwrap();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let mut o = sink.lock().unwrap();
            o.push_str(&line);
            o.push('\n');
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    let wait_for = |text: &str| {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let o = out.lock().unwrap().clone();
            if o.contains(text) {
                return o;
            }
            assert!(Instant::now() < deadline, "never printed {text:?}:\n{o}");
            thread::sleep(Duration::from_millis(100));
        }
    };

    wait_for("watching lessons/exercises/exercise5.rs (polling every 0.5 s, as asked)");
    let o = wait_for("✘  0/2  ex5.closed");
    assert!(o.contains("score 0/7; stuck? type h (hint)"), "{o}");

    save(&kit, "exercise5.rs", &solution("exercise5.rs"));
    wait_for("✔  2/2  ex5.finished");
    wait_for("score 7/7: exercise 5 passes");
    wait_for("move on to exercise 6 (fan-in: merge two producers with select!)? [y/n]");
    writeln!(stdin, "y").unwrap();
    wait_for("exercise 6 (lessons/exercises/exercise6.rs)");
    writeln!(stdin, "h").unwrap();
    wait_for("# Hint for exercise 6");
    writeln!(stdin, "l").unwrap();
    wait_for("> ✘ 6   fan-in");
    writeln!(stdin, "q").unwrap();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    assert!(status.success());
    let o = out.lock().unwrap().clone();
    assert!(
        !o.contains('\x1b'),
        "no terminal escapes in plain output:\n{o}"
    );
    assert!(o.contains("/7 exercises"), "the progress bar:\n{o}");
}

#[test]
fn with_no_input_it_checks_once_and_stops() {
    // What CI gets from `just watch < /dev/null`: every exercise checked,
    // the current one printed, then the end (status 0), nothing left open.
    let kit = kit();
    let out = grader(&kit)
        .arg("watch")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("exercise 1 (lessons/exercises/exercise1.rs)"),
        "starts at the first exercise that does not pass:\n{stdout}"
    );
    assert!(
        stdout.contains("→ A's lines: stops after line 100 ([A:1]): -[A:0]"),
        "{stdout}"
    );
    assert!(stdout.contains("/7 exercises"), "{stdout}");
    assert!(!stdout.contains('\x1b'), "{stdout}");
}
