//! Threshold calibration to a false-alarm budget on a detector's benign support flows: on their in-sample
//! scores, or on leave-one-out scores (each flow scored by a detector adapted without it).

use ndarray::Axis;

use crate::detector::Detector;
use crate::error::Result;
use crate::threshold::ThresholdBasis;

/// The next representable value above `v` (at least `v + 1e-9`), capped at 1: the verdict is `score >= threshold`,
/// so a threshold just above a score leaves that score benign.
fn next_up(v: f64) -> f64 {
    if v >= 1.0 {
        1.0
    } else {
        f64::from_bits(v.to_bits() + 1).max(v + 1e-9)
    }
}

/// The lowest threshold at which at most `max_far` of the (benign) `scores` raise an alarm: just above the
/// (allowed + 1)-th highest score, or 0 when every score may alarm. `None` without scores.
fn far_threshold(mut scores: Vec<f64>, max_far: f64) -> Option<f64> {
    if scores.is_empty() {
        return None;
    }
    scores.sort_by(|a, b| b.total_cmp(a));
    let allowed = (max_far * scores.len() as f64).floor() as usize;
    Some(if allowed >= scores.len() {
        0.0
    } else {
        next_up(scores[allowed])
    })
}

impl Detector {
    /// The lowest threshold at which at most `max_far` of the support's benign flows raise an alarm, never below
    /// `floor` (`floor` when the support has no benign flow). In-sample support scores are optimistic, so this
    /// bounds from below the false-alarm rate a new flow will see; it is no guarantee.
    pub fn far_threshold(&self, max_far: f64, floor: f64) -> f64 {
        let (x, y) = self.support();
        let scores = self.predict_proba(x);
        let benign: Vec<f64> = scores
            .iter()
            .zip(y)
            .filter(|(_, &l)| l == 0)
            .map(|(s, _)| *s)
            .collect();
        match far_threshold(benign, max_far) {
            Some(t) => t.max(floor).min(1.0),
            None => floor,
        }
    }

    /// Like [`Detector::far_threshold`], but each benign support flow is scored by a detector adapted from the
    /// same meta-model *without* it (leave-one-out over at most `max_held` benign flows, evenly spaced; labelled
    /// flows only), so the scores are out-of-sample. No floor. Returns the threshold (½ when no flow could be
    /// held out) and how many flows it was estimated from.
    pub fn far_threshold_loo(&self, max_far: f64, max_held: usize) -> Result<(f64, usize)> {
        let (x, y) = self.support();
        let benign: Vec<usize> = (0..y.len()).filter(|&i| y[i] == 0).collect();
        let step = benign.len().div_ceil(max_held.max(1)).max(1);
        let held: Vec<usize> = benign.iter().step_by(step).copied().collect();
        let mut scores = Vec::with_capacity(held.len());
        for &i in &held {
            let keep: Vec<usize> = (0..y.len()).filter(|&r| r != i).collect();
            if !keep.iter().any(|&r| y[r] == 0) {
                continue; // a support with one benign flow cannot spare it
            }
            let sx = x.select(Axis(0), &keep);
            let sy: Vec<u32> = keep.iter().map(|&r| y[r]).collect();
            let det = self.adapt_fresh(sx.view(), &sy)?;
            let row = x.select(Axis(0), &[i]);
            scores.push(det.predict_proba(row.view())[0]);
        }
        let n = scores.len();
        Ok(match far_threshold(scores, max_far) {
            Some(t) => (t.min(1.0), n),
            None => (0.5, 0),
        })
    }

    /// Sets the threshold to [`Detector::far_threshold`] and records the basis.
    pub fn calibrate_far_in_sample(&mut self, max_far: f64, floor: f64) {
        let t = self.far_threshold(max_far, floor);
        self.set_threshold_with_basis(t, ThresholdBasis::FalseAlarmInSample { max_far, floor });
    }

    /// Sets the threshold to [`Detector::far_threshold_loo`] and records the basis; returns `false`, and changes
    /// nothing, when no benign flow could be held out.
    pub fn calibrate_far_loo(&mut self, max_far: f64, max_held: usize) -> Result<bool> {
        let (t, held) = self.far_threshold_loo(max_far, max_held)?;
        if held == 0 {
            return Ok(false);
        }
        self.set_threshold_with_basis(t, ThresholdBasis::FalseAlarmLeaveOneOut { max_far, held });
        Ok(true)
    }
}
