//! Guest SDK for Sluice transformation plugins, in Rust.
//!
//! A plugin is a WebAssembly module that the Sluice host calls once per message, between the durable log and
//! the destination: it receives the message body, returns a new body (or rejects the message), and may set the
//! outgoing content type and headers. This crate implements the guest side of the plugin ABI (`sdk/ABI.md`,
//! version [`ABI_VERSION`]) so that plugin code never sees a pointer:
//!
//! ```no_run
//! use sluice::{Message, Reject};
//!
//! sluice::handle!(transform);
//!
//! fn transform(m: &mut Message) -> Result<Vec<u8>, Reject> {
//!     if m.body.is_empty() {
//!         return Err(Reject::new("body is empty"));
//!     }
//!     m.set_content_type("text/plain");
//!     Ok(m.body.to_ascii_uppercase())
//! }
//! ```
//!
//! Build it as a `cdylib` for `wasm32-wasi` or `wasm32-unknown-unknown`:
//!
//! ```text
//! cargo build --release --target wasm32-wasi
//! ```
//!
//! # Registration is a macro
//!
//! The host calls fixed exports (`sluice_abi_version`, `sluice_alloc`, `sluice_transform`). [`handle!`] defines
//! all three in the plugin crate and binds `sluice_transform` to the handler at compile time: there is no global
//! registry and nothing runs before the first message. A crate that does not invoke `handle!` exports nothing and
//! is refused by the host at load; one that invokes it twice does not link.
//!
//! # Lifetime and concurrency
//!
//! The host never calls one instance concurrently, and it reuses an instance for many messages, so statics
//! persist between calls. Do not rely on that: the host may discard an instance at any time (always after a
//! trap) and run several instances of the same plugin side by side.
//!
//! The [`Message`] lives only for the duration of one handler call (the borrow checker enforces it). Its `body`
//! is the SDK's input buffer: leave it in place and it is reused for the next message, or take it
//! (`std::mem::take(&mut m.body)`) to return it as the output without a copy.
//!
//! # Panics trap
//!
//! Rust's standard library for `wasm32` is built with `panic = "abort"`, so a panic cannot be caught: the SDK's
//! panic hook sends `sluice: handler panicked: <message> (<file:line>)` to the host's log at error level, then
//! the module executes `unreachable`. The host fails the message with code `trap` and discards the instance.
//! Out-of-memory inside the handler aborts the same way (code `memory_limit` when memory is at the cap).
//!
//! # Testing natively
//!
//! On targets other than `wasm32` the host imports are replaced by an in-process stand-in, [`TestHost`], so that
//! handlers can be unit-tested with a plain `cargo test`.

#![warn(missing_docs)]

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod guest;
#[cfg(target_arch = "wasm32")]
mod host;
#[cfg(not(target_arch = "wasm32"))]
#[path = "testhost.rs"]
mod host;
mod time;

#[cfg(not(target_arch = "wasm32"))]
pub use host::{LogRecord, Outcome, TestHost};
pub use time::{format_rfc3339, parse_rfc3339};

/// The version of the Sluice plugin ABI implemented by this SDK (`sdk/ABI.md`). [`handle!`] exports it as
/// `sluice_abi_version`; the host refuses modules that report a version it does not support.
pub const ABI_VERSION: i32 = 1;

/// Defines the plugin's exports and routes every message to `handler`.
///
/// `handler` is any function or closure of the shape `fn(&mut Message) -> Result<O, E>`, where the output `O`
/// is anything that is `AsRef<[u8]>` (`Vec<u8>`, `String`, `&'static str`, ...) and the error `E` is anything
/// that is `Display + 'static` ([`Reject`], `String`, `&'static str`, `std::num::ParseIntError`, ...):
///
/// - `Ok(out)`: success; `out` is the new body (empty means an empty body).
/// - `Err(e)`: the message is rejected with error code `plugin_rejected` and `e.to_string()` as its message,
///   which reaches the sender (for a [`Reject`], its bytes as they are). Rejections are not retried.
///
/// Invoke it once, at the top level of the plugin crate (a `cdylib`):
///
/// ```no_run
/// sluice::handle!(|m: &mut sluice::Message| -> Result<Vec<u8>, sluice::Reject> { Ok(m.body.clone()) });
/// ```
///
/// It expands to `#[no_mangle]` definitions of `sluice_abi_version`, `sluice_alloc` and `sluice_transform`, and
/// on `wasm32-wasi` of `_initialize`, which runs the C library's constructors once (the WASI reactor model).
#[macro_export]
macro_rules! handle {
    ($handler:expr) => {
        const _: () = {
            #[no_mangle]
            pub extern "C" fn sluice_abi_version() -> i32 {
                $crate::ABI_VERSION
            }

            #[no_mangle]
            pub extern "C" fn sluice_alloc(size: i32) -> *mut u8 {
                $crate::__private::alloc(size)
            }

            #[no_mangle]
            pub extern "C" fn sluice_transform(ptr: *mut u8, len: i32) -> i32 {
                $crate::__private::transform(ptr, len, $handler)
            }

            // On wasm32-wasi, run the C library's constructors once per instance, as a WASI reactor does. Without
            // an explicit call the linker wraps every export in constructor and destructor calls instead.
            #[cfg(target_os = "wasi")]
            #[no_mangle]
            pub extern "C" fn _initialize() {
                extern "C" {
                    fn __wasm_call_ctors();
                }
                // SAFETY: the host calls _initialize once, before any other export (sdk/ABI.md).
                unsafe { __wasm_call_ctors() }
            }
        };
    };
}

/// Implementation details used by [`handle!`]; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::guest::{alloc, transform};
}

/// One message being transformed. It exists only while the handler runs; its methods talk to the host.
///
/// Not constructible outside the SDK: a handler gets a `&mut Message` from [`handle!`] (or from
/// [`TestHost::call`] in native tests).
pub struct Message {
    /// The input: the incoming message body, or the previous plugin's output in a chain.
    ///
    /// This is the SDK's input buffer. Modify it in place, or move it out with `std::mem::take(&mut m.body)` to
    /// return it as the output without copying (the SDK then allocates a new buffer for the next message).
    pub body: Vec<u8>,
    _private: (),
}

impl Message {
    pub(crate) fn new(body: Vec<u8>) -> Message {
        Message { body, _private: () }
    }

    /// Returns the message metadata stored under `key`, or `None` if the host does not know it. See `sdk/ABI.md`
    /// for the keys; the accessors below cover the common ones. Bytes that are not UTF-8 are replaced with
    /// U+FFFD.
    pub fn meta(&self, key: &str) -> Option<String> {
        guest::lookup(&[key.as_bytes()])
    }

    /// Returns the name of the route the message arrived on (`""` if unknown).
    pub fn route(&self) -> String {
        self.meta("route").unwrap_or_default()
    }

    /// Returns the message's correlation ID (`""` if unknown).
    pub fn correlation_id(&self) -> String {
        self.meta("correlation_id").unwrap_or_default()
    }

    /// Returns the content type of the incoming message, not of a previous plugin's output (`""` if unknown).
    pub fn content_type(&self) -> String {
        self.meta("content_type").unwrap_or_default()
    }

    /// Returns the name this plugin is configured under (`""` if unknown).
    pub fn plugin(&self) -> String {
        self.meta("plugin").unwrap_or_default()
    }

    /// Returns when the host accepted the message, or `None` if the host did not say.
    pub fn received_at(&self) -> Option<SystemTime> {
        self.meta("received_at").and_then(|v| parse_rfc3339(&v))
    }

    /// Returns the first value of the incoming request header `name`, matched case-insensitively, or `None` if
    /// the request did not carry it.
    pub fn header(&self, name: &str) -> Option<String> {
        guest::lookup(&[b"header:", name.as_bytes()])
    }

    /// Sets the content type of the output, sent to the destination. The last call wins.
    pub fn set_content_type(&mut self, content_type: &str) {
        host::set_content_type(content_type);
    }

    /// Sets a header on the destination request, replacing an earlier value of the same name.
    pub fn set_header(&mut self, name: &str, value: &str) {
        host::set_header(name, value);
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message").field("body", &String::from_utf8_lossy(&self.body)).finish()
    }
}

/// A rejection: the handler's answer to bad input. The host fails the message with error code
/// `plugin_rejected` and this text, which reaches the sender: keep it short, specific and safe to show
/// (`"email" must contain "@"`).
///
/// Any error type that is `Display` may be returned from a handler; `Reject` is the plain one, and the only one
/// whose text may be bytes that are not UTF-8 (see [`Reject::from_bytes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    message: Vec<u8>,
}

impl Reject {
    /// Returns a rejection with `message` as the reason.
    pub fn new(message: impl Into<String>) -> Reject {
        Reject { message: message.into().into_bytes() }
    }

    /// Returns a rejection whose reason is exactly these bytes, UTF-8 or not (for example when it quotes raw
    /// input). The host passes them on unchanged.
    pub fn from_bytes(message: impl Into<Vec<u8>>) -> Reject {
        Reject { message: message.into() }
    }

    /// Returns the reason, with bytes that are not UTF-8 replaced by U+FFFD.
    pub fn message(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.message)
    }

    /// Returns the reason as the bytes the host receives.
    pub fn as_bytes(&self) -> &[u8] {
        &self.message
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Reject {}

impl From<&str> for Reject {
    fn from(message: &str) -> Reject {
        Reject::new(message)
    }
}

impl From<String> for Reject {
    fn from(message: String) -> Reject {
        Reject::new(message)
    }
}

/// The severity of a log record, numbered as in the ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(i32)]
pub enum Level {
    /// `0`
    Debug = 0,
    /// `1`
    Info = 1,
    /// `2`
    Warn = 2,
    /// `3`
    Error = 3,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        })
    }
}

/// Sends `msg` to the host's log at `level`. It may be called at any time. On `wasm32-wasi`, standard output
/// and standard error reach the host log too, without a level; on `wasm32-unknown-unknown` they go nowhere.
pub fn log(level: Level, msg: &str) {
    host::log(level as i32, msg);
}

/// Formats its arguments like `format!` and logs the result at [`Level::Debug`].
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log($crate::Level::Debug, &::std::format!($($arg)+)) };
}

/// Formats its arguments like `format!` and logs the result at [`Level::Info`].
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log($crate::Level::Info, &::std::format!($($arg)+)) };
}

/// Formats its arguments like `format!` and logs the result at [`Level::Warn`].
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log($crate::Level::Warn, &::std::format!($($arg)+)) };
}

/// Formats its arguments like `format!` and logs the result at [`Level::Error`].
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log($crate::Level::Error, &::std::format!($($arg)+)) };
}

/// Returns the host's wall clock. Prefer it to `SystemTime::now()`, which panics on `wasm32-unknown-unknown`
/// and which the host cannot control (for example in replays and tests).
pub fn now() -> SystemTime {
    from_unix_nanos(now_unix_nanos())
}

/// Returns the host's wall clock in nanoseconds since the Unix epoch.
pub fn now_unix_nanos() -> i64 {
    host::now()
}

fn from_unix_nanos(ns: i64) -> SystemTime {
    if ns >= 0 {
        UNIX_EPOCH + Duration::from_nanos(ns as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos(ns.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shout(m: &mut Message) -> Result<Vec<u8>, Reject> {
        if m.body.is_empty() {
            return Err(Reject::new("body is empty"));
        }
        crate::debug!("shouting on route {}", m.route());
        m.set_content_type("text/plain; charset=utf-8");
        m.set_header("X-Shouted-At", &format_rfc3339(now()));
        Ok(m.body.to_ascii_uppercase())
    }

    #[test]
    fn outcomes() {
        let host =
            TestHost::new().with_meta("route", "orders").with_now(UNIX_EPOCH + Duration::from_secs(1_767_323_045));
        let res = host.call(shout, b"hi");
        assert_eq!(res.code, 0);
        assert_eq!(res.output, b"HI");
        assert_eq!(res.content_type, "text/plain; charset=utf-8");
        assert_eq!(res.headers, vec![("X-Shouted-At".to_string(), "2026-01-02T03:04:05Z".to_string())]);
        assert_eq!(res.logs, vec![LogRecord { level: Level::Debug, message: "shouting on route orders".into() }]);

        let res = host.call(shout, b"");
        assert!(res.is_rejected());
        assert_eq!(res.error, "body is empty");
        assert!(res.output.is_empty());
    }

    #[test]
    fn any_display_error_rejects() {
        let res =
            TestHost::new().call(|_: &mut Message| -> Result<&'static str, String> { Err(format!("n={}", 3)) }, b"x");
        assert_eq!((res.code, res.error.as_str()), (1, "n=3"));
        let raw = |_: &mut Message| -> Result<Vec<u8>, Reject> { Err(Reject::from_bytes(&b"bad \xff"[..])) };
        assert_eq!(TestHost::new().call(raw, b"x").error, "bad \u{fffd}");
        assert_eq!(Reject::from_bytes(&b"bad \xff"[..]).as_bytes(), b"bad \xff");
    }

    #[test]
    fn empty_output_sets_nothing() {
        let res = TestHost::new().call(|_: &mut Message| -> Result<Vec<u8>, Reject> { Ok(Vec::new()) }, b"x");
        assert_eq!(res.code, 0);
        assert!(res.output.is_empty());
    }

    #[test]
    fn body_moves_out_and_buffer_is_reallocated() {
        let host = TestHost::new();
        let take = |m: &mut Message| -> Result<Vec<u8>, Reject> {
            let mut b = std::mem::take(&mut m.body);
            b.push(b'!');
            Ok(b)
        };
        assert_eq!(host.call(take, b"one").output, b"one!");
        assert_eq!(host.call(take, b"two").output, b"two!");
        let big = vec![b'x'; 100_000];
        assert_eq!(host.call(take, &big).output.len(), 100_001);
        assert_eq!(host.call(|m: &mut Message| -> Result<Vec<u8>, Reject> { Ok(m.body.clone()) }, b"").output, b"");
    }

    #[test]
    fn metadata_and_headers() {
        let host = TestHost::new()
            .with_meta("route", "r")
            .with_meta("correlation_id", "c-1")
            .with_meta("content_type", "application/json")
            .with_meta("plugin", "p")
            .with_meta("received_at", "2026-01-02T03:04:05.123456789Z")
            .with_meta(&format!("{}X-Long", "header:"), &"v".repeat(1000))
            .with_header("X-Tenant", "acme");
        let res = host.call(
            |m: &mut Message| -> Result<String, Reject> {
                let at = m.received_at().ok_or("no received_at")?;
                Ok(format!(
                    "{}|{}|{}|{}|{}|{:?}|{:?}|{}|{:?}",
                    m.route(),
                    m.correlation_id(),
                    m.content_type(),
                    m.plugin(),
                    format_rfc3339(at),
                    m.header("x-tenant"),
                    m.header("X-Missing"),
                    m.header("x-long").map(|v| v.len()).unwrap_or(0),
                    m.meta("no-such-key"),
                ))
            },
            b"",
        );
        assert_eq!(
            String::from_utf8(res.output).unwrap(),
            "r|c-1|application/json|p|2026-01-02T03:04:05.123456789Z|Some(\"acme\")|None|1000|None"
        );
    }

    #[test]
    fn headers_replace_by_name() {
        let res = TestHost::new().call(
            |m: &mut Message| -> Result<Vec<u8>, Reject> {
                m.set_header("X-A", "1");
                m.set_header("X-B", "2");
                m.set_header("x-a", "3");
                Ok(Vec::new())
            },
            b"",
        );
        assert_eq!(res.headers, vec![("x-a".to_string(), "3".to_string()), ("X-B".to_string(), "2".to_string())]);
    }

    #[test]
    fn alloc_and_transform_check_the_buffer() {
        assert!(guest::alloc(-1).is_null());
        let p = guest::alloc(0);
        assert!(!p.is_null());
        let mut other = [0u8; 4];
        let code = TestHost::new().run(|| {
            crate::__private::transform(other.as_mut_ptr(), 4, |_: &mut Message| -> Result<Vec<u8>, Reject> {
                panic!("must not run")
            })
        });
        assert_eq!(code, 2);
    }

    #[test]
    fn clock() {
        let t = UNIX_EPOCH - Duration::from_nanos(1);
        let res = TestHost::new().with_now(t).call(
            |_: &mut Message| -> Result<String, Reject> {
                Ok(format!("{} {}", now_unix_nanos(), format_rfc3339(now())))
            },
            b"",
        );
        assert_eq!(String::from_utf8(res.output).unwrap(), "-1 1969-12-31T23:59:59.999999999Z");
    }
}
