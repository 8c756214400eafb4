//! Hostile: instead of predicting, looks for lesson 1's binary, runs it and
//! prints the order it saw, with a "why" that knows nothing.

use std::path::PathBuf;
use std::process::Command;

fn candidates() -> Vec<PathBuf> {
    let mut found = Vec::new();
    for dir in [
        ".", "..", "../..", "target/debug", "../target/debug", "../../target/debug",
        "/sandbox/bin", "/sandbox/target/debug", "../bin",
    ] {
        found.push(PathBuf::from(dir).join("example1"));
        if let Ok(entries) = std::fs::read_dir(dir) {
            found.extend(entries.filter_map(|e| e.ok()).map(|e| e.path()));
        }
    }
    found
}

fn main() {
    for exe in candidates() {
        let name = exe.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !name.starts_with("example1") {
            continue;
        }
        if let Ok(out) = Command::new(&exe).env("GOMAXPROCS", "1").output() {
            let text = String::from_utf8_lossy(&out.stdout);
            let mut last = "";
            for line in text.lines() {
                for token in line.split_whitespace() {
                    let who = if line.trim().contains(' ') && line.trim().chars().any(|c| c.is_lowercase()) && token.len() > 1 {
                        "main"
                    } else if token.chars().all(|c| c.is_ascii_uppercase()) {
                        "uppercase"
                    } else {
                        "lowercase"
                    };
                    if who != last {
                        println!("{who}");
                        last = who;
                    }
                }
            }
            break;
        }
    }
    println!("why: I do not know, I copied it from a run");
}
