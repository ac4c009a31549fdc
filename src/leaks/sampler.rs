//! Byte-weighted sampling: an allocation of `s` bytes carries its stack with probability
//! `p(s) = 1 − e^(−s/N)` (always when `s ≥ N`), and counts with weight `s / p`, so the sum of
//! weights is an unbiased estimate of the bytes. The probes decide in the kernel with a table
//! of 64 size buckets of `N / 64` bytes; `p` is taken at each bucket's upper bound (the larger
//! `p`, so a bucket never samples less than the formula asks), and the weight uses the very `p`
//! the probe used, which keeps the estimate unbiased.

/// The probability the probes use for an allocation of `size` bytes with rate `n` (0 = all).
pub fn probability(size: u64, n: u64) -> f64 {
    if n == 0 || size >= n {
        return 1.0;
    }
    let bucket = (size.saturating_mul(64) / n).min(63);
    f64::from(threshold(bucket as u32)) / 4_294_967_296.0
}

/// `p × 2³²` of bucket `i` (of 64), as loaded into the probes.
pub fn threshold(i: u32) -> u32 {
    let x = f64::from(i + 1) / 64.0;
    let p = 1.0 - (-x).exp();
    (p * 4_294_967_296.0).min(u32::MAX as f64) as u32
}

/// The table of 64 thresholds.
pub fn thresholds() -> [u32; 64] {
    std::array::from_fn(|i| threshold(i as u32))
}

/// Weight (estimated bytes) of one sampled allocation of `size` bytes.
pub fn weight(size: u64, n: u64) -> f64 {
    size as f64 / probability(size, n)
}

/// Variance contributed by one sampled allocation (Horvitz–Thompson): `s² (1 − p) / p²`.
pub(crate) fn variance(size: u64, n: u64) -> f64 {
    let p = probability(size, n);
    (size as f64).powi(2) * (1.0 - p) / (p * p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_allocations_always_sampled_with_their_size() {
        assert_eq!(probability(1 << 20, 4096), 1.0);
        assert_eq!(weight(8192, 4096), 8192.0);
        assert_eq!(variance(8192, 4096), 0.0);
        assert_eq!(probability(10, 0), 1.0);
    }

    #[test]
    fn small_allocations_follow_the_formula_at_the_bucket_bound() {
        // 64 bytes with N = 4096 is bucket 1, bound (1+1)/64.
        let p = probability(64, 4096);
        let want = 1.0 - (-2.0f64 / 64.0).exp();
        assert!((p - want).abs() < 1e-9, "{p} {want}");
        // Never below the formula at the size itself.
        for s in [1u64, 100, 1000, 4000] {
            assert!(probability(s, 4096) >= 1.0 - (-(s as f64) / 4096.0).exp());
        }
        assert!((weight(64, 4096) - 64.0 / p).abs() < 1e-9);
    }
}
