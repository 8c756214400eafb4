//! Hostile: prints the environment, its uid and whether the network answers
//! in a line the check quotes.

fn main() {
    let env: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    let uid = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap_or_default()
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let net = std::net::TcpStream::connect_timeout(
        &"127.0.0.1:9".parse().unwrap(),
        std::time::Duration::from_millis(200),
    )
    .map(|_| "open")
    .unwrap_or_else(|e| if e.kind() == std::io::ErrorKind::ConnectionRefused { "refused" } else { "unreachable" });
    println!("uid={uid} net={net} {}", env.join(" "));
}
