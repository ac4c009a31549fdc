//! Tests of the safe API, edges included: every function crosses into C and back.

use std::panic;

use math_utils::{MathUtils, PrintError, Run};

const EDGES: [i32; 11] = [
    i32::MIN,
    i32::MIN + 1,
    -65_536,
    -7,
    -1,
    0,
    1,
    7,
    65_536,
    i32::MAX - 1,
    i32::MAX,
];

#[test]
fn version_is_the_c_library_version() {
    assert_eq!(MathUtils::version(), "math_utils v1.0.0");
}

#[test]
fn add_and_multiply_give_the_seed_results() {
    assert_eq!(MathUtils::add(5, 3), 8);
    assert_eq!(MathUtils::multiply(4, 7), 28);
    assert_eq!(MathUtils::add(-5, 3), -2);
    assert_eq!(MathUtils::multiply(-4, 7), -28);
}

#[test]
fn add_and_multiply_wrap_around_like_rust() {
    assert_eq!(MathUtils::add(i32::MAX, 1), i32::MIN);
    assert_eq!(MathUtils::add(i32::MIN, -1), i32::MAX);
    assert_eq!(MathUtils::multiply(i32::MIN, -1), i32::MIN);
    assert_eq!(MathUtils::multiply(i32::MAX, 2), -2);
    for a in EDGES {
        for b in EDGES {
            assert_eq!(MathUtils::add(a, b), a.wrapping_add(b), "add({a}, {b})");
            assert_eq!(
                MathUtils::multiply(a, b),
                a.wrapping_mul(b),
                "multiply({a}, {b})"
            );
        }
    }
}

#[test]
fn checked_add_and_multiply_report_overflow_like_rust() {
    assert_eq!(MathUtils::checked_add(i32::MAX, 1), None);
    assert_eq!(MathUtils::checked_add(i32::MAX, 0), Some(i32::MAX));
    assert_eq!(MathUtils::checked_multiply(i32::MIN, -1), None);
    assert_eq!(MathUtils::checked_multiply(i32::MIN, 1), Some(i32::MIN));
    for a in EDGES {
        for b in EDGES {
            assert_eq!(
                MathUtils::checked_add(a, b),
                a.checked_add(b),
                "checked_add({a}, {b})"
            );
            assert_eq!(
                MathUtils::checked_multiply(a, b),
                a.checked_mul(b),
                "checked_multiply({a}, {b})"
            );
        }
    }
}

#[test]
fn divide_finite_numbers() {
    assert_eq!(MathUtils::divide(10.0, 2.0), Some(5.0));
    assert_eq!(MathUtils::divide(-1.0, 4.0), Some(-0.25));
    assert_eq!(MathUtils::divide(0.0, 5.0), Some(0.0));
    assert_eq!(
        MathUtils::divide(i32::MIN.into(), -1.0),
        Some(2_147_483_648.0)
    );
    assert_eq!(MathUtils::divide(f64::MAX, 0.5), Some(f64::INFINITY));
}

#[test]
fn divide_by_zero_is_none() {
    for a in [
        1.0,
        -1.0,
        0.0,
        -0.0,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ] {
        assert_eq!(MathUtils::divide(a, 0.0), None, "{a} / 0.0");
        assert_eq!(MathUtils::divide(a, -0.0), None, "{a} / -0.0");
    }
}

#[test]
fn divide_follows_ieee_754_for_nan_and_infinities() {
    assert!(MathUtils::divide(f64::NAN, 2.0).is_some_and(f64::is_nan));
    assert!(MathUtils::divide(2.0, f64::NAN).is_some_and(f64::is_nan));
    assert!(MathUtils::divide(f64::INFINITY, f64::INFINITY).is_some_and(f64::is_nan));
    assert_eq!(MathUtils::divide(f64::INFINITY, 2.0), Some(f64::INFINITY));
    assert_eq!(
        MathUtils::divide(f64::INFINITY, -2.0),
        Some(f64::NEG_INFINITY)
    );
    let zero = MathUtils::divide(1.0, f64::NEG_INFINITY).expect("not a division by zero");
    assert_eq!(zero, 0.0);
    assert!(zero.is_sign_negative());
}

#[test]
fn factorial_from_0_to_12() {
    let mut expected = 1i32;
    for n in 0..=12 {
        if n > 1 {
            expected *= n;
        }
        assert_eq!(MathUtils::factorial(n), Some(expected), "{n}!");
    }
    assert_eq!(MathUtils::factorial(5), Some(120));
    assert_eq!(MathUtils::factorial(12), Some(479_001_600));
}

#[test]
fn factorial_overflow_and_negative_input_are_none() {
    assert_eq!(MathUtils::factorial(13), None);
    assert_eq!(MathUtils::factorial(i32::MAX), None);
    assert_eq!(MathUtils::factorial(-1), None);
    assert_eq!(MathUtils::factorial(i32::MIN), None);
}

#[test]
fn print_message_prints() {
    assert_eq!(
        MathUtils::print_message("math-utils: print_message test"),
        Ok(())
    );
    // `%` is printed as data, not read as a format.
    assert!(MathUtils::try_print_message("math-utils: 100%s %n %d").is_ok());
    assert!(MathUtils::try_print_message("").is_ok());
}

#[test]
fn print_message_refuses_an_interior_nul() {
    let err = MathUtils::print_message("Hello\0memlink").unwrap_err();
    assert_eq!(err.nul_position(), 5);
    assert_eq!(err.into_vec(), b"Hello\0memlink");
    match MathUtils::try_print_message("\0") {
        Err(err @ PrintError::Nul(_)) => {
            assert_eq!(err.to_string(), "message contains a NUL byte at position 0");
        }
        other => panic!("expected PrintError::Nul, got {other:?}"),
    }
}

/// A bit-by-bit CRC-32 to check the C one against.
fn reference_crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Deterministic pseudo-random bytes (xorshift64).
fn noise(len: usize, mut state: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

#[test]
fn crc32_matches_the_standard_check_values() {
    assert_eq!(MathUtils::crc32(b"123456789"), 0xcbf4_3926);
    assert_eq!(
        MathUtils::crc32(b"The quick brown fox jumps over the lazy dog"),
        0x414f_a339
    );
    assert_eq!(MathUtils::crc32(b""), 0);
    assert_eq!(MathUtils::crc32_update(0x1234_5678, b""), 0x1234_5678);
}

#[test]
fn crc32_matches_a_bitwise_reference_and_can_be_chunked() {
    let data = noise(10_000, 0x9e37_79b9_7f4a_7c15);
    let whole = MathUtils::crc32(&data);
    assert_eq!(whole, reference_crc32(&data));
    for split in [0, 1, 4095, 4096, 9_999, 10_000] {
        let (a, b) = data.split_at(split);
        assert_eq!(
            MathUtils::crc32_update(MathUtils::crc32(a), b),
            whole,
            "split at {split}"
        );
    }
}

#[test]
fn byte_stats_of_an_empty_buffer() {
    let stats = MathUtils::byte_stats(&[]);
    assert_eq!(stats.len, 0);
    assert_eq!(stats.zero_bytes, 0);
    assert_eq!(stats.distinct_bytes, 0);
    assert_eq!(stats.crc32, 0);
    assert_eq!(stats.entropy, 0.0);
}

#[test]
fn byte_stats_of_a_zero_page_a_ramp_and_two_halves() {
    let page = [0u8; 4096];
    let stats = MathUtils::byte_stats(&page);
    assert_eq!(
        (stats.len, stats.zero_bytes, stats.distinct_bytes),
        (4096, 4096, 1)
    );
    assert_eq!(stats.entropy, 0.0);
    assert!(stats.entropy.is_sign_positive());
    assert_eq!(stats.crc32, reference_crc32(&page));

    let ramp: Vec<u8> = (0..=255).collect();
    let stats = MathUtils::byte_stats(&ramp);
    assert_eq!(
        (stats.len, stats.zero_bytes, stats.distinct_bytes),
        (256, 1, 256)
    );
    assert_eq!(stats.entropy, 8.0);

    let mut halves = vec![0u8; 2048];
    halves.resize(4096, 0xcc);
    let stats = MathUtils::byte_stats(&halves);
    assert_eq!((stats.zero_bytes, stats.distinct_bytes), (2048, 2));
    assert_eq!(stats.entropy, 1.0);
}

#[test]
fn byte_stats_entropy_matches_a_rust_reference() {
    let mut data = noise(65_536, 42);
    data[..1000].fill(0);
    let mut counts = [0usize; 256];
    for &b in &data {
        counts[usize::from(b)] += 1;
    }
    let len = data.len() as f64;
    let expected: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / len;
            -p * p.log2()
        })
        .sum();
    let stats = MathUtils::byte_stats(&data);
    assert!(
        (stats.entropy - expected).abs() < 1e-9,
        "{} vs {expected}",
        stats.entropy
    );
    assert!(stats.entropy > 7.9 && stats.entropy < 8.0);
    assert_eq!(stats.zero_bytes, counts[0]);
    assert_eq!(
        stats.distinct_bytes,
        counts.iter().filter(|&&c| c > 0).count()
    );
    assert_eq!(stats.crc32, reference_crc32(&data));
}

/// 24 zero bytes, 16 distinct bytes (24..40), 24 bytes of 0xcc.
fn runs_buffer() -> Vec<u8> {
    let mut buf = vec![0u8; 24];
    buf.extend(24u8..40);
    buf.extend([0xcc; 24]);
    buf
}

#[test]
fn runs_finds_long_runs_in_order() {
    let runs = MathUtils::runs(&runs_buffer(), 16);
    assert_eq!(
        runs,
        [
            Run {
                offset: 0,
                len: 24,
                byte: 0
            },
            Run {
                offset: 40,
                len: 24,
                byte: 0xcc
            },
        ]
    );
    assert_eq!(MathUtils::runs(&runs_buffer(), 24).len(), 2);
    assert_eq!(MathUtils::runs(&runs_buffer(), 25), []);
}

#[test]
fn runs_with_min_len_0_or_1_cover_the_whole_buffer() {
    let buf = runs_buffer();
    let runs = MathUtils::runs(&buf, 0);
    assert_eq!(runs, MathUtils::runs(&buf, 1));
    assert_eq!(runs.len(), 18);
    assert_eq!(runs.iter().map(|r| r.len).sum::<usize>(), buf.len());
    assert_eq!(
        runs[1],
        Run {
            offset: 24,
            len: 1,
            byte: 24
        }
    );
    assert_eq!(
        MathUtils::runs(&[7], 1),
        [Run {
            offset: 0,
            len: 1,
            byte: 7
        }]
    );
    assert_eq!(MathUtils::runs(&[], 0), []);
}

#[test]
fn for_each_run_stops_at_the_first_error() {
    let mut seen = Vec::new();
    let result = MathUtils::for_each_run(&runs_buffer(), 16, |run| {
        seen.push(run.offset);
        if run.byte == 0 {
            Err(format!("zero run at {}", run.offset))
        } else {
            Ok(())
        }
    });
    assert_eq!(result, Err("zero run at 0".to_string()));
    assert_eq!(seen, [0], "the C scan went on after the callback failed");
}

#[test]
fn for_each_run_visits_every_run_when_all_succeed() {
    let mut total = 0;
    let result: Result<(), ()> = MathUtils::for_each_run(&runs_buffer(), 16, |run| {
        total += run.len;
        Ok(())
    });
    assert_eq!(result, Ok(()));
    assert_eq!(total, 48);
}

#[test]
fn a_panic_in_the_callback_stops_the_c_scan_and_resumes_in_rust() {
    let mut calls = 0;
    let caught = panic::catch_unwind(panic::AssertUnwindSafe(|| {
        let _: Result<(), ()> = MathUtils::for_each_run(&runs_buffer(), 0, |run| {
            calls += 1;
            if run.offset == 24 {
                panic!("callback panicked at offset {}", run.offset);
            }
            Ok(())
        });
    }));
    let payload = caught.expect_err("the panic must reach the caller");
    let message = payload
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert_eq!(message, "callback panicked at offset 24");
    assert_eq!(calls, 2, "the C scan went on after the callback panicked");
    // The boundary is still usable afterwards.
    assert_eq!(MathUtils::runs(&runs_buffer(), 16).len(), 2);
}
