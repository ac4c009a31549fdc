//! `memlink test`: the FFI demonstration's output, byte for byte, with stdout piped or in a
//! file (C's stdio buffer and Rust's must not reorder lines), and the choice of tests.

use std::fs::{self, File};
use std::process::{Command, Output, Stdio};

/// The output of `memlink test math` in the seed's README.
const MATH: &str = "\
Testing math utilities:
  Version: math_utils v1.0.0
  Add(5, 3) = 8
  Multiply(4, 7) = 28
  Divide(10, 2) = Some(5.0)
  Factorial(5) = Some(120)
Hello from memlink!

Tests completed successfully!
";

/// The output of `memlink test`: every built-in test.
const ALL: &str = "\
Testing math utilities:
  Version: math_utils v1.0.0
  Add(5, 3) = 8
  Multiply(4, 7) = 28
  Divide(10, 2) = Some(5.0)
  Factorial(5) = Some(120)
Hello from memlink!

Testing byte statistics:
  CRC-32(\"123456789\") = 0xcbf43926
  Zero page: 4096 bytes, 4096 zero, entropy 0.000 bits/byte
  Bytes 0..=255: 256 distinct, entropy 8.000 bits/byte

Testing callbacks:
  Runs of 16+ equal bytes in 64 bytes: [0, 24) 0x00, [40, 64) 0xcc
  Stop at the first zero run: 1 of 2 runs visited

Tests completed successfully!
";

/// Runs memlink with stdout and stderr piped.
fn memlink(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_memlink"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run memlink")
}

fn assert_success(out: &Output, expected_stdout: &str) {
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        expected_stdout,
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, expected_stdout.as_bytes());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn test_math_prints_the_seed_output_to_a_pipe() {
    assert_success(&memlink(&["test", "math"]), MATH);
}

#[test]
fn test_math_prints_the_seed_output_to_a_file() {
    let path = std::env::temp_dir().join(format!("memlink-test-math-{}.out", std::process::id()));
    let file = File::create(&path).expect("create the output file");
    let status = Command::new(env!("CARGO_BIN_EXE_memlink"))
        .args(["test", "math"])
        .stdout(file)
        .status()
        .expect("run memlink");
    let written = fs::read(&path).expect("read the output file");
    let _ = fs::remove_file(&path);
    assert!(status.success(), "{status}");
    assert_eq!(String::from_utf8_lossy(&written), MATH);
}

#[test]
fn test_option_runs_one_test() {
    assert_success(&memlink(&["test", "--test", "math"]), MATH);
}

#[test]
fn test_without_a_name_runs_every_test() {
    assert_success(&memlink(&["test"]), ALL);
}

#[test]
fn test_buffer_and_callback_run_alone() {
    let blocks: Vec<&str> = ALL.split("\n\n").collect();
    assert_eq!(blocks.len(), 4);
    let closing = "\nTests completed successfully!\n";
    assert_success(
        &memlink(&["test", "buffer"]),
        &format!("{}\n{closing}", blocks[1]),
    );
    assert_success(
        &memlink(&["--verbose", "test", "--test", "callback"]),
        &format!("{}\n{closing}", blocks[2]),
    );
}

#[test]
fn test_unknown_name_is_a_one_line_error_listing_the_tests() {
    for args in [&["test", "nope"][..], &["test", "--test", "nope"]] {
        let out = memlink(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(out.stdout, b"", "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "memlink: unknown test \"nope\" (available: math, buffer, callback)\n",
            "{args:?}"
        );
    }
}

#[test]
fn test_output_error_is_reported_with_exit_2() {
    let Ok(full) = fs::OpenOptions::new().write(true).open("/dev/full") else {
        eprintln!("skipped: no /dev/full on this system");
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_memlink"))
        .args(["test", "math"])
        .stdout(full)
        .output()
        .expect("run memlink");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("memlink: failed to write output: ") && stderr.lines().count() == 1,
        "{stderr}"
    );
}
