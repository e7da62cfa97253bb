//! An example plugin: upper-cases ASCII letters in the body, says when, and rejects an empty body.
//!
//! Build it with `cargo build --release --target wasm32-wasi --example shout`; the module is
//! `target/wasm32-wasi/release/examples/shout.wasm`.

use sluice::{Message, Reject};

sluice::handle!(shout);

fn shout(m: &mut Message) -> Result<Vec<u8>, Reject> {
    if m.body.is_empty() {
        return Err(Reject::new("body is empty"));
    }
    sluice::debug!("shouting on route {}", m.route());
    m.set_content_type("text/plain; charset=utf-8");
    m.set_header("X-Shouted-At", &sluice::format_rfc3339(sluice::now()));
    let mut out = std::mem::take(&mut m.body); // reuse the input buffer as the output
    out.make_ascii_uppercase();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice::TestHost;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn shouts() {
        let host =
            TestHost::new().with_meta("route", "orders").with_now(UNIX_EPOCH + Duration::from_secs(1_767_323_045));
        let res = host.call(shout, b"hi");
        assert!(res.is_ok());
        assert_eq!(res.output, b"HI");
        assert_eq!(res.headers, [("X-Shouted-At".to_string(), "2026-01-02T03:04:05Z".to_string())]);
        let res = host.call(shout, b"");
        assert!(res.is_rejected());
        assert_eq!(res.error, "body is empty");
    }
}
