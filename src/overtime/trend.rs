//! Trends in a series of samples: a least-squares line through `(seconds, value)` points, and
//! the leak rule that turns a fitted line into a verdict.
//!
//! Pure arithmetic. A series is judged "growing" only when every threshold holds at once: the
//! slope (per minute), the fit (r²: how well a straight line explains the points, so that a
//! sawtooth or noise does not count), the absolute growth over the series, and the time span
//! covered (a minute of data says little about a leak). The first `warmup` seconds are skipped:
//! programs allocate at start-up.

use serde::{Deserialize, Serialize};

/// A fitted straight line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    /// Units per second.
    pub slope: f64,
    /// Value at `t = 0`.
    pub intercept: f64,
    /// Coefficient of determination, 0..=1 (1 for a perfect line; 0 for a flat series).
    pub r2: f64,
    /// Number of points.
    pub n: usize,
}

/// Fits `y = slope * t + intercept` by least squares. `None` with fewer than two points or when
/// every `t` is the same.
pub fn fit(points: &[(f64, f64)]) -> Option<Fit> {
    let n = points.len();
    if n < 2 {
        return None;
    }
    let nf = n as f64;
    let mt = points.iter().map(|p| p.0).sum::<f64>() / nf;
    let my = points.iter().map(|p| p.1).sum::<f64>() / nf;
    let (mut stt, mut sty, mut syy) = (0.0, 0.0, 0.0);
    for &(t, y) in points {
        let (dt, dy) = (t - mt, y - my);
        stt += dt * dt;
        sty += dt * dy;
        syy += dy * dy;
    }
    if stt <= 0.0 || !stt.is_finite() {
        return None;
    }
    let slope = sty / stt;
    let r2 = if syy > 0.0 {
        ((sty * sty) / (stt * syy)).clamp(0.0, 1.0)
    } else {
        0.0
    };
    Some(Fit {
        slope,
        intercept: my - slope * mt,
        r2,
        n,
    })
}

/// The thresholds of the leak rule. Every one must hold for a series to count as growing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Seconds at the start of the series that are ignored.
    pub warmup_s: f64,
    /// Minimum slope, in units per minute (bytes, or mappings for the mapping count).
    pub min_slope_per_min: f64,
    /// Minimum r².
    pub min_r2: f64,
    /// Minimum growth from the first to the last point judged, in units.
    pub min_growth: f64,
    /// Minimum seconds between the first and last point judged.
    pub min_span_s: f64,
}

/// Default thresholds for byte series: 1 MiB/min, r² 0.8, 4 MiB growth, 60 s span, 10 s
/// warm-up.
pub const DEFAULT_BYTES: Thresholds = Thresholds {
    warmup_s: 10.0,
    min_slope_per_min: 1024.0 * 1024.0,
    min_r2: 0.8,
    min_growth: 4.0 * 1024.0 * 1024.0,
    min_span_s: 60.0,
};

/// Default thresholds for the mapping count: 10 mappings/min, r² 0.8, 50 mappings, 60 s, 10 s.
pub(crate) const DEFAULT_MAPPINGS: Thresholds = Thresholds {
    warmup_s: 10.0,
    min_slope_per_min: 10.0,
    min_r2: 0.8,
    min_growth: 50.0,
    min_span_s: 60.0,
};

/// The judgement of one series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    /// Slope in units per minute (0 when it could not be fitted).
    pub slope_per_min: f64,
    /// r² of the fit.
    pub r2: f64,
    /// Last judged value minus first judged value.
    pub growth: f64,
    /// Seconds covered by the judged points.
    pub span_s: f64,
    /// Every threshold held.
    pub suspected: bool,
    /// Why (the first threshold that failed, or the figures that passed).
    pub reason: String,
}

/// Applies the leak rule to `points` (seconds since start, value). `unit` names the unit in the
/// reason ("bytes", "mappings").
pub fn judge(points: &[(f64, f64)], th: &Thresholds, unit: &str) -> Judgement {
    let judged: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|p| p.0 >= th.warmup_s)
        .collect();
    let mut j = Judgement {
        slope_per_min: 0.0,
        r2: 0.0,
        growth: 0.0,
        span_s: 0.0,
        suspected: false,
        reason: String::new(),
    };
    if judged.len() < 3 {
        j.reason = format!(
            "too few samples after the {}s warm-up ({} of at least 3)",
            th.warmup_s,
            judged.len()
        );
        return j;
    }
    let (first, last) = (judged[0], judged[judged.len() - 1]);
    j.span_s = last.0 - first.0;
    j.growth = last.1 - first.1;
    let Some(f) = fit(&judged) else {
        j.reason = "samples all at the same time".into();
        return j;
    };
    j.slope_per_min = f.slope * 60.0;
    j.r2 = f.r2;
    let amount = |v: f64| -> String {
        if unit == "bytes" {
            let s = crate::units::format_size(v.abs() as u64);
            if v < 0.0 {
                format!("-{s}")
            } else {
                s
            }
        } else {
            format!("{v:.0} {unit}")
        }
    };
    j.reason = if j.slope_per_min < th.min_slope_per_min {
        format!(
            "slope {}/min below {}/min",
            amount(j.slope_per_min),
            amount(th.min_slope_per_min)
        )
    } else if j.r2 < th.min_r2 {
        format!("r² {:.2} below {:.2}: not a steady growth", j.r2, th.min_r2)
    } else if j.growth < th.min_growth {
        format!(
            "growth {} below {}",
            amount(j.growth),
            amount(th.min_growth)
        )
    } else if j.span_s < th.min_span_s {
        format!(
            "span {:.1}s shorter than {:.1}s: watch longer",
            j.span_s, th.min_span_s
        )
    } else {
        j.suspected = true;
        format!(
            "grew {} at {}/min (r² {:.2}) over {:.1}s",
            amount(j.growth),
            amount(j.slope_per_min),
            j.r2,
            j.span_s
        )
    };
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOSE: Thresholds = Thresholds {
        warmup_s: 1.0,
        min_slope_per_min: 60.0,
        min_r2: 0.8,
        min_growth: 5.0,
        min_span_s: 5.0,
    };

    #[test]
    fn fits_a_line() {
        let pts: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 3.0 * i as f64 + 2.0)).collect();
        let f = fit(&pts).unwrap();
        assert!((f.slope - 3.0).abs() < 1e-9);
        assert!((f.intercept - 2.0).abs() < 1e-9);
        assert!((f.r2 - 1.0).abs() < 1e-9);
        assert!(fit(&pts[..1]).is_none());
        assert!(fit(&[(1.0, 1.0), (1.0, 2.0)]).is_none());
        assert_eq!(fit(&[(0.0, 5.0), (1.0, 5.0)]).unwrap().r2, 0.0);
    }

    #[test]
    fn steady_growth_is_suspected_sawtooth_is_not() {
        let line: Vec<(f64, f64)> = (0..20).map(|i| (i as f64, 10.0 * i as f64)).collect();
        let j = judge(&line, &LOOSE, "bytes");
        assert!(j.suspected, "{j:?}");
        assert!((j.slope_per_min - 600.0).abs() < 1e-6);
        let saw: Vec<(f64, f64)> = (0..40)
            .map(|i| (i as f64 * 0.5, ((i % 5) * 100) as f64))
            .collect();
        let j = judge(&saw, &LOOSE, "bytes");
        assert!(!j.suspected, "{j:?}");
        let flat: Vec<(f64, f64)> = (0..20).map(|i| (i as f64, 7.0)).collect();
        let j = judge(&flat, &LOOSE, "bytes");
        assert!(!j.suspected && j.reason.contains("slope"), "{j:?}");
        let short: Vec<(f64, f64)> = (0..5).map(|i| (i as f64, 100.0 * i as f64)).collect();
        let j = judge(&short, &LOOSE, "bytes");
        assert!(j.reason.contains("span"), "{j:?}");
        let j = judge(&line[..3], &LOOSE, "bytes");
        assert!(j.reason.contains("too few"), "{j:?}");
    }
}
