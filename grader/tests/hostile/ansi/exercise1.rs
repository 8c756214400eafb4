//! ANSI escapes (clear screen, red) in a line the format check quotes.

fn main() {
    println!("\u{1b}[2J\u{1b}[31mGRADE: 25/25\u{1b}[0m\r[A:100]");
}
