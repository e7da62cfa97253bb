//! The guest side of one message: the input buffer behind `sluice_alloc`, the call of the handler behind
//! `sluice_transform`, and metadata lookups.

use std::any::Any;
use std::cell::RefCell;
use std::fmt::Display;
use std::mem;
use std::ptr;

use crate::{host, Message};

// Return codes of sluice_transform.
const CODE_OK: i32 = 0;
const CODE_REJECT: i32 = 1;
const CODE_FAILURE: i32 = 2;

const MIN_INPUT_CAP: usize = 4 << 10; // first input buffer; grows to the largest message seen
const MIN_META_CAP: usize = 256; // first metadata value buffer; grows to the largest value seen
const META_TRIES: usize = 3; // meta calls per lookup before giving up on a value that keeps growing

/// The SDK's state for one module instance. The host never calls an instance concurrently, and a wasm32 module
/// without the atomics feature has one thread, so a thread-local is a plain static there; natively it keeps
/// parallel tests apart.
struct State {
    /// Handed out by sluice_alloc: its capacity is the buffer, its length is meaningless until
    /// sluice_transform, which moves it into the Message.
    input: Vec<u8>,
    meta: Vec<u8>,
    key: Vec<u8>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State { input: Vec::new(), meta: Vec::new(), key: Vec::new() });
}

/// Implements `sluice_alloc`: returns a pointer to `size` writable bytes for the next input, reusing the previous
/// buffer when it is big enough, or null if `size` is negative or memory cannot grow. The pointer is never null
/// for a valid size, even 0.
pub fn alloc(size: i32) -> *mut u8 {
    install_panic_hook();
    if size < 0 {
        return ptr::null_mut();
    }
    let n = size as usize;
    STATE.with(|s| {
        let input = &mut s.borrow_mut().input;
        input.clear();
        if input.capacity() < n.max(1) {
            let want = n.max(2 * input.capacity()).max(MIN_INPUT_CAP);
            *input = Vec::new(); // free the old buffer first: its contents are dead
            if input.try_reserve_exact(want).is_err() {
                return ptr::null_mut();
            }
        }
        input.as_mut_ptr()
    })
}

/// Implements `sluice_transform`: runs `handler` on the `len` input bytes at `ptr` (inside the buffer from the
/// last [`alloc`]) and reports the outcome to the host.
pub fn transform<F, O, E>(ptr: *mut u8, len: i32, handler: F) -> i32
where
    F: FnOnce(&mut Message) -> Result<O, E>,
    O: AsRef<[u8]>,
    E: Display + 'static,
{
    install_panic_hook();
    let body = match take_input(ptr, len) {
        Some(body) => body,
        None => {
            host::log(3, "sluice: sluice_transform called with bytes outside the buffer from sluice_alloc");
            return CODE_FAILURE;
        }
    };
    let mut msg = Message::new(body);
    let code = match handler(&mut msg) {
        Ok(out) => {
            let out = out.as_ref();
            if !out.is_empty() {
                host::set_output(out);
            }
            CODE_OK
        }
        Err(err) => {
            match (&err as &dyn Any).downcast_ref::<crate::Reject>() {
                Some(reject) => host::set_error(reject.as_bytes()),
                None => host::set_error(err.to_string().as_bytes()),
            }
            CODE_REJECT
        }
    };
    // Keep the body's allocation for the next message (an empty Vec if the handler moved it out).
    STATE.with(|s| s.borrow_mut().input = mem::take(&mut msg.body));
    code
}

/// Moves the input buffer out of the state as a Vec holding the `len` bytes at `ptr`, or returns None if they
/// do not lie inside it. It never turns an arbitrary integer into a pointer it dereferences.
fn take_input(ptr: *mut u8, len: i32) -> Option<Vec<u8>> {
    STATE.with(|s| {
        let input = &mut s.borrow_mut().input;
        if len < 0 {
            return None;
        }
        let n = len as usize;
        let (base, cap, addr) = (input.as_mut_ptr() as usize, input.capacity(), ptr as usize);
        if n > 0 && (cap == 0 || addr < base || addr - base > cap || n > cap - (addr - base)) {
            return None;
        }
        let mut body = mem::take(input);
        if n > 0 {
            // SAFETY: [addr, addr+n) lies inside body's allocation (checked above), and the host wrote those n
            // bytes before calling sluice_transform, so after the move to the front they are initialized.
            unsafe {
                if addr != base {
                    ptr::copy(ptr as *const u8, body.as_mut_ptr(), n);
                }
                body.set_len(n);
            }
        } else {
            body.clear();
        }
        Some(body)
    })
}

/// Asks the host for the metadata value under the concatenation of `key`, growing the value buffer when the
/// host says it is too small.
pub fn lookup(key: &[&[u8]]) -> Option<String> {
    STATE.with(|s| {
        let s = &mut *s.borrow_mut();
        s.key.clear();
        for part in key {
            s.key.extend_from_slice(part);
        }
        if s.meta.is_empty() {
            s.meta.resize(MIN_META_CAP, 0);
        }
        for _ in 0..META_TRIES {
            let n = host::meta(&s.key, &mut s.meta);
            if n < 0 {
                return None;
            }
            let n = n as usize;
            if n <= s.meta.len() {
                return Some(String::from_utf8_lossy(&s.meta[..n]).into_owned());
            }
            s.meta.resize(n, 0);
        }
        None
    })
}

/// Routes panic messages to the host's log. A panic on wasm32 aborts (traps) right after the hook returns; the
/// host fails the message with code `trap` and discards the instance. Natively the default hook stays, so that
/// test failures print as usual.
#[cfg(target_arch = "wasm32")]
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let payload = info.payload();
            let what = if let Some(s) = payload.downcast_ref::<&str>() {
                s
            } else if let Some(s) = payload.downcast_ref::<String>() {
                s.as_str()
            } else {
                "Box<dyn Any>"
            };
            let msg = match info.location() {
                Some(at) => format!("sluice: handler panicked: {} ({}:{})", what, at.file(), at.line()),
                None => format!("sluice: handler panicked: {}", what),
            };
            host::log(3, &msg);
        }));
    });
}

#[cfg(not(target_arch = "wasm32"))]
fn install_panic_hook() {}
