//! Output errors of `print_message` on a stdout that fails: the test runs itself again with
//! stdout on `/dev/full`, where C's `fflush` fails with ENOSPC.
//!
//! A test without libtest's harness (`harness = false`), since libtest itself writes to stdout.

use std::process::{Command, ExitCode};

use math_utils::{MathUtils, PrintError};

const CHILD: &str = "MATH_UTILS_PRINT_ERRORS_CHILD";

/// ENOSPC on Linux.
const ENOSPC: i32 = 28;

fn child(case: &str) -> Result<(), String> {
    match case {
        "try_print_message" => match MathUtils::try_print_message("lost") {
            Err(PrintError::Io(err)) if err.raw_os_error() == Some(ENOSPC) => Ok(()),
            other => Err(format!("expected an ENOSPC error, got {other:?}")),
        },
        // The seed's signature has no room for output errors: they are ignored.
        "print_message" => match MathUtils::print_message("lost") {
            Ok(()) => Ok(()),
            other => Err(format!("expected Ok(()), got {other:?}")),
        },
        _ => Err(format!("unknown case {case}")),
    }
}

fn run_on_dev_full(case: &str) -> Result<(), String> {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .map_err(|e| format!("open /dev/full: {e}"))?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .env(CHILD, case)
        .stdout(full)
        .output()
        .map_err(|e| format!("run the child: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn main() -> ExitCode {
    if let Ok(case) = std::env::var(CHILD) {
        return match child(&case) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    if !cfg!(target_os = "linux") {
        println!("print_errors: skipped, /dev/full is Linux-only");
        return ExitCode::SUCCESS;
    }
    let (mut passed, mut failed) = (0, 0);
    for case in ["try_print_message", "print_message"] {
        match run_on_dev_full(case) {
            Ok(()) => passed += 1,
            Err(e) => {
                failed += 1;
                println!("FAIL {case} on /dev/full: {}", e.trim_end());
            }
        }
    }
    println!("print_errors: {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
