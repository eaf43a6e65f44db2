//! Aggregation over draws: means with 95 % t-intervals, paired differences, worst-decile means.
//!
//! Every function skips `NaN` inputs (a metric undefined on a draw, see [`crate::metrics`]) and reports how
//! many it skipped in [`Summary::n_nan`], so a table can say so instead of silently averaging fewer draws.

use serde::{Deserialize, Serialize};

/// Mean of the finite values with the half-width of a two-sided 95 % Student-t interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Mean over the non-NaN values (`NaN` when there are none).
    pub mean: f64,
    /// Half-width of the 95 % interval, `t(0.975, n−1) · s / √n` (`NaN` when `n < 2`).
    pub half_width: f64,
    /// Number of values used.
    pub n: usize,
    /// Number of `NaN` values skipped.
    pub n_nan: usize,
}

impl Summary {
    /// Summarises `values`, skipping NaN.
    pub fn of(values: &[f64]) -> Summary {
        let finite: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        let n = finite.len();
        let n_nan = values.len() - n;
        if n == 0 {
            return Summary {
                mean: f64::NAN,
                half_width: f64::NAN,
                n,
                n_nan,
            };
        }
        let mean = finite.iter().sum::<f64>() / n as f64;
        let half_width = if n < 2 {
            f64::NAN
        } else {
            let var = finite.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            t_975(n - 1) * (var / n as f64).sqrt()
        };
        Summary {
            mean,
            half_width,
            n,
            n_nan,
        }
    }

    /// Lower end of the interval.
    pub fn lo(&self) -> f64 {
        self.mean - self.half_width
    }
    /// Upper end of the interval.
    pub fn hi(&self) -> f64 {
        self.mean + self.half_width
    }
}

/// Paired differences `method − reference` over the same draws: pairs where either side is NaN are skipped
/// (and counted in `n_nan`). Returns `None` when the slices differ in length.
pub fn paired_difference(method: &[f64], reference: &[f64]) -> Option<Summary> {
    if method.len() != reference.len() {
        return None;
    }
    let diffs: Vec<f64> = method
        .iter()
        .zip(reference)
        .map(|(a, b)| {
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else {
                a - b
            }
        })
        .collect();
    Some(Summary::of(&diffs))
}

/// Mean of the lowest tenth of the non-NaN values (at least one value: `ceil(n / 10)` of them);
/// `NaN` when there are none. The worst draws are where few-shot detectors fail an operator.
pub fn worst_decile_mean(values: &[f64]) -> f64 {
    let mut finite: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if finite.is_empty() {
        return f64::NAN;
    }
    finite.sort_by(f64::total_cmp);
    let m = finite.len().div_ceil(10);
    finite[..m].iter().sum::<f64>() / m as f64
}

/// The 97.5 % quantile of Student's t with `df` degrees of freedom (`df ≥ 1`).
///
/// Exact table values up to 30 degrees of freedom; above, the Cornish–Fisher expansion around the normal
/// quantile, which is within 1e-4 of the exact value there.
pub fn t_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706204736,
        4.302652730,
        3.182446305,
        2.776445105,
        2.570581836,
        2.446911851,
        2.364624252,
        2.306004135,
        2.262157163,
        2.228138852,
        2.200985160,
        2.178812830,
        2.160368656,
        2.144786688,
        2.131449546,
        2.119905299,
        2.109815578,
        2.100922040,
        2.093024054,
        2.085963447,
        2.079613845,
        2.073873068,
        2.068657610,
        2.063898562,
        2.059538553,
        2.055529439,
        2.051830516,
        2.048407142,
        2.045229642,
        2.042272456,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => TABLE[df - 1],
        _ => {
            let z: f64 = 1.959963984540054;
            let d = df as f64;
            let z3 = z.powi(3);
            let z5 = z.powi(5);
            let z7 = z.powi(7);
            z + (z3 + z) / (4.0 * d)
                + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * d * d)
                + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * d * d * d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_by_hand() {
        // mean 2.5, sample sd = sqrt(5/3), se = sd/2, t(3) = 3.182446305.
        let s = Summary::of(&[1.0, 2.0, 3.0, 4.0]);
        assert!((s.mean - 2.5).abs() < 1e-12);
        let want = 3.182446305 * (5.0f64 / 3.0).sqrt() / 2.0;
        assert!((s.half_width - want).abs() < 1e-9);
        assert_eq!((s.n, s.n_nan), (4, 0));
        assert!((s.lo() - (2.5 - want)).abs() < 1e-9);
    }

    #[test]
    fn summary_skips_nan_and_counts_them() {
        let s = Summary::of(&[f64::NAN, 1.0, 3.0, f64::NAN]);
        assert_eq!((s.n, s.n_nan), (2, 2));
        assert!((s.mean - 2.0).abs() < 1e-12);
        let one = Summary::of(&[0.7]);
        assert!(one.half_width.is_nan());
        assert!(Summary::of(&[f64::NAN]).mean.is_nan());
        assert!(Summary::of(&[]).mean.is_nan());
    }

    #[test]
    fn paired_difference_by_hand() {
        let a = [0.8, 0.9, 0.7, f64::NAN];
        let b = [0.7, 0.7, 0.7, 0.5];
        let d = paired_difference(&a, &b).unwrap();
        assert_eq!((d.n, d.n_nan), (3, 1));
        assert!((d.mean - 0.1).abs() < 1e-12);
        // diffs .1 .2 0 -> sd 0.1, se 0.1/sqrt3, t(2)=4.302652730
        let want = 4.302652730 * 0.1 / 3f64.sqrt();
        assert!((d.half_width - want).abs() < 1e-9);
        assert!(paired_difference(&a, &b[..2]).is_none());
    }

    #[test]
    fn worst_decile_by_hand() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert!((worst_decile_mean(&v) - 1.5).abs() < 1e-12); // two lowest of 20
        assert!((worst_decile_mean(&[5.0, f64::NAN, 3.0]) - 3.0).abs() < 1e-12);
        assert!(worst_decile_mean(&[f64::NAN]).is_nan());
    }

    #[test]
    fn t_quantile_continuity() {
        // Exact t(0.975, 40) = 2.021075390, t(0.975, 120) = 1.979930405.
        assert!((t_975(40) - 2.021075390).abs() < 1e-4);
        assert!((t_975(120) - 1.979930405).abs() < 1e-5);
        assert!(t_975(31) < t_975(30) && t_975(31) > 2.03);
        assert!(t_975(0).is_nan());
    }
}
