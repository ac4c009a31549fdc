//! `memlink test`: built-in self-tests of the FFI demonstration (`math-utils`), each checking
//! the results it prints.
//!
//! `memlink test` runs them all, `memlink test NAME` or `memlink test --test NAME` one. Every
//! test prints a block; blocks are separated by a blank line and followed by a closing line.

use std::fmt::Debug;
use std::io::{self, Write};

use anyhow::{bail, Context};
use math_utils::{MathUtils, PrintError, Run};

use crate::cli::args::TestArgs;
use crate::cli::Outcome;

/// A built-in test: prints its results to `out` and fails if one is wrong.
struct BuiltIn {
    name: &'static str,
    run: fn(&mut io::StdoutLock<'static>) -> anyhow::Result<()>,
}

/// Every built-in test, in the order `memlink test` runs them.
const TESTS: &[BuiltIn] = &[
    BuiltIn {
        name: "math",
        run: math,
    },
    BuiltIn {
        name: "buffer",
        run: buffer,
    },
    BuiltIn {
        name: "callback",
        run: callback,
    },
];

/// Runs `memlink test`.
pub fn run(args: TestArgs) -> anyhow::Result<Outcome> {
    let selected: Vec<&BuiltIn> = match args.name.or(args.test) {
        None => TESTS.iter().collect(),
        Some(name) => vec![find(&name)?],
    };
    let mut out = io::stdout().lock();
    for (i, test) in selected.iter().enumerate() {
        if i > 0 {
            writeln!(out).context("failed to write output")?;
        }
        (test.run)(&mut out).map_err(|err| {
            if err.is::<io::Error>() || err.is::<PrintError>() {
                err.context("failed to write output")
            } else {
                err.context(format!("test {} failed", test.name))
            }
        })?;
    }
    writeln!(out, "\nTests completed successfully!").context("failed to write output")?;
    out.flush().context("failed to write output")?;
    Ok(Outcome::Success)
}

fn find(name: &str) -> anyhow::Result<&'static BuiltIn> {
    match TESTS.iter().find(|t| t.name == name) {
        Some(test) => Ok(test),
        None => {
            let names: Vec<&str> = TESTS.iter().map(|t| t.name).collect();
            bail!("unknown test {name:?} (available: {})", names.join(", "))
        }
    }
}

/// Fails unless `got == want`; `what` names the computation, as printed.
fn expect<T: PartialEq + Debug>(what: &str, got: T, want: T) -> anyhow::Result<()> {
    if got != want {
        bail!("{what} is {got:?}, expected {want:?}");
    }
    Ok(())
}

/// The seed's demonstration: arithmetic in C, then a line printed by C's `printf` between
/// lines printed by Rust.
fn math(out: &mut io::StdoutLock<'static>) -> anyhow::Result<()> {
    let version = MathUtils::version();
    let sum = MathUtils::add(5, 3);
    let product = MathUtils::multiply(4, 7);
    let quotient = MathUtils::divide(10.0, 2.0);
    let factorial = MathUtils::factorial(5);
    writeln!(out, "Testing math utilities:")?;
    writeln!(out, "  Version: {version}")?;
    writeln!(out, "  Add(5, 3) = {sum}")?;
    writeln!(out, "  Multiply(4, 7) = {product}")?;
    writeln!(out, "  Divide(10, 2) = {quotient:?}")?;
    writeln!(out, "  Factorial(5) = {factorial:?}")?;
    // Flushes Rust's stdout before C prints, and C's after.
    MathUtils::try_print_message("Hello from memlink!")?;
    expect("Version", version.as_str(), "math_utils v1.0.0")?;
    expect("Add(5, 3)", sum, 8)?;
    expect("Multiply(4, 7)", product, 28)?;
    expect("Divide(10, 2)", quotient, Some(5.0))?;
    expect("Factorial(5)", factorial, Some(120))?;
    // The edges that C reports rather than overflowing.
    expect("Divide(1, 0)", MathUtils::divide(1.0, 0.0), None)?;
    expect("Factorial(13)", MathUtils::factorial(13), None)?;
    expect("Factorial(-1)", MathUtils::factorial(-1), None)?;
    Ok(())
}

/// A Rust buffer passed to C: the checksum and entropy memlink shows for a region.
fn buffer(out: &mut io::StdoutLock<'static>) -> anyhow::Result<()> {
    let crc = MathUtils::crc32(b"123456789");
    let zero_page = MathUtils::byte_stats(&[0u8; 4096]);
    let ramp: Vec<u8> = (0..=255).collect();
    let ramp = MathUtils::byte_stats(&ramp);
    writeln!(out, "Testing byte statistics:")?;
    writeln!(out, "  CRC-32(\"123456789\") = {crc:#010x}")?;
    writeln!(
        out,
        "  Zero page: {} bytes, {} zero, entropy {:.3} bits/byte",
        zero_page.len, zero_page.zero_bytes, zero_page.entropy
    )?;
    writeln!(
        out,
        "  Bytes 0..=255: {} distinct, entropy {:.3} bits/byte",
        ramp.distinct_bytes, ramp.entropy
    )?;
    expect("CRC-32(\"123456789\")", crc, 0xcbf4_3926)?;
    expect("zero page zero bytes", zero_page.zero_bytes, 4096)?;
    expect("zero page entropy", zero_page.entropy, 0.0)?;
    expect("bytes 0..=255 distinct", ramp.distinct_bytes, 256)?;
    expect("bytes 0..=255 entropy", ramp.entropy, 8.0)?;
    Ok(())
}

/// C calling back into Rust: runs of one repeated byte, such as zero fill and 0xcc padding.
fn callback(out: &mut io::StdoutLock<'static>) -> anyhow::Result<()> {
    let mut buf = vec![0u8; 24];
    buf.extend(24u8..40);
    buf.extend([0xcc; 24]);
    let runs = MathUtils::runs(&buf, 16);
    let mut visited = 0;
    let stopped = MathUtils::for_each_run(&buf, 16, |run| {
        visited += 1;
        if run.byte == 0 {
            Err(run)
        } else {
            Ok(())
        }
    });
    writeln!(out, "Testing callbacks:")?;
    let listed: Vec<String> = runs
        .iter()
        .map(|r| format!("[{}, {}) {:#04x}", r.offset, r.offset + r.len, r.byte))
        .collect();
    writeln!(
        out,
        "  Runs of 16+ equal bytes in {} bytes: {}",
        buf.len(),
        listed.join(", ")
    )?;
    writeln!(
        out,
        "  Stop at the first zero run: {visited} of {} runs visited",
        runs.len()
    )?;
    expect(
        "runs",
        runs.as_slice(),
        &[
            Run {
                offset: 0,
                len: 24,
                byte: 0,
            },
            Run {
                offset: 40,
                len: 24,
                byte: 0xcc,
            },
        ],
    )?;
    expect("stopped scan", stopped, Err(runs[0]))?;
    expect("runs visited", visited, 1)?;
    Ok(())
}
