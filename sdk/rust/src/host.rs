//! The host module `sluice` (sdk/ABI.md), as seen from a wasm32 guest. The host copies every (pointer, length)
//! pair during the call, so the borrowed slices only have to live until the call returns.

#[link(wasm_import_module = "sluice")]
extern "C" {
    #[link_name = "set_output"]
    fn sluice_set_output(ptr: *const u8, len: i32);
    #[link_name = "set_error"]
    fn sluice_set_error(ptr: *const u8, len: i32);
    #[link_name = "set_content_type"]
    fn sluice_set_content_type(ptr: *const u8, len: i32);
    #[link_name = "set_header"]
    fn sluice_set_header(name_ptr: *const u8, name_len: i32, value_ptr: *const u8, value_len: i32);
    #[link_name = "meta"]
    fn sluice_meta(key_ptr: *const u8, key_len: i32, buf_ptr: *mut u8, buf_cap: i32) -> i32;
    #[link_name = "log"]
    fn sluice_log(level: i32, ptr: *const u8, len: i32);
    #[link_name = "now"]
    fn sluice_now() -> i64;
}

// SAFETY (all below): each pointer and length come from one live slice, and the host reads or writes only
// within them before returning.

pub fn set_output(b: &[u8]) {
    unsafe { sluice_set_output(b.as_ptr(), b.len() as i32) }
}

pub fn set_error(b: &[u8]) {
    unsafe { sluice_set_error(b.as_ptr(), b.len() as i32) }
}

pub fn set_content_type(s: &str) {
    unsafe { sluice_set_content_type(s.as_ptr(), s.len() as i32) }
}

pub fn set_header(name: &str, value: &str) {
    unsafe { sluice_set_header(name.as_ptr(), name.len() as i32, value.as_ptr(), value.len() as i32) }
}

pub fn meta(key: &[u8], buf: &mut [u8]) -> i32 {
    unsafe { sluice_meta(key.as_ptr(), key.len() as i32, buf.as_mut_ptr(), buf.len() as i32) }
}

pub fn log(level: i32, msg: &str) {
    unsafe { sluice_log(level, msg.as_ptr(), msg.len() as i32) }
}

pub fn now() -> i64 {
    unsafe { sluice_now() }
}
