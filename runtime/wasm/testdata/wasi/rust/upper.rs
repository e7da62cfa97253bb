//! upper-rust is a WASI command plugin in plain Rust (std only, no crates, no
//! SDK): it reads the message from stdin and writes it upper-cased (ASCII a-z
//! only, byte by byte) to stdout. With the input "fail" it writes a reason to
//! stderr and exits with status 3; with "panic" it panics, which on
//! wasm32-wasi ends in an `unreachable` trap (there is no unwinding).
//! Built by ../build.sh into ../upper-rust.wasm.
use std::io::{self, Read, Write};
use std::process;

fn main() {
    let mut input = Vec::new();
    if let Err(err) = io::stdin().lock().read_to_end(&mut input) {
        eprintln!("upper-rust: reading stdin: {}", err);
        process::exit(1);
    }
    match input.as_slice() {
        b"fail" => {
            eprintln!("upper-rust: refusing the input \"fail\"");
            process::exit(3);
        }
        b"panic" => panic!("upper-rust: deliberate panic"),
        _ => {}
    }
    let route = std::env::var_os("SLUICE_ROUTE").unwrap_or_default();
    // One write for the whole line: eprintln! with arguments writes each
    // piece separately to the unbuffered stderr (one fd_write per piece).
    let line = format!(
        "upper-rust: {} bytes for route {}\n",
        input.len(),
        route.to_string_lossy()
    );
    let _ = io::stderr().write_all(line.as_bytes());
    input.make_ascii_uppercase();
    let mut out = io::stdout().lock();
    if let Err(err) = out.write_all(&input).and_then(|()| out.flush()) {
        eprintln!("upper-rust: writing stdout: {}", err);
        process::exit(1);
    }
}
