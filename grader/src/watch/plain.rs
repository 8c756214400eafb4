//! Plain lines, for when stdout is not a terminal (a pipe, `tee`, CI): the
//! same loop, printed as `just check` prints, with commands typed as lines
//! (`h`, `l`, `l 5`, `r`, `t`, `c`, `y`, `n`, `q`). When the input ends
//! (`< /dev/null`), the watch finishes what it is doing and stops: one
//! check of every exercise, printed, is then what a CI log gets.

use std::io::{BufRead, Write};
use std::sync::mpsc::Sender;
use std::thread;

use super::{Event, Face, Happened, Overlay, State};
use crate::catalog::EXERCISES;
use crate::report;

/// Read typed commands from stdin, one per line.
pub(super) fn spawn_lines(events: Sender<Event>) {
    thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if events.send(Event::Line(line.trim().to_string())).is_err() {
                return;
            }
        }
        let _ = events.send(Event::InputClosed);
    });
}

/// The line printer.
pub(super) struct Lines {
    out: std::io::Stdout,
}

impl Lines {
    pub(super) fn new() -> Lines {
        Lines {
            out: std::io::stdout(),
        }
    }
}

/// The bar and the points of the course, one line.
pub(super) fn bar(state: &State) -> String {
    report::progress_bar(state.done(), EXERCISES.len(), 20)
}

impl Face for Lines {
    fn show(&mut self, state: &State, what: &Happened) -> std::io::Result<()> {
        let mut o = self.out.lock();
        let ex = state.exercise();
        match what {
            Happened::Nothing => {}
            Happened::Busy => {
                if let Some(busy) = &state.busy {
                    writeln!(o, "{busy} ...")?;
                }
            }
            Happened::Note => writeln!(o, "{}", state.note)?,
            Happened::Started | Happened::Checked | Happened::Moved => {
                if *what == Happened::Moved {
                    writeln!(o, "\nexercise {}: {}", ex.key, ex.title)?;
                    return Ok(());
                }
                writeln!(
                    o,
                    "\nexercise {} ({}): {}",
                    ex.key,
                    state.file(state.current).display(),
                    ex.title
                )?;
                if let Some(results) = &state.results[state.current] {
                    write!(o, "{}", report::check_lines(results))?;
                }
                if let Some((score, max)) = state.score() {
                    if score == max {
                        writeln!(o, "score {score}/{max}: exercise {} passes", ex.key)?;
                    } else {
                        writeln!(o, "score {score}/{max}; stuck? type h (hint)")?;
                    }
                }
                writeln!(o, "{}", bar(state))?;
                match state.prompt {
                    Some(next) => writeln!(
                        o,
                        "move on to exercise {} ({})? [y/n]",
                        EXERCISES[next].key, EXERCISES[next].title
                    )?,
                    None if state.done() == EXERCISES.len() => {
                        writeln!(o, "every exercise passes: well done!")?
                    }
                    None => writeln!(
                        o,
                        "watching {} ({}); type h, l, r, t, c or q and Enter",
                        state.file(state.current).display(),
                        state.watching
                    )?,
                }
            }
            Happened::Overlay => match &state.overlay {
                Overlay::None => {}
                Overlay::Hint { text, .. } => writeln!(o, "{}", text.trim_end())?,
                Overlay::List { .. } => {
                    for (i, e) in EXERCISES.iter().enumerate() {
                        let mark = match state.passes(i) {
                            Some(p) => report::mark(p),
                            None => "?",
                        };
                        let here = if i == state.current { ">" } else { " " };
                        writeln!(o, "{here} {mark} {:<3} {}", e.key, e.title)?;
                    }
                    writeln!(o, "type l N (or go N) to go to exercise N")?;
                }
                Overlay::Output { title, text, .. } => {
                    writeln!(o, "---- {title} ----")?;
                    writeln!(o, "{}", text.trim_end())?;
                    writeln!(o, "----")?;
                }
            },
        }
        o.flush()
    }
}
