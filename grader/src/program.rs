//! Little goroutine programs, written as text, for testing the runtime.
//!
//! The property tests generate random programs (spawn trees, WaitGroup
//! `add`/`done`/`wait`), run each on the real runtime in a child process
//! (`goprog`, because a deadlock ends the process, as in Go) and compare
//! what happened with the reference model (`model.rs`). This file is the
//! shared language: the syntax tree, its text form and the parser.
//!
//! Text form, one token per operation, separated by spaces:
//!
//! | token | meaning |
//! |---|---|
//! | `work(N)` | print `wN` (work item N was done) |
//! | `add(W,N)` | `wg[W].add(N)` |
//! | `done(W)` | `wg[W].done()` |
//! | `wait(W)` | `wg[W].wait()` |
//! | `yield` | `runtime::gosched()` |
//! | `go{ ... }` | start a goroutine running `...` |
//! | `chan(C,CAP)` | declare channel C: `runtime::chan::<u32>(CAP)` (main's body only, before anything else, C counting up from 0) |
//! | `send(C,V)` | `ch[C].send(V)` |
//! | `close(C)` | `ch[C].close()` |
//! | `range(C)` | `for v in &ch[C]`: print `wV` for each value received, until the channel is closed and drained |
//!
//! A program is its channels, then main's body:
//! `chan(0,0) add(0,1) go{ range(0) done(0) } send(0,1) close(0) wait(0)`.
//! New operations are a new [`Op`] variant, a token here, a step in the
//! model and a line in the interpreter.

use std::fmt;

/// One operation of a goroutine's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Print `w<N>`: the property counts these.
    Work(u32),
    /// `wg[W].add(N)`.
    Add(usize, i32),
    /// `wg[W].done()`.
    Done(usize),
    /// `wg[W].wait()`.
    Wait(usize),
    /// `runtime::gosched()`.
    Yield,
    /// `runtime::go(body)`.
    Go(Vec<Op>),
    /// `ch[C].send(V)`.
    Send(usize, u32),
    /// `ch[C].close()`.
    Close(usize),
    /// `for v in &ch[C] { println!("w{v}") }`: a received value is a work
    /// item, so "every value received exactly once" is the work check.
    Range(usize),
}

/// A program: the body of main's goroutine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// The capacity of each channel (0: unbuffered), indexed by channel.
    pub chans: Vec<usize>,
    /// Main's operations.
    pub main: Vec<Op>,
}

impl Program {
    /// How many WaitGroups the program uses (highest index + 1).
    pub fn wait_groups(&self) -> usize {
        fn max_wg(ops: &[Op]) -> usize {
            ops.iter()
                .map(|op| match op {
                    Op::Add(w, _) | Op::Done(w) | Op::Wait(w) => w + 1,
                    Op::Go(body) => max_wg(body),
                    Op::Work(_) | Op::Yield | Op::Send(..) | Op::Close(_) | Op::Range(_) => 0,
                })
                .max()
                .unwrap_or(0)
        }
        max_wg(&self.main)
    }

    /// The highest channel index the operations use, if any.
    fn max_chan(&self) -> Option<usize> {
        fn max_c(ops: &[Op]) -> Option<usize> {
            ops.iter()
                .filter_map(|op| match op {
                    Op::Send(c, _) | Op::Close(c) | Op::Range(c) => Some(*c),
                    Op::Go(body) => max_c(body),
                    _ => None,
                })
                .max()
        }
        max_c(&self.main)
    }
}

fn write_ops(f: &mut fmt::Formatter<'_>, ops: &[Op]) -> fmt::Result {
    for (i, op) in ops.iter().enumerate() {
        if i > 0 {
            f.write_str(" ")?;
        }
        match op {
            Op::Work(n) => write!(f, "work({n})")?,
            Op::Add(w, n) => write!(f, "add({w},{n})")?,
            Op::Done(w) => write!(f, "done({w})")?,
            Op::Wait(w) => write!(f, "wait({w})")?,
            Op::Yield => f.write_str("yield")?,
            Op::Send(c, v) => write!(f, "send({c},{v})")?,
            Op::Close(c) => write!(f, "close({c})")?,
            Op::Range(c) => write!(f, "range({c})")?,
            Op::Go(body) => {
                f.write_str("go{ ")?;
                write_ops(f, body)?;
                f.write_str(" }")?;
            }
        }
    }
    Ok(())
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (c, cap) in self.chans.iter().enumerate() {
            write!(f, "chan({c},{cap}) ")?;
        }
        write_ops(f, &self.main)
    }
}

impl std::str::FromStr for Program {
    type Err = String;

    fn from_str(text: &str) -> Result<Program, String> {
        // `go{` and `}` may touch their neighbours; give them room.
        let spaced = text.replace("go{", " go{ ").replace('}', " } ");
        let mut tokens = spaced.split_whitespace().peekable();
        let mut chans = Vec::new();
        while let Some(decl) = tokens.next_if(|t| t.starts_with("chan(")) {
            let args = decl.strip_prefix("chan(").and_then(|a| a.strip_suffix(')'));
            match args.and_then(|a| a.split_once(',')) {
                Some((c, cap)) if c.trim().parse() == Ok(chans.len()) => chans.push(
                    cap.trim()
                        .parse()
                        .map_err(|_| format!("bad capacity in {decl:?}"))?,
                ),
                _ => {
                    return Err(format!(
                        "bad declaration {decl:?} (channels count up from 0)"
                    ))
                }
            }
        }
        let main = parse_body(&mut tokens, false)?;
        let program = Program { chans, main };
        match program.max_chan() {
            Some(c) if c >= program.chans.len() => Err(format!("channel {c} is not declared")),
            _ => Ok(program),
        }
    }
}

fn parse_body<'a>(
    tokens: &mut impl Iterator<Item = &'a str>,
    nested: bool,
) -> Result<Vec<Op>, String> {
    let mut ops = Vec::new();
    while let Some(tok) = tokens.next() {
        let op = match tok {
            "}" if nested => return Ok(ops),
            "}" => return Err("unmatched `}`".into()),
            "go{" => Op::Go(parse_body(tokens, true)?),
            "yield" => Op::Yield,
            _ => {
                let (name, args) = tok
                    .strip_suffix(')')
                    .and_then(|t| t.split_once('('))
                    .ok_or_else(|| format!("unknown token {tok:?}"))?;
                let nums: Vec<i64> = args
                    .split(',')
                    .map(|a| a.trim().parse::<i64>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| format!("bad arguments in {tok:?}"))?;
                let wg = |i: usize| {
                    usize::try_from(nums[i]).map_err(|_| format!("bad WaitGroup in {tok:?}"))
                };
                let ch = |i: usize| {
                    usize::try_from(nums[i]).map_err(|_| format!("bad channel in {tok:?}"))
                };
                match (name, nums.len()) {
                    ("work", 1) => Op::Work(
                        u32::try_from(nums[0]).map_err(|_| format!("bad work id in {tok:?}"))?,
                    ),
                    ("add", 2) => Op::Add(
                        wg(0)?,
                        i32::try_from(nums[1]).map_err(|_| format!("bad delta in {tok:?}"))?,
                    ),
                    ("done", 1) => Op::Done(wg(0)?),
                    ("wait", 1) => Op::Wait(wg(0)?),
                    ("send", 2) => Op::Send(
                        ch(0)?,
                        u32::try_from(nums[1]).map_err(|_| format!("bad value in {tok:?}"))?,
                    ),
                    ("close", 1) => Op::Close(ch(0)?),
                    ("range", 1) => Op::Range(ch(0)?),
                    _ => return Err(format!("unknown token {tok:?}")),
                }
            }
        };
        ops.push(op);
    }
    if nested {
        Err("missing `}`".into())
    } else {
        Ok(ops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_form_round_trips() {
        let text = "add(0,2) go{ work(1) done(0) } go{ yield go{ work(2) } done(0) } wait(0)";
        let p: Program = text.parse().unwrap();
        assert_eq!(p.to_string(), text);
        assert_eq!(p.wait_groups(), 1);
        assert_eq!(p.main.len(), 4);
        let text = "chan(0,0) chan(1,2) go{ send(0,4) close(0) } range(0) send(1,0)";
        let p: Program = text.parse().unwrap();
        assert_eq!(p.to_string(), text);
        assert_eq!(p.chans, [0, 2]);
        assert_eq!(
            "go{work(1)}".parse::<Program>().unwrap().to_string(),
            "go{ work(1) }"
        );
    }

    #[test]
    fn bad_text_is_refused() {
        for bad in [
            "go{ work(1)",
            "}",
            "work(x)",
            "frob(1)",
            "add(1)",
            "wait(-1)",
            "send(0,1)",
            "chan(1,0) range(1)",
            "chan(0,-1) range(0)",
            "chan(0,0) range(1)",
            "chan(0,0) send(0,-1)",
            "work(1) chan(0,0)",
        ] {
            assert!(bad.parse::<Program>().is_err(), "{bad}");
        }
    }
}
