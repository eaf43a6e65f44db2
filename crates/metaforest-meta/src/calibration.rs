//! Threshold calibration to a false-alarm budget, only on evidence that can resolve it: out-of-sample scores of
//! the benign support flows (each scored by a detector adapted without it) or, failing that, the scores of the
//! domain's unlabelled flows (assumed mostly benign). A budget `b` counted on `n` scores moves in steps of `1/n`,
//! so it needs at least `ceil(1/b)` of them; with fewer, calibration refuses rather than set a threshold whose
//! false-alarm rate it cannot bound.
//!
//! The threshold is the split-conformal one: just above the `ceil((n + 1)(1 - b))`-th smallest of the `n`
//! scores. If a new benign flow's score is exchangeable with them (drawn like them), it alarms with probability
//! at most `b` — the plain empirical quantile (`floor(b·n)` alarms among the `n`) promises nothing for a new
//! flow and runs over the budget on small samples. Exchangeability is the assumption to check: support flows
//! picked from one hour or one host do not represent the rest of the traffic.

use ndarray::Axis;

use crate::detector::Detector;
use crate::error::{MetaError, Result};
use crate::threshold::{flows_needed_for_far, FarEvidence, ThresholdBasis, FAR_FLOOR};

/// Benign flows scored leave-one-out at least (when the support has them): more than a coarse budget needs, so
/// its quantile does not rest on one or two flows; each costs one adaptation.
const MIN_HELD: usize = 50;

/// The next representable value above `v` (at least `v + 1e-9`), capped at 1: the verdict is `score >= threshold`,
/// so a threshold just above a score leaves that score benign.
fn next_up(v: f64) -> f64 {
    if v >= 1.0 {
        1.0
    } else {
        f64::from_bits(v.to_bits() + 1).max(v + 1e-9)
    }
}

/// The split-conformal threshold for a false-alarm budget on `n` (benign) `scores`: just above the
/// `k = ceil((n + 1)(1 - max_far))`-th smallest, so `n - k` of them alarm. `None` when `k > n` (too few scores
/// for the budget).
fn far_threshold(mut scores: Vec<f64>, max_far: f64) -> Option<f64> {
    let n = scores.len();
    // The tolerance keeps an exact product (100 · 0.99) from rounding up to the next rank.
    let k = (((n + 1) as f64) * (1.0 - max_far) - 1e-9).ceil().max(1.0) as usize;
    if k > n {
        return None;
    }
    scores.sort_by(|a, b| b.total_cmp(a));
    Some(next_up(scores[n - k]).min(1.0))
}

impl Detector {
    /// The threshold for a false-alarm budget `max_far` in (0, 1) and how it was estimated: on leave-one-out
    /// scores of the benign support flows when there are at least [`flows_needed_for_far`] of them, else on the
    /// scores of the detector's unlabelled flows when there are that many (stated as an assumption: they are
    /// mostly benign), else [`MetaError::FarBudgetUnresolvable`]. Never below [`FAR_FLOOR`] unless
    /// `allow_below_half`. Leave-one-out costs one adaptation per held-out flow (at most
    /// `max(needed, 50)` flows, evenly spaced).
    pub fn far_calibration(
        &self,
        max_far: f64,
        allow_below_half: bool,
    ) -> Result<(f64, ThresholdBasis)> {
        if !(max_far > 0.0 && max_far < 1.0) {
            return Err(MetaError::InvalidParam {
                name: "max_far",
                reason: format!("{max_far} is not in (0, 1)"),
            });
        }
        let needed = flows_needed_for_far(max_far);
        let (_, y) = self.support();
        let benign = y.iter().filter(|&&l| l == 0).count();
        let unlabelled = self.unlabelled().map_or(0, |u| u.nrows());
        let (evidence, scores) = if benign >= needed {
            (
                FarEvidence::LeaveOneOut,
                self.leave_one_out_benign_scores(needed.max(MIN_HELD))?,
            )
        } else if unlabelled >= needed {
            let u = self.unlabelled().expect("counted above");
            (FarEvidence::Unlabelled, self.predict_proba(u))
        } else {
            let most = benign.max(unlabelled);
            return Err(MetaError::FarBudgetUnresolvable {
                max_far,
                needed,
                benign,
                unlabelled,
                coarsest: if most == 0 {
                    "— (no flow to estimate it from)".into()
                } else {
                    format!("{:.4}", 1.0 / most as f64)
                },
            });
        };
        let scored = scores.len();
        let quantile =
            far_threshold(scores, max_far).expect("`needed` scores suffice for the budget");
        let floor = if allow_below_half { 0.0 } else { FAR_FLOOR };
        let basis = ThresholdBasis::FalseAlarmBudget {
            max_far,
            evidence,
            scored,
            quantile,
            floor,
        };
        Ok((quantile.max(floor), basis))
    }

    /// Sets the threshold to [`Detector::far_calibration`]'s and records its basis; on error nothing changes.
    pub fn calibrate_far(
        &mut self,
        max_far: f64,
        allow_below_half: bool,
    ) -> Result<ThresholdBasis> {
        let (t, basis) = self.far_calibration(max_far, allow_below_half)?;
        self.set_threshold_with_basis(t, basis);
        Ok(basis)
    }

    /// Scores of at most `max_held` benign support flows (evenly spaced), each by a detector adapted from the
    /// same meta-model on the rest of the support (labelled flows only).
    fn leave_one_out_benign_scores(&self, max_held: usize) -> Result<Vec<f64>> {
        let (x, y) = self.support();
        let benign: Vec<usize> = (0..y.len()).filter(|&i| y[i] == 0).collect();
        let step = benign.len().div_ceil(max_held.max(1)).max(1);
        let mut scores = Vec::with_capacity(max_held.min(benign.len()));
        for &i in benign.iter().step_by(step) {
            let keep: Vec<usize> = (0..y.len()).filter(|&r| r != i).collect();
            let sx = x.select(Axis(0), &keep);
            let sy: Vec<u32> = keep.iter().map(|&r| y[r]).collect();
            let det = self.adapt_fresh(sx.view(), &sy)?;
            let row = x.select(Axis(0), &[i]);
            scores.push(det.predict_proba(row.view())[0]);
        }
        Ok(scores)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_needs_one_over_it_flows() {
        assert_eq!(flows_needed_for_far(0.01), 100);
        assert_eq!(flows_needed_for_far(0.05), 20);
        assert_eq!(flows_needed_for_far(0.03), 34);
        assert_eq!(flows_needed_for_far(0.5), 2);
    }

    #[test]
    fn the_threshold_is_the_conformal_rank() {
        let scores: Vec<f64> = (0..100).map(|i| i as f64 / 100.0).collect();
        // k = ceil(101 · 0.95) = 96: just above the 96th smallest (0.95), so 0.96 … 0.99 alarm.
        let t = far_threshold(scores.clone(), 0.05).unwrap();
        assert_eq!(scores.iter().filter(|&&s| s >= t).count(), 4);
        assert!(t > 0.95 && t < 0.951, "{t}");
        // k = ceil(101 · 0.99) = 100: above every score.
        let t = far_threshold(scores.clone(), 0.01).unwrap();
        assert!(t > 0.99 && t < 0.991, "{t}");
        // Every budget resolvable by the rule `ceil(1/b)` scores has a conformal threshold.
        for b in [0.5, 0.3, 0.1, 0.05, 0.03, 0.01, 0.001] {
            let n = flows_needed_for_far(b);
            assert!(far_threshold(vec![0.1; n], b).is_some(), "{b}");
        }
        assert_eq!(far_threshold(vec![0.1; 98], 0.01), None);
    }
}
