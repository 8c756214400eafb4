//! `just watch`: the student loop, as rustlings runs it. Re-check the
//! current exercise on every save, show each check with its reason and the
//! course's progress bar, and once the exercise passes ask before moving on.
//!
//! The grading is the grader's own ([`crate::grade::grade`]: build, run,
//! verify), so an exercise is marked done only after a run of the program
//! that was just built; nothing is remembered between sessions, and the
//! first thing a session does is check every exercise.
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the state, the events, what each key does, the worker that grades |
//! | `files.rs` | noticing saves: file events, or polling |
//! | `tui.rs` | the terminal screen (ratatui), when stdin and stdout are a terminal |
//! | `plain.rs` | plain lines and typed commands otherwise (pipes, CI, `tee`) |
//!
//! Keys: `h` hint, `l` list (jump to any exercise), `r` run the program and
//! show its output, `t` the same with the scheduler's trace
//! (`RUNTIME_TRACE=1`, as `just lesson N --trace`), `c` check now, `q` quit.

mod files;
mod plain;
mod tui;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use crate::build::build;
use crate::catalog::{Exercise, EXERCISES};
use crate::grade::{grade, totals, CheckResult, Place};
use crate::run::{run, Limits};

pub use files::Mode;

/// How `just watch` was asked to start.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The exercise to start at; the first that does not pass when `None`.
    pub start: Option<&'static Exercise>,
    /// How to notice saves.
    pub mode: Mode,
    /// Plain lines even on a terminal.
    pub plain: bool,
}

/// Wait this long after a save for the editor to finish writing before
/// checking (one save can be several writes).
const SETTLE: Duration = Duration::from_millis(150);

/// What the loop reacts to.
enum Event {
    /// A key, from the terminal screen.
    Key(Key),
    /// A typed line, in plain mode.
    Line(String),
    /// Plain mode's input ended: finish what runs, then quit.
    InputClosed,
    /// A file in `lessons/exercises/` may have changed.
    Changed(PathBuf),
    /// The worker graded these exercises.
    Graded(Vec<usize>, Vec<CheckResult>),
    /// The worker ran an exercise: a title and what it printed.
    Ran(String, String),
    /// The terminal changed size.
    Redraw,
}

/// The keys the loop knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A letter or digit.
    Char(char),
    /// Enter.
    Enter,
    /// Escape.
    Esc,
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Page up.
    PageUp,
    /// Page down.
    PageDown,
}

/// Work for the grading thread, one job at a time.
enum Job {
    /// Build, run and verify these exercises (indexes into `EXERCISES`).
    Check(Vec<usize>),
    /// Build and run one exercise and show what it printed; with the
    /// scheduler trace when `trace`.
    Run { ex: usize, trace: bool },
}

/// What covers the main screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overlay {
    /// Nothing: the checks.
    None,
    /// The hint of the current exercise.
    Hint { text: String, scroll: u16 },
    /// Every exercise; Enter jumps to the selected one.
    List { selected: usize },
    /// What a run printed.
    Output {
        title: String,
        text: String,
        scroll: u16,
    },
}

/// Everything the screen shows.
pub struct State {
    /// The workspace.
    pub root: PathBuf,
    /// Index of the current exercise in `EXERCISES`.
    pub current: usize,
    /// Per exercise: the last results (`None`: not checked this session).
    pub results: Vec<Option<Vec<CheckResult>>>,
    /// What the worker is doing, when it is.
    pub busy: Option<String>,
    /// The current exercise passes: move on to this one? (asked, not done)
    pub prompt: Option<usize>,
    /// What covers the screen.
    pub overlay: Overlay,
    /// The last thing worth saying (a save noticed, a key refused, ...).
    pub note: String,
    /// How saves are noticed.
    pub watching: String,
    /// The first full check has not come back yet.
    pub starting: bool,
}

impl State {
    /// The current exercise.
    pub fn exercise(&self) -> &'static Exercise {
        &EXERCISES[self.current]
    }

    /// Has exercise `i` passed its last check?
    pub fn passes(&self, i: usize) -> Option<bool> {
        self.results[i]
            .as_ref()
            .map(|r| !r.is_empty() && r.iter().all(|c| c.passed))
    }

    /// Exercises that pass.
    pub fn done(&self) -> usize {
        (0..EXERCISES.len())
            .filter(|&i| self.passes(i) == Some(true))
            .count()
    }

    /// The exercise file, relative to the workspace.
    pub fn file(&self, i: usize) -> PathBuf {
        Path::new("lessons/exercises").join(EXERCISES[i].file_name())
    }

    /// Points of the current exercise's last check.
    pub fn score(&self) -> Option<(u32, u32)> {
        self.results[self.current].as_ref().map(|r| totals(r))
    }

    /// The first exercise after the current one (wrapping around) that
    /// does not pass.
    fn next_failing(&self) -> Option<usize> {
        let n = EXERCISES.len();
        (1..=n)
            .map(|k| (self.current + k) % n)
            .find(|&i| self.passes(i) != Some(true))
    }
}

/// What just happened, for a face that prints lines rather than screens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happened {
    /// Nothing worth a line.
    Nothing,
    /// A job started (`State::busy` says which).
    Busy,
    /// Every exercise was checked at the start.
    Started,
    /// The current exercise was checked.
    Checked,
    /// Moved to the current exercise.
    Moved,
    /// The overlay opened or changed.
    Overlay,
    /// `State::note` changed.
    Note,
}

/// How the state reaches the student.
trait Face {
    /// Show the state after `what`.
    fn show(&mut self, state: &State, what: &Happened) -> std::io::Result<()>;
}

/// Run the watch loop in the workspace at `root` until the student quits.
pub fn watch(root: &Path, opts: Options) -> std::io::Result<ExitCode> {
    let (tx, rx) = mpsc::channel::<Event>();
    let tty = !opts.plain && std::io::stdout().is_terminal() && std::io::stdin().is_terminal();

    let exercises_dir = root.join("lessons/exercises");
    let changed = {
        let tx = tx.clone();
        move |p: PathBuf| {
            let _ = tx.send(Event::Changed(p));
        }
    };
    let watching = files::watch(&exercises_dir, opts.mode, changed);

    let (jobs, worker) = start_worker(root.to_path_buf(), tx.clone());
    let mut state = State {
        root: root.to_path_buf(),
        current: opts.start.map_or(0, |ex| index_of(ex.key)),
        results: vec![None; EXERCISES.len()],
        busy: None,
        prompt: None,
        overlay: Overlay::None,
        note: String::new(),
        watching: watching.how.clone(),
        starting: true,
    };
    let mut looper = Loop {
        jobs,
        start_given: opts.start.is_some(),
        checked_content: vec![None; EXERCISES.len()],
        save_due: None,
        pending_check: false,
        in_flight: 0,
        quit_when_idle: false,
        quit: false,
    };

    let mut face: Box<dyn Face> = if tty {
        tui::spawn_keys(tx.clone());
        Box::new(tui::Screen::open()?)
    } else {
        plain::spawn_lines(tx.clone());
        Box::new(plain::Lines::new())
    };
    drop(tx);

    looper.submit(&mut state, Job::Check((0..EXERCISES.len()).collect()));
    let result = looper.run(&mut state, face.as_mut(), &rx);

    // Leave nothing running behind us: the worker finishes the job it has
    // (its programs run under the grader's time limits), then ends.
    drop(looper);
    drop(face);
    let _ = worker.join();
    drop(watching);
    result.map(|()| ExitCode::SUCCESS)
}

fn index_of(key: &str) -> usize {
    EXERCISES
        .iter()
        .position(|e| e.key == key)
        .expect("an exercise of the catalog")
}

/// The grading thread: takes jobs in order, sends back what they found.
fn start_worker(root: PathBuf, events: Sender<Event>) -> (Sender<Job>, thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel::<Job>();
    let handle = thread::spawn(move || {
        for job in rx {
            let event = match job {
                Job::Check(list) => {
                    let exs: Vec<&'static Exercise> = list.iter().map(|&i| &EXERCISES[i]).collect();
                    // The student's own workspace, with their own rights, as
                    // `just check` grades it.
                    let place = Place::Own {
                        root: &root,
                        target: None,
                    };
                    let results = grade(&place, &exs, &BTreeMap::new());
                    Event::Graded(list, results)
                }
                Job::Run { ex, trace } => {
                    let (title, text) = run_exercise(&root, &EXERCISES[ex], trace);
                    Event::Ran(title, text)
                }
            };
            if events.send(event).is_err() {
                break;
            }
        }
    });
    (tx, handle)
}

/// Build and run `ex` once, as the student would, and say what it printed:
/// the program's output and how it ended, with the scheduler's pictures
/// when `trace`; the compiler's full message when it does not build.
fn run_exercise(root: &Path, ex: &Exercise, trace: bool) -> (String, String) {
    let title = if trace {
        format!("scheduler trace of {} (RUNTIME_TRACE=1)", ex.bin)
    } else {
        format!("output of {}", ex.bin)
    };
    let built = build(root, None, &[ex.bin]);
    let exe = match built.get(ex.bin) {
        Some(Ok(exe)) => exe.clone(),
        Some(Err(why)) => {
            return (
                format!("{} does not build", ex.bin),
                compiler_output(root, ex, why),
            )
        }
        None => return (title, format!("{} was not built", ex.bin)),
    };
    let env: &[(&str, &str)] = if trace {
        &[("RUNTIME_TRACE", "1")]
    } else {
        &[]
    };
    let outcome = match run(&exe, &[], env, root, Limits::default()) {
        Ok(o) => o,
        Err(e) => return (title, format!("cannot run {}: {e}", exe.display())),
    };
    let mut text = String::new();
    let ending = match outcome.clean() {
        Ok(()) => "exit status 0".to_string(),
        Err(why) => why,
    };
    if trace {
        // The pictures are on stderr; the program's own lines on stdout.
        text.push_str(&outcome.stderr);
        text.push_str("\n---- the program's output (stdout) ----\n");
        text.push_str(&outcome.stdout);
    } else {
        text.push_str(&outcome.stdout);
        if !outcome.stderr.is_empty() {
            text.push_str("\n---- stderr ----\n");
            text.push_str(&outcome.stderr);
        }
    }
    text.push_str(&format!("\n[{ending}]\n"));
    (title, text)
}

/// Cargo's own words on why `ex` does not build.
fn compiler_output(root: &Path, ex: &Exercise, why: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = root.join("Cargo.toml").display().to_string();
    let args = [
        "build",
        "--manifest-path",
        manifest.as_str(),
        "-p",
        "lessons",
        "--bin",
        ex.bin,
    ];
    let limits = Limits {
        timeout: Duration::from_secs(900),
        output_cap: 1 << 20,
        memory_cap: u64::MAX,
    };
    match run(
        Path::new(&cargo),
        &args,
        &[("CARGO_TERM_COLOR", "never")],
        root,
        limits,
    ) {
        Ok(o) if !o.stderr.trim().is_empty() => o.stderr,
        _ => why.to_string(),
    }
}

/// The loop's own bookkeeping (what the screen does not show).
struct Loop {
    jobs: Sender<Job>,
    start_given: bool,
    /// Per exercise: the file's bytes when its last check started.
    checked_content: Vec<Option<Vec<u8>>>,
    /// A save was noticed: check at this moment if nothing else changes.
    save_due: Option<Instant>,
    /// A save came while a check ran: check again when it is back.
    pending_check: bool,
    /// Jobs sent and not back yet.
    in_flight: usize,
    /// Quit once nothing is in flight.
    quit_when_idle: bool,
    quit: bool,
}

impl Loop {
    fn run(
        &mut self,
        state: &mut State,
        face: &mut dyn Face,
        rx: &Receiver<Event>,
    ) -> std::io::Result<()> {
        face.show(state, &Happened::Busy)?;
        while !self.quit {
            let wait = self
                .save_due
                .map(|due| due.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_secs(3600));
            let what = match rx.recv_timeout(wait) {
                Ok(event) => self.handle(state, event),
                Err(RecvTimeoutError::Timeout) => {
                    self.save_due = None;
                    self.saved(state)
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            if self.quit_when_idle && self.in_flight == 0 {
                self.quit = true;
            }
            face.show(state, &what)?;
        }
        Ok(())
    }

    fn submit(&mut self, state: &mut State, job: Job) {
        state.busy = Some(match &job {
            Job::Check(list) if list.len() > 1 => "checking every exercise".to_string(),
            Job::Check(_) => format!("checking exercise {}", state.exercise().key),
            Job::Run { trace: false, .. } => format!("running {}", state.exercise().bin),
            Job::Run { trace: true, .. } => format!("tracing {}", state.exercise().bin),
        });
        if let Job::Check(list) = &job {
            for &i in list {
                self.checked_content[i] = std::fs::read(state.root.join(state.file(i))).ok();
            }
        }
        if self.jobs.send(job).is_ok() {
            self.in_flight += 1;
        }
    }

    fn check_current(&mut self, state: &mut State) -> Happened {
        if self.in_flight > 0 {
            self.pending_check = true;
            return Happened::Nothing;
        }
        self.submit(state, Job::Check(vec![state.current]));
        Happened::Busy
    }

    /// A save has settled: check if the current file really changed.
    fn saved(&mut self, state: &mut State) -> Happened {
        let now = std::fs::read(state.root.join(state.file(state.current))).ok();
        if now.is_some() && now != self.checked_content[state.current] {
            state.note = format!("{} saved", state.exercise().file_name());
            return self.check_current(state);
        }
        Happened::Nothing
    }

    fn handle(&mut self, state: &mut State, event: Event) -> Happened {
        match event {
            Event::Changed(path) => {
                if path
                    .file_name()
                    .is_some_and(|n| *n == *state.exercise().file_name())
                {
                    self.save_due = Some(Instant::now() + SETTLE);
                }
                Happened::Nothing
            }
            Event::Graded(list, results) => self.graded(state, list, results),
            Event::Ran(title, text) => {
                self.in_flight -= 1;
                state.busy = None;
                state.overlay = Overlay::Output {
                    title,
                    text,
                    scroll: 0,
                };
                self.after_job(state);
                Happened::Overlay
            }
            Event::Key(key) => self.key(state, key),
            Event::Line(line) => self.line(state, &line),
            Event::InputClosed => {
                self.quit_when_idle = true;
                Happened::Nothing
            }
            Event::Redraw => Happened::Nothing,
        }
    }

    fn after_job(&mut self, state: &mut State) {
        if self.pending_check && self.in_flight == 0 {
            self.pending_check = false;
            let now = std::fs::read(state.root.join(state.file(state.current))).ok();
            if now != self.checked_content[state.current] {
                self.submit(state, Job::Check(vec![state.current]));
            }
        }
    }

    fn graded(
        &mut self,
        state: &mut State,
        list: Vec<usize>,
        results: Vec<CheckResult>,
    ) -> Happened {
        self.in_flight -= 1;
        state.busy = None;
        for &i in &list {
            let key = EXERCISES[i].key;
            state.results[i] = Some(
                results
                    .iter()
                    .filter(|r| r.check.exercise == key)
                    .cloned()
                    .collect(),
            );
        }
        let what = if state.starting {
            state.starting = false;
            if !self.start_given {
                if let Some(first) = (0..EXERCISES.len()).find(|&i| state.passes(i) != Some(true)) {
                    state.current = first;
                }
            }
            Happened::Started
        } else {
            Happened::Checked
        };
        state.prompt = None;
        if list.contains(&state.current) && state.passes(state.current) == Some(true) {
            state.prompt = state.next_failing();
        }
        self.after_job(state);
        what
    }

    fn move_to(&mut self, state: &mut State, to: usize) -> Happened {
        state.current = to;
        state.prompt = None;
        state.overlay = Overlay::None;
        state.note = String::new();
        self.save_due = None;
        self.pending_check = false;
        // Re-checked on arrival: what the screen shows is always a run.
        self.submit(state, Job::Check(vec![to]));
        Happened::Moved
    }

    fn key(&mut self, state: &mut State, key: Key) -> Happened {
        // Keys that move inside an overlay first.
        match (&mut state.overlay, key) {
            (Overlay::List { selected }, Key::Up | Key::Char('k')) => {
                *selected = selected.saturating_sub(1);
                return Happened::Overlay;
            }
            (Overlay::List { selected }, Key::Down | Key::Char('j')) => {
                *selected = (*selected + 1).min(EXERCISES.len() - 1);
                return Happened::Overlay;
            }
            (Overlay::List { selected }, Key::Enter) => {
                let to = *selected;
                return self.move_to(state, to);
            }
            (Overlay::Hint { scroll, .. } | Overlay::Output { scroll, .. }, k) => {
                let step = match k {
                    Key::Up | Key::Char('k') => Some(-1),
                    Key::Down | Key::Char('j') => Some(1),
                    Key::PageUp => Some(-10),
                    Key::PageDown | Key::Char(' ') => Some(10),
                    _ => None,
                };
                if let Some(step) = step {
                    *scroll = scroll.saturating_add_signed(step);
                    return Happened::Overlay;
                }
            }
            _ => {}
        }
        match key {
            Key::Char('q') => {
                self.quit = true;
                Happened::Nothing
            }
            Key::Esc => {
                if state.overlay != Overlay::None {
                    state.overlay = Overlay::None;
                } else {
                    state.prompt = None;
                }
                Happened::Overlay
            }
            Key::Char('h') => {
                state.overlay = match state.overlay {
                    Overlay::Hint { .. } => Overlay::None,
                    _ => Overlay::Hint {
                        text: hint(state),
                        scroll: 0,
                    },
                };
                Happened::Overlay
            }
            Key::Char('l') => {
                state.overlay = match state.overlay {
                    Overlay::List { .. } => Overlay::None,
                    _ => Overlay::List {
                        selected: state.current,
                    },
                };
                Happened::Overlay
            }
            Key::Char('r') | Key::Char('t') => {
                let job = Job::Run {
                    ex: state.current,
                    trace: key == Key::Char('t'),
                };
                self.submit(state, job);
                Happened::Busy
            }
            Key::Char('c') => {
                state.note = "checking by hand".into();
                self.check_current(state)
            }
            Key::Char('y') | Key::Enter if state.prompt.is_some() => {
                let to = state.prompt.take().expect("checked above");
                self.move_to(state, to)
            }
            Key::Char('n') if state.prompt.is_some() => {
                state.prompt = None;
                state.note = "staying here: `l` lists the exercises".into();
                Happened::Note
            }
            Key::Enter => {
                state.note = "checking by hand".into();
                self.check_current(state)
            }
            _ => Happened::Nothing,
        }
    }

    /// Plain mode: one typed command per line.
    fn line(&mut self, state: &mut State, line: &str) -> Happened {
        // Lines print an overlay once; nothing stays open.
        state.overlay = Overlay::None;
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => self.key(state, Key::Enter),
            ["l", key] | ["list", key] | ["go", key] => match crate::catalog::exercise(key) {
                Some(ex) => self.move_to(state, index_of(ex.key)),
                None => {
                    state.note = format!("no exercise {key:?}");
                    Happened::Note
                }
            },
            [word] if word.chars().count() == 1 => {
                let c = word.chars().next().expect("one char");
                self.key(state, Key::Char(c))
            }
            _ => {
                state.note = format!(
                    "{line:?}? type h (hint), l (list), l N (go to exercise N), r (run), t (trace), c (check), q (quit)"
                );
                Happened::Note
            }
        }
    }
}

/// The hint of the current exercise.
fn hint(state: &State) -> String {
    let path = state
        .root
        .join("lessons/exercises")
        .join(state.exercise().hint_name());
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| format!("cannot read {}: {e}", path.display()))
}
