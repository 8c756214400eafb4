//! The lesson's pictures, drawn live: Ms above their Ps, the running G below,
//! the local run queue beside, the global run queue on top.
//!
//! Lesson idea: "here is the mental model": the lesson draws
//!
//! ```text
//!    M
//!    |
//! +-----+     LRQ
//! |  P  | ------
//! +-----+      |
//!    |         Gm
//!    G1        |
//!              G2
//! ```
//!
//! and explains each scheduling decision by how such a picture changes. With
//! `RUNTIME_TRACE=1` every scheduling event becomes a *frame*: a title (the
//! event's number, name and time), one sentence saying what happened and
//! why, and the picture right after it. `runnext` is drawn as the head of
//! the LRQ, marked `← runnext`.
//!
//! A long program repeats itself (lesson 2 switches between the same two
//! goroutines dozens of times), so the story folds repeats: when the last
//! one to four frames happen again identically (time aside), they are not
//! drawn again but counted, and one line `… ×N` says so. The story stays
//! tens of frames long, not thousands.

use std::collections::VecDeque;
use std::fmt::Write as _;

use super::{Ev, MView, PView, Snapshot};

/// Longest cycle of frames that folding recognizes.
const MAX_PERIOD: usize = 4;
/// Width of the frame titles and of wrapped sentences.
const WIDTH: usize = 78;

/// The story told on stderr: frames, folded.
pub(crate) struct Story {
    /// The picture of the previous frame, to say what moved.
    prev: Option<Snapshot>,
    /// Frames so far, folded ones included.
    n: u64,
    fold: Folder,
}

impl Story {
    pub(crate) fn new() -> Story {
        Story {
            prev: None,
            n: 0,
            fold: Folder::default(),
        }
    }

    /// Printed once, before the first frame.
    pub(crate) fn legend(&self) -> String {
        "runtime trace (RUNTIME_TRACE=1): a picture of the scheduler at each \
         scheduling event.\n  M = OS thread, P = logical processor, G = goroutine; \
         GRQ = global run queue,\n  LRQ = a P's local run queue (runnext first); \
         the G under a P is running.\n"
            .to_string()
    }

    /// Record one event; returns the text to print now (maybe nothing, when
    /// the frame is folded into a repeat).
    pub(crate) fn frame(&mut self, t_ns: u64, ev: &Ev, snap: &Snapshot) -> String {
        self.n += 1;
        let mut body = wrap(&describe(ev, self.prev.as_ref(), snap), WIDTH);
        body.push('\n');
        body.push_str(&draw(snap));
        self.prev = Some(snap.clone());
        self.fold.push(Frame {
            n: self.n,
            t_ns,
            name: ev.name(),
            body,
        })
    }

    /// The program ends: whatever folding still holds back.
    pub(crate) fn finish(&mut self) -> String {
        self.fold.flush()
    }
}

/// One frame of the story.
#[derive(Clone, Debug)]
struct Frame {
    n: u64,
    t_ns: u64,
    name: &'static str,
    /// The sentence and the picture: what must be equal for frames to fold.
    body: String,
}

impl Frame {
    fn same_as(&self, other: &Frame) -> bool {
        self.name == other.name && self.body == other.body
    }

    fn text(&self) -> String {
        let title = format!("── #{} · {} · {} ", self.n, self.name, ms(self.t_ns));
        let fill = WIDTH.saturating_sub(title.chars().count());
        format!("\n{title}{}\n{}", "─".repeat(fill), self.body)
    }
}

/// Folds repeated cycles of frames into one `… ×N` line.
///
/// Invariant: `recent` holds the last (up to [`MAX_PERIOD`]) frames in the
/// order they happened, printed or not; while `cycle` is set, `held` are
/// frames matched against it since the last complete repetition.
#[derive(Default)]
struct Folder {
    recent: VecDeque<Frame>,
    cycle: Option<Cycle>,
}

/// A cycle being folded: `period` frames that keep happening again.
struct Cycle {
    block: Vec<Frame>,
    /// Next frame of `block` expected.
    pos: usize,
    /// Frames matched since the last complete repetition.
    held: Vec<Frame>,
    /// Complete repetitions folded so far.
    repeats: u64,
    /// First and last folded frame numbers and times.
    first: (u64, u64),
    last: (u64, u64),
}

impl Folder {
    /// Take one frame; return what to print now.
    fn push(&mut self, f: Frame) -> String {
        let mut out = String::new();
        if let Some(c) = self.cycle.as_mut() {
            if f.same_as(&c.block[c.pos]) {
                c.pos += 1;
                c.held.push(f.clone());
                if c.pos == c.block.len() {
                    c.pos = 0;
                    c.repeats += 1;
                    c.last = (f.n, f.t_ns);
                    c.held.clear();
                }
                self.remember(f);
                return out;
            }
            out.push_str(&self.flush());
        }
        // Does this frame start a repetition of the last 1..=4 frames?
        let len = self.recent.len();
        let period = (1..=MAX_PERIOD.min(len)).find(|&p| f.same_as(&self.recent[len - p]));
        match period {
            Some(p) => {
                let block: Vec<Frame> = self.recent.iter().skip(len - p).cloned().collect();
                let mut c = Cycle {
                    block,
                    pos: 1,
                    held: vec![f.clone()],
                    repeats: 0,
                    first: (f.n, f.t_ns),
                    last: (f.n, f.t_ns),
                };
                if c.pos == c.block.len() {
                    c.pos = 0;
                    c.repeats = 1;
                    c.held.clear();
                }
                self.cycle = Some(c);
            }
            None => out.push_str(&f.text()),
        }
        self.remember(f);
        out
    }

    fn remember(&mut self, f: Frame) {
        self.recent.push_back(f);
        if self.recent.len() > MAX_PERIOD {
            self.recent.pop_front();
        }
    }

    /// End the current cycle: one line for the complete repetitions, then
    /// the frames of an incomplete one, in full.
    fn flush(&mut self) -> String {
        let Some(c) = self.cycle.take() else {
            return String::new();
        };
        let mut out = String::new();
        if c.repeats > 0 {
            let what = match c.block.len() {
                1 => "the frame above happens again".to_string(),
                n => format!("the {n} frames above happen again, in the same order,"),
            };
            let _ = writeln!(
                out,
                "\n  … ×{}: {what} {} more time{} (#{}–#{}, {}–{})",
                c.repeats,
                c.repeats,
                if c.repeats == 1 { "" } else { "s" },
                c.first.0,
                c.last.0,
                ms(c.first.1),
                ms(c.last.1),
            );
        }
        for f in &c.held {
            out.push_str(&f.text());
        }
        out
    }
}

fn ms(t_ns: u64) -> String {
    format!("{}.{:03} ms", t_ns / 1_000_000, t_ns / 1_000 % 1_000)
}

/// Word-wrap `text` to `width` columns.
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut col = 0;
    for word in text.split_whitespace() {
        let w = word.chars().count();
        if col > 0 && col + 1 + w > width {
            out.push('\n');
            col = 0;
        } else if col > 0 {
            out.push(' ');
            col += 1;
        }
        out.push_str(word);
        col += w;
    }
    out
}

// ---- what happened ------------------------------------------------------

/// Where `g` sits in `snap`, as "into ..." words.
fn place(g: u64, snap: &Snapshot) -> Option<String> {
    for p in &snap.ps {
        if p.runnext == Some(g) {
            return Some(format!("into runnext of P{}", p.id));
        }
        if p.lrq.contains(&g) {
            return Some(format!("into the LRQ of P{}", p.id));
        }
    }
    snap.grq
        .contains(&g)
        .then(|| "into the global run queue".to_string())
}

fn prev_p(prev: Option<&Snapshot>, id: usize) -> Option<&PView> {
    prev?.ps.iter().find(|p| p.id == id)
}

/// One sentence: what happened, and why, in the lesson's words.
fn describe(ev: &Ev, prev: Option<&Snapshot>, now: &Snapshot) -> String {
    let place_of = |g| place(g, now).unwrap_or_else(|| "into a run queue".into());
    match *ev {
        Ev::MStart { m, p } => match (m, p) {
            (0, Some(p)) => format!("M0, the program's main thread, takes P{p}."),
            (_, Some(p)) => format!("A new OS thread, M{m}, starts and takes P{p}."),
            _ => format!("A new OS thread, M{m}, starts."),
        },
        Ev::Go { g, parent, p } => {
            let mut s = match parent {
                Some(pg) => format!(
                    "G{pg} runs `go`: the new goroutine G{g} does not run yet, it goes {}",
                    place_of(g)
                ),
                None => format!(
                    "The runtime creates G{g} for main() and puts it {}",
                    place_of(g)
                ),
            };
            let bumped = p
                .and_then(|p| prev_p(prev, p))
                .and_then(|pv| pv.runnext)
                .filter(|&old| old != g);
            match bumped {
                Some(old) if now.ps.iter().any(|p| p.runnext == Some(g)) => {
                    let _ = write!(
                        s,
                        "; G{old}, bumped out of runnext, moves to the tail of the LRQ."
                    );
                }
                _ => s.push('.'),
            }
            s
        }
        Ev::Run { g, m, p, inherit } => {
            let from = if inherit {
                ", taken from runnext: it inherits the current time slice"
            } else if prev_p(prev, p).is_some_and(|pv| pv.lrq.contains(&g)) {
                ", taken from the head of its LRQ: a new time slice starts"
            } else if prev.is_some_and(|s| s.grq.contains(&g)) {
                ", taken from the global run queue: a new time slice starts"
            } else {
                ""
            };
            format!("M{m} switches to G{g} on P{p}{from}.")
        }
        Ev::Park { g, m, reason } => format!(
            "G{g} blocks ({reason}): it parks, off every run queue, and M{m} goes \
             back to the scheduler to find another G."
        ),
        Ev::Ready { g, by, .. } => {
            let who = by.map_or("Someone".to_string(), |b| format!("G{b}"));
            format!(
                "{who} wakes G{g} up: it is runnable again and goes {}.",
                place_of(g)
            )
        }
        Ev::Preempt { g, m } => format!(
            "G{g} has used up its time slice (10 ms or more): sysmon asked it to yield, \
             and at its next runtime call it does. M{m} puts it {} and picks another G.",
            place_of(g)
        ),
        Ev::Gosched { g, m } => format!(
            "G{g} calls gosched(): it yields M{m} and goes {}.",
            place_of(g)
        ),
        Ev::Exit { g, m } => {
            format!("G{g} returns: it is dead, and M{m} looks for another G.")
        }
        Ev::Steal { m, p, victim, g } => format!(
            "M{m} found nothing on P{p} or in the global run queue: it steals half of \
             P{victim}'s LRQ and will run G{g}."
        ),
        Ev::MStop { m } => format!(
            "M{m} found no work anywhere: its P goes idle and the thread sleeps until \
             someone wakes it."
        ),
        Ev::MWake { m, p } => match p {
            Some(p) => format!("M{m} is woken up and handed P{p}: there is work."),
            None => format!("M{m} is woken up."),
        },
        Ev::Gomaxprocs { old, new } => format!("gomaxprocs({new}): from {old} Ps to {new}."),
        Ev::SyscallEnter { g, m, p } => format!(
            "G{g} enters a system call: M{m} blocks in the kernel with it. P{p} is left \
             in syscall status; if the call takes long, sysmon hands it to another M."
        ),
        Ev::SyscallExit { g, m, p } => match p {
            Some(p) => {
                format!("G{g} is back from its system call and goes on running on M{m} with P{p}.")
            }
            None => format!(
                "G{g} is back from its system call but every P is busy: it goes {} and M{m} \
                 is put aside.",
                place_of(g)
            ),
        },
        Ev::HandOff { p } => format!(
            "sysmon takes P{p} from the M blocked in a system call and hands it to \
             another M, so the rest of the queue can run."
        ),
        Ev::ProgramExit { code: 0 } => "main returned: the program exits (status 0) now, \
             whatever the other goroutines are doing."
            .to_string(),
        Ev::ProgramExit { code } => format!(
            "The program dies (status {code}): a panic, a deadlock or a fatal error, \
             reported above."
        ),
    }
}

// ---- the picture --------------------------------------------------------

/// The picture of `snap`: the global run queue, then the Ps side by side
/// (each with its M above and running G below), Ms blocked in a system call
/// beside them, and the parked goroutines.
pub(crate) fn draw(snap: &Snapshot) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n  GRQ: {}",
        queue_text(&snap.grq, snap.grq_len, "empty")
    );
    // Ms without a P but with a G: blocked in a system call (the lesson's
    // "M / G1" hanging beside the P).
    let mut columns: Vec<Vec<String>> = snap
        .ms
        .iter()
        .filter(|m| m.p.is_none() && m.curg.is_some())
        .map(syscall_column)
        .collect();
    for p in &snap.ps {
        let m = snap.ms.iter().find(|m| m.p == Some(p.id));
        columns.push(p_column(p, m));
    }
    out.push('\n');
    out.push_str(&side_by_side(&columns));
    let idle: Vec<String> = snap
        .ms
        .iter()
        .filter(|m| m.p.is_none() && m.curg.is_none())
        .map(|m| format!("M{}", m.id))
        .collect();
    if !idle.is_empty() {
        let _ = writeln!(out, "\n  idle Ms (asleep): {}", idle.join(" "));
    }
    if !snap.waiting.is_empty() {
        let list: Vec<String> = snap
            .waiting
            .iter()
            .map(|(g, why)| format!("G{g} [{why}]"))
            .collect();
        let _ = writeln!(out, "\n  parked: {}", list.join(", "));
    }
    out
}

fn queue_text(items: &[u64], len: usize, empty: &str) -> String {
    if len == 0 {
        return empty.to_string();
    }
    let mut s: Vec<String> = items.iter().map(|g| format!("G{g}")).collect();
    if len > items.len() {
        s.push(format!("(+{} more)", len - items.len()));
    }
    s.join(" ")
}

/// Width of the P box, `+------+`.
const BOX: usize = 8;
/// Column where the LRQ's items start: under the `+` of ` -----+`.
const LRQ_COL: usize = BOX + 6;

fn center(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n >= width {
        return s.to_string();
    }
    let left = (width - n) / 2;
    format!("{}{s}", " ".repeat(left))
}

/// One P: its M above, the box, the running G below, the LRQ beside.
fn p_column(p: &PView, m: Option<&MView>) -> Vec<String> {
    let mut lines = Vec::new();
    match m {
        Some(m) => {
            let spin = if m.spinning { " (spinning)" } else { "" };
            lines.push(center(&format!("M{}{spin}", m.id), BOX));
            lines.push(center("|", BOX));
        }
        None => {
            lines.push(center("no M", BOX));
            lines.push(String::new());
        }
    }
    let label = format!("P{}", p.id);
    let inner = BOX - 2;
    let pad = inner.saturating_sub(label.len());
    let boxed = format!(
        "|{}{label}{}|",
        " ".repeat(pad / 2),
        " ".repeat(pad - pad / 2)
    );
    lines.push(format!("+{}+   LRQ", "-".repeat(inner)));
    lines.push(format!("{boxed} -----+"));
    lines.push(format!(
        "+{}+{}|",
        "-".repeat(inner),
        " ".repeat(LRQ_COL - BOX)
    ));

    let mut queue: Vec<String> = Vec::new();
    if let Some(g) = p.runnext {
        queue.push(format!("G{g} ← runnext"));
    }
    queue.extend(p.lrq.iter().map(|g| format!("G{g}")));
    if p.lrq_len > p.lrq.len() {
        queue.push(format!("(+{} more)", p.lrq_len - p.lrq.len()));
    }
    if queue.is_empty() {
        queue.push("(empty)".to_string());
    }
    // Below the box: `|` and the running G on the left; the queue items,
    // joined by `|`, on the right.
    let running = m.and_then(|m| m.curg);
    let mut left = match (running, p.status) {
        (Some(g), _) => vec![center("|", BOX), center(&format!("G{g}"), BOX)],
        (None, "running") => vec![String::new()],
        (None, status) => vec![center(status, BOX)],
    };
    let mut right = Vec::new();
    for (i, item) in queue.into_iter().enumerate() {
        if i > 0 {
            right.push("|".to_string());
        }
        right.push(item);
    }
    let rows = left.len().max(right.len());
    left.resize(rows, String::new());
    right.resize(rows, String::new());
    for (l, r) in left.into_iter().zip(right) {
        lines.push(format!("{l:<width$}{r}", width = LRQ_COL));
    }
    lines
}

/// An M blocked in a system call, without a P: the M, and its G below.
fn syscall_column(m: &MView) -> Vec<String> {
    let g = m.curg.map_or(String::new(), |g| format!("G{g}"));
    vec![
        format!("M{}", m.id),
        "|".to_string(),
        g,
        "(syscall)".to_string(),
    ]
}

/// Narrowest column: a P whose LRQ starts with `G999 ← runnext`.
const MIN_COLUMN: usize = LRQ_COL + 14;

/// Lay columns side by side, four spaces apart, indented by two.
fn side_by_side(columns: &[Vec<String>]) -> String {
    let rows = columns.iter().map(Vec::len).max().unwrap_or(0);
    // A minimum width keeps the columns still from frame to frame.
    let widths: Vec<usize> = columns
        .iter()
        .map(|c| c.iter().map(|l| l.chars().count()).max().unwrap_or(0))
        .map(|w| w.max(MIN_COLUMN))
        .collect();
    let mut out = String::new();
    for r in 0..rows {
        let mut line = String::from("  ");
        for (c, col) in columns.iter().enumerate() {
            let cell = col.get(r).map_or("", String::as_str);
            let pad = widths[c] - cell.chars().count();
            line.push_str(cell);
            line.push_str(&" ".repeat(pad + 4));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: usize, runnext: Option<u64>, lrq: &[u64]) -> PView {
        PView {
            id,
            status: "running",
            runnext,
            lrq: lrq.to_vec(),
            lrq_len: lrq.len(),
        }
    }

    fn m(id: u64, p: Option<usize>, curg: Option<u64>) -> MView {
        MView {
            id,
            p,
            curg,
            spinning: false,
        }
    }

    /// Lesson 1 after its two `go` statements: the seed's picture, with
    /// runnext.
    fn lesson1_after_go() -> Snapshot {
        Snapshot {
            ps: vec![p(0, Some(3), &[2])],
            ms: vec![m(0, Some(0), Some(1))],
            ..Default::default()
        }
    }

    #[test]
    fn draws_the_lessons_picture_with_runnext() {
        let pic = draw(&lesson1_after_go());
        let expected = "
  GRQ: empty

     M0
     |
  +------+   LRQ
  |  P0  | -----+
  +------+      |
     |          G3 ← runnext
     G1         |
                G2
";
        assert_eq!(pic, expected, "got:\n{pic}");
    }

    #[test]
    fn draws_idle_ps_syscall_ms_queues_and_parked_gs() {
        let snap = Snapshot {
            ps: vec![
                PView {
                    status: "idle",
                    ..p(1, None, &[])
                },
                PView {
                    lrq_len: 12,
                    ..p(0, None, &[5, 6])
                },
            ],
            ms: vec![m(0, None, Some(4)), m(1, None, None), m(2, Some(0), None)],
            grq: vec![7, 8],
            grq_len: 3,
            waiting: vec![(1, "semacquire")],
        };
        let pic = draw(&snap);
        assert!(pic.contains("GRQ: G7 G8 (+1 more)"), "{pic}");
        assert!(pic.contains("idle Ms (asleep): M1"), "{pic}");
        assert!(pic.contains("parked: G1 [semacquire]"), "{pic}");
        assert!(pic.contains("(+10 more)"), "{pic}");
        assert!(pic.contains("(syscall)"), "{pic}");
        assert!(pic.contains("idle"), "{pic}");
        assert!(pic.contains("(empty)"), "{pic}");
        // The syscall M is drawn first, its G below it.
        let lines: Vec<&str> = pic.lines().collect();
        let m0 = lines
            .iter()
            .position(|l| l.trim_start().starts_with("M0"))
            .unwrap();
        assert!(lines[m0 + 2].trim_start().starts_with("G4"), "{pic}");
    }

    #[test]
    fn go_says_who_was_bumped_out_of_runnext() {
        let before = Snapshot {
            ps: vec![p(0, Some(2), &[])],
            ms: vec![m(0, Some(0), Some(1))],
            ..Default::default()
        };
        let ev = Ev::Go {
            g: 3,
            parent: Some(1),
            p: Some(0),
        };
        let s = describe(&ev, Some(&before), &lesson1_after_go());
        assert!(s.contains("G3") && s.contains("into runnext of P0"), "{s}");
        assert!(s.contains("G2, bumped out of runnext"), "{s}");
        let first = describe(&ev, None, &lesson1_after_go());
        assert!(!first.contains("bumped"), "{first}");
    }

    fn story_of(names: &[&str]) -> String {
        // Each distinct name is a distinct frame (same picture).
        let mut story = Story::new();
        let snap = lesson1_after_go();
        let mut out = String::new();
        for (i, name) in names.iter().enumerate() {
            let g = name.as_bytes()[0] as u64;
            let ev = Ev::Exit { g, m: 0 };
            out.push_str(&story.frame(i as u64 * 1_000_000, &ev, &snap));
        }
        out.push_str(&story.finish());
        out
    }

    fn titles(out: &str) -> Vec<String> {
        out.lines()
            .filter(|l| l.starts_with("── #"))
            .map(|l| l.split(" · ").next().unwrap().to_string())
            .collect()
    }

    #[test]
    fn unique_frames_are_all_drawn() {
        let out = story_of(&["a", "b", "c", "d", "e", "f"]);
        assert_eq!(titles(&out).len(), 6);
        assert!(!out.contains('…'));
    }

    #[test]
    fn identical_frames_fold_into_one_line() {
        let out = story_of(&["a", "b", "b", "b", "b", "c"]);
        assert_eq!(titles(&out), ["── #1", "── #2", "── #6"]);
        assert!(out.contains("… ×3: the frame above happens again 3 more times (#3–#5"));
    }

    #[test]
    fn a_cycle_of_frames_folds_and_a_partial_repeat_is_drawn() {
        // a (b c d e) ×3 then b c: the cycle of 4 folds, the last partial
        // repetition (b c) is drawn in full, then f.
        let out = story_of(&[
            "a", "b", "c", "d", "e", "b", "c", "d", "e", "b", "c", "d", "e", "b", "c", "f",
        ]);
        assert_eq!(
            titles(&out),
            [
                "── #1",
                "── #2",
                "── #3",
                "── #4",
                "── #5",
                "── #14",
                "── #15",
                "── #16"
            ]
        );
        assert!(
            out.contains(
                "… ×2: the 4 frames above happen again, in the same order, 2 more times (#6–#13"
            ),
            "{out}"
        );
    }

    #[test]
    fn an_alternation_folds_even_at_the_end() {
        let out = story_of(&["a", "b", "a", "b", "a", "b", "a"]);
        assert_eq!(titles(&out), ["── #1", "── #2", "── #7"]);
        assert!(out.contains("… ×2: the 2 frames above"), "{out}");
    }

    #[test]
    fn wrap_breaks_at_word_boundaries() {
        assert_eq!(wrap("aaa bbb ccc", 7), "aaa bbb\nccc");
        assert_eq!(wrap("aaa", 2), "aaa");
    }
}
