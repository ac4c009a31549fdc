//! The FFI boundary, and the crate's only `unsafe` code: the bindgen bindings to
//! `hugemem/math_utils.h` and one small safe function for each C function.
//!
//! Every C function here checks its pointers and reports errors as `MU_ERR_*` status codes; the
//! functions below pass only pointers that are valid for the whole call and turn the status
//! codes into `Result`s. A Rust callback called from C never unwinds into C: a panic is caught,
//! crosses C as a return code and is resumed once C has returned.

use std::any::Any;
use std::ffi::{c_int, c_void, CStr};
use std::io;
use std::ops::ControlFlow;
use std::panic::{self, AssertUnwindSafe};

/// The generated bindings: the committed ones, or with the `bindgen` feature fresh ones.
#[allow(
    non_camel_case_types,
    non_upper_case_globals,
    dead_code,
    clippy::all,
    clippy::pedantic,
    missing_docs,
    reason = "bindgen's output, committed as generated; documented by math_utils.h"
)]
mod ffi {
    #[cfg(not(feature = "bindgen"))]
    include!("bindings.rs");
    #[cfg(feature = "bindgen")]
    include!(concat!(env!("OUT_DIR"), "/bindings.rs"));
}

pub(crate) use ffi::mu_byte_stats as RawByteStats;

/// A `MU_ERR_*` status code returned by a C function.
pub(crate) type Status = c_int;

fn status_to_result<T>(status: Status, value: T) -> Result<T, Status> {
    if status == ffi::MU_OK {
        Ok(value)
    } else {
        Err(status)
    }
}

/// `mu_version`.
pub(crate) fn version() -> &'static CStr {
    // SAFETY: mu_version takes nothing and returns a pointer to a string literal
    // (MU_VERSION_STRING): NUL-terminated, never freed and never written, so it may be
    // borrowed for 'static.
    unsafe { CStr::from_ptr(ffi::mu_version()) }
}

/// `mu_add`: wraps around on overflow.
pub(crate) fn add(a: i32, b: i32) -> i32 {
    // SAFETY: mu_add takes two int32_t by value, touches no memory and is defined for every
    // pair of inputs (it wraps instead of overflowing).
    unsafe { ffi::mu_add(a, b) }
}

/// `mu_multiply`: wraps around on overflow.
pub(crate) fn multiply(a: i32, b: i32) -> i32 {
    // SAFETY: as for mu_add: two int32_t by value, no memory, defined for every input.
    unsafe { ffi::mu_multiply(a, b) }
}

/// `mu_checked_add`: `Err(MU_ERR_OVERFLOW)` on overflow.
pub(crate) fn checked_add(a: i32, b: i32) -> Result<i32, Status> {
    let mut out = 0;
    // SAFETY: `out` is a live, aligned, writable i32 for the whole call; mu_checked_add writes
    // at most that one value and keeps no pointer to it.
    let status = unsafe { ffi::mu_checked_add(a, b, &mut out) };
    status_to_result(status, out)
}

/// `mu_checked_multiply`: `Err(MU_ERR_OVERFLOW)` on overflow.
pub(crate) fn checked_multiply(a: i32, b: i32) -> Result<i32, Status> {
    let mut out = 0;
    // SAFETY: `out` is a live, aligned, writable i32 for the whole call; mu_checked_multiply
    // writes at most that one value and keeps no pointer to it.
    let status = unsafe { ffi::mu_checked_multiply(a, b, &mut out) };
    status_to_result(status, out)
}

/// `mu_divide`: `Err(MU_ERR_DIV_ZERO)` when `b` is ±0.0.
pub(crate) fn divide(a: f64, b: f64) -> Result<f64, Status> {
    let mut out = 0.0;
    // SAFETY: `out` is a live, aligned, writable f64 for the whole call; mu_divide writes at
    // most that one value and keeps no pointer to it.
    let status = unsafe { ffi::mu_divide(a, b, &mut out) };
    status_to_result(status, out)
}

/// `mu_factorial`: `Err(MU_ERR_DOMAIN)` for a negative `n`, `Err(MU_ERR_OVERFLOW)` above 12.
pub(crate) fn factorial(n: i32) -> Result<i32, Status> {
    let mut out = 0;
    // SAFETY: `out` is a live, aligned, writable i32 for the whole call; mu_factorial writes at
    // most that one value and keeps no pointer to it.
    let status = unsafe { ffi::mu_factorial(n, &mut out) };
    status_to_result(status, out)
}

/// `mu_print_message`: prints `message` and a newline with C's stdio, then flushes it.
///
/// The caller flushes Rust's own stdout first, so that the two buffers cannot reorder lines.
pub(crate) fn print_message(message: &CStr) -> io::Result<()> {
    // SAFETY: message.as_ptr() points to a NUL-terminated string (CStr's invariant) that is
    // borrowed, so alive and unchanged, for the whole call; mu_print_message only reads it up
    // to the NUL, never as a format string, and keeps no pointer to it.
    let status = unsafe { ffi::mu_print_message(message.as_ptr()) };
    match status {
        ffi::MU_OK => Ok(()),
        // Read errno at once, before anything else can change it.
        ffi::MU_ERR_IO => Err(io::Error::last_os_error()),
        other => Err(io::Error::other(format!(
            "mu_print_message returned {other}"
        ))),
    }
}

/// `mu_crc32`: continues the CRC-32 `crc` over `data`.
pub(crate) fn crc32(crc: u32, data: &[u8]) -> u32 {
    // SAFETY: data.as_ptr() is valid for reads of data.len() bytes while `data` is borrowed
    // (for an empty slice C reads nothing); mu_crc32 reads only data[0..len) and keeps no
    // pointer.
    unsafe { ffi::mu_crc32(crc, data.as_ptr(), data.len()) }
}

/// `mu_byte_stats_of`.
pub(crate) fn byte_stats(data: &[u8]) -> RawByteStats {
    let mut out = RawByteStats {
        length: 0,
        zero_bytes: 0,
        distinct_bytes: 0,
        crc32: 0,
        entropy: 0.0,
    };
    // SAFETY: data.as_ptr() is valid for reads of data.len() bytes while `data` is borrowed;
    // `out` is a live, writable mu_byte_stats (same layout, checked by the bindings' layout
    // assertions). mu_byte_stats_of reads data[0..len), writes *out and keeps neither pointer.
    let status = unsafe { ffi::mu_byte_stats_of(data.as_ptr(), data.len(), &mut out) };
    // Its only error is a NULL pointer, and neither a slice's pointer nor a reference is NULL.
    debug_assert_eq!(status, ffi::MU_OK);
    out
}

/// What a callback returns to C to stop the scan (any non-zero value stops it).
const CALLBACK_STOP: c_int = 1;
/// What a callback returns to C when the Rust closure panicked.
const CALLBACK_PANICKED: c_int = 2;

/// The state behind `mu_find_runs`'s `user_data` pointer.
struct RunScan<F> {
    visit: F,
    panic: Option<Box<dyn Any + Send>>,
}

/// The `mu_run_callback` that C calls: forwards each run to `RunScan::visit`.
extern "C" fn run_trampoline<F>(
    user_data: *mut c_void,
    offset: usize,
    length: usize,
    value: u8,
) -> c_int
where
    F: FnMut(usize, usize, u8) -> ControlFlow<()>,
{
    // SAFETY: user_data is the `&mut RunScan<F>` that `find_runs` passed to mu_find_runs with
    // this very instantiation of the trampoline; it outlives the C call, and C hands it back
    // unchanged, synchronously on this thread and never while another call is running, so this
    // is the only reference to it while the callback runs.
    let scan = unsafe { &mut *user_data.cast::<RunScan<F>>() };
    // AssertUnwindSafe: after a panic `visit` is never called again; the panic is resumed as
    // soon as C returns.
    match panic::catch_unwind(AssertUnwindSafe(|| (scan.visit)(offset, length, value))) {
        Ok(ControlFlow::Continue(())) => 0,
        Ok(ControlFlow::Break(())) => CALLBACK_STOP,
        Err(payload) => {
            scan.panic = Some(payload);
            CALLBACK_PANICKED
        }
    }
}

/// `mu_find_runs`: calls `visit(offset, length, value)` for each run of at least `min_len`
/// equal bytes, until it returns `Break`. Returns `true` if the scan ran to the end.
///
/// A panic in `visit` stops the scan (C sees an error code) and is resumed here once C has
/// returned, so it never unwinds through C frames.
pub(crate) fn find_runs<F>(data: &[u8], min_len: usize, visit: F) -> bool
where
    F: FnMut(usize, usize, u8) -> ControlFlow<()>,
{
    let mut scan = RunScan { visit, panic: None };
    let user_data: *mut RunScan<F> = &mut scan;
    // SAFETY: data.as_ptr() is valid for reads of data.len() bytes while `data` is borrowed.
    // The callback is run_trampoline::<F>, whose signature is mu_run_callback's, and user_data
    // points to `scan`, of the type that instantiation expects, which lives until after the
    // call and is not touched here meanwhile. mu_find_runs calls back only before it returns
    // and keeps neither pointer. The trampoline never unwinds: it catches panics.
    let status = unsafe {
        ffi::mu_find_runs(
            data.as_ptr(),
            data.len(),
            min_len,
            Some(run_trampoline::<F>),
            user_data.cast(),
        )
    };
    if let Some(payload) = scan.panic {
        debug_assert_eq!(status, CALLBACK_PANICKED);
        panic::resume_unwind(payload);
    }
    debug_assert!(status == ffi::MU_OK || status == CALLBACK_STOP);
    status == ffi::MU_OK
}
