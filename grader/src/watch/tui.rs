//! The terminal screen (ratatui on crossterm), laid out for 80×24:
//!
//! ```text
//!  Exercise 5 of 7: a pipeline: generate, square, sum over channels
//!  lessons/exercises/exercise5.rs                          checking ...
//!
//!  ✔ 2/2 ends without a deadlock: each channel closed, so each range ends
//!  ✘ 0/2 no goroutine left blocked when main is done (goroutines left: 0)
//!        → goroutines left: 1: a goroutine is still blocked when main ...
//!
//!  score 5/7; stuck? press h
//!  [#########>----------] 4/7 exercises
//!  watching: file events · exercise5.rs saved
//!  h hint  l list  r run  t trace  c check  q quit
//! ```
//!
//! The hint, the list and a run's output cover the checks in a box; Esc (or
//! the same key) closes it.

use std::io;
use std::sync::mpsc::Sender;
use std::thread;

use ratatui::crossterm::event::{self, Event as CtEvent, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::{DefaultTerminal, Frame};

use super::{Event, Face, Happened, Key, Overlay, State};
use crate::catalog::EXERCISES;
use crate::report;

/// Read keys from the terminal on a thread of their own.
pub(super) fn spawn_keys(events: Sender<Event>) {
    thread::spawn(move || loop {
        let Ok(ev) = event::read() else { return };
        let sent = match ev {
            CtEvent::Key(k) if k.kind == KeyEventKind::Press => {
                let key = match k.code {
                    KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                        Some(Key::Char('q'))
                    }
                    KeyCode::Char(c) => Some(Key::Char(c.to_ascii_lowercase())),
                    KeyCode::Enter => Some(Key::Enter),
                    KeyCode::Esc => Some(Key::Esc),
                    KeyCode::Up => Some(Key::Up),
                    KeyCode::Down => Some(Key::Down),
                    KeyCode::PageUp => Some(Key::PageUp),
                    KeyCode::PageDown => Some(Key::PageDown),
                    _ => None,
                };
                match key {
                    Some(key) => events.send(Event::Key(key)),
                    None => Ok(()),
                }
            }
            CtEvent::Resize(..) => events.send(Event::Redraw),
            _ => Ok(()),
        };
        if sent.is_err() {
            return;
        }
    });
}

/// The terminal, in raw mode on the alternate screen while this lives.
pub(super) struct Screen {
    terminal: DefaultTerminal,
}

impl Screen {
    /// Take over the terminal (restored on drop, and on a panic).
    pub(super) fn open() -> io::Result<Screen> {
        Ok(Screen {
            terminal: ratatui::try_init()?,
        })
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

impl Face for Screen {
    fn show(&mut self, state: &State, _what: &Happened) -> io::Result<()> {
        self.terminal.draw(|f| draw(f, state)).map(drop)
    }
}

const GREEN: Style = Style::new().fg(Color::Green);
const RED: Style = Style::new().fg(Color::Red);
const DIM: Style = Style::new().fg(Color::DarkGray);

fn draw(f: &mut Frame, state: &State) {
    let [title, file, checks, score, bar, status, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let ex = state.exercise();

    f.render_widget(
        Line::from(format!(
            " Exercise {} of {}: {}",
            ex.key,
            EXERCISES.len(),
            ex.title
        ))
        .bold(),
        title,
    );
    let busy = state
        .busy
        .as_ref()
        .map(|b| format!("{b} ..."))
        .unwrap_or_default();
    let [path, right] = Layout::horizontal([
        Constraint::Min(10),
        Constraint::Length(busy.chars().count() as u16 + 1),
    ])
    .areas(file);
    f.render_widget(
        Line::from(format!(" {}", state.file(state.current).display())).style(DIM),
        path,
    );
    f.render_widget(Line::from(busy).yellow(), right);

    f.render_widget(
        Paragraph::new(check_text(state)).wrap(Wrap { trim: false }),
        checks,
    );

    let score_line = match (state.prompt, state.score()) {
        (Some(next), _) => Line::from(vec![
            Span::styled(format!(" ✔ Exercise {} passes! ", ex.key), GREEN.bold()),
            Span::raw(format!("Move on to exercise {}? ", EXERCISES[next].key)),
            Span::styled("[y]es / [n]o", Style::new().bold()),
        ]),
        (None, Some((s, m))) if s == m && state.done() == EXERCISES.len() => {
            Line::styled(" ✔ Every exercise passes: well done!", GREEN.bold())
        }
        (None, Some((s, m))) if s == m => Line::styled(
            format!(" ✔ Exercise {} passes ({s}/{m}); l: the list", ex.key),
            GREEN,
        ),
        (None, Some((s, m))) if compile_error(state) => Line::from(format!(
            " score {s}/{m}; it does not compile: r shows the compiler's whole message"
        )),
        (None, Some((s, m))) => Line::from(format!(" score {s}/{m}; stuck? press h")),
        (None, None) => Line::from(""),
    };
    f.render_widget(score_line, score);
    f.render_widget(
        Line::from(format!(
            " {}",
            report::progress_bar(state.done(), EXERCISES.len(), 20)
        )),
        bar,
    );
    let mut status_text = format!(" watching: {}", state.watching);
    if !state.note.is_empty() {
        status_text.push_str(&format!(" · {}", state.note));
    }
    f.render_widget(Line::from(status_text).style(DIM), status);
    f.render_widget(
        Line::from(" h hint  l list  r run  t trace  c check  q quit").reversed(),
        keys,
    );

    match &state.overlay {
        Overlay::None => {}
        Overlay::Hint { text, scroll } => popup(
            f,
            &format!(" Hint: exercise {} (h or Esc closes, ↑↓ scroll) ", ex.key),
            Text::from(text.as_str()),
            *scroll,
            true,
        ),
        Overlay::Output {
            title,
            text,
            scroll,
        } => popup(
            f,
            &format!(" {title} · Esc closes, ↑↓ scroll "),
            Text::from(text.as_str()),
            *scroll,
            !title.starts_with("scheduler trace"),
        ),
        Overlay::List { selected } => {
            let lines: Vec<Line> = EXERCISES
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let (mark, style) = match state.passes(i) {
                        Some(true) => ("✔", GREEN),
                        Some(false) => ("✘", RED),
                        None => ("?", DIM),
                    };
                    let here = if i == state.current { "▸" } else { " " };
                    let line = Line::from(vec![
                        Span::raw(format!("{here} ")),
                        Span::styled(mark, style),
                        Span::raw(format!(" {:<3} {}", e.key, e.title)),
                    ]);
                    if i == *selected {
                        line.add_modifier(Modifier::REVERSED)
                    } else {
                        line
                    }
                })
                .collect();
            popup(
                f,
                " Exercises (↑↓ choose, Enter go, l or Esc closes) ",
                Text::from(lines),
                0,
                true,
            );
        }
    }
}

/// The checks of the current exercise, or what is happening instead.
fn check_text(state: &State) -> Text<'static> {
    let mut lines = vec![Line::from("")];
    match &state.results[state.current] {
        None if state.starting => lines.push(Line::from(" checking every exercise ...")),
        None => lines.push(Line::from(" not checked yet")),
        Some(results) => {
            // A run that failed fails every check with one reason: say it
            // once, under the first.
            let mut said: Option<&str> = None;
            for r in results {
                let (mark, style) = if r.passed {
                    ("✔", GREEN)
                } else {
                    ("✘", RED)
                };
                let reason = r
                    .reason
                    .trim_end_matches(&*format!(" (in each of {} runs)", r.check.attempts));
                let again = !r.passed && said == Some(reason);
                lines.push(Line::from(vec![
                    Span::styled(format!(" {mark} "), style),
                    Span::raw(format!(
                        "{}/{} {}",
                        r.score(),
                        r.check.points,
                        r.check.title
                    )),
                    Span::styled(if again { " (same reason)" } else { "" }, DIM),
                ]));
                if !r.passed && !again {
                    lines.push(Line::styled(format!("       → {}", r.reason), style));
                    said = Some(reason);
                }
            }
        }
    }
    Text::from(lines)
}

/// Did the current exercise fail to compile?
fn compile_error(state: &State) -> bool {
    state.results[state.current]
        .iter()
        .flatten()
        .any(|r| r.reason.starts_with("does not compile"))
}

/// A box over the screen between the title and the key line; long lines
/// wrap unless the text is a drawing (`wrap` false: the trace's pictures).
fn popup(f: &mut Frame, title: &str, text: Text, scroll: u16, wrap: bool) {
    let area = f.area();
    let inner = Rect {
        x: area.x,
        y: area.y + 1,
        width: area.width,
        height: area.height.saturating_sub(3),
    };
    f.render_widget(Clear, inner);
    let mut p = Paragraph::new(text)
        .block(Block::bordered().title(title.to_string()))
        .scroll((scroll, 0));
    if wrap {
        p = p.wrap(Wrap { trim: false });
    }
    f.render_widget(p, inner);
}
