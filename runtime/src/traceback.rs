//! Goroutine tracebacks: what every goroutine was doing, frame by frame, the
//! way Go prints it in a panic, a deadlock report and a SIGQUIT dump (Go's
//! `runtime/traceback.go`: `goroutineheader`, `traceback1`, `showframe`,
//! `printcreatedby`, `tracebackothers`; `GOTRACEBACK` in `runtime1.go`).
//!
//! Lesson idea: a goroutine is a stack. When the program is stuck, the
//! stacks say where each goroutine is and how it got there:
//!
//! ```text
//! goroutine 1 [semacquire]:     (each file:line is indented by a tab)
//! runtime::sync::waitgroup::WaitGroup::wait()
//!     runtime/src/sync/waitgroup.rs:173
//! forgot_done::main::{{closure}}()
//!     lessons/src/bin/forgot-done.rs:28
//! ```
//!
//! **Finding the frames.** A parked goroutine is not running, so nobody can
//! ask it for a backtrace: we read its stack from outside. When a goroutine
//! switches to the scheduler it leaves its frame pointer and program counter
//! in its G (Go keeps the same two in `g.sched`, the `gobuf`), and every
//! function of the workspace keeps a frame pointer (`.cargo/config.toml`
//! sets `-C force-frame-pointers=yes`), so each frame starts with a record
//! `[caller's frame pointer, return address]`: following that chain from
//! the saved frame pointer gives the return address of every frame. The
//! walk only ever reads inside the goroutine's own stack (`stack.rs` knows
//! its bounds), so a broken chain (code built without frame pointers) ends
//! the walk early instead of faulting. A running goroutine is asked from
//! inside: the panicking one unwinds its own stack with the `backtrace`
//! crate (DWARF unwind tables, always present), and a SIGQUIT dump makes
//! every running goroutine walk its own chain in a signal handler
//! (`sigquit.rs`).
//!
//! **Naming them.** Addresses become `function`, `file:line` only when a
//! report is printed, with the `backtrace` crate (gimli and addr2line over
//! the binary's debug info; release builds keep function names and line
//! tables, `debug = "limited"` in the workspace's `Cargo.toml`). Inlined
//! calls come out as frames of their own, as Go prints them. Nothing here
//! runs on a fast path: a switch stores two words, `go` one, and parking
//! one zero (the wait time, see [`stamp_waits`]).
//!
//! **Showing them like Go.** Go hides its runtime's own frames
//! (`runtime.gopark`, `runtime.semacquire1`) and shows the first frame a
//! user can recognize (`sync.(*WaitGroup).Wait`). We do the same: a frame of
//! this crate is shown only when user code called it directly (the API call
//! the user made, `runtime::sync::waitgroup::WaitGroup::wait`), and the
//! frames that start a goroutine (the coroutine, our `go` wrapper) are not
//! shown at all. `GOTRACEBACK=system` shows everything. The frames of std's
//! panic machinery (`std::panicking::*`, `core::panicking::*`) are dropped,
//! as Rust's own short backtraces drop them.
//!
//! A call in tail position leaves no frame in an optimized build: the
//! compiler turns it into a jump, and the caller's frame is gone (in Rust
//! as in C; Go never does this). A closure whose last statement is
//! `wg.wait()` shows, in release, the line where it blocked (known from
//! `#[track_caller]`) instead of its own frame.
//!
//! Where we differ from Go: no argument values (Go prints the words passed
//! to each function, `main.f(0xc000012345?)`; Rust has no such convention)
//! and no `+0x25` pc offsets; a goroutine that has not started yet shows no
//! frames, only `created by` (Go shows its entry function).

use std::fmt::Write as _;
use std::panic::Location;
use std::sync::OnceLock;

/// Most frames printed per goroutine (Go's `_TracebackMaxFrames`).
pub(crate) const MAX_FRAMES: usize = 100;

// ---------------------------------------------------------------------------
// GOTRACEBACK
// ---------------------------------------------------------------------------

/// What `GOTRACEBACK` asks for (Go's `traceback_cache`: a level, the `all`
/// bit and the `crash` bit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Settings {
    /// 0: no goroutines at all; 1: user frames; 2: runtime frames too.
    pub level: u8,
    /// Print every goroutine, not only the one that failed.
    pub all: bool,
    /// After printing, abort (SIGABRT) so the OS can write a core dump.
    pub crash: bool,
}

impl Settings {
    /// Parse a `GOTRACEBACK` value as Go's `setTraceback` does: `none`,
    /// `single` (the default, also when empty), `all`, `system`, `crash`,
    /// or a number `N`, which means `all` at level `N`.
    pub(crate) fn parse(value: &str) -> Settings {
        let (level, all, crash) = match value {
            "none" => (0, false, false),
            "single" | "" => (1, false, false),
            "all" => (1, true, false),
            "system" => (2, true, false),
            "crash" => (2, true, true),
            n => match n.parse::<u8>() {
                Ok(n) => (n, true, false),
                // Go turns an unknown word into level 0 with `all` set,
                // which prints nothing; we keep the default instead.
                Err(_) => (1, false, false),
            },
        };
        Settings { level, all, crash }
    }
}

/// `GOTRACEBACK`, read once (Go reads it at start-up, in `parsedebugvars`).
pub(crate) fn settings() -> Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    *SETTINGS
        .get_or_init(|| Settings::parse(std::env::var("GOTRACEBACK").unwrap_or_default().trim()))
}

/// End the program after a fatal report: exit 2, or abort for a core dump
/// under `GOTRACEBACK=crash` (Go's `crash`, after `dopanic_m` / `fatalthrow`).
pub(crate) fn die() -> ! {
    if settings().crash {
        // SAFETY: restoring the default action of SIGABRT and aborting;
        // nothing is read or written but the signal table.
        unsafe {
            libc::signal(libc::SIGABRT, libc::SIG_DFL);
        }
        std::process::abort();
    }
    crate::fatal::exit(crate::fatal::EXIT_FATAL)
}

// ---------------------------------------------------------------------------
// Capturing: addresses only, cheap and signal safe
// ---------------------------------------------------------------------------

pub(crate) use crate::stack::here_pc;

/// Follow the frame-pointer chain from `fp` and write the return address of
/// each frame into `out`, innermost first; returns how many.
///
/// Only memory inside the goroutine stack that holds `fp` is read, so a
/// broken chain stops the walk rather than faulting. Async-signal safe: no
/// allocation, no lock. The chain ends at the coroutine's first frame,
/// whose record points to the scheduler's stack (corosensei links it there
/// for debuggers).
///
/// The reads are racy when the goroutine runs meanwhile (a SIGQUIT dump or a
/// panic report reads the stacks of goroutines that may be woken while we
/// look): then the frames may be wrong, never the memory access.
pub(crate) fn walk_frame_pointers(fp: usize, out: &mut [usize]) -> usize {
    let Some((lo, hi)) = crate::stack::usable_bounds(fp) else {
        return 0;
    };
    let word = std::mem::size_of::<usize>();
    let mut fp = fp;
    let mut n = 0;
    while n < out.len() && fp >= lo && fp + 2 * word <= hi && fp.is_multiple_of(word) {
        // SAFETY: `[fp, fp + 2 words)` lies in the usable part of a
        // goroutine stack, which stays mapped and readable for the life of
        // the process. Volatile: the goroutine may be writing it (see above).
        let (next, ret) = unsafe {
            (
                std::ptr::read_volatile(fp as *const usize),
                std::ptr::read_volatile((fp + word) as *const usize),
            )
        };
        // The caller's frame lies above ours on the same stack; the first
        // frame's record points elsewhere, and its "return address" is the
        // coroutine's entry, not a call site.
        if next <= fp || next + 2 * word > hi || ret == 0 {
            break;
        }
        out[n] = ret;
        n += 1;
        fp = next;
    }
    n
}

/// Return addresses of the calling goroutine's frames, innermost first,
/// from the unwinder (DWARF unwind tables: works without frame pointers).
/// Stops at the bottom of the goroutine's stack.
pub(crate) fn current_pcs() -> Vec<usize> {
    let marker = 0u8;
    let bounds = crate::stack::usable_bounds(std::ptr::addr_of!(marker) as usize);
    let mut pcs = Vec::new();
    backtrace::trace(|frame| {
        let sp = frame.sp() as usize;
        if let Some((lo, hi)) = bounds {
            if sp != 0 && !(lo..=hi).contains(&sp) {
                return false;
            }
        }
        pcs.push(frame.ip() as usize);
        pcs.len() < 2 * MAX_FRAMES
    });
    pcs
}

// ---------------------------------------------------------------------------
// Symbolizing and folding: only when a report is printed
// ---------------------------------------------------------------------------

/// Whose code a frame runs, for folding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// The program's own code: always shown.
    User,
    /// This crate (and the coroutine library under it).
    Runtime,
    /// std's panic machinery and our capture of the backtrace.
    Panic,
    /// Compiler glue between user frames (`FnOnce::call_once` shims).
    Glue,
    /// An address no symbol covers.
    Unknown,
}

/// One logical frame (an inlined call is a frame of its own).
#[derive(Clone, Debug)]
struct Frame {
    name: String,
    file: Option<String>,
    line: u32,
    kind: Kind,
}

fn kind_of(name: &str) -> Kind {
    let bare = name
        .trim_start_matches(['<', '&'])
        .trim_start_matches("mut ");
    const PANIC: &[&str] = &[
        "std::panicking::",
        "core::panicking::",
        "std::panic::",
        "core::panic::",
        "std::sys::backtrace::",
        "std::sys_common::backtrace::",
        "std::rt::",
        "rust_begin_unwind",
        "__rustc::rust_begin_unwind",
        "__rust_",
        "rust_panic",
        "backtrace::",
    ];
    if PANIC.iter().any(|p| bare.starts_with(p)) {
        Kind::Panic
    } else if bare.starts_with("runtime::")
        || bare.starts_with("corosensei::")
        || bare.starts_with("stack_init_trampoline")
    {
        Kind::Runtime
    } else if bare.starts_with("core::ops::function::")
        || (bare.starts_with("alloc::boxed::Box<") && bare.contains(" as core::ops::function::Fn"))
        || bare.starts_with("core::panic::unwind_safe::AssertUnwindSafe")
    {
        Kind::Glue
    } else {
        Kind::User
    }
}

/// Symbolize return addresses (`exact`: the first one is the address of an
/// instruction, not a return address).
fn symbolize(pcs: &[usize], exact_first: bool) -> Vec<Frame> {
    let mut frames = Vec::new();
    for (i, &pc) in pcs.iter().enumerate() {
        // `resolve` looks up `addr - 1`, the call instruction of a return
        // address; an exact address must not be moved back.
        let addr = if i == 0 && exact_first { pc + 1 } else { pc };
        let before = frames.len();
        backtrace::resolve(addr as *mut std::ffi::c_void, |sym| {
            let name = sym
                .name()
                .map(|n| format!("{n:#}"))
                .unwrap_or_else(|| "?".into());
            frames.push(Frame {
                kind: kind_of(&name),
                name,
                file: sym.filename().map(|f| f.display().to_string()),
                line: sym.lineno().unwrap_or(0),
            });
        });
        if frames.len() == before {
            frames.push(Frame {
                name: format!("?({pc:#x})"),
                file: None,
                line: 0,
                kind: Kind::Unknown,
            });
        }
    }
    frames
}

/// Keep the frames Go would show (Go's `showframe`).
fn fold(mut frames: Vec<Frame>, system: bool, panicking: bool) -> Vec<Frame> {
    // The two instructions that saved the context are not a frame.
    frames.retain(|f| !f.name.starts_with("runtime::traceback::here_"));
    if panicking {
        // The capture, our hook and std's panic machinery (the innermost
        // run of `Panic` frames) are how the report was made, not what the
        // goroutine did. (The `catch_unwind` frames at the bottom of every
        // goroutine are not part of that run.)
        let std_panic = |f: &Frame| {
            ["std::panicking::", "core::panicking::", "rust_begin_unwind"]
                .iter()
                .any(|p| f.name.trim_start_matches("__rustc::").starts_with(p))
        };
        let first = frames
            .iter()
            .position(std_panic)
            .or_else(|| frames.iter().position(|f| f.kind == Kind::Panic));
        if let Some(first) = first {
            let end = frames[first..]
                .iter()
                .position(|f| f.kind != Kind::Panic)
                .map_or(frames.len(), |n| first + n);
            // `system` keeps std's part of the run: Go shows its `panic`.
            let from = if system {
                frames[first..end]
                    .iter()
                    .position(|f| f.name.starts_with("std::panicking::"))
                    .map_or(end, |n| first + n)
            } else {
                end
            };
            frames.drain(..from);
        }
    }
    if system {
        return frames;
    }
    let n = frames.len();
    let mut shown = Vec::with_capacity(n);
    for i in 0..n {
        let keep = match frames[i].kind {
            Kind::User => true,
            // The runtime call the user made: its caller is user code.
            Kind::Runtime => frames[i + 1..]
                .iter()
                .find(|f| f.kind != Kind::Glue)
                .is_some_and(|f| f.kind == Kind::User),
            Kind::Panic | Kind::Glue | Kind::Unknown => false,
        };
        if keep {
            shown.push(frames[i].clone());
        }
    }
    shown.truncate(MAX_FRAMES);
    shown
}

/// Turns the absolute paths of debug info into the workspace-relative paths
/// that `#[track_caller]` locations carry (`lessons/src/bin/x.rs`), as the
/// reports printed before frames existed did. It learns the workspace's
/// directory from any frame whose path ends with a known relative path.
#[derive(Default)]
struct PathTrim {
    known: Vec<String>,
    prefixes: Vec<String>,
}

impl PathTrim {
    fn know(&mut self, file: Option<&str>) {
        if let Some(f) = file {
            if !f.starts_with('/') && !self.known.iter().any(|k| k == f) {
                self.known.push(f.to_string());
            }
        }
    }

    fn learn(&mut self, frames: &[Frame]) {
        for f in frames {
            let Some(file) = &f.file else { continue };
            for rel in &self.known {
                if let Some(prefix) = file.strip_suffix(rel.as_str()) {
                    if prefix.ends_with('/') && !self.prefixes.iter().any(|p| p == prefix) {
                        self.prefixes.push(prefix.to_string());
                    }
                }
            }
        }
    }

    fn show<'a>(&self, file: &'a str) -> &'a str {
        self.prefixes
            .iter()
            .find_map(|p| file.strip_prefix(p.as_str()))
            .unwrap_or(file)
    }
}

// ---------------------------------------------------------------------------
// One goroutine's report
// ---------------------------------------------------------------------------

/// Where a goroutine's frames come from.
#[derive(Clone, Debug)]
pub(crate) enum Stack {
    /// Return addresses, innermost first; `exact_first` when the first one
    /// is the address of the instruction it stopped at.
    Pcs { pcs: Vec<usize>, exact_first: bool },
    /// It runs on another thread and could not be asked (Go prints the
    /// same words).
    Unavailable,
}

/// Everything the report says about one goroutine, gathered first (cheap,
/// possibly under a lock) and printed later.
#[derive(Clone, Debug)]
pub(crate) struct Goroutine {
    pub goid: u64,
    /// The word between brackets: `running`, `runnable`, a wait reason.
    pub status: &'static str,
    /// Parked this many nanoseconds ago, when known (Go's `waitsince`).
    pub waited_ns: Option<u64>,
    pub stack: Stack,
    /// Where it parked or panicked (`#[track_caller]`), as `(file, line)`:
    /// printed when no frame of user code could be found (a build without
    /// frame pointers), so a report never says less than before frames.
    pub parked_at: Option<(String, u32)>,
    /// The `go` statement: its location, the address inside the creating
    /// function, and the creating goroutine (0: none, e.g. main).
    pub created_at: Option<&'static Location<'static>>,
    pub creator_pc: usize,
    pub parent: u64,
}

impl Goroutine {
    /// The record of `g`, read without stopping it. Racy by design (Go's
    /// `tracebackothers` reads other goroutines the same way): each field
    /// is one atomic load, and a goroutine that moves meanwhile shows a
    /// status and frames that do not belong to the same instant.
    pub(crate) fn of(g: &crate::g::G, now_ns: u64) -> Goroutine {
        use crate::g::Status;
        let status = g.status();
        let (stack, text) = match status {
            Status::Waiting | Status::Runnable => {
                // A compacted stack is walked in place: put it back first
                // (compact.rs; the goroutine may be compacted again later).
                g.stack_slot.ensure_live();
                let (pc, fp) = g.saved_context();
                let mut buf = [0usize; MAX_FRAMES];
                let n = walk_frame_pointers(fp, &mut buf);
                let mut pcs = Vec::with_capacity(n + 1);
                if pc != 0 {
                    pcs.push(pc);
                }
                pcs.extend_from_slice(&buf[..n]);
                let text = if status == Status::Waiting {
                    g.wait_reason().as_str()
                } else {
                    "runnable"
                };
                let exact_first = pc != 0;
                (Stack::Pcs { pcs, exact_first }, text)
            }
            Status::Running => (Stack::Unavailable, "running"),
            Status::Syscall => (Stack::Unavailable, "syscall"),
            Status::Free => (Stack::Unavailable, "dead"),
        };
        let since = g.waitsince();
        let (created_at, parent) = g.created();
        Goroutine {
            goid: g.goid(),
            status: text,
            waited_ns: (status == Status::Waiting && since != 0)
                .then(|| now_ns.saturating_sub(since)),
            stack,
            parked_at: (status == Status::Waiting)
                .then(|| g.wait_location())
                .flatten()
                .map(|l| (l.file().to_string(), l.line())),
            created_at,
            creator_pc: g.creator_pc(),
            parent,
        }
    }
}

/// Prints goroutines the way Go's `traceback.go` does, sharing what it
/// learned about paths.
pub(crate) struct Printer {
    settings: Settings,
    trim: PathTrim,
}

impl Printer {
    pub(crate) fn new(settings: Settings) -> Printer {
        let mut trim = PathTrim::default();
        // This file's own path teaches the runtime crate's directory.
        trim.know(Some(file!()));
        Printer { settings, trim }
    }

    /// Append `g`'s header, frames and `created by` to `out`.
    /// `panicking`: `g` is the goroutine whose panic is being reported, and
    /// its stack was captured inside the panic hook.
    pub(crate) fn goroutine(&mut self, out: &mut String, g: &Goroutine, panicking: bool) {
        self.trim
            .know(g.parked_at.as_ref().map(|(f, _)| f.as_str()));
        self.trim.know(g.created_at.map(|l| l.file()));
        // Go's `goroutineheader`: the wait time only from one minute on.
        let _ = write!(out, "goroutine {} [{}", g.goid, g.status);
        if let Some(ns) = g.waited_ns {
            let minutes = ns / 60_000_000_000;
            if minutes >= 1 {
                let _ = write!(out, ", {minutes} minutes");
            }
        }
        out.push_str("]:\n");
        let system = self.settings.level >= 2;
        match &g.stack {
            Stack::Pcs { pcs, exact_first } => {
                let frames = symbolize(pcs, *exact_first);
                self.trim.learn(&frames);
                let shown = fold(frames, system, panicking);
                let has_user = shown.iter().any(|f| f.kind == Kind::User);
                for f in &shown {
                    self.frame(out, f);
                }
                // No frame pointers in this build: say at least where it
                // parked, as the reports did before frames.
                if !has_user {
                    if let Some((file, line)) = &g.parked_at {
                        let _ = writeln!(out, "\t{file}:{line}");
                    }
                }
            }
            Stack::Unavailable => {
                out.push_str("\tgoroutine running on other thread; stack unavailable\n");
            }
        }
        self.created_by(out, g);
    }

    fn frame(&self, out: &mut String, f: &Frame) {
        let _ = writeln!(out, "{}()", f.name);
        match &f.file {
            Some(file) => {
                let _ = writeln!(out, "\t{}:{}", self.trim.show(file), f.line);
            }
            None => out.push_str("\t?\n"),
        }
    }

    /// Go's `printcreatedby`: the function that ran the `go` statement and
    /// the statement's line (Go 1.21's form, with the creating goroutine).
    fn created_by(&mut self, out: &mut String, g: &Goroutine) {
        let (Some(at), true) = (g.created_at, g.parent != 0) else {
            return;
        };
        let mut name = None;
        if g.creator_pc != 0 {
            let frames = symbolize(&[g.creator_pc], true);
            self.trim.learn(&frames);
            // The pc sits in `go`, inlined into its caller: the first frame
            // that is not the runtime's is the creating function.
            name = frames
                .iter()
                .find(|f| f.kind == Kind::User)
                .or_else(|| frames.last())
                .map(|f| f.name.clone());
        }
        let _ = writeln!(
            out,
            "created by {} in goroutine {}\n\t{}:{}",
            name.as_deref().unwrap_or("?"),
            g.parent,
            at.file(),
            at.line()
        );
    }
}

// ---------------------------------------------------------------------------
// The reports
// ---------------------------------------------------------------------------

/// What a report sees of the whole program: every G, and the stacks the
/// running ones were asked for (goroutine id, return addresses).
pub(crate) type World = (Vec<crate::g::GRef>, Vec<(u64, Vec<usize>)>);

/// How a report takes that snapshot: installed by `proc` at start-up, which
/// owns the scheduler and the SIGQUIT machinery. Injected (like the exit
/// hooks of `fatal.rs`) so this file imports nothing above it.
static WORLD: std::sync::OnceLock<fn() -> World> = std::sync::OnceLock::new();

/// Install the snapshot function (once, at start-up).
pub(crate) fn set_world(world: fn() -> World) {
    let _ = WORLD.set(world);
}

/// Every live goroutine but `skip`, by id. Running goroutines are asked for
/// their stacks (`sigquit::capture_running`); the others are read from
/// outside. The list of Gs is copied first, so no runtime lock is held
/// while frames are walked and named.
fn all_goroutines(skip: Option<u64>) -> Vec<Goroutine> {
    let (allgs, running) = match WORLD.get() {
        Some(world) => world(),
        None => (Vec::new(), Vec::new()),
    };
    let now = crate::timers::nanotime();
    let mut gs: Vec<Goroutine> = allgs
        .iter()
        .filter(|g| g.status() != crate::g::Status::Free && Some(g.goid()) != skip)
        .map(|g| {
            let mut rec = Goroutine::of(g, now);
            if let Some((_, pcs)) = running.iter().find(|(id, _)| *id == rec.goid) {
                if matches!(rec.stack, Stack::Unavailable) {
                    rec.stack = Stack::Pcs {
                        pcs: pcs.clone(),
                        exact_first: true,
                    };
                }
            }
            rec
        })
        .collect();
    gs.sort_by_key(|g| g.goid);
    gs
}

/// Go's report of a panic that reached the top of goroutine `g`, which is
/// the caller: `panic: <msg>`, then (unless `GOTRACEBACK=none`) the
/// goroutine's frames, then every other goroutine under `all`, `system`
/// and `crash` (Go's `fatalpanic` → `printpanics`, `dopanic_m`).
/// `at`, where it panicked, is printed only when no frame could be found.
pub(crate) fn panic_report(g: &crate::g::G, msg: &str, at: Option<&Location<'_>>) -> String {
    let settings = settings();
    let mut out = format!("panic: {msg}\n");
    if settings.level == 0 {
        return out;
    }
    let me = Goroutine {
        goid: g.goid(),
        status: "running",
        waited_ns: None,
        stack: Stack::Pcs {
            pcs: current_pcs(),
            exact_first: false,
        },
        parked_at: at.map(|l| (l.file().to_string(), l.line())),
        created_at: g.created().0,
        creator_pc: g.creator_pc(),
        parent: g.created().1,
    };
    let mut printer = Printer::new(settings);
    out.push('\n');
    printer.goroutine(&mut out, &me, true);
    if settings.all {
        for other in all_goroutines(Some(me.goid)) {
            out.push('\n');
            printer.goroutine(&mut out, &other, false);
        }
    }
    out
}

/// Ctrl-\: print every goroutine and exit 2 (Go's `sighandler` for
/// SIGQUIT: the signal's name, where it landed, then `tracebackothers`).
/// Runs on sysmon, which saw the flag the signal handler raised.
pub(crate) fn sigquit(pc: usize, m: u64, code: usize) -> ! {
    let settings = settings();
    let mut out = format!("SIGQUIT: quit\nPC={pc:#x}");
    if m != u64::MAX {
        let _ = write!(out, " m={m}");
    }
    let _ = writeln!(out, " sigcode={code}");
    if settings.level > 0 {
        let mut printer = Printer::new(settings);
        for g in all_goroutines(None) {
            out.push('\n');
            printer.goroutine(&mut out, &g, false);
        }
    }
    crate::fatal::write_stderr(&out);
    die()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gotraceback_values_parse_as_in_go() {
        let s = |v| Settings::parse(v);
        assert_eq!(s("none").level, 0);
        assert_eq!(s(""), s("single"));
        assert!(!s("single").all && s("single").level == 1);
        assert!(s("all").all && s("all").level == 1);
        assert!(s("system").all && s("system").level == 2 && !s("system").crash);
        assert!(s("crash").crash && s("crash").level == 2);
        assert_eq!(
            s("2"),
            Settings {
                level: 2,
                all: true,
                crash: false
            }
        );
        assert_eq!(s("bogus"), s("single"));
    }

    #[test]
    fn runtime_frames_fold_into_the_call_the_user_made() {
        let f = |name: &str| Frame {
            name: name.into(),
            file: Some("x.rs".into()),
            line: 1,
            kind: kind_of(name),
        };
        let frames = vec![
            f("runtime::proc::gopark"),
            f("runtime::sema::Sema::acquire"),
            f("runtime::sync::waitgroup::WaitGroup::wait"),
            f("forgot_done::main::{{closure}}"),
            f("core::ops::function::FnOnce::call_once"),
            f("runtime::proc::main::{{closure}}"),
            f("runtime::funcval::call_inline"),
            f("corosensei::coroutine::ScopedCoroutine::with_stack::coroutine_func"),
        ];
        let names = |v: Vec<Frame>| v.into_iter().map(|f| f.name).collect::<Vec<_>>();
        assert_eq!(
            names(fold(frames.clone(), false, false)),
            [
                "runtime::sync::waitgroup::WaitGroup::wait",
                "forgot_done::main::{{closure}}"
            ]
        );
        assert_eq!(fold(frames.clone(), true, false).len(), frames.len());
    }

    #[test]
    fn the_panic_machinery_is_dropped() {
        let f = |name: &str| Frame {
            name: name.into(),
            file: None,
            line: 0,
            kind: kind_of(name),
        };
        let frames = vec![
            f("backtrace::backtrace::trace"),
            f("runtime::traceback::current_pcs"),
            f("runtime::proc::panic_hook"),
            f("<alloc::boxed::Box<dyn for<'a> core::ops::function::Fn<(&'a std::panic::PanicHookInfo,)>> as core::ops::function::Fn<(&std::panic::PanicHookInfo,)>>::call"),
            f("std::panicking::panic_with_hook"),
            f("std::panicking::begin_panic_handler::{{closure}}"),
            f("std::sys::backtrace::__rust_end_short_backtrace"),
            f("__rustc::rust_begin_unwind"),
            f("core::panicking::panic_fmt"),
            f("demo::boom"),
            f("demo::main::{{closure}}"),
            f("runtime::funcval::call_inline"),
            f("std::panicking::catch_unwind"),
            f("corosensei::unwind::catch_unwind_at_root"),
        ];
        let shown: Vec<_> = fold(frames, false, true)
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(shown, ["demo::boom", "demo::main::{{closure}}"]);
    }

    #[test]
    fn a_wait_of_a_minute_or_more_is_in_the_header() {
        let g = |waited_ns| Goroutine {
            goid: 7,
            status: "chan receive",
            waited_ns,
            stack: Stack::Pcs {
                pcs: Vec::new(),
                exact_first: false,
            },
            parked_at: None,
            created_at: None,
            creator_pc: 0,
            parent: 0,
        };
        let header = |waited_ns| {
            let mut out = String::new();
            Printer::new(Settings::parse("")).goroutine(&mut out, &g(waited_ns), false);
            out
        };
        assert_eq!(header(None), "goroutine 7 [chan receive]:\n");
        assert_eq!(
            header(Some(59_999_999_999)),
            "goroutine 7 [chan receive]:\n"
        );
        assert_eq!(
            header(Some(150_000_000_000)),
            "goroutine 7 [chan receive, 2 minutes]:\n"
        );
    }

    #[test]
    fn paths_are_shown_relative_to_the_workspace() {
        let mut t = PathTrim::default();
        t.know(Some("lessons/src/bin/x.rs"));
        t.learn(&[Frame {
            name: "x".into(),
            file: Some("/home/me/ws/lessons/src/bin/x.rs".into()),
            line: 3,
            kind: Kind::User,
        }]);
        assert_eq!(
            t.show("/home/me/ws/runtime/src/chan.rs"),
            "runtime/src/chan.rs"
        );
        assert_eq!(
            t.show("/rustc/abc/library/core/src/ops.rs"),
            "/rustc/abc/library/core/src/ops.rs"
        );
    }
}
