//! The host module `sluice`, stood in for by [`TestHost`] on targets other than wasm32, so that handlers can be
//! unit-tested with a plain `cargo test`. Outside [`TestHost::call`], logs go to standard error, metadata is
//! absent, the clock is the real one, and everything else is dropped.

use std::cell::RefCell;
use std::fmt::Display;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{guest, Level, Message};

/// Stands in for the Sluice host in native builds (every target but `wasm32`): it plays one message through a
/// handler exactly as the host would (`sluice_alloc`, copy, `sluice_transform`) and records what the plugin told
/// it.
///
/// ```
/// use sluice::{Message, Reject, TestHost};
///
/// fn upper(m: &mut Message) -> Result<Vec<u8>, Reject> {
///     m.set_content_type("text/plain");
///     Ok(format!("{}: {}", m.route(), String::from_utf8_lossy(&m.body).to_uppercase()).into_bytes())
/// }
///
/// let res = TestHost::new().with_meta("route", "orders").call(upper, b"hi");
/// assert!(res.is_ok());
/// assert_eq!(res.output, b"orders: HI");
/// assert_eq!(res.content_type, "text/plain");
/// ```
///
/// The SDK's guest state is per thread, as it is per instance on the real host, so tests may run in parallel.
#[derive(Clone, Debug, Default)]
pub struct TestHost {
    /// The metadata by ABI key: `route`, `correlation_id`, `content_type`, `received_at`, `plugin`, and
    /// `header:<Name>`. Header names match case-insensitively, as on the real host.
    pub meta: Vec<(String, String)>,
    /// What [`now`](crate::now) returns during a call; `None` means the real clock.
    pub now: Option<SystemTime>,
}

/// What the plugin reported to the host for one message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// `sluice_transform`'s return value: 0 success, 1 rejected, anything else a plugin failure.
    pub code: i32,
    /// The last body passed to `set_output` (empty if none).
    pub output: Vec<u8>,
    /// The last rejection message passed to `set_error`, with bytes that are not UTF-8 replaced by U+FFFD.
    pub error: String,
    /// The last content type passed to `set_content_type` (`""` if none).
    pub content_type: String,
    /// The headers passed to `set_header`, in order of first appearance; a later value of the same name
    /// (case-insensitive) replaces an earlier one.
    pub headers: Vec<(String, String)>,
    /// The records passed to `log`, in order.
    pub logs: Vec<LogRecord>,
}

/// One call to the host's `log` function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// The record's level.
    pub level: Level,
    /// The record's text.
    pub message: String,
}

impl Outcome {
    /// Reports whether the plugin succeeded (code 0).
    pub fn is_ok(&self) -> bool {
        self.code == 0
    }

    /// Reports whether the plugin rejected the message (code 1).
    pub fn is_rejected(&self) -> bool {
        self.code == 1
    }
}

struct Call {
    host: TestHost,
    outcome: Outcome,
}

thread_local! {
    static CALL: RefCell<Option<Call>> = RefCell::new(None);
}

impl TestHost {
    /// Returns a host with no metadata and the real clock.
    pub fn new() -> TestHost {
        TestHost::default()
    }

    /// Adds the metadata `value` under the ABI key `key` (see [`TestHost::meta`]).
    pub fn with_meta(mut self, key: &str, value: &str) -> TestHost {
        self.meta.push((key.to_string(), value.to_string()));
        self
    }

    /// Adds the incoming request header `name` (the metadata key `header:<name>`).
    pub fn with_header(self, name: &str, value: &str) -> TestHost {
        self.with_meta(&format!("header:{}", name), value)
    }

    /// Fixes the host clock at `now`.
    pub fn with_now(mut self, now: SystemTime) -> TestHost {
        self.now = Some(now);
        self
    }

    /// Runs `handler` on a copy of `input` the way the host does and returns what the plugin reported. A panic
    /// in the handler propagates (in a real instance it traps and fails the message).
    pub fn call<F, O, E>(&self, handler: F, input: &[u8]) -> Outcome
    where
        F: FnOnce(&mut Message) -> Result<O, E>,
        O: AsRef<[u8]>,
        E: Display + 'static,
    {
        let (code, mut outcome) = self.record(|| {
            let ptr = guest::alloc(input.len() as i32);
            assert!(!ptr.is_null(), "sluice: TestHost: sluice_alloc returned null");
            // SAFETY: alloc returned a buffer of at least input.len() writable bytes.
            unsafe { std::ptr::copy_nonoverlapping(input.as_ptr(), ptr, input.len()) };
            guest::transform(ptr, input.len() as i32, handler)
        });
        outcome.code = code;
        outcome
    }

    /// Runs `f` with this host standing in for the real one.
    #[cfg(test)]
    pub(crate) fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        self.record(f).0
    }

    fn record<R>(&self, f: impl FnOnce() -> R) -> (R, Outcome) {
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                CALL.with(|c| c.borrow_mut().take());
            }
        }
        CALL.with(|c| *c.borrow_mut() = Some(Call { host: self.clone(), outcome: Outcome::default() }));
        let reset = Reset;
        let r = f();
        let outcome = CALL.with(|c| c.borrow_mut().take()).map(|c| c.outcome).unwrap_or_default();
        drop(reset);
        (r, outcome)
    }

    fn lookup(&self, key: &str) -> Option<&str> {
        if let Some((_, v)) = self.meta.iter().find(|(k, _)| k == key) {
            return Some(v);
        }
        let name = key.strip_prefix("header:")?;
        self.meta
            .iter()
            .find(|(k, _)| k.strip_prefix("header:").map_or(false, |n| n.eq_ignore_ascii_case(name)))
            .map(|(_, v)| v.as_str())
    }
}

fn with_call(f: impl FnOnce(&mut Call)) {
    CALL.with(|c| {
        if let Some(call) = c.borrow_mut().as_mut() {
            f(call)
        }
    })
}

pub fn set_output(b: &[u8]) {
    with_call(|c| c.outcome.output = b.to_vec());
}

pub fn set_error(b: &[u8]) {
    with_call(|c| c.outcome.error = String::from_utf8_lossy(b).into_owned());
}

pub fn set_content_type(s: &str) {
    with_call(|c| c.outcome.content_type = s.to_string());
}

pub fn set_header(name: &str, value: &str) {
    with_call(|c| {
        let headers = &mut c.outcome.headers;
        match headers.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            Some(h) => *h = (name.to_string(), value.to_string()),
            None => headers.push((name.to_string(), value.to_string())),
        }
    });
}

pub fn meta(key: &[u8], buf: &mut [u8]) -> i32 {
    let mut n = -1;
    with_call(|c| {
        let key = String::from_utf8_lossy(key);
        if let Some(v) = c.host.lookup(&key) {
            if v.len() <= buf.len() {
                buf[..v.len()].copy_from_slice(v.as_bytes());
            }
            n = v.len() as i32;
        }
    });
    n
}

pub fn log(level: i32, msg: &str) {
    let level = match level {
        0 => Level::Debug,
        1 => Level::Info,
        2 => Level::Warn,
        _ => Level::Error,
    };
    let mut recorded = false;
    with_call(|c| {
        c.outcome.logs.push(LogRecord { level, message: msg.to_string() });
        recorded = true;
    });
    if !recorded {
        eprintln!("sluice {}: {}", level, msg);
    }
}

pub fn now() -> i64 {
    let mut t = None;
    with_call(|c| t = c.host.now);
    let t = t.unwrap_or_else(SystemTime::now);
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i64,
        Err(e) => -(e.duration().as_nanos() as i64),
    }
}
